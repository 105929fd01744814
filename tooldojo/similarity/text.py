"""Text the filters compare: normalisation, shingles, and tools rendered to text.

A tool is compared as its name (split into words), description and parameter schema, with parameters in
sorted order, so a tool whose parameters were merely shuffled renders to the same text.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def tokens(text: str, *, lowercase: bool = True, strip_punctuation: bool = True) -> list[str]:
    """The words of ``text`` after NFKC, optional case folding and punctuation removal."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    if lowercase:
        text = text.casefold()
    if strip_punctuation:
        text = _PUNCT.sub(" ", text)
    return text.split()


def normalize(text: str, *, lowercase: bool = True, strip_punctuation: bool = True) -> str:
    """:func:`tokens` joined by single spaces."""
    return " ".join(tokens(text, lowercase=lowercase, strip_punctuation=strip_punctuation))


def name_words(name: str) -> str:
    """``getWeather_forecast`` -> ``get Weather forecast``."""
    return " ".join(_CAMEL.sub(" ", name.replace("_", " ").replace("-", " ").replace(".", " ")).split())


def _schema_lines(schema: dict[str, Any], prefix: str = "") -> list[str]:
    lines = []
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    for pname in sorted(props):
        p = props[pname] if isinstance(props[pname], dict) else {}
        bits = [f"{prefix}{name_words(pname)}", str(p.get("type", "")), "required" if pname in required else ""]
        if p.get("description"):
            bits.append(str(p["description"]))
        if p.get("enum"):
            bits.append("one of " + ", ".join(sorted(str(e) for e in p["enum"])))
        lines.append(" ".join(b for b in bits if b))
        if isinstance(p.get("properties"), dict):
            lines += _schema_lines(p, prefix=f"{prefix}{pname} ")
        items = p.get("items")
        if isinstance(items, dict) and isinstance(items.get("properties"), dict):
            lines += _schema_lines(items, prefix=f"{prefix}{pname} ")
    return lines


def tool_text(function: dict[str, Any]) -> str:
    """A tool (OpenAI function schema) as one text: name words, description, parameters sorted by name."""
    parts = [name_words(str(function.get("name", ""))), str(function.get("description", ""))]
    params = function.get("parameters")
    if isinstance(params, dict):
        parts += _schema_lines(params)
    return "\n".join(p for p in parts if p)
