"""Step ``queries``: the teacher writes a family's queries, each with its need and its gold calls."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tooldojo.synth.catalog import fill, sample_slots
from tooldojo.synth.schema_queries import schema_query, value_index
from tooldojo.synth.steps.base import OfflineContext, Rejected, Step
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


@dataclass
class QueryDraft:
    """A query of a reply that passed :func:`read`, before argument repair and verification."""

    text: str
    style: str
    needs: str
    calls: dict[str, dict[str, Any] | None]
    repaired: bool = False
    dropped: str | None = None
    detail: str = ""
    origin: str | None = None
    answer: str = ""


def read(data: dict[str, Any], plan: list[dict[str, str]], styles: list[str], *, with_origin: bool = False
         ) -> tuple[list[QueryDraft], list[Rejected]]:
    """The reply's queries for the ``plan`` (text and style normalised) and what was left out, in order:
    ``over_count``, ``under_count``, then ``unknown_style``, ``missing_weak_call``, ``duplicate_query``.
    ``with_origin`` keeps the offline teacher's ``origin`` (import or schema) of each query."""
    items = data["queries"]
    rejected = [Rejected("over_count", item.get("text", "")[:80]) for item in items[len(plan):]]
    rejected += [Rejected("under_count", f"no {item['style']}/{item['needs']} query") for item in plan[len(items):]]
    drafts, seen = [], set()
    for item in items[: len(plan)]:
        text, style = " ".join(item["text"].split()), item["style"].strip().lower()
        calls = {"weak": item["calls"].get("weak"), "strong": item["calls"]["strong"]}
        key = text.lower()
        if style not in styles:
            rejected.append(Rejected("unknown_style", f"{style}: {text[:80]}"))
        elif item["needs"] == "weak" and calls["weak"] is None:
            rejected.append(Rejected("missing_weak_call", text[:80]))
        elif key in seen:
            rejected.append(Rejected("duplicate_query", text[:80]))
        else:
            seen.add(key)
            origin = item.get("origin") if with_origin else None
            drafts.append(QueryDraft(text, style, item["needs"], calls,
                                     origin=origin if isinstance(origin, str) else None,
                                     answer=" ".join(str(item.get("answer") or "").split())))
    return drafts, rejected


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
