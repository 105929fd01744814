"""Single process vs Ray on this machine: MinHash dedup at 1M rows, and synth with the offline teacher.

    python -m bench.bench_ray            # 1,000,000 texts; synth at a size of about a minute single-process
    python -m bench.bench_ray --quick    # 50,000 texts, small synth: smoke run

- **MinHash dedup**: the synthetic queries of ``bench_minhash`` (about 10% planted near-duplicates); word
  3-grams, 128 permutations, Jaccard 0.7. Single process: :func:`tooldojo.dedup.ray_text.local_text_dedup`
  (vectorised signatures, numpy LSH, greedy keep). Ray: :func:`tooldojo.dedup.ray_text.ray_text_dedup`
  (``map_batches`` signatures, banding shuffle + ``map_groups``, distinct + two joins to verify, keep on the
  driver) on a local Ray instance with every core. The kept rows are checked to be identical.
- **Shuffle volume** of the LSH stage, per input row, from the measured counts: band rows (``bands`` per row,
  28 bytes each: band int32, key uint64, row int64, partition int64), candidate pairs before and after the
  distinct step (16 bytes each), and the two joins (each shuffles the distinct pairs and the signature table,
  ``8 + 4 × num_perm`` bytes per row; the second join also carries the first signature).
- **Synth**: ``run_synth`` with the offline teacher (response cache on), local executor vs ``execution.executor: ray``;
  the output files are checked to be identical.

The numbers feed docs/scaling.md (per-worker throughput, shuffle volume, projections).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def shuffle_bytes(n: int, bands: int, num_perm: int, raw_pairs: int, distinct_pairs: int) -> dict[str, float]:
    """Bytes shuffled by the Ray LSH stage (see the module docstring), total and per input row."""
    sig_row = 8 + 4 * num_perm
    parts = {"banding": n * bands * 28, "distinct": raw_pairs * 16,
             "join_i": distinct_pairs * 16 + n * sig_row,
             "join_j": distinct_pairs * (16 + 4 * num_perm) + n * sig_row}
    parts["total"] = sum(parts.values())
    return parts


def bench_minhash(n: int, workers: int) -> tuple[list[dict], dict]:
    from bench.bench_minhash import synthetic_queries
    from tooldojo.dedup.config import MinHashConfig
    from tooldojo.dedup.ray_text import local_text_dedup, ray_text_dedup
    from tooldojo.similarity.minhash import band_keys, bucket_pairs, candidate_pairs, lsh_params

    texts = list(synthetic_queries(n))
    cfg = MinHashConfig(threshold=0.7, link_threshold=0.5)
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    local = local_text_dedup(texts, cfg)
    local_s = time.perf_counter() - t0
    local_rss = _rss_mb()
    bands, rows = lsh_params(cfg.num_perm, cfg.threshold)
    sigs = local.pop("signatures")
    keys = band_keys(sigs, bands, rows)
    raw = len(bucket_pairs(np.repeat(np.arange(bands, dtype=np.int32)[None, :], len(sigs), 0).ravel(),
                           keys.ravel(), np.repeat(np.arange(len(sigs)), bands))[0])
    distinct = len(candidate_pairs(sigs, bands, rows)[0])
    del sigs, keys

    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, logging_level="WARNING")
    start_s = time.perf_counter() - t0
    try:
        ray_text_dedup(texts[: min(n, 20_000)], cfg)  # warm-up: worker processes, imports
        t0 = time.perf_counter()
        on_ray = ray_text_dedup(texts, cfg)
        ray_s = time.perf_counter() - t0
    finally:
        ray.shutdown()
    same = bool(np.array_equal(local["kept"], on_ray["kept"]) and local["removed"] == on_ray["removed"])
    sh = shuffle_bytes(n, bands, cfg.num_perm, raw, distinct)
    rows_out = []
    for name, res, sec in (("single process", local, local_s), (f"Ray local ({workers} workers)", on_ray, ray_s)):
        s = res["seconds"]
        rows_out.append({"executor": name, "rows": f"{n:,}", "seconds": sec, "rows/s": n / sec,
                         "signatures s": s["signatures"], "LSH + verify s": s["lsh"], "keep s": s["keep"],
                         "removed": f"{len(res['removed']):,}", "verified pairs": f"{res['pairs']:,}"})
    info = {"n": n, "bands": bands, "rows": rows, "raw_pairs": raw, "distinct_pairs": distinct, "shuffle": sh,
            "same": same, "ray_start_s": start_s, "local_rss_mb": local_rss, "rss_before_mb": rss0,
            "local_s": local_s, "ray_s": ray_s, "local_seconds": local["seconds"], "ray_seconds": on_ray["seconds"]}
    return rows_out, info


def bench_synth(queries_per_family: int, workers: int) -> tuple[list[dict], dict]:
    import ray

    from tooldojo.executors import ExecutionConfig
    from tooldojo.synth.config import SynthConfig
    from tooldojo.synth.stage import run_synth

    work = Path(tempfile.mkdtemp(prefix="bench_ray_synth_"))
    cfg = SynthConfig(families_per_domain=7, queries_per_family=queries_per_family)
    try:
        t0 = time.perf_counter()
        local = run_synth(cfg, work / "local", seed=0, progress=False)
        local_s = time.perf_counter() - t0
        ray.init(num_cpus=workers, include_dashboard=False, logging_level="WARNING")
        try:
            t0 = time.perf_counter()
            on_ray = run_synth(cfg, work / "ray", seed=0, progress=False, execution=ExecutionConfig(executor="ray"))
            ray_s = time.perf_counter() - t0
        finally:
            ray.shutdown()
        same = all((work / "local/synth" / f).read_bytes() == (work / "ray/synth" / f).read_bytes()
                   for f in ("tools.jsonl", "queries.jsonl"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    asked = local.stats["accounting"]["total"]["asked"]
    out = []
    for name, m, sec in (("single process", local, local_s), (f"Ray local ({workers} workers)", on_ray, ray_s)):
        q = m.counts["queries"]
        out.append({"executor": name, "families": m.counts["families"], "queries": f"{q:,}",
                    "teacher requests": asked, "seconds": sec, "queries/s": q / sec, "requests/s": asked / sec})
    return out, {"same": same, "local_s": local_s, "ray_s": ray_s, "queries": local.counts["queries"],
                 "requests": asked}


def main() -> None:
    from bench._report import table, write_section

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="50,000 texts and a small synth (smoke run)")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--synth-queries", type=int, default=None, help="queries per family of the synth run")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--no-write", action="store_true", help="print only; do not update docs/benchmarks.md")
    args = ap.parse_args()
    n = args.rows or (50_000 if args.quick else 1_000_000)
    q = args.synth_queries or (20 if args.quick else 2000)

    mh_rows, mh = bench_minhash(n, args.workers)
    sy_rows, sy = bench_synth(q, args.workers)
    sh = mh["shuffle"]
    per_row = {k: v / n for k, v in sh.items()}
    body = "\n".join([
        "### MinHash dedup (word 3-grams, 128 permutations, Jaccard 0.7)", "",
        table(mh_rows), "",
        f"Kept rows identical: **{mh['same']}**. LSH {mh['bands']} bands x {mh['rows']} rows. Ray start-up "
        f"{mh['ray_start_s']:.1f} s and a 20,000-row warm-up run are not timed. Single-process peak RSS "
        f"{mh['local_rss_mb']:,.0f} MB (corpus in memory: {mh['rss_before_mb']:,.0f} MB).", "",
        f"LSH shuffle per input row (measured counts: {mh['raw_pairs']:,} bucket pairs, {mh['distinct_pairs']:,} "
        f"distinct candidates): banding {per_row['banding']:.0f} B, distinct {per_row['distinct']:.1f} B, "
        f"join on i {per_row['join_i']:.0f} B, join on j {per_row['join_j']:.0f} B; **total "
        f"{per_row['total']:.0f} B/row** ({sh['total'] / 2**30:.2f} GiB for {n:,} rows).", "",
        f"### Synth, offline teacher ({q} queries per family, response cache on)", "",
        table(sy_rows), "",
        f"Output files identical: **{sy['same']}**.", "",
        "Measured while other engineers' jobs were running on the same cores; see docs/scaling.md for the "
        "per-worker throughput and the projection to 100M rows.",
    ])
    print(body)
    if not args.no_write:
        write_section("ray", "Single process vs Ray local (bench_ray)", body)


if __name__ == "__main__":
    main()
