"""End-to-end evaluations: scripted models with known answers, resume, skip, reports, compare, the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scenario_data import QUERIES, oracle_output

from tooldojo.dataset_schema import example_to_row
from tooldojo.errors import DataError
from tooldojo.eval import EvalConfig, FunctionGenerator, compare_runs, run_eval
from tooldojo.prompting import format_call


def rows_by_id(examples):
    return {e.example_id: example_to_row(e, "eval") for e in examples}


def scripted(examples, *, weak_on_weak_strong=False, calls=None):
    """Oracle answers, except (optionally) the weak tool on weak_strong examples. Counts calls in ``calls``."""
    rows = rows_by_id(examples)
    by_id = {e.example_id: e for e in examples}

    def fn(req):
        if calls is not None:
            calls.append(req.key)
        task, _, eid = req.key.split(":", 2)
        ex = by_id[eid]
        if task == "select" and weak_on_weak_strong and ex.kind == "weak_strong":
            weak_args = json.loads(json.dumps(_weak_args(ex)))
            return "<think>the weak one</think>\n" + format_call(ex.weak_tool, weak_args)
        return oracle_output(rows[eid], task)

    return fn


def _weak_args(ex):
    return next(q[4][ex.weak_tool] for q in QUERIES if q[1] == ex.query)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_scripted_model_hand_computed(eval_run, examples):
    man = run_eval(EvalConfig(), eval_run, name="mixed",
                   generator=FunctionGenerator(scripted(examples, weak_on_weak_strong=True), name="mixed"))
    assert man.status == "complete"
    out = eval_run / "eval" / "mixed"
    metrics = json.loads((out / "metrics.json").read_text())
    sel = metrics["select"]
    # 11 examples: only the 2 weak_strong ones (both in weak_to_strong) pick the weak tool
    assert sel["overall"]["n"] == 11
    assert sel["overall"]["tool_accuracy"] == pytest.approx(9 / 11, abs=1e-4)
    assert sel["by_scenario"]["weak_to_strong"]["tool_accuracy"] == 0.0
    assert sel["by_scenario"]["seen_tool_unseen_query"]["tool_accuracy"] == 1.0
    assert sel["overall"]["strong_preference"] == 0.0 and sel["overall"]["strong_share"] == 0.0
    assert sel["overall"]["zero_to_one_pairs"] == 4 and sel["overall"]["zero_to_one"] == 1.0
    assert sel["overall"]["n_args"] == 5 and sel["overall"]["arg_exact"] == 1.0  # 4 "one" + 1 "weak_only"
    assert sel["overall"]["malformed_rate"] == 0.0 and sel["overall"]["well_formed_rate"] == 1.0
    assert metrics["rank"]["overall"]["exact"] == 1.0
    examples_log = read_jsonl(out / "examples.jsonl")
    assert len(examples_log) == 22
    wrong = [r for r in examples_log if r["task"] == "select" and not r["verdict"]["tool_correct"]]
    assert {r["kind"] for r in wrong} == {"weak_strong"}
    assert all(r["verdict"]["chose_weak"] and r["parsed"]["calls"] for r in wrong)
    assert {"prompt", "raw_output", "parsed", "verdict", "gold", "tools"} <= set(examples_log[0])
    report = (out / "report.md").read_text()
    assert "| weak_to_strong |" in report and "Zero-to-One" in report and "plots/accuracy_by_scenario.png" in report
    assert (out / "plots" / "accuracy_by_scenario.png").read_bytes()[:4] == b"\x89PNG"
    assert not (out / "partial.jsonl").exists()


def test_resume_after_interruption_and_skip(eval_run, examples):
    n_items = 22
    first: list[str] = []
    fn = scripted(examples, calls=first)

    def interrupted(req):
        if len(first) == 7:
            raise KeyboardInterrupt
        return fn(req)

    with pytest.raises(KeyboardInterrupt):
        run_eval(EvalConfig(), eval_run, name="r", generator=FunctionGenerator(interrupted, chunk_size=1))
    assert len(read_jsonl(eval_run / "eval" / "r" / "partial.jsonl")) == 1 + 7  # stamp + finished outputs
    second: list[str] = []
    man = run_eval(EvalConfig(), eval_run, name="r", generator=FunctionGenerator(scripted(examples, calls=second)))
    assert len(second) == n_items - 7 and not set(second) & set(first[:7])
    assert man.stats["tool_accuracy"] == 1.0
    info = json.loads((eval_run / "eval" / "r" / "metrics.json").read_text())["info"]
    assert info["n_resumed"] == 7 and info["n_generated"] == n_items - 7
    third: list[str] = []
    again = run_eval(EvalConfig(), eval_run, name="r", generator=FunctionGenerator(scripted(examples, calls=third)))
    assert third == [] and again.finished_at == man.finished_at  # up to date: skipped
    run_eval(EvalConfig(), eval_run, name="r", force=True, generator=FunctionGenerator(scripted(examples, calls=third)))
    assert len(third) == n_items


def test_limit_scenarios_tasks_html_and_compare(eval_run, examples):
    cfg = EvalConfig(limit=2, scenarios=["seen_tool_unseen_query", "weak_to_strong"], tasks=["select"], html=True)
    run_eval(cfg, eval_run, name="small", generator=FunctionGenerator(scripted(examples)))
    out = eval_run / "eval" / "small"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"select", "info"}
    assert list(metrics["select"]["by_scenario"]) == ["seen_tool_unseen_query", "weak_to_strong"]
    assert all(m["n"] == 2 for m in metrics["select"]["by_scenario"].values())
    pairs = {r["query_id"] for r in read_jsonl(out / "examples.jsonl") if r["scenario"] == "seen_tool_unseen_query"}
    assert len(pairs) == 1  # sampled by whole queries: the zero/one pair stays together
    assert "<table>" in (out / "report.html").read_text()
    run_eval(EvalConfig(), eval_run, name="full", generator=FunctionGenerator(scripted(examples, weak_on_weak_strong=True)))
    text = compare_runs([out, eval_run / "eval" / "full"], out=eval_run / "cmp")
    assert "| weak_to_strong | 1.000 | 0.000 | -1.000 |" in text
    assert (eval_run / "cmp" / "compare.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((eval_run / "cmp" / "compare.json").read_text())
    assert data["metrics"]["select.tool_accuracy"]["all"] == {"small": 1.0, "full": pytest.approx(9 / 11, abs=1e-4)}
    whole_run = compare_runs([eval_run])  # a run folder stands for all its evaluations
    assert "`small`" in whole_run and "`full`" in whole_run
    with pytest.raises(DataError):
        compare_runs([eval_run / "nothing-here"])


def test_missing_split_names_the_command(tmp_path):
    with pytest.raises(DataError, match="tooldojo split"):
        run_eval(EvalConfig(), tmp_path / "empty-run", generator=FunctionGenerator(lambda r: ""))


def test_tiny_model_end_to_end(eval_run, tiny_model_path):
    """The real transformers path on the run's trained model: chat template with tools, batched generation,
    parsing of garbage output, training curves from the run's logs."""
    train = eval_run / "train"
    (train / "rl").mkdir(parents=True)
    (train / "stage1").mkdir()
    (train / "rl" / "log.jsonl").write_text("\n".join(json.dumps(
        {"step": s, "sigma": 1 / (1 + 2.718 ** (-0.5 * (s - 3))), "reward": s / 6, "reward_general": 0.1 * s,
         "reward_strict": s / 8, "reward_format": 1.0}) for s in range(1, 7)))
    (train / "stage1" / "log.jsonl").write_text("\n".join(json.dumps({"step": s, "loss": 2.0 / s}) for s in range(1, 5)))
    (train / "final").symlink_to(tiny_model_path)  # as if the train stage had written it
    man = run_eval(EvalConfig(limit=3, max_new_tokens=12, batch_size=4), eval_run)  # default: the run's train/final
    out = eval_run / "eval" / "train-final"
    assert man.status == "complete" and out.is_dir()
    log = read_jsonl(out / "examples.jsonl")
    assert len(log) == man.counts["select"] + man.counts["rank"] > 0
    assert all(isinstance(r["raw_output"], str) and isinstance(r["verdict"]["malformed"], bool) for r in log)
    assert log[0]["prompt"][0]["role"] == "system" and "generate_response" in log[0]["tools"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["info"]["examples_per_second"] > 0 and "transformers" in metrics["info"]["backend"]
    report = (out / "report.md").read_text()
    assert "plots/rl_rewards.png" in report and "plots/sft_loss.png" in report
    assert (out / "plots" / "rl_rewards.png").exists() and (out / "plots" / "sft_loss.png").exists()
