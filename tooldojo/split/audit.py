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


def compare(unseen: list[str], seen: list[str], *, minhash: Any | None = None, semantic: Any | None = None,
            top: int = 5, lsh_threshold: float = 0.3, cache: dict[str, np.ndarray] | None = None
            ) -> dict[str, Any]:
    """Nearest cross-split neighbours of ``unseen`` texts in ``seen`` texts (both de-duplicated first);
    ``cache`` (text -> embedding) saves re-encoding texts shared by several comparisons."""
    unseen, seen = sorted(set(unseen)), sorted(set(seen))
    out: dict[str, Any] = {"n_unseen": len(unseen), "n_seen": len(seen)}
    if minhash is not None and minhash.enabled:
        from tooldojo.similarity.minhash import LSHIndex, MinHasher

        hasher = MinHasher.from_config(minhash)
        index = LSHIndex(hasher, threshold=lsh_threshold)
        if seen:
            index.add_texts(seen)
        best, best_sim = index.best_match(hasher.signatures(unseen), min_similarity=0.0) if unseen else \
            (np.zeros(0, np.int64), np.zeros(0, np.float32))
        out["max_jaccard"] = round(float(best_sim.max()), 4) if len(best_sim) else 0.0
        out["closest_jaccard"] = _closest(unseen, seen, best, best_sim, top)
    if semantic is not None and semantic.enabled and unseen and seen:
        from tooldojo.similarity.semantic import nearest_config

        ea, eb = _embed(unseen, semantic, cache), _embed(seen, semantic, cache)
        idx, sim = nearest_config(ea, eb, semantic)
        out["max_cosine"] = round(float(sim.max()), 4)
        out["closest_cosine"] = _closest(unseen, seen, idx, sim, top)
    elif semantic is not None and semantic.enabled:
        out["max_cosine"] = 0.0
        out["closest_cosine"] = []
    return out


def audit_pair(seen_name: str, seen_rows: dict[str, list], unseen_name: str, unseen_rows: dict[str, list], *,
               minhash: Any | None, semantic: Any | None, max_jaccard: float, max_cosine: float,
               compare_tools: bool, top: int = 5, cache: dict[str, np.ndarray] | None = None,
               seen_tools: list[str] | None = None) -> dict[str, Any]:
    """Audit one pair of splits given their ``query`` and ``tools`` columns (any iterables); ``seen_tools``:
    the seen side's :func:`tool_texts`, when the caller already has them."""
    result: dict[str, Any] = {"seen": seen_name, "unseen": unseen_name, "checks": {}}
    checks = {"queries": (list(unseen_rows.get("query", [])), list(seen_rows.get("query", [])))}
    if compare_tools:
        if seen_tools is None:
            seen_tools = tool_texts(seen_rows.get("tools", []))
        checks["tools"] = (tool_texts(unseen_rows.get("tools", [])), seen_tools)
    passed = True
    for what, (u, s) in checks.items():
        r = compare(u, s, minhash=minhash, semantic=semantic, top=top, cache=cache)
        r["passed"] = r.get("max_jaccard", 0.0) <= max_jaccard and r.get("max_cosine", 0.0) <= max_cosine
        passed &= r["passed"]
        result["checks"][what] = r
    result["passed"] = passed
    return result


def audit_dataset(dicts: dict[str, Any], *, minhash: Any | None, semantic: Any | None, max_jaccard: float,
                  max_cosine: float, top: int = 5) -> dict[str, Any]:
    """Audit ``train`` against every evaluation scenario (and ``validation``) of a scenario dataset (``{"select": DatasetDict,
    "eval": DatasetDict, ...}`` as built or loaded)."""
    train = dicts["select"]["train"]
    seen_rows = {"query": train["query"]}
    seen_tools: list[str] | None = None  # rendered once, from the tools column read in batches
    pairs = []
    cache: dict[str, np.ndarray] = {}
    for scenario in (*SCENARIOS, VALIDATION):
        if scenario not in dicts["eval"]:
            continue
        ds = dicts["eval"][scenario]
        compare_tools = scenario in UNSEEN_TOOL_SPLITS
        if compare_tools and seen_tools is None:
            seen_tools = tool_texts(Column(train, "tools"))
        pairs.append(audit_pair("train", seen_rows, scenario, {"query": ds["query"], "tools": Column(ds, "tools")},
                                minhash=minhash, semantic=semantic, max_jaccard=max_jaccard,
                                max_cosine=max_cosine, compare_tools=compare_tools, top=top,
                                cache=cache, seen_tools=seen_tools))
    return {"passed": all(p["passed"] for p in pairs),
            "thresholds": {"max_jaccard": max_jaccard, "max_cosine": max_cosine},
            "methods": [m for m, c in (("minhash", minhash), ("semantic", semantic)) if c is not None and c.enabled],
            "pairs": pairs}


def audit_external(train_rows: dict[str, list], name: str, rows: dict[str, list], *, minhash: Any | None,
                   semantic: Any | None, max_jaccard: float, max_cosine: float, top: int = 5) -> dict[str, Any]:
    """Audit the training rows against an outside test set (e.g. BFCL): its questions (``query``) and its
    function docs (``tools``, JSON strings of OpenAI tool lists) against the training queries and tools."""
    return audit_pair("train", train_rows, name, rows, minhash=minhash, semantic=semantic,
                      max_jaccard=max_jaccard, max_cosine=max_cosine, compare_tools=True, top=top)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """One line per pair and check: the closest Jaccard and cosine, and whether it passed."""
    lines = []
    for p in report["pairs"]:
        for what, r in p["checks"].items():
            lines.append(f"{p['seen']} vs {p['unseen']} ({what}): max Jaccard {r.get('max_jaccard', '-')}, "
                         f"max cosine {r.get('max_cosine', '-')} -> {'pass' if r['passed'] else 'FAIL'}")
    return lines
