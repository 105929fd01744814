"""The results run (`tooldojo ablate`): Wilson intervals, the variants' step budgets, the checks made before any
work, the goals and results page from known numbers, and the whole command end to end on the tiny model."""

from __future__ import annotations

import json

import pytest

from tooldojo.ablate.config import VARIANTS
from tooldojo.config import load_config, presets
from tooldojo.errors import ConfigError
from tooldojo.eval.intervals import rate, wilson


def test_wilson_matches_the_closed_form():
    # (k, n) -> the Wilson score interval written out: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    z = 1.959963984540054
    for k, n in [(0, 10), (10, 10), (50, 100), (37, 200), (199, 200)]:
        p = k / n
        centre, half = p + z * z / (2 * n), z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
        lo, hi = (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)
        assert wilson(k, n) == pytest.approx((lo, hi), abs=1e-4)
    assert wilson(0, 0) is None
    r = rate(0.185, 200)
    assert r["k"] == 37 and r["n"] == 200 and r["ci"][0] < 0.185 < r["ci"][1]
    assert rate(None, 10) is None and rate(0.5, 0) is None


def test_results_presets_load_and_fit_their_budgets():
    from tooldojo.ablate.runner import check_config, plan

    assert {"results-cpu", "results-gpu", "results-tiny"} <= set(presets())
    for name, hours in (("results-cpu", 4), ("results-gpu", 0.75)):
        cfg = load_config(preset=name, overrides=["run_dir=/nonexistent/results"])
        check_config(cfg)
        assert cfg.ablate.budget_hours == hours and cfg.ablate.min_eval_examples >= 200
        assert cfg.eval.limit is None or cfg.eval.limit >= 200
        assert set(cfg.eval.bfcl.categories) == {"simple_python", "multiple", "irrelevance"}
        assert cfg.eval.bfcl.limit is None  # whole categories
        steps = plan(cfg, bfcl=True)
        assert 0 < sum(s.planned for s in steps) <= hours * 3600
        # each variant's training comes right before its evaluation, so an interrupted run has numbers early
        titles = [s.title.split(" (")[0] for s in steps]
        assert titles == ["data: synth, dedup, split", "eval", "train select_only", "eval", "train two_stage",
                          "merge", "eval", "eval", "train rl_from_base", "eval", "BFCL leakage audit",
                          "BFCL", "BFCL", "BFCL"]
        assert [s.title for s in steps if s.report] == [s.title for s in steps if s.title.startswith(("eval", "BFCL ("))]


def test_variants_share_step_budgets():
    from tooldojo.ablate.variants import training_runs, variant_model

    cfg = load_config(preset="results-cpu")
    runs = training_runs(cfg)
    t = cfg.train
    assert set(runs) == {"select_only", "two_stage", "rl_from_base"}
    b, c, e = runs["select_only"], runs["two_stage"], runs["rl_from_base"]
    assert not b.rank.enabled and not b.rl.enabled
    assert b.select.max_steps == t.rank.max_steps + t.select.max_steps  # (b) as many SFT steps as (c)
    assert c.rank.enabled and c.select.enabled and c.rl.enabled and c.rl.init == "sft"
    assert not e.rank.enabled and not e.select.enabled and e.rl.init == "base"
    assert e.rl.max_steps == c.rl.max_steps  # (e) as many GRPO steps as (d)
    # (c) and (d) come from one training run: (c) is its merged stage 2, (d) its final model
    assert variant_model(cfg, "two_stage").endswith("two_stage/stage2-merged")
    assert variant_model(cfg, "two_stage_rl").endswith("two_stage/train/final")
    assert variant_model(cfg, "base") == "gemma-3-270m"
    only_c = load_config(preset="results-cpu", overrides=["ablate.variants=[base, two_stage]"])
    assert not training_runs(only_c)["two_stage"].rl.enabled
    assert variant_model(only_c, "two_stage").endswith("two_stage/train/final")


@pytest.mark.parametrize("overrides, field", [
    (["ablate.bfcl_variants=[rl_from_base]", "ablate.variants=[base, two_stage]", "ablate.bfcl=auto"],
     "ablate.bfcl_variants"),
    (["train.rank.max_steps=-1"], "train.rank.max_steps"),
    (["eval.limit=50"], "eval.limit"),
    (["ablate.budget_hours=1"], "ablate.budget_hours"),
    (["ablate.bfcl=on", "eval.bfcl.venv=/nonexistent/bfcl-venv"], "eval.bfcl.venv"),
])
def test_bad_settings_are_refused_before_the_run_folder_is_touched(tmp_path, monkeypatch, overrides, field):
    from tooldojo.ablate import run_ablate, runner

    def ran_past_the_checks(*args, **kwargs):  # fail fast instead of starting the 4-hour run
        raise AssertionError("the settings were not refused: the run started")

    monkeypatch.setattr(runner, "_prepare_data", ran_past_the_checks)
    run = tmp_path / "run"
    cfg = load_config(preset="results-cpu", overrides=[f"run_dir={run}", "ablate.bfcl=off", *overrides])
    with pytest.raises(ConfigError) as err:
        run_ablate(cfg)
    assert err.value.field == field
    assert not run.exists()


def test_bfcl_variants_matter_only_when_bfcl_runs():
    from tooldojo.ablate.runner import check_config

    # one variant scored on validation families alone: the default bfcl_variants name variants it does not train
    cfg = load_config(preset="results-cpu", overrides=["ablate.variants=[two_stage]", "ablate.bfcl=off",
                                                       "split.validation_family_ratio=0.15",
                                                       "eval.scenarios=[validation]"])
    check_config(cfg)
    with pytest.raises(ConfigError, match="BFCL variants"):
        check_config(cfg.model_copy(update={"ablate": cfg.ablate.model_copy(update={"bfcl": "auto"})}))


def test_bfcl_auto_without_its_environment_is_reported_not_refused():
    from tooldojo.ablate.runner import bfcl_available, plan

    cfg = load_config(preset="results-cpu", overrides=["ablate.bfcl=auto", "eval.bfcl.venv=/nonexistent/bfcl-venv"])
    run, why = bfcl_available(cfg)
    assert not run and "tooldojo eval bfcl --setup" in why
    assert not any(s.title.startswith("BFCL") for s in plan(cfg, bfcl=run))
    off = load_config(preset="results-cpu", overrides=["ablate.bfcl=off"])
    assert bfcl_available(off) == (False, "switched off (ablate.bfcl: off)")


def _numbers(value: float, n: int) -> dict:
    return rate(value, n)


def test_goals_report_the_measured_direction():
    from tooldojo.ablate.results import goals

    def variant(acc: float, pref: float, exact: float) -> dict:
        block = {"tool_accuracy": _numbers(acc, 200), "strong_preference": _numbers(pref, 200),
                 "call_exact": _numbers(exact, 200)}
        return {"scenarios": {s: block for s in ("unseen_tool_seen_query", "unseen_tool_unseen_query",
                                                 "weak_to_strong", "all")}}

    variants = {"base": variant(0.05, 0.1, 0.01), "select_only": variant(0.5, 0.6, 0.3),
                "two_stage": variant(0.6, 0.5, 0.35), "two_stage_rl": variant(0.62, 0.55, 0.30),
                "rl_from_base": variant(0.1, 0.2, 0.02)}
    variants["two_stage"]["bfcl"] = {"simple_python": _numbers(0.3, 400)}
    by_goal = {(g["goal"][:8], g.get("scenario")): g for g in goals(variants)}
    assert by_goal[("(c) beat", "unseen_tool_seen_query")]["met"] is True  # +0.55, intervals apart
    assert by_goal[("(c) beat", "unseen_tool_seen_query")]["intervals_apart"] is True
    assert by_goal[("(c) >= (", "weak_to_strong")]["met"] is False  # 0.5 < 0.6: a negative result, reported
    assert by_goal[("(d) >= (", "all")]["difference"] == pytest.approx(-0.05)
    assert by_goal[("(e) beat", "all")]["met"] is False  # +0.01 with overlapping intervals is not "clearly"
    simple = next(g for g in goals(variants) if g["goal"].startswith("BFCL"))
    assert simple["best"] == "two_stage" and simple["met"] is False


def test_bfcl_audit_source_reports_overlap(tmp_path):
    from tooldojo.dedup.config import MinHashConfig
    from tooldojo.split.audit import audit_external

    tool = {"type": "function", "function": {"name": "calculate_triangle_area", "description": "Calculate the "
            "area of a triangle given its base and height.", "parameters": {"type": "object", "properties": {
                "base": {"type": "integer"}, "height": {"type": "integer"}}}}}
    other = {"type": "function", "function": {"name": "play_song", "description": "Play a song by title.",
                                              "parameters": {"type": "object", "properties": {}}}}
    train = {"query": ["Play Yesterday by the Beatles.", "Find the area of a triangle with base 10 and height 5."],
             "tools": [json.dumps([other]), json.dumps([tool])]}
    bfcl = {"query": ["Find the area of a triangle with a base of 10 units and height of 5 units."],
            "tools": [json.dumps([tool])]}
    report = audit_external(train, "bfcl", bfcl, minhash=MinHashConfig(), semantic=None, max_jaccard=0.8,
                            max_cosine=0.95)
    assert report["unseen"] == "bfcl" and not report["passed"]  # the same function doc: Jaccard 1.0
    assert report["checks"]["tools"]["max_jaccard"] == 1.0
    clean = audit_external({"query": train["query"][:1], "tools": train["tools"][:1]}, "bfcl", bfcl,
                           minhash=MinHashConfig(), semantic=None, max_jaccard=0.8, max_cosine=0.95)
    assert clean["passed"]


@pytest.mark.slow
def test_ablate_end_to_end_on_the_tiny_model(tmp_path, tiny_model_path):
    from tooldojo.ablate import run_ablate
    from tooldojo.runs import read_manifest

    run, docs = tmp_path / "run", tmp_path / "docs"
    cfg = load_config(preset="results-tiny", overrides=[
        f"run_dir={run}", "ablate.bfcl=off", "eval.limit=3", "eval.max_new_tokens=8"])
    record = run_ablate(cfg, docs=docs, command="tooldojo ablate --preset results-tiny")
    assert record["status"] == "complete (BFCL not run)" and not record["bfcl"]["run"]
    for out in (run / "results", docs):
        saved = json.loads((out / "results.json").read_text())
        assert set(saved["variants"]) == set(VARIANTS)
        assert (out / "results.png").stat().st_size > 0
        text = (out / "results.md").read_text()
        assert "95% Wilson interval" in text and "Not run: switched off" in text and "Toy-scale" in text
        assert "tooldojo ablate --preset results-tiny" in text
        assert "examples/s |" in text and "stage1 " in text and " s/step" in text  # what each stage's time bought
        assert "## Tool-selection accuracy by kind" in text and "| zero |" in text
    for v, entry in saved["variants"].items():
        sets = set(read_manifest(run / "eval" / v).stats["tool_accuracy_by_scenario"])
        assert sets <= set(entry["scenarios"]) and "all" in entry["scenarios"]
        acc = entry["scenarios"]["all"]["tool_accuracy"]
        assert acc["n"] > 0 and acc["ci"][0] <= acc["value"] <= acc["ci"][1]
        assert sum(k["n"] for k in entry["kinds"].values()) == entry["scenarios"]["all"]["tool_accuracy"]["n"]
    assert saved["provenance"]["machine"]["cpus"] and saved["provenance"]["stage_seconds"]["train two_stage"] > 0
    assert read_manifest(run / "variants" / "two_stage" / "train").stats["recipe"] == \
        ["stage1<-base", "stage2<-stage1", "rl<-stage2"]
    assert read_manifest(run / "variants" / "select_only" / "train").stats["recipe"] == ["stage2<-base"]
    assert read_manifest(run / "variants" / "rl_from_base" / "train").stats["recipe"] == ["rl<-base"]

    # a rerun resumes: finished variants are skipped; a removed evaluation is redone alone
    finished = {v: read_manifest(run / "eval" / v).finished_at for v in VARIANTS}
    import shutil

    shutil.rmtree(run / "eval" / "select_only")
    from tooldojo.ablate.results import NOTES_MARKER

    page = run / "results" / "results.md"  # hand-written notes below the marker survive a rewrite
    assert page.read_text().rstrip().endswith(NOTES_MARKER)
    page.write_text(page.read_text() + "## Findings\nwritten by hand\n")
    # `--report` writes the page from what the folder holds now (the missing evaluation marked), running nothing
    from cli_helpers import stage_cli

    from tooldojo.cli.ablate import register

    report = stage_cli(register)("ablate", "--preset", "results-tiny", "--run-dir", run, "--report",
                                 "--set", "ablate.bfcl=off")
    assert report.exit_code == 0, report.output
    partial = json.loads((run / "results" / "results.json").read_text())
    assert partial["status"] == "incomplete" and partial["variants"]["select_only"]["scenarios"] is None
    assert partial["variants"]["two_stage"]["scenarios"] == saved["variants"]["two_stage"]["scenarios"]
    assert not (run / "eval" / "select_only").exists()
    assert page.read_text().endswith(f"{NOTES_MARKER}\n## Findings\nwritten by hand\n")
    assert "Status: **incomplete**" in page.read_text()
    assert read_manifest(run / "eval" / "two_stage").code == partial["provenance"]["git"]  # who ran each stage
    run_ablate(cfg)
    after = {v: read_manifest(run / "eval" / v).finished_at for v in VARIANTS}
    assert all(after[v] == finished[v] for v in VARIANTS if v != "select_only")
    assert after["select_only"] is not None

    # too few evaluation examples for the comparison: refused right after the split, naming the fix
    from tooldojo.ablate.runner import scenario_sizes
    from tooldojo.errors import DataError

    strict = cfg.model_copy(update={"ablate": cfg.ablate.model_copy(update={"min_eval_examples": 10**6})})
    with pytest.raises(DataError) as err:
        scenario_sizes(strict)
    assert err.value.field == "synth.queries_per_family"


def test_cli_plan_runs_nothing_and_bad_input_is_one_line(tmp_path):
    from cli_helpers import stage_cli

    from tooldojo.cli.ablate import register

    run = stage_cli(register)
    plan = run("ablate", "--preset", "results-cpu", "--run-dir", tmp_path / "r", "--plan", "--variants",
               "base,two_stage", "--set", "ablate.bfcl=auto", "--set", "eval.bfcl.venv=/nonexistent/venv")
    assert plan.exit_code == 0, plan.output
    assert "| **total** |" in plan.output and "train two_stage (400 SFT + 0 GRPO steps)" in plan.output
    assert "BFCL will not run" in plan.output and not (tmp_path / "r").exists()
    bad = run("ablate", "--preset", "results-cpu", "--run-dir", tmp_path / "r", "--variants", "base,nope")
    assert bad.exit_code == 2 and "ablate.variants" in bad.output and not (tmp_path / "r").exists()
