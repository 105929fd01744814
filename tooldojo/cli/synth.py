"""CLI commands of the synth stage (registered on the main `tooldojo` app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tooldojo.cli.options import (
    ConfigOpt,
    ExecutorOpt,
    PresetOpt,
    RayAddressOpt,
    RayWorkersOpt,
    RunDirOpt,
    SeedOpt,
    SetOpt,
    drop_none,
    execution_flags,
    handle_errors,
    load_pipeline_config,
)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to `app`."""

    @app.command("synth")
    @handle_errors
    def synth_cmd(
        config: ConfigOpt = None,
        overrides: SetOpt = None,
        run_dir: RunDirOpt = None,
        seed: SeedOpt = None,
        preset: PresetOpt = None,
        teacher: Annotated[str | None, typer.Option("--teacher", "--model", "-m", help="Teacher model on --base-url (OpenAI when no --base-url), or `offline` (the seed catalog; default).")] = None,
        base_url: Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint, e.g. `http://localhost:8000/v1` (vLLM), `http://localhost:11434/v1` (Ollama).")] = None,
        api_key_env: Annotated[str | None, typer.Option("--api-key-env", help="Name of the environment variable holding the key (default OPENAI_API_KEY).")] = None,
        templates: Annotated[Path | None, typer.Option("--templates", help="Folder of .jinja files overriding any subset of the shipped templates.")] = None,
        domains: Annotated[str | None, typer.Option("--domains", help="Comma-separated domains (default: every catalog domain).")] = None,
        families_per_domain: Annotated[int | None, typer.Option("--families-per-domain", help="New tool families per domain.")] = None,
        queries_per_family: Annotated[int | None, typer.Option("--queries-per-family", help="Queries per family.")] = None,
        seed_tools: Annotated[str | None, typer.Option("--seed-tools", help="Strong tools to weaken instead of generating tools: a `tooldojo import` folder, any dataset it reads, or a JSON/JSONL file of tool schemas.")] = None,
        seed_tools_cap: Annotated[int | None, typer.Option("--seed-tools-cap", min=1, help="At most this many seed tools (a sample seeded by --seed, alternating domains).")] = None,
        concurrency: Annotated[int | None, typer.Option("--concurrency", help="Requests in flight at most.")] = None,
        rpm: Annotated[int | None, typer.Option("--rpm", help="Requests per minute at most.")] = None,
        tpm: Annotated[int | None, typer.Option("--tpm", help="Tokens per minute at most.")] = None,
        timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds per request attempt.")] = None,
        verify: Annotated[bool | None, typer.Option("--verify/--no-verify", help="Run the critique step on every query.")] = None,
        no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the response cache.")] = False,
        estimate: Annotated[bool, typer.Option("--estimate", help="Print the requests, tokens and (with synth.teacher.price_per_million) cost this run would need, then exit; nothing is sent or written.")] = False,
        max_cost: Annotated[float | None, typer.Option("--max-cost", min=0.0, help="Stop once the teacher cost reaches this many USD (needs synth.teacher.price_per_million); the run resumes from the cache.")] = None,
        executor: ExecutorOpt = None,
        ray_address: RayAddressOpt = None,
        ray_workers: RayWorkersOpt = None,
        force: Annotated[bool, typer.Option("--force", help="Rerun even when up to date (cached answers are reused).")] = False,
    ) -> None:
        """Generate tool families (weak tool + upgraded strong variant) and queries with gold calls.

        Writes `<run-dir>/synth/`: tools.jsonl, queries.jsonl, drops.jsonl, cache.sqlite, manifest.json,
        report.md. Rerunning after an interruption resumes: cached answers are not sent again. Exit codes:
        0 complete; 3 partial (some requests failed: rerun to retry them); 2 an error (bad input, the teacher
        down, the cost cap reached, nothing usable), with finished outputs left untouched.

        Examples:

        ```
        tooldojo synth --run-dir runs/a                                  # offline teacher (seed catalog)
        tooldojo synth --teacher gpt-4o-mini --families-per-domain 10    # OpenAI, key in OPENAI_API_KEY
        tooldojo synth --teacher gpt-4o-mini --set 'synth.teacher.price_per_million=[0.15,0.6]' --estimate
        tooldojo synth --teacher gpt-4o-mini --set 'synth.teacher.price_per_million=[0.15,0.6]' --max-cost 5
        tooldojo synth --teacher Qwen/Qwen2.5-7B-Instruct --base-url http://localhost:8000/v1   # vLLM
        tooldojo synth --templates my_templates/ --run-dir runs/ablation # template ablation
        tooldojo synth --seed-tools strong_tools.jsonl --teacher gpt-4o-mini   # weaken imported tools
        tooldojo import bfcl --out imp/ && tooldojo synth --seed-tools imp/ --seed-tools-cap 200 --run-dir runs/bfcl
        tooldojo synth --executor ray --run-dir runs/big                 # shards on Ray on this machine
        tooldojo synth --executor ray --ray-address ray://head:10001 --concurrency 512 --teacher M --base-url URL
        ```
        """
        from tooldojo.errors import ConfigError
        from tooldojo.synth import run_synth

        extra = drop_none({"synth": {
            "teacher": {"model": teacher, "base_url": base_url, "api_key_env": api_key_env,
                        "concurrency": concurrency, "requests_per_minute": rpm, "tokens_per_minute": tpm,
                        "timeout_s": timeout, "cache": False if no_cache else None, "max_cost_usd": max_cost},
            "templates": str(templates) if templates else None,
            "domains": [d.strip() for d in domains.split(",") if d.strip()] if domains else None,
            "families_per_domain": families_per_domain, "queries_per_family": queries_per_family,
            "seed_tools": seed_tools, "seed_tools_cap": seed_tools_cap, "verify": verify,
        }, **execution_flags(executor, ray_address, ray_workers)})
        cfg = load_pipeline_config(config, overrides, run_dir=run_dir, seed=seed, extra=extra, preset=preset)
        s = cfg.synth
        if s.teacher.base_url and s.teacher.model == "offline":
            raise ConfigError("--base-url is set but the teacher is `offline`", field="--teacher",
                              fix="name the server's model with --teacher MODEL")
        run_seed = cfg.seed_for("synth")
        if estimate:
            from tooldojo.synth.estimate import estimate_run, print_estimate

            print_estimate(estimate_run(s, seed=run_seed))
            return
        manifest = run_synth(s, cfg.run_dir, seed=run_seed, force=force, execution=cfg.execution)
        c = manifest.counts
        typer.echo(f"{cfg.run_dir / 'synth'}: {c.get('families', 0)} families, {c.get('tools', 0)} tools, "
                   f"{c.get('queries', 0)} queries, {c.get('drops', 0)} dropped")
        if manifest.status == "partial":
            failed = manifest.stats.get("failed", {})
            typer.secho(f"partial: {sum(failed.values())} items failed ({', '.join(f'{k}: {v}' for k, v in failed.items())}); "
                        "rerun the same command to retry exactly those (every cached answer is reused)",
                        fg="yellow", err=True)
            raise typer.Exit(3)

    @app.command("synth-templates")
    @handle_errors
    def synth_templates_cmd(
        dest: Annotated[Path, typer.Argument(help="Folder to write the shipped teacher templates into.")],
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace files that exist.")] = False,
    ) -> None:
        """Copy the shipped teacher templates into a folder, to edit and pass back with `--templates`.

        Example:

        ```
        tooldojo synth-templates my_templates/ && $EDITOR my_templates/queries.jinja
        tooldojo synth --templates my_templates/ --run-dir runs/my-ablation
        ```
        """
        from tooldojo.synth.templates import export_templates

        for path in export_templates(dest, overwrite=overwrite):
            typer.echo(str(path))
