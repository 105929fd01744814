"""Step ``tools``: the teacher writes a domain's base (weak) tools."""

from __future__ import annotations

import random
from typing import Any

from tooldojo.synth.schemas import FUNCTION_SCHEMA, function_problems
from tooldojo.synth.steps.base import OfflineContext, Rejected, Step, Unanswerable
from tooldojo.toolschema import normalize_function

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"tools": {"type": "array", "items": FUNCTION_SCHEMA}},
    "required": ["tools"],
}


def read(data: dict[str, Any], count: int, avoid: list[str]) -> tuple[list[dict[str, Any]], list[Rejected]]:
    """The reply's valid new tools (at most ``count``, none named in ``avoid``, which grows by each kept one)
    and what was left out (``over_count``, ``invalid_tool``, ``duplicate_name``), in reply order."""
    tools = data["tools"]
    kept: list[dict[str, Any]] = []
    rejected = [Rejected("over_count", fn.get("name", "")) for fn in tools[count:]]
    for raw in tools[:count]:
        fn = normalize_function(raw)
        problems = function_problems(fn)
        if problems:
            rejected.append(Rejected("invalid_tool", f"{fn['name']}: {problems[0]}"))
        elif fn["name"] in avoid:
            rejected.append(Rejected("duplicate_name", fn["name"]))
        else:
            avoid.append(fn["name"])
            kept.append(fn)
    return kept, rejected


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
