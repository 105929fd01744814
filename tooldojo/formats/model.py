"""Typed results of an import, and the format-neutral conversation that readers and writers share.

An import does not make GenTool families (there are no weak/strong pairs in other datasets): it gives the
normalised tools, the queries with the tools offered with them and their gold calls, and the rows that
could not be converted, each with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from tooldojo.records import stable_id


def canonical(obj: Any) -> str:
    """Canonical JSON (sorted keys) for hashing and equality of schemas and arguments."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def tool_key(function: dict[str, Any]) -> str:
    """The identity of a tool: its name and its full normalised schema."""
    return stable_id(canonical(function), prefix="tool_")


class ImportedTool(BaseModel):
    """One distinct tool (same name and same schema = same tool)."""

    tool_id: str
    function: dict[str, Any]
    """OpenAI function schema ``{"name", "description", "parameters"}``, normalised."""
    domain: str | None = None
    """The source's category for it, when the source has one (or a dotted name's prefix)."""
    rows: int = 1
    """How many imported queries offer it."""

    @property
    def name(self) -> str:
        return self.function["name"]


class ImportedCall(BaseModel):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ImportedQuery(BaseModel):
    """One user query, the tools offered with it (in order) and its gold calls."""

    query_id: str
    text: str
    tools: list[str]
    """``tool_id`` of every offered tool, in the order the source listed them."""
    calls: list[ImportedCall] = Field(default_factory=list)
    """Gold calls; empty when the gold answer is a direct reply (no offered tool fits)."""
    answer: str | None = None
    """The gold direct reply, when there is no call and the source gives one."""
    system: str | None = None
    """A system message that came with the query (not the tool-listing prompt of the format)."""
    source_row: str = ""


class ImportFailure(BaseModel):
    row: str
    """Where: ``file:line``, ``file[index]`` or ``split[index]``, with the row's id when it has one."""
    reason: str


class ImportResult(BaseModel):
    """Everything one import produced."""

    source: str
    format: str
    rows: int = 0
    """Rows read from the source (converted or not)."""
    tools: list[ImportedTool] = Field(default_factory=list)
    queries: list[ImportedQuery] = Field(default_factory=list)
    failures: list[ImportFailure] = Field(default_factory=list)
    duplicate_queries: int = 0
    """Rows whose query, offered tools and calls repeat an earlier row (kept once)."""
    off_schema_calls: int = 0
    """Kept gold calls whose arguments do not validate against their tool's schema (``strict`` drops the
    row instead)."""

    def tool_map(self) -> dict[str, ImportedTool]:
        return {t.tool_id: t for t in self.tools}

    def offered(self, query: ImportedQuery) -> list[dict[str, Any]]:
        """The function schemas offered with ``query``, in order."""
        tools = self.tool_map()
        return [tools[t].function for t in query.tools]

    def stats(self) -> dict[str, Any]:
        """Counts for manifests and summaries, failures grouped by reason."""
        by_reason: dict[str, int] = {}
        for f in self.failures:
            key = f.reason.split(":", 1)[0]  # reasons read "what went wrong: details"
            by_reason[key] = by_reason.get(key, 0) + 1
        n_calls = [len(q.calls) for q in self.queries]
        return {
            "rows": self.rows,
            "queries": len(self.queries),
            "tools": len(self.tools),
            "failures": len(self.failures),
            "duplicate_queries": self.duplicate_queries,
            "off_schema_calls": self.off_schema_calls,
            "single_call": sum(n == 1 for n in n_calls),
            "multi_call": sum(n > 1 for n in n_calls),
            "no_call": sum(n == 0 for n in n_calls),
            "failure_reasons": dict(sorted(by_reason.items(), key=lambda kv: -kv[1])[:20]),
        }


@dataclass
class Conversation:
    """One row in any format, reduced to what tooldojo keeps: the query, the offered tools (raw, before
    normalisation), the gold calls (or a direct answer) and an optional system message."""

    query: str
    tools: list[Any]
    calls: list[dict[str, Any]] = field(default_factory=list)
    """``{"name", "arguments"}`` dicts."""
    answer: str | None = None
    system: str | None = None
    domain: str | None = None
    id: str | None = None


class RowError(ValueError):
    """A row that cannot be converted; the message is the reason shown to the user."""
