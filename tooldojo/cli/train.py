"""CLI commands of the train stage (registered on the main `tooldojo` app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tooldojo.cli.options import (
    ConfigOpt,
    PresetOpt,
    RunDirOpt,
    SeedOpt,
    SetOpt,
    drop_none,
    handle_errors,
    load_pipeline_config,
)


def _phases(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [p.strip() for p in value.split(",") if p.strip()]


def register(app: typer.Typer) -> None:
    """Add this stage's commands to `app`."""

    @app.command("train")
    @handle_errors
    def train_cmd(
        config: ConfigOpt = None,
        overrides: SetOpt = None,
        run_dir: RunDirOpt = None,
        seed: SeedOpt = None,
        preset: PresetOpt = None,
        model: Annotated[str | None, typer.Option("--model", "-m", help="Hub id or folder; `tiny`; default Gemma-3-270M base (offline).")] = None,
        backend: Annotated[str | None, typer.Option("--backend", help="`auto` (Unsloth on CUDA if installed), `unsloth` or `hf`.")] = None,
        compile_: Annotated[str | None, typer.Option("--compile", help="Unsloth's torch.compile: `auto` (when the planned steps repay it), `on` or `off`.")] = None,
        phases: Annotated[str | None, typer.Option("--phases", help="Run only these phases now: `stage1` (rank), `stage2` (select), `rl`, e.g. `stage2,rl` (default: every enabled one).")] = None,
        no_rank: Annotated[bool, typer.Option("--no-rank", help="Ablation: skip the ranking stage (train.rank); selection starts from the base model.")] = False,
        no_rl: Annotated[bool, typer.Option("--no-rl", help="Leave out RL (two-stage SFT only).")] = False,
        rl_init: Annotated[str | None, typer.Option("--rl-init", help="RL starts from `sft` (stage 2's result) or `base` (Tool-Zero).")] = None,
        call_format: Annotated[str | None, typer.Option("--call-format", help="Completion syntax: `json` (<tool_call>) or `python` (<answer>).")] = None,
        full: Annotated[bool, typer.Option("--full", help="Full fine-tune instead of LoRA.")] = False,
        four_bit: Annotated[bool | None, typer.Option("--4bit/--no-4bit", help="QLoRA 4-bit weights (CUDA; default: on when available).")] = None,
        rank_steps: Annotated[int | None, typer.Option("--rank-steps", help="Ranking (stage 1) optimizer steps.")] = None,
        select_steps: Annotated[int | None, typer.Option("--select-steps", help="Selection (stage 2) optimizer steps.")] = None,
        rl_steps: Annotated[int | None, typer.Option("--rl-steps", help="GRPO steps.")] = None,
        max_examples: Annotated[int | None, typer.Option("--max-examples", help="Rows per phase (seeded sample).")] = None,
        max_length: Annotated[int | None, typer.Option("--max-length", help="Longest SFT row in tokens (longer rows are left out).")] = None,
        estimate: Annotated[bool, typer.Option("--estimate", help="Print each phase's memory estimate and exit.")] = False,
        force: Annotated[bool, typer.Option("--force", help="Retrain even when up to date.")] = False,
        no_stage1: Annotated[bool, typer.Option("--no-stage1", hidden=True)] = False,
        stage1_steps: Annotated[int | None, typer.Option("--stage1-steps", hidden=True)] = None,
        stage2_steps: Annotated[int | None, typer.Option("--stage2-steps", hidden=True)] = None,
    ) -> None:
        """Fine-tune on the run's scenario dataset: stage 1 (ranking), stage 2 (selection + call), RL (Tool-Zero).

        Writes `train/stage1`, `train/stage2`, `train/rl` (adapters, `log.jsonl`) and `train/final` (a merged,
        ready-to-load model). Ctrl-C saves a checkpoint; rerunning the same command resumes.

        Examples:

        ```
        tooldojo train --run-dir runs/demo                       # every enabled phase, then final/
        tooldojo train -r runs/demo --phases stage1              # one phase alone
        tooldojo train -r runs/demo --no-rank                    # ablation: no ranking stage
        tooldojo train -r runs/demo --rl-init base --phases rl   # Tool-Zero: RL from the base model
        tooldojo train -r runs/demo -m Qwen/Qwen2.5-0.5B --4bit  # another model, QLoRA on a GPU
        tooldojo train -r runs/demo --estimate                   # memory estimate per phase
        ```
        """
        from tooldojo.errors import ConfigError

        for old, new, given in (("--no-stage1", "--no-rank", no_stage1), ("--stage1-steps", "--rank-steps", stage1_steps),
                                ("--stage2-steps", "--select-steps", stage2_steps)):
            if given not in (None, False):
                typer.secho(f"warning: {old} is deprecated: use {new}", fg="yellow", err=True)
        no_rank = no_rank or no_stage1
        rank_steps = stage1_steps if rank_steps is None else rank_steps
        select_steps = stage2_steps if select_steps is None else select_steps
        extra = drop_none({"train": {
            "model": model, "backend": backend, "compile": compile_, "call_format": call_format,
            "lora": {"enabled": False if full else None, "load_in_4bit": four_bit},
            "rank": {"enabled": False if no_rank else None, "max_steps": rank_steps,
                     "max_examples": max_examples, "max_length": max_length},
            "select": {"max_steps": select_steps, "max_examples": max_examples, "max_length": max_length},
            "rl": {"enabled": False if no_rl else None, "init": rl_init, "max_steps": rl_steps,
                   "max_examples": max_examples},
        }})
        cfg = load_pipeline_config(config, overrides, run_dir=run_dir, seed=seed, extra=extra, preset=preset)
        train_seed = cfg.seed_for("train")
        wanted = _phases(phases)
        from tooldojo.train.config import PHASES

        if wanted and any(p not in PHASES for p in wanted):
            raise ConfigError(f"unknown phase in {phases!r}", field="--phases", fix=f"choose from {','.join(PHASES)}")
        if estimate:
            from tooldojo.train.runner import estimate_train

            typer.echo(estimate_train(cfg.train, cfg.run_dir, seed=train_seed))
            return
        from tooldojo.train import run_train

        manifest = run_train(cfg.train, cfg.run_dir, seed=train_seed, force=force, phases=wanted)  # type: ignore[arg-type]
        final = cfg.run_dir / "train" / "final"
        typer.echo(str(final) if "final" in manifest.outputs else str(cfg.run_dir / "train"))

    @app.command("merge")
    @handle_errors
    def merge_cmd(
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the merged model to.")],
        run_dir: RunDirOpt = None,
        phase: Annotated[str, typer.Option("--phase", help="Which phase's result: `stage1`, `stage2` or `rl`.")] = "stage2",
        base: Annotated[str | None, typer.Option("--base", help="Base model (default: the one the adapter names).")] = None,
        adapter: Annotated[Path | None, typer.Option("--adapter", help="Any PEFT adapter folder instead of a run's phase.")] = None,
    ) -> None:
        """Merge a trained LoRA adapter into its base model and save a ready-to-load folder (with tokenizer and
        chat template), e.g. to evaluate or ship the stage-2 model of a run.

        Examples:

        ```
        tooldojo merge -r runs/demo --phase stage2 -o models/demo-sft
        tooldojo merge --adapter runs/demo/train/rl/adapter -o models/demo-rl
        ```
        """
        from tooldojo.train.runner import export_phase

        typer.echo(str(export_phase(out, run_dir=run_dir or Path("runs/default"), phase=phase, base=base,
                                    adapter=adapter)))
