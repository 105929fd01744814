"""Strong seed tools from an existing dataset (METHOD.md, step 1): the input of the ``weaken`` path.

:func:`run_synth(..., strong_tools=[...]) <tooldojo.synth.run_synth>` takes a list of OpenAI function
schemas directly (and ``seed_queries=`` the imported queries for them). ``synth.seed_tools`` names where to read
them: anything ``tooldojo.formats.load_seed_set`` reads (datasets in xLAM, ToolACE, ... formats, import
folders, Hub ids), or a local JSON/JSONL file of plain tool schemas, read here.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from tooldojo.errors import DataError
from tooldojo.records import stable_id


def _functions(obj: Any) -> list[dict[str, Any]]:
    """Function schemas found in one JSON value: a tool entry, a function, a list, or a row with ``tools``."""
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError:
            return []
    if isinstance(obj, list):
        return [fn for item in obj for fn in _functions(item)]
    if not isinstance(obj, dict):
        return []
    if obj.get("type") == "function" and isinstance(obj.get("function"), dict):
        return [obj["function"]]
    if "name" in obj and "parameters" in obj:
        return [obj]
    if "tools" in obj:
        return _functions(obj["tools"])
    return []


def functions_from_file(path: str | Path) -> list[dict[str, Any]]:
    """Every function schema in a JSON or JSONL file (tool entries, bare functions, or rows with ``tools``),
    first occurrence of each name kept."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        values = [json.loads(text)]
    except json.JSONDecodeError:
        values = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    values.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise DataError(f"line {lineno} is not JSON ({err.msg})", field=str(path),
                                    fix="give a JSON file or one JSON object per line") from None
    out, seen = [], set()
    for fn in _functions(values):
        if fn.get("name") not in seen:
            seen.add(fn.get("name"))
            out.append(fn)
    if not out:
        raise DataError("no function schemas found", field=str(path),
                        fix='give OpenAI tools ({"type": "function", "function": {...}}) or functions '
                            '({"name", "description", "parameters"})')
    return out


def read_seed_set(spec: str | Path, *, cap: int | None = None, domains: list[str] | None = None,
                  seed: int | None = None):
    """The strong seed tools named by ``synth.seed_tools`` and their imported queries
    (:class:`tooldojo.formats.seed.SeedSet`): whatever :func:`tooldojo.formats.load_seed_set` reads (xLAM,
    ToolACE, ... files, folders, Hub ids), at most ``cap`` tools (a sample seeded by ``seed``), only those of
    ``domains`` when the imported tools carry a domain. A local file it cannot read falls back to a plain
    list of tool schemas (:func:`functions_from_file`; no queries)."""
    from tooldojo.formats.seed import NoSeedTools, SeedSet, load_seed_set

    is_file = Path(spec).is_file()
    try:
        return load_seed_set(str(spec), cap=cap, domains=domains, seed=seed, domains_when_tagged=True)
    except NoSeedTools as err:
        if not is_file or "(0 imported" not in str(err):
            raise
        # a local file no importer read a tool from: the plain-schema reader says what is wrong with it
    except DataError:
        if not is_file:
            raise
    tools = functions_from_file(spec)
    picked = tools
    if cap is not None and cap < len(tools):
        keep = set(random.Random(stable_id("seed-tools", seed)).sample(range(len(tools)), cap))
        picked = [t for i, t in enumerate(tools) if i in keep]
    return SeedSet(tools=picked, stats={"source": str(spec), "format": "tool schemas", "imported_tools": len(tools),
                                        "picked": len(picked), "cap": cap, "domains": None,
                                        "domain_filter": "ignored (plain tool schemas carry no domain)" if domains
                                        else "none", "tools_with_queries": 0, "queries": 0,
                                        "multi_call_queries_skipped": 0})


def read_seed_tools(spec: str | Path, *, cap: int | None = None, domains: list[str] | None = None,
                    seed: int | None = None) -> list[dict[str, Any]]:
    """The tools of :func:`read_seed_set`."""
    return read_seed_set(spec, cap=cap, domains=domains, seed=seed).tools
