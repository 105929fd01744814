"""Step ``weaken``: the teacher writes the weak variant of an imported (strong) tool and names its domain."""

from __future__ import annotations

import random
import re
from typing import Any

from tooldojo.synth.schemas import FUNCTION_SCHEMA, function_problems
from tooldojo.synth.steps.base import OfflineContext, Rejected, Step, Unanswerable
from tooldojo.synth.weakening import NotWeakenable
from tooldojo.synth.weakening import weaken_by_rule as _weaken_by_rule
from tooldojo.toolschema import normalize_function

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"weak": FUNCTION_SCHEMA, "capability_gap": {"type": "string", "minLength": 8},
                   "domain": {"type": "string"}},
    "required": ["weak", "capability_gap", "domain"],
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")[:40] or "general"


def read(data: dict[str, Any], strong: dict[str, Any]) -> tuple[dict[str, Any], str, str] | Rejected:
    """``(weak tool, capability gap, domain slug)`` of a reply, or why it is left out (``invalid_tool``,
    ``same_name``)."""
    weak = normalize_function(data["weak"])
    problems = function_problems(weak)
    if problems or weak["name"] == strong["name"]:
        return Rejected("invalid_tool" if problems else "same_name",
                        f"{weak['name']}: {problems[0] if problems else 'same name as the strong tool'}")
    return weak, data["capability_gap"].strip(), _slug(data["domain"])


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if len(w) > 2}


def weaken_by_rule(fn: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """:func:`tooldojo.synth.weakening.weaken_by_rule`, failing as a request the offline teacher cannot answer."""
    try:
        return _weaken_by_rule(fn)
    except NotWeakenable as err:
        raise Unanswerable(str(err)) from None


def guess_domain(ctx: OfflineContext, tool: dict[str, Any]) -> str:
    """The catalog domain sharing the most words with the tool's name and description (``general``: none)."""
    words = _words(tool.get("name", "").replace("_", " ") + " " + tool.get("description", ""))
    best, score = "general", 0
    for domain, dom in ctx.catalog.items():
        vocab = _words(domain + " " + dom.description + " " + " ".join(
            f["name"].replace("_", " ") + " " + f["description"] for fam in dom.families
            for f in (fam.weak, fam.strong)))
        overlap = len(words & vocab)
        if overlap > score:
            best, score = domain, overlap
    return best


def answer(ctx: OfflineContext, v: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Offline: the catalog's weak variant when the strong tool is a catalog tool; otherwise a rule
    (:func:`~tooldojo.synth.weakening.weaken_by_rule`), in the domain whose words it shares most."""
    tool = v["tool"]
    hit = ctx.by_name.get(tool.get("name", ""))
    if hit is not None and hit[2] == "strong":
        domain, fam, _ = hit
        return {"weak": fam.weak, "capability_gap": fam.gap, "domain": domain}
    weak, gap = weaken_by_rule(tool)
    return {"weak": weak, "capability_gap": gap, "domain": guess_domain(ctx, tool)}


STEP = Step("weaken", SCHEMA, frozenset({"tool", "domains", "examples"}), answer)
