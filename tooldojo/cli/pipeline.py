"""``tooldojo pipeline``: every stage in one run folder (see :mod:`tooldojo.pipeline`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tooldojo.cli.options import (
    ConfigOpt,
    PresetOpt,
    RunDirOpt,
    SeedOpt,
    SetOpt,
    handle_errors,
    load_pipeline_config,
)


def register(app: typer.Typer) -> None:
    """Add the ``pipeline`` command to ``app``."""
    @app.command("pipeline")
    @handle_errors
    def pipeline_cmd(
        config: ConfigOpt = None,
        overrides: SetOpt = None,
        run_dir: RunDirOpt = None,
        seed: SeedOpt = None,
        preset: PresetOpt = None,
        quick: Annotated[bool, typer.Option("--quick", help="Same as --preset quick: tiny model, minimal budgets.")] = False,
        only: Annotated[str | None, typer.Option("--stages", help="Comma-separated subset, e.g. `split,train,eval`.")] = None,
        force: Annotated[bool, typer.Option("--force", help="Rerun stages even when up to date.")] = False,
    ) -> None:
        """Run every stage: synth -> dedup -> split -> train -> eval (base vs trained).

        Examples:

        ```
        tooldojo pipeline --preset demo --run-dir runs/demo   # offline, CPU, minutes
        tooldojo pipeline --quick                             # tiny-model smoke run
        tooldojo pipeline -c my.yaml --set synth.teacher.model=gpt-4o-mini
        tooldojo pipeline -c my.yaml --stages train,eval      # retrain on the same data
        ```
        """
        from tooldojo.errors import ConfigError
        from tooldojo.pipeline import STAGES, run_pipeline

        cfg = load_pipeline_config(config, overrides, run_dir=run_dir, seed=seed, preset="quick" if quick else preset)
        stages = tuple(s.strip() for s in only.split(",")) if only else STAGES
        unknown = [s for s in stages if s not in STAGES]
        if unknown:
            raise ConfigError(f"unknown stage(s) {unknown}", field="--stages", fix=f"choose from {','.join(STAGES)}")
        results = run_pipeline(cfg, stages=tuple(s for s in STAGES if s in stages), force=force)
        typer.echo(json.dumps({r.stage: {"ran": r.ran, "seconds": round(r.seconds, 1)} for r in results}))
