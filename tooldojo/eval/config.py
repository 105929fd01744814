"""Configuration of the eval stage."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BFCL_VERSION = "2026.3.23"
"""The ``bfcl-eval`` release tooldojo installs by default (the one its BFCL path was tested with)."""

BFCL_DEFAULT_CATEGORIES = [
    "simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance",
    "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance",
    "live_relevance",
]
"""BFCL's single-turn Python categories (its ``python`` collection): the AST-checked ones."""


class BFCLConfig(BaseModel):
    """The Berkeley Function Calling Leaderboard as an outside check (``tooldojo eval bfcl``)."""

    model_config = ConfigDict(extra="forbid")

    categories: list[str] = Field(default_factory=lambda: list(BFCL_DEFAULT_CATEGORIES))
    """BFCL test categories (single-turn ones), or the collections ``python``, ``live``, ``non_live``."""
    limit: int | None = Field(None, ge=1)
    """At most this many entries per category (seeded sample); ``None`` = all."""
    version: str | None = BFCL_VERSION
    """``bfcl-eval`` version installed by ``--setup``; ``None`` = the newest on PyPI."""
    venv: Path | None = None
    """Where the isolated ``bfcl-eval`` environment lives; ``None`` = ``<tooldojo cache>/bfcl-venv``."""


class EvalConfig(BaseModel):
    """Which model(s) to evaluate on which scenario sets, and how to generate."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    """A model folder, Hub id or adapter folder; ``None`` = the train stage's final model of this run."""
    base_url: str | None = None
    """Evaluate an OpenAI-compatible endpoint instead of a local model (``model`` is then its name)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the endpoint's API key (the key itself is never stored)."""
    dataset: Path | None = None
    """A scenario dataset folder (with an ``eval`` config) or a Hub dataset repo id (``user/name``);
    ``None`` = ``<run>/split/dataset``."""
    scenarios: list[str] | None = None
    """Scenario splits to run; ``None`` = all."""
    tasks: list[Literal["select", "rank"]] = Field(default_factory=lambda: ["select", "rank"])
    call_format: Literal["json", "python"] | None = None
    """Completion syntax asked for in the select prompt; ``None`` = the one the dataset's prompts use."""
    limit: int | None = Field(None, ge=1)
    """At most this many examples per scenario (seeded sample of whole queries, so Zero-to-One pairs stay
    together)."""
    backend: Literal["auto", "hf", "vllm", "openai"] = "auto"
    """``auto``: ``openai`` when ``base_url`` is set, else vLLM when installed on CUDA, else transformers."""
    batch_size: int | None = Field(None, ge=1)
    """Local generation batch size; ``None`` = 64 on CUDA, 8 on CPU (a CUDA out-of-memory error halves it)."""
    max_new_tokens: int | None = Field(None, ge=8)
    """Generation cap for every request; ``None`` = per task (192 tokens for select, 128 for rank; 256 for
    BFCL). Generation also stops at the task's closing tag."""
    temperature: float = Field(0.0, ge=0)
    """0 = greedy decoding."""
    top_p: float = Field(1.0, gt=0, le=1)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """``auto``: bfloat16 on CUDA and on CPUs with native bfloat16 (AVX512-BF16/AMX), else float32."""
    concurrency: int = Field(16, ge=1)
    """Requests in flight at once against an endpoint."""
    max_retries: int = Field(4, ge=0)
    """Retries of an endpoint request on rate limits, server errors and timeouts (with backoff)."""
    request_timeout: float = Field(120.0, gt=0)
    html: bool = False
    """Also write ``report.html``."""
    seed: int | None = None
    bfcl: BFCLConfig = Field(default_factory=BFCLConfig)
