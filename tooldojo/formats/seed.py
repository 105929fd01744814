"""Imported tools as synth's *strong* tools (GenTool starts from the ground-truth tools of a dataset)."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from tooldojo.errors import DataError
from tooldojo.formats.importing import import_source, is_import_dir, read_import
from tooldojo.formats.model import ImportedTool, ImportResult
from tooldojo.records import stable_id

DEFAULT_DOMAIN = "imported"


def _round_robin(tools: list[ImportedTool], cap: int | None, seed: int | None = None) -> list[ImportedTool]:
    """Up to ``cap`` tools, taken one domain at a time so a cap does not exhaust the first domain; with a
    ``seed``, each domain's tools are shuffled first (a seeded sample), else taken in source order."""
    if cap is None or cap >= len(tools):
        return tools
    by_domain: dict[str, list[ImportedTool]] = {}
    for t in tools:
        by_domain.setdefault(t.domain or DEFAULT_DOMAIN, []).append(t)
    queues = list(by_domain.values())
    if seed is not None:
        rng = random.Random(stable_id("seed-tools", seed))
        for queue in queues:
            rng.shuffle(queue)
    out: list[ImportedTool] = []
    i = 0
    while len(out) < cap:
        queue = queues[i % len(queues)]
        if queue:
            out.append(queue.pop(0))
        i += 1
        if not any(queues):
            break
    order = {t.tool_id: n for n, t in enumerate(tools)}
    return sorted(out, key=lambda t: order[t.tool_id])


def seed_tools_from(result: ImportResult, *, cap: int | None = None, domains: list[str] | None = None,
                    seed: int | None = None) -> list[ImportedTool]:
    """An :class:`ImportResult`'s tools to use as strong tools: the first tool of each name only (synth needs
    unique names), filtered by domain (case-insensitive; tools without one are in ``imported``), at most
    ``cap`` of them, alternating between domains (a seeded sample within each domain when ``seed`` is set,
    else the first ones)."""
    wanted = {d.casefold() for d in domains} if domains else None
    seen: set[str] = set()
    picked = []
    for t in result.tools:
        if (wanted is not None and (t.domain or DEFAULT_DOMAIN).casefold() not in wanted) or t.name in seen:
            continue
        seen.add(t.name)
        picked.append(t)
    return _round_robin(picked, cap, seed)


def identifier(name: str) -> str:
    """A tool name as an identifier synth accepts (``math.factorial`` -> ``math_factorial``,
    ``Market Trends API`` -> ``Market_Trends_API``)."""
    out = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", name.strip())).strip("_") or "tool"
    if not re.match(r"[A-Za-z_]", out):
        out = "t_" + out
    return (out + "_" if len(out) < 2 else out)[:64]


class NoSeedTools(DataError):
    """The filters left no tool (the source itself was read)."""


class SeedSet(BaseModel):
    """Strong tools for synth and the imported queries whose gold call is one of them."""

    tools: list[dict[str, Any]]
    """OpenAI function schemas, names made identifiers (as ``run_synth(strong_tools=...)`` takes them)."""
    queries: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    """Tool name -> ``{"text", "arguments"}`` of every single-call imported query calling that tool."""
    stats: dict[str, Any] = Field(default_factory=dict)


def _source_result(source: str | Path, format: str | None) -> ImportResult:
    return read_import(source) if is_import_dir(source) else import_source(source, format or "auto")


def seed_set_from(result: ImportResult, *, source: str = "", cap: int | None = None,
                  domains: list[str] | None = None, seed: int | None = None,
                  domains_when_tagged: bool = False) -> SeedSet:
    """:func:`seed_tools_from` plus the queries of the picked tools (see :func:`load_seed_set`)."""
    if cap is not None and cap < 1:
        raise DataError("cap must be at least 1", field="cap", fix="pass a positive number or no cap")
    tagged = any(t.domain for t in result.tools)
    domain_filter = "none"
    if domains:
        domain_filter = "applied" if tagged or not domains_when_tagged else "ignored (the tools carry no domain)"
        if not tagged and domains_when_tagged:
            domains = None
    tools = seed_tools_from(result, cap=cap, domains=domains, seed=seed)
    if not tools:
        have = sorted({t.domain or DEFAULT_DOMAIN for t in result.tools})
        raise NoSeedTools(f"no seed tools left ({len(result.tools)} imported, domains {have[:10]})",
                        field=str(source or result.source), fix="check the domain filter, the format, and failures.jsonl")
    out, names, renamed = [], set(), {}
    for t in tools:
        name = identifier(t.name)
        if name in names:  # two names that differ only in punctuation
            continue
        names.add(name)
        renamed[t.tool_id] = name
        out.append({**t.function, "name": name})
    by_id = result.tool_map()
    queries: dict[str, list[dict[str, Any]]] = {}
    multi = 0
    for q in result.queries:
        hits = [tid for tid in q.tools if tid in renamed]
        if not hits:
            continue
        if len(q.calls) != 1:
            multi += len(q.calls) > 1
            continue
        call = q.calls[0]
        for tid in hits:
            if by_id[tid].name == call.name:
                rows = queries.setdefault(renamed[tid], [])
                if all(r["text"] != q.text for r in rows):
                    rows.append({"text": q.text, "arguments": call.arguments})
                break
    stats = {"source": str(source or result.source), "format": result.format, "imported_tools": len(result.tools),
             "picked": len(out), "cap": cap, "domains": domains, "domain_filter": domain_filter,
             "tools_with_queries": len(queries), "queries": sum(len(v) for v in queries.values()),
             "multi_call_queries_skipped": multi}
    return SeedSet(tools=out, queries=queries, stats=stats)


def load_seed_set(source: str | Path, *, format: str | None = None, cap: int | None = None,
                  domains: list[str] | None = None, seed: int | None = None,
                  domains_when_tagged: bool = False) -> SeedSet:
    """Strong tools for synth and their imported queries, from ``source``: a folder written by
    ``tooldojo import``, or anything ``tooldojo import`` reads (file, folder, Hub id; ``format`` as there,
    detected when ``None``). See :func:`seed_tools_from` for ``cap``, ``domains`` and ``seed``;
    ``domains_when_tagged`` ignores ``domains`` when no imported tool carries a domain (synth's use: its
    domains are catalog domains). Names are made identifiers (:func:`identifier`) and the queries' gold calls
    follow the new names; only queries with exactly one gold call, to a picked tool, are kept.
    """
    return seed_set_from(_source_result(source, format), source=str(source), cap=cap, domains=domains, seed=seed,
                         domains_when_tagged=domains_when_tagged)


def load_seed_tools(source: str | Path, *, format: str | None = None, cap: int | None = None,
                    domains: list[str] | None = None, seed: int | None = None) -> list[dict[str, Any]]:
    """Strong tools for synth (OpenAI function schemas, as ``run_synth(strong_tools=...)`` takes them): the
    ``tools`` of :func:`load_seed_set`."""
    return load_seed_set(source, format=format, cap=cap, domains=domains, seed=seed).tools
