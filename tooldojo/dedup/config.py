"""Configuration of the dedup stage (MinHash-LSH and embedding filters)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tooldojo.runs import NOT_HASHED


class MinHashConfig(BaseModel):
    """Near-duplicate text: MinHash signatures + LSH (datasketch-compatible, see ``dedup/minhash.py``)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    num_perm: int = Field(128, ge=16)
    threshold: float = Field(0.7, gt=0, lt=1)
    """Estimated Jaccard at or above which two texts are duplicates."""
    link_threshold: float = Field(0.5, gt=0, lt=1)
    """Jaccard at or above which two families are *close*: linked in a cluster, kept on one split side."""
    bands: int | None = None
    """Explicit LSH bands (with ``rows``); overrides ``threshold``'s optimal choice."""
    rows: int | None = None
    shingle: Literal["word", "char"] = "word"
    ngram: int = Field(3, ge=1)
    lowercase: bool = True
    strip_punctuation: bool = True
    seed: int = 1
    reference_index: Path | None = None
    """A saved index (``dedup/index/queries.pkl`` of an earlier run, or ``tooldojo dedup-index``): queries
    that duplicate an item in it are removed, e.g. to keep a new batch apart from a published dataset."""

    @model_validator(mode="after")
    def _check(self) -> MinHashConfig:
        if self.link_threshold > self.threshold:
            raise ValueError("link_threshold must not exceed threshold")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError("bands × rows must not exceed num_perm")
        return self


class SemanticConfig(BaseModel):
    """Semantic duplicates: sentence-transformers embeddings; cosine pairs by exact blockwise search up to
    ``exact_up_to`` rows, above it by an approximate-nearest-neighbour index (faiss HNSW)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    model: str | None = None
    """A sentence-transformers id or path; ``None`` = all-MiniLM-L6-v2 from the offline package (English
    only). For other languages use a multilingual model, e.g.
    ``sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2`` (cached or a local folder)."""
    max_unknown_share: float = Field(0.5, ge=0, le=1)
    """A text whose tokens are more than this share unknown to the model's tokenizer (e.g. Chinese under
    all-MiniLM-L6-v2: all ``[UNK]``) is not compared by embeddings (MinHash still sees it)."""
    exact_up_to: int = Field(50_000, ge=0)
    """Up to this many rows, every pair's cosine is computed (exact); above, the ANN index finds the pairs."""
    neighbors: int = Field(16, ge=1)
    """ANN: nearest neighbours looked up per row (pairs beyond a row's ``neighbors`` closest are missed)."""
    ann_m: int = Field(16, ge=4)
    """ANN: HNSW graph degree (M)."""
    ann_ef_search: int = Field(64, ge=1)
    """ANN: HNSW search depth (efSearch; efConstruction is the same)."""
    threshold: float = Field(0.92, gt=0, le=1)
    """Cosine at or above which two texts are duplicates."""
    link_threshold: float = Field(0.85, gt=0, le=1)
    """Cosine at or above which two families are close (linked in a cluster)."""
    batch_size: int = Field(256, ge=1)
    block_size: int = Field(4096, ge=1)
    """Rows per block of the blockwise cosine similarity (bounds memory)."""
    device: str | None = None

    @model_validator(mode="after")
    def _check(self) -> SemanticConfig:
        if self.link_threshold > self.threshold:
            raise ValueError("link_threshold must not exceed threshold")
        return self


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
