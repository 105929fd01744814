"""Writing rows to Parquet (explicit ``datasets`` features) or JSON Lines, atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tooldojo.errors import DataError
from tooldojo.runs import atomic_path, read_manifest, write_jsonl


def check_out_dir(out: str | Path, stage: str) -> bool:
    """Refuse an output folder that holds something other than an earlier ``stage`` output (so an import or
    export never overwrites another stage's files); returns whether it holds an earlier ``stage`` output."""
    out = Path(out)
    if not out.exists() or not any(out.iterdir()):
        return False
    m = read_manifest(out)
    if m is None or m.stage != stage:
        raise DataError(f"the output folder already holds other files (not a tooldojo {stage})", field=str(out),
                        fix="choose a new or empty folder")
    return True


def write_rows(rows: list[dict[str, Any]], path: str | Path, features: Any = None, file_format: str = "parquet") -> int:
    """Write ``rows`` to ``path`` as ``parquet`` (typed by ``features``) or ``jsonl``; returns the row count.
    The file appears complete or not at all."""
    if file_format == "jsonl":
        return write_jsonl(path, rows)
    import pyarrow.parquet as pq
    from datasets import Dataset

    table = Dataset.from_list(rows, features=features).data.table  # typed by the features, which it records
    with atomic_path(path) as tmp:
        # pyarrow directly: Dataset.to_parquet fails on a Json column whose values are all null (datasets 5.2)
        pq.write_table(table, tmp)
    return len(rows)
