"""Choosing the approximate-nearest-neighbour library of the semantic filter: recall against exact search
and speed, for faiss-cpu (HNSW), usearch and hnswlib.

    python -m bench.bench_ann                    # planted-duplicate set + 100k synthetic vectors
    python -m bench.bench_ann --rows 20000       # smaller synthetic set
    python -m bench.bench_ann --scaling 20000,1000000  # the shipped filter's recall on bench_scaling's corpus

Each library builds an HNSW graph over L2-normalised embeddings (inner product = cosine) with the same
graph settings (``dedup.semantic`` defaults: M, efConstruction = efSearch, ``neighbors``) and returns each
row's ``k`` nearest rows; the shipped path (:func:`tooldojo.similarity.semantic.ann_pairs`, faiss) is a row of
its own; a pair
``(i, j)`` counts when its cosine reaches the link threshold (0.85, the pairs the dedup stage uses for
removal and clustering). **Pair recall** = share of the exact search's pairs (blockwise all pairs,
:func:`tooldojo.similarity.semantic.similar_pairs`) that the library found.

Data:

- *planted*: the queries and tools of ``bench_filters`` (seed catalog + planted near-duplicates), embedded
  with all-MiniLM-L6-v2;
- *synthetic*: ``--rows`` unit vectors (dim 384) around 2,000 topics (background cosine ~0.35 inside a
  topic, as sentence embeddings have), with 15% of rows planted as noisy copies (cosine 0.86-0.99) of
  another row, some in chains of several copies.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _defaults() -> tuple[int, int, int]:
    from tooldojo.dedup.config import SemanticConfig

    c = SemanticConfig()
    return c.ann_m, c.ann_ef_search, c.neighbors


M, EF_SEARCH, NEIGHBORS = _defaults()
EF_CONSTRUCTION = EF_SEARCH
"""The shipped defaults (``dedup.semantic``): every library gets the same graph settings."""


def synthetic(n: int, dim: int = 384, topics: int = 2000, dup_share: float = 0.15, seed: int = 0) -> np.ndarray:
    """Clustered unit vectors with planted near-duplicates (see module docstring)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((topics, dim)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    x = 0.6 * centers[rng.integers(0, topics, n)] + 0.8 * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    n_dup = int(n * dup_share)
    dst = rng.choice(n, n_dup, replace=False)
    src = rng.integers(0, n, n_dup)
    noise = rng.uniform(0.05, 0.4, n_dup).astype(np.float32)[:, None]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x[dst] = x[src] + noise * rng.standard_normal((n_dup, dim)).astype(np.float32) / np.sqrt(dim)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def _pairs_from_knn(emb: np.ndarray, nbrs: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    i = np.repeat(np.arange(len(nbrs)), nbrs.shape[1])
    j = nbrs.ravel()
    ok = (j >= 0) & (j != i)
    i, j = i[ok], j[ok]
    sim = np.einsum("ij,ij->i", emb[i], emb[j])
    keep = sim >= threshold
    lo, hi = np.minimum(i[keep], j[keep]), np.maximum(i[keep], j[keep])
    return set(zip(lo.tolist(), hi.tolist(), strict=True))


def knn_faiss(emb: np.ndarray, k: int, threads: int) -> np.ndarray:
    import faiss

    faiss.omp_set_num_threads(threads)
    index = faiss.IndexHNSWFlat(emb.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = EF_CONSTRUCTION
    index.add(emb)
    index.hnsw.efSearch = max(EF_SEARCH, k)
    return index.search(emb, k)[1]


def knn_usearch(emb: np.ndarray, k: int, threads: int) -> np.ndarray:
    from usearch.index import Index

    index = Index(ndim=emb.shape[1], metric="ip", dtype="f32", connectivity=M, expansion_add=EF_CONSTRUCTION,
                  expansion_search=max(EF_SEARCH, k))
    index.add(np.arange(len(emb)), emb, threads=threads)
    found = index.search(emb, k, threads=threads)
    keys = np.asarray(found.keys, dtype=np.int64).reshape(len(emb), -1)
    counts = np.asarray(found.counts).reshape(-1)
    keys[np.arange(keys.shape[1])[None, :] >= counts[:, None]] = -1
    return keys


def knn_hnswlib(emb: np.ndarray, k: int, threads: int) -> np.ndarray:
    import hnswlib

    index = hnswlib.Index(space="ip", dim=emb.shape[1])
    index.init_index(max_elements=len(emb), ef_construction=EF_CONSTRUCTION, M=M)
    index.add_items(emb, np.arange(len(emb)), num_threads=threads)
    index.set_ef(max(EF_SEARCH, k))
    return index.knn_query(emb, k=k, num_threads=threads)[0].astype(np.int64)


LIBRARIES = {"faiss-cpu HNSWFlat": knn_faiss, "usearch": knn_usearch, "hnswlib": knn_hnswlib}


def measure(name: str, emb: np.ndarray, threshold: float, k: int, threads: int) -> list[dict]:
    from tooldojo.similarity.semantic import similar_pairs

    t0 = time.perf_counter()
    i, j, _ = similar_pairs(emb, threshold)
    exact_s = time.perf_counter() - t0
    exact = set(zip(i.tolist(), j.tolist(), strict=True))
    rows = [{"data": name, "rows": len(emb), "library": "exact (blockwise numpy)", "k": "all", "seconds": exact_s,
             "pairs": len(exact), "pair recall": 1.0}]
    for lib, fn in LIBRARIES.items():
        t0 = time.perf_counter()
        nbrs = fn(emb, k, threads)
        sec = time.perf_counter() - t0
        found = _pairs_from_knn(emb, nbrs, threshold)
        rows.append({"data": name, "rows": len(emb), "library": lib, "k": k, "seconds": sec, "pairs": len(found),
                     "pair recall": len(found & exact) / max(1, len(exact))})
    from tooldojo.similarity.semantic import ann_pairs

    t0 = time.perf_counter()
    i, j, _ = ann_pairs(emb, threshold, neighbors=k, m=M, ef=EF_SEARCH)
    sec = time.perf_counter() - t0
    found = set(zip(i.tolist(), j.tolist(), strict=True))
    rows.append({"data": name, "rows": len(emb), "library": "tooldojo ann_pairs (faiss, one-thread build)", "k": k,
                 "seconds": sec, "pairs": len(found), "pair recall": len(found & exact) / max(1, len(exact))})
    return rows


def planted_embeddings() -> np.ndarray:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "dedup"))
    from dedup_synthdata import catalog_records

    from bench.bench_filters import plant
    from tooldojo.dedup.config import SemanticConfig
    from tooldojo.similarity.semantic import encode_config
    from tooldojo.similarity.text import tool_text

    tools, queries = catalog_records(per_pattern=2)
    all_t, all_q, _ = plant(tools, queries, random.Random(0), 24, 0.12)
    texts = [q.text for q in all_q] + [tool_text(t.function) for t in all_t]
    return encode_config(texts, SemanticConfig())


def scaling_recall(n: int, threshold: float, sample: int = 3000) -> tuple[list[dict], str]:
    """Pair recall of the shipped semantic filter on ``bench_scaling``'s corpus of ``n`` queries (``n / 10``
    families, hashed bag-of-words vectors): the index alone (:func:`~tooldojo.similarity.semantic.ann_pairs`)
    and as the dedup stage runs it, joined with each family's pairs
    (:func:`~tooldojo.similarity.semantic.with_group_pairs`). Exact all pairs is out of reach at 1M rows; the
    corpus plants its near-duplicates inside families, so the reference is every pair inside each family (and
    the second row's recall is 1 by construction), and an exact search of ``sample`` random rows against all
    rows counts the pairs that lie outside (the note says how many)."""
    from bench.bench_scaling import hashed_embeddings, records
    from tooldojo.dedup.config import SemanticConfig
    from tooldojo.similarity.semantic import ann_pairs, group_pairs, with_group_pairs

    _, queries = records(n, max(1, n // 10))
    fams = [q.family_id for q in queries]
    emb = hashed_embeddings([q.text for q in queries])
    del queries
    i, j, s = group_pairs(emb, fams, threshold)
    truth = dict(zip(zip(i.tolist(), j.tolist(), strict=True), s.tolist(), strict=True))
    rows_s = np.random.default_rng(1).choice(len(emb), min(sample, len(emb)), replace=False)
    outside = 0
    for c0 in range(0, len(emb), 100_000):
        a, b = np.nonzero(emb[rows_s] @ emb[c0:c0 + 100_000].T >= threshold)
        outside += sum(x != y and (min(x, y), max(x, y)) not in truth
                       for x, y in zip(rows_s[a].tolist(), (b + c0).tolist(), strict=True))
    cfg = SemanticConfig(link_threshold=threshold)
    t0 = time.perf_counter()
    index_pairs = ann_pairs(emb, threshold, neighbors=cfg.neighbors, m=cfg.ann_m, ef=cfg.ann_ef_search)
    index_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    joined = with_group_pairs(index_pairs, emb, fams, cfg)
    family_s = time.perf_counter() - t0
    out = []
    for name, (i, j, _), sec, fam_s in (("tooldojo ann_pairs (index only)", index_pairs, index_s, 0.0),
                                        ("dedup: index + each family's pairs", joined, index_s + family_s, family_s)):
        found = set(zip(i.tolist(), j.tolist(), strict=True))
        row = {"rows": len(emb), "families": n // 10, "filter": name, "seconds": sec, "family pass s": fam_s,
               "pairs": len(found)}
        for cut in (threshold, cfg.threshold):
            ref = [p for p, v in truth.items() if v >= cut]
            hits = sum(p in found for p in ref)
            row[f"recall >= {cut}"] = hits / max(1, len(ref))
            row[f"missed >= {cut}"] = len(ref) - hits
        out.append(row)
    out.append(audit_recall(emb, truth, cfg))
    n_dup = sum(v >= cfg.threshold for v in truth.values())
    note = (f"{len(emb):,} rows: reference {len(truth):,} pairs at cosine >= {threshold} inside families "
            f"({n_dup:,} at >= {cfg.threshold}, the duplicate threshold); an exact search of {len(rows_s):,} "
            f"random rows against all rows found {outside} pair(s) at >= {threshold} outside them.")
    return out, note


def audit_recall(emb: np.ndarray, truth: dict[tuple[int, int], float], cfg: Any) -> dict:
    """The leakage audit's search (:class:`~tooldojo.similarity.semantic.Nearest`: each evaluation text's
    nearest seen text) on the same corpus: the later row of each pair at ``>= cfg.threshold`` plays an
    evaluation text, every other row the seen side; recall = share of those rows with a seen partner at
    ``>= cfg.threshold`` for which the search returns one."""
    from tooldojo.similarity.semantic import Nearest

    dup = [(a, b) for (a, b), v in truth.items() if v >= cfg.threshold]
    evaluated = np.unique([b for _, b in dup])
    seen = np.ones(len(emb), bool)
    seen[evaluated] = False
    has_partner = np.isin(evaluated, [b for a, b in dup if seen[a]])
    t0 = time.perf_counter()
    _, sim = Nearest(emb[seen], cfg)(emb[evaluated])
    sec = time.perf_counter() - t0
    hit = int(np.count_nonzero((sim >= cfg.threshold) & has_partner))
    return {"rows": len(emb), "families": "", "filter": "audit: nearest seen row (1 per evaluation row)",
            "seconds": sec, "family pass s": 0.0, "pairs": f"{int(has_partner.sum())} rows",
            f"recall >= {cfg.threshold}": hit / max(1, int(has_partner.sum())),
            f"missed >= {cfg.threshold}": int(has_partner.sum()) - hit}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="synthetic vectors")
    ap.add_argument("--scaling", metavar="N,N", help="instead: the shipped filter's recall on bench_scaling's "
                    "corpus of N queries, for each N (section bench:ann_scale)")
    ap.add_argument("--k", type=int, default=NEIGHBORS, help="neighbours per row")
    ap.add_argument("--threshold", type=float, default=0.85)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--note", default="", help="conditions to record (e.g. other jobs on the machine)")
    args = ap.parse_args()
    from bench._report import table, write_section

    if args.scaling:
        from tooldojo.dedup.config import SemanticConfig

        dup = SemanticConfig().threshold
        rows, notes = [], []
        for n in (int(x) for x in args.scaling.split(",")):
            r, note = scaling_recall(n, args.threshold)
            rows += r
            notes.append(note)
            print(table(rows, list(rows[0])), flush=True)
        body = table(rows, list(rows[0])) + (
            "\n\nbench_scaling's synthetic queries (10 per family; planted near-duplicates: one word of twelve "
            "changed, inside a family), hashed bag-of-words vectors (384 dims). The reference is every pair inside "
            "a family, so the second row of each size finds all of it by construction; the first row is the "
            f"index's own recall. The *audit* row: the later row of each planted pair at >= {dup} plays an "
            f"evaluation text and every other row the seen side (`train`); it counts the evaluation rows with a "
            f"seen partner at >= {dup} and how many the audit's search (faiss HNSW above `exact_up_to`, the one "
            "nearest row) returns one for. " + " ".join(notes) + f" HNSW M {M}, efConstruction = efSearch {EF_SEARCH}, "
            f"{NEIGHBORS} neighbours, built on one thread (as the dedup stage builds it); seconds: build + search "
            "(+ the family pass). " + args.note)
        write_section("ann_scale", "Semantic filter: recall at scale (bench_ann --scaling)", body)
        return
    t0 = time.perf_counter()
    planted = planted_embeddings()
    enc_s = time.perf_counter() - t0
    rows = measure("planted (bench_filters)", planted, args.threshold, args.k, args.threads)
    rows += measure("synthetic", synthetic(args.rows), args.threshold, args.k, args.threads)
    body = table(rows, ["data", "rows", "library", "k", "seconds", "pairs", "pair recall"])
    body += (f"\n\nHNSW M {M}, efConstruction {EF_CONSTRUCTION}, efSearch {EF_SEARCH}; {args.threads} threads; "
             f"pairs at cosine >= {args.threshold}. Seconds: index build + k-NN search of every row (ANN) or "
             f"blockwise all pairs (exact); the planted set's embedding ({len(planted)} texts, {enc_s:.0f} s) "
             "is not included. " + args.note)
    write_section("ann", "Semantic filter: ANN library recall and speed (bench_ann)", body)


if __name__ == "__main__":
    main()
