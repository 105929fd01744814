"""Imported tools as synth's *strong* tools (GenTool starts from the ground-truth tools of a dataset)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tooldojo.errors import DataError
from tooldojo.formats.importing import import_source, is_import_dir, read_import
from tooldojo.formats.model import ImportedTool, ImportResult

DEFAULT_DOMAIN = "imported"


def _round_robin(tools: list[ImportedTool], cap: int | None) -> list[ImportedTool]:
    """Up to ``cap`` tools, taken one domain at a time so a cap does not exhaust the first domain."""
    if cap is None or cap >= len(tools):
        return tools
    by_domain: dict[str, list[ImportedTool]] = {}
    for t in tools:
        by_domain.setdefault(t.domain or DEFAULT_DOMAIN, []).append(t)
    queues = list(by_domain.values())
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


def seed_tools_from(result: ImportResult, *, cap: int | None = None,
                    domains: list[str] | None = None) -> list[ImportedTool]:
    """An :class:`ImportResult`'s tools to use as strong tools: the first tool of each name only (synth needs
    unique names), filtered by domain (case-insensitive; tools without one are in ``imported``), at most
    ``cap`` of them, alternating between domains."""
    wanted = {d.casefold() for d in domains} if domains else None
    seen: set[str] = set()
    picked = []
    for t in result.tools:
        if (wanted is not None and (t.domain or DEFAULT_DOMAIN).casefold() not in wanted) or t.name in seen:
            continue
        seen.add(t.name)
        picked.append(t)
    return _round_robin(picked, cap)


def identifier(name: str) -> str:
    """A tool name as an identifier synth accepts (``math.factorial`` -> ``math_factorial``,
    ``Market Trends API`` -> ``Market_Trends_API``)."""
    out = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", name.strip())).strip("_") or "tool"
    if not re.match(r"[A-Za-z_]", out):
        out = "t_" + out
    return (out + "_" if len(out) < 2 else out)[:64]


def load_seed_tools(source: str | Path, *, format: str | None = None, cap: int | None = None,
                    domains: list[str] | None = None) -> list[dict[str, Any]]:
    """Strong tools for synth (OpenAI function schemas, as ``run_synth(strong_tools=...)`` takes them) from
    ``source``: a folder written by ``tooldojo import``, or anything ``tooldojo import`` reads (file, folder,
    Hub id; ``format`` as there, detected when ``None``). See :func:`seed_tools_from` for ``cap`` and
    ``domains``. Names are made identifiers (:func:`identifier`), as synth requires; the imported gold calls
    are not used, so nothing else refers to the old names.
    """
    if cap is not None and cap < 1:
        raise DataError("cap must be at least 1", field="cap", fix="pass a positive number or no cap")
    result = read_import(source) if is_import_dir(source) else import_source(source, format or "auto")
    tools = seed_tools_from(result, cap=cap, domains=domains)
    if not tools:
        have = sorted({t.domain or DEFAULT_DOMAIN for t in result.tools})
        raise DataError(f"no seed tools left ({len(result.tools)} imported, domains {have[:10]})",
                        field=str(source), fix="check the domain filter, the format, and failures.jsonl")
    out, names = [], set()
    for t in tools:
        name = identifier(t.name)
        if name in names:  # two names that differ only in punctuation
            continue
        names.add(name)
        out.append({**t.function, "name": name})
    return out
