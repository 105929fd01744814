"""Configuration of the dedup stage (MinHash-LSH and embedding filters)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tooldojo.runs import NOT_HASHED
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
    executor: Literal["local", "ray"] = Field("local", json_schema_extra=NOT_HASHED)
    """``ray``: signatures, LSH banding, pair checks and embeddings run on a Ray cluster (``tooldojo[ray]``);
    the kept rows are the same as with ``local``. Not part of the config hash (it does not change outputs)."""
    ray_address: str | None = Field(None, json_schema_extra=NOT_HASHED)
    """An existing Ray cluster (``ray://host:10001`` or ``auto``); ``None`` starts Ray on this machine."""
    ray_workers: int | None = Field(None, ge=1, json_schema_extra=NOT_HASHED)
    """Parallel Ray tasks/actors (shuffle partitions, embedding actors); ``None`` = the cluster's CPUs."""
