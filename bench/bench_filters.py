"""Quality of the dedup filters on planted duplicates: precision and recall per kind of duplicate.

    python -m bench.bench_filters            # every catalog domain
    python -m bench.bench_filters --quick    # the search domain only, MinHash only

The seed catalog's families and filled queries are the clean data. Planted on top, appended after the
originals (so the greedy keep rule keeps the original):

- tool families: *exact* copies (same schemas, same names), *renamed* tools, *shuffled parameters* (and
  renamed), *reworded* descriptions (synonyms, and renamed);
- queries: *exact* copies, *casing/punctuation* changes, *reworded* (politeness prefix, synonyms),
  *reordered* (a clause moved to the front).

Each configuration (MinHash only, embeddings only, both) runs the dedup stage's own rules
(:func:`tooldojo.dedup.stage.dedup_records`). Recall: share of planted rows removed. Precision: share of
removed rows that were planted; removed rows that were not planted are near-duplicates already present in
the catalog's filled templates (e.g. the same pattern with another year), counted against precision here.
Queries removed with their family are left out of the query metrics.
"""

from __future__ import annotations

import argparse
import copy
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

SYNONYMS = {"find": "look up", "search": "look for", "show": "display", "get": "fetch", "list": "enumerate",
            "best": "top", "current": "present", "returns": "gives back", "return": "give back", "create": "make",
            "send": "deliver", "check": "verify", "how many": "what number of", "what is": "what's",
            "results": "hits", "weather": "forecast", "book": "reserve", "cheap": "inexpensive"}


def _synonyms(text: str) -> str:
    out = text
    for a, b in SYNONYMS.items():
        out = re.sub(rf"\b{a}\b", b, out, flags=re.I)
    return out


def _rename(name: str) -> str:
    for a, b in (("get_", "fetch_"), ("search_", "find_"), ("list_", "show_"), ("create_", "make_")):
        if name.startswith(a):
            return b + name[len(a):]
    return name + "_plus"


TOOL_REWRITES = ("exact", "renamed", "shuffled_parameters", "reworded")


def rewrite_tool(fn: dict, cat: str, rng: random.Random) -> dict:
    """A copy of function schema ``fn`` changed as ``cat`` (one of :data:`TOOL_REWRITES`) says."""
    fn = copy.deepcopy(fn)
    if cat != "exact":
        fn["name"] = _rename(fn["name"])
    if cat == "shuffled_parameters":
        items = list(fn["parameters"].get("properties", {}).items())
        rng.shuffle(items)
        fn["parameters"]["properties"] = dict(items)
    if cat == "reworded":
        fn["description"] = _synonyms(fn["description"])
    return fn


QUERY_REWRITES = {"exact": lambda s: s,
                  "casing_punctuation": lambda s: s.upper().replace("?", " ?!").replace(".", "!"),
                  "reworded": lambda s: "Please, " + _synonyms(s[0].lower() + s[1:]),
                  "reordered": lambda s: _reorder(s)}
"""Query copies by kind: text -> planted text."""


def plant(tools, queries, rng: random.Random, n_families: int, query_share: float):
    """Planted tool families and queries: ``(tools, queries, truth)`` with truth mapping id -> category."""
    fams = sorted({t.family_id for t in tools})
    picked = rng.sample(fams, min(n_families, len(fams)))
    new_t, new_q, truth = [], [], {}
    for i, fid in enumerate(picked):
        cat = TOOL_REWRITES[i % len(TOOL_REWRITES)]
        nfid = f"{fid}__{cat}"
        names = {}
        for t in (t for t in tools if t.family_id == fid):
            fn = rewrite_tool(t.function, cat, rng)
            names[t.function["name"]] = fn["name"]
            new_t.append(t.model_copy(update={"tool_id": f"{t.tool_id}__{cat}", "family_id": nfid, "function": fn}))
        truth[nfid] = cat
        for q in (q for q in queries if q.family_id == fid):
            new_q.append(q.model_copy(update={"query_id": f"{q.query_id}__fam", "family_id": nfid,
                                              "calls": {names[k]: v for k, v in q.calls.items()}}))
    sample = rng.sample(queries, int(len(queries) * query_share))
    for i, q in enumerate(sample):
        cat = list(QUERY_REWRITES)[i % len(QUERY_REWRITES)]
        text = QUERY_REWRITES[cat](q.text)
        if text == q.text and cat != "exact":
            continue
        qid = f"{q.query_id}__{cat}"
        new_q.append(q.model_copy(update={"query_id": qid, "text": text}))
        truth[qid] = cat
    return tools + new_t, queries + new_q, truth


def _reorder(s: str) -> str:
    m = re.match(r"^(.*?)\s+(in|for|from|about|on|with)\s+(.+?)([.?!]?)$", s)
    if not m:
        return s
    head, prep, tail, punct = m.groups()
    return f"{prep.capitalize()} {tail}, {head[0].lower() + head[1:]}{punct or '.'}"


def evaluate(tools, queries, truth, cfg) -> dict:
    from tooldojo.dedup.inputs import Inputs
    from tooldojo.dedup.stage import dedup_records

    t0 = time.perf_counter()
    res = dedup_records(cfg, Inputs(tools=tools, queries=queries))
    sec = time.perf_counter() - t0
    removed_fams = {r["family_id"] for r in res.removed if r["table"] == "tools"}
    removed_q = {r["id"] for r in res.removed if r["table"] == "queries" and r["reason"] in ("duplicate",)}
    planted_fams = {k: v for k, v in truth.items() if "__" in k and not k.startswith("q_")}
    planted_q = {k: v for k, v in truth.items() if k.startswith("q_")}
    rows = []
    for table, planted, removed in (("tool families", planted_fams, removed_fams), ("queries", planted_q, removed_q)):
        for cat in sorted(set(planted.values())):
            ids = {k for k, v in planted.items() if v == cat}
            rows.append({"table": table, "kind": cat, "planted": len(ids), "recall": len(ids & removed) / len(ids)})
        tp = len(set(planted) & removed)
        rows.append({"table": table, "kind": "all", "planted": len(planted), "removed": len(removed),
                     "recall": tp / max(1, len(planted)), "precision": tp / max(1, len(removed))})
    by_filter = Counter(r["filter"] for r in res.removed)
    return {"rows": rows, "seconds": sec, "by_filter": dict(by_filter)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="search domain only, MinHash only")
    ap.add_argument("--families", type=int, default=24, help="tool families to copy (4 kinds in turn)")
    ap.add_argument("--query-share", type=float, default=0.12, help="share of queries to copy")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "dedup"))
    from dedup_synthdata import catalog_records

    from bench._report import table, write_section
    from tooldojo.dedup.config import DedupConfig

    tools, queries = catalog_records(per_pattern=2, domains=["search"] if args.quick else None)
    rng = random.Random(0)
    all_t, all_q, truth = plant(tools, queries, rng, 4 if args.quick else args.families, args.query_share)
    configs = {"MinHash": DedupConfig(semantic={"enabled": False}),
               "embeddings": DedupConfig(minhash={"enabled": False}), "both (default)": DedupConfig()}
    if args.quick:
        configs = {"MinHash": configs["MinHash"]}
    out_rows = []
    notes = []
    for name, cfg in configs.items():
        r = evaluate(all_t, all_q, truth, cfg)
        notes.append(f"{name}: {r['seconds']:.1f} s; removed by filter {r['by_filter']}")
        for row in r["rows"]:
            out_rows.append({"filters": name, **row})
    body = table(out_rows, ["filters", "table", "kind", "planted", "removed", "recall", "precision"])
    body += (f"\n\nData: {len({t.family_id for t in tools})} catalog families ({len(tools)} tools), {len(queries)} "
             f"filled queries; planted {sum(1 for k in truth if not k.startswith('q_'))} family copies and "
             f"{sum(1 for k in truth if k.startswith('q_'))} query copies. Defaults: MinHash word 3-grams, "
             "Jaccard >= 0.7; embeddings all-MiniLM-L6-v2, cosine >= 0.92. Exact tool copies keep their names and "
             "are caught by the tool-name rule (filter `name_conflict`). Precision counts every other removed "
             "row as a false positive, including near-duplicates that the catalog's templates make on their "
             "own.\n\n" + "\n".join(f"- {n}" for n in notes))
    write_section("filters", "Dedup filter quality on planted duplicates (bench_filters)", body)


if __name__ == "__main__":
    main()
