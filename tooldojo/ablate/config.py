"""Configuration of the results run (``tooldojo ablate``): which variants, BFCL, and the time plan."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Variant = Literal["base", "select_only", "two_stage", "two_stage_rl", "rl_from_base"]
VARIANTS: tuple[Variant, ...] = ("base", "select_only", "two_stage", "two_stage_rl", "rl_from_base")


class CostModel(BaseModel):
    """Measured seconds per unit of work on the target machine. The plan multiplies them by the budgets to
    print (and check) the expected wall time; they never change what is trained or evaluated."""

    model_config = ConfigDict(extra="forbid")

    data_seconds: float = Field(300.0, ge=0)
    """synth + dedup + split, once."""
    sft_step_seconds: float = Field(3.6, ge=0)
    """One SFT optimizer step at the configured batch size and lengths."""
    rl_step_seconds: float = Field(14.7, ge=0)
    """One GRPO step at the configured rollouts and completion length."""
    eval_example_seconds: float = Field(0.5, ge=0)
    """One generated evaluation output (scenario or BFCL)."""
    model_seconds: float = Field(30.0, ge=0)
    """Per training run or evaluation: loading, merging and saving a model."""
    audit_seconds: float = Field(150.0, ge=0)
    """The leakage audit against BFCL (embedding BFCL's questions and function docs)."""


class AblateConfig(BaseModel):
    """The comparison ``tooldojo ablate`` runs: variants trained from one split and evaluated on the same sets.

    Variants: ``base`` (a, untuned), ``select_only`` (b, stage-2 SFT only: the GenTool ablation),
    ``two_stage`` (c, ranking then selection), ``two_stage_rl`` (d, c then Tool-Zero GRPO), ``rl_from_base``
    (e, GRPO from the base model). b trains as many SFT steps as c's two stages together; e as many GRPO
    steps as d."""

    model_config = ConfigDict(extra="forbid")

    variants: list[Variant] = Field(default_factory=lambda: list(VARIANTS), min_length=1)
    bfcl_variants: list[Variant] = Field(default_factory=lambda: ["base", "two_stage", "two_stage_rl"])
    """Variants also scored on BFCL (``eval.bfcl.categories``, whole categories unless ``eval.bfcl.limit``)."""
    bfcl: Literal["auto", "on", "off"] = "auto"
    """``on``: BFCL is required (checked before any work); ``auto``: run it when the bfcl-eval environment is
    set up, else report it as not run; ``off``: skip it."""
    min_eval_examples: int = Field(1, ge=1)
    """Every evaluated scenario must hold at least this many select examples (checked right after the split,
    before any training)."""
    budget_hours: float | None = Field(None, gt=0)
    """Refuse to start when the planned time (``cost`` × budgets) exceeds this."""
    cost: CostModel = Field(default_factory=CostModel)

    @field_validator("bfcl", mode="before")
    @classmethod
    def _yaml_switch(cls, v: object) -> object:
        """YAML reads a bare ``on``/``off`` (as in ``--set ablate.bfcl=off``) as a boolean."""
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v
