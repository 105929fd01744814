"""The leakage audit: closest cross-split pairs, failing above the thresholds (library and CLI)."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from tooldojo.dedup.config import MinHashConfig, SemanticConfig
from tooldojo.split.audit import compare

TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city.",
                                         "parameters": {"type": "object", "properties": {}}}}


def _split(path, queries):
    pq.write_table(pa.table({"query": queries, "tools": [json.dumps([TOOL])] * len(queries)}), path)
    return str(path)


def _app():
    from tooldojo.cli import app

    return app


def test_audit_cli_fails_on_a_leaked_query(tmp_path):
    train = _split(tmp_path / "train.parquet", ["Find bakeries in Paris.", "What is the weather in Oslo today?",
                                                 "Send an email to Maria about the budget review."])
    clean = _split(tmp_path / "clean.parquet", ["Convert 20 dollars to yen.", "Who won the 1998 world cup final?"])
    leaky = _split(tmp_path / "leaky.parquet", ["Convert 20 dollars to yen.", "what is the WEATHER in oslo today"])
    runner = CliRunner()
    ok = runner.invoke(_app(), ["audit", train, clean, "--no-semantic", "--no-tools"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(_app(), ["audit", train, leaky, "--no-semantic", "--no-tools", "--json", str(tmp_path / "a.json")])
    assert bad.exit_code == 1 and "FAIL" in bad.output and "oslo" in bad.output.lower()
    report = json.loads((tmp_path / "a.json").read_text())
    q = report["pairs"][0]["checks"]["queries"]
    assert q["max_jaccard"] == 1.0 and q["closest_jaccard"][0]["seen"] == "What is the weather in Oslo today?"
    # tools compared too by default: the same tool on both sides fails
    assert runner.invoke(_app(), ["audit", train, clean, "--no-semantic"]).exit_code == 1


def test_audit_embeddings_find_paraphrases():
    r = compare(["In Lisbon, please find bakeries."], ["Find bakeries in Lisbon please.", "Book a flight to Rome."],
                minhash=MinHashConfig(), semantic=SemanticConfig())
    assert r["max_jaccard"] < 0.5  # no shared word 3-gram...
    assert r["max_cosine"] > 0.95  # ...but the same meaning
    assert r["closest_cosine"][0]["seen"] == "Find bakeries in Lisbon please."
    # above exact_up_to seen texts, the nearest neighbour comes from the HNSW index: the same answer
    ann = compare(["In Lisbon, please find bakeries."], ["Find bakeries in Lisbon please.", "Book a flight to Rome."],
                  semantic=SemanticConfig(exact_up_to=0))
    assert ann["max_cosine"] == r["max_cosine"] and ann["closest_cosine"] == r["closest_cosine"]


def test_audit_cli_on_a_run(split_run):
    res = CliRunner().invoke(_app(), ["audit", "--run-dir", str(split_run), "--no-semantic", "--top", "1"])
    assert res.exit_code == 0, res.output
    assert len(re.findall(r"\bpass\b", res.output)) == 7  # 4 query checks + 3 unseen-tool checks
    spec = f"{split_run / 'split' / 'dataset'}:select/train"
    res = CliRunner().invoke(_app(), ["audit", spec, spec, "--no-semantic"])
    assert res.exit_code == 1  # a split against itself leaks everything


def test_audit_dataset_indexes_train_once_and_agrees_pair_by_pair(split_run):
    """Every scenario is compared against one index of train's queries and one of its tools (two HNSW builds,
    not one per check), with the same closest pairs as a fresh comparison per pair."""
    from unittest import mock

    from tooldojo.dataset_io import load_dataset_dir
    from tooldojo.similarity import semantic
    from tooldojo.split.audit import UNSEEN_TOOL_SPLITS, audit_dataset, tool_texts

    ds = split_run / "split" / "dataset"
    dicts = {c: load_dataset_dir(ds, c) for c in ("select", "eval")}
    sem = SemanticConfig(exact_up_to=0)  # the HNSW path, as above exact_up_to training texts
    with mock.patch.object(semantic, "build_ann_index", wraps=semantic.build_ann_index) as build:
        report = audit_dataset(dicts, minhash=MinHashConfig(), semantic=sem, max_jaccard=0.8, max_cosine=0.95)
    assert build.call_count == 2
    assert len(report["pairs"]) == len(dicts["eval"])
    train = dicts["select"]["train"]
    for pair in report["pairs"]:
        unseen = dicts["eval"][pair["unseen"]]
        alone = compare(unseen["query"], train["query"], minhash=MinHashConfig(), semantic=sem)
        assert {k: pair["checks"]["queries"][k] for k in alone} == alone
        assert ("tools" in pair["checks"]) == (pair["unseen"] in UNSEEN_TOOL_SPLITS)
        if "tools" in pair["checks"]:
            alone = compare(tool_texts(unseen["tools"]), tool_texts(train["tools"]), minhash=MinHashConfig(),
                            semantic=sem)
            assert {k: pair["checks"]["tools"][k] for k in alone} == alone
