"""Configuration of the dedup stage (MinHash-LSH and embedding filters)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MinHashConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    num_perm: int = Field(128, ge=16)
    threshold: float = Field(0.7, gt=0, lt=1)
    bands: int | None = None
    """Explicit LSH bands (with ``rows``); overrides ``threshold``'s optimal choice."""
    rows: int | None = None
    shingle: Literal["word", "char"] = "word"
    ngram: int = Field(3, ge=1)
    lowercase: bool = True
    strip_punctuation: bool = True
    seed: int = 1


class SemanticConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    model: str | None = None
    """A sentence-transformers id or path; ``None`` = all-MiniLM-L6-v2 from the offline package."""
    threshold: float = Field(0.92, gt=0, le=1)
    batch_size: int = Field(256, ge=1)
    block_size: int = Field(4096, ge=1)
    """Rows per block of the blockwise cosine similarity (bounds memory)."""
    device: str | None = None


class DedupConfig(BaseModel):
    """Near-duplicate (MinHash-LSH) and semantic (embedding) filters over tools and queries."""

    model_config = ConfigDict(extra="forbid")

    minhash: MinHashConfig = Field(default_factory=MinHashConfig)
    semantic: SemanticConfig = Field(default_factory=SemanticConfig)
    apply_to: list[Literal["tools", "queries"]] = Field(default_factory=lambda: ["tools", "queries"])
    examples_in_report: int = Field(5, ge=0)
