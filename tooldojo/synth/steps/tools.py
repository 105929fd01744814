"""Step ``tools``: the teacher writes a domain's base (weak) tools."""

from __future__ import annotations

import random
from typing import Any

from tooldojo.synth.schemas import FUNCTION_SCHEMA
from tooldojo.synth.steps.base import OfflineContext, Step, Unanswerable

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"tools": {"type": "array", "items": FUNCTION_SCHEMA}},
    "required": ["tools"],
}


def answer(ctx: OfflineContext, v: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Offline: the weak tools of catalog families of the domain (none already named in ``avoid``), sampled."""
    dom = ctx.catalog.get(v["domain"])
    if dom is None:
        raise Unanswerable(f"domain {v['domain']!r} is not in the seed catalog")
    avoid = set(v.get("avoid") or [])
    fams = [f for f in dom.families if f.weak["name"] not in avoid]
    rng.shuffle(fams)
    return {"tools": [f.weak for f in fams[: v["count"]]]}


STEP = Step("tools", SCHEMA, frozenset({"domain", "domain_description", "count", "examples", "avoid"}), answer)
