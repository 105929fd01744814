"""Reading and checking the synth stage's rows before any filter sees them.

Every problem names the file, the line and the field. With ``on_invalid="error"`` the first problem stops
the stage; with ``"drop"`` the row is left out and recorded, so nothing disappears uncounted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from tooldojo.errors import DataError
from tooldojo.records import QueryRecord, ToolRecord

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")


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
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
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
                first = err.errors()[0]
                loc = ".".join(str(p) for p in first["loc"]) or "<row>"
                rid = data.get("tool_id") or data.get("query_id")
                _problem(inputs, mode, Invalid(table, lineno, loc, first["msg"], rid), path)
    return out


def _problem(inputs: Inputs, mode: str, bad: Invalid, path: Path) -> None:
    if mode == "error":
        where = f"{path}:{bad.line}" + (f" ({bad.id})" if bad.id else "")
        raise DataError(bad.error, field=f"{where} field {bad.field}",
                        fix="fix or remove the row, or set dedup.on_invalid=drop to drop and count such rows")
    inputs.invalid.append(bad)


def schema_problem(function: dict[str, Any]) -> tuple[str, str] | None:
    """``(field, message)`` for the first problem of an OpenAI function schema, or ``None``."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    name = function.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        return "function.name", "missing, or not a valid tool name (letters, digits, _ . -; at most 64)"
    if not isinstance(function.get("description"), str) or not function["description"].strip():
        return "function.description", "missing or empty"
    params = function.get("parameters")
    if not isinstance(params, dict):
        return "function.parameters", "missing or not an object"
    if params.get("type") != "object":
        return "function.parameters.type", "must be \"object\""
    if "properties" in params and not isinstance(params["properties"], dict):
        return "function.parameters.properties", "must be an object"
    try:
        Draft202012Validator.check_schema(params)
    except SchemaError as err:
        loc = ".".join(str(p) for p in err.absolute_path)
        return "function.parameters" + (f".{loc}" if loc else ""), f"invalid JSON Schema: {err.message}"
    return None


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
        problem = schema_problem(tool.function)
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
