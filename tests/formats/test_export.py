"""Exporters: folder layout, dataset card configs, TRL readiness, skipping, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tooldojo.errors import DataError
from tooldojo.formats import ExportConfig, ImportConfig, run_export, run_import
from tooldojo.records import GENERATE_RESPONSE


def test_layout_and_card_configs_load_with_datasets(run_dir, tmp_path, examples, load_hf):
    out = tmp_path / "xlam"
    m = run_export(ExportConfig(source=str(run_dir), format="xlam"), out)
    assert m.counts == {"select/train": 4, "eval/seen_tool_unseen_query": 2, "eval/weak_to_strong": 1}
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.parquet")) == [
        "eval/seen_tool_unseen_query.parquet", "eval/weak_to_strong.parquet", "select/train.parquet"]
    ds = load_hf(out, "eval")
    assert {k: len(v) for k, v in ds.items()} == {"seen_tool_unseen_query": 2, "weak_to_strong": 1}
    row = load_hf(out, "select", split="train")[2]
    assert json.loads(row["answers"]) == [{"name": "map_search", "arguments": examples[2].gold_arguments}]
    assert [t["name"] for t in json.loads(row["tools"])] == ["web_search", "map_search", "query_knowledge_graph",
                                                             GENERATE_RESPONSE]


def test_trl_rows_feed_a_tool_calling_chat_template(run_dir, tmp_path, examples, gemma_tokenizer, load_hf):
    """TRL's SFT path: the assistant turn's tool call is rendered by a real tool-calling chat template
    (Qwen2.5's training template shipped with trl) and is exactly what the loss mask keeps."""
    import trl

    out = tmp_path / "trl"
    run_export(ExportConfig(source=str(run_dir), format="trl"), out)
    ds = load_hf(out, "select", split="train")
    template = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5_training.jinja").read_text()
    for row, ex in zip(ds, examples, strict=True):
        assert row["messages"][-1]["tool_calls"][0]["function"]["arguments"] == ex.gold_arguments  # a dict
        enc = gemma_tokenizer.apply_chat_template(row["messages"], tools=json.loads(row["tools"]),
                                                  chat_template=template, tokenize=True, return_dict=True,
                                                  return_assistant_tokens_mask=True)
        kept = [t for t, m in zip(enc["input_ids"], enc["assistant_masks"], strict=True) if m]
        text = gemma_tokenizer.decode(kept)
        body = text.split("<tool_call>")[1].split("</tool_call>")[0]
        assert json.loads(body) == {"name": ex.gold_tool, "arguments": ex.gold_arguments}


def test_trl_parquet_with_only_direct_replies(tmp_path, load_hf):
    """No row has a tool call: the Json arguments column is all null, and still writes and loads."""
    src = tmp_path / "rows.jsonl"
    tool = {"type": "function", "function": {"name": "f", "description": "F.", "parameters": {}}}
    src.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                                    {"role": "assistant", "content": f"a{i}"}], "tools": [tool]}) + "\n"
                           for i in range(3)))
    run_import(ImportConfig(source=str(src), eval_set=False), tmp_path / "imp")
    run_export(ExportConfig(source=str(tmp_path / "imp"), format="trl"), tmp_path / "out")
    rows = load_hf(tmp_path / "out", "default", split="train")
    assert [r["messages"][1]["content"] for r in rows] == ["a0", "a1", "a2"]


def test_trl_parquet_keeps_float_precision(tmp_path, load_hf):
    args = {"permittivity": 8.854e-12, "x": 0.1 + 0.2, "big": 123456789.123456789, "n": 3}
    tool = {"type": "function", "function": {"name": "f", "description": "F.", "parameters": {}}}
    row = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [
        {"type": "function", "function": {"name": "f", "arguments": args}}]}], "tools": [tool]}
    (tmp_path / "rows.jsonl").write_text(json.dumps(row) + "\n")
    run_import(ImportConfig(source=str(tmp_path / "rows.jsonl"), eval_set=False), tmp_path / "imp")
    run_export(ExportConfig(source=str(tmp_path / "imp"), format="trl"), tmp_path / "out")
    loaded = load_hf(tmp_path / "out", "default", split="train")[0]
    assert loaded["messages"][1]["tool_calls"][0]["function"]["arguments"] == args


def test_stages_rows_are_the_datasets_pairs(run_dir, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "stages"
    run_export(ExportConfig(source=str(run_dir), format="stages"), out)
    for config in ("rank", "select"):
        src = pq.read_table(run_dir / "split" / "dataset" / config / "train.parquet").to_pylist()
        got = pq.read_table(out / config / "train.parquet").to_pylist()
        assert got == [{k: r[k] for k in ("prompt", "completion", "tools")} for r in src]
    assert not (out / "eval").exists()


def test_skip_rewrite_and_stale_files(run_dir, tmp_path):
    out = tmp_path / "h"
    run_export(ExportConfig(source=str(run_dir), format="hermes"), out)
    stamp = (out / "manifest.json").stat().st_mtime_ns
    run_export(ExportConfig(source=str(run_dir), format="hermes"), out)
    assert (out / "manifest.json").stat().st_mtime_ns == stamp  # up to date: skipped
    run_export(ExportConfig(source=str(run_dir), format="hermes", file_format="jsonl"), out)
    assert not list(out.glob("*/*.parquet")) and len(list(out.glob("*/*.jsonl"))) == 3  # old files removed
    assert "select/train.jsonl" in (out / "README.md").read_text()


def test_never_writes_into_a_foreign_folder(run_dir, data_dir, tmp_path):
    foreign = tmp_path / "mine"
    (foreign / "notes").mkdir(parents=True)
    (foreign / "notes" / "keep.jsonl").write_text("{}\n")
    with pytest.raises(DataError, match="already holds other files"):
        run_export(ExportConfig(source=str(run_dir), format="trl"), foreign)
    with pytest.raises(DataError, match="already holds other files"):
        run_import(ImportConfig(source=str(data_dir / "xlam.jsonl")), foreign)
    assert (foreign / "notes" / "keep.jsonl").read_text() == "{}\n" and not (foreign / "README.md").exists()


def test_export_errors(data_dir, run_dir, tmp_path):
    imp = tmp_path / "imp"
    run_import(ImportConfig(source=str(data_dir / "glaive.jsonl"), eval_set=False), imp)
    with pytest.raises(DataError, match="'stages' rows are built from a tooldojo dataset"):
        run_export(ExportConfig(source=str(imp), format="stages"), tmp_path / "s")
    with pytest.raises(DataError, match="no tooldojo dataset"):
        run_export(ExportConfig(source=str(data_dir), format="trl"), tmp_path / "t")
    with pytest.raises(DataError, match="output folder is the source"):
        run_export(ExportConfig(source=str(run_dir), format="trl"), run_dir)


def test_push_to_hub_uploads_card_and_data(run_dir, tmp_path):
    """Against the dataset area's local stand-in for the Hub's HTTP API (never the network); the token is
    sent to the server and written nowhere."""
    import os
    import subprocess
    import sys

    from tests.split.hub_stub import HubStub

    token = "hf_test_SECRET_formats_1234"
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN")}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DISABLE_PROGRESS_BARS="1", HF_TOKEN=token)
    out = tmp_path / "x"
    with HubStub() as hub:
        env["HF_ENDPOINT"] = hub.endpoint
        res = subprocess.run([sys.executable, "-m", "tooldojo.cli", "export", str(run_dir), "--format", "xlam",
                              "--out", str(out), "--push-to-hub", "me/formats-test"],
                             env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        repo = hub.repos["me/formats-test"]
        assert repo.private and sorted(repo.files) == [
            "README.md", "eval/seen_tool_unseen_query.parquet", "eval/weak_to_strong.parquet", "select/train.parquet"]
        assert repo.files["select/train.parquet"] == (out / "select" / "train.parquet").read_bytes()
        assert any(token in h for h in hub.auth_headers)
    assert token not in res.stdout + res.stderr
    assert not [p for p in out.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]


def test_push_to_hub_fails_with_one_line_offline(run_dir, tmp_path, monkeypatch):
    from tooldojo.errors import ToolDojoError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ToolDojoError, match="push to the Hub failed"):
        run_export(ExportConfig(source=str(run_dir), format="xlam", push_to_hub="someone/some-data"), tmp_path / "x")
    assert (tmp_path / "x" / "select" / "train.parquet").is_file()  # the export itself is kept


def test_cli_export(run_dir, tmp_path, cli):
    out = tmp_path / "cli"
    res = cli("export", run_dir, "--format", "trl", "--out", out, "--file-format", "jsonl")
    assert res.exit_code == 0, res.output
    assert "select/train: 4 rows" in res.output
    assert (out / "eval" / "weak_to_strong.jsonl").is_file()
    bad = cli("export", run_dir, "--format", "sharegpt", "--out", out)
    assert bad.exit_code == 2 and "format" in bad.output
