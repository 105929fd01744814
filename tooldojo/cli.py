"""The ``tooldojo`` command: one subcommand per stage, and ``pipeline`` for all of them.

Every stage command takes ``--config FILE`` (the pipeline's YAML/TOML), ``--set key=value`` overrides and
``--run-dir``; it reads its inputs from the run folder and writes its outputs there. Heavy libraries are
imported inside the commands, so ``tooldojo --help`` is instant.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from tooldojo import __version__
from tooldojo.errors import ToolDojoError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="tooldojo",
    help="Teach small language models to generalize in tool use (GenTool + Tool-Zero).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Pipeline config (.yaml/.yml/.toml).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", "-s", help="Override a config key: `section.key=value` (repeatable).")]
RunDirOpt = Annotated[Path | None, typer.Option("--run-dir", "-r", help="Run folder (default: config's run_dir, `runs/default`).")]
PresetOpt = Annotated[str | None, typer.Option("--preset", help="Start from a shipped preset: `demo`, `quick`, `results-cpu`, `results-gpu`, `results-tiny` (see tooldojo/presets/).")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Global seed (default: config's seed, 0).")]
ExecutorOpt = Annotated[str | None, typer.Option("--executor", help="`local` (default) or `ray` (needs `tooldojo[ray]`; see docs/scaling.md).")]
RayAddressOpt = Annotated[str | None, typer.Option("--ray-address", help="Ray cluster to use (`ray://head:10001`, `auto`); default: start Ray on this machine.")]
RayWorkersOpt = Annotated[int | None, typer.Option("--ray-workers", help="Ray shards/partitions/actors (default: the cluster's CPUs).")]


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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tooldojo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Teach small language models to generalize in tool use (GenTool + Tool-Zero)."""


def _register_stages() -> None:
    from tooldojo.ablate.cli import register as register_ablate
    from tooldojo.dataset.cli import register as register_split
    from tooldojo.dedup.cli import register as register_dedup
    from tooldojo.eval.cli import register as register_eval
    from tooldojo.formats.cli import register as register_formats
    from tooldojo.pipeline import register as register_pipeline
    from tooldojo.synth.cli import register as register_synth
    from tooldojo.train.cli import register as register_train

    for register in (register_synth, register_dedup, register_split, register_train, register_eval,
                     register_formats, register_pipeline, register_ablate):
        register(app)


models_app = typer.Typer(help="Prepare and inspect models (offline defaults).", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("prepare")
@handle_errors
def models_prepare(
    model: Annotated[str, typer.Argument(help="`gemma-3-270m` (offline package), `tiny`, a Hub id or a folder.")] = "gemma-3-270m",
    force: Annotated[bool, typer.Option(help="Rebuild even if cached.")] = False,
) -> None:
    """Turn the offline Gemma-3-270M GGUF into a Hugging Face folder (or build the tiny test model).

    Examples:

    ```
    tooldojo models prepare          # Gemma-3-270M base, ~1 min on CPU, cached
    tooldojo models prepare tiny     # 2-layer Gemma-3 with the real tokenizer
    ```
    """
    from tooldojo.models import DEFAULT_MODEL, TINY_MODEL, build_tiny_model, load_tokenizer, prepare_gemma

    if model in (DEFAULT_MODEL, "default"):
        path = prepare_gemma(force=force)
    elif model == TINY_MODEL:
        path = build_tiny_model(force=force)
    else:
        load_tokenizer(model)  # a Hub id or path: check that it loads
        path = Path(model)
    typer.echo(str(path))


@models_app.command("path")
def models_path() -> None:
    """Print tooldojo's cache folder (models, tokenizers, teacher caches)."""
    from tooldojo.models import cache_dir

    typer.echo(str(cache_dir()))


@app.command("config")
@handle_errors
def config_cmd(
    config: ConfigOpt = None,
    overrides: SetOpt = None,
    preset: PresetOpt = None,
    show: Annotated[bool, typer.Option("--show", help="Print the resolved config (defaults filled in).")] = True,
) -> None:
    """Validate a config file and print it resolved, with every default.

    Example: `tooldojo config -c my.yaml --set synth.teacher.model=gpt-4o-mini`
    """
    from tooldojo.config import dump_config

    cfg = load_pipeline_config(config, overrides, preset=preset)
    if show:
        typer.echo(dump_config(cfg), nl=False)


def main() -> None:
    _register_stages()
    app(prog_name="tooldojo")


if __name__ == "__main__":
    sys.exit(main())
