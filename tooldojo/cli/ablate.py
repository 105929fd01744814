"""``tooldojo ablate``: the results run (every variant trained from one split, evaluated on the same sets)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
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
    """Add the ``ablate`` command to ``app``."""

    @app.command("ablate")
    @handle_errors
    def ablate_cmd(
        config: ConfigOpt = None,
        overrides: SetOpt = None,
        run_dir: RunDirOpt = None,
        seed: SeedOpt = None,
        preset: PresetOpt = None,
        variants: Annotated[str | None, typer.Option("--variants", help="Comma-separated subset of base, select_only, two_stage, two_stage_rl, rl_from_base (default: all).")] = None,
        docs: Annotated[Path | None, typer.Option("--docs", help="Also write results.md, results.json and results.png to this folder (e.g. `docs`).")] = None,
        plan_only: Annotated[bool, typer.Option("--plan", help="Print the steps and their planned minutes, check the settings, and exit.")] = False,
        report_only: Annotated[bool, typer.Option("--report", help="Write the results page from what the run folder holds now (e.g. while the run goes on, or after an interruption) and exit; runs nothing.")] = False,
        force: Annotated[bool, typer.Option("--force", help="Rebuild synth, dedup and split even if finished (e.g. after changing synth settings in the same --run-dir); training and evaluation rerun where their inputs changed.")] = False,
    ) -> None:
        """Train every variant from one split, evaluate all on the same sets (+ BFCL), write the results page.

        Variants: (a) `base`, (b) `select_only` (stage 2 only, as many SFT steps as c), (c) `two_stage`
        (ranking, then selection), (d) `two_stage_rl` (c, then Tool-Zero GRPO), (e) `rl_from_base` (GRPO from
        the base model, as many steps as d). Every step is a stage with a manifest: rerunning the same command
        after an interruption skips what is finished. Writes `RUN/results/results.md|json|png`.

        Examples:

        ```
        tooldojo eval bfcl --setup                                            # once, for BFCL
        tooldojo ablate --preset results-cpu --run-dir runs/results --docs docs   # ~3.8 h, 2 CPU cores
        tooldojo ablate --preset results-gpu --run-dir runs/results-gpu --docs docs
        tooldojo ablate --preset results-cpu --plan                           # the plan, nothing runs
        tooldojo ablate --preset results-tiny --run-dir runs/toy              # plumbing check, minutes
        ```
        """
        from tooldojo.ablate.runner import bfcl_available, check_config, plan, plan_table, run_ablate

        extra = {"ablate": {"variants": [v.strip() for v in variants.split(",") if v.strip()]}} if variants else None
        cfg = load_pipeline_config(config, overrides, run_dir=run_dir, seed=seed, extra=extra, preset=preset)
        if variants:  # BFCL for the chosen variants among those configured for it
            cfg.ablate.bfcl_variants = [v for v in cfg.ablate.bfcl_variants if v in cfg.ablate.variants]
        if plan_only:
            check_config(cfg)
            bfcl, why_not = bfcl_available(cfg)
            typer.echo(plan_table(plan(cfg, bfcl=bfcl)) + ("" if bfcl else f"\n\nBFCL will not run: {why_not}"))
            return
        if report_only:
            from tooldojo.ablate.results import write_results

            bfcl, why_not = bfcl_available(cfg)
            ran = [a for a in sys.argv[1:] if a != "--report"]  # the command that runs (and resumes) this page's work
            record = write_results(cfg, bfcl_note=None if bfcl else why_not, docs=docs, command="tooldojo " + shlex.join(ran),
                                   wall_seconds=None, planned_seconds=sum(s.planned for s in plan(cfg, bfcl=bfcl)))
            typer.echo(json.dumps({"results": str(cfg.run_dir / "results" / "results.md"), "status": record["status"]}))
            return
        record = run_ablate(cfg, docs=docs, command="tooldojo " + shlex.join(sys.argv[1:]), force_data=force)
        typer.echo(json.dumps({"results": str(cfg.run_dir / "results" / "results.md"), "status": record["status"]}))
