"""BFCL (Berkeley Function-Calling Leaderboard) files: question files (JSON Lines: ``id``, ``question`` —
a list of turns, each a list of messages — and ``function``, the tools) with ground truth in
``possible_answer/<same file name>`` (``{"id", "ground_truth": [{"fn": {"param": [acceptable values]}}]}``).

The gold call takes each parameter's first acceptable value that is not ``""`` (may be left out) or
``null`` (the default); a parameter with no such value is left out. ``irrelevance`` categories have no answer file: their gold is no call.
Single-turn entries only: multi-turn, memory and web-search entries (no ``function`` list, or several
turns) are reported as failures. The data ships in the ``bfcl-eval`` package (``bfcl_eval/data``).
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from tooldojo.formats.model import Conversation, RowError

ENV = "TOOLDOJO_BFCL_DATA"
"""Environment variable naming a folder of BFCL question files (with ``possible_answer/`` beside them)."""

_OMIT = object()


def matches(row: dict[str, Any]) -> bool:
    return "question" in row and ("function" in row or "involved_classes" in row)


def find_data() -> Path | None:
    """BFCL's data folder: ``$TOOLDOJO_BFCL_DATA``, else the installed ``bfcl_eval`` package's ``data/``
    (located without importing it), else ``None``."""
    env = os.environ.get(ENV)
    if env and Path(env).is_dir():
        return Path(env)
    import importlib.util

    try:
        spec = importlib.util.find_spec("bfcl_eval")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return data if data.is_dir() else None


@cache
def _answers(question_file: Path) -> dict[str, Any] | None:
    for folder in (question_file.parent / "possible_answer", question_file.parent.parent / "possible_answer"):
        path = folder / question_file.name
        if path.is_file():
            out = {}
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    item = json.loads(line)
                    out[str(item["id"])] = item.get("ground_truth")
            return out
    return None


def _first(options: Any) -> Any:
    """The canonical value among a parameter's acceptable values: the first one that is neither ``""``
    (may be left out) nor ``None`` (the default null); ``_OMIT`` when there is none."""
    if not isinstance(options, list):
        return _canon(options)
    for opt in options:
        if opt != "" and opt is not None:
            return _canon(opt)
    return _OMIT


def _canon(value: Any) -> Any:
    """Nested objects list acceptable values per key too, also inside lists (``[{"item": ["a"]}]``)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            first = _first(v)
            if first is not _OMIT:
                out[k] = first
        return out
    if isinstance(value, list):
        return [_canon(v) for v in value]
    return value


def gold_calls(ground_truth: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BFCL ground truth -> calls with one canonical value per parameter."""
    calls = []
    for entry in ground_truth:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise RowError(f"unreadable ground truth: {str(entry)[:80]}")
        (name, params), = entry.items()
        calls.append({"name": name, "arguments": _canon(params or {})})
    return calls


def read(row: dict[str, Any], file: Path | None = None) -> Conversation:
    """One BFCL question row (its answer looked up beside ``file``) -> :class:`Conversation`."""
    rid = str(row.get("id", ""))
    if "question" not in row:
        raise RowError("not a BFCL question row: no 'question'")
    if "function" not in row:
        raise RowError("unsupported BFCL category: no 'function' list (multi-turn, memory or web-search entry)")
    question = row.get("question")
    if not isinstance(question, list) or not question:
        raise RowError("not a BFCL row: 'question' must be a list of turns")
    if len(question) != 1:
        raise RowError(f"unsupported BFCL category: {len(question)} turns (single-turn entries only)")
    messages = question[0] if isinstance(question[0], list) else [question[0]]
    if any(m.get("role") == "assistant" for m in messages):
        raise RowError("unsupported BFCL entry: conversation history before the query")
    users = [m.get("content", "") for m in messages if m.get("role") == "user"]
    systems = [m.get("content", "") for m in messages if m.get("role") == "system"]
    tools = row["function"] if isinstance(row["function"], list) else [row["function"]]
    answers = _answers(file) if file is not None else None
    if answers is not None and rid in answers:
        calls = gold_calls(answers[rid] or [])
    elif "irrelevance" in rid:
        calls = []
    else:
        raise RowError("no ground truth: no possible_answer entry for this id")
    return Conversation(query="\n".join(u for u in users if u), tools=tools, calls=calls,
                        system="\n".join(systems) or None, id=rid or None)
