"""The backend choice and Unsloth's compile switch, on CPU: CUDA is faked and ``unsloth`` is a stand-in package
that records the environment it was imported with (Unsloth reads its switches at import)."""

from __future__ import annotations

import json
import os
import sys

import pytest

from tooldojo.errors import ConfigError
from tooldojo.train import TrainConfig
from tooldojo.train import backends as B
from tooldojo.train.runner import planned_steps

ENV = ("UNSLOTH_COMPILE_DISABLE", "UNSLOTH_BLOCK_COMPILE", "TORCH_COMPILE_DISABLE")
OFF = {"UNSLOTH_COMPILE_DISABLE": "1", "UNSLOTH_BLOCK_COMPILE": "0", "TORCH_COMPILE_DISABLE": "1"}
ON = {"UNSLOTH_COMPILE_DISABLE": "0", "UNSLOTH_BLOCK_COMPILE": "1", "TORCH_COMPILE_DISABLE": "0"}


def test_explicit_settings_win(monkeypatch):
    assert B.decide_compile("on", steps=1, phases=3, four_bit=True).enabled
    off = B.decide_compile("off", steps=10**6, phases=1, four_bit=False)
    assert not off.enabled and off.env == OFF
    # auto keeps a compile the user turned off in the environment off, however long the run
    monkeypatch.setenv("TORCH_COMPILE_DISABLE", "1")
    kept = B.decide_compile("auto", steps=10**6, phases=1, four_bit=False)
    assert not kept.enabled and kept.reason == "auto: TORCH_COMPILE_DISABLE=1 in the environment"
    assert B.decide_compile("on", steps=1, phases=1, four_bit=False).enabled


def test_auto_compiles_only_when_the_steps_repay_it(clean_env):
    # 16 bit: 25 s per phase, 0.04 s saved per step, repaid twice -> 1,250 steps for one phase
    assert not B.decide_compile("auto", steps=1_249, phases=1, four_bit=False).enabled
    on = B.decide_compile("auto", steps=1_250, phases=1, four_bit=False)
    assert on.enabled and on.env["UNSLOTH_COMPILE_DISABLE"] == "0" and "Unsloth's estimate" in on.reason
    # 4 bit compiles four times longer; every phase loads the model afresh and compiles again
    assert not B.decide_compile("auto", steps=4_000, phases=1, four_bit=True).enabled
    assert B.decide_compile("auto", steps=5_000, phases=1, four_bit=True).enabled
    assert not B.decide_compile("auto", steps=2_000, phases=2, four_bit=False).enabled
    # the test suite's tiny runs: a handful of steps never repay a compile
    assert not B.decide_compile("auto", steps=10, phases=3, four_bit=True).enabled


def test_auto_uses_measured_costs(clean_env):
    measured = {"compile_s": {"16bit": 5.0}, "saved_s_per_step": {"16bit": 0.5}}
    choice = B.decide_compile("auto", steps=20, phases=1, four_bit=False, measured=measured)
    assert choice.enabled and "measured" in choice.reason
    slower = {"compile_s": {"16bit": 5.0}, "saved_s_per_step": {"16bit": -0.1}}  # compiled steps were slower
    assert not B.decide_compile("auto", steps=10**6, phases=1, four_bit=False, measured=slower).enabled
    assert B.decide_compile("auto", steps=None, phases=1, four_bit=False).enabled  # unknown: Unsloth's default


def test_measured_costs_apply_only_to_the_same_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLDOJO_CACHE", str(tmp_path))
    assert B.measured_compile_costs() is None
    record = {"key": B.compile_key(), "compile_s": {"4bit": 30.0}, "saved_s_per_step": {"4bit": 0.1}}
    (tmp_path / B.COMPILE_FILE).write_text(json.dumps(record))
    assert B.measured_compile_costs()["compile_s"] == {"4bit": 30.0}
    (tmp_path / B.COMPILE_FILE).write_text(json.dumps(record | {"key": {**record["key"], "gpu": "other"}}))
    assert B.measured_compile_costs() is None


def test_planned_steps_from_config_and_row_counts(split_run):
    dataset = split_run / "split" / "dataset"  # 8 rank rows, 8 select rows
    cfg = TrainConfig.model_validate({"rank": {"batch_size": 3, "epochs": 2},
                                      "select": {"max_steps": 4, "grad_accum": 2},
                                      "rl": {"max_steps": 5}})
    assert planned_steps(cfg, dataset, ["stage1"]) == 6  # 2 epochs × ceil(8 / 3)
    assert planned_steps(cfg, dataset, ["stage1", "stage2", "rl"]) == 6 + 8 + 5
    cfg = cfg.model_copy(update={"rank": cfg.rank.model_copy(update={"max_examples": 2})})
    assert planned_steps(cfg, dataset, ["stage1"]) == 2
    assert planned_steps(cfg, split_run / "nowhere", ["stage1"]) is None


@pytest.fixture
def clean_env(monkeypatch):
    """Unsloth's and torch's compile switches unset, and restored after the test (with Dynamo's flag)."""
    import torch._dynamo.config as dynamo

    for name in ENV:
        monkeypatch.setenv(name, "unset")  # restored after the test, whatever resolve_backend sets
    entry = dynamo._config["disable"]
    saved = dynamo.disable, entry.default  # (monkeypatch would delete a config module's entry on undo)
    yield
    dynamo.disable, entry.default = saved


@pytest.fixture
def fake_unsloth(tmp_path, monkeypatch, clean_env):
    """CUDA "present" and an ``unsloth`` package on the path; returns a function that writes its body."""
    monkeypatch.setenv("TOOLDOJO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(B, "cuda_available", lambda: True)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "unsloth", raising=False)
    (tmp_path / "unsloth").mkdir()

    def write(body: str) -> None:
        (tmp_path / "unsloth" / "__init__.py").write_text(body)

    yield write
    sys.modules.pop("unsloth", None)


RECORDS_ENV = f"import os\nSEEN = {{k: os.environ.get(k) for k in {ENV!r}}}\n"


def test_auto_backend_imports_unsloth_with_the_compile_choice(fake_unsloth):
    fake_unsloth(RECORDS_ENV)
    cfg = TrainConfig.model_validate({"dtype": "bfloat16"})
    backend = B.resolve_backend(cfg, planned_steps=12, phases=3)
    assert backend.name == "unsloth" and backend.load_in_4bit
    assert not backend.compile.enabled and "compile off" in backend.describe()
    assert sys.modules["unsloth"].SEEN == OFF
    import torch._dynamo.config as dynamo

    assert dynamo.disable  # Unsloth's compiles that no switch reaches are off too


def test_compile_on_reaches_unsloth(fake_unsloth):
    fake_unsloth(RECORDS_ENV)
    backend = B.resolve_backend(TrainConfig.model_validate({"dtype": "bfloat16", "compile": "on"}), planned_steps=2)
    assert backend.compile.enabled and backend.compile.reason == "train.compile=on"
    assert sys.modules["unsloth"].SEEN == ON


def test_auto_falls_back_when_unsloth_does_not_import(fake_unsloth):
    fake_unsloth("raise NotImplementedError('Unsloth cannot find any torch accelerator')\n")
    cfg = TrainConfig.model_validate({"dtype": "bfloat16", "lora": {"load_in_4bit": False}})
    backend = B.resolve_backend(cfg, planned_steps=3)  # compile off was set for Unsloth's import
    assert backend.name == "hf" and backend.compile is None
    assert "unsloth does not import (NotImplementedError: Unsloth cannot find" in backend.notes[0]
    import torch._dynamo.config as dynamo

    assert os.environ["TORCH_COMPILE_DISABLE"] == "unset" and not dynamo.disable  # the switches were undone
    with pytest.raises(ConfigError, match="unsloth does not import") as err:
        B.resolve_backend(TrainConfig.model_validate({"dtype": "bfloat16", "backend": "unsloth"}))
    assert err.value.field == "train.backend"


def test_a_second_run_in_one_process_is_told_what_still_applies(fake_unsloth, monkeypatch):
    fake_unsloth(RECORDS_ENV)
    frozen = type(sys)("unsloth_zoo.temporary_patches.common")
    frozen.UNSLOTH_COMPILE_DISABLE = True  # imported earlier with compile off
    monkeypatch.setitem(sys.modules, "unsloth_zoo.temporary_patches.common", frozen)
    backend = B.resolve_backend(TrainConfig.model_validate({"dtype": "bfloat16", "compile": "on"}))
    assert any("only the per-block compile" in n for n in backend.notes)
    off = B.resolve_backend(TrainConfig.model_validate({"dtype": "bfloat16", "compile": "off"}))
    assert off.notes == []


def test_cpu_never_picks_unsloth(monkeypatch):
    monkeypatch.setattr(B, "cuda_available", lambda: False)
    backend = B.resolve_backend(TrainConfig.model_validate({"dtype": "float32"}))
    assert backend.name == "hf" and backend.compile is None and "compile" not in backend.describe()
