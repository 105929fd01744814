"""Step ``upgrade``: the teacher writes the strong variant of a weak tool and the capability it adds."""

from __future__ import annotations

import random
from typing import Any

from tooldojo.synth.schemas import FUNCTION_SCHEMA, function_problems
from tooldojo.synth.steps.base import OfflineContext, Rejected, Step, Unanswerable
from tooldojo.toolschema import normalize_function

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"strong": FUNCTION_SCHEMA, "capability_gap": {"type": "string", "minLength": 8}},
    "required": ["strong", "capability_gap"],
}


def read(data: dict[str, Any], weak: dict[str, Any]) -> tuple[dict[str, Any], str] | Rejected:
    """``(strong tool, capability gap)`` of a reply, or why it is left out (``invalid_tool``, ``same_name``)."""
    strong = normalize_function(data["strong"])
    problems = function_problems(strong)
    if problems:
        return Rejected("invalid_tool", f"{strong['name']}: {problems[0]}")
    if strong["name"] == weak["name"]:
        return Rejected("same_name", strong["name"])
    return strong, data["capability_gap"].strip()


def answer(ctx: OfflineContext, v: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Offline: the catalog family's strong tool and capability gap."""
    weak = v["tool"]["name"]
    hit = ctx.by_name.get(weak)
    if hit is None or hit[2] != "weak":
        raise Unanswerable(f"no catalog family with weak tool {weak!r}")
    fam = hit[1]
    return {"strong": fam.strong, "capability_gap": fam.gap}


STEP = Step("upgrade", SCHEMA, frozenset({"domain", "tool", "examples"}), answer)
