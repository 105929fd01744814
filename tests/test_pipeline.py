"""The whole pipeline end to end on the tiny model (the `--quick` preset, smaller): every stage runs its real
code path, the report covers each, and a rerun skips everything that is up to date."""

from __future__ import annotations

import json

import pytest

from tooldojo.config import load_config
from tooldojo.pipeline import STAGES, run_pipeline
from tooldojo.runs import read_manifest

pytestmark = pytest.mark.slow


def test_quick_pipeline_runs_every_stage_then_skips_on_rerun(tmp_path, tiny_model_path):
    cfg = load_config(preset="quick", overrides=[
        f"run_dir={tmp_path / 'run'}", "synth.domains=[weather, flights, music]", "synth.queries_per_family=4",
        "split.unseen_family_ratio=0.34", "eval.limit=2", "eval.max_new_tokens=16",
        "train.rl.max_steps=1"])
    results = run_pipeline(cfg)
    assert [r.stage for r in results] == list(STAGES) and all(r.ran for r in results)
    run = cfg.run_dir
    for stage in ("synth", "dedup", "split", "train"):
        assert read_manifest(run / stage).status == "complete", stage
    for name in ("base", "trained"):
        assert read_manifest(run / "eval" / name).status == "complete", name

    train = read_manifest(run / "train")
    assert train.stats["recipe"] == ["stage1<-base", "stage2<-stage1", "rl<-stage2"]
    assert (run / "train" / "final" / "config.json").exists()
    rl_log = [json.loads(line) for line in (run / "train" / "rl" / "log.jsonl").read_text().splitlines()]
    assert rl_log and {"sigma", "reward_format", "reward_general", "reward_strict", "completion_length"} <= set(rl_log[0])

    report = (run / "report.md").read_text()
    for stage in STAGES:
        assert f"| {stage} | ran |" in report
    assert "Tool-selection accuracy" in report and "`trained`" in report
    assert (run / "pipeline.yaml").exists()

    again = run_pipeline(cfg)
    assert not any(r.ran for r in again)
    assert "| train | skipped (up to date) |" in (run / "report.md").read_text()
