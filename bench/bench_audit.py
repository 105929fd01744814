"""Leakage-audit thresholds on planted duplicates: what each (Jaccard, cosine) threshold catches and how often
it raises a false alarm on a clean split.

    python -m bench.bench_audit                 # 72 catalog families, both methods
    python -m bench.bench_audit --families 24   # smaller

A clean split is made the way users make one: seed-catalog records (one filled query per pattern), the dedup
stage with its defaults (MinHash + embeddings), the split stage. Then copies of *training* rows are planted
into the evaluation side, made as ``bench_filters`` makes its duplicates: tools *exact*, *renamed*,
*renamed with shuffled parameters*, *renamed and reworded*; queries *exact*, *casing/punctuation*, *reworded*
(politeness prefix and synonyms), *reordered* (a clause moved to the front). Every evaluation text (the
genuine ones of all four scenarios and the planted ones) is matched to its nearest training text as the audit
does it (:func:`tooldojo.split.audit.compare`). A text is flagged when its closest Jaccard is above the
Jaccard threshold or its closest cosine above the cosine threshold. *caught*: share of planted texts flagged;
*false alarms*: genuine evaluation texts flagged (one is enough to fail a split).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from pathlib import Path

JACCARD = (0.5, 0.6, 0.7, 0.8)
COSINE = (0.85, 0.88, 0.9, 0.92, 0.95)


def clean_split(run: Path, families: int) -> dict:
    """A split run of ``families`` catalog families (dedup defaults; the split's own audit off)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "dedup"))
    from dedup_synthdata import catalog_records, write_synth

    from tooldojo.dedup import run_dedup
    from tooldojo.dedup.config import DedupConfig
    from tooldojo.split import load_dataset_dir, run_split
    from tooldojo.split.config import SplitConfig

    tools, queries = catalog_records(max_families=families, per_pattern=1)
    write_synth(run, tools, queries)
    run_dedup(DedupConfig(), run)
    run_split(SplitConfig(audit_semantic=False, fail_on_leak=False), run, seed=0)
    ds = run / "split" / "dataset"
    return {"select": load_dataset_dir(ds, "select"), "eval": load_dataset_dir(ds, "eval")}


def similarities(unseen: list[str], seen: list[str]) -> dict[str, tuple[float, float]]:
    """text -> (closest Jaccard, closest cosine) against ``seen``, computed as the audit computes them."""
    from tooldojo.dedup.config import MinHashConfig, SemanticConfig
    from tooldojo.split.audit import compare

    r = compare(unseen, seen, minhash=MinHashConfig(), semantic=SemanticConfig(), top=len(unseen))
    jac = {c["unseen"]: c["similarity"] for c in r["closest_jaccard"]}
    cos = {c["unseen"]: c["similarity"] for c in r["closest_cosine"]}
    return {t: (jac.get(t, 0.0), cos.get(t, 0.0)) for t in set(unseen)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", type=int, default=72, help="catalog families in the clean split")
    ap.add_argument("--queries", type=int, default=160, help="training queries to copy (4 kinds in turn)")
    ap.add_argument("--tools", type=int, default=40, help="training tools to copy (4 kinds in turn)")
    args = ap.parse_args()
    import json

    from bench._report import table, write_section
    from bench.bench_filters import QUERY_REWRITES, TOOL_REWRITES, rewrite_tool
    from tooldojo.similarity.text import tool_text
    from tooldojo.split.audit import UNSEEN_TOOL_SPLITS, tool_texts

    tmp = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    try:
        dicts = clean_split(tmp / "run", args.families)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    train = dicts["select"]["train"]
    train_q, train_fns = sorted(set(train["query"])), {}
    for blob in train["tools"]:
        for entry in json.loads(blob):
            train_fns.setdefault(entry["function"]["name"], entry["function"])
    train_fns.pop("generate_response", None)
    train_t = tool_texts(train["tools"])
    genuine_q = sorted({q for ds in dicts["eval"].values() for q in ds["query"]} - set(train_q))
    genuine_t = sorted(set(tool_texts([b for s in UNSEEN_TOOL_SPLITS for b in dicts["eval"][s]["tools"]]))
                       - set(train_t))

    rng = random.Random(0)
    planted_q: dict[str, str] = {}
    for i, q in enumerate(rng.sample(train_q, min(args.queries, len(train_q)))):
        kind = list(QUERY_REWRITES)[i % len(QUERY_REWRITES)]
        planted_q.setdefault(QUERY_REWRITES[kind](q), kind)
    planted_t: dict[str, str] = {}
    for i, name in enumerate(rng.sample(sorted(train_fns), min(args.tools, len(train_fns)))):
        kind = TOOL_REWRITES[i % len(TOOL_REWRITES)]
        planted_t.setdefault(tool_text(rewrite_tool(train_fns[name], kind, rng)), kind)

    sims_q = similarities(genuine_q + list(planted_q), train_q)
    sims_t = similarities(genuine_t + list(planted_t), train_t)

    def flagged(sims: dict, texts, jt: float, ct: float) -> list[str]:
        return [t for t in texts if sims[t][0] > jt or sims[t][1] > ct]

    rows = []
    for jt in JACCARD:
        for ct in COSINE:
            row: dict = {"max Jaccard": jt, "max cosine": ct}
            for label, sims, planted, genuine in (("queries", sims_q, planted_q, genuine_q),
                                                  ("tools", sims_t, planted_t, genuine_t)):
                row[f"{label} caught"] = len(flagged(sims, planted, jt, ct)) / len(planted)
                row[f"{label} false alarms"] = len(flagged(sims, genuine, jt, ct))
            rows.append(row)
    by_kind = []
    for label, sims, planted in (("queries", sims_q, planted_q), ("tools", sims_t, planted_t)):
        for kind in sorted(set(planted.values())):
            texts = [t for t, k in planted.items() if k == kind]
            by_kind.append({"texts": label, "kind": kind, "planted": len(texts),
                            "min Jaccard": min(sims[t][0] for t in texts), "min cosine": min(sims[t][1] for t in texts),
                            "caught at 0.5 / 0.9": len(flagged(sims, texts, 0.5, 0.9)) / len(texts)})
    worst = {label: (max(sims[t][0] for t in genuine), max(sims[t][1] for t in genuine))
             for label, sims, genuine in (("queries", sims_q, genuine_q), ("tools", sims_t, genuine_t))}
    body = table(rows) + "\n\n" + table(by_kind) + (
        f"\n\nClean split: {args.families} catalog families, {len(train_q)} training queries, {len(train_t)} "
        f"training tools; {len(genuine_q)} genuine evaluation queries and {len(genuine_t)} unseen tools "
        f"(closest to training: queries Jaccard {worst['queries'][0]:.3f} / cosine {worst['queries'][1]:.3f}, "
        f"tools Jaccard {worst['tools'][0]:.3f} / cosine {worst['tools'][1]:.3f}). Planted: {len(planted_q)} "
        f"query copies, {len(planted_t)} tool copies. Embeddings: all-MiniLM-L6-v2; MinHash: word 3-grams, "
        "128 permutations (the dedup defaults).")
    from tooldojo.runs import code_version

    commit = (code_version()["commit"] or "unknown")[:7]
    body = f"Commit {commit}.\n\n" + body
    write_section("audit", "Leakage-audit thresholds on planted duplicates (bench_audit)", body)


if __name__ == "__main__":
    main()
