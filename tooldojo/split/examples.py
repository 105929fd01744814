"""Examples: one query under several candidate sets (GenTool's Zero-to-One and Weak-to-Strong axes).

For every query, each kind in ``SplitConfig.kinds`` that applies gives one example:

- ``zero``: no tool of the query's family (-> ``generate_response``);
- ``one``: the tool the query needs;
- ``weak_only``: the weak tool alone, for a query that needs the strong one;
- ``weak_strong``: both tools of the family.

All kinds of one query share the same distractors (tools of other families, drawn from the same side of
the split and never from the query's own cluster), so ``zero`` and ``one`` differ only by the added tool:
the Zero-to-One pair. Candidate order is shuffled per example. Gold answers come from
:func:`tooldojo.records.gold_for`. Randomness is seeded per query, so an example does not change when other
queries are added or removed.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Any

from tooldojo.records import Example, QueryRecord, ToolRecord, gold_for, stable_id
from tooldojo.split.sides import TRAIN, Assignment

KINDS = ("zero", "one", "weak_only", "weak_strong")


def _offered(kind: str, q: QueryRecord, fam: dict[str, ToolRecord]) -> list[ToolRecord] | None:
    if kind == "zero":
        return []
    if kind == "one":
        return [fam[q.needs]] if q.needs in fam else None
    if kind == "weak_only":
        return [fam["weak"]] if q.needs == "strong" and "weak" in fam else None
    if kind == "weak_strong":
        return [fam["weak"], fam["strong"]] if "weak" in fam and "strong" in fam else None
    raise ValueError(f"unknown example kind {kind!r}")


class DistractorPools:
    """The families of each side of the split, precomputed once, to draw a query's distractors from in
    O(distractors): families of the query's own cluster are skipped by rejection (a side whose cluster holds
    most of it gets its own list, built once per cluster)."""

    def __init__(self, families: list[str], assignment: Assignment):
        self.cluster_of = assignment.family_cluster
        self.by_side: dict[str, list[str]] = defaultdict(list)
        self.cluster_size: Counter = Counter()
        for fid in families:
            side = assignment.family_side[fid]
            self.by_side[side].append(fid)
            self.cluster_size[(side, self.cluster_of[fid])] += 1
        self._without: dict[tuple[str, str], list[str]] = {}

    def draw(self, rng: random.Random, side: str, cluster: str, k: int) -> list[str]:
        """Up to ``k`` distinct families of ``side`` outside ``cluster``, uniformly at random."""
        pool = self.by_side[side]
        own = self.cluster_size[(side, cluster)]
        k = min(k, len(pool) - own)
        if k <= 0:
            return []
        if 2 * own > len(pool):  # mostly own cluster: rejection would be slow
            key = (side, cluster)
            if key not in self._without:
                self._without[key] = [f for f in pool if self.cluster_of[f] != cluster]
            return rng.sample(self._without[key], k)
        picked: list[str] = []
        tried: set[int] = set()
        while len(picked) < k:
            i = rng.randrange(len(pool))
            if i not in tried:
                tried.add(i)
                if self.cluster_of[pool[i]] != cluster:
                    picked.append(pool[i])
        return picked


def split_of(query_split: str, kind: str, side: str) -> str:
    """The dataset split an example goes to: ``weak_strong`` examples of unseen families make
    ``weak_to_strong``; everything else follows its query."""
    if side == "unseen" and kind == "weak_strong":
        return "weak_to_strong"
    return query_split


def build_examples(tools: list[ToolRecord], queries: list[QueryRecord], assignment: Assignment, cfg: Any,
                   seed: int) -> tuple[dict[str, list[Example]], dict[str, Any]]:
    """Examples per split (``train`` and each scenario), and statistics about them."""
    fam_tools: dict[str, dict[str, ToolRecord]] = defaultdict(dict)
    for t in tools:
        fam_tools[t.family_id][t.role] = t
    pools = DistractorPools(sorted(fam_tools), assignment)
    lo, hi = cfg.distractors
    out: dict[str, list[Example]] = defaultdict(list)
    short = Counter()
    for q in queries:
        qsplit = assignment.query_split.get(q.query_id)
        if qsplit is None:
            continue
        fam = fam_tools[q.family_id]
        side = assignment.family_side[q.family_id]
        cluster = assignment.family_cluster[q.family_id]
        rng = random.Random(f"examples:{seed}:{q.query_id}")
        picked = pools.draw(rng, side, cluster, rng.randint(lo, hi))
        distractors = [fam_tools[f][rng.choice(sorted(fam_tools[f]))] for f in picked]
        if len(distractors) < lo:
            short[side] += 1
        roles = {role: t.name for role, t in fam.items()}
        for kind in cfg.kinds:
            offered = _offered(kind, q, fam)
            if offered is None:
                continue
            split = split_of(qsplit, kind, side)
            cands = offered + distractors
            rng.shuffle(cands)
            gold = gold_for(q, roles, [c.name for c in cands])  # type: ignore[arg-type]
            out[split].append(Example.model_construct(  # validated parts; shares the tool schemas
                example_id=stable_id(q.query_id, kind, split, prefix="ex_"),
                query_id=q.query_id, family_id=q.family_id, domain=fam[q.needs].domain,
                scenario=split, kind=kind, style=q.style, query=q.text,  # type: ignore[arg-type]
                tools=[c.function for c in cands], gold_tool=gold.tool, gold_arguments=gold.arguments,
                gold_ranking=gold.ranking, weak_tool=roles.get("weak"), strong_tool=roles.get("strong"),
                capability_gap=fam["strong"].capability_gap if "strong" in fam else None, needs=q.needs,
            ))
    stats = {
        "examples": {s: len(v) for s, v in sorted(out.items())},
        "kinds": {s: dict(Counter(e.kind for e in v)) for s, v in sorted(out.items())},
        "queries_with_fewer_distractors_than_min": dict(short),
    }
    return dict(out), stats


SPLIT_ORDER = (TRAIN, "seen_tool_unseen_query", "unseen_tool_seen_query", "unseen_tool_unseen_query",
               "weak_to_strong")
