"""Configuration of the eval stage."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EvalConfig(BaseModel):
    """Which model(s) to evaluate on which scenario sets, and how to generate."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    """A model folder, Hub id or adapter folder; ``None`` = the train stage's final model of this run."""
    base_url: str | None = None
    """Evaluate an OpenAI-compatible endpoint instead of a local model (``model`` is then its name)."""
    api_key_env: str = "OPENAI_API_KEY"
    scenarios: list[str] | None = None
    """Scenario splits to run; ``None`` = all."""
    tasks: list[str] = Field(default_factory=lambda: ["select", "rank"])
    limit: int | None = None
    """At most this many examples per scenario (seeded sample)."""
    batch_size: int = Field(16, ge=1)
    max_new_tokens: int = Field(256, ge=8)
    concurrency: int = Field(16, ge=1)
    html: bool = False
    seed: int | None = None
