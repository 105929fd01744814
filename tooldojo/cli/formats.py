"""CLI commands of the formats (import/export) (registered on the main `tooldojo` app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tooldojo.cli.options import handle_errors


def _summary(manifest) -> str:
    s = manifest.stats
    lines = [
        f"{s.get('rows', 0)} rows read ({s.get('import', {}).get('format', '?')}): {s.get('queries', 0)} queries "
        f"({s.get('single_call', 0)} one call, {s.get('multi_call', 0)} several, {s.get('no_call', 0)} no call), "
        f"{s.get('tools', 0)} distinct tools, {s.get('duplicate_queries', 0)} duplicates, "
        f"{s.get('failures', 0)} rows not converted",
        f"{s.get('off_schema_calls', 0)} kept gold calls do not fit their tool's schema (--strict drops them)",
    ]
    for reason, n in list(s.get("failure_reasons", {}).items())[:6]:
        lines.append(f"  {n:>6} × {reason}")
    if "eval_examples" in manifest.counts:
        lines.append(f"eval set: {manifest.counts['eval_examples']} rows "
                     f"({manifest.counts.get('eval_skipped', 0)} multi-call queries left out)")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add `tooldojo import` and `tooldojo export` to `app`."""

    @app.command("import")
    @handle_errors
    def import_cmd(
        source: Annotated[str, typer.Argument(help="A local file (.jsonl/.json/.parquet), a folder of them, or a Hub dataset id.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write tools.jsonl, queries.jsonl, failures.jsonl (and dataset/).")],
        format: Annotated[str, typer.Option("--format", "-f", help="auto, xlam, toolace, glaive, hermes, bfcl or openai (alias trl).")] = "auto",
        subset: Annotated[str | None, typer.Option(help="Hub dataset config name.")] = None,
        split: Annotated[str, typer.Option(help="Hub dataset split.")] = "train",
        limit: Annotated[int | None, typer.Option(help="Read at most this many source rows.")] = None,
        domain: Annotated[str | None, typer.Option(help="Domain for tools whose source gives none.")] = None,
        strict: Annotated[bool, typer.Option("--strict", help="Refuse rows whose gold call does not fit its tool's schema.")] = False,
        eval_set: Annotated[bool, typer.Option("--eval/--no-eval", help="Also write dataset/eval/imported.parquet (eval rows).")] = True,
        force: Annotated[bool, typer.Option(help="Redo the import even if the folder is up to date.")] = False,
    ) -> None:
        """Import a tool-calling dataset: normalised tools, queries with gold calls, and the rows that could not
        be converted (failures.jsonl, with the reason).

        Examples:

        ```
        tooldojo import data/xlam_sample.jsonl --out imports/xlam
        tooldojo import Salesforce/xlam-function-calling-60k --format xlam --limit 5000 --out imports/xlam
        tooldojo import bfcl --out imports/bfcl      # bfcl-eval's data, or the folder in $TOOLDOJO_BFCL_DATA
        tooldojo synth --seed-tools imports/xlam     # the imported tools as GenTool's strong tools
        ```
        """
        from tooldojo.config import validate
        from tooldojo.formats.importing import ImportConfig, resolve_format, run_import

        cfg = validate(ImportConfig, {"source": source, "format": resolve_format(format), "subset": subset,
                                      "split": split, "limit": limit, "domain": domain, "strict": strict,
                                      "eval_set": eval_set},
                       source="import")
        manifest = run_import(cfg, out, force=force, progress=True)
        typer.echo(_summary(manifest))
        typer.echo(f"written to {out}")

    @app.command("export")
    @handle_errors
    def export_cmd(
        source: Annotated[Path, typer.Argument(help="A run folder, its split/dataset folder, or a folder written by `tooldojo import`.")],
        format: Annotated[str, typer.Option("--format", "-f", help="trl, hermes, xlam or stages.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write CONFIG/SPLIT.parquet (or .jsonl) files and README.md.")],
        file_format: Annotated[str, typer.Option("--file-format", help="parquet or jsonl.")] = "parquet",
        push_to_hub: Annotated[str | None, typer.Option("--push-to-hub", help="Also upload to this Hub dataset repo (token: HF_TOKEN).")] = None,
        public: Annotated[bool, typer.Option("--public", help="Create the Hub repo public (default private).")] = False,
        force: Annotated[bool, typer.Option(help="Rewrite even if the folder is up to date.")] = False,
    ) -> None:
        """Export a tooldojo dataset (or an import) as TRL, Hermes/ShareGPT, xLAM or per-stage rows, with a
        dataset card listing the configs.

        Examples:

        ```
        tooldojo export runs/demo --format trl --out exports/demo-trl
        tooldojo export runs/demo --format stages --file-format jsonl --out exports/demo-stages
        tooldojo export imports/bfcl --format hermes --out exports/bfcl-hermes
        tooldojo export runs/demo --format xlam --out exports/demo-xlam --push-to-hub me/demo-xlam
        ```
        """
        from tooldojo.config import validate
        from tooldojo.formats.exporting import ExportConfig, run_export

        cfg = validate(ExportConfig, {"source": str(source), "format": format, "file_format": file_format,
                                      "push_to_hub": push_to_hub, "private": not public}, source="export")
        manifest = run_export(cfg, out, force=force, progress=True)
        for name, n in manifest.counts.items():
            typer.echo(f"{name}: {n} rows")
        typer.echo(f"written to {out}" + (f" and pushed to {push_to_hub}" if push_to_hub else ""))
