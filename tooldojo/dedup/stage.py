"""The dedup stage: ``run_dir/synth`` -> ``run_dir/dedup`` (see :mod:`tooldojo.dedup.filters` for the rules)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tooldojo.dedup.config import DedupConfig
from tooldojo.dedup.filters import FilterOps, Match, Pair, components, greedy_keep
from tooldojo.dedup.inputs import Inputs, load_inputs
from tooldojo.dedup.parallel import filter_ops
from tooldojo.executors import ExecutionConfig, make_executor
from tooldojo.records import QueryRecord, ToolRecord
from tooldojo.runs import (
    Manifest,
    StageRun,
    file_fingerprint,
    read_manifest,
    upstream_fingerprint,
    write_jsonl,
    write_text,
)
from tooldojo.similarity.text import tool_text

FILTERS = ("invalid", "name_conflict", "reference", "minhash", "semantic")


@dataclass
class DedupResult:
    """What the filters kept, removed and linked."""

    tools: list[ToolRecord]
    queries: list[QueryRecord]
    removed: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    stats: dict[str, Any]
    indexes: dict[str, Any] = field(default_factory=dict)
    """``tools``/``queries`` -> :class:`~tooldojo.similarity.minhash.LSHIndex` of the kept rows (MinHash on)."""


def _log(msg: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[dim]dedup:[/dim] {msg}")


def _cosine(emb: np.ndarray, a: int, b: int) -> float:
    return round(float(emb[a] @ emb[b]), 4)


def _jaccard(sigs: np.ndarray, a: int, b: int) -> float:
    return round(float((sigs[a] == sigs[b]).mean()), 4)


class _Sims:
    """Similarity of any two compared items under a filter (for removed rows' representatives)."""

    def __init__(self) -> None:
        self.by_filter: dict[str, tuple[Any, dict[Hashable, int]]] = {}
        self.unreadable = 0
        """Texts the embedding model could not read (mostly unknown tokens): not compared by embeddings."""

    def add(self, name: str, data: np.ndarray, ids: list[Hashable]) -> None:
        self.by_filter[name] = (data, {k: i for i, k in enumerate(ids)})

    def get(self, name: str, a: Hashable, b: Hashable) -> float | None:
        if name not in self.by_filter:
            return None
        data, pos = self.by_filter[name]
        if a not in pos or b not in pos:
            return None
        return _jaccard(data, pos[a], pos[b]) if name == "minhash" else _cosine(data, pos[a], pos[b])


def _filter_pairs(ops: FilterOps, config: DedupConfig, texts: list[str], ids: list[str], sims: _Sims, what: str,
                  log: Any, progress: bool, groups: list[str] | None = None) -> list[tuple[str, list[Pair], float]]:
    """``(filter, candidate pairs, threshold)`` of each enabled filter over ``texts`` (``groups``: a label per
    text whose groups the semantic filter compares pair by pair above its exact size); their similarities are
    recorded in ``sims`` for the removed-pair report."""
    mh, sem = config.minhash, config.semantic
    stages: list[tuple[str, list[Pair], float]] = []
    if mh.enabled:
        log(f"MinHash over {len(texts)} {what}")
        pairs, sigs = ops.minhash_pairs(texts, mh)
        sims.add("minhash", sigs, ids)
        stages.append(("minhash", pairs, mh.threshold))
    if sem.enabled:
        log(f"embedding {len(texts)} {what}")
        emb = ops.encode(texts, sem, progress=progress)
        sims.unreadable = int(len(emb) - np.count_nonzero(emb.any(axis=1)))
        if sims.unreadable:
            log(f"{sims.unreadable} {what} mostly unknown to the embedding model: not compared by embeddings")
        sims.add("semantic", emb, ids)
        stages.append(("semantic", ops.semantic_pairs(emb, sem, groups), sem.threshold))
    return stages


def dedup_records(config: DedupConfig, inputs: Inputs, *, progress: bool = False,
                  ops: FilterOps | None = None) -> DedupResult:
    """Apply the filters to validated records (the library core of :func:`run_dedup`). ``ops`` computes the
    similarity pairs (default: in this process; :func:`tooldojo.dedup.parallel.filter_ops`: on an executor)."""
    ops = ops or FilterOps()
    mh = config.minhash
    log = _log if progress else (lambda _msg: None)
    tools, queries = inputs.tools, inputs.queries
    removed: list[dict[str, Any]] = [bad.to_dict() for bad in inputs.invalid]
    counts: dict[str, Counter] = defaultdict(Counter)
    for bad in inputs.invalid:
        counts["invalid"][bad.table] += 1

    fam_tools: dict[str, dict[str, ToolRecord]] = {}
    for t in tools:
        fam_tools.setdefault(t.family_id, {})[t.role] = t
    fam_order = list(fam_tools)  # input order (dicts keep insertion order)
    fam_pos = {f: i for i, f in enumerate(fam_order)}
    n_queries = Counter(q.family_id for q in queries)
    tool_by_id = {t.tool_id: t for t in tools}
    query_by_id = {q.query_id: q for q in queries}

    # -- tool names must be unique across families: a later family reusing a name is removed
    removed_fams: dict[str, Match] = {}
    owner: dict[str, ToolRecord] = {}
    for fid in fam_order:
        clash = next((owner[t.name] for t in fam_tools[fid].values() if t.name in owner), None)
        if clash is not None:
            removed_fams[fid] = Match(clash.family_id, 1.0, "name_conflict",
                                      {"tool": next(t.tool_id for t in fam_tools[fid].values() if t.name == clash.name),
                                       "representative_tool": clash.tool_id})
            continue
        for t in fam_tools[fid].values():
            owner[t.name] = t

    # -- tools: cross-family duplicates remove whole families; close tools link families
    sims_t, sims_q = _Sims(), _Sims()
    tool_pairs: list[Pair] = []
    live_tools = [t for t in tools if t.family_id not in removed_fams]
    tool_ids = [t.tool_id for t in live_tools]
    priority = sorted({t.family_id for t in live_tools},
                      key=lambda f: (-n_queries[f], -len(fam_tools[f]), fam_pos[f]))
    if "tools" in config.apply_to and live_tools:
        texts = [tool_text(t.function) for t in live_tools]
        stages = _filter_pairs(ops, config, texts, tool_ids, sims_t, "tools", log, progress)
        for name, pairs, threshold in stages:
            pairs = [p for p in pairs if live_tools[p.a].family_id != live_tools[p.b].family_id]
            tool_pairs += pairs
            edges: dict[str, list] = {}
            for p in pairs:
                if p.similarity < threshold:
                    continue
                ta, tb = live_tools[p.a], live_tools[p.b]
                edges.setdefault(ta.family_id, []).append(
                    (tb.family_id, p.similarity, {"tool": ta.tool_id, "representative_tool": tb.tool_id}))
                edges.setdefault(tb.family_id, []).append(
                    (ta.family_id, p.similarity, {"tool": tb.tool_id, "representative_tool": ta.tool_id}))
            order = [f for f in priority if f not in removed_fams]
            removed_fams.update(greedy_keep(order, edges, name))

    for fid, m in removed_fams.items():
        rep_fam = fam_tools[m.representative]
        for role, t in fam_tools[fid].items():
            if t.tool_id == m.detail.get("tool"):
                rep_tool, sim = m.detail["representative_tool"], m.similarity
            else:
                rep = rep_fam.get(role) or next(iter(rep_fam.values()))
                rep_tool, sim = rep.tool_id, sims_t.get(m.filter, t.tool_id, rep.tool_id)
            removed.append({"table": "tools", "id": t.tool_id, "family_id": fid, "filter": m.filter,
                            "reason": "name_conflict" if m.filter == "name_conflict" else "family_duplicate",
                            "representative": rep_tool, "representative_family": m.representative,
                            "similarity": sim, "text": t.name, "representative_text": tool_by_id[rep_tool].name})
            counts[m.filter]["tools"] += 1
        counts[m.filter]["families"] += 1
    for q in queries:
        if q.family_id in removed_fams:
            m = removed_fams[q.family_id]
            removed.append({"table": "queries", "id": q.query_id, "family_id": q.family_id, "filter": m.filter,
                            "reason": "family_removed", "representative": None,
                            "representative_family": m.representative, "similarity": None, "text": q.text})
            counts[m.filter]["queries_with_family"] += 1

    # -- queries
    live_q = [q for q in queries if q.family_id not in removed_fams]
    removed_q: dict[str, Match] = {}
    query_pairs: list[Pair] = []
    if mh.reference_index and live_q and "queries" in config.apply_to:
        from tooldojo.similarity.minhash import LSHIndex

        index = LSHIndex.load(mh.reference_index)
        log(f"checking {len(live_q)} queries against the reference index ({len(index)} items)")
        best, best_sim = index.best_match(index.hasher.signatures([q.text for q in live_q]))
        for k in np.flatnonzero(best >= 0).tolist():
            removed_q[live_q[k].query_id] = Match(index.keys[int(best[k])], round(float(best_sim[k]), 4), "reference")
    if "queries" in config.apply_to and live_q:
        qids = [q.query_id for q in live_q]
        qtexts = [q.text for q in live_q]
        stages = _filter_pairs(ops, config, qtexts, qids, sims_q, "queries", log, progress,
                               [q.family_id for q in live_q])
        for name, pairs, threshold in stages:
            pairs = [p for p in pairs if not (live_q[p.a].family_id == live_q[p.b].family_id
                                              and live_q[p.a].needs != live_q[p.b].needs)]
            query_pairs += pairs
            edges = {}
            for p in pairs:
                if p.similarity >= threshold:
                    edges.setdefault(qids[p.a], []).append((qids[p.b], p.similarity, {}))
                    edges.setdefault(qids[p.b], []).append((qids[p.a], p.similarity, {}))
            order = [k for k in qids if k not in removed_q]
            removed_q.update(greedy_keep(order, edges, name))
    for qid, m in removed_q.items():
        q = query_by_id[qid]
        rep = query_by_id.get(m.representative)
        removed.append({"table": "queries", "id": qid, "family_id": q.family_id, "filter": m.filter,
                        "reason": "duplicate", "representative": m.representative,
                        "representative_family": rep.family_id if rep else None,
                        "similarity": m.similarity, "text": q.text,
                        "representative_text": rep.text if rep else None})
        counts[m.filter]["queries"] += 1

    kept_tools = [t for t in tools if t.family_id not in removed_fams]
    kept_queries = [q for q in live_q if q.query_id not in removed_q]
    kept_fams = [f for f in fam_order if f not in removed_fams]

    # -- clusters: families linked by close tools (and queries); query groups inside families
    links: dict[tuple[str, str], dict[str, Any]] = {}

    def link(fa: str, fb: str, table: str, p: Pair, ia: str, ib: str) -> None:
        if fa == fb or fa in removed_fams or fb in removed_fams:
            return
        key = (min(fa, fb), max(fa, fb))
        if key not in links or p.similarity > links[key]["similarity"]:
            links[key] = {"a": key[0], "b": key[1], "table": table, "filter": p.filter,
                          "similarity": p.similarity, "items": [ia, ib]}

    for p in tool_pairs:
        ta, tb = live_tools[p.a], live_tools[p.b]
        link(ta.family_id, tb.family_id, "tools", p, ta.tool_id, tb.tool_id)
    group_edges = []
    for p in query_pairs:
        qa, qb = live_q[p.a], live_q[p.b]
        if qa.family_id != qb.family_id:
            if config.link_queries:
                link(qa.family_id, qb.family_id, "queries", p, qa.query_id, qb.query_id)
        elif qa.query_id not in removed_q and qb.query_id not in removed_q:
            group_edges.append((qa.query_id, qb.query_id))
    fam_groups = components(kept_fams, [(lk["a"], lk["b"]) for lk in links.values()])
    qgroups = [g for g in components([q.query_id for q in kept_queries], group_edges) if len(g) > 1]
    qgroups_by_fam: dict[str, list[list[str]]] = defaultdict(list)
    for g in qgroups:
        qgroups_by_fam[query_by_id[g[0]].family_id].append(g)
    links_by_fam: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for lk in links.values():
        links_by_fam[lk["a"]].append(lk)
    clusters = []
    for i, fams in enumerate(fam_groups, 1):
        clusters.append({
            "cluster_id": f"c{i:04d}",
            "families": fams,
            "domains": sorted({t.domain for f in fams for t in fam_tools[f].values()}),
            "links": [lk for f in fams for lk in links_by_fam.get(f, [])],
            "query_groups": [g for f in fams for g in qgroups_by_fam.get(f, [])],
        })

    # -- indexes of what was kept, for deduplicating a later batch against this one
    indexes = {}
    if mh.enabled:
        from tooldojo.similarity.minhash import LSHIndex, MinHasher

        hasher = MinHasher.from_config(mh)
        for table, ids, sig_src in (("tools", [t.tool_id for t in kept_tools], sims_t),
                                    ("queries", [q.query_id for q in kept_queries], sims_q)):
            idx = LSHIndex(hasher, threshold=mh.threshold, bands=mh.bands, rows=mh.rows)
            if "minhash" in sig_src.by_filter:
                data, pos = sig_src.by_filter["minhash"]
                if ids:
                    idx.add(data[[pos[k] for k in ids]], ids)
            else:
                texts = ([tool_text(tool_by_id[k].function) for k in ids] if table == "tools"
                         else [query_by_id[k].text for k in ids])
                if ids:
                    idx.add_texts(texts, ids)
            indexes[table] = idx

    stats = _stats(config, inputs, counts, removed, kept_tools, kept_queries, kept_fams, clusters)
    if config.semantic.enabled:
        stats["not_embedded"] = {"tools": sims_t.unreadable, "queries": sims_q.unreadable}
    return DedupResult(kept_tools, kept_queries, removed, clusters, stats, indexes)


def _stats(config: DedupConfig, inputs: Inputs, counts: dict[str, Counter], removed: list[dict],
           kept_tools: list, kept_queries: list, kept_fams: list, clusters: list) -> dict[str, Any]:
    from tooldojo.similarity.minhash import lsh_params

    mh = config.minhash
    examples = []
    per_key: Counter = Counter()
    for r in removed:
        if r.get("reason") not in ("duplicate", "family_duplicate", "name_conflict", "reference"):
            continue
        key = (r["filter"], r["table"])
        if per_key[key] >= config.examples_in_report:
            continue
        per_key[key] += 1
        examples.append({k: r.get(k) for k in ("table", "filter", "id", "text", "representative",
                                                "representative_text", "similarity")})
    sizes = [len(c["families"]) for c in clusters]
    return {
        "input": {"tools": len(inputs.tools) + sum(1 for b in inputs.invalid if b.table == "tools"),
                  "queries": len(inputs.queries) + sum(1 for b in inputs.invalid if b.table == "queries"),
                  "families": len({t.family_id for t in inputs.tools})},
        "kept": {"tools": len(kept_tools), "queries": len(kept_queries), "families": len(kept_fams)},
        "removed": {f: dict(counts[f]) for f in FILTERS if counts.get(f)},
        "lsh": {"bands_rows_duplicate": list(lsh_params(mh.num_perm, mh.threshold, mh.bands, mh.rows)),
                "bands_rows_link": list(lsh_params(mh.num_perm, mh.link_threshold, mh.bands, mh.rows))}
        if mh.enabled else {},
        "clusters": {"count": len(clusters), "multi_family": sum(1 for s in sizes if s > 1),
                     "largest": max(sizes, default=0),
                     "query_groups": sum(len(c["query_groups"]) for c in clusters)},
        "examples": examples,
    }


def render_report(config: DedupConfig, stats: dict[str, Any]) -> str:
    """``dedup/report.md``: what each filter removed, examples, clusters, settings."""
    mh, sem = config.minhash, config.semantic
    inp, kept = stats["input"], stats["kept"]
    lines = ["# Dedup report", "",
             "| table | input | kept | removed |", "|---|---|---|---|"]
    for table in ("tools", "queries"):
        lines.append(f"| {table} | {inp[table]} | {kept[table]} | {inp[table] - kept[table]} |")
    lines.append(f"| families | {inp['families']} | {kept['families']} | {inp['families'] - kept['families']} |")
    lines += ["", "## Removed, by filter", "",
              "| filter | families | tools | queries (own duplicates) | queries (with their family) |",
              "|---|---|---|---|---|"]
    for f, c in stats["removed"].items():
        lines.append(f"| {f} | {c.get('families', 0)} | {c.get('tools', 0)} | {c.get('queries', 0)} | "
                     f"{c.get('queries_with_family', 0)} |")
    if not stats["removed"]:
        lines.append("| (none) | 0 | 0 | 0 | 0 |")
    lines += ["", "Filters run in this order: invalid rows, tool-name conflicts, reference index, MinHash, "
              "embeddings; a row is counted under the first filter that removed it.", ""]
    if stats["examples"]:
        lines += ["## Examples of removed pairs", "", "| filter | table | removed | kept representative | similarity |",
                  "|---|---|---|---|---|"]
        for e in stats["examples"]:
            def cell(s: Any) -> str:
                return str(s or "").replace("|", "\\|").replace("\n", " ")[:120]
            lines.append(f"| {e['filter']} | {e['table']} | {cell(e['text'])} | {cell(e['representative_text'])} | "
                         f"{e['similarity'] if e['similarity'] is not None else ''} |")
        lines.append("")
    c = stats["clusters"]
    lines += ["## Clusters", "",
              f"{c['count']} clusters of families; {c['multi_family']} link two or more families (largest: "
              f"{c['largest']}). {c['query_groups']} groups of close queries inside families. The split keeps "
              "each cluster, and each query group, on one side.", "",
              "## Settings", "",
              f"- MinHash: {'on' if mh.enabled else 'off'}; {mh.shingle} {mh.ngram}-grams, num_perm {mh.num_perm}, "
              f"duplicate at Jaccard >= {mh.threshold}, close at >= {mh.link_threshold}"
              + (f", LSH bands×rows {stats['lsh']['bands_rows_duplicate']} / {stats['lsh']['bands_rows_link']}"
                 if stats.get("lsh") else "")
              + (f", reference index `{mh.reference_index}`" if mh.reference_index else ""),
              f"- Embeddings: {'on' if sem.enabled else 'off'}; model `{sem.model or 'all-MiniLM-L6-v2 (offline)'}`, "
              f"duplicate at cosine >= {sem.threshold}, close at >= {sem.link_threshold}; exact search up to "
              f"{sem.exact_up_to} rows, faiss HNSW above (plus each family's queries pair by pair)"
              + (f"; not compared (mostly unknown tokens): {stats['not_embedded']['tools']} tools, "
                 f"{stats['not_embedded']['queries']} queries" if any(stats.get("not_embedded", {}).values()) else ""),
              f"- Applied to: {', '.join(config.apply_to)}; invalid rows: {config.on_invalid}", ""]
    return "\n".join(lines)


def input_files(spec: str) -> tuple[Path, Path]:
    """``"tools.jsonl,queries.jsonl"`` -> the two paths, checked to exist (one line naming the problem)."""
    from tooldojo.errors import ConfigError

    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if len(parts) != 2:
        raise ConfigError(f"expected two files, got {len(parts)}", field="--input",
                          fix="pass the tools file and the queries file: --input tools.jsonl,queries.jsonl")
    paths = (Path(parts[0]), Path(parts[1]))
    for p in paths:
        if not p.is_file():
            raise ConfigError(f"file not found: {p}", field="--input",
                              fix="pass existing JSONL files: --input tools.jsonl,queries.jsonl")
    return paths


def run_dedup(config: DedupConfig, run_dir: Path, *, force: bool = False,
              files: tuple[Path, Path] | None = None, execution: ExecutionConfig | None = None) -> Manifest:
    """Filter ``run_dir/synth`` (or ``files``: ``(tools.jsonl, queries.jsonl)`` of records from elsewhere, with
    the same validation) into ``run_dir/dedup`` (skipped when up to date unless ``force``), computing the
    similarity pairs on the executor ``execution`` names (local by default; the same pairs either way). Every
    input row is read and checked before the run folder is touched. The manifest's ``seed`` is the one the
    filters use: ``dedup.minhash.seed`` (the MinHash permutations; nothing else in dedup is random)."""
    run_dir = Path(run_dir)
    if files is None:
        inputs = {"synth": upstream_fingerprint(run_dir / "synth", needed_by="dedup")}
    else:
        inputs = {"tools": file_fingerprint(files[0]), "queries": file_fingerprint(files[1])}
    if config.minhash.reference_index:
        ref = Path(config.minhash.reference_index)
        if not ref.exists():
            from tooldojo.errors import ConfigError

            raise ConfigError("file not found", field="dedup.minhash.reference_index",
                              fix="point it at an index written by `tooldojo dedup` (dedup/index/queries.pkl)")
        inputs["reference_index"] = file_fingerprint(ref)
    st = StageRun(run_dir / "dedup", "dedup", config, inputs=inputs)
    if not force and st.up_to_date():
        return read_manifest(st.dir)  # type: ignore[return-value]
    data = load_inputs(run_dir / "synth", config.on_invalid, files=files)
    executor = make_executor(execution)
    with st, executor:
        res = dedup_records(config, data, progress=True, ops=filter_ops(executor))
        st.record_output("tools", write_jsonl(st.dir / "tools.jsonl", res.tools), "tools.jsonl")
        st.record_output("queries", write_jsonl(st.dir / "queries.jsonl", res.queries), "queries.jsonl")
        st.record_output("clusters", write_jsonl(st.dir / "clusters.jsonl", res.clusters), "clusters.jsonl")
        st.record_output("removed", write_jsonl(st.dir / "removed.jsonl", res.removed), "removed.jsonl")
        for table, idx in res.indexes.items():
            idx.save(st.dir / "index" / f"{table}.pkl")
            st.record_output(f"index_{table}", len(idx), f"index/{table}.pkl")
        write_text(st.dir / "report.md", render_report(config, res.stats))
        st.record_output("report", None, "report.md")
        st.counts["families"] = res.stats["kept"]["families"]
        st.stats.update(res.stats)
        st.stats["seed"] = config.minhash.seed
        st.stats["executor"] = executor.name
    _log(f"kept {len(res.tools)} tools, {len(res.queries)} queries in {len(res.clusters)} clusters; "
         f"removed {len(res.removed)} rows (see {st.dir / 'report.md'})")
    return st.manifest
