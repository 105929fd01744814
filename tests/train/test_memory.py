"""Memory estimates and the refusal of configs that will not fit."""

from __future__ import annotations

import pytest

from tooldojo.errors import ConfigError
from tooldojo.train.memory import GiB, ModelShape, Workload, check_fits, estimate, gpu_capacity, model_shape

# Gemma-3-270M's shape (18 layers, hidden 640, MLP 2048, 1 KV head of 256, 262,144-token vocabulary)
GEMMA = ModelShape(params=268_098_176, embedding_params=167_772_160, hidden=640, intermediate=2048, layers=18,
                   vocab=262_144, kv_dim=256,
                   linear_shapes={"q_proj": [(640, 1024)] * 18, "k_proj": [(640, 256)] * 18,
                                  "v_proj": [(640, 256)] * 18, "o_proj": [(1024, 640)] * 18,
                                  "gate_proj": [(640, 2048)] * 18, "up_proj": [(640, 2048)] * 18,
                                  "down_proj": [(2048, 640)] * 18})
SETTINGS = {"dtype": "bfloat16", "lora": True, "r": 16, "targets": "all-linear", "load_in_4bit": False,
            "gradient_checkpointing": False, "backend": "hf", "device": "cuda"}


def kw(**change):
    return {k: v for k, v in (SETTINGS | change).items()}


def test_components_follow_the_settings(monkeypatch):
    import tooldojo.train.memory as mem

    monkeypatch.setattr(mem, "fused_loss_available", lambda backend, device: False)
    work = Workload("sft", 8, 1024, 64)
    base = estimate(GEMMA, work, **kw())
    assert base.weights == GEMMA.params * 2
    assert base.trainable_state == GEMMA.lora_params(16, "all-linear") * 16
    # 262k-vocab logits materialised for every position: 8 × 1024 × 262144 × (2 + 4 + 4) bytes ≈ 20 GiB
    assert base.logits / GiB == pytest.approx(8 * 1024 * 262_144 * 10 / GiB)
    assert estimate(GEMMA, work, **kw(load_in_4bit=True)).weights < base.weights * 0.75
    assert estimate(GEMMA, work, **kw(gradient_checkpointing=True)).activations < base.activations / 4
    assert estimate(GEMMA, work, **kw(lora=False)).trainable_state > 10 * base.trainable_state
    assert estimate(GEMMA, Workload("sft", 4, 1024, 64), **kw()).total < base.total
    monkeypatch.setattr(mem, "fused_loss_available", lambda backend, device: True)
    fused = estimate(GEMMA, work, **kw())
    assert fused.logits < base.logits / 20  # tiles of the completion positions only
    rl = estimate(GEMMA, Workload("rl", 8, 768, 256, 8), **kw())
    assert rl.generation > 0 and rl.total > 0


def test_lora_parameter_count_by_target():
    qv = GEMMA.lora_params(8, ["q_proj", "v_proj"])
    assert qv == 18 * 8 * ((640 + 1024) + (640 + 256))
    assert GEMMA.lora_params(8, "all-linear") > qv


def test_refuses_with_a_one_line_fix(monkeypatch):
    import tooldojo.train.memory as mem

    monkeypatch.setattr(mem, "fused_loss_available", lambda backend, device: False)
    work = Workload("sft", 8, 1024, 64)
    need = estimate(GEMMA, work, **kw()).total
    with pytest.raises(ConfigError) as err:
        check_fits(GEMMA, work, SETTINGS, capacity=int(need * 0.8), phase="stage 2",
                   field_prefix="train.select", length_field="max_length")
    msg = str(err.value)
    assert "\n" not in msg and "train.select.batch_size" in msg and "fix:" in msg
    assert "GiB" in msg
    # the fix it names really fits
    assert "set train.gradient_checkpointing=true" in msg or "batch_size=" in msg
    # far too small: the fix combines settings or names a smaller model
    with pytest.raises(ConfigError, match=r"fix: (set|install|pick)"):
        check_fits(GEMMA, work, SETTINGS, capacity=GiB // 2, phase="stage 2", field_prefix="train.select",
                   length_field="max_length")
    # refusing can be switched off; fitting configs pass
    check_fits(GEMMA, work, SETTINGS, capacity=int(need * 0.8), phase="s", field_prefix="train.select",
               length_field="max_length", refuse=False)
    assert check_fits(GEMMA, work, SETTINGS, capacity=int(need * 2), phase="s", field_prefix="train.select",
                      length_field="max_length").total == need


def test_suggestion_respects_rl_group_size(monkeypatch):
    import tooldojo.train.memory as mem

    monkeypatch.setattr(mem, "fused_loss_available", lambda backend, device: False)
    work = Workload("rl", 8, 2048, 512, 8)
    settings = kw(gradient_checkpointing=True, load_in_4bit=True)
    with pytest.raises(ConfigError) as err:
        check_fits(GEMMA, work, settings, capacity=int(estimate(GEMMA, work, **settings).total * 0.7),
                   phase="RL", field_prefix="train.rl", length_field="max_prompt_length", batch_step=4)
    assert "batch_size=2" not in str(err.value) and "batch_size=1" not in str(err.value)


def test_capacity_and_real_model_shape(tiny_model_path):
    assert gpu_capacity(8) == 8 * GiB
    shape = model_shape(tiny_model_path)
    assert shape.layers == 2 and shape.hidden == 64 and shape.vocab > 260_000
    assert {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"} <= set(shape.linear_shapes)
    assert shape.embedding_params == shape.vocab * 64  # tied LM head counted once
