"""Synth-stage records for tests, made from the seed catalog (no teacher), plus planted duplicates."""

from __future__ import annotations

import copy
import random
from pathlib import Path

from tooldojo.records import Provenance, QueryRecord, ToolRecord, stable_id
from tooldojo.runs import StageRun, write_jsonl
from tooldojo.synth.catalog import fill, load_catalog, sample_slots


def catalog_records(max_families: int | None = None, per_pattern: int = 2, seed: int = 0,
                    domains: list[str] | None = None) -> tuple[list[ToolRecord], list[QueryRecord]]:
    """Tools and queries of the seed catalog: every pattern filled ``per_pattern`` times (distinct texts)."""
    rng = random.Random(seed)
    tools, queries = [], []
    fams = [(d, f) for d, dom in sorted(load_catalog().items()) if not domains or d in domains for f in dom.families]
    for domain, fam in fams[:max_families]:
        names = {"weak": fam.weak["name"], "strong": fam.strong["name"]}
        prov = Provenance(source="catalog", teacher_model="offline", template_set="default",
                          template_set_hash="testhash")
        for role in ("weak", "strong"):
            tools.append(ToolRecord(tool_id=stable_id(fam.id, role, prefix="t_"), family_id=fam.id, domain=domain,
                                    role=role, function=copy.deepcopy(getattr(fam, role)),
                                    capability_gap=fam.gap if role == "strong" else None, provenance=prov))
        seen: set[str] = set()
        for pi, pat in enumerate(fam.queries):
            made = 0
            for _ in range(per_pattern * 4):
                values = sample_slots(fam, pat, rng)
                text = fill(pat.text, values)
                if text in seen:
                    continue
                seen.add(text)
                calls = {names[role]: fill(args, values) for role, args in pat.calls.items()}
                queries.append(QueryRecord(query_id=stable_id(fam.id, pi, text, prefix="q_"), family_id=fam.id,
                                           text=text, style=pat.style, needs=pat.needs, calls=calls,
                                           provenance=prov))
                made += 1
                if made >= per_pattern:
                    break
    return tools, queries


def planted_family(tools: list[ToolRecord], queries: list[QueryRecord], family_id: str, *, new_id: str,
                   rename: bool = False, shuffle_params: bool = False) -> tuple[list[ToolRecord], list[QueryRecord]]:
    """A copy of a family under a new id (optionally renamed tools, shuffled parameters): a duplicate family."""
    rng = random.Random(1)
    out_t, out_q = [], []
    rename_map = {}
    for t in tools:
        if t.family_id != family_id:
            continue
        fn = copy.deepcopy(t.function)
        new_name = fn["name"] + "_v2" if rename else fn["name"] + "_copy"
        rename_map[fn["name"]] = new_name
        fn["name"] = new_name
        if shuffle_params:
            items = list(fn["parameters"]["properties"].items())
            rng.shuffle(items)
            fn["parameters"]["properties"] = dict(items)
        out_t.append(t.model_copy(update={"tool_id": t.tool_id + "_dup", "family_id": new_id, "function": fn}))
    for q in queries:
        if q.family_id == family_id:
            out_q.append(q.model_copy(update={"query_id": q.query_id + "_dup", "family_id": new_id,
                                              "calls": {rename_map[k]: v for k, v in q.calls.items()}}))
    return out_t, out_q


def write_synth(run_dir: Path, tools: list, queries: list) -> Path:
    """A complete synth stage folder (manifest included) holding these rows."""
    with StageRun(Path(run_dir) / "synth", "synth", {"test": True}) as st:
        st.record_output("tools", write_jsonl(st.dir / "tools.jsonl", tools), "tools.jsonl")
        st.record_output("queries", write_jsonl(st.dir / "queries.jsonl", queries), "queries.jsonl")
    return Path(run_dir)


def family_twins(n: int = 200, dim: int = 64, seed: int = 0):
    """Unit vectors where an ANN search of 1 neighbour misses pairs inside families: row ``k`` (family
    ``f{k}``) and its twin ``k + n`` (same family, cosine ~0.9); rows ``k + 2n`` (family ``g{k}``) and
    ``k + 3n`` (``h{k}``) are closer copies of ``k`` and of its twin, so each row's nearest row lies in
    another family. Returns ``(embeddings, family label per row)``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, dim)).astype(np.float32)
    twin = a + 0.45 * rng.standard_normal(a.shape).astype(np.float32)
    emb = np.concatenate([a, twin, a + 0.08 * rng.standard_normal(a.shape).astype(np.float32),
                          twin + 0.08 * rng.standard_normal(a.shape).astype(np.float32)])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    fams = [f"f{k}" for k in range(n)] * 2 + [f"g{k}" for k in range(n)] + [f"h{k}" for k in range(n)]
    return emb, fams
