"""The split stage: leak-free seen/unseen split by family cluster, scenario examples, datasets, card."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict

import pytest
import yaml

from tooldojo.dataset_schema import features, row_to_example
from tooldojo.errors import DataError
from tooldojo.records import GENERATE_RESPONSE, SCENARIOS, QueryRecord, ToolRecord, gold_for, read_jsonl
from tooldojo.runs import read_manifest
from tooldojo.split import load_dataset_dir, run_split
from tooldojo.split.config import SplitConfig
from tooldojo.split.sides import assign


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _all_rows(run):
    rows = []
    for config in ("select", "eval"):
        for split, ds in load_dataset_dir(run, config).items():
            rows += [dict(r, _split=split) for r in ds]
    return rows


def test_split_keeps_families_clusters_and_queries_apart(split_run):
    tools = _jsonl(split_run / "split" / "tools.jsonl")
    queries = _jsonl(split_run / "split" / "queries.jsonl")
    side = {t["family_id"]: t["split"] for t in tools}
    assert set(side.values()) == {"seen", "unseen"}
    by_cluster = defaultdict(set)
    for t in tools:
        by_cluster[t["cluster_id"]].add(t["split"])
    assert all(len(s) == 1 for s in by_cluster.values())
    for q in queries:  # queries follow their tools
        assert q["split"].startswith("unseen_tool") == (side[q["family_id"]] == "unseen")
    # default policy: every style is trained on and evaluated; most queries are trained on
    styles = {q["style"] for q in queries}
    assert {q["style"] for q in queries if q["split"] == "train"} == styles
    assert {q["style"] for q in queries if q["split"] != "train"} == styles
    assert sum(q["split"] == "train" for q in queries) > len(queries) / 2
    # each unseen family holds out one of its styles as its unseen queries
    for fid in {f for f, s in side.items() if s == "unseen"}:
        held = {q["style"] for q in queries if q["family_id"] == fid and q["split"] == "unseen_tool_unseen_query"}
        assert len(held) == 1
    # clusters from dedup: every family of a cluster on one side
    for c in _jsonl(split_run / "dedup" / "clusters.jsonl"):
        assert len({side[f] for f in c["families"]}) == 1
        for g in c["query_groups"]:  # close queries stay together
            assert len({q["split"] for q in queries if q["query_id"] in g}) == 1


def test_examples_follow_the_scenario_rules(split_run):
    tools = read_jsonl(split_run / "dedup" / "tools.jsonl", ToolRecord)
    queries = {q.query_id: q for q in read_jsonl(split_run / "dedup" / "queries.jsonl", QueryRecord)}
    assign_ = json.loads((split_run / "split" / "assignments.json").read_text())
    fam_of = {t.name: t.family_id for t in tools}
    roles = defaultdict(dict)
    for t in tools:
        roles[t.family_id][t.role] = t.name
    rows = _all_rows(split_run)
    seen_kinds = defaultdict(set)
    distractors = defaultdict(dict)
    for r in rows:
        ex = row_to_example(r)
        assert r["_split"] == ex.scenario
        fam_side = assign_["families"][ex.family_id]
        names = [t["name"] for t in ex.tools]
        tool_entries = json.loads(r["tools"])
        assert tool_entries[-1]["function"]["name"] == GENERATE_RESPONSE
        others = [n for n in names if fam_of[n] != ex.family_id]
        for n in others:  # distractors: same side of the split, never the query's own cluster
            assert assign_["families"][fam_of[n]] == fam_side
            assert assign_["clusters"][fam_of[n]] != assign_["clusters"][ex.family_id]
        gold = gold_for(queries[ex.query_id], roles[ex.family_id], names)
        assert (ex.gold_tool, ex.gold_arguments, ex.gold_ranking) == (gold.tool, gold.arguments, gold.ranking)
        if ex.scenario == "train":
            assert fam_side == "seen"
        if ex.scenario == "weak_to_strong":
            assert fam_side == "unseen" and ex.kind == "weak_strong" and ex.gold_tool == ex.strong_tool
        if ex.scenario.startswith("unseen_tool"):
            assert fam_side == "unseen" and ex.kind != "weak_strong"
        if ex.kind == "zero":
            assert ex.gold_tool == GENERATE_RESPONSE
        if ex.kind == "one":
            assert ex.gold_tool == roles[ex.family_id][queries[ex.query_id].needs]
        seen_kinds[ex.query_id].add(ex.kind)
        distractors[ex.query_id][ex.kind] = sorted(others)
    # Zero-to-One pairs share the query and the distractors
    pairs = [q for q, k in seen_kinds.items() if {"zero", "one"} <= k]
    assert len(pairs) == len(queries)
    assert all(distractors[q]["zero"] == distractors[q]["one"] for q in pairs)
    assert {r["_split"] for r in rows} == {"train", *SCENARIOS}


def test_datasets_have_explicit_features_and_a_card(split_run):
    ds_dir = split_run / "split" / "dataset"
    for config in ("rank", "select", "eval"):
        dsd = load_dataset_dir(ds_dir, config)
        assert all(ds.features == features(config) for ds in dsd.values())
    assert list(load_dataset_dir(ds_dir, "eval")) == list(SCENARIOS)
    rank = load_dataset_dir(split_run, "rank")["train"][0]
    assert "<ranking>" in rank["completion"][0]["content"]
    card = (ds_dir / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["license"] == "apache-2.0" and "text-generation" in meta["task_categories"]
    files = {c["config_name"]: {f["split"]: f["path"] for f in c["data_files"]} for c in meta["configs"]}
    assert files["eval"]["weak_to_strong"] == "eval/weak_to_strong.parquet"
    sizes = {i["config_name"]: {s["name"]: s["num_examples"] for s in i["splits"]} for i in meta["dataset_info"]}
    assert sizes["select"]["train"] == len(load_dataset_dir(ds_dir, "select")["train"])
    assert "Leakage audit" in card and "passed" in card and "offline" in card and "testhash" in card
    assert "Share of queries per split: train" in card and "share_of_examples" in card  # the proportions
    assert (ds_dir / "domains.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = read_manifest(split_run / "split")
    assert m.status == "complete" and m.stats["audit"]["passed"] is True
    audit = json.loads((split_run / "split" / "audit.json").read_text())
    assert [p["unseen"] for p in audit["pairs"]] == list(SCENARIOS)
    assert set(audit["pairs"][1]["checks"]) == {"queries", "tools"}  # unseen tools are compared too
    assert not list((split_run / "split").glob(".*"))  # the on-disk tables and the swap folders are gone


def test_split_is_seeded_and_reproducible(split_run, tmp_path):
    def examples(run):
        return sorted(r["example_id"] + r["tools"] for r in _all_rows(run))

    same = tmp_path / "same"
    shutil.copytree(split_run, same)
    run_split(SplitConfig(audit_semantic=False, unseen_family_ratio=0.3), same, seed=0, force=True)
    assert examples(same) == examples(split_run)
    other = tmp_path / "other"
    shutil.copytree(split_run, other)
    run_split(SplitConfig(audit_semantic=False, unseen_family_ratio=0.3), other, seed=1)
    a = json.loads((split_run / "split" / "assignments.json").read_text())["families"]
    b = json.loads((other / "split" / "assignments.json").read_text())["families"]
    assert a != b and sorted(a) == sorted(b)


def _toy_catalog(n_families: int, queries_per_family: int) -> tuple[list[str], list[ToolRecord], list[QueryRecord]]:
    """Families f0..f<n-1>, each a weak and a strong tool and ``queries_per_family`` queries."""
    fams = [f"f{i}" for i in range(n_families)]
    tools = [ToolRecord(tool_id=f"{f}_{r}", family_id=f, domain="d", role=r,
                        function={"name": f"{f}_{r}", "description": "x", "parameters": {"type": "object"}})
             for f in fams for r in ("weak", "strong")]
    queries = [QueryRecord(query_id=f"{f}_q{k}", family_id=f, text=f"query {f} {k}", style="imperative",
                           needs="weak", calls={f"{f}_weak": {}}) for f in fams for k in range(queries_per_family)]
    return fams, tools, queries


def test_assign_keeps_clusters_and_query_groups_together():
    fams, tools, queries = _toy_catalog(12, 10)
    clusters = [{"cluster_id": "c1", "families": ["f0", "f1", "f2"], "query_groups": [["f5_q0", "f5_q1", "f5_q2"]]}]
    clusters += [{"cluster_id": f"c{f}", "families": [f], "query_groups": []} for f in fams[3:]]
    cfg = SplitConfig(unseen_family_ratio=0.25, unseen_query_ratio=0.3)
    for seed in range(20):
        a = assign(tools, queries, clusters, cfg, seed)
        assert len({a.family_side[f] for f in ("f0", "f1", "f2")}) == 1
        assert sum(s == "unseen" for s in a.family_side.values()) <= 3
        if a.family_side["f5"] == "seen":
            assert len({a.query_split[f"f5_q{k}"] for k in range(3)}) == 1


def test_split_needs_dedup(tmp_path):
    with pytest.raises(DataError, match="tooldojo dedup"):
        run_split(SplitConfig(), tmp_path)


def test_load_dataset_dir_errors(split_run, tmp_path):
    with pytest.raises(DataError, match="unknown config"):
        load_dataset_dir(split_run, "nope")
    with pytest.raises(DataError, match="no 'eval' config"):
        load_dataset_dir(tmp_path, "eval")


def test_a_leak_fails_the_split_by_default_and_keeps_the_complete_one(split_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(split_run, run)
    data = run / "split" / "dataset" / "select" / "train.parquet"
    before = data.read_bytes()
    strict = SplitConfig(audit_semantic=False, unseen_family_ratio=0.3, audit_max_jaccard=0.01)  # any overlap leaks
    assert SplitConfig().fail_on_leak is True
    with pytest.raises(DataError, match="leakage audit FAILED") as err:
        run_split(strict, run, seed=0)
    assert "split.fail_on_leak=false" in str(err.value) and len(str(err.value).splitlines()) == 1
    assert data.read_bytes() == before  # the complete split is untouched
    assert not list((run / "split").glob(".tables-*"))  # the failed run's on-disk tables are removed too
    failed = json.loads((run / "split" / "audit.failed.json").read_text())
    assert failed["passed"] is False and failed["thresholds"]["max_jaccard"] == 0.01
    kept = run_split(strict.model_copy(update={"fail_on_leak": False}), run, seed=0)
    assert kept.status == "complete" and kept.stats["audit"]["passed"] is False


def test_assign_style_policy_and_shares():
    def tool(fid, role):
        return ToolRecord(tool_id=f"{fid}_{role}", family_id=fid, domain="d", role=role,
                          function={"name": f"{fid}_{role}", "description": "x", "parameters": {"type": "object"}})

    styles = ("imperative", "question", "contextual", "casual")
    fams = [f"f{i}" for i in range(40)]
    tools = [tool(f, r) for f in fams for r in ("weak", "strong")]
    queries = [QueryRecord(query_id=f"{f}_q{k}", family_id=f, text=f"query {f} {k}", style=styles[k % 4],
                           needs="weak", calls={f"{f}_weak": {}}) for f in fams for k in range(12)]
    a = assign(tools, queries, [], SplitConfig(), 0)
    by_split = defaultdict(set)
    for q in queries:
        by_split[a.query_split[q.query_id]].add(q.style)
    assert by_split["train"] == set(styles) and by_split["unseen_tool_unseen_query"] == set(styles)
    shares = a.stats["query_shares"]
    assert shares["train"] > 0.6 and abs(sum(shares.values()) - 1) < 1e-3
    assert a.stats["families"]["unseen"] == 8  # 0.2 of 40
    # the strict policy: a style never trained, held out everywhere
    strict = assign(tools, queries, [], SplitConfig(unseen_styles=["casual"]), 0)
    assert all(strict.query_split[q.query_id] != "train" for q in queries if q.style == "casual")
    assert all(strict.query_split[q.query_id] == "unseen_tool_unseen_query" for q in queries
               if q.style == "casual" and strict.family_side[q.family_id] == "unseen")


def test_distractor_pools_skip_the_own_cluster():
    import random

    from tooldojo.split.examples import DistractorPools
    from tooldojo.split.sides import Assignment

    fams = [f"f{i:02d}" for i in range(20)]
    a = Assignment(family_side={f: "seen" if i < 16 else "unseen" for i, f in enumerate(fams)},
                   family_cluster={f: "big" if i < 11 else f"c{i}" for i, f in enumerate(fams)})
    pools = DistractorPools(fams, a)
    rng = random.Random(0)
    for cluster in ("big", "c12"):  # a cluster holding most of its side (list path) and a small one (rejection)
        for _ in range(200):
            got = pools.draw(rng, "seen", cluster, 4)
            assert len(got) == len(set(got)) == 4
            assert all(a.family_side[f] == "seen" and a.family_cluster[f] != cluster for f in got)
    assert len(pools.draw(rng, "seen", "big", 10)) == 5  # only 5 seen families outside the big cluster
    assert pools.draw(rng, "unseen", "c16", 9) and len(pools.draw(rng, "unseen", "c16", 9)) == 3


def test_validation_families_are_whole_clusters_and_leave_the_unseen_side_alone():
    fams, tools, queries = _toy_catalog(20, 4)
    clusters = [{"cluster_id": "c1", "families": ["f0", "f1"], "query_groups": []}]
    clusters += [{"cluster_id": f"c{f}", "families": [f], "query_groups": []} for f in fams[2:]]
    for seed in range(10):
        plain = assign(tools, queries, clusters, SplitConfig(unseen_family_ratio=0.25), seed)
        a = assign(tools, queries, clusters, SplitConfig(unseen_family_ratio=0.25, validation_family_ratio=0.2), seed)
        unseen = {f for f, s in a.family_side.items() if s == "unseen"}
        assert unseen == {f for f, s in plain.family_side.items() if s == "unseen"}
        held = {f for f, s in a.family_side.items() if s == "validation"}
        assert 3 <= len(held) <= 4 and not held & unseen  # 0.2 of 20 families; the f0+f1 cluster may not fit
        assert len({a.family_side[f] for f in ("f0", "f1")}) == 1
        for q in queries:
            assert (a.query_split[q.query_id] == "validation") == (q.family_id in held)
        assert a.stats["families"]["validation"] == len(held) and a.stats["queries"]["validation"] == 4 * len(held)
    assert "validation" not in plain.stats["families"]


def test_validation_split_is_an_eval_split_of_families_never_trained(split_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(split_run, run)
    run_split(SplitConfig(audit_semantic=False, unseen_family_ratio=0.3, validation_family_ratio=0.2), run, seed=0)
    side = {t["family_id"]: t["split"] for t in _jsonl(run / "split" / "tools.jsonl")}
    held = {f for f, s in side.items() if s == "validation"}
    assert held
    val = load_dataset_dir(run, "eval")["validation"]
    assert {r["family_id"] for r in val} == held
    assert {r["kind"] for r in val} >= {"zero", "one", "weak_strong"}  # every kind, weak_strong included
    names = {t["function"]["name"]: t["family_id"] for t in _jsonl(run / "split" / "tools.jsonl")}
    for r in val:  # distractors come from other held-out families only
        offered = {t["function"]["name"] for t in json.loads(r["tools"])} - {GENERATE_RESPONSE}
        assert {names[n] for n in offered} <= held
    trained = {r["family_id"] for r in load_dataset_dir(run, "select")["train"]}
    assert not trained & held
    audit = json.loads((run / "split" / "audit.json").read_text())
    assert "validation" in {p["unseen"] for p in audit["pairs"]}
    assert "`validation`: the families held out of training" in (run / "split" / "dataset" / "README.md").read_text()
    # without validation families the eval config has the four scenarios only
    assert set(load_dataset_dir(split_run, "eval")) == set(SCENARIOS)


def test_rationale_setting_reaches_the_training_completions(split_run, tmp_path):
    def zero_thinks(run):
        rows = load_dataset_dir(run, "select")["train"]
        return [r["completion"][0]["content"].split("</think>")[0].removeprefix("<think>")
                for r in rows if r["kind"] == "zero"]

    assert set(zero_thinks(split_run)) == {"None of the available tools can serve this request, so I will answer "
                                           "directly."}  # the default, verdict_first
    run = tmp_path / "run"
    shutil.copytree(split_run, run)
    run_split(SplitConfig(audit_semantic=False, unseen_family_ratio=0.3, rationale="tool_first"), run, seed=0)
    names = {t["function"]["name"] for t in _jsonl(run / "split" / "tools.jsonl")}
    for think in zero_thinks(run):
        assert think.split()[0] in names and think.endswith("cannot serve this request, so I will answer directly.")
