"""The offline teacher: answers the synth requests from the seed catalog, with seeded sampling.

It receives exactly the requests the HTTP teacher would get (rendered templates, response schemas) and its
answers go through the same parsing, validation and caching path; it reads the structured ``variables``
beside the messages instead of the prompt text. Per step:

- ``tools``: samples catalog families of the domain (none already named in ``avoid``), returns their weak tools;
- ``upgrade``: the catalog family's strong tool and capability gap;
- ``weaken``: the catalog's weak variant when the strong tool is a catalog tool; otherwise a rule
  (:func:`~tooldojo.synth.weakening.weaken_by_rule`: drop the most capable optional parameter, else make an
  array parameter scalar, else narrow an enum), named ``<name>_basic``, stating what was taken away;
- ``queries``: for a catalog family, fills its query patterns (matching each plan item's style and need
  where the catalog has one) with sampled slot values (:func:`~tooldojo.synth.catalog.fill`). For any other
  family (e.g. weakened imported tools) it answers with the request's ``seed_queries`` (the imported queries
  whose gold call is the strong tool): ``needs`` is ``strong`` when the gold call uses what the weak variant
  lacks (:func:`~tooldojo.synth.weakening.capability_diff`), the weak call is the strong call without it
  (none when that is not a valid call), and the style is the plan item's. Plan items left over get
  schema-driven queries (:mod:`tooldojo.synth.schema_queries`);
- ``arguments``: repairs arguments by rule (drops unknown keys, coerces types, clamps ranges, fixes enum case);
- ``verify``: accepts every query.

The random generator of each request is seeded by (seed, step, prompt hash), so answers are deterministic
for a seed and independent of the order requests arrive in.
"""

from __future__ import annotations

import json
import random
import re
from functools import cached_property
from pathlib import Path
from typing import Any

from tooldojo.records import stable_id
from tooldojo.runs import file_fingerprint
from tooldojo.synth.catalog import Family, catalog_dir, fill, load_catalog, sample_slots
from tooldojo.synth.schema_queries import schema_query, value_index
from tooldojo.synth.teacher import RequestFailed, Teacher, TeacherRequest, estimate_tokens
from tooldojo.synth.weakening import NotWeakenable, capability_diff, uses_gap, weak_call
from tooldojo.synth.weakening import weaken_by_rule as _weaken_by_rule

OFFLINE_VERSION = "2"
"""Bumped when the offline teacher's answers change, so cached offline answers are not reused."""


class OfflineUnsupported(RequestFailed):
    """The catalog has nothing to answer this request with."""

    retryable = False


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if len(w) > 2}


def weaken_by_rule(fn: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """:func:`tooldojo.synth.weakening.weaken_by_rule`, failing as a request the offline teacher cannot answer."""
    try:
        return _weaken_by_rule(fn)
    except NotWeakenable as err:
        raise OfflineUnsupported(str(err)) from None


def seeded_queries(v: dict[str, Any], rng: random.Random, index: dict[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    """The offline ``queries`` answer for a family outside the catalog (see the module docstring): imported
    seed queries first (each plan item takes one of its need when there is one), schema-driven for the rest."""
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


class OfflineTeacher(Teacher):
    """The seed-catalog teacher (``teacher.model == "offline"``); no network, deterministic for a seed."""

    def __init__(self, cfg, *, catalog_folder: str | None = None, **kwargs: Any):
        super().__init__(cfg, **kwargs)
        self.catalog_folder = catalog_folder
        self.model_label = "offline"

    @cached_property
    def catalog(self):
        return load_catalog(self.catalog_folder)

    @cached_property
    def cache_model(self) -> str:  # type: ignore[override]
        folder = Path(self.catalog_folder) if self.catalog_folder else catalog_dir()
        return f"offline-v{OFFLINE_VERSION}:{file_fingerprint(folder)}"

    @cached_property
    def _by_name(self) -> dict[str, tuple[str, Family, str]]:
        out = {}
        for domain, dom in self.catalog.items():
            for fam in dom.families:
                out[fam.weak["name"]] = (domain, fam, "weak")
                out[fam.strong["name"]] = (domain, fam, "strong")
        return out

    @property
    def sampling(self) -> dict[str, Any]:
        return {"seed": self.seed}

    async def _send(self, messages: list[dict[str, str]], request: TeacherRequest) -> tuple[str, dict[str, int]]:
        rng = random.Random(stable_id(self.seed, request.step, request.prompt_hash))
        handler = getattr(self, f"_{request.step}", None)
        if handler is None:
            raise OfflineUnsupported(f"the offline teacher has no answer for step {request.step!r}")
        content = json.dumps(handler(request.variables, rng), ensure_ascii=False)
        return content, {"prompt_tokens": estimate_tokens(messages), "completion_tokens": len(content) // 4}

    # ---- steps -----------------------------------------------------------------------------------
    def _tools(self, v: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        dom = self.catalog.get(v["domain"])
        if dom is None:
            raise OfflineUnsupported(f"domain {v['domain']!r} is not in the seed catalog")
        avoid = set(v.get("avoid") or [])
        fams = [f for f in dom.families if f.weak["name"] not in avoid]
        rng.shuffle(fams)
        return {"tools": [f.weak for f in fams[: v["count"]]]}

    def _family(self, weak: str, strong: str | None = None) -> tuple[str, Family]:
        hit = self._by_name.get(weak)
        if hit is None or hit[2] != "weak" or (strong is not None and hit[1].strong["name"] != strong):
            raise OfflineUnsupported(f"no catalog family with weak tool {weak!r}"
                                     + (f" and strong tool {strong!r}" if strong else ""))
        return hit[0], hit[1]

    def _upgrade(self, v: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        _, fam = self._family(v["tool"]["name"])
        return {"strong": fam.strong, "capability_gap": fam.gap}

    def _weaken(self, v: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        tool = v["tool"]
        hit = self._by_name.get(tool.get("name", ""))
        if hit is not None and hit[2] == "strong":
            domain, fam, _ = hit
            return {"weak": fam.weak, "capability_gap": fam.gap, "domain": domain}
        weak, gap = weaken_by_rule(tool)
        return {"weak": weak, "capability_gap": gap, "domain": self._guess_domain(tool)}

    def _guess_domain(self, tool: dict[str, Any]) -> str:
        words = _words(tool.get("name", "").replace("_", " ") + " " + tool.get("description", ""))
        best, score = "general", 0
        for domain, dom in self.catalog.items():
            vocab = _words(domain + " " + dom.description + " " + " ".join(
                f["name"].replace("_", " ") + " " + f["description"] for fam in dom.families
                for f in (fam.weak, fam.strong)))
            overlap = len(words & vocab)
            if overlap > score:
                best, score = domain, overlap
        return best

    def _queries(self, v: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        hit = self._by_name.get(v["weak"]["name"])
        if hit is None or hit[2] != "weak" or hit[1].strong["name"] != v["strong"]["name"]:
            return {"queries": seeded_queries(v, rng, value_index(self.catalog_folder))}
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

    def _arguments(self, v: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        return {"arguments": repair_arguments(v["tool"], v["arguments"])}

    def _verify(self, v: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        return {"verdicts": [{"index": q["index"], "accept": True, "reason": "matches the catalog pattern"}
                             for q in v["queries"]]}
