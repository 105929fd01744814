"""Strong seed tools from an existing dataset (METHOD.md, step 1): the input of the ``weaken`` path.

:func:`run_synth(..., strong_tools=[...]) <tooldojo.synth.run_synth>` takes a list of OpenAI function
schemas directly. ``synth.seed_tools`` names where to read them: anything ``tooldojo.formats.load_seed_tools`` reads
(datasets in xLAM, ToolACE, ... formats, import folders, Hub ids), or a local JSON/JSONL file of plain tool
schemas, read here.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from tooldojo.errors import ConfigError, DataError


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


def read_seed_tools(spec: str | Path) -> list[dict[str, Any]]:
    """The strong seed tools named by ``synth.seed_tools``: whatever ``tooldojo.formats.load_seed_tools``
    reads (xLAM, ToolACE, ... files, folders, Hub ids); a local file it cannot read falls back to a plain
    list of tool schemas (:func:`functions_from_file`)."""
    try:
        loader = importlib.import_module("tooldojo.formats").load_seed_tools
    except (ImportError, AttributeError):
        loader = None
    is_file = Path(spec).is_file()
    if loader is not None:
        try:
            return list(loader(str(spec)))
        except DataError:
            if not is_file:
                raise
    if is_file:
        return functions_from_file(spec)
    raise ConfigError(f"cannot read seed tools from {spec!r}", field="synth.seed_tools",
                      fix="give a local JSON/JSONL file of tool schemas, or a dataset `tooldojo import` reads")
