"""Validation of teacher replies, generated tools and gold calls.

:func:`schema_errors` checks a reply against its step's response schema (each step declares its own in
``tooldojo/synth/steps/<step>.py``; :data:`FUNCTION_SCHEMA` is the part they share). Generated tools are
checked by :mod:`tooldojo.toolschema` at ``Level.GENERATED`` (:func:`function_problems`); gold calls against
their tool's parameter schema (types, required arguments, enums, ranges; no unknown arguments).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from tooldojo.records import stable_id
from tooldojo.toolschema import Level, tool_problems

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


def function_problems(fn: dict[str, Any]) -> list[str]:
    """Every problem with a tool the teacher wrote (empty list = valid): :func:`tooldojo.toolschema.tool_problems`
    at ``Level.GENERATED``, as the messages a re-ask shows."""
    return [p.message for p in tool_problems(fn, Level.GENERATED)]


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
