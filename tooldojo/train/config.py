"""Configuration of the train stage (two-stage SFT and Tool-Zero RL)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LoraConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
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
    learning_rate: float = Field(2e-4, gt=0)
    batch_size: int = Field(4, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_length: int = Field(2048, ge=64)
    packing: bool = False
    max_examples: int | None = None


class RLConfig(BaseModel):
    """Tool-Zero: GRPO with rule-based rewards and the dynamic exploratory->exploitative shift."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    init: Literal["base", "sft"] = "sft"
    """Start from the base model (Tool-Zero) or from the stage-2 SFT checkpoint."""
    max_steps: int = Field(50, ge=1)
    num_generations: int = Field(4, ge=2)
    temperature: float = Field(0.8, gt=0)
    learning_rate: float = Field(5e-6, gt=0)
    batch_size: int = Field(4, ge=1)
    max_prompt_length: int = Field(2048, ge=64)
    max_completion_length: int = Field(256, ge=8)
    beta: float = Field(0.0, ge=0)
    """KL coefficient (Tool-Zero removes the KL term: 0)."""
    epsilon: float = Field(0.2, gt=0)
    kappa: float = Field(0.1, gt=0)
    """Steepness of the exploratory->exploitative sigmoid."""
    midpoint: float = Field(25, ge=0)
    """Switch point: a step count, or a fraction of ``max_steps`` when < 1."""
    max_examples: int | None = None


class TrainConfig(BaseModel):
    """Model, backend and the three training phases (stage 1, stage 2, RL)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    """A Hub id or local folder; ``None`` = Gemma-3-270M base from the offline package; ``tiny`` = a
    2-layer Gemma-3 with the real tokenizer (tests and ``--quick``)."""
    backend: Literal["auto", "unsloth", "hf"] = "auto"
    call_format: Literal["json", "python"] = "json"
    lora: LoraConfig = Field(default_factory=LoraConfig)
    stage1: SFTStageConfig = Field(default_factory=SFTStageConfig)
    stage2: SFTStageConfig = Field(default_factory=SFTStageConfig)
    rl: RLConfig = Field(default_factory=RLConfig)
    seed: int | None = None
