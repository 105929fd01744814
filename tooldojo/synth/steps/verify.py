"""Step ``verify``: the teacher accepts or rejects each query of a family (and vouches for the upgrade)."""

from __future__ import annotations

import random
from typing import Any

from tooldojo.synth.steps.base import OfflineContext, Rejected, Step

_STR = {"type": "string"}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdicts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"index": {"type": "integer"}, "accept": {"type": "boolean"}, "reason": _STR},
                "required": ["index", "accept"],
            },
        },
        "upgrade": {"type": "object", "properties": {"stronger": {"type": "boolean"}, "reason": _STR},
                    "required": ["stronger"]},
    },
    "required": ["verdicts"],
}


def read(data: dict[str, Any], n: int) -> list[Rejected | None]:
    """The verdict on each of the ``n`` queries shown (``None``: accepted; the first verdict of an index
    counts): ``no_verdict`` or ``rejected`` with the teacher's reason."""
    verdicts: dict[int, dict[str, Any]] = {}
    for v in data["verdicts"]:
        verdicts.setdefault(v["index"], v)
    out: list[Rejected | None] = []
    for i in range(n):
        v = verdicts.get(i)
        out.append(Rejected("no_verdict") if v is None else None if v["accept"]
                   else Rejected("rejected", str(v.get("reason", ""))))
    return out


def answer(ctx: OfflineContext, v: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Offline: every query accepted."""
    return {"verdicts": [{"index": q["index"], "accept": True, "reason": "matches the catalog pattern"}
                         for q in v["queries"]]}


STEP = Step("verify", SCHEMA, frozenset({"domain", "weak", "strong", "gap", "queries", "coverage"}), answer)
