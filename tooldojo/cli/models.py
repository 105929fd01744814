"""``tooldojo models`` (prepare and inspect the offline models) and ``tooldojo config`` (validate a config)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tooldojo.cli.options import ConfigOpt, PresetOpt, SetOpt, handle_errors, load_pipeline_config


def register(app: typer.Typer) -> None:
    """Add the ``models`` group and the ``config`` command to ``app``."""
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
