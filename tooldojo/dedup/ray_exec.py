"""The dedup filters on Ray: the same pairs as the single-machine path, computed on a cluster.

- **MinHash signatures**: ``map_batches`` with :meth:`~tooldojo.similarity.minhash.MinHasher.signatures`.
- **LSH banding**: every row becomes ``bands`` rows ``(band, band key, row)`` (:func:`~tooldojo.similarity.minhash.band_keys`),
  shuffled by a hash of the band key (``groupby`` on a partition of the (band, band-hash) key space) and
  grouped into buckets inside each partition; :func:`~tooldojo.similarity.minhash.bucket_pairs` applies the
  single-machine candidate rule (all pairs up to 16 members, first + predecessor above) per bucket.
- **Verification**: candidate pairs are made distinct (``groupby(i, j)``), joined twice with the signatures
  (``Dataset.join``) and kept when :func:`~tooldojo.similarity.minhash.pair_jaccard` reaches the threshold.
- **Keep rules and clusters** (``dedup`` stage): the verified pairs (few: duplicates and near-duplicates
  only) come back to the driver, where :mod:`tooldojo.dedup.filters` applies the family/query keep rules.
  For a plain text collection (:func:`ray_text_dedup`) the greedy keep runs on the workers
  (:func:`ray_keep`): connected components label the pairs, which are shuffled by component.
- **Embeddings**: ``map_batches`` on a pool of actors that each load the sentence-transformers model once
  (``num_gpus=1`` per actor when ``dedup.semantic.device`` is a CUDA device); the blockwise cosine pairs run
  as one Ray task per row block (:func:`~tooldojo.similarity.semantic.row_block_pairs`), or, above
  ``dedup.semantic.exact_up_to`` rows, one task builds the HNSW index and one task per row range searches it.

Inputs of at most :data:`~tooldojo.dedup.filters.EXACT_PAIRS_UP_TO` rows compare every pair, as the local path
does, on the driver (cheaper than starting the shuffle; results identical by construction).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from tooldojo.dedup.filters import EXACT_PAIRS_UP_TO, FilterOps, Pair, minhash_pairs, to_pairs
from tooldojo.ray_session import cluster_cpus, import_ray
from tooldojo.similarity.minhash import MinHasher, band_keys, bucket_pairs, lsh_params, pair_jaccard

ROWS_PER_BLOCK = 50_000
"""Rows per input block (one ``map_batches`` call hashes one block)."""


def _quiet(ray: Any) -> None:
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def text_dataset(texts: Sequence[str], rows_per_block: int = ROWS_PER_BLOCK) -> Any:
    """A Ray dataset of ``row`` (position) and ``text`` columns, in blocks of ``rows_per_block`` rows."""
    import pyarrow as pa

    ray = import_ray("dedup.executor")
    _quiet(ray)
    texts = list(texts)
    tables = [pa.table({"row": np.arange(s, min(s + rows_per_block, len(texts)), dtype=np.int64),
                        "text": pa.array(texts[s:s + rows_per_block], pa.string())})
              for s in range(0, len(texts), rows_per_block)]
    return ray.data.from_arrow(tables or [pa.table({"row": pa.array([], pa.int64()), "text": pa.array([], pa.string())})])


# ---------------------------------------------------------------------------------------------- MinHash
def _signatures(batch: dict[str, np.ndarray], hasher: MinHasher, text_column: str) -> dict[str, np.ndarray]:
    return {"row": batch["row"], "sig": hasher.signatures([str(t) for t in batch[text_column]])}


def _band_rows(batch: dict[str, np.ndarray], bands: int, rows: int, parts: int) -> dict[str, np.ndarray]:
    sigs = np.ascontiguousarray(np.asarray(batch["sig"], dtype=np.uint32))
    keys = band_keys(sigs, bands, rows)  # (n, bands), the band index is mixed into each key
    n = len(sigs)
    return {"band": np.tile(np.arange(bands, dtype=np.int32), n), "key": keys.ravel(),
            "row": np.repeat(np.asarray(batch["row"], dtype=np.int64), bands),
            "part": (keys.ravel() % np.uint64(parts)).astype(np.int64)}


def _bucket_pairs(group: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    i, j = bucket_pairs(group["band"], group["key"], group["row"])
    return {"i": i, "j": j}


def _verify(batch: dict[str, np.ndarray], threshold: float) -> dict[str, np.ndarray]:
    si, sj = np.asarray(batch["sig_i"], dtype=np.uint32), np.asarray(batch["sig_j"], dtype=np.uint32)
    idx = np.arange(len(si))
    sim = pair_jaccard(si, idx, sj, idx)
    keep = sim >= threshold
    return {"i": np.asarray(batch["i"])[keep], "j": np.asarray(batch["j"])[keep], "sim": sim[keep]}


def signature_dataset(ds: Any, hasher: MinHasher, text_column: str = "text") -> Any:
    """``ds`` (with a ``row`` column) -> ``row``, ``sig`` (uint32 × num_perm), hashed by ``map_batches``."""
    return ds.map_batches(_signatures, fn_kwargs={"hasher": hasher, "text_column": text_column},
                          batch_format="numpy", batch_size=None)


def lsh_similar_pairs(sig_ds: Any, bands: int, rows: int, threshold: float, partitions: int) -> Any:
    """Verified LSH pairs ``(i, j, sim)`` of a signature dataset, as a Ray dataset (see module docstring)."""
    cand = (sig_ds.map_batches(_band_rows, fn_kwargs={"bands": bands, "rows": rows, "parts": partitions},
                               batch_format="numpy", batch_size=None)
            .groupby("part", num_partitions=partitions)
            .map_groups(_bucket_pairs, batch_format="numpy"))
    distinct = cand.groupby(["i", "j"], num_partitions=partitions).count().select_columns(["i", "j"])
    sig_i = sig_ds.rename_columns({"row": "i", "sig": "sig_i"})
    sig_j = sig_ds.rename_columns({"row": "j", "sig": "sig_j"})
    joined = (distinct.join(sig_i, "inner", partitions, on=("i",))
              .join(sig_j, "inner", partitions, on=("j",)))
    return joined.map_batches(_verify, fn_kwargs={"threshold": threshold}, batch_format="numpy")


def _collect_pairs(pair_ds: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ii, jj, ss = [], [], []
    for batch in pair_ds.iter_batches(batch_format="numpy", batch_size=None):
        ii.append(np.asarray(batch["i"], np.int64))
        jj.append(np.asarray(batch["j"], np.int64))
        ss.append(np.asarray(batch["sim"], np.float32))
    if not ii:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    i, j, s = np.concatenate(ii), np.concatenate(jj), np.concatenate(ss)
    order = np.lexsort((j, i))  # the single-machine order: by (i, j)
    return i[order], j[order], s[order]


def _collect_signatures(sig_ds: Any, n: int, num_perm: int) -> np.ndarray:
    out = np.zeros((n, num_perm), dtype=np.uint32)
    for batch in sig_ds.iter_batches(batch_format="numpy", batch_size=None):
        out[np.asarray(batch["row"], np.int64)] = np.asarray(batch["sig"], np.uint32)
    return out


def ray_minhash_pairs(texts: Sequence[str], cfg: Any, *, workers: int | None = None
                      ) -> tuple[list[Pair], np.ndarray]:
    """:func:`~tooldojo.dedup.filters.minhash_pairs` on Ray: the same pairs and signatures."""
    if len(texts) <= EXACT_PAIRS_UP_TO:
        return minhash_pairs(texts, cfg)
    ray = import_ray("dedup.executor")
    parts = 2 * cluster_cpus(ray, workers)
    hasher = MinHasher.from_config(cfg)
    sig_ds = signature_dataset(text_dataset(texts), hasher).materialize()
    bands, rows = lsh_params(cfg.num_perm, cfg.link_threshold, cfg.bands, cfg.rows)
    i, j, s = _collect_pairs(lsh_similar_pairs(sig_ds, bands, rows, cfg.link_threshold, parts))
    return to_pairs(i, j, s, "minhash"), _collect_signatures(sig_ds, len(texts), cfg.num_perm)


def ray_text_dedup(texts: Sequence[str] | Any, cfg: Any, *, workers: int | None = None,
                   text_column: str = "text") -> dict[str, Any]:
    """MinHash near-duplicate removal on Ray, without collecting the signatures: verified pairs at
    ``cfg.threshold`` with LSH tuned to it, then the greedy keep rule in row order, per connected component
    on the workers (:func:`ray_keep`; the driver holds only the pairs' int arrays). ``texts`` is a list, or a Ray dataset (e.g. ``ray.data.read_parquet``) with an int64
    ``row`` column numbering the rows 0..n-1 (the keep order) and ``text_column``. Returns ``kept`` (row
    numbers), ``removed`` (row -> kept row), ``pairs`` and per-step ``seconds``."""
    import time

    ray = import_ray("dedup.executor")
    parts = 2 * cluster_cpus(ray, workers)
    hasher = MinHasher.from_config(cfg)
    t0 = time.perf_counter()
    if isinstance(texts, ray.data.Dataset):
        _quiet(ray)
        sig_ds = signature_dataset(texts, hasher, text_column).materialize()
        n = sig_ds.count()
    else:
        sig_ds = signature_dataset(text_dataset(texts), hasher).materialize()
        n = len(texts)
    t1 = time.perf_counter()
    bands, rows = lsh_params(cfg.num_perm, cfg.threshold, cfg.bands, cfg.rows)
    i, j, s = _collect_pairs(lsh_similar_pairs(sig_ds, bands, rows, cfg.threshold, parts))
    t2 = time.perf_counter()
    removed = ray_keep(i, j, s, n, cfg.threshold, parts)
    kept = np.setdiff1d(np.arange(n), np.fromiter(removed, np.int64, len(removed)))
    seconds = {"signatures": t1 - t0, "lsh": t2 - t1, "keep": time.perf_counter() - t2}
    return {"kept": kept, "removed": removed, "pairs": len(i), "seconds": seconds}


def _keep_partition(group: dict[str, np.ndarray], threshold: float) -> dict[str, np.ndarray]:
    from tooldojo.dedup.filters import duplicate_rows

    removed = duplicate_rows(group["i"], group["j"], group["s"], threshold)
    rows = np.fromiter(removed, np.int64, len(removed))
    return {"row": rows, "rep": np.array([removed[r].representative for r in rows.tolist()], np.int64)}


def ray_keep(i: np.ndarray, j: np.ndarray, s: np.ndarray, n: int, threshold: float, partitions: int
             ) -> dict[int, int]:
    """:func:`~tooldojo.dedup.filters.duplicate_rows` (removed row -> kept row) with the greedy pass on the
    workers: connected components of the pair graph (scipy, on the pairs' int arrays: ~20 B per pair, no
    rows) label each pair, pairs are shuffled to partitions by component, and each partition runs the greedy
    rule over its whole components — the rule never looks across components, so the result is the
    single-machine one."""
    import pyarrow as pa
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ray = import_ray("dedup.executor")
    if not len(i):
        return {}
    sel = s >= threshold
    i, j, s = i[sel], j[sel], s[sel]
    _, labels = connected_components(coo_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n)), directed=False)
    part = labels[i].astype(np.int64) % partitions
    step = max(1, -(-len(i) // partitions))
    pairs = ray.data.from_arrow([pa.table({"part": part[k:k + step], "i": i[k:k + step], "j": j[k:k + step],
                                           "s": s[k:k + step]}) for k in range(0, len(i), step)])
    out = (pairs.groupby("part", num_partitions=partitions)
           .map_groups(_keep_partition, fn_kwargs={"threshold": threshold}, batch_format="numpy"))
    removed: dict[int, int] = {}
    for batch in out.iter_batches(batch_format="numpy", batch_size=None):
        removed.update(zip(np.asarray(batch["row"]).tolist(), np.asarray(batch["rep"]).tolist(), strict=True))
    return dict(sorted(removed.items()))


def local_text_dedup(texts: Sequence[str], cfg: Any) -> dict[str, Any]:
    """The single-process counterpart of :func:`ray_text_dedup` (same rule, same output; also returns the
    ``signatures``)."""
    import time

    from tooldojo.dedup.filters import duplicate_rows
    from tooldojo.similarity.minhash import similar_pairs

    t0 = time.perf_counter()
    sigs = MinHasher.from_config(cfg).signatures(list(texts))
    t1 = time.perf_counter()
    bands, rows = lsh_params(cfg.num_perm, cfg.threshold, cfg.bands, cfg.rows)
    i, j, s = similar_pairs(sigs, bands, rows, cfg.threshold)
    t2 = time.perf_counter()
    removed = duplicate_rows(i, j, s, cfg.threshold)
    kept = np.setdiff1d(np.arange(len(texts)), np.fromiter(removed, np.int64, len(removed)))
    seconds = {"signatures": t1 - t0, "lsh": t2 - t1, "keep": time.perf_counter() - t2}
    return {"kept": kept, "removed": {k: m.representative for k, m in removed.items()}, "pairs": len(i),
            "seconds": seconds, "signatures": sigs}


# -------------------------------------------------------------------------------------------- embeddings
class _Encoder:
    """A Ray actor's embedding model (loaded once per actor)."""

    def __init__(self, model: str | None, device: str | None, batch_size: int, max_unknown_share: float = 1.0):
        from tooldojo.similarity.semantic import load_encoder

        self.model, self.device, self.batch_size = model, device, batch_size
        self.max_unknown_share = max_unknown_share
        load_encoder(model, device)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from tooldojo.similarity.semantic import encode

        emb = encode([str(t) for t in batch["text"]], self.model, batch_size=self.batch_size, device=self.device,
                     max_unknown_share=self.max_unknown_share)
        return {"row": batch["row"], "emb": emb}


def ray_encode(texts: Sequence[str], cfg: Any, progress: bool = False, *, workers: int | None = None) -> np.ndarray:
    """:func:`~tooldojo.similarity.semantic.encode_config` on a pool of Ray actors (GPU actors for a CUDA device)."""
    ray = import_ray("dedup.executor")
    if not len(texts):
        from tooldojo.dedup.filters import encode_texts

        return encode_texts(texts, cfg)
    gpu = bool(cfg.device and str(cfg.device).startswith("cuda"))
    actors = cluster_cpus(ray, workers) if not gpu else max(1, int(ray.cluster_resources().get("GPU", 1)))
    actors = max(1, min(actors, -(-len(texts) // cfg.batch_size)))
    per_block = max(cfg.batch_size, -(-len(texts) // actors))
    ds = text_dataset(texts, rows_per_block=per_block).map_batches(
        _Encoder, fn_constructor_args=(cfg.model, cfg.device, cfg.batch_size, cfg.max_unknown_share), batch_format="numpy",
        batch_size=None, concurrency=actors, num_gpus=1 if gpu else 0, num_cpus=0 if gpu else 1)
    out: np.ndarray | None = None
    for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
        emb = np.asarray(batch["emb"], dtype=np.float32)
        if out is None:
            out = np.zeros((len(texts), emb.shape[1]), dtype=np.float32)
        out[np.asarray(batch["row"], np.int64)] = emb
    assert out is not None
    return out


def _ann_index_bytes(emb: np.ndarray, m: int, ef: int) -> np.ndarray:
    import faiss

    from tooldojo.similarity.semantic import build_ann_index

    return faiss.serialize_index(build_ann_index(emb, m, ef))


def _ann_rows(index_bytes: np.ndarray, emb: np.ndarray, r0: int, r1: int, threshold: float, neighbors: int,
              ef: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import faiss

    from tooldojo.similarity.semantic import ann_row_pairs

    return ann_row_pairs(faiss.deserialize_index(index_bytes), emb, r0, r1, threshold, neighbors, ef)


def ray_semantic_pairs(emb: np.ndarray, cfg: Any, *, workers: int | None = None) -> list[Pair]:
    """:func:`~tooldojo.dedup.filters.semantic_pairs` on Ray (same pairs): exact search as one task per row
    block; above ``cfg.exact_up_to`` rows, the HNSW index built once by a task (one thread, the same graph
    as locally) and searched by one task per row range."""
    from tooldojo.similarity.semantic import concat_pairs, row_block_pairs, unique_pairs

    ray = import_ray("dedup.executor")
    if len(emb) <= min(cfg.block_size, cfg.exact_up_to):
        i, j, s = row_block_pairs(emb, 0, cfg.link_threshold, cfg.block_size)
        return to_pairs(i, j, s, "semantic")
    ref = ray.put(emb)
    if len(emb) <= cfg.exact_up_to:
        task = ray.remote(num_cpus=1)(row_block_pairs)
        parts = ray.get([task.remote(ref, r0, cfg.link_threshold, cfg.block_size)
                         for r0 in range(0, len(emb), cfg.block_size)])
        return to_pairs(*concat_pairs(parts), "semantic")
    index_ref = ray.remote(num_cpus=1)(_ann_index_bytes).remote(ref, cfg.ann_m, cfg.ann_ef_search)
    per_task = -(-len(emb) // cluster_cpus(ray, workers))
    search = ray.remote(num_cpus=1)(_ann_rows)
    parts = ray.get([search.remote(index_ref, ref, r0, min(r0 + per_task, len(emb)), cfg.link_threshold,
                                   cfg.neighbors, cfg.ann_ef_search) for r0 in range(0, len(emb), per_task)])
    return to_pairs(*unique_pairs(*concat_pairs(parts)), "semantic")


def ray_filter_ops(workers: int | None = None) -> FilterOps:
    """:class:`~tooldojo.dedup.filters.FilterOps` that run on the connected Ray cluster."""
    return FilterOps(minhash_pairs=partial(ray_minhash_pairs, workers=workers),
                     encode=partial(ray_encode, workers=workers),
                     semantic_pairs=partial(ray_semantic_pairs, workers=workers))
