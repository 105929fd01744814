"""CLI commands of the dedup stage (registered on the main `tooldojo` app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tooldojo.cli.options import (
    ConfigOpt,
    ExecutorOpt,
    ForceOpt,
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

    @app.command("dedup")
    @handle_errors
    def dedup_cmd(
        config: ConfigOpt = None,
        overrides: SetOpt = None,
        run_dir: RunDirOpt = None,
        seed: SeedOpt = None,
        threshold: Annotated[float | None, typer.Option(help="MinHash duplicate threshold (Jaccard).")] = None,
        semantic_threshold: Annotated[float | None, typer.Option(help="Embedding duplicate threshold (cosine).")] = None,
        no_semantic: Annotated[bool, typer.Option("--no-semantic", help="Skip the embedding filter.")] = False,
        reference_index: Annotated[Path | None, typer.Option(
            help="Also remove queries that duplicate an item of this saved index (e.g. a published dataset's).")] = None,
        executor: ExecutorOpt = None,
        ray_address: RayAddressOpt = None,
        ray_workers: RayWorkersOpt = None,
        input_: Annotated[str | None, typer.Option(
            "--input", help="Your own records instead of run_dir/synth: TOOLS.jsonl,QUERIES.jsonl "
                            "(ToolRecord and QueryRecord rows; validated like synth output).")] = None,
        force: ForceOpt = False,
    ) -> None:
        """Remove near-duplicate (MinHash-LSH) and semantic (embedding) duplicates from the synthesized data,
        and link close tool families into clusters for the split.

        Reads `run_dir/synth/` (or `--input tools.jsonl,queries.jsonl`), writes `run_dir/dedup/`: tools.jsonl, queries.jsonl, clusters.jsonl,
        removed.jsonl, report.md and index/*.pkl (LSH indexes of what was kept).

        Examples:

        ```
        tooldojo dedup --run-dir runs/demo
        tooldojo dedup -r runs/demo --threshold 0.8 --no-semantic
        tooldojo dedup -r runs/mine --input my/tools.jsonl,my/queries.jsonl   # records not from synth
        tooldojo dedup -r runs/new --reference-index runs/published/dedup/index/queries.pkl
        tooldojo dedup -r runs/demo --set dedup.minhash.shingle=char --set dedup.minhash.ngram=5
        tooldojo dedup -r runs/big --executor ray                        # Ray on this machine
        tooldojo dedup -r runs/big --executor ray --ray-address ray://head:10001
        ```
        """
        from tooldojo.dedup import run_dedup
        from tooldojo.dedup.stage import input_files

        files = input_files(input_) if input_ else None
        extra = drop_none({"dedup": {"minhash": {"threshold": threshold, "reference_index":
                                                 str(reference_index) if reference_index else None},
                                     "semantic": {"threshold": semantic_threshold,
                                                  "enabled": False if no_semantic else None}},
                           **execution_flags(executor, ray_address, ray_workers)})
        cfg = load_pipeline_config(config, overrides, run_dir=run_dir, seed=seed, extra=extra)
        m = run_dedup(cfg.dedup, cfg.run_dir, force=force, files=files, execution=cfg.execution)
        typer.echo(f"{cfg.run_dir / 'dedup'}: " + ", ".join(f"{k} {v}" for k, v in m.counts.items()))

    @app.command("dedup-index")
    @handle_errors
    def dedup_index_cmd(
        source: Annotated[str, typer.Argument(help="A dataset folder, a Hub dataset id, or a JSONL/Parquet file.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the index (.pkl).")],
        column: Annotated[str, typer.Option(help="Text column (`query` in tooldojo datasets, `text` in JSONL).")] = "query",
        config: ConfigOpt = None,
        overrides: SetOpt = None,
    ) -> None:
        """Build a MinHash LSH index of a published dataset's queries, to dedup a new run against it.

        Examples:

        ```
        tooldojo dedup-index runs/v1/split/dataset -o v1-queries.pkl
        tooldojo dedup-index user/tooldojo-data -o v1-queries.pkl      # from the Hub
        tooldojo dedup -r runs/v2 --reference-index v1-queries.pkl
        ```
        """
        from tooldojo.dataset_io import read_texts
        from tooldojo.similarity.minhash import LSHIndex, MinHasher

        cfg = load_pipeline_config(config, overrides)
        mh = cfg.dedup.minhash
        texts = sorted(set(read_texts(source, column)))
        idx = LSHIndex(MinHasher.from_config(mh), threshold=mh.threshold, bands=mh.bands, rows=mh.rows)
        idx.add_texts(texts, texts)
        idx.save(out)
        typer.echo(f"{out}: {len(idx)} texts, bands×rows {idx.bands}×{idx.rows}")
