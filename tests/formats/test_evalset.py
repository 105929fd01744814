"""Imported queries as eval rows of scenario ``imported``."""

from __future__ import annotations

import pyarrow.parquet as pq

from tooldojo.dataset_schema import row_to_example
from tooldojo.formats import import_source, to_examples, write_eval_dataset
from tooldojo.records import GENERATE_RESPONSE


def test_examples_from_an_import(data_dir, tmp_path):
    result = import_source(data_dir / "bfcl")
    examples, skipped = to_examples(result)
    assert skipped == []
    by_kind = {e.kind: [] for e in examples}
    for e in examples:
        by_kind[e.kind].append(e)
    assert len(by_kind["one"]) == 3 and len(by_kind["zero"]) == 1
    zero = by_kind["zero"][0]
    assert zero.gold_tool == GENERATE_RESPONSE and zero.gold_ranking == [GENERATE_RESPONSE]
    assert [t["name"] for t in zero.tools] == ["math.sum"] and zero.domain == "math"
    tri = next(e for e in by_kind["one"] if e.gold_tool == "calculate_triangle_area")
    assert tri.gold_arguments == {"base": 10, "height": 5, "unit": "units"}
    assert tri.gold_ranking == ["calculate_triangle_area", GENERATE_RESPONSE]
    assert tri.domain == "imported" and tri.scenario == "imported"

    path = write_eval_dataset(examples, tmp_path / "dataset")
    rows = pq.read_table(path).to_pylist()
    assert [row_to_example(r) for r in rows] == examples  # the dataset schema round-trips
    assert "generate_response" in rows[0]["tools"]  # offered last, as train/eval read it
    assert "config_name: eval" in (tmp_path / "dataset" / "README.md").read_text()


def test_multi_call_queries_are_skipped_with_a_reason(data_dir):
    examples, skipped = to_examples(import_source(data_dir / "hermes.jsonl"))
    assert len(examples) == 2
    assert len(skipped) == 1 and skipped[0].reason.startswith("several gold calls (2)")
