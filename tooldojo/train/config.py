"""Configuration of the train stage: GenTool's two-stage SFT (``rank``, then ``select``) and Tool-Zero RL."""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tooldojo.records import ExampleKind
from tooldojo.runs import HASHED_UNLESS_DEFAULT, hashed_dump

log = logging.getLogger("tooldojo.train")

Phase = Literal["stage1", "stage2", "rl"]
"""A training phase, named as its folder ``train/<phase>/`` and in manifests, ``--phases`` and ``--phase``. These
names predate the settings' names (``rank``, ``select``) and stay: they are part of every run folder (the phase
hashes, the eval stage's training plots, ``ablate``'s merged stage 2): renamed, every finished run folder would
look unfinished."""
PHASES: tuple[Phase, ...] = ("stage1", "stage2", "rl")
SETTINGS: dict[Phase, str] = {"stage1": "rank", "stage2": "select", "rl": "rl"}
"""Phase -> the :class:`TrainConfig` field holding its settings."""
RENAMED: dict[str, str] = {"stage1": "rank", "stage2": "select"}
"""Old key -> new key. An old key is still read (with a one-line deprecation message naming the new key), and
the config hash uses the old names, so that run folders trained before the rename stay up to date."""


class LoraConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """LoRA adapters; ``false`` = full fine-tune (every weight trained, full-size outputs)."""
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] | str = "all-linear"
    load_in_4bit: bool | None = None
    """QLoRA; ``None`` = on when Unsloth/bitsandbytes are available on CUDA."""


class SFTStageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    epochs: float = Field(1.0, gt=0)
    max_steps: int = -1
    """Optimizer steps; ``-1`` = ``epochs`` passes over the data."""
    learning_rate: float = Field(2e-4, gt=0)
    batch_size: int = Field(4, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_length: int = Field(2048, ge=64)
    """Longest prompt + completion in tokens; longer rows are left out (counted in the manifest), never cut."""
    packing: bool = False
    group_by_length: bool = True
    """Batch rows of similar length together (transformers' ``LengthGroupedSampler``: shuffled groups of 50
    batches, sorted by length within), so batches pad little; ``false`` = uniformly random batches."""
    max_examples: int | None = Field(None, ge=1)
    """Train on at most this many rows (a seeded sample)."""


class RLConfig(BaseModel):
    """Tool-Zero: GRPO with rule-based rewards and the dynamic exploratory->exploitative shift."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    init: Literal["base", "sft"] = "sft"
    """Start from the base model (Tool-Zero) or from the stage-2 SFT checkpoint."""
    max_steps: int = Field(50, ge=1)
    num_generations: int = Field(4, ge=2)
    """Rollouts per prompt (the GRPO group)."""
    temperature: float = Field(0.8, gt=0)
    learning_rate: float = Field(5e-6, gt=0)
    batch_size: int = Field(4, ge=1)
    """Completions per optimizer step (TRL's meaning): ``batch_size / num_generations`` prompts per step.
    Must be a multiple of ``num_generations``."""
    max_prompt_length: int = Field(2048, ge=64)
    """Longest prompt in tokens; longer prompts are left out (counted in the manifest), never cut."""
    max_completion_length: int = Field(256, ge=8)
    stop_at_answer: bool = True
    """End each rollout at its closing tag (``</tool_call>``/``</answer>``) or at the next user turn instead of
    sampling on to ``max_completion_length`` (transformers generation; vLLM rollouts are not stopped)."""
    beta: float = Field(0.0, ge=0)
    """KL coefficient (Tool-Zero removes the KL term: 0)."""
    epsilon: float = Field(0.2, gt=0)
    scale_rewards: Literal["group", "none"] = Field("group", json_schema_extra=HASHED_UNLESS_DEFAULT)
    """How TRL turns rewards into advantages: divided by the standard deviation of each prompt's group
    (``group``, TRL's default) or not (``none``: Dr. GRPO drops this division, so a tiny reward difference
    within a group stays a tiny push; its other change, to the loss, is not applied here)."""
    kappa: float = Field(0.1, gt=0)
    """Steepness of the exploratory->exploitative sigmoid."""
    midpoint: float = Field(25, ge=0)
    """Switch point: a step count, or a fraction of ``max_steps`` when < 1."""
    max_examples: int | None = Field(None, ge=1)
    kinds: list[ExampleKind] | None = Field(None, min_length=1, json_schema_extra=HASHED_UNLESS_DEFAULT)
    """RL prompts of these example kinds only (``zero``, ``one``, ``weak_only``, ``weak_strong``); ``None`` =
    every kind. An ablation knob: e.g. ``[one, weak_only, weak_strong]`` leaves out the prompts where
    ``generate_response`` is the answer."""
    log_samples: int = Field(2, ge=0)
    """Sampled completions written to ``rl/samples.jsonl`` per step."""
    fast_inference: bool | None = None
    """Unsloth backend only: generate rollouts with vLLM (``None`` = when vLLM is installed)."""

    @model_validator(mode="after")
    def _group_fits(self) -> RLConfig:
        if self.batch_size % self.num_generations:
            raise ValueError(f"rl.batch_size ({self.batch_size}) must be a multiple of rl.num_generations "
                             f"({self.num_generations}): it counts completions, num_generations per prompt")
        return self


class TrainConfig(BaseModel):
    """The train stage, its settings in groups:

    - model and backend: ``model``, ``backend``, ``compile``, ``call_format``, ``lora``, ``dtype``,
      ``gradient_checkpointing``;
    - GenTool's two-stage SFT: ``rank`` (stage 1: rank the candidate tools), ``select`` (stage 2: select the
      tool and write the call), each an :class:`SFTStageConfig`;
    - Tool-Zero: ``rl`` (GRPO with rule-based rewards), an :class:`RLConfig`;
    - the run: ``seed``, ``save_steps``, ``max_memory_gib``, ``check_memory``.
    """

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    """A Hub id or local folder; ``None`` = Gemma-3-270M base from the offline package; ``tiny`` = a
    2-layer Gemma-3 with the real tokenizer (tests and ``--quick``)."""
    backend: Literal["auto", "unsloth", "hf"] = "auto"
    """``auto`` = Unsloth when CUDA is available and ``unsloth`` imports, else transformers + PEFT + TRL."""
    compile: Literal["auto", "on", "off"] = "auto"
    """Unsloth backend only: torch.compile of each decoder block, the fused loss and GRPO's loss functions.
    ``auto`` = on when the run's planned optimizer steps repay the compile time (measured by
    ``bench.gpu_check`` on this machine, else Unsloth's own estimate); see docs/training.md."""
    call_format: Literal["json", "python"] = "json"
    lora: LoraConfig = Field(default_factory=LoraConfig)
    rank: SFTStageConfig = Field(default_factory=SFTStageConfig)
    """GenTool stage 1: rank the candidate tools (the ``rank`` dataset); was ``stage1``."""
    select: SFTStageConfig = Field(default_factory=SFTStageConfig)
    """GenTool stage 2: select the tool and write its call (the ``select`` dataset), starting from ``rank``'s
    result; was ``stage2``."""
    rl: RLConfig = Field(default_factory=RLConfig)
    seed: int | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """Weights' dtype; ``auto`` = bfloat16 (float16 on older GPUs) on CUDA; on CPU float32, with bfloat16
    autocast where the CPU computes bfloat16 natively (AVX512-BF16/AMX). ``float32`` = no autocast."""
    gradient_checkpointing: bool | None = None
    """Recompute activations in the backward pass; ``None`` = on with CUDA, off on CPU."""
    save_steps: int = Field(25, ge=1)
    """Checkpoint every this many optimizer steps (and on Ctrl-C); a rerun resumes from the last one."""
    max_memory_gib: float | None = Field(None, gt=0)
    """GPU memory to plan for; ``None`` = what the GPU found has."""
    check_memory: bool = True
    """Refuse a config whose memory estimate does not fit the GPU (on CPU: warn only)."""

    @model_validator(mode="before")
    @classmethod
    def _read_old_keys(cls, data: Any) -> Any:
        return upgrade_keys(data) if isinstance(data, dict) else data

    def settings(self, phase: Phase) -> SFTStageConfig | RLConfig:
        """The settings of ``phase``."""
        return getattr(self, SETTINGS[phase])

    def phase_enabled(self, phase: Phase) -> bool:
        return self.settings(phase).enabled

    def hashed(self) -> dict[str, Any]:
        """What the train stage's config hash covers: every setting, under the keys run folders were first
        written with (:data:`RENAMED`), so renaming a key never makes a finished run look changed."""
        old = {new: old for old, new in RENAMED.items()}
        return {old.get(k, k): v for k, v in hashed_dump(self).items()}


def upgrade_keys(data: dict[str, Any]) -> dict[str, Any]:
    """Train settings with the old keys (:data:`RENAMED`) under their new names, each with a one-line deprecation
    message. Where one mapping holds both names, the old key's settings win (presets use the new names, so an
    old key comes from the user); ``load_config`` upgrades each source before merging them."""
    if not RENAMED.keys() & data.keys():
        return data
    data = dict(data)
    for old, new in RENAMED.items():
        if old in data:
            log.warning("train.%s is deprecated: use train.%s (the same settings, renamed)", old, new)
            value, kept = data.pop(old), data.get(new)
            data[new] = {**kept, **value} if isinstance(kept, dict) and isinstance(value, dict) else value
    return data
