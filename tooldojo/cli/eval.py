"""CLI commands of the eval stage: ``tooldojo eval``, ``tooldojo eval compare``, ``tooldojo eval bfcl``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tooldojo.cli.options import (
    ConfigOpt,
    ForceOpt,
    RunDirOpt,
    SeedOpt,
    SetOpt,
    drop_none,
    handle_errors,
    load_pipeline_config,
)

ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model folder, Hub id, adapter folder, `tiny`, `gemma-3-270m`, or the endpoint's model name (default: the run's train/final).")]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="Evaluate an OpenAI-compatible endpoint (e.g. http://localhost:8000/v1); key from $OPENAI_API_KEY or eval.api_key_env.")]
NameOpt = Annotated[str | None, typer.Option("--name", help="Report folder name under RUN/eval/ (default: a slug of the model).")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="At most this many examples per scenario (BFCL: per category).")]
BatchOpt = Annotated[int | None, typer.Option("--batch-size", help="Local generation batch size.")]
TokensOpt = Annotated[int | None, typer.Option("--max-new-tokens", help="Generation cap per output (default: per task, 192 select / 128 rank / 256 BFCL).")]
BackendOpt = Annotated[str | None, typer.Option("--backend", help="auto, hf, vllm or openai.")]
FormatOpt = Annotated[str | None, typer.Option("--call-format", help="json or python (default: the dataset's prompts; BFCL: json).")]
HtmlOpt = Annotated[bool | None, typer.Option("--html/--no-html", help="Also write report.html.")]


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _eval_config(config, overrides, run_dir, seed, model, base_url, limit, batch_size, max_new_tokens, backend,
                 call_format, html, **more):
    """The pipeline config with the eval flags given on the command line (``more``: the command's own) over it."""
    extra = {"eval": drop_none({"model": model, "base_url": base_url, "limit": limit, "batch_size": batch_size,
                                "max_new_tokens": max_new_tokens, "backend": backend, "call_format": call_format,
                                "html": html, **more})}
    return load_pipeline_config(config, overrides, run_dir=run_dir, seed=seed, extra=extra)


def _run_and_echo(run, cfg, *, force: bool, name: str | None, stats: tuple[str, ...], under: str = "") -> None:
    """Run ``run`` (:func:`run_eval` or :func:`run_bfcl`) with the eval seed, then print one JSON line: the
    path of its ``RUN/eval/NAME/[under/]report.md`` and the manifest's ``stats`` named."""
    manifest = run(cfg.eval, cfg.run_dir, seed=cfg.seed_for("eval"), force=force,
                   name=name)
    report = Path(cfg.run_dir, "eval", manifest.stats["name"], under, "report.md")
    typer.echo(json.dumps({"report": str(report), **{k: manifest.stats.get(k) for k in stats}}))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to `app`."""
    eval_app = typer.Typer(rich_markup_mode="markdown")
    app.add_typer(eval_app, name="eval")

    @eval_app.callback(invoke_without_command=True)
    @handle_errors
    def eval_cmd(
        ctx: typer.Context,
        config: ConfigOpt = None,
        overrides: SetOpt = None,
        run_dir: RunDirOpt = None,
        seed: SeedOpt = None,
        model: ModelOpt = None,
        base_url: BaseUrlOpt = None,
        name: NameOpt = None,
        scenarios: Annotated[str | None, typer.Option("--scenarios", help="Comma-separated scenario splits (default: all).")] = None,
        tasks: Annotated[str | None, typer.Option("--tasks", help="Comma-separated: select, rank (default: both).")] = None,
        limit: LimitOpt = None,
        batch_size: BatchOpt = None,
        max_new_tokens: TokensOpt = None,
        backend: BackendOpt = None,
        call_format: FormatOpt = None,
        html: HtmlOpt = None,
        force: ForceOpt = False,
    ) -> None:
        """Score a model or endpoint on the run's scenario sets -> `RUN/eval/NAME/` (report.md, metrics.json,
        examples.jsonl, plots/). Subcommands: `compare` (evaluations side by side), `bfcl` (BFCL outside check).

        Examples:

        ```
        tooldojo eval --run-dir runs/demo                          # the run's trained model (train/final)
        tooldojo eval -r runs/demo --model gemma-3-270m --name base
        tooldojo eval -r runs/demo --model runs/demo/train/stage2  # a LoRA adapter folder
        tooldojo eval -r runs/demo --base-url https://api.openai.com/v1 --model gpt-4o-mini
        tooldojo eval -r runs/demo --limit 50 --tasks select --html
        tooldojo eval compare runs/demo                            # every evaluation of the run, side by side
        tooldojo eval bfcl --setup                                 # once: the isolated bfcl-eval environment
        ```
        """
        if ctx.invoked_subcommand is not None:
            return
        from tooldojo.eval.runner import run_eval

        cfg = _eval_config(config, overrides, run_dir, seed, model, base_url, limit, batch_size, max_new_tokens,
                           backend, call_format, html, scenarios=_csv(scenarios), tasks=_csv(tasks))
        _run_and_echo(run_eval, cfg, force=force, name=name, stats=(
            "tool_accuracy", "strong_preference", "zero_to_one", "answer_rate", "malformed_rate", "rank_exact",
            "examples_per_second"))

    @eval_app.command("compare")
    @handle_errors
    def compare_cmd(
        paths: Annotated[list[Path], typer.Argument(help="Eval folders (RUN/eval/NAME) or run folders (all their evaluations).")],
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write compare.md, compare.json and compare.png here.")] = None,
    ) -> None:
        """Put several evaluations side by side: one table per metric and a grouped bar chart.

        Examples:

        ```
        tooldojo eval compare runs/demo                                   # base vs trained of one run
        tooldojo eval compare runs/sft/eval/train-final runs/rl/eval/train-final -o runs/ablation
        tooldojo eval compare runs/with-stage1 runs/without-stage1 -o compare/
        ```
        """
        from tooldojo.eval.compare import compare_runs

        typer.echo(compare_runs(paths, out=out), nl=False)

    @eval_app.command("bfcl")
    @handle_errors
    def bfcl_cmd(
        config: ConfigOpt = None,
        overrides: SetOpt = None,
        run_dir: RunDirOpt = None,
        seed: SeedOpt = None,
        model: ModelOpt = None,
        base_url: BaseUrlOpt = None,
        name: NameOpt = None,
        categories: Annotated[str | None, typer.Option("--categories", help="Comma-separated BFCL categories or collections (python, live, non_live); default: all single-turn Python ones.")] = None,
        limit: LimitOpt = None,
        batch_size: BatchOpt = None,
        max_new_tokens: TokensOpt = None,
        backend: BackendOpt = None,
        call_format: FormatOpt = None,
        html: HtmlOpt = None,
        setup: Annotated[bool, typer.Option("--setup", help="Create the isolated bfcl-eval environment (about a minute) and exit.")] = False,
        force: ForceOpt = False,
    ) -> None:
        """Run the Berkeley Function Calling Leaderboard's single-turn categories on a model, with the official
        `bfcl-eval` package's data and AST checker (in its own environment) -> `RUN/eval/NAME/bfcl/`.

        Examples:

        ```
        tooldojo eval bfcl --setup                               # once: creates <cache>/bfcl-venv
        tooldojo eval bfcl -r runs/demo --limit 20               # the run's trained model, 20 per category
        tooldojo eval bfcl -r runs/demo --model gemma-3-270m --name base --categories simple_python,irrelevance
        tooldojo eval bfcl -r runs/x --base-url http://localhost:8000/v1 --model my-served-model
        ```
        """
        bfcl = drop_none({"categories": _csv(categories), "limit": limit})
        cfg = _eval_config(config, overrides, run_dir, seed, model, base_url, None, batch_size, max_new_tokens,
                           backend, call_format, html, **({"bfcl": bfcl} if bfcl else {}))
        if setup:
            from tooldojo.eval.bfcl import setup_bfcl

            typer.echo(json.dumps(setup_bfcl(cfg.eval.bfcl, force=force)))
            return
        from tooldojo.eval.bfcl import run_bfcl

        _run_and_echo(run_bfcl, cfg, force=force, name=name, stats=("categories", "mean_accuracy"), under="bfcl")

