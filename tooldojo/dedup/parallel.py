"""The dedup filters' similarity computations as executor tasks: the same pairs as in one process.

:func:`filter_ops` gives :class:`~tooldojo.dedup.filters.FilterOps` for an executor. On the local executor
they are the single-process functions; on a distributed one (``execution.executor: ray``) every step is a
``map`` of independent tasks:

- **MinHash**: signatures of row blocks (one task each); the LSH buckets of band groups (one task per group of
  bands, :func:`~tooldojo.similarity.minhash.band_pairs` on those bands' signature columns); the driver joins
  the candidates (:func:`~tooldojo.similarity.minhash.distinct_pairs`) and verifies them. The bucket rule and
  the order of the pairs are those of :func:`~tooldojo.similarity.minhash.candidate_pairs`, so the pairs are
  identical. Inputs of at most :data:`~tooldojo.dedup.filters.EXACT_PAIRS_UP_TO` rows compare every pair on
  the driver, as the local path does.
- **Embeddings**: row blocks encoded by tasks (one GPU each when ``dedup.semantic.device`` is a CUDA device;
  a worker keeps its loaded model for its next task).
- **Embedding pairs**: exact search as one task per row block; above ``dedup.semantic.exact_up_to`` rows, the
  HNSW index built once by a task (one thread: the same graph as locally) and searched by one task per row
  range; the exact pairs inside each family (:func:`~tooldojo.similarity.semantic.group_pairs`) on the driver.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from functools import partial
from typing import Any

import numpy as np

from tooldojo.dedup.filters import EXACT_PAIRS_UP_TO, FilterOps, Pair, encode_texts, minhash_pairs, to_pairs
from tooldojo.executors import Executor


def filter_ops(executor: Executor) -> FilterOps:
    """The similarity computations on ``executor`` (this process's own for a local one)."""
    if not executor.distributed:
        return FilterOps()
    return FilterOps(minhash_pairs=partial(minhash_pairs_on, executor), encode=partial(encode_on, executor),
                     semantic_pairs=partial(semantic_pairs_on, executor))


def _blocks(n: int, parts: int, least: int = 1) -> list[tuple[int, int]]:
    """``(start, stop)`` of about ``parts`` contiguous blocks of ``n`` rows, each at least ``least`` rows."""
    step = max(least, -(-n // max(1, parts)))
    return [(s, min(s + step, n)) for s in range(0, n, step)]


def minhash_pairs_on(executor: Executor, texts: Sequence[str], cfg: Any) -> tuple[list[Pair], np.ndarray]:
    """:func:`~tooldojo.dedup.filters.minhash_pairs` as tasks: the same pairs and signatures."""
    from tooldojo.similarity.minhash import MinHasher, band_pairs, distinct_pairs, lsh_params, verified_pairs

    if len(texts) <= EXACT_PAIRS_UP_TO:
        return minhash_pairs(texts, cfg)
    texts = list(texts)
    hasher = MinHasher.from_config(cfg)
    sigs = np.concatenate(executor.map(hasher.signatures, [(texts[a:b],) for a, b in
                                                           _blocks(len(texts), executor.workers)],
                                       name="dedup-signatures"))
    bands, rows = lsh_params(cfg.num_perm, cfg.link_threshold, cfg.bands, cfg.rows)
    parts = executor.map(band_pairs, [(sigs[:, a * rows:b * rows], b - a, rows) for a, b in
                                      _blocks(bands, executor.workers)], name="dedup-lsh")
    i, j = distinct_pairs(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), len(sigs))
    return to_pairs(*verified_pairs(sigs, i, j, cfg.link_threshold), "minhash"), sigs


def encode_on(executor: Executor, texts: Sequence[str], cfg: Any, progress: bool = False) -> np.ndarray:
    """:func:`~tooldojo.similarity.semantic.encode_config` as tasks over row blocks (GPU tasks for a CUDA
    device)."""
    from tooldojo.similarity.semantic import encode_config

    texts = list(texts)
    if not texts:
        return encode_texts(texts, cfg)
    gpu = bool(cfg.device and str(cfg.device).startswith("cuda"))
    tasks = max(1, min(executor.workers, -(-len(texts) // cfg.batch_size)))
    parts = executor.map(encode_config, [(texts[a:b], cfg) for a, b in _blocks(len(texts), tasks, cfg.batch_size)],
                         name="dedup-encode", gpus=1 if gpu else 0)
    return np.concatenate(parts).astype(np.float32, copy=False)


def _ann_index_bytes(emb: np.ndarray, m: int, ef: int) -> np.ndarray:
    import faiss

    from tooldojo.similarity.semantic import build_ann_index

    return faiss.serialize_index(build_ann_index(emb, m, ef))


def _ann_rows(index_bytes: np.ndarray, emb: np.ndarray, r0: int, r1: int, threshold: float, neighbors: int,
              ef: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import faiss

    from tooldojo.similarity.semantic import ann_row_pairs

    return ann_row_pairs(faiss.deserialize_index(index_bytes), emb, r0, r1, threshold, neighbors, ef)


def semantic_pairs_on(executor: Executor, emb: np.ndarray, cfg: Any, groups: Sequence[Hashable] | None = None
                      ) -> list[Pair]:
    """:func:`~tooldojo.dedup.filters.semantic_pairs` as tasks (the same pairs): exact search as one task per
    row block; above ``cfg.exact_up_to`` rows, the HNSW index built once by a task and searched by one task
    per row range, the exact pairs inside ``groups`` added on the driver."""
    from tooldojo.similarity.semantic import concat_pairs, row_block_pairs, unique_pairs, with_group_pairs

    if len(emb) <= min(cfg.block_size, cfg.exact_up_to):
        return to_pairs(*row_block_pairs(emb, 0, cfg.link_threshold, cfg.block_size), "semantic")
    if len(emb) <= cfg.exact_up_to:
        parts = executor.map(row_block_pairs, [(r0, cfg.link_threshold, cfg.block_size)
                                               for r0 in range(0, len(emb), cfg.block_size)],
                             shared=(emb,), name="dedup-cosine")
        return to_pairs(*concat_pairs(parts), "semantic")
    (index,) = executor.map(_ann_index_bytes, [(cfg.ann_m, cfg.ann_ef_search)], shared=(emb,), name="dedup-index")
    parts = executor.map(_ann_rows, [(r0, r1, cfg.link_threshold, cfg.neighbors, cfg.ann_ef_search)
                                     for r0, r1 in _blocks(len(emb), executor.workers)],
                         shared=(index, emb), name="dedup-ann")
    return to_pairs(*with_group_pairs(unique_pairs(*concat_pairs(parts)), emb, groups, cfg), "semantic")
