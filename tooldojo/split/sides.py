"""The seen/unseen split: by tool family cluster, never by row.

1. **Families.** The dedup stage's clusters (families linked by near-duplicate or close tools or queries)
   are shuffled with the seed and assigned whole to the *unseen* side until ``unseen_family_ratio`` of the
   families is reached; a cluster that would overshoot is skipped, so no cluster is ever cut in two. Then,
   in the same order, ``validation_family_ratio`` of them go to the *validation* side the same way (all their
   queries make the ``validation`` split); the unseen side does not depend on it.
2. **Queries of unseen families** are all evaluation: one style per family (seeded, rotating over the
   family's styles), or the styles in ``unseen_styles`` when set, goes to ``unseen_tool_unseen_query``, the
   others to ``unseen_tool_seen_query`` (their ``weak_strong`` examples make the ``weak_to_strong`` split).
   By default no style is kept out of training: every style is on both sides.
3. **Queries of seen families**: ``unseen_query_ratio`` of them (and styles in ``unseen_styles``, when set)
   go to ``seen_tool_unseen_query``; the remainder is ``train``. The unit held out is a *query group* (queries
   the dedup stage found close), so close queries never straddle train and evaluation.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from tooldojo.records import SCENARIOS, VALIDATION, QueryRecord, ToolRecord

TRAIN = "train"


@dataclass
class Assignment:
    """Where every family and query went."""

    family_side: dict[str, str] = field(default_factory=dict)
    """family_id -> ``seen``, ``unseen`` or ``validation``."""
    family_cluster: dict[str, str] = field(default_factory=dict)
    query_split: dict[str, str] = field(default_factory=dict)
    """query_id -> ``train``, ``validation`` or one of ``seen_tool_unseen_query``, ``unseen_tool_seen_query``,
    ``unseen_tool_unseen_query`` (``weak_to_strong`` is made of examples, not queries)."""
    stats: dict[str, Any] = field(default_factory=dict)


def assign(tools: list[ToolRecord], queries: list[QueryRecord], clusters: list[dict[str, Any]], cfg: Any,
           seed: int) -> Assignment:
    """Assign families (by cluster) and queries (by query group) to the sides of the split."""
    fam_order = list(dict.fromkeys(t.family_id for t in tools))  # input order, each family once
    known = set(fam_order)
    out = Assignment()
    groups: list[list[str]] = []
    qgroups: list[list[str]] = []
    for c in clusters:
        fams = [f for f in c.get("families", []) if f in known and f not in out.family_cluster]
        if fams:
            groups.append(fams)
            for f in fams:
                out.family_cluster[f] = c.get("cluster_id", f)
        qgroups += c.get("query_groups", [])
    for f in fam_order:  # families the clusters file does not mention: one cluster each
        if f not in out.family_cluster:
            out.family_cluster[f] = f"solo:{f}"
            groups.append([f])

    rng = random.Random(f"split:{seed}")
    order = sorted(range(len(groups)), key=lambda i: groups[i][0])
    rng.shuffle(order)
    n = len(fam_order)
    target = _target(cfg.unseen_family_ratio, n, n - 1)
    unseen = 0
    for i in order:
        g = groups[i]
        side = "unseen" if unseen + len(g) <= target else "seen"
        unseen += len(g) if side == "unseen" else 0
        for f in g:
            out.family_side[f] = side
    val_target = _target(cfg.validation_family_ratio, n, n - unseen - 1)
    held = 0
    for i in order:
        g = groups[i]
        if out.family_side[g[0]] == "seen" and held + len(g) <= val_target:
            held += len(g)
            for f in g:
                out.family_side[f] = VALIDATION

    held_styles = set(cfg.unseen_styles)
    held_by_family = _rotated_styles(queries, out.family_side, seed) if not held_styles else {}
    group_of: dict[str, int] = {}
    for gi, g in enumerate(qgroups):
        for qid in g:
            group_of[qid] = gi
    by_family: dict[str, list[list[QueryRecord]]] = defaultdict(list)
    unit_index: dict[tuple[str, int], list[QueryRecord]] = {}
    for q in queries:
        if out.family_side.get(q.family_id) == VALIDATION:
            out.query_split[q.query_id] = VALIDATION
            continue
        if out.family_side.get(q.family_id) == "unseen":
            unseen_query = q.style in held_styles or held_by_family.get(q.family_id) == q.style
            out.query_split[q.query_id] = "unseen_tool_unseen_query" if unseen_query else "unseen_tool_seen_query"
            continue
        key = (q.family_id, group_of.get(q.query_id, -1 - len(unit_index)))
        if key not in unit_index:
            unit_index[key] = []
            by_family[q.family_id].append(unit_index[key])
        unit_index[key].append(q)
    for fid in sorted(by_family):
        units = by_family[fid]
        forced = [u for u in units if any(q.style in held_styles for q in u)]
        free = [u for u in units if not any(q.style in held_styles for q in u)]
        frng = random.Random(f"queries:{seed}:{fid}")
        frng.shuffle(free)
        n_free = sum(len(u) for u in free)
        want = round(cfg.unseen_query_ratio * n_free)
        held = 0
        for u in free:
            hold = held + len(u) <= want and held < want
            held += len(u) if hold else 0
            for q in u:
                out.query_split[q.query_id] = "seen_tool_unseen_query" if hold else TRAIN
        for u in forced:
            for q in u:
                out.query_split[q.query_id] = "seen_tool_unseen_query"

    sides = Counter(out.family_side.values())
    counts = Counter(out.query_split.values())
    unseen_clusters = {out.family_cluster[f] for f, s in out.family_side.items() if s == "unseen"}
    query_splits = (TRAIN, *SCENARIOS[:3], *((VALIDATION,) if val_target else ()))
    out.stats = {
        "families": {"seen": sides["seen"], "unseen": sides["unseen"],
                     **({VALIDATION: sides[VALIDATION]} if val_target else {}),
                     "unseen_ratio": round(sides["unseen"] / max(1, len(out.family_side)), 4),
                     "target_unseen": target},
        "clusters": {"total": len(groups), "unseen": len(unseen_clusters)},
        "queries": {k: counts.get(k, 0) for k in query_splits},
        "query_shares": {k: round(counts.get(k, 0) / max(1, len(out.query_split)), 4) for k in query_splits},
        "held_out_styles": sorted(held_styles) if held_styles else "one per unseen family (rotated)",
    }
    return out


def _target(ratio: float, n: int, most: int) -> int:
    """Families to hold out for ``ratio`` of ``n`` (at least one when the ratio is positive), at most ``most``."""
    target = round(ratio * n)
    if ratio > 0 and target == 0 and n >= 2:
        target = 1
    return max(0, min(target, most))


def _rotated_styles(queries: list[QueryRecord], family_side: dict[str, str], seed: int) -> dict[str, str]:
    """The style each unseen family holds out for ``unseen_tool_unseen_query`` (seeded per family, among the
    family's own styles; none for a family with a single style), so no style is kept out of training."""
    styles: dict[str, set[str]] = defaultdict(set)
    for q in queries:
        if family_side.get(q.family_id) == "unseen":
            styles[q.family_id].add(q.style)
    return {fid: random.Random(f"style:{seed}:{fid}").choice(sorted(st)) for fid, st in styles.items()
            if len(st) > 1}
