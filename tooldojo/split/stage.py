"""The split stage: ``run_dir/dedup`` -> ``run_dir/split`` (assignments, audit, scenario datasets, card)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from tooldojo.errors import DataError
from tooldojo.records import QueryRecord, ToolRecord, read_jsonl
from tooldojo.runs import (
    Manifest,
    StageRun,
    read_manifest,
    upstream_fingerprint,
    write_json,
    write_jsonl,
    write_text,
)
from tooldojo.similarity.minhash import MinHashConfig
from tooldojo.similarity.semantic import SemanticConfig
from tooldojo.split.config import SplitConfig


def _log(msg: str, style: str = "dim") -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[{style}]split:[/{style}] {msg}")


class DedupSettings(NamedTuple):
    """The similarity settings the dedup stage ran with (its ``config.yaml``), which the leakage audit reuses."""

    settings: dict[str, Any]
    minhash: MinHashConfig
    semantic: SemanticConfig


def read_dedup_settings(dedup_dir: Path) -> DedupSettings:
    """``dedup_dir/config.yaml``'s settings; an absent, older or foreign config gives the defaults."""
    import yaml

    path = dedup_dir / "config.yaml"
    raw = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}
    try:
        minhash = MinHashConfig.model_validate(raw.get("minhash") or {})
        semantic = SemanticConfig.model_validate(raw.get("semantic") or {})
    except Exception:  # an older or foreign config: the audit then uses the defaults
        raw, minhash, semantic = {}, MinHashConfig(), SemanticConfig()
    return DedupSettings(raw or {"minhash": minhash.model_dump(mode="json"),
                              "semantic": semantic.model_dump(mode="json")}, minhash, semantic)


def _read_clusters(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise DataError(f"line {n}: {err}", field=str(path), fix="rerun `tooldojo dedup --force`") from None
    return out


def run_split(config: SplitConfig, run_dir: Path, *, seed: int = 0, force: bool = False) -> Manifest:
    """Split ``run_dir/dedup`` by family cluster into ``run_dir/split``: assignments, scenario datasets
    (``split/dataset``), leakage audit (``audit.json``, also in the manifest) and the dataset card. ``seed`` is
    the stage's seed, already resolved (:meth:`~tooldojo.config.PipelineConfig.seed_for`)."""
    from tooldojo.dataset_io import build_dataset_dicts, save_dataset_dicts
    from tooldojo.split.audit import audit_dataset, summary_lines
    from tooldojo.split.card import CardInfo, plot_domains, provenance_summary, render_card, statistics
    from tooldojo.split.examples import build_examples
    from tooldojo.split.sides import assign

    run_dir = Path(run_dir)
    dedup_dir = run_dir / "dedup"
    st = StageRun(run_dir / "split", "split", config,
                  inputs={"dedup": upstream_fingerprint(dedup_dir, needed_by="split"), "seed": str(seed)})
    if not force and st.up_to_date():
        return read_manifest(st.dir)  # type: ignore[return-value]
    for stale in st.dir.glob(".tables-*"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    with st, tempfile.TemporaryDirectory(dir=st.dir, prefix=".tables-") as tables:
        tools = read_jsonl(dedup_dir / "tools.jsonl", ToolRecord)
        queries = read_jsonl(dedup_dir / "queries.jsonl", QueryRecord)
        if not tools or not queries:
            raise DataError("no tools or no queries left after dedup", field=str(dedup_dir),
                            fix="check dedup/report.md; lower the dedup thresholds or synthesize more data")
        clusters = _read_clusters(dedup_dir / "clusters.jsonl")
        a = assign(tools, queries, clusters, config, seed)
        if a.stats["families"]["unseen"] == 0 and config.unseen_family_ratio > 0:
            _log("no family could be held out (one cluster holds them all?): unseen scenarios are empty",
                 "yellow")
        examples, ex_stats = build_examples(tools, queries, a, config, seed)
        if not examples.get("train"):
            raise DataError("the split left no training examples", field="split.unseen_family_ratio",
                            fix="lower split.unseen_family_ratio / unseen_query_ratio, or synthesize more families")
        # built a chunk at a time into memory-mapped Arrow files (millions of examples fit), removed at the end
        dicts = build_dataset_dicts(examples, config.call_format, config.rationale, cache_dir=tables)

        dcfg = read_dedup_settings(dedup_dir)
        _log("leakage audit (train vs every scenario)")
        audit = audit_dataset(dicts, minhash=dcfg.minhash,
                              semantic=dcfg.semantic if config.audit_semantic else None,
                              max_jaccard=config.audit_max_jaccard, max_cosine=config.audit_max_cosine)
        for line in summary_lines(audit):
            _log(line, "dim" if "pass" in line else "red")
        if not audit["passed"] and config.fail_on_leak:  # before anything is written: a complete split stays
            write_json(st.dir / "audit.failed.json", audit)
            raise DataError("leakage audit FAILED: see split/audit.failed.json",
                            field="split.audit_max_jaccard/audit_max_cosine",
                            fix="lower dedup.*.link_threshold so close families cluster together, or set "
                                "split.fail_on_leak=false to keep the split anyway")

        # the dataset folder is built beside the final one and swapped in whole
        tmp = st.dir / ".dataset.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        files = save_dataset_dicts(dicts, tmp)
        sizes = {c: {s: {"num_examples": len(dicts[c][s]), "num_bytes": (tmp / p).stat().st_size}
                     for s, p in splits.items()} for c, splits in files.items()}
        stats = statistics(examples, tools, a.family_side)
        plot_domains(stats["domains"], tmp / "domains.png")
        prov = provenance_summary(tools)
        dedup_m = read_manifest(dedup_dir)
        info = CardInfo(pretty_name=config.pretty_name, license=config.license, **prov,
                        dedup={"settings": dcfg.settings, "stats": dedup_m.stats if dedup_m else {}},
                        split={"settings": config.model_dump(mode="json"), **a.stats}, audit=audit, seed=seed)
        write_text(tmp / "README.md", render_card(info, stats, sizes, files))
        final = st.dir / "dataset"
        old = st.dir / ".dataset.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)

        write_json(st.dir / "card_info.json", {"info": info.__dict__, "stats": stats, "sizes": sizes,
                                               "files": files})
        st.record_output("card_info", None, "card_info.json")
        side = a.family_side
        st.record_output("tools", write_jsonl(st.dir / "tools.jsonl", [
            {**t.model_dump(mode="json"), "split": side[t.family_id], "cluster_id": a.family_cluster[t.family_id]}
            for t in tools]), "tools.jsonl")
        st.record_output("queries", write_jsonl(st.dir / "queries.jsonl", [
            {**q.model_dump(mode="json"), "split": a.query_split[q.query_id],
             "family_split": side[q.family_id], "cluster_id": a.family_cluster[q.family_id]}
            for q in queries]), "queries.jsonl")
        write_json(st.dir / "assignments.json", {"families": side, "clusters": a.family_cluster,
                                                 "queries": a.query_split})
        st.record_output("assignments", None, "assignments.json")
        write_json(st.dir / "audit.json", audit)
        st.record_output("audit", None, "audit.json")
        st.record_output("dataset", sum(len(ds) for d in dicts.values() for ds in d.values()), "dataset")
        for split, exs in examples.items():
            st.counts[f"examples_{split}"] = len(exs)
        st.stats.update({"seed": seed, "split": a.stats, "examples": ex_stats, "statistics": stats,
                         "dataset_files": files, "sizes": sizes,
                         "audit": {"passed": audit["passed"], "thresholds": audit["thresholds"],
                                   "methods": audit["methods"], "summary": summary_lines(audit),
                                   "pairs": audit["pairs"]}})
        if not audit["passed"]:
            _log("leakage audit FAILED (kept: split.fail_on_leak=false): see split/audit.json", "yellow")
    _log(f"{st.dir / 'dataset'}: " + ", ".join(f"{k} {v}" for k, v in st.counts.items()))
    return st.manifest
