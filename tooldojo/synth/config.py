"""Configuration of the synth stage (teacher, templates, sizes)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tooldojo.runs import NOT_HASHED

OFFLINE = "offline"


class TeacherConfig(BaseModel):
    """Where the teacher LLM is and how hard to drive it. ``model="offline"`` needs no network or key."""

    model_config = ConfigDict(extra="forbid")

    model: str = OFFLINE
    """A model name on ``base_url`` (e.g. ``gpt-4o-mini``), or ``offline`` for the seed-catalog teacher."""
    base_url: str | None = None
    """Any OpenAI-compatible endpoint (vLLM, llama.cpp, Ollama, ...); ``None`` = OpenAI's own."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the key (the key itself is never stored)."""
    # how hard to drive the server does not change what it answers: not part of the config hash
    concurrency: int = Field(16, ge=1, json_schema_extra=NOT_HASHED)
    requests_per_minute: int | None = Field(None, ge=1, json_schema_extra=NOT_HASHED)
    tokens_per_minute: int | None = Field(None, ge=1, json_schema_extra=NOT_HASHED)
    timeout_s: float = Field(60.0, gt=0, json_schema_extra=NOT_HASHED)
    """Seconds per attempt (per read: a reply that keeps arriving in chunks is not cut)."""
    max_retries: int = Field(6, ge=0, json_schema_extra=NOT_HASHED)
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(2048, ge=16)
    structured_output: Literal["auto", "json_schema", "json_object", "none"] = "auto"
    """``auto`` tries a JSON-schema ``response_format`` and falls back when the server rejects it."""
    cache: bool = True
    price_per_million: tuple[float, float] | None = None
    """(prompt, completion) USD per million tokens, for the cost estimate; ``None`` = not priced."""
    max_cost_usd: float | None = Field(None, gt=0, json_schema_extra=NOT_HASHED)
    """Stop the run (resumable, answers cached) once the measured cost reaches this; needs
    ``price_per_million``. Not part of the config hash."""
    breaker_window: int = Field(20, ge=0, json_schema_extra=NOT_HASHED)
    """The circuit breaker looks at this many recent sent requests (0 = off; at least 10 of them, or the
    window, before it can trip)."""
    breaker_failure_ratio: float = Field(0.8, gt=0, le=1, json_schema_extra=NOT_HASHED)
    """Share of failed requests in the window that stops the run."""


class SynthConfig(BaseModel):
    """Tools -> upgraded variants -> queries, from Jinja templates and a teacher."""

    model_config = ConfigDict(extra="forbid")

    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    templates: Path | None = None
    """A folder of Jinja files overriding any subset of the shipped templates (for ablations)."""
    domains: list[str] | None = None
    """Domains to synthesize for; ``None`` = every domain of the seed catalog."""
    families_per_domain: int = Field(4, ge=1)
    queries_per_family: int = Field(10, ge=1)
    styles: list[str] = Field(default_factory=lambda: ["imperative", "question", "contextual", "casual"],
                              min_length=1)
    seed_tools: str | None = None
    """Strong tools from an existing dataset (path or Hub id, see ``tooldojo.formats``) instead of the teacher."""
    seed_tools_cap: int | None = Field(None, ge=1)
    """At most this many seed tools: a sample seeded by the run seed, alternating between the imported
    domains; ``None`` = every tool. ``domains`` also filters seed tools when the imported tools carry one."""
    semantic_margin: float | None = Field(0.1, ge=0)
    """Meaning checks with a real teacher (sentence embeddings, docs/synth.md): an upgrade closer to another
    domain's weak tool, or a family's queries (on average) closer to another family's tools, than to their own
    by more than this cosine margin are rejected and asked again on a rerun; a single query closer to another
    family by twice the margin is dropped. ``None`` = off. The offline teacher answers from the catalog and is
    not checked."""
    verify: bool = True
    """Run the critique/verification template on every query (drops the ones the teacher rejects)."""
    tools_per_request: int = Field(8, ge=1)
    """At most this many new tools per ``tools`` request (a domain asks again, avoiding earlier names)."""
    catalog: Path | None = None
    """A seed-catalog folder (``*.json`` domain files) instead of the shipped one: few-shot seeds and the
    offline teacher's source."""
    seed: int | None = None
