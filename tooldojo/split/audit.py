"""Leakage audit: how close does anything in one split come to anything in another?

For a pair of splits (the *seen* one, e.g. ``train``, and an *unseen* one, e.g. ``unseen_tool_seen_query``)
the audit finds, for every text of the unseen split, its nearest text in the seen split by

- MinHash: estimated Jaccard of shingle sets, nearest among LSH candidates (an LSH tuned to Jaccard
  ``lsh_threshold``; pairs far below it are not reported, which only hides pairs that are far apart);
- embeddings: cosine nearest neighbour, exact (blockwise) up to ``dedup.semantic.exact_up_to`` seen texts,
  from a faiss HNSW index above.

Queries are compared for every pair; tools (rendered like the dedup filter renders them) for pairs whose
unseen side holds unseen tools. A pair fails when its closest pair is *above* ``max_jaccard`` or
``max_cosine``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from tooldojo.records import GENERATE_RESPONSE, SCENARIOS, VALIDATION

UNSEEN_TOOL_SPLITS = ("unseen_tool_seen_query", "unseen_tool_unseen_query", "weak_to_strong", VALIDATION)


class Column:
    """A dataset column read in batches each time it is iterated (not held as one Python list)."""

    def __init__(self, dataset: Any, name: str, batch_size: int = 10_000):
        self.dataset, self.name, self.batch_size = dataset, name, batch_size

    def __iter__(self) -> Iterator[Any]:
        for batch in self.dataset.select_columns([self.name]).iter(batch_size=self.batch_size):
            yield from batch[self.name]


def tool_texts(tools_column: Iterable[str]) -> list[str]:
    """Unique rendered tools of a ``tools`` column (JSON strings), ``generate_response`` left out."""
    from tooldojo.similarity.text import tool_text

    seen: dict[str, str] = {}
    for blob in tools_column:
        for entry in json.loads(blob):
            fn = entry.get("function", entry)
            if fn.get("name") != GENERATE_RESPONSE and fn.get("name") not in seen:
                seen[fn["name"]] = tool_text(fn)
    return list(seen.values())


def _closest(a: list[str], b: list[str], idx: np.ndarray, sim: np.ndarray, top: int) -> list[dict[str, Any]]:
    order = np.argsort(-sim, kind="stable")[:top]
    return [{"unseen": a[i], "seen": b[int(idx[i])], "similarity": round(float(sim[i]), 4)}
            for i in order.tolist() if idx[i] >= 0]


def _embed(texts: list[str], semantic: Any, cache: dict[str, np.ndarray] | None) -> np.ndarray:
    from tooldojo.similarity.semantic import encode_config

    if cache is None:
        return encode_config(texts, semantic)
    todo = [t for t in texts if t not in cache]
    if todo:
        cache.update(zip(todo, encode_config(todo, semantic), strict=True))
    return np.stack([cache[t] for t in texts])


class Reference:
    """The seen side of a comparison, indexed once for any number of unseen sides: its texts (de-duplicated),
    their MinHash LSH index and their embeddings' nearest-neighbour search, each built on first use. Building
    them per pair made the audit rebuild ``train``'s indexes for every scenario (an HNSW build of every training
    query each time above ``exact_up_to``). ``cache`` (text -> embedding) is shared with other references."""

    def __init__(self, seen: Iterable[str], *, minhash: Any | None = None, semantic: Any | None = None,
                 lsh_threshold: float = 0.3, cache: dict[str, np.ndarray] | None = None):
        self.texts = sorted(set(seen))
        self.minhash = minhash if minhash is not None and minhash.enabled else None
        self.semantic = semantic if semantic is not None and semantic.enabled else None
        self.lsh_threshold, self.cache = lsh_threshold, cache

    @functools.cached_property
    def _lsh(self) -> tuple[Any, Any]:
        from tooldojo.similarity.minhash import LSHIndex, MinHasher

        hasher = MinHasher.from_config(self.minhash)
        index = LSHIndex(hasher, threshold=self.lsh_threshold)
        if self.texts:
            index.add_texts(self.texts)
        return hasher, index

    @functools.cached_property
    def _nearest(self) -> Any:
        from tooldojo.similarity.semantic import Nearest

        return Nearest(_embed(self.texts, self.semantic, self.cache), self.semantic)

    def compare(self, unseen: Iterable[str], top: int = 5) -> dict[str, Any]:
        """Nearest neighbours of the ``unseen`` texts (de-duplicated first) among the seen ones."""
        unseen, seen = sorted(set(unseen)), self.texts
        out: dict[str, Any] = {"n_unseen": len(unseen), "n_seen": len(seen)}
        if self.minhash is not None:
            hasher, index = self._lsh
            best, best_sim = index.best_match(hasher.signatures(unseen), min_similarity=0.0) if unseen else \
                (np.zeros(0, np.int64), np.zeros(0, np.float32))
            out["max_jaccard"] = round(float(best_sim.max()), 4) if len(best_sim) else 0.0
            out["closest_jaccard"] = _closest(unseen, seen, best, best_sim, top)
        if self.semantic is not None and unseen and seen:
            idx, sim = self._nearest(_embed(unseen, self.semantic, self.cache))
            out["max_cosine"] = round(float(sim.max()), 4)
            out["closest_cosine"] = _closest(unseen, seen, idx, sim, top)
        elif self.semantic is not None:
            out["max_cosine"] = 0.0
            out["closest_cosine"] = []
        return out


def compare(unseen: list[str], seen: list[str], *, minhash: Any | None = None, semantic: Any | None = None,
            top: int = 5, lsh_threshold: float = 0.3, cache: dict[str, np.ndarray] | None = None
            ) -> dict[str, Any]:
    """Nearest cross-split neighbours of ``unseen`` texts in ``seen`` texts (both de-duplicated first), for one
    comparison (several against the same seen texts: one :class:`Reference`)."""
    return Reference(seen, minhash=minhash, semantic=semantic, lsh_threshold=lsh_threshold,
                     cache=cache).compare(unseen, top)


class SeenSide:
    """A seen split's queries and tools (``query`` and ``tools`` columns, any iterables), each made a
    :class:`Reference` once, on first use, with one embedding cache."""

    def __init__(self, rows: dict[str, Iterable], *, minhash: Any | None, semantic: Any | None):
        self.rows, self.minhash, self.semantic = rows, minhash, semantic
        self.cache: dict[str, np.ndarray] = {}
        self._refs: dict[str, Reference] = {}

    def reference(self, what: str) -> Reference:
        """``queries`` or ``tools`` (rendered by :func:`tool_texts`)."""
        if what not in self._refs:
            texts = self.rows.get("query", []) if what == "queries" else tool_texts(self.rows.get("tools", []))
            self._refs[what] = Reference(texts, minhash=self.minhash, semantic=self.semantic, cache=self.cache)
        return self._refs[what]


def audit_pair(seen_name: str, seen: SeenSide, unseen_name: str, unseen_rows: dict[str, Iterable], *,
               max_jaccard: float, max_cosine: float, compare_tools: bool, top: int = 5) -> dict[str, Any]:
    """Audit one pair of splits: the ``unseen`` side's ``query`` and ``tools`` columns (any iterables) against
    the ``seen`` side."""
    result: dict[str, Any] = {"seen": seen_name, "unseen": unseen_name, "checks": {}}
    checks = {"queries": list(unseen_rows.get("query", []))}
    if compare_tools:
        checks["tools"] = tool_texts(unseen_rows.get("tools", []))
    passed = True
    for what, texts in checks.items():
        r = seen.reference(what).compare(texts, top)
        r["passed"] = r.get("max_jaccard", 0.0) <= max_jaccard and r.get("max_cosine", 0.0) <= max_cosine
        passed &= r["passed"]
        result["checks"][what] = r
    result["passed"] = passed
    return result


def audit_dataset(dicts: dict[str, Any], *, minhash: Any | None, semantic: Any | None, max_jaccard: float,
                  max_cosine: float, top: int = 5) -> dict[str, Any]:
    """Audit ``train`` against every evaluation scenario (and ``validation``) of a scenario dataset (``{"select": DatasetDict,
    "eval": DatasetDict, ...}`` as built or loaded); ``train``'s queries and tools are indexed once for all."""
    train = dicts["select"]["train"]
    seen = SeenSide({"query": train["query"], "tools": Column(train, "tools")}, minhash=minhash, semantic=semantic)
    pairs = []
    for scenario in (*SCENARIOS, VALIDATION):
        if scenario not in dicts["eval"]:
            continue
        ds = dicts["eval"][scenario]
        pairs.append(audit_pair("train", seen, scenario, {"query": ds["query"], "tools": Column(ds, "tools")},
                                max_jaccard=max_jaccard, max_cosine=max_cosine,
                                compare_tools=scenario in UNSEEN_TOOL_SPLITS, top=top))
    return {"passed": all(p["passed"] for p in pairs),
            "thresholds": {"max_jaccard": max_jaccard, "max_cosine": max_cosine},
            "methods": [m for m, c in (("minhash", minhash), ("semantic", semantic)) if c is not None and c.enabled],
            "pairs": pairs}


def audit_external(train_rows: dict[str, list], name: str, rows: dict[str, list], *, minhash: Any | None,
                   semantic: Any | None, max_jaccard: float, max_cosine: float, top: int = 5) -> dict[str, Any]:
    """Audit the training rows against an outside test set (e.g. BFCL): its questions (``query``) and its
    function docs (``tools``, JSON strings of OpenAI tool lists) against the training queries and tools."""
    return audit_pair("train", SeenSide(train_rows, minhash=minhash, semantic=semantic), name, rows,
                      max_jaccard=max_jaccard, max_cosine=max_cosine, compare_tools=True, top=top)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """One line per pair and check: the closest Jaccard and cosine, and whether it passed."""
    lines = []
    for p in report["pairs"]:
        for what, r in p["checks"].items():
            lines.append(f"{p['seen']} vs {p['unseen']} ({what}): max Jaccard {r.get('max_jaccard', '-')}, "
                         f"max cosine {r.get('max_cosine', '-')} -> {'pass' if r['passed'] else 'FAIL'}")
    return lines
