"""The five variants of the results run: their labels, the training run each comes from, and the model folder
each evaluation loads."""

from __future__ import annotations

from pathlib import Path

from tooldojo.config import PipelineConfig
from tooldojo.train.config import TrainConfig

LABELS: dict[str, str] = {
    "base": "(a) base",
    "select_only": "(b) selection-only SFT",
    "two_stage": "(c) two-stage SFT",
    "two_stage_rl": "(d) two-stage SFT + GRPO",
    "rl_from_base": "(e) GRPO from base",
}
TRAINED_BY: dict[str, str | None] = {"base": None, "select_only": "select_only", "two_stage": "two_stage",
                                     "two_stage_rl": "two_stage", "rl_from_base": "rl_from_base"}
"""Variant -> the training run that produces it ((c) and (d) share one: (d) continues (c) into GRPO)."""
MERGED_STAGE2 = "stage2-merged"
AUDIT = "bfcl-audit"


def base_model(cfg: PipelineConfig) -> str:
    return cfg.train.model or "gemma-3-270m"


def training_runs(cfg: PipelineConfig) -> dict[str, TrainConfig]:
    """The training runs the chosen variants need, each a :class:`TrainConfig` derived from ``cfg.train``:
    b trains stage 2 alone for as many steps as c's two stages together; e trains GRPO from the base model
    for as many steps as d's GRPO."""
    t, wanted = cfg.train, set(cfg.ablate.variants)
    off = {"enabled": False}
    runs: dict[str, TrainConfig] = {}
    if "select_only" in wanted:
        runs["select_only"] = t.model_copy(update={
            "rank": t.rank.model_copy(update=off),
            "select": t.select.model_copy(update={"enabled": True, "max_steps": t.rank.max_steps + t.select.max_steps}),
            "rl": t.rl.model_copy(update=off)})
    if wanted & {"two_stage", "two_stage_rl"}:
        runs["two_stage"] = t.model_copy(update={
            "rank": t.rank.model_copy(update={"enabled": True}),
            "select": t.select.model_copy(update={"enabled": True}),
            "rl": t.rl.model_copy(update={"enabled": "two_stage_rl" in wanted, "init": "sft"})})
    if "rl_from_base" in wanted:
        runs["rl_from_base"] = t.model_copy(update={
            "rank": t.rank.model_copy(update=off), "select": t.select.model_copy(update=off),
            "rl": t.rl.model_copy(update={"enabled": True, "init": "base"})})
    return runs


def variant_dir(run_dir: Path, name: str) -> Path:
    return Path(run_dir) / "variants" / name


def variant_model(cfg: PipelineConfig, variant: str) -> str:
    """What a variant's evaluation loads: the base model, or a merged model folder of its training run."""
    train = TRAINED_BY[variant]
    if train is None:
        return base_model(cfg)
    folder = variant_dir(cfg.run_dir, train)
    if variant == "two_stage" and "two_stage_rl" in cfg.ablate.variants:
        return str(folder / MERGED_STAGE2)
    return str(folder / "train" / "final")
