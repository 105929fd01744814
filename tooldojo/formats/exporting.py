"""Export a tooldojo dataset (or an import) in the formats other trainers read.

Sources: a run folder (``<run>/split/dataset/``), a dataset folder (``rank/``, ``select/``, ``eval/`` of
Parquet files, see ``tooldojo/dataset_schema.py``), or a folder written by ``tooldojo import``.

Formats:

- ``trl``: ``messages`` (user turn, assistant turn with ``tool_calls``) + ``tools`` (JSON string of OpenAI
  tool entries): TRL's ``SFTTrainer`` tool-calling rows;
- ``hermes``: ShareGPT ``conversations`` with the tools in the system turn's ``<tools>`` and the calls in
  ``<tool_call>`` tags;
- ``xlam``: ``query``, ``tools``, ``answers`` as JSON strings;
- ``stages``: tooldojo's own prompt/completion pairs per training stage (``rank``, ``select``) with
  ``tools``, i.e. TRL's conversational prompt-completion rows.

For ``trl``/``hermes``/``xlam`` a dataset gives the ``select`` config (training rows, gold = the selected
call) and the ``eval`` config (one split per scenario); tooldojo's ``generate_response`` stays a tool in the
list and is called when it is the gold. An import gives one ``default`` config with a ``train`` split.

Output: ``<out>/<config>/<split>.parquet`` (or ``.jsonl``) and a ``README.md`` dataset card whose
``configs`` make the folder, or its Hub copy, loadable with ``datasets.load_dataset(path, config)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tooldojo.errors import DataError, ToolDojoError
from tooldojo.formats import hermes, openai, xlam
from tooldojo.formats.files import check_out_dir, write_rows
from tooldojo.formats.importing import is_import_dir, read_import
from tooldojo.formats.model import Conversation, ImportResult
from tooldojo.reporting import md_table
from tooldojo.runs import Manifest, StageRun, file_fingerprint, read_manifest, write_text

ExportFormat = Literal["trl", "hermes", "xlam", "stages"]
EXPORT_FORMATS = ("trl", "hermes", "xlam", "stages")
DATASET_CONFIGS = ("rank", "select", "eval")
_SHARD = re.compile(r"-\d{5}-of-\d{5}$")

_WRITERS: dict[str, tuple[Callable[[Conversation], dict[str, Any]], Callable[[], Any]]] = {
    "trl": (openai.write, openai.features),
    "hermes": (hermes.write, hermes.features),
    "xlam": (xlam.write, xlam.features),
}


class ExportConfig(BaseModel):
    """What ``tooldojo export`` reads and writes."""

    model_config = ConfigDict(extra="forbid")

    source: str
    """A run folder, a dataset folder or an import folder."""
    format: ExportFormat
    file_format: Literal["parquet", "jsonl"] = "parquet"
    push_to_hub: str | None = None
    """A Hub dataset repo id to upload the exported folder to (token from ``HF_TOKEN`` or the cached login)."""
    private: bool = True
    """Create the Hub repo as private (when it does not exist yet)."""


# ------------------------------------------------------------------------------------------- sources

def dataset_dir_of(path: str | Path) -> Path | None:
    """The scenario dataset folder of a run folder or a dataset folder (``None`` if neither)."""
    path = Path(path)
    for cand in (path / "split" / "dataset", path / "dataset", path):
        if any((cand / c).is_dir() and any((cand / c).glob("*.parquet")) for c in DATASET_CONFIGS):
            return cand
    return None


def read_dataset(dataset_dir: str | Path) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """A tooldojo dataset folder's rows: config -> split -> rows (shards of a split concatenated)."""
    import pyarrow.parquet as pq

    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for config in DATASET_CONFIGS:
        for path in sorted((Path(dataset_dir) / config).glob("*.parquet")):
            split = _SHARD.sub("", path.stem)
            out.setdefault(config, {}).setdefault(split, []).extend(pq.read_table(path).to_pylist())
    return out


def example_conversation(row: dict[str, Any]) -> Conversation:
    """A dataset row (``tooldojo/dataset_schema.py``) -> the query, its candidate tools (``generate_response``
    included, last) and the gold call."""
    tools = [t["function"] for t in json.loads(row["tools"])]
    args = json.loads(row["gold_arguments"]) if row.get("gold_arguments") else {}
    return Conversation(query=row["query"], tools=tools, calls=[{"name": row["gold_tool"], "arguments": args}],
                        id=row.get("example_id"), domain=row.get("domain"))


def import_conversations(result: ImportResult) -> list[Conversation]:
    """An import's queries with their offered tools and gold calls (or direct reply)."""
    tools = result.tool_map()
    convs = []
    for q in result.queries:
        offered = [tools[t] for t in q.tools]
        called = {c.name for c in q.calls}
        domain = next((t.domain for t in offered if t.name in called and t.domain), None) or \
            next((t.domain for t in offered if t.domain), None)
        convs.append(Conversation(query=q.text, tools=[t.function for t in offered],
                                  calls=[c.model_dump() for c in q.calls], answer=q.answer, system=q.system,
                                  domain=domain, id=q.query_id))
    return convs


def _stages_features():
    from datasets import Features, List, Value

    message = {"role": Value("string"), "content": Value("string")}
    return Features({"prompt": List(message), "completion": List(message), "tools": Value("string")})


def plan_export(source: str | Path, fmt: str) -> tuple[str, dict[str, dict[str, list[dict[str, Any]]]], Any]:
    """(kind of source, config -> split -> output rows, ``datasets`` features factory) for an export."""
    if fmt not in EXPORT_FORMATS:
        raise DataError(f"unknown export format {fmt!r}", field="--format", fix=f"use one of {', '.join(EXPORT_FORMATS)}")
    source = Path(source)
    if is_import_dir(source):
        if fmt == "stages":
            raise DataError("'stages' rows are built from a tooldojo dataset, not from an import", field=str(source),
                            fix="export an import as trl, hermes or xlam; or run synth -> split and export its dataset")
        write, feats = _WRITERS[fmt]
        return "import", {"default": {"train": [write(c) for c in import_conversations(read_import(source))]}}, feats
    ds_dir = dataset_dir_of(source)
    if ds_dir is None:
        raise DataError("no tooldojo dataset (rank/, select/, eval/ Parquet files) or import found here",
                        field=str(source), fix="pass a run folder after `tooldojo split`, its split/dataset folder, "
                                               "or a folder written by `tooldojo import`")
    data = read_dataset(ds_dir)
    if fmt == "stages":
        plan = {c: {s: [{k: r[k] for k in ("prompt", "completion", "tools")} for r in rows]
                    for s, rows in data[c].items()} for c in ("rank", "select") if c in data}
        if not plan:
            raise DataError("the dataset has no rank/ or select/ rows", field=str(ds_dir), fix="rerun `tooldojo split`")
        return "dataset", plan, _stages_features
    write, feats = _WRITERS[fmt]
    plan = {c: {s: [write(example_conversation(r)) for r in rows] for s, rows in data[c].items()}
            for c in ("select", "eval") if c in data}
    if not plan:
        raise DataError("the dataset has no select/ or eval/ rows", field=str(ds_dir), fix="rerun `tooldojo split`")
    return "dataset", plan, feats


# ------------------------------------------------------------------------------------------- writing

_CARD_INTRO = {
    "trl": "TRL tool-calling rows: `messages` (the assistant turn carries `tool_calls`) and `tools` (a JSON string "
           "of OpenAI tool entries), as `trl.SFTTrainer` reads them.",
    "hermes": "Hermes/ShareGPT rows: `conversations` with the tools in the system turn's `<tools>` tags and the "
              "calls in `<tool_call>` tags.",
    "xlam": "xLAM/APIGen rows: `query`, and `tools` and `answers` as JSON strings (tools as OpenAI function schemas).",
    "stages": "tooldojo's training pairs per stage: `rank` (stage 1, rank the tools) and `select` (stage 2, call the "
              "best tool), as TRL conversational prompt-completion rows with a `tools` column.",
}


def dataset_card(fmt: str, files: dict[str, dict[str, tuple[str, int]]], source_name: str) -> str:
    """A README.md whose YAML ``configs`` list every config's splits and files."""
    import yaml

    configs = [{"config_name": c, "data_files": [{"split": s, "path": p} for s, (p, _) in splits.items()]}
               for c, splits in files.items()]
    meta = yaml.safe_dump({"configs": configs, "tags": ["tool-calling", "function-calling", "tooldojo"]},
                          sort_keys=False)
    table = md_table(["config", "split", "rows"], [[c, s, n] for c, splits in files.items() for s, (_, n) in splits.items()])
    first = next(iter(files))
    return (f"---\n{meta}---\n\n# {source_name} ({fmt})\n\nExported by `tooldojo export --format {fmt}`. "
            f"{_CARD_INTRO[fmt]}\n\n" + table +
            f"\n\n```python\nfrom datasets import load_dataset\nds = load_dataset(\"<this folder or repo>\", "
            f"\"{first}\")\n```\n")


def _clean_stale(out: Path, keep: set[Path]) -> None:
    """Remove data files of an earlier export in ``out`` that this export did not write."""
    for path in out.glob("*/*"):
        if path.suffix in (".parquet", ".jsonl") and path not in keep:
            path.unlink()


def run_export(config: ExportConfig, out_dir: str | Path, *, seed: int = 0, force: bool = False,
               progress: bool = False) -> Manifest:
    """Export ``config.source`` to ``out_dir`` as ``config.format``; then push it when ``push_to_hub`` is set.
    Skipped when ``out_dir`` already holds this export of the same source."""
    out, source = Path(out_dir), Path(config.source)
    if not source.exists():
        raise DataError("no such folder", field=config.source, fix="pass a run folder, a dataset folder or an import folder")
    if out.resolve() == source.resolve():
        raise DataError("the output folder is the source folder", field="--out", fix="write the export elsewhere")
    earlier = check_out_dir(out, "export")
    kind, plan, features = plan_export(source, config.format)
    src_dir = source if kind == "import" else dataset_dir_of(source)
    fp = file_fingerprint(src_dir) if kind == "dataset" else file_fingerprint(source / "queries.jsonl") + \
        file_fingerprint(source / "tools.jsonl")
    settings = config.model_dump(exclude={"push_to_hub", "private"})
    st = StageRun(out, "export", settings, inputs={"source": fp})
    if force or not st.up_to_date():
        with st:
            ext = ".parquet" if config.file_format == "parquet" else ".jsonl"
            files: dict[str, dict[str, tuple[str, int]]] = {}
            total = sum(len(rows) for splits in plan.values() for rows in splits.values())
            done = 0
            for cname, splits in plan.items():
                for split, rows in splits.items():
                    rel = f"{cname}/{split}{ext}"
                    if ext == ".parquet" and config.format == "trl":
                        rows = [openai.for_parquet(r) for r in rows]
                    n = write_rows(rows, out / rel, features() if ext == ".parquet" else None, config.file_format)
                    files.setdefault(cname, {})[split] = (rel, n)
                    st.record_output(f"{cname}/{split}", n, rel)
                    done += n
                    if progress:
                        from rich.console import Console

                        Console(stderr=True).print(f"  {rel}: {n} rows ({done}/{total})")
            if earlier:
                _clean_stale(out, {out / p for splits in files.values() for p, _ in splits.values()})
            write_text(out / "README.md", dataset_card(config.format, files, src_dir.name if src_dir else "export"))
            st.record_output("card", None, "README.md")
            st.stats["source_kind"] = kind
    manifest = read_manifest(out)
    if config.push_to_hub:
        push_to_hub(out, config.push_to_hub, private=config.private)
    return manifest  # type: ignore[return-value]


def push_to_hub(folder: str | Path, repo_id: str, *, private: bool = True) -> str:
    """Upload an exported folder's card and data files to a Hub dataset repo; returns the repo URL.
    The token comes from ``HF_TOKEN`` or the cached login (never from tooldojo's files)."""
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                          allow_patterns=["README.md", "*/*.parquet", "*/*.jsonl"],
                          commit_message="tooldojo export")
    except Exception as err:  # network, auth, offline mode: one line for the user
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ToolDojoError(f"push to the Hub failed: {msg}", field="--push-to-hub",
                            fix="check the repo id, HF_TOKEN (write access) and the network (HF_HUB_OFFLINE)") from None
    return str(url)
