"""The dedup rules over tools, families and queries (pure functions over records and similarity pairs).

Rules (documented in docs/data.md):

- Pairs are found by each filter: MinHash-LSH (estimated Jaccard of shingle sets) and embeddings (cosine;
  above ``exact_up_to`` rows by an ANN index, and the queries of each family still pair by pair).
  A pair at or above the filter's ``threshold`` is a *duplicate*; at or above its ``link_threshold``, *close*.
- Tools: the weak and strong tool of one family are similar by design and never compared. A family with a
  tool that duplicates a tool of another family is removed, with its queries. Keep rule: families are
  visited by priority (more queries first, then a family with both roles, then input order); a family is
  removed when it duplicates a family already kept, whose tool becomes the representative.
- Queries: visited in input order; a query is removed when it duplicates a query already kept (in any
  family). Two queries of one family with different ``needs`` are different by design and never compared.
- Clusters: families are linked when any of their tools (and, with ``link_queries``, queries) are close or
  duplicate under either filter; connected components of that graph are the clusters the split keeps on
  one side. Inside a family, close queries form *query groups* that the split keeps together too.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Pair:
    """A similar pair found by one filter (``a`` and ``b`` index the compared list)."""

    a: int
    b: int
    similarity: float
    filter: str


@dataclass
class Match:
    """Why an item was removed: the kept item it duplicates."""

    representative: Hashable
    similarity: float
    filter: str
    detail: dict[str, Any] = field(default_factory=dict)


Edges = dict[Hashable, list[tuple[Hashable, float, dict]]]
"""Adjacency lists: item -> ``(other item, similarity, detail)`` for each duplicate pair it is in."""

EXACT_PAIRS_UP_TO = 2000
"""Below this many rows, every pair's estimated Jaccard is computed (no LSH misses); above, LSH candidates."""


def minhash_pairs(texts: Sequence[str], cfg: Any) -> tuple[list[Pair], np.ndarray]:
    """Pairs with estimated Jaccard >= ``cfg.link_threshold``, and the signatures. Small sets compare every
    pair; larger ones use LSH tuned to ``link_threshold`` (or ``cfg.bands``/``cfg.rows``)."""
    from tooldojo.similarity.minhash import MinHasher, lsh_params, similar_pairs

    hasher = MinHasher.from_config(cfg)
    sigs = hasher.signatures(list(texts))
    if len(sigs) <= EXACT_PAIRS_UP_TO:
        ii, jj, ss = [], [], []
        for r0 in range(0, len(sigs), 32):
            sim = (sigs[r0:r0 + 32, None, :] == sigs[None, :, :]).mean(axis=2)
            i, j = np.nonzero(sim >= cfg.link_threshold)
            keep = i + r0 < j
            ii.append(i[keep] + r0)
            jj.append(j[keep])
            ss.append(sim[i[keep], j[keep]])
        i, j, s = (np.concatenate(ii), np.concatenate(jj), np.concatenate(ss)) if ii else ([], [], [])
    else:
        bands, rows = lsh_params(cfg.num_perm, cfg.link_threshold, cfg.bands, cfg.rows)
        i, j, s = similar_pairs(sigs, bands, rows, cfg.link_threshold)
    return to_pairs(i, j, s, "minhash"), sigs


def to_pairs(i: Any, j: Any, s: Any, filter_name: str) -> list[Pair]:
    """:class:`Pair` objects (similarity rounded to 4 places) from parallel index and similarity arrays."""
    i, j, s = (np.asarray(x).tolist() for x in (i, j, s))
    return [Pair(int(a), int(b), round(float(x), 4), filter_name) for a, b, x in zip(i, j, s, strict=True)]


def semantic_pairs(emb: np.ndarray, cfg: Any, groups: Sequence[Hashable] | None = None) -> list[Pair]:
    """Pairs with cosine >= ``cfg.link_threshold`` (exact blockwise up to ``cfg.exact_up_to`` rows; ANN above,
    plus every pair inside each group of ``groups``, one label per row)."""
    from tooldojo.similarity.semantic import pairs_config

    return to_pairs(*pairs_config(emb, cfg, groups), "semantic")


def encode_texts(texts: Sequence[str], cfg: Any, progress: bool = False) -> np.ndarray:
    """L2-normalised embeddings of ``texts`` with a :class:`~tooldojo.dedup.config.SemanticConfig`."""
    from tooldojo.similarity.semantic import encode_config

    return encode_config(texts, cfg, progress=progress)


@dataclass(frozen=True)
class FilterOps:
    """The similarity computations of :func:`~tooldojo.dedup.stage.dedup_records`; the keep rules run on
    their results. The default is this process; :mod:`tooldojo.dedup.parallel` gives executor-backed ones
    that return the same pairs."""

    minhash_pairs: Callable[[Sequence[str], Any], tuple[list[Pair], np.ndarray]] = minhash_pairs
    encode: Callable[..., np.ndarray] = encode_texts
    semantic_pairs: Callable[[np.ndarray, Any, Sequence[Hashable] | None], list[Pair]] = semantic_pairs


def greedy_keep(order: Sequence[Hashable], edges: Edges, filter_name: str) -> dict[Hashable, Match]:
    """Visit ``order``; an item with an edge to an item already kept is removed (best such edge wins)."""
    kept: set[Hashable] = set()
    removed: dict[Hashable, Match] = {}
    for item in order:
        hits = [(o, s, d) for o, s, d in edges.get(item, []) if o in kept]
        if hits:
            o, s, d = max(hits, key=lambda t: t[1])
            removed[item] = Match(o, s, filter_name, d)
        else:
            kept.add(item)
    return removed


def duplicate_rows(i: np.ndarray, j: np.ndarray, s: np.ndarray, threshold: float,
                   filter_name: str = "minhash") -> dict[Hashable, Match]:
    """Rows removed when rows are visited in order and a row duplicating (``s >= threshold``) a kept row is
    removed: :func:`greedy_keep` over row order, visiting only rows that have such a pair (the others are
    kept whatever happens). ``(i, j, s)`` are pairs of row numbers and their similarity."""
    sel = np.asarray(s) >= threshold
    edges = undirected([(int(a), int(b), float(x), {}) for a, b, x in
                        zip(np.asarray(i)[sel].tolist(), np.asarray(j)[sel].tolist(), np.asarray(s)[sel].tolist(),
                            strict=True)])
    return greedy_keep(sorted(edges), edges, filter_name)


def undirected(pairs: list[tuple[Hashable, Hashable, float, dict]]) -> Edges:
    """Adjacency lists from ``(a, b, similarity, detail)`` pairs (both directions)."""
    adj: Edges = {}
    for a, b, s, d in pairs:
        adj.setdefault(a, []).append((b, s, d))
        adj.setdefault(b, []).append((a, s, d))
    return adj


def components(nodes: Sequence[Hashable], edges: list[tuple[Hashable, Hashable]],
               key: Callable[[Hashable], Any] | None = None) -> list[list[Hashable]]:
    """Connected components (each sorted by ``key``, default node order), ordered by their first node."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pos = {n: i for i, n in enumerate(nodes)}
    e = [(pos[a], pos[b]) for a, b in edges if a in pos and b in pos]
    n = len(nodes)
    if n == 0:
        return []
    rows = np.array([a for a, _ in e], dtype=np.int64)
    cols = np.array([b for _, b in e], dtype=np.int64)
    graph = coo_matrix((np.ones(len(e)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[Hashable]] = {}
    for i, lab in enumerate(labels.tolist()):
        groups.setdefault(lab, []).append(nodes[i])
    out = list(groups.values())
    if key is not None:
        out = [sorted(g, key=key) for g in out]
    return sorted(out, key=lambda g: pos[g[0]] if key is None else min(pos[x] for x in g))
