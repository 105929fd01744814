"""Step ``queries``: the teacher writes a family's queries, each with its need and its gold calls."""

from __future__ import annotations

import random
from typing import Any

from tooldojo.synth.catalog import fill, sample_slots
from tooldojo.synth.schema_queries import schema_query, value_index
from tooldojo.synth.steps.base import OfflineContext, Step
from tooldojo.synth.weakening import capability_diff, uses_gap, weak_call

_STR = {"type": "string"}
_CALLS = {
    "type": "object",
    "properties": {"weak": {"type": ["object", "null"]}, "strong": {"type": "object"}},
    "required": ["weak", "strong"],
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "queries": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"text": {"type": "string", "minLength": 3}, "style": _STR,
                               "needs": {"type": "string", "enum": ["weak", "strong"]}, "calls": _CALLS,
                               "answer": _STR},
                "required": ["text", "style", "needs", "calls"],
            },
        }
    },
    "required": ["queries"],
}


def seeded_queries(v: dict[str, Any], rng: random.Random, index: dict[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    """The offline ``queries`` answer for a family outside the catalog (e.g. weakened imported tools): the
    request's ``seed_queries`` first (each plan item takes one of its need when there is one; ``needs`` is
    ``strong`` when the gold call uses what the weak variant lacks, the weak call is the strong call without
    it), schema-driven queries (:mod:`tooldojo.synth.schema_queries`) for the plan items left over."""
    weak, strong, plan = v["weak"], v["strong"], v["plan"]
    gaps = capability_diff(weak, strong)
    seeds = []
    for seed in v.get("seed_queries") or []:
        args = seed["arguments"]
        wcall = weak_call(weak, strong, args, gaps)
        used = any(uses_gap(g, args, strong) for g in gaps)
        seeds.append({"text": seed["text"], "needs": "strong" if used or wcall is None else "weak",
                      "calls": {"weak": wcall, "strong": args}})
    chosen: list[int | None] = [None] * len(plan)
    free = list(range(len(seeds)))
    for i, item in enumerate(plan):
        j = next((j for j in free if seeds[j]["needs"] == item["needs"]), None)
        if j is not None:
            chosen[i] = j
            free.remove(j)
    for i in range(len(plan)):
        if chosen[i] is None and free:
            chosen[i] = free.pop(0)
    out = []
    for item, j in zip(plan, chosen, strict=True):
        if j is not None:
            out.append({**seeds[j], "style": item["style"], "origin": "import"})
            continue
        q = schema_query(weak, strong, gaps, item["needs"], item["style"], rng, index)
        if q is not None:
            out.append({**q, "origin": "schema"})
    return out


def answer(ctx: OfflineContext, v: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Offline: for a catalog family, its query patterns (matching each plan item's style and need where the
    catalog has one) filled with sampled slot values; for any other family, :func:`seeded_queries`."""
    hit = ctx.by_name.get(v["weak"]["name"])
    if hit is None or hit[2] != "weak" or hit[1].strong["name"] != v["strong"]["name"]:
        return {"queries": seeded_queries(v, rng, value_index(ctx.folder))}
    fam = hit[1]
    out, seen = [], set()
    allowed = set(v["styles"])
    for item in v["plan"]:
        need = item["needs"]
        pool = ([p for p in fam.queries if p.style == item["style"] and p.needs == need]
                or [p for p in fam.queries if p.style in allowed and p.needs == need]
                or [p for p in fam.queries if p.style in allowed] or fam.queries)
        for _ in range(8):  # a few draws to avoid repeating a text
            pattern = rng.choice(pool)
            slots = sample_slots(fam, pattern, rng)
            text = fill(pattern.text, slots)
            if text not in seen:
                break
        seen.add(text)
        calls = {role: fill(pattern.calls[role], slots) if role in pattern.calls else None
                 for role in ("weak", "strong")}
        out.append({"text": text, "style": pattern.style, "needs": pattern.needs, "calls": calls})
    return {"queries": out}


STEP = Step("queries", SCHEMA, frozenset({"domain", "weak", "strong", "gap", "plan", "styles", "examples",
                                          "example_family", "seed_queries"}), answer)
