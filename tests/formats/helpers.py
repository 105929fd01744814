"""Comparison helpers for the formats tests."""

from __future__ import annotations

import json


def functions_of(result) -> list[str]:
    """Canonical JSON of every tool of an import, sorted (for equality checks)."""
    return sorted(json.dumps(t.function, sort_keys=True) for t in result.tools)


def calls_of(result) -> list[tuple[str, list[dict], list[str]]]:
    """(query, calls, offered tool names) per query, sorted."""
    tools = result.tool_map()
    rows = [(q.text, [c.model_dump() for c in q.calls], [tools[t].name for t in q.tools]) for q in result.queries]
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))
