"""Configuration of the split stage (seen/unseen split, scenario datasets, leakage audit)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tooldojo.runs import HASHED_UNLESS_DEFAULT


class SplitConfig(BaseModel):
    """Family-level seen/unseen split and the scenario datasets built from it."""

    model_config = ConfigDict(extra="forbid")

    unseen_family_ratio: float = Field(0.2, ge=0, lt=1)
    """Share of tool families (with their clusters) held out as *unseen tools* (most families are trained)."""
    validation_family_ratio: float = Field(0.0, ge=0, lt=1, json_schema_extra=HASHED_UNLESS_DEFAULT)
    """Share of tool families (whole clusters, from the families left after the unseen ones) held out of
    training as the ``validation`` eval split: unseen tools for choosing settings (training targets, steps,
    learning rates) without looking at a test scenario. 0 (default): none, every remaining family trains."""
    unseen_query_ratio: float = Field(0.1, ge=0, lt=1)
    """Share of seen families' queries held out as *unseen queries* for seen tools."""
    unseen_styles: list[str] = Field(default_factory=list)
    """Query styles never shown in training (e.g. ``[casual]``). Empty (default): every style is trained, and
    each unseen family holds one of its styles out for ``unseen_tool_unseen_query``."""
    distractors: tuple[int, int] = (2, 4)
    """Min and max number of distractor tools (other families) per example."""
    kinds: list[str] = Field(default_factory=lambda: ["zero", "one", "weak_only", "weak_strong"])
    call_format: Literal["json", "python"] = "json"
    """Completion syntax of the ``select`` rows (``<tool_call>`` JSON, or Tool-Zero's ``<answer>name(...)``)."""
    rationale: Literal["verdict_first", "tool_first"] = Field("verdict_first", json_schema_extra=HASHED_UNLESS_DEFAULT)
    """How the SFT targets' <think> opens (:data:`tooldojo.prompting.Rationale`): the verdict first (default;
    a declined request opens with one fixed sentence), or a tool's name first and the verdict after it."""
    audit_max_jaccard: float = Field(0.7, gt=0, le=1)
    """A cross-split pair above this MinHash Jaccard is a leak: dedup's query/tool *removal* threshold
    (``dedup.minhash.threshold``), i.e. a pair dedup itself would call a duplicate. Held-out queries of a seen
    family legitimately share its templates with other arguments ("Translate X into Japanese" / "... into
    Dutch": Jaccard 0.53-0.62 on the results-cpu split), which a lower threshold reported as leaks."""
    audit_max_cosine: float = Field(0.92, gt=0, le=1)
    """A cross-split pair above this embedding cosine is a leak: dedup's removal threshold
    (``dedup.semantic.threshold``). On planted copies of training rows 0.7/0.92 caught 97.5% of the reworded,
    reordered and re-cased query copies and every renamed/reworded tool, with no false alarm (bench_audit);
    genuine same-template pairs on the results-cpu split reach 0.906."""
    audit_semantic: bool = True
    """Include the embedding nearest-neighbour check in the leakage audit."""
    fail_on_leak: bool = True
    """Fail the stage when the leakage audit fails (``false``: record it and warn, keeping the split)."""
    license: str = "apache-2.0"
    """License named in the dataset card."""
    pretty_name: str = "tooldojo tool-use generalization dataset"
    seed: int | None = None

    @field_validator("distractors")
    @classmethod
    def _distractors(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[0] < 0 or v[1] < v[0]:
            raise ValueError("distractors must be (min, max) with 0 <= min <= max")
        return v

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        bad = sorted(set(v) - {"zero", "one", "weak_only", "weak_strong"})
        if bad or not v:
            raise ValueError(f"kinds must be a non-empty subset of zero, one, weak_only, weak_strong (got {bad or v})")
        return v
