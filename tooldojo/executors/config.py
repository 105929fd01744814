"""Where and how wide the stages run: the ``execution`` config section (outside every stage's config, so it
is not part of any stage's config hash: a run finished on one executor is up to date on the other)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tooldojo.errors import ConfigError

EXECUTION_KEYS = ("executor", "ray_address", "ray_workers")
"""The settings the ``synth`` and ``dedup`` sections held before they moved to ``execution``."""


class ExecutionConfig(BaseModel):
    """The executor that runs the parallel work of ``synth`` and ``dedup`` (docs/scaling.md)."""

    model_config = ConfigDict(extra="forbid")

    executor: Literal["local", "ray"] = "local"
    """``ray``: run on a Ray cluster (``tooldojo[ray]``); same outputs as ``local``."""
    ray_address: str | None = None
    """An existing Ray cluster (``ray://host:10001`` or ``auto``); ``None`` starts Ray on this machine."""
    ray_workers: int | None = Field(None, ge=1)
    """Parallel Ray tasks (synth shards per step, dedup partitions and actors); ``None`` = the cluster's CPUs."""


def move_deprecated_keys(data: dict[str, Any], sections: tuple[str, ...] = ("synth", "dedup"),
                         warn: Any = None) -> dict[str, Any]:
    """``data`` (a pipeline config mapping) with the old ``<section>.executor``/``ray_address``/``ray_workers``
    keys moved to ``execution.*``; ``warn`` gets one line per old key. Two places giving different values
    for one key are an error naming both."""
    import sys

    warn = warn or (lambda line: print(line, file=sys.stderr))
    out = dict(data)
    execution = dict(out.get("execution") or {})
    origin = {k: "execution" for k in execution}
    for section in sections:
        if not isinstance(out.get(section), dict) or not any(k in out[section] for k in EXECUTION_KEYS):
            continue
        out[section] = dict(out[section])
        for key in EXECUTION_KEYS:
            if key not in out[section]:
                continue
            value = out[section].pop(key)
            warn(f"warning: config key {section}.{key} is deprecated: use execution.{key}")
            if key in execution and execution[key] != value:
                raise ConfigError(f"{section}.{key}={value!r} conflicts with {origin[key]}.{key}="
                                  f"{execution[key]!r}", field=f"execution.{key}",
                                  fix=f"set it once, as execution.{key}")
            execution[key], origin[key] = value, f"{section}"
    if execution:
        out["execution"] = execution
    return out
