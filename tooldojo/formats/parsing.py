"""Lenient readers for the JSON-ish text that tool datasets embed in prompts and replies.

Datasets write tool lists and calls as JSON, as Python literals (``{'name': 'f', 'arguments': {...}}``,
``True``/``None``), as several JSON objects one after another, with the arguments as a JSON string, or as
Python-style calls (``[get_weather(city="Paris")]``, names possibly with spaces or dots). These helpers read
all of them and raise :class:`~tooldojo.formats.model.RowError` with a reason otherwise. Calls are read by
the same readers as model outputs (:mod:`tooldojo.toolcalls`).
"""

from __future__ import annotations

import ast
import itertools
import json
import re
from typing import Any

from tooldojo.formats.model import RowError
from tooldojo.toolcalls import call_from_obj as read_call
from tooldojo.toolcalls import calls_from_python

_TOOL_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.S)
_OPEN = re.compile(r"[\[{]")


def loads_loose(text: str, what: str = "value") -> Any:
    """JSON, else a Python literal, else a run of JSON values (returned as a list)."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    values = json_values(text)
    if values and _only_whitespace_between(text, values):
        return [v for v, _, _ in values]
    raise RowError(f"unreadable {what}: {_clip(text)}")


def sharegpt_turns(turns: list[Any]) -> list[tuple[str, str]]:
    """``(role, text)`` of ShareGPT-style turns (``from``/``value`` or ``role``/``content``); a turn that is not
    an object is a :class:`RowError`, a non-text value reads as ``""``."""
    out = []
    for t in turns:
        if not isinstance(t, dict):
            raise RowError("conversation turns must be objects")
        role = str(t.get("from", t.get("role", ""))).lower()
        value = t.get("value", t.get("content"))
        out.append((role, value if isinstance(value, str) else ""))
    return out


def json_values(text: str) -> list[tuple[Any, int, int]]:
    """Every top-level JSON object or array found in ``text``: (value, start, end), left to right."""
    decoder = json.JSONDecoder()
    out, pos = [], 0
    while True:
        m = _OPEN.search(text, pos)
        if not m:
            return out
        try:
            value, end = decoder.raw_decode(text, m.start())
        except json.JSONDecodeError:
            pos = m.start() + 1
            continue
        out.append((value, m.start(), end))
        pos = end


def _only_whitespace_between(text: str, values: list[tuple[Any, int, int]]) -> bool:
    gaps = [text[: values[0][1]], text[values[-1][2]:]]
    gaps += [text[a[2]: b[1]] for a, b in itertools.pairwise(values)]
    return all(not g.strip(" \n\t,") for g in gaps)


def tool_list_in(text: str) -> list[Any]:
    """The tool definitions embedded in a system prompt: the first JSON array of objects with a ``name``
    (or a ``function``), else every such JSON object in the text."""
    values = json_values(text)
    for value, _, _ in values:
        if isinstance(value, list) and value and all(_looks_like_tool(v) for v in value):
            return value
    tools = [v for v, _, _ in values if _looks_like_tool(v)]
    if tools:
        return tools
    raise RowError(f"no tool list found in the system prompt: {_clip(text)}")


def _looks_like_tool(v: Any) -> bool:
    return isinstance(v, dict) and (isinstance(v.get("name"), str) or isinstance(v.get("function"), dict))


def call_from_obj(obj: Any) -> dict[str, Any]:
    """``{"name", "arguments"}`` (arguments possibly a JSON string, or under ``parameters``), also OpenAI's
    ``{"function": {...}}`` -> ``{"name", "arguments": dict}``."""
    try:
        call = read_call(obj, lambda text: loads_loose(text, "call arguments"))
    except RowError:
        raise
    except ValueError as err:
        raise RowError(f"{err}: {_clip(repr(obj))}") from None
    if not call.name.strip():
        raise RowError(f"a tool call has no name: {_clip(repr(obj))}")
    return {"name": call.name.strip(), "arguments": call.arguments}


def tool_call_blocks(text: str) -> list[dict[str, Any]] | None:
    """Calls in ``<tool_call>...</tool_call>`` blocks (JSON or Python-literal bodies); ``None`` if none."""
    blocks = _TOOL_CALL.findall(text)
    if not blocks:
        return None
    calls = []
    for body in blocks:
        value = loads_loose(body, "<tool_call> body")
        for item in value if isinstance(value, list) else [value]:
            calls.append(call_from_obj(item))
    return calls


def python_calls(text: str, names: list[str]) -> list[dict[str, Any]]:
    """``[f(a=1), g(b="x")]`` (or one call without brackets) -> calls. Names may hold spaces, dots or
    dashes when they are among ``names`` (the offered tools)."""
    try:
        return [c.to_dict() for c in calls_from_python(text, names)]
    except SyntaxError as err:
        raise RowError(f"unreadable call list: {err.msg} in {_clip(text)}") from None
    except ValueError as err:
        raise RowError(f"unreadable call list: {err} in {_clip(text)}") from None


def _clip(text: str, n: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"
