"""Dedup + split at growing sizes: how each step's time grows with queries and families (the slope).

    python -m bench.bench_scaling                                  # 10k/1k, 100k/10k, 1M/100k
    python -m bench.bench_scaling --sizes 10000:1000,100000:10000  # queries:families

Records are synthetic (10 queries per family, 4 styles, ~5% planted near-duplicate queries and ~1%
planted duplicate families), run through the stages' own functions: ``dedup_records`` (MinHash and the
semantic filter: exact search up to ``dedup.semantic.exact_up_to`` rows, faiss HNSW above plus each
family's queries pair by pair), then the split's ``assign``, ``build_examples``, the scenario tables
(``build_dataset_dicts`` on disk, as the stage builds them), the leakage audit (``audit_dataset``) and the
Parquet files (``save_dataset_dicts``).

Embeddings: encoding a million texts with all-MiniLM-L6-v2 on this CPU takes hours, so the filter runs on
*hashed bag-of-words vectors* (384 dims; texts sharing words are close, a one-word edit is cosine ~0.9),
and the encoder's own rate is measured apart on ``--encode-sample`` texts; its projected time is reported in
its own column and not included in the totals. The slope of each step is the exponent fitted between the
two largest sizes (time ∝ size^slope; 1 = linear).
"""

from __future__ import annotations

import argparse
import functools
import gc
import math
import random
import resource
import time
from typing import Any

import numpy as np

STYLES = ("imperative", "question", "contextual", "casual")
DIM = 384


def records(n_queries: int, n_families: int, seed: int = 0) -> tuple[list, list]:
    """Synthetic tools and queries (see module docstring)."""
    from tooldojo.records import QueryRecord, ToolRecord

    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(20_000)]
    common = vocab[:200]
    tools, queries = [], []
    topics = {}
    for f in range(n_families):
        fid = f"fam{f:06d}"
        topic = rng.sample(vocab[200:], 8)
        if f > 10 and rng.random() < 0.01:  # a planted duplicate of an earlier family: one word changed
            src = rng.randrange(f)
            topic = list(topics[f"fam{src:06d}"])
            topic[rng.randrange(8)] = rng.choice(vocab)
        topics[fid] = topic
        for role in ("weak", "strong"):
            desc = " ".join(topic) + (" with extra details" if role == "strong" else "")
            tools.append(ToolRecord(
                tool_id=f"t_{fid}_{role}", family_id=fid, domain=f"d{f % 50}", role=role,
                function={"name": f"{fid}_{role}", "description": desc,
                          "parameters": {"type": "object", "properties": {"q": {"type": "string"}},
                                         "required": ["q"]}},
                capability_gap="extra details" if role == "strong" else None))
    per_family = max(1, n_queries // n_families)
    k = 0
    for f in range(n_families):
        fid = f"fam{f:06d}"
        topic = topics[fid]
        made: list[tuple[list[str], str]] = []
        for _ in range(per_family):
            if made and rng.random() < 0.05:  # planted near-duplicate: an earlier query, one word changed
                words, needs = made[rng.randrange(len(made))]
                words = list(words)
                words[rng.randrange(len(words))] = rng.choice(common)
            else:
                words = rng.sample(topic, 4) + rng.sample(common, 3) + rng.sample(vocab, 5)
                rng.shuffle(words)
                needs = rng.choice(("weak", "strong"))
            made.append((words, needs))
            calls = {f"{fid}_{needs}": {"q": words[0]}}
            if needs == "strong":
                calls[f"{fid}_weak"] = {"q": words[0]}
            queries.append(QueryRecord(query_id=f"q{k:08d}", family_id=fid, text=" ".join(words),
                                       style=STYLES[k % 4], needs=needs, calls=calls))  # type: ignore[arg-type]
            k += 1
    return tools, queries


BUCKETS = 1 << 16


def hashed_embeddings(texts: list[str], *_: Any, **__: Any) -> np.ndarray:
    """Bag-of-words vectors through a fixed random projection (stand-in for sentence embeddings): each word
    hashed (crc32) to one of ``BUCKETS`` rows, so a text gets the same vector in any call."""
    import zlib

    from scipy.sparse import csr_matrix

    indptr, cols = [0], []
    for t in texts:
        cols.extend(zlib.crc32(w.encode()) % BUCKETS for w in t.lower().split())
        indptr.append(len(cols))
    bow = csr_matrix((np.ones(len(cols), np.float32), cols, indptr), shape=(len(texts), BUCKETS))
    emb = np.asarray(bow @ _projection(), dtype=np.float32)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    return emb


@functools.cache
def _projection() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((BUCKETS, DIM)).astype(np.float32)


class Timed:
    """FilterOps wrappers that add up the time of each similarity step."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {"minhash": 0.0, "embed (hashed)": 0.0, "semantic pairs": 0.0}

    def wrap(self, name: str, fn: Any) -> Any:
        def run(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.seconds[name] += time.perf_counter() - t0
        return run


def encoder_rate(n: int) -> float:
    """all-MiniLM-L6-v2 texts per second on this machine (``n`` synthetic-length texts)."""
    from tooldojo.dedup.config import SemanticConfig
    from tooldojo.similarity.semantic import encode_config

    _, qs = records(n, max(1, n // 10), seed=1)
    texts = [q.text for q in qs]
    encode_config(texts[:64], SemanticConfig())  # model load
    t0 = time.perf_counter()
    encode_config(texts, SemanticConfig())
    return len(texts) / (time.perf_counter() - t0)


class PeakAnon:
    """The process's peak anonymous resident memory (``RssAnon``, sampled every 0.2 s on a thread): the memory
    the run really needs, without the file-backed pages of the memory-mapped tables that ``ru_maxrss`` counts."""

    def __init__(self) -> None:
        import threading

        self.peak = 0
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        self.peak = max(self.peak, int(line.split()[1]))  # KiB
            time.sleep(0.2)

    @property
    def gb(self) -> float:
        return self.peak / 2**20


def _step(row: dict[str, Any], key: str, t0: float) -> None:
    row[key] = time.perf_counter() - t0
    print(f"  {row['queries']:,} queries: {key} {row[key]:.1f}", flush=True)


def run_size(n_queries: int, n_families: int, rate: float, anon: PeakAnon, cfg: Any) -> dict[str, Any]:
    """One size through dedup (``cfg``: a ``DedupConfig``) and the whole split."""
    import tempfile
    from unittest import mock

    from tooldojo.dataset_io import build_dataset_dicts, save_dataset_dicts
    from tooldojo.dedup.filters import FilterOps, minhash_pairs, semantic_pairs
    from tooldojo.dedup.inputs import Inputs
    from tooldojo.dedup.stage import dedup_records
    from tooldojo.split.audit import audit_dataset, summary_lines
    from tooldojo.split.config import SplitConfig
    from tooldojo.split.examples import build_examples
    from tooldojo.split.sides import assign

    row: dict[str, Any] = {"queries": n_queries, "families": n_families}
    t0 = time.perf_counter()
    tools, queries = records(n_queries, n_families)
    _step(row, "generate s", t0)
    timed = Timed()
    ops = FilterOps(minhash_pairs=timed.wrap("minhash", minhash_pairs),
                    encode=timed.wrap("embed (hashed)", hashed_embeddings),
                    semantic_pairs=timed.wrap("semantic pairs", semantic_pairs))
    t0 = time.perf_counter()
    res = dedup_records(cfg, Inputs(tools=tools, queries=queries), ops=ops)
    _step(row, "dedup s", t0)
    row.update({"minhash s": timed.seconds["minhash"], "semantic pairs s": timed.seconds["semantic pairs"],
                "dedup rules s": row["dedup s"] - sum(timed.seconds.values()), "removed": len(res.removed)})
    del tools, queries
    gc.collect()
    scfg = SplitConfig()
    t0 = time.perf_counter()
    a = assign(res.tools, res.queries, res.clusters, scfg, 0)
    _step(row, "assign s", t0)
    t0 = time.perf_counter()
    examples, _ = build_examples(res.tools, res.queries, a, scfg, 0)
    _step(row, "examples s", t0)
    row["examples"] = sum(len(v) for v in examples.values())
    row["train share"] = round(len(examples.get("train", [])) / max(1, row["examples"]), 3)
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        # as `tooldojo split` does: tables built on disk, audited, written as Parquet
        t0 = time.perf_counter()
        dicts = build_dataset_dicts(examples, cache_dir=f"{tmp}/tables")
        _step(row, "datasets s", t0)
        t0 = time.perf_counter()
        with mock.patch("tooldojo.similarity.semantic.encode_config", hashed_embeddings):
            audit = audit_dataset(dicts, minhash=cfg.minhash, semantic=cfg.semantic,
                                  max_jaccard=scfg.audit_max_jaccard, max_cosine=scfg.audit_max_cosine)
        _step(row, "audit s", t0)
        row["audit passed"] = audit["passed"]
        checks = [c for p in audit["pairs"] for c in p["checks"].values()]  # in summary_lines' order
        row["failed checks"] = sum(not c["passed"] for c in checks)
        for line, c in zip(summary_lines(audit), checks, strict=True):
            if not c["passed"]:
                print(f"  audit: {line}; closest: {(c.get('closest_cosine') or c.get('closest_jaccard'))[:2]}",
                      flush=True)
        t0 = time.perf_counter()
        save_dataset_dicts(dicts, f"{tmp}/dataset")
        _step(row, "parquet s", t0)
        del dicts
    row["dedup + split s"] = sum(row[k] for k in ("dedup s", "assign s", "examples s", "datasets s", "audit s",
                                                  "parquet s"))
    row["embedding s (projected)"] = n_queries * (1 + 2 / 10) / rate  # queries + tools (2 per family)
    row["peak RSS GB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    row["peak anon GB"] = anon.gb
    return row


def slopes(rows: list[dict[str, Any]], keys: list[str]) -> dict[str, float]:
    """Exponent of time vs size between the two largest sizes."""
    if len(rows) < 2:
        return {}
    a, b = rows[-2], rows[-1]
    ratio = math.log(b["queries"] / a["queries"])
    return {k: round(math.log(max(b[k], 1e-3) / max(a[k], 1e-3)) / ratio, 2) for k in keys if k in a and k in b}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000:1000,100000:10000,1000000:100000", help="queries:families,...")
    ap.add_argument("--encode-sample", type=int, default=2000, help="texts to measure the encoder's rate on")
    ap.add_argument("--note", default="", help="conditions to record (e.g. other jobs on the machine)")
    ap.add_argument("--neighbors", type=int, help="dedup.semantic.neighbors (default: the config's)")
    ap.add_argument("--ef", type=int, help="dedup.semantic.ann_ef_search (default: the config's)")
    args = ap.parse_args()
    rate = encoder_rate(args.encode_sample)
    print(f"encoder: {rate:.0f} texts/s", flush=True)
    cfg = dedup_config(args)
    rows, anon = [], PeakAnon()
    for spec in args.sizes.split(","):
        q, f = (int(x) for x in spec.split(":"))
        rows.append(run_size(q, f, rate, anon, cfg))
        print(rows[-1], flush=True)
        report(rows, rate, cfg.semantic, args)


def dedup_config(args: argparse.Namespace) -> Any:
    """The default ``DedupConfig`` with ``--neighbors``/``--ef`` applied to its semantic filter."""
    from tooldojo.dedup.config import DedupConfig

    cfg = DedupConfig()
    update = {k: v for k, v in (("neighbors", args.neighbors), ("ann_ef_search", args.ef)) if v is not None}
    return cfg.model_copy(update={"semantic": cfg.semantic.model_copy(update=update)})


def report(rows: list[dict[str, Any]], rate: float, sem: Any, args: argparse.Namespace) -> None:
    """Write the section (after every size, so a long run leaves what it measured)."""
    from bench._report import table, write_section

    cols = ["queries", "families", "minhash s", "semantic pairs s", "dedup rules s", "dedup s", "assign s",
            "examples s", "datasets s", "audit s", "parquet s", "dedup + split s", "embedding s (projected)",
            "removed", "examples", "train share", "audit passed", "failed checks", "peak RSS GB", "peak anon GB"]
    body = table(rows, cols)
    sl = slopes(rows, ["minhash s", "semantic pairs s", "dedup rules s", "assign s", "examples s", "datasets s",
                       "audit s", "parquet s", "dedup + split s"])
    if sl:
        body += "\n\nSlope between the two largest sizes (time ∝ size^slope): " + ", ".join(
            f"{k.removesuffix(' s')} {v}" for k, v in sl.items())
    body += (f"\n\nDefaults: MinHash word 3-grams, 128 permutations; semantic filter exact up to "
             f"{sem.exact_up_to:,} rows, faiss HNSW (M {sem.ann_m}, ef {sem.ann_ef_search}, {sem.neighbors} "
             f"neighbours) above, plus every pair of queries inside each family, on hashed bag-of-words vectors "
             f"(the audit too). *datasets s*: the scenario tables built on disk in chunks, as `tooldojo split` builds "
             f"them; *audit s*: the leakage audit, train against every scenario; *parquet s*: the Parquet files. "
             f"*dedup + split s* is every step but embedding: all-MiniLM-L6-v2 encodes {rate:.0f} texts/s here "
             f"({args.encode_sample} texts), so *embedding s (projected)* is queries + tools at that rate. "
             f"*peak RSS GB*: the process's peak resident memory so far, counting the pages of the memory-mapped "
             f"tables it has read; *peak anon GB*: its peak anonymous memory (sampled every 0.2 s), what it "
             f"needs beside those reclaimable file pages. "
             + args.note)
    write_section("scaling", "Dedup + split scaling (bench_scaling)", body)


if __name__ == "__main__":
    main()
