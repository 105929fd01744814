"""Step ``arguments``: the teacher repairs a gold call that does not match its tool's parameters."""

from __future__ import annotations

import json
import random
from typing import Any

from tooldojo.synth.schemas import call_errors
from tooldojo.synth.steps.base import OfflineContext, Rejected, Step

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"arguments": {"type": "object"}},
    "required": ["arguments"],
}


def repair_arguments(fn: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """Rule-based repair of a call: unknown keys dropped, scalars coerced, ranges clamped, enum case fixed."""
    props = (fn.get("parameters") or {}).get("properties") or {}
    out: dict[str, Any] = {}
    for key, value in arguments.items():
        schema = props.get(key)
        if schema is None:
            continue
        kind = schema.get("type")
        try:
            if kind == "integer" and not isinstance(value, bool):
                value = int(float(value))
            elif kind == "number" and not isinstance(value, bool):
                value = float(value)
            elif kind == "boolean" and isinstance(value, str):
                value = value.strip().lower() in ("true", "yes", "1")
            elif kind == "string" and not isinstance(value, str):
                value = json.dumps(value) if isinstance(value, dict | list) else str(value)
        except (TypeError, ValueError):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            if "minimum" in schema:
                value = max(value, schema["minimum"])
            if "maximum" in schema:
                value = min(value, schema["maximum"])
        if "enum" in schema and value not in schema["enum"]:
            match = [e for e in schema["enum"] if str(e).lower() == str(value).lower()]
            if not match:
                continue
            value = match[0]
        out[key] = value
    return out


def read(data: dict[str, Any], fn: dict[str, Any]) -> dict[str, Any] | Rejected:
    """The repaired arguments of a reply, or ``invalid_arguments`` when they are still not a valid call."""
    fixed = data["arguments"]
    still = call_errors(fn, fixed)
    if still:
        return Rejected("invalid_arguments", f"{fn['name']}: {still[0]}")
    return fixed


def answer(ctx: OfflineContext, v: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Offline: the arguments repaired by rule (:func:`repair_arguments`)."""
    return {"arguments": repair_arguments(v["tool"], v["arguments"])}


STEP = Step("arguments", SCHEMA, frozenset({"query", "tool", "arguments", "errors"}), answer)
