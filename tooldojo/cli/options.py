"""What every ``tooldojo`` command shares: option types, the error handler, config loading.

Every stage command takes ``--config FILE`` (the pipeline's YAML/TOML), ``--set key=value`` overrides and
``--run-dir``; it reads its inputs from the run folder and writes its outputs there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from tooldojo.errors import ToolDojoError

F = TypeVar("F", bound=Callable[..., Any])

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Pipeline config (.yaml/.yml/.toml).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", "-s", help="Override a config key: `section.key=value` (repeatable).")]
RunDirOpt = Annotated[Path | None, typer.Option("--run-dir", "-r", help="Run folder (default: config's run_dir, `runs/default`).")]
PresetOpt = Annotated[str | None, typer.Option("--preset", help="Start from a shipped preset: `demo`, `quick`, `results-cpu`, `results-gpu`, `results-tiny` (see tooldojo/presets/).")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Global seed (default: config's seed, 0).")]
ExecutorOpt = Annotated[str | None, typer.Option("--executor", help="`local` (default) or `ray` (needs `tooldojo[ray]`; see docs/scaling.md); sets execution.executor.")]
RayAddressOpt = Annotated[str | None, typer.Option("--ray-address", help="Ray cluster to use (`ray://head:10001`, `auto`); default: start Ray on this machine. Sets execution.ray_address.")]
RayWorkersOpt = Annotated[int | None, typer.Option("--ray-workers", help="Parallel Ray tasks (default: the cluster's CPUs); sets execution.ray_workers.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Rerun even when up to date.")]


def handle_errors(fn: F) -> F:
    """Turn user errors into one red line on stderr and exit code 2; Ctrl-C into exit 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ToolDojoError as err:
            typer.secho(f"error: {err}", fg="red", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.secho("interrupted: finished work is saved; rerun the same command to resume", fg="yellow", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def load_pipeline_config(config: Path | None, overrides: list[str] | None, *, run_dir: Path | None = None,
                         seed: int | None = None, extra: dict[str, Any] | None = None, preset: str | None = None):
    """The resolved :class:`~tooldojo.config.PipelineConfig` for a command: preset, file, then ``extra`` (the
    command's own flags), then ``--set`` overrides, then ``--run-dir``/``--seed``."""
    from tooldojo.config import deep_merge, load_config, parse_overrides

    merged = deep_merge(extra or {}, parse_overrides(overrides))
    if run_dir is not None:
        merged["run_dir"] = str(run_dir)
    if seed is not None:
        merged["seed"] = seed
    return load_config(config, merged, preset=preset)


def drop_none(d: dict[str, Any]) -> dict[str, Any]:
    """Nested dict without ``None`` leaves (so unset CLI flags don't override the config file)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            v = drop_none(v)
            if v:
                out[k] = v
        elif v is not None:
            out[k] = v
    return out


def execution_flags(executor: str | None, ray_address: str | None, ray_workers: int | None) -> dict[str, Any]:
    """``--executor/--ray-address/--ray-workers`` as the ``execution`` config section (unset flags left out)."""
    return drop_none({"execution": {"executor": executor, "ray_address": ray_address, "ray_workers": ray_workers}})
