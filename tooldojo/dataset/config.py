"""Configuration of the split stage (seen/unseen split, scenario datasets, leakage audit)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SplitConfig(BaseModel):
    """Family-level seen/unseen split and the scenario datasets built from it."""

    model_config = ConfigDict(extra="forbid")

    unseen_family_ratio: float = Field(0.25, ge=0, lt=1)
    """Share of tool families (with their clusters) held out as *unseen tools*."""
    unseen_query_ratio: float = Field(0.2, ge=0, lt=1)
    """Share of seen families' queries held out as *unseen queries* for seen tools."""
    unseen_styles: list[str] = Field(default_factory=lambda: ["casual"])
    """Query styles never shown in training: the *unseen queries* of unseen-tool scenarios."""
    distractors: tuple[int, int] = (2, 4)
    """Min and max number of distractor tools (other families) per example."""
    kinds: list[str] = Field(default_factory=lambda: ["zero", "one", "weak_only", "weak_strong"])
    audit_max_jaccard: float = Field(0.8, gt=0, le=1)
    audit_max_cosine: float = Field(0.95, gt=0, le=1)
    seed: int | None = None
