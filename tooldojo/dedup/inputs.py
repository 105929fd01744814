"""Reading and checking the synth stage's rows before any filter sees them.

Every problem names the file, the line and the field. With ``on_invalid="error"`` the first problem stops
the stage; with ``"drop"`` the row is left out and recorded, so nothing disappears uncounted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from tooldojo.errors import DataError
from tooldojo.records import QueryRecord, ToolRecord, first_error, jsonl_lines
from tooldojo.toolschema import Level, tool_problems


@dataclass
class Invalid:
    """One row left out: where it was and what is wrong with it."""

    table: str
    line: int
    field: str
    error: str
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "id": self.id, "filter": "invalid", "reason": "invalid",
                "line": self.line, "field": self.field, "error": self.error}


@dataclass
class Inputs:
    tools: list[ToolRecord] = field(default_factory=list)
    queries: list[QueryRecord] = field(default_factory=list)
    invalid: list[Invalid] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)
    """Row id -> line number in its file (for messages)."""


def _rows(path: Path, model: type[BaseModel], table: str, mode: str, inputs: Inputs) -> list[Any]:
    if not path.exists():
        raise DataError("file not found", field=str(path),
                        fix="run `tooldojo synth` for this run folder first, or pass --input tools.jsonl,queries.jsonl")
    out = []
    for lineno, line in jsonl_lines(path):
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("a row must be a JSON object")
        except ValueError as err:
            _problem(inputs, mode, Invalid(table, lineno, "<row>", f"not valid JSON: {err}"), path)
            continue
        try:
            out.append((lineno, model.model_validate(data)))
        except ValidationError as err:
            loc, msg = first_error(err)
            rid = data.get("tool_id") or data.get("query_id")
            _problem(inputs, mode, Invalid(table, lineno, loc, msg, rid), path)
    return out


def _problem(inputs: Inputs, mode: str, bad: Invalid, path: Path) -> None:
    if mode == "error":
        where = f"{path}:{bad.line}" + (f" ({bad.id})" if bad.id else "")
        raise DataError(bad.error, field=f"{where} field {bad.field}",
                        fix="fix or remove the row, or set dedup.on_invalid=drop to drop and count such rows")
    inputs.invalid.append(bad)


def load_inputs(synth_dir: Path | None, on_invalid: Literal["error", "drop"] = "error", *,
                files: tuple[Path, Path] | None = None) -> Inputs:
    """Read and check ``tools.jsonl`` and ``queries.jsonl`` of a synth folder, or the ``files``
    ``(tools, queries)`` given instead (records that did not come from ``tooldojo synth``)."""
    inputs = Inputs()
    tpath, qpath = files if files is not None else (Path(synth_dir) / "tools.jsonl", Path(synth_dir) / "queries.jsonl")
    tool_rows = _rows(tpath, ToolRecord, "tools", on_invalid, inputs)
    query_rows = _rows(qpath, QueryRecord, "queries", on_invalid, inputs)

    seen_ids: set[str] = set()
    roles: dict[tuple[str, str], str] = {}
    for lineno, tool in tool_rows:
        found = tool_problems(tool.function, Level.RECORD)
        problem = (f"function.{found[0].field}", found[0].message) if found else None
        if problem is None and tool.tool_id in seen_ids:
            problem = ("tool_id", f"duplicate tool_id {tool.tool_id!r}")
        if problem is None and (tool.family_id, tool.role) in roles:
            problem = ("role", f"family {tool.family_id!r} already has a {tool.role} tool "
                               f"({roles[(tool.family_id, tool.role)]})")
        if problem:
            _problem(inputs, on_invalid, Invalid("tools", lineno, problem[0], problem[1], tool.tool_id), tpath)
            continue
        seen_ids.add(tool.tool_id)
        roles[(tool.family_id, tool.role)] = tool.tool_id
        inputs.tools.append(tool)
        inputs.lines[tool.tool_id] = lineno

    names: dict[str, dict[str, str]] = {}
    for tool in inputs.tools:
        names.setdefault(tool.family_id, {})[tool.role] = tool.name
    seen_q: set[str] = set()
    for lineno, q in query_rows:
        fam = names.get(q.family_id)
        problem = None
        if not q.text.strip():
            problem = ("text", "empty query text")
        elif q.query_id in seen_q:
            problem = ("query_id", f"duplicate query_id {q.query_id!r}")
        elif fam is None:
            problem = ("family_id", f"no tool of family {q.family_id!r} in tools.jsonl")
        elif q.needs not in fam:
            problem = ("needs", f"family {q.family_id!r} has no {q.needs} tool")
        elif fam[q.needs] not in q.calls:
            problem = ("calls", f"no gold call for the needed tool {fam[q.needs]!r}")
        else:
            unknown = sorted(set(q.calls) - set(fam.values()))
            if unknown:
                problem = ("calls", f"calls name tools outside the family: {unknown}")
            elif any(not isinstance(v, dict) for v in q.calls.values()):
                problem = ("calls", "every call's arguments must be an object")
        if problem:
            _problem(inputs, on_invalid, Invalid("queries", lineno, problem[0], problem[1], q.query_id), qpath)
            continue
        seen_q.add(q.query_id)
        inputs.queries.append(q)
        inputs.lines[q.query_id] = lineno

    if not inputs.tools:
        raise DataError("no valid tools", field=str(tpath),
                        fix="run `tooldojo synth` (or check why every row was dropped: see the messages above)")
    if not inputs.queries:
        raise DataError("no valid queries", field=str(qpath), fix="run `tooldojo synth` with queries_per_family >= 1")
    return inputs
