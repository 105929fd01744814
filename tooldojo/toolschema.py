"""What a valid tool is, at the strictness each use needs, and the one normaliser of a tool's envelope.

A tool is an OpenAI function schema ``{"name", "description", "parameters"}``. :func:`tool_problems` checks
one at a :class:`Level`, named after who asks:

| rule | ``GENERATED`` (synth) | ``RECORD`` (dedup) | ``IMPORTED`` (formats) |
| --- | --- | --- | --- |
| name | :data:`IDENTIFIER`, not ``generate_response`` | :data:`DOTTED` | any non-blank string |
| description | a sentence (8+ characters) | not blank | anything |
| parameters | ``type: object`` with ``properties`` | ``type: object``; ``properties`` an object if given | (the importer built them) |
| meta-schema | JSON Schema 2020-12 | 2020-12 | draft-07 (faster; same meaning for tool keywords) |
| each parameter | :data:`DOTTED` name, a description, a type; ``required`` ⊆ ``properties`` | – | – |

Messages are the ones each use has always shown (synth's go back to the teacher in a re-ask, so they must not
drift); :attr:`Problem.field` is relative to the function (``parameters.properties.x``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tooldojo.records import GENERATE_RESPONSE

IDENTIFIER = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{1,63}$")
"""A name tooldojo writes (generated tools, the seed catalog's tools and families): 2 to 64 characters."""

DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
"""A name as datasets write them (``math.factorial``, ``get-weather``): tool names in records, and every
parameter name; 1 to 64 characters."""


class Level(StrEnum):
    """How strict :func:`tool_problems` is."""

    GENERATED = "generated"
    """What synth demands of a tool the teacher wrote (or of a seed tool it will weaken): every problem."""
    RECORD = "record"
    """What dedup demands of a tool record it reads (``tools.jsonl`` of synth, or ``--input``)."""
    IMPORTED = "imported"
    """What importers accept, once :mod:`tooldojo.formats.schemas` has repaired a dataset's tool."""


@dataclass(frozen=True)
class Problem:
    """One reason a tool is not valid: the field at fault (relative to the function) and the message."""

    field: str
    message: str


def name_problem(name: Any, level: Level) -> Problem | None:
    """Why ``name`` is not a valid tool name at ``level`` (``None``: it is)."""
    if level is Level.GENERATED:
        if not isinstance(name, str) or not IDENTIFIER.match(name):
            return Problem("name", f"name {name!r} must match {IDENTIFIER.pattern}")
        if name == GENERATE_RESPONSE:
            return Problem("name", f"name {GENERATE_RESPONSE!r} is reserved")
    elif level is Level.RECORD:
        if not isinstance(name, str) or not DOTTED.match(name):
            return Problem("name", "missing, or not a valid tool name (letters, digits, _ . -; at most 64)")
    elif not isinstance(name, str) or not name.strip():
        return Problem("name", "tool has no 'name'")
    return None


def tool_problems(fn: dict[str, Any], level: Level) -> list[Problem]:
    """Every problem of the function ``fn`` at ``level``, in the order checked (empty list = valid).

    A problem that leaves nothing further to check (``parameters`` not an object schema, not valid JSON
    Schema) ends the list.
    """
    problems = [p for p in (name_problem(fn.get("name"), level), _description_problem(fn, level)) if p]
    params = fn.get("parameters")
    if (shape := _shape_problem(params, level)) is not None:
        return [*problems, shape]
    if (meta := _meta_schema_problem(params, level)) is not None:
        return [*problems, meta]
    if level is Level.GENERATED:
        problems += _parameter_problems(params)
    return problems


def normalize_function(fn: dict[str, Any]) -> dict[str, Any]:
    """Keep only ``name``/``description``/``parameters``; strip the name; default ``required`` to ``[]``."""
    out = {"name": str(fn.get("name", "")).strip(), "description": str(fn.get("description", "")).strip(),
           "parameters": fn.get("parameters")}
    params = out["parameters"]
    if isinstance(params, dict) and "required" not in params:
        out["parameters"] = {**params, "required": []}
    return out


def _description_problem(fn: dict[str, Any], level: Level) -> Problem | None:
    desc = fn.get("description")
    if level is Level.GENERATED and (not isinstance(desc, str) or len(desc.strip()) < 8):
        return Problem("description", "description must be a sentence")
    if level is Level.RECORD and (not isinstance(desc, str) or not desc.strip()):
        return Problem("description", "missing or empty")
    return None


def _shape_problem(params: Any, level: Level) -> Problem | None:
    if level is Level.GENERATED:
        if not isinstance(params, dict) or params.get("type") != "object" or not isinstance(params.get("properties"), dict):
            return Problem("parameters", "parameters must be a JSON Schema object with 'properties'")
    elif level is Level.RECORD:
        if not isinstance(params, dict):
            return Problem("parameters", "missing or not an object")
        if params.get("type") != "object":
            return Problem("parameters.type", "must be \"object\"")
        if "properties" in params and not isinstance(params["properties"], dict):
            return Problem("parameters.properties", "must be an object")
    return None


def _meta_schema_problem(params: dict[str, Any], level: Level) -> Problem | None:
    from jsonschema import Draft7Validator, Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        (Draft7Validator if level is Level.IMPORTED else Draft202012Validator).check_schema(params)
    except SchemaError as err:
        loc = ".".join(str(p) for p in err.absolute_path)
        where = "parameters" + (f".{loc}" if loc else "")
        if level is Level.GENERATED:
            return Problem(where, f"parameters are not a valid JSON Schema: {err.message}")
        return Problem(where, f"invalid JSON Schema: {err.message}")
    return None


def _parameter_problems(params: dict[str, Any]) -> list[Problem]:
    problems = []
    for pname, pschema in params["properties"].items():
        where = f"parameters.properties.{pname}"
        if not DOTTED.match(pname):
            problems.append(Problem(where, f"parameter name {pname!r} is not an identifier"))
        if not isinstance(pschema, dict) or not str(pschema.get("description", "")).strip():
            problems.append(Problem(f"{where}.description", f"parameter {pname!r} needs a description"))
        elif not any(k in pschema for k in ("type", "enum", "anyOf", "oneOf", "const")):
            problems.append(Problem(f"{where}.type", f"parameter {pname!r} needs a type"))
    required = params.get("required", [])
    if not isinstance(required, list) or not set(required) <= set(params["properties"]):
        problems.append(Problem("parameters.required", "'required' must list only names from 'properties'"))
    return problems
