"""Validation of teacher replies, generated tools and gold calls.

:func:`schema_errors` checks a reply against its step's response schema (each step declares its own in
``tooldojo/synth/steps/<step>.py``; :data:`FUNCTION_SCHEMA` is the part they share). Generated tools are
checked against the JSON Schema meta-schema, the naming rule and ``required ⊆ properties``; gold calls against their tool's parameter schema (types, required
arguments, enums, ranges; no unknown arguments).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from tooldojo.records import GENERATE_RESPONSE, stable_id

NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{1,63}$")
_PARAM_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.\-]{0,63}$")

_STR = {"type": "string"}
FUNCTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": _STR,
        "description": _STR,
        "parameters": {"type": "object"},
    },
    "required": ["name", "description", "parameters"],
}
"""An OpenAI function as a step's response schema requires it (the full checks: :func:`function_problems`)."""


@lru_cache(maxsize=64)
def _validator_for(key: str, schema_json: str):
    import json

    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema_json))


_BY_ID: dict[int, tuple[dict[str, Any], Any]] = {}


def validator(schema: dict[str, Any]):
    """A cached Draft 2020-12 validator for ``schema`` (by identity first, then by content)."""
    import json

    hit = _BY_ID.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    blob = json.dumps(schema, sort_keys=True)
    v = _validator_for(stable_id(blob), blob)
    if len(_BY_ID) < 256:
        _BY_ID[id(schema)] = (schema, v)
    return v


def schema_errors(schema: dict[str, Any], instance: Any, limit: int = 5) -> list[str]:
    """Up to ``limit`` readable validation errors of ``instance`` against ``schema`` (empty = valid)."""
    out = []
    for err in validator(schema).iter_errors(instance):
        where = "/".join(str(p) for p in err.absolute_path)
        out.append(f"{where}: {err.message}" if where else err.message)
        if len(out) >= limit:
            break
    return out


def normalize_function(fn: dict[str, Any]) -> dict[str, Any]:
    """Keep only ``name``/``description``/``parameters``; strip the name; default ``required`` to ``[]``."""
    out = {"name": str(fn.get("name", "")).strip(), "description": str(fn.get("description", "")).strip(),
           "parameters": fn.get("parameters")}
    params = out["parameters"]
    if isinstance(params, dict) and "required" not in params:
        out["parameters"] = {**params, "required": []}
    return out


def function_problems(fn: dict[str, Any]) -> list[str]:
    """Every problem with one OpenAI function schema (empty list = valid)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    problems = []
    name = fn.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.append(f"name {name!r} must match {NAME_RE.pattern}")
    elif name == GENERATE_RESPONSE:
        problems.append(f"name {GENERATE_RESPONSE!r} is reserved")
    if not isinstance(fn.get("description"), str) or len(fn["description"].strip()) < 8:
        problems.append("description must be a sentence")
    params = fn.get("parameters")
    if not isinstance(params, dict) or params.get("type") != "object" or not isinstance(params.get("properties"), dict):
        problems.append("parameters must be a JSON Schema object with 'properties'")
        return problems
    try:
        Draft202012Validator.check_schema(params)
    except SchemaError as err:
        problems.append(f"parameters are not a valid JSON Schema: {err.message}")
        return problems
    for pname, pschema in params["properties"].items():
        if not _PARAM_RE.match(pname):
            problems.append(f"parameter name {pname!r} is not an identifier")
        if not isinstance(pschema, dict) or not str(pschema.get("description", "")).strip():
            problems.append(f"parameter {pname!r} needs a description")
        elif not any(k in pschema for k in ("type", "enum", "anyOf", "oneOf", "const")):
            problems.append(f"parameter {pname!r} needs a type")
    required = params.get("required", [])
    if not isinstance(required, list) or not set(required) <= set(params["properties"]):
        problems.append("'required' must list only names from 'properties'")
    return problems


@lru_cache(maxsize=4096)
def _call_validator(params_json: str):
    import json

    from jsonschema import Draft202012Validator

    params = json.loads(params_json)
    return Draft202012Validator({**params, "additionalProperties": False})


def call_errors(fn: dict[str, Any], arguments: Any, limit: int = 5) -> list[str]:
    """Why ``arguments`` are not a valid call of ``fn`` (empty list = valid)."""
    import json

    if not isinstance(arguments, dict):
        return [f"arguments must be an object, got {type(arguments).__name__}"]
    v = _call_validator(json.dumps(fn["parameters"], sort_keys=True))
    out = []
    for err in v.iter_errors(arguments):
        where = "/".join(str(p) for p in err.absolute_path)
        out.append(f"{where}: {err.message}" if where else err.message)
        if len(out) >= limit:
            break
    return out
