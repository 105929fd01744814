"""Configuration of the dedup stage (MinHash-LSH and embedding filters)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tooldojo.similarity.minhash import MinHashConfig
from tooldojo.similarity.semantic import SemanticConfig


class DedupConfig(BaseModel):
    """Near-duplicate (MinHash-LSH) and semantic (embedding) filters over tools and queries."""

    model_config = ConfigDict(extra="forbid")

    minhash: MinHashConfig = Field(default_factory=MinHashConfig)
    semantic: SemanticConfig = Field(default_factory=SemanticConfig)
    apply_to: list[Literal["tools", "queries"]] = Field(default_factory=lambda: ["tools", "queries"])
    link_queries: bool = True
    """Also link two families when queries of theirs are close (not only their tools)."""
    on_invalid: Literal["error", "drop"] = "error"
    """A row with a missing field or an invalid schema: stop with a message naming it (``error``), or
    drop it and count it in the report and ``removed.jsonl`` (``drop``)."""
    examples_in_report: int = Field(5, ge=0)
