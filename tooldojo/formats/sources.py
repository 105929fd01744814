"""Read the rows of a source: a local file, a local folder, or a Hugging Face Hub dataset id.

Local files: ``.jsonl``, ``.json`` (a JSON array, an object holding one, or JSON Lines under a ``.json`` name
as BFCL ships them) and ``.parquet``. A folder is every such file directly inside it, in name order. Hub ids
go through ``datasets.load_dataset`` (needs network, or a local cache with ``HF_HUB_OFFLINE=1``).
Unreadable lines are reported as failures and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooldojo.errors import DataError

EXTENSIONS = (".jsonl", ".json", ".parquet")


@dataclass
class SourceRow:
    ref: str
    """Where the row is: ``file:line``, ``file[index]`` or ``split[index]``."""
    data: dict[str, Any] | None
    """The row, or ``None`` when it could not be read (``error`` says why)."""
    file: Path | None = None
    error: str | None = None


def is_local(source: str | Path) -> bool:
    return Path(source).expanduser().exists()


def source_files(source: str | Path) -> list[Path]:
    """The data files of a local source (a file, or the data files directly inside a folder)."""
    path = Path(source).expanduser()
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in EXTENSIONS)
    if not files:
        raise DataError("no .jsonl, .json or .parquet files in this folder", field=str(path),
                        fix="point at a data file, or a folder holding them")
    return files


def _json_rows(path: Path) -> Iterator[SourceRow]:
    text = path.read_text(encoding="utf-8")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None  # JSON Lines (also under a .json name, as BFCL ships them)
    if whole is not None:
        if isinstance(whole, dict):
            inner = next((whole[k] for k in ("data", "rows", "examples") if isinstance(whole.get(k), list)), None)
            items = inner if inner is not None else [whole]
        elif isinstance(whole, list):
            items = whole
        else:
            items = [whole]
        for i, item in enumerate(items):
            if isinstance(item, dict):
                yield SourceRow(f"{path.name}[{i}]", item, path)
            else:
                yield SourceRow(f"{path.name}[{i}]", None, path, f"row is not a JSON object: {type(item).__name__}")
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            yield SourceRow(f"{path.name}:{lineno}", None, path, f"invalid JSON: {err.msg} (column {err.colno})")
            continue
        if isinstance(item, dict):
            yield SourceRow(f"{path.name}:{lineno}", item, path)
        else:
            yield SourceRow(f"{path.name}:{lineno}", None, path, f"row is not a JSON object: {type(item).__name__}")


def _parquet_rows(path: Path) -> Iterator[SourceRow]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises several types for a bad file
        raise DataError(f"cannot read Parquet: {err}", field=str(path), fix="check the file") from None
    i = 0
    for batch in pf.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            yield SourceRow(f"{path.name}[{i}]", row, path)
            i += 1


def local_rows(source: str | Path) -> Iterator[SourceRow]:
    """Rows of a local file or folder, file by file."""
    for path in source_files(source):
        yield from (_parquet_rows(path) if path.suffix == ".parquet" else _json_rows(path))


def hub_rows(source: str, *, subset: str | None = None, split: str = "train") -> Iterator[SourceRow]:
    """Rows of a Hub dataset split (``datasets.load_dataset``)."""
    from datasets import load_dataset

    try:
        ds = load_dataset(source, name=subset, split=split)
    except Exception as err:  # offline, unknown id, gated, bad config: all end here
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"cannot load Hub dataset: {msg}", field=source,
                        fix="check the id, --subset and --split, the network (HF_HUB_OFFLINE) and HF_TOKEN "
                            "for gated data, or pass a local file") from None
    for i, row in enumerate(ds):
        yield SourceRow(f"{split}[{i}]", dict(row))


def read_rows(source: str | Path, *, subset: str | None = None, split: str = "train") -> Iterator[SourceRow]:
    """Rows of any source: local file/folder if it exists, else a Hub dataset id."""
    if is_local(source):
        return local_rows(source)
    text = str(source)
    if text.count("/") != 1 or text.startswith((".", "/", "~")):
        raise DataError("no such file or folder", field=text,
                        fix="pass an existing file/folder, or a Hub dataset id like owner/name")
    return hub_rows(text, subset=subset, split=split)
