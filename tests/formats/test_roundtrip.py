"""Round trips: import -> export -> import keeps every tool and every call, for each export format."""

from __future__ import annotations

import json

import pytest

from tests.formats.helpers import calls_of, functions_of
from tooldojo.formats import ExportConfig, ImportConfig, import_source, read_import, run_export, run_import
from tooldojo.records import GENERATE_RESPONSE

SOURCES = ["xlam.jsonl", "toolace.json", "glaive.jsonl", "hermes.jsonl", "openai.jsonl", "bfcl"]
EXPORTS = {"trl": "openai", "hermes": "hermes", "xlam": "xlam"}


@pytest.mark.parametrize("file_format", ["parquet", "jsonl"])
@pytest.mark.parametrize("fmt", sorted(EXPORTS))
@pytest.mark.parametrize("source", SOURCES)
def test_import_export_import(data_dir, tmp_path, source, fmt, file_format):
    imp = tmp_path / "imp"
    run_import(ImportConfig(source=str(data_dir / source), eval_set=False), imp)
    first = read_import(imp)
    out = tmp_path / "out"
    run_export(ExportConfig(source=str(imp), format=fmt, file_format=file_format), out)
    again = import_source(out / "default" / f"train.{file_format}")
    assert again.format == EXPORTS[fmt]
    assert again.failures == []
    assert functions_of(again) == functions_of(first)
    assert calls_of(again) == calls_of(first)
    if fmt != "xlam":  # xLAM rows have no place for a direct reply's text
        assert sorted((q.text, q.answer) for q in again.queries) == sorted((q.text, q.answer) for q in first.queries)


@pytest.mark.parametrize("fmt", sorted(EXPORTS))
def test_dataset_export_import(run_dir, tmp_path, examples, fmt):
    """A tooldojo dataset exported and imported back: same candidate tools and gold calls; a gold
    ``generate_response`` comes back as a query without a call."""
    out = tmp_path / fmt
    run_export(ExportConfig(source=str(run_dir), format=fmt, file_format="jsonl"), out)
    back = import_source(out / "select" / "train.jsonl")
    assert back.failures == []
    by_text = {q.text: q for q in back.queries}
    for ex in examples:
        q = by_text[ex.query]
        assert [t["name"] for t in back.offered(q)] == [t["name"] for t in ex.tools]
        assert back.offered(q) == ex.tools
        if ex.gold_tool == GENERATE_RESPONSE:
            assert q.calls == []
        else:
            assert [c.model_dump() for c in q.calls] == [{"name": ex.gold_tool, "arguments": ex.gold_arguments}]
    evals = {p.stem: import_source(p) for p in (out / "eval").glob("*.jsonl")}
    assert {k: len(v.queries) for k, v in evals.items()} == {"seen_tool_unseen_query": 2, "weak_to_strong": 1}


def test_stages_rows_read_back_as_calls(run_dir, tmp_path, examples):
    out = tmp_path / "stages"
    run_export(ExportConfig(source=str(run_dir), format="stages", file_format="jsonl"), out)
    back = import_source(out / "select" / "train.jsonl")
    assert back.format == "openai" and back.failures == []
    got = {q.text: [c.model_dump() for c in q.calls] for q in back.queries}
    want = {e.query: [] if e.gold_tool == GENERATE_RESPONSE else [{"name": e.gold_tool, "arguments": e.gold_arguments}]
            for e in examples}
    assert got == want
    ranks = import_source(out / "rank" / "train.jsonl")  # stage-1 rows hold rankings, not calls
    assert ranks.queries == [] and all("ranking" in f.reason for f in ranks.failures)
    row = json.loads((out / "select" / "train.jsonl").read_text().splitlines()[0])
    assert set(row) == {"prompt", "completion", "tools"}
