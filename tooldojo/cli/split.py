"""CLI commands of the dataset stage (registered on the main `tooldojo` app): split, audit, publish."""

from __future__ import annotations

import json
import os
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


def _read_split(spec: str) -> tuple[str, dict[str, list]]:
    """A split given as a Parquet/JSONL file, or ``FOLDER_OR_REPO:config/split``."""
    import pyarrow.parquet as pq

    from tooldojo.dataset_io import load_dataset_dir
    from tooldojo.errors import DataError

    path = Path(spec)
    if path.is_file() and path.suffix == ".parquet":
        table = pq.read_table(path, columns=[c for c in ("query", "tools") if c in pq.read_schema(path).names])
        return spec, {c: table.column(c).to_pylist() for c in table.column_names}
    if path.is_file() and path.suffix in (".jsonl", ".json"):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return spec, {"query": [r.get("query", r.get("text", "")) for r in rows],
                      "tools": [r["tools"] if isinstance(r.get("tools"), str) else json.dumps(r.get("tools", []))
                                for r in rows]}
    source, sep, rest = spec.rpartition(":")
    if sep and "/" in rest:
        config, split = rest.split("/", 1)
        dsd = load_dataset_dir(source, config)
        if split not in dsd:
            raise DataError(f"no split {split!r} (has {', '.join(dsd)})", field=spec, fix="name an existing split")
        ds = dsd[split]
        return spec, {"query": ds["query"], "tools": ds["tools"]}
    raise DataError("not a .parquet/.jsonl file or FOLDER:config/split", field=spec,
                    fix="e.g. runs/demo/split/dataset:eval/weak_to_strong")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to `app`."""

    @app.command("split")
    @handle_errors
    def split_cmd(
        config: ConfigOpt = None,
        overrides: SetOpt = None,
        run_dir: RunDirOpt = None,
        seed: SeedOpt = None,
        unseen_family_ratio: Annotated[float | None, typer.Option(help="Share of families held out as unseen tools.")] = None,
        unseen_query_ratio: Annotated[float | None, typer.Option(help="Share of seen families' queries held out.")] = None,
        no_audit_semantic: Annotated[bool, typer.Option("--no-audit-semantic", help="Audit with MinHash only.")] = False,
        force: ForceOpt = False,
    ) -> None:
        """Split the deduplicated data by tool-family cluster into seen/unseen, build the training configs
        (`rank`, `select`) and one evaluation split per scenario (`eval`), audit them for leakage and write the
        dataset card.

        Reads `run_dir/dedup/`, writes `run_dir/split/`: tools.jsonl and queries.jsonl (with assignments),
        assignments.json, audit.json, dataset/ (Parquet per config, README.md card, domains.png).

        Examples:

        ```
        tooldojo split --run-dir runs/demo
        tooldojo split -r runs/demo --unseen-family-ratio 0.3 --seed 1
        tooldojo split -r runs/demo --set split.unseen_styles=[casual,contextual]
        ```
        """
        from tooldojo.split import run_split

        extra = drop_none({"split": {"unseen_family_ratio": unseen_family_ratio,
                                     "unseen_query_ratio": unseen_query_ratio,
                                     "audit_semantic": False if no_audit_semantic else None}})
        cfg = load_pipeline_config(config, overrides, run_dir=run_dir, seed=seed, extra=extra)
        m = run_split(cfg.split, cfg.run_dir, seed=cfg.seed_for("split"), force=force)
        audit = m.stats.get("audit", {})
        typer.echo(f"{cfg.run_dir / 'split'}: " + ", ".join(f"{k} {v}" for k, v in m.counts.items())
                   + f"; leakage audit {'passed' if audit.get('passed') else 'FAILED'}")

    @app.command("audit")
    @handle_errors
    def audit_cmd(
        seen: Annotated[str | None, typer.Argument(help="Seen split: .parquet/.jsonl or FOLDER:config/split.")] = None,
        unseen: Annotated[str | None, typer.Argument(help="Unseen split, same forms.")] = None,
        run_dir: RunDirOpt = None,
        dataset: Annotated[str | None, typer.Option(help="A dataset folder or Hub id: audit train vs every scenario.")] = None,
        config: ConfigOpt = None,
        overrides: SetOpt = None,
        max_jaccard: Annotated[float | None, typer.Option(help="Fail above this Jaccard (default: split config).")] = None,
        max_cosine: Annotated[float | None, typer.Option(help="Fail above this cosine (default: split config).")] = None,
        tools: Annotated[bool, typer.Option("--tools/--no-tools", help="Compare tools too (two-split form).")] = True,
        semantic: Annotated[bool, typer.Option("--semantic/--no-semantic", help="Include the embedding check.")] = True,
        top: Annotated[int, typer.Option(help="Closest pairs to print per check.")] = 3,
        json_out: Annotated[Path | None, typer.Option("--json", help="Also write the full report here.")] = None,
    ) -> None:
        """Leakage audit: the closest cross-split pairs (MinHash Jaccard and embedding cosine) between two
        splits, or between `train` and every scenario of a dataset. Exits 1 when a pair is above a threshold.

        Examples:

        ```
        tooldojo audit --run-dir runs/demo
        tooldojo audit --dataset user/my-tooldojo-data --no-semantic
        tooldojo audit runs/demo/split/dataset/select/train.parquet runs/demo/split/dataset/eval/weak_to_strong.parquet
        tooldojo audit runs/a/split/dataset:select/train runs/b/split/dataset:eval/unseen_tool_seen_query
        ```
        """
        from rich.console import Console
        from rich.table import Table

        from tooldojo.dataset_io import load_dataset_dir
        from tooldojo.errors import ConfigError
        from tooldojo.runs import write_json
        from tooldojo.split.audit import SeenSide, audit_dataset, audit_pair

        cfg = load_pipeline_config(config, overrides, run_dir=run_dir)
        mj = max_jaccard if max_jaccard is not None else cfg.split.audit_max_jaccard
        mc = max_cosine if max_cosine is not None else cfg.split.audit_max_cosine
        sem = cfg.dedup.semantic if semantic else None
        if seen and unseen:
            (sn, srows), (un, urows) = _read_split(seen), _read_split(unseen)
            pair = audit_pair(sn, SeenSide(srows, minhash=cfg.dedup.minhash, semantic=sem), un, urows,
                              max_jaccard=mj, max_cosine=mc, compare_tools=tools, top=top)
            report = {"passed": pair["passed"], "thresholds": {"max_jaccard": mj, "max_cosine": mc}, "pairs": [pair]}
        elif seen or unseen:
            raise ConfigError("give two splits, or none with --run-dir/--dataset", field="SEEN UNSEEN",
                              fix="e.g. tooldojo audit a.parquet b.parquet")
        else:
            source = dataset or str(cfg.run_dir / "split" / "dataset")
            dicts = {c: load_dataset_dir(source, c) for c in ("select", "eval")}
            report = audit_dataset(dicts, minhash=cfg.dedup.minhash, semantic=sem, max_jaccard=mj, max_cosine=mc,
                                   top=top)
        console = Console()
        for p in report["pairs"]:
            for what, r in p["checks"].items():
                ok = r["passed"]
                console.print(f"[bold]{p['seen']}[/bold] vs [bold]{p['unseen']}[/bold] ({what}, "
                              f"{r['n_unseen']} vs {r['n_seen']} unique): max Jaccard {r.get('max_jaccard', '-')}, "
                              f"max cosine {r.get('max_cosine', '-')} "
                              + ("[green]pass[/green]" if ok else "[red]FAIL[/red]"))
                table = Table(show_header=True, header_style="dim", box=None, padding=(0, 1))
                for col in ("method", "similarity", "unseen", "seen"):
                    table.add_column(col, overflow="fold")
                for method in ("jaccard", "cosine"):
                    for c in r.get(f"closest_{method}", [])[:top]:
                        table.add_row(method, str(c["similarity"]), c["unseen"][:100], c["seen"][:100])
                console.print(table)
        if json_out:
            write_json(json_out, report)
        console.print(f"thresholds: Jaccard {mj}, cosine {mc} -> " + ("[green]passed[/green]" if report["passed"]
                                                                      else "[red]FAILED[/red]"))
        if not report["passed"]:
            raise typer.Exit(1)

    @app.command("publish")
    @handle_errors
    def publish_cmd(
        repo_id: Annotated[str, typer.Option("--repo-id", help="Hub dataset repo, `user/name` or `org/name`.")],
        run_dir: RunDirOpt = None,
        public: Annotated[bool, typer.Option("--public/--private", help="Create the repo public (default: private). An existing repo keeps its visibility.")] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Check everything and print what would be pushed; push nothing.")] = False,
        token_env: Annotated[str, typer.Option(help="Environment variable holding the Hub token.")] = "HF_TOKEN",
        message: Annotated[str | None, typer.Option(help="Commit message.")] = None,
        config: ConfigOpt = None,
        overrides: SetOpt = None,
    ) -> None:
        """Push the scenario dataset of a run (`rank`, `select`, `eval`) to the Hugging Face Hub, with its card
        and domain plot. A new repo is private unless `--public`. The token is read from `$HF_TOKEN` (or
        `--token-env`); pushing again updates the repo.

        Examples:

        ```
        tooldojo publish --run-dir runs/demo --repo-id me/tooldojo-demo --dry-run
        export HF_TOKEN=hf_...
        tooldojo publish --run-dir runs/demo --repo-id me/tooldojo-demo
        ```
        """
        from tooldojo.split.publish import publish, publish_plan

        cfg = load_pipeline_config(config, overrides, run_dir=run_dir)
        if dry_run:
            plan = publish_plan(cfg.run_dir, repo_id, private=not public)
            typer.echo(f"would push to {plan['repo_id']} ({'private' if plan['private'] else 'PUBLIC'}, "
                       f"a new repo; an existing one keeps its visibility) from {plan['folder']}:")
            for name, splits in plan["configs"].items():
                typer.echo(f"  {name}: " + ", ".join(f"{s} {n} rows" for s, n in splits.items()))
            typer.echo(f"  files: {', '.join(plan['files'])}")
            has_token = bool(os.environ.get(token_env, "").strip())
            typer.echo(f"token: ${token_env} {'is set' if has_token else 'is NOT set (needed to push)'}; "
                       "nothing was pushed (dry run)")
            return
        rec = publish(cfg.run_dir, repo_id, private=not public, token_env=token_env, commit_message=message)
        typer.echo(f"published {rec['repo_id']} ({'private' if rec['private'] else 'public'}): "
                   f"configs {', '.join(rec['configs'])}; commit {rec['commit']}")
