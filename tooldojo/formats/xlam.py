"""xLAM / APIGen rows: ``query``, ``tools`` and ``answers``, the last two as JSON strings.

Reading accepts both tool shapes seen in the wild: xLAM's parameter dicts (``{"x": {"type": "str", ...}}``)
and JSON Schema. Writing uses JSON Schema (OpenAI function schemas), so nothing is lost; ``answers`` is a
list of ``{"name", "arguments"}`` and is empty when the gold answer is a direct reply.
"""

from __future__ import annotations

import json
from typing import Any

from tooldojo.formats.model import Conversation, RowError
from tooldojo.formats.parsing import call_from_obj, loads_loose

COLUMNS = ("query", "tools", "answers")


def matches(row: dict[str, Any]) -> bool:
    return set(COLUMNS) <= set(row)


def _field(row: dict[str, Any], key: str) -> list[Any]:
    value = row.get(key)
    if isinstance(value, str):
        value = loads_loose(value, key) if value.strip() else []
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise RowError(f"'{key}' must be a JSON list: got {type(value).__name__}")
    return value


def read(row: dict[str, Any]) -> Conversation:
    """One xLAM row -> :class:`Conversation`."""
    missing = [c for c in COLUMNS if c not in row]
    if missing:
        raise RowError(f"not an xLAM row: missing {', '.join(missing)}")
    return Conversation(
        query=row["query"] if isinstance(row["query"], str) else "",
        tools=_field(row, "tools"),
        calls=[call_from_obj(a) for a in _field(row, "answers")],
        domain=row.get("domain") or row.get("category"),
        id=None if row.get("id") is None else str(row["id"]),
    )


def write(conv: Conversation) -> dict[str, Any]:
    """A :class:`Conversation` (tools already normalised) -> one xLAM row."""
    return {
        "id": conv.id or "",
        "query": conv.query,
        "tools": json.dumps(conv.tools, ensure_ascii=False),
        "answers": json.dumps(conv.calls, ensure_ascii=False),
    }


def features():
    from datasets import Features, Value

    return Features({c: Value("string") for c in ("id", *COLUMNS)})
