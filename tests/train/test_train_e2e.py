"""The tiny model (2-layer Gemma-3, real tokenizer) through stage 1 -> stage 2 -> GRPO, resume, merge, CLI."""

from __future__ import annotations

import json
import os
import signal

import pytest

from tooldojo.runs import read_manifest
from tooldojo.train import TrainConfig, run_train
from tooldojo.train import rewards as R
from tooldojo.train.runner import export_phase, read_phase

RL_KEYS = {"step", "sigma", "reward", "reward_format", "reward_general", "reward_strict", "reward_tool",
           "completion_length", "kl", "loss", "learning_rate"}


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def tiny_config(**phases) -> TrainConfig:
    data = {"model": "tiny", "save_steps": 1,
            "rank": {"max_steps": 2, "batch_size": 2, "max_examples": 2},
            "select": {"max_steps": 6, "batch_size": 2, "max_examples": 2, "learning_rate": 5e-3},
            "rl": {"max_steps": 2, "num_generations": 2, "batch_size": 2, "max_completion_length": 12,
                   "midpoint": 0.5, "max_examples": 2, "log_samples": 1}}
    for name, change in phases.items():
        data[name] = data.get(name, {}) | change
    return TrainConfig.model_validate(data)


def test_stage1_stage2_rl_end_to_end(split_run, tiny_model_path):
    cfg = tiny_config()
    manifest = run_train(cfg, split_run, seed=0)
    train = split_run / "train"
    assert manifest.status == "complete" and "final" in manifest.outputs
    assert manifest.stats["recipe"] == ["stage1<-base", "stage2<-stage1", "rl<-stage2"]

    # SFT logs: one row per step; stage 2 (6 steps on a fixed pair of rows) lowers its loss
    s1, s2 = rows(train / "stage1" / "log.jsonl"), rows(train / "stage2" / "log.jsonl")
    assert [r["step"] for r in s1] == [1, 2] and [r["step"] for r in s2] == list(range(1, 7))
    assert all({"loss", "learning_rate"} <= set(r) for r in s1 + s2)
    losses = [r["loss"] for r in s2]
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2 - 0.05, losses
    # stage 2 trained stage 1's adapter further; RL stage 2's
    assert read_phase(train / "stage2")["init_from"].endswith("stage1/adapter")
    assert read_phase(train / "rl")["init_from"].endswith("stage2/adapter")
    for phase in ("stage1", "stage2", "rl"):
        assert (train / phase / "adapter" / "adapter_config.json").exists()
        assert not (train / phase / "checkpoints").exists()

    # RL log: the documented keys every step, the schedule's sigma, R = R_format + R_tool (as TRL summed it)
    rl = rows(train / "rl" / "log.jsonl")
    assert [r["step"] for r in rl] == [1, 2]
    for r in rl:
        assert set(r) >= RL_KEYS
        assert r["sigma"] == pytest.approx(R.sigma(r["step"] - 1, 0.1, 0.5, 2))
        assert r["reward"] == pytest.approx(r["reward_format"] + r["reward_tool"], abs=1e-6)
        assert r["reward"] == pytest.approx(r["reward_trl"], abs=1e-5)
        assert r["reward_tool"] == pytest.approx(r["sigma"] * r["reward_strict"]
                                                 + (1 - r["sigma"]) * r["reward_general"], abs=1e-6)
        assert 0 < r["completion_length"] <= 12 and r["kl"] is None  # beta = 0: no KL term
    samples = rows(train / "rl" / "samples.jsonl")
    assert [s["step"] for s in samples] == [1, 2] and all("### Assistant" in s["prompt"] for s in samples)

    # final/: a plain model folder with the tokenizer and chat template
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(train / "final")
    tok = AutoTokenizer.from_pretrained(train / "final")
    assert tok.chat_template and "### Assistant" in tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    out = model.generate(**tok("### User\nhi\n\n### Assistant\n", return_tensors="pt"), max_new_tokens=3)
    assert out.shape[1] > 3
    assert json.loads((train / "final" / "tooldojo_train.json").read_text())["from_phase"] == "rl"

    # rerun: up to date; a changed RL budget retrains RL only
    again = run_train(cfg, split_run, seed=0)
    assert again.finished_at == manifest.finished_at
    before = {p: read_phase(train / p)["finished_at"] for p in ("stage1", "stage2", "rl")}
    run_train(tiny_config(rl={"max_steps": 1}), split_run, seed=0)
    after = {p: read_phase(train / p)["finished_at"] for p in ("stage1", "stage2", "rl")}
    assert after["stage1"] == before["stage1"] and after["stage2"] == before["stage2"]
    assert [r["step"] for r in rows(train / "rl" / "log.jsonl")] == [1]


def test_ctrl_c_saves_a_checkpoint_and_a_rerun_resumes(split_run, tiny_model_path, monkeypatch, tmp_path):
    from tooldojo.train import callbacks

    sent = []

    def interrupt_first_step(self, args, state, control, **kwargs):
        if state.global_step == 0 and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does

    monkeypatch.setattr(callbacks.RichProgress, "on_step_begin", interrupt_first_step, raising=False)
    cfg = tiny_config(rank={"max_steps": 3}, select={"enabled": False}, rl={"enabled": False})
    with pytest.raises(KeyboardInterrupt):
        run_train(cfg, split_run, seed=0)
    phase_dir = split_run / "train" / "stage1"
    assert read_phase(phase_dir)["status"] == "running"
    assert (phase_dir / "checkpoints" / "checkpoint-1").is_dir()
    assert [r["step"] for r in rows(phase_dir / "log.jsonl")] == [1]
    assert read_manifest(split_run / "train").status == "running"

    manifest = run_train(cfg, split_run, seed=0)
    result = manifest.stats["phases"]["stage1"]
    assert result["resumed_from_step"] == 1 and result["steps"] == 3
    assert [r["step"] for r in rows(phase_dir / "log.jsonl")] == [1, 2, 3]
    assert (split_run / "train" / "final" / "config.json").exists()

    # merge-and-save of one phase's adapter, as `tooldojo merge` does
    from transformers import AutoModelForCausalLM

    out = export_phase(tmp_path / "merged", run_dir=split_run, phase="stage1")
    assert AutoModelForCausalLM.from_pretrained(out).config.num_hidden_layers == 2
    assert (out / "tokenizer.json").exists()


def test_cli_estimate_and_errors(split_run, tiny_model_path):
    from typer.testing import CliRunner

    from tooldojo.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["train", "-r", str(split_run), "-m", "tiny", "--estimate",
                              "--set", "train.max_memory_gib=0.01"])
    assert res.exit_code == 0, res.output
    assert "| stage1 |" in res.output and "| rl |" in res.output and "**no**" in res.output
    res = runner.invoke(app, ["train", "-r", str(split_run), "-m", "tiny", "--estimate", "--no-rank",
                              "--rl-init", "base"])
    assert res.exit_code == 0 and "| stage1 |" not in res.output and "| stage2 |" in res.output
    old = runner.invoke(app, ["train", "-r", str(split_run), "-m", "tiny", "--estimate", "--no-stage1",
                              "--rl-init", "base"])
    assert old.exit_code == 0 and "--no-stage1 is deprecated: use --no-rank" in old.output
    assert "| stage1 |" not in old.output and "| stage2 |" in old.output
    res = runner.invoke(app, ["train", "-r", str(split_run), "--phases", "stage3"])
    assert res.exit_code == 2 and "--phases" in res.output
    res = runner.invoke(app, ["train", "-r", str(split_run / "nowhere"), "-m", "tiny"])
    assert res.exit_code == 2 and "tooldojo split" in res.output


def test_rollouts_stop_at_the_answer_end_and_pad_with_eos(tiny_model_path):
    """GRPO's generate call ends a rollout at a stop string; the rollouts still running pad it with EOS, where
    TRL's completion mask ends."""
    import torch
    from transformers import AutoModelForCausalLM

    from tooldojo.models import load_tokenizer
    from tooldojo.train.phases import stop_rollouts_at_answer_end

    tok = load_tokenizer(tiny_model_path)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    enc = tok(["### User\nhi\n\n### Assistant\n", "### User\nFind cafes in Osaka\n\n### Assistant\n"],
              return_tensors="pt", padding=True)
    free = model.generate(**enc, max_new_tokens=12, do_sample=False)[:, enc["input_ids"].shape[1]:]
    stop = tok.decode(free[0, :3])
    kwargs = stop_rollouts_at_answer_end(model, tok, stops=[stop])
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=12, do_sample=False, **kwargs)[:, enc["input_ids"].shape[1]:]
    assert tok.decode(out[0, :3]) == stop and (out[0, 3:] == tok.eos_token_id).all()
    assert out.shape[1] > 3 and torch.equal(out[1], free[1, :out.shape[1]])  # the other rollout ran on
