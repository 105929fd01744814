"""Scenario datasets on disk (Parquet) and back: a folder with one subfolder per config, or a Hub repo.

Layout (see :mod:`tooldojo.dataset_schema`)::

    dataset/rank/train.parquet  dataset/select/train.parquet  dataset/eval/<scenario>.parquet  dataset/README.md
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tooldojo.errors import DataError
from tooldojo.records import SCENARIOS, Example


def _arrays(columns: dict[str, list[Any]], feats: Any) -> dict[str, Any]:
    """Python columns -> Arrow arrays of the features' types."""
    import pyarrow as pa

    schema = feats.arrow_schema
    return {name: pa.array(values, type=schema.field(name).type) for name, values in columns.items()}


def _table(arrays: dict[str, Any], feats: Any):
    """An Arrow table with the features' schema over Arrow arrays (an empty one when ``arrays`` is empty),
    columns in the features' order."""
    import pyarrow as pa

    schema = feats.arrow_schema
    if not arrays:
        arrays = {name: pa.array([], type=schema.field(name).type) for name in feats}
    return pa.Table.from_arrays([arrays[name] for name in feats], schema=schema)


def _dataset(table: Any, feats: Any):
    """An in-memory ``Dataset`` with explicit features. Its fingerprint is random, as ``datasets`` gives an
    in-memory dataset it cannot hash: hashing the whole table would cost more than building it."""
    from datasets import Dataset, DatasetInfo
    from datasets.fingerprint import generate_random_fingerprint

    return Dataset(table, info=DatasetInfo(features=feats), fingerprint=generate_random_fingerprint())


class _Tables:
    """Where :func:`build_dataset_dicts` puts each split's table: in memory (one chunk per split), or its
    chunks appended to an Arrow file per split under ``cache_dir`` (``datasets``' ``ArrowWriter``), read back
    memory-mapped."""

    def __init__(self, cache_dir: Path | None):
        self.cache_dir = cache_dir
        self.tables: dict[tuple[str, str], Any] = {}
        self.writers: dict[tuple[str, str], Any] = {}

    def add(self, config: str, split: str, arrays: dict[str, Any], feats: Any) -> None:
        from datasets.arrow_writer import ArrowWriter

        key = (config, split)
        if self.cache_dir is None:
            self.tables[key] = _table(arrays, feats)
            return
        if key not in self.writers:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            self.writers[key] = ArrowWriter(features=feats, path=str(self.cache_dir / f"{config}-{split}.arrow"))
        if arrays:
            self.writers[key].write_table(_table(arrays, feats))

    def dataset(self, config: str, split: str, feats: Any):
        from datasets import Dataset, DatasetInfo

        key = (config, split)
        if self.cache_dir is None:
            return _dataset(self.tables.pop(key), feats)
        writer = self.writers.pop(key)
        writer.finalize()
        writer.close()
        return Dataset.from_file(str(self.cache_dir / f"{config}-{split}.arrow"), info=DatasetInfo(features=feats))


CHUNK_EXAMPLES = 50_000
"""Examples per chunk when :func:`build_dataset_dicts` builds the tables on disk (``cache_dir``)."""


def build_dataset_dicts(examples: dict[str, list[Example]], call_format: str = "json",
                        rationale: str = "verdict_first", *, cache_dir: str | Path | None = None,
                        chunk_examples: int = CHUNK_EXAMPLES) -> dict[str, Any]:
    """``{"rank": DatasetDict(train), "select": DatasetDict(train), "eval": DatasetDict(<scenario>...)}``
    with the explicit features of :func:`tooldojo.dataset_schema.features`: every scenario of
    :data:`~tooldojo.records.SCENARIOS` (empty ones too), then any other non-empty split of ``examples``.

    Built by column straight into Arrow: each distinct tool schema is rendered to JSON once per build, and
    the ``train`` rows' shared columns once for ``rank`` and ``select``. ``rationale``: how the training
    completions open their <think> (:data:`tooldojo.prompting.Rationale`).

    In memory by default. With ``cache_dir``, each table is built ``chunk_examples`` examples at a time into
    an Arrow file there and the datasets are memory-mapped from those files: the same rows, while memory
    holds one chunk (millions of examples). The caller removes ``cache_dir`` when done with the datasets."""
    from datasets import DatasetDict

    from tooldojo.dataset_schema import ToolsJson, base_columns, features, task_columns

    tools_json = ToolsJson()
    tables = _Tables(None if cache_dir is None else Path(cache_dir))

    def chunks(exs: list[Example]) -> list[list[Example]]:
        step = len(exs) if cache_dir is None else chunk_examples
        return [exs[a:a + step] for a in range(0, len(exs), max(1, step))] or [[]]

    def add(exs: list[Example], split: str, configs: tuple[str, ...]) -> None:
        # the base columns have the same types in every config: rendered once for all of them
        base = _arrays(base_columns(exs, tools_json), features(configs[0])) if exs else {}
        for config in configs:
            feats = features(config)
            task = _arrays(task_columns(exs, config, call_format, rationale), feats) if exs else {}  # type: ignore[arg-type]
            tables.add(config, split, {**base, **task}, feats)

    for chunk in chunks(examples.get("train", [])):
        add(chunk, "train", ("rank", "select"))
    extra = [s for s, exs in examples.items() if s != "train" and s not in SCENARIOS and exs]
    for split in (*SCENARIOS, *extra):
        for chunk in chunks(examples.get(split, [])):
            add(chunk, split, ("eval",))
    out = {config: DatasetDict({"train": tables.dataset(config, "train", features(config))})
           for config in ("rank", "select")}
    out["eval"] = DatasetDict({s: tables.dataset("eval", s, features("eval")) for s in (*SCENARIOS, *extra)})
    return out


def save_dataset_dicts(dicts: dict[str, Any], folder: str | Path) -> dict[str, dict[str, str]]:
    """Write each config's splits as ``<folder>/<config>/<split>.parquet`` (atomically); returns the
    relative paths, ``{config: {split: path}}``."""
    import datasets

    from tooldojo.runs import atomic_path

    folder = Path(folder)
    files: dict[str, dict[str, str]] = {}
    quiet = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        for config, dsd in dicts.items():
            for split, ds in dsd.items():
                rel = f"{config}/{split}.parquet"
                with atomic_path(folder / rel) as tmp:
                    ds.to_parquet(str(tmp))
                files.setdefault(config, {})[split] = rel
    finally:
        if quiet:
            datasets.enable_progress_bars()
    return files


def _is_hub_id(source: str) -> bool:
    parts = source.split("/")
    return len(parts) == 2 and all(parts) and not Path(source).exists() and not source.startswith((".", "/"))


def load_dataset_dir(path: str | Path, config: str):
    """One config of a scenario dataset as a ``DatasetDict``, from a local folder (``split/dataset`` or a
    run folder) or a Hub dataset repo id (``user/name``, read with ``datasets.load_dataset``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Dataset, DatasetDict, DatasetInfo

    from tooldojo.dataset_schema import CONFIGS, features

    if config not in CONFIGS:
        raise DataError(f"unknown config {config!r}", field="config", fix=f"use one of {', '.join(CONFIGS)}")
    source = str(path)
    if _is_hub_id(source):
        from datasets import load_dataset

        try:
            return load_dataset(source, config)
        except Exception as err:  # network, auth, missing repo: one line
            raise DataError(f"cannot load {config!r} from the Hub: {str(err).splitlines()[0]}", field=source,
                            fix="check the repo id, your network and HF_TOKEN, or pass a local folder") from None
    root = Path(source)
    for candidate in (root, root / "dataset", root / "split" / "dataset"):
        if (candidate / config).is_dir():
            root = candidate
            break
    else:
        raise DataError(f"no {config!r} config here", field=str(path),
                        fix="pass a dataset folder written by `tooldojo split` (run_dir/split/dataset) or a Hub id")
    feats = features(config)
    out = {}
    files = sorted((root / config).glob("*.parquet"))
    order = {s: i for i, s in enumerate(("train", *SCENARIOS))}
    for f in sorted(files, key=lambda p: (order.get(p.stem, 99), p.stem)):
        table = pq.read_table(f)
        for name in feats.keys() - set(table.column_names):  # written before the column existed: nulls
            table = table.append_column(name, pa.nulls(table.num_rows, feats.arrow_schema.field(name).type))
        out[f.stem] = Dataset(table, info=DatasetInfo(features=feats)) if table.num_rows else _dataset(_table({}, feats), feats)
    return DatasetDict(out)


def read_texts(source: str | Path, column: str = "query") -> list[str]:
    """Every value of a text column in a Parquet/JSONL file, a dataset folder (all its Parquet files) or a
    Hub dataset (all configs)."""
    import pyarrow.parquet as pq

    src = str(source)
    path = Path(src)
    texts: list[str] = []
    if path.is_file() and path.suffix in (".jsonl", ".json"):
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    row = json.loads(line)
                    if column not in row:
                        raise DataError(f"line {n} has no {column!r}", field=f"{path}:{n}", fix="pass --column")
                    texts.append(str(row[column]))
        return texts
    files = [path] if path.is_file() else sorted(path.rglob("*.parquet")) if path.is_dir() else []
    if files:
        for f in files:
            table = pq.read_table(f)
            if column not in table.column_names:
                raise DataError(f"no column {column!r}", field=str(f), fix=f"pass --column (has {table.column_names})")
            texts += [str(x) for x in table.column(column).to_pylist()]
        return texts
    if _is_hub_id(src):
        from tooldojo.dataset_schema import CONFIGS

        for config in CONFIGS:
            for ds in load_dataset_dir(src, config).values():
                texts += [str(x) for x in ds[column]]
        return texts
    raise DataError("not a file, dataset folder or Hub id", field=src, fix="pass a .parquet/.jsonl file or a folder")
