"""MinHash near-duplicate removal of a large plain text collection on Ray Data (``ray_text_dedup``; the
``dedup`` stage itself runs on any executor through :mod:`tooldojo.dedup.parallel`). Needs ``tooldojo[ray]``.

- **MinHash signatures**: ``map_batches`` with :meth:`~tooldojo.similarity.minhash.MinHasher.signatures`.
- **LSH banding**: every row becomes ``bands`` rows ``(band, band key, row)`` (:func:`~tooldojo.similarity.minhash.band_keys`),
  shuffled by a hash of the band key (``groupby`` on a partition of the (band, band-hash) key space) and
  grouped into buckets inside each partition; :func:`~tooldojo.similarity.minhash.bucket_pairs` applies the
  single-machine bucket rule per bucket.
- **Verification**: candidate pairs are made distinct (``groupby(i, j)``), joined twice with the signatures
  (``Dataset.join``) and kept when :func:`~tooldojo.similarity.minhash.pair_jaccard` reaches the threshold.
- **Keep**: the greedy keep runs on the workers (:func:`ray_keep`): connected components label the pairs,
  which are shuffled by component; the driver holds only the pairs' int arrays, never the signatures.

:func:`local_text_dedup` is the single-process counterpart (same rule, same output).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from tooldojo.executors.ray import cluster_cpus, import_ray
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

    ray = import_ray()
    _quiet(ray)
    texts = list(texts)
    tables = [pa.table({"row": np.arange(s, min(s + rows_per_block, len(texts)), dtype=np.int64),
                        "text": pa.array(texts[s:s + rows_per_block], pa.string())})
              for s in range(0, len(texts), rows_per_block)]
    return ray.data.from_arrow(tables or [pa.table({"row": pa.array([], pa.int64()), "text": pa.array([], pa.string())})])


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


def ray_text_dedup(texts: Sequence[str] | Any, cfg: Any, *, workers: int | None = None,
                   text_column: str = "text") -> dict[str, Any]:
    """MinHash near-duplicate removal on Ray, without collecting the signatures: verified pairs at
    ``cfg.threshold`` with LSH tuned to it, then the greedy keep rule in row order, per connected component
    on the workers (:func:`ray_keep`; the driver holds only the pairs' int arrays). ``texts`` is a list, or a Ray dataset (e.g. ``ray.data.read_parquet``) with an int64
    ``row`` column numbering the rows 0..n-1 (the keep order) and ``text_column``. Returns ``kept`` (row
    numbers), ``removed`` (row -> kept row), ``pairs`` and per-step ``seconds``."""
    import time

    ray = import_ray()
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

    ray = import_ray()
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
