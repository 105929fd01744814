"""Import a tool-calling dataset into tooldojo's records: normalised tools, queries with gold calls, and
the rows that could not be converted (with the reason). See ``docs/formats.md``.

>>> result = import_source("data/xlam.jsonl")              # format detected from the rows
>>> result = import_source("Salesforce/xlam-function-calling-60k", "xlam", limit=1000)   # a Hub id
>>> run_import(ImportConfig(source="bfcl/"), Path("imports/bfcl"))   # files + manifest, as the CLI does
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tooldojo.errors import DataError
from tooldojo.formats import bfcl, glaive, hermes, openai, toolace, xlam
from tooldojo.formats.files import check_out_dir
from tooldojo.formats.model import (
    Conversation,
    ImportedCall,
    ImportedQuery,
    ImportedTool,
    ImportFailure,
    ImportResult,
    RowError,
    canonical,
    tool_key,
)
from tooldojo.formats.schemas import SchemaError, repair_function
from tooldojo.formats.sources import SourceRow, is_local, read_rows
from tooldojo.records import GENERATE_RESPONSE, stable_id
from tooldojo.runs import Manifest, StageRun, file_fingerprint, read_manifest, write_jsonl

ImportFormat = Literal["auto", "xlam", "toolace", "glaive", "hermes", "bfcl", "openai"]
FORMATS = ("xlam", "toolace", "glaive", "hermes", "bfcl", "openai")
ALIASES = {"trl": "openai", "apigen": "xlam", "sharegpt": "hermes", "auto": "auto"}

_READERS: dict[str, Callable[[dict[str, Any], Path | None], Conversation]] = {
    "xlam": lambda row, _f: xlam.read(row),
    "toolace": lambda row, _f: toolace.read(row),
    "glaive": lambda row, _f: glaive.read(row),
    "hermes": lambda row, _f: hermes.read(row),
    "bfcl": bfcl.read,
    "openai": lambda row, _f: openai.read(row),
}
_DETECT_ORDER = (("bfcl", bfcl.matches), ("xlam", xlam.matches), ("glaive", glaive.matches),
                 ("toolace", toolace.matches), ("hermes", hermes.matches), ("openai", openai.matches))


def resolve_format(name: str | None) -> str:
    """A format name or alias -> one of :data:`FORMATS` or ``auto``."""
    name = (name or "auto").lower()
    name = ALIASES.get(name, name)
    if name != "auto" and name not in FORMATS:
        raise DataError(f"unknown format {name!r}", field="--format",
                        fix=f"use one of auto, {', '.join(FORMATS)} (aliases: trl, apigen, sharegpt)")
    return name


def detect_format(row: dict[str, Any]) -> str | None:
    """The format a row is in, from its columns (``None`` if none fits)."""
    for name, test in _DETECT_ORDER:
        if test(row):
            return name
    return None


class _Builder:
    """Collects normalised tools (deduplicated by name + schema) and queries, row by row."""

    def __init__(self, source: str, fmt: str, default_domain: str | None, strict: bool = False):
        self.result = ImportResult(source=source, format=fmt)
        self.default_domain = default_domain
        self.strict = strict
        self._validators: dict[str, Any] = {}
        self._tools: dict[str, ImportedTool] = {}
        self._queries: set[str] = set()
        self._normalized: dict[str, dict[str, Any] | str] = {}
        """Raw tool JSON -> normalised function, or the error: datasets repeat the same tools row after row."""

    def _normalize(self, raw: Any) -> dict[str, Any]:
        key = canonical(raw) if isinstance(raw, dict) else repr(raw)
        if key not in self._normalized:
            try:
                self._normalized[key] = repair_function(raw)
            except SchemaError as err:
                self._normalized[key] = f"bad tool schema: {err}"
        hit = self._normalized[key]
        if isinstance(hit, str):
            raise RowError(hit)
        return copy.deepcopy(hit)

    def fail(self, ref: str, reason: str) -> None:
        self.result.failures.append(ImportFailure(row=ref, reason=reason))

    def _call_error(self, fn: dict[str, Any], arguments: dict[str, Any]) -> str | None:
        """The first way ``arguments`` break ``fn``'s schema (``None`` if they fit)."""
        key = canonical(fn["parameters"])
        if key not in self._validators:
            from jsonschema import Draft202012Validator

            self._validators[key] = Draft202012Validator(fn["parameters"])
        err = next(iter(self._validators[key].iter_errors(arguments)), None)
        return None if err is None else f"{'.'.join(map(str, err.absolute_path)) or '<arguments>'}: {err.message}"

    def add(self, conv: Conversation, ref: str) -> None:
        query = conv.query.strip() if isinstance(conv.query, str) else ""
        if not query:
            raise RowError("no user query: the query text is empty")
        functions: dict[str, dict[str, Any]] = {}
        for raw in conv.tools:
            fn = self._normalize(raw)
            if fn["name"] == GENERATE_RESPONSE:  # tooldojo's pseudo-tool: a direct reply, not a tool
                continue
            if fn["name"] in functions and functions[fn["name"]] != fn:
                raise RowError(f"two different tools share a name: {fn['name']}")
            functions[fn["name"]] = fn
        if not functions:
            raise RowError("no tools offered: the row lists no tool")
        calls, answer = [], conv.answer
        for call in conv.calls:
            if call["name"] == GENERATE_RESPONSE:
                answer = answer or call["arguments"].get("response") or None
                continue
            if call["name"] not in functions:
                raise RowError(f"call to a tool that is not offered: {call['name']}")
            calls.append(ImportedCall(name=call["name"], arguments=call["arguments"]))
        off_schema = [e for c in calls if (e := self._call_error(functions[c.name], c.arguments))]
        if off_schema and self.strict:
            raise RowError(f"gold call does not fit its tool's schema: {off_schema[0][:160]}")
        tool_ids = [tool_key(fn) for fn in functions.values()]
        qid = stable_id(query, tool_ids, canonical([c.model_dump() for c in calls]), prefix="q_")
        if qid in self._queries:
            self.result.duplicate_queries += 1
            return
        self._queries.add(qid)
        self.result.off_schema_calls += len(off_schema)
        for key, fn in zip(tool_ids, functions.values(), strict=True):
            if key in self._tools:
                self._tools[key].rows += 1
            else:
                domain = conv.domain or (fn["name"].split(".")[0] if "." in fn["name"] else None)
                self._tools[key] = ImportedTool(tool_id=key, function=fn, domain=domain or self.default_domain)
        self.result.queries.append(ImportedQuery(
            query_id=qid, text=query, tools=tool_ids, calls=calls, answer=answer or None,
            system=conv.system or None, source_row=ref))

    def finish(self) -> ImportResult:
        self.result.tools = list(self._tools.values())
        return self.result


def resolve_source(source: str | Path) -> str | Path:
    """``bfcl`` (when no such local path exists) -> the BFCL data folder (see :func:`bfcl.find_data`)."""
    if str(source) != "bfcl" or is_local(source):
        return source
    data = bfcl.find_data()
    if data is None:
        raise DataError("BFCL data not found", field="bfcl",
                        fix=f"pip install bfcl-eval (any venv) and set {bfcl.ENV}=<site-packages>/bfcl_eval/data, "
                            "or pass the data folder itself")
    return data


def _ref(row: SourceRow) -> str:
    rid = row.data.get("id") if row.data else None
    return f"{row.ref} (id={rid})" if rid not in (None, "") and str(rid) not in row.ref else row.ref


def import_source(source: str | Path, format: str | None = "auto", *, subset: str | None = None,
                  split: str = "train", limit: int | None = None, domain: str | None = None,
                  strict: bool = False, progress: bool = False) -> ImportResult:
    """Import every row of ``source`` (file, folder or Hub id) in ``format`` (``auto``: detected from the
    first readable row). Rows that cannot be converted become :class:`ImportFailure`s; the import goes on.
    ``limit`` stops after that many source rows; ``domain`` is given to tools whose source has no domain;
    ``strict`` also refuses rows whose gold call does not validate against its tool's schema (otherwise
    they are kept and counted in ``off_schema_calls``)."""
    fmt = resolve_format(format)
    source = resolve_source(source)
    if fmt == "auto" and source == bfcl.find_data():
        fmt = "bfcl"
    builder = _Builder(str(source), fmt, domain, strict)
    rows = read_rows(source, subset=subset, split=split)
    bar = _progress(progress)
    task = bar.add_task("importing", total=limit) if bar else None
    try:
        for row in rows:
            if limit is not None and builder.result.rows >= limit:
                break
            builder.result.rows += 1
            if bar:
                bar.advance(task)
            if row.data is None:
                builder.fail(row.ref, f"unreadable row: {row.error}")
                continue
            if fmt == "auto":
                detected = detect_format(row.data)
                if detected is None:
                    raise DataError(f"cannot tell the format from the columns {sorted(row.data)[:8]}",
                                    field=str(source), fix=f"pass --format (one of {', '.join(FORMATS)})")
                fmt = builder.result.format = detected
            try:
                builder.add(_READERS[fmt](row.data, row.file), _ref(row))
            except RowError as err:
                builder.fail(_ref(row), str(err))
            except (ValueError, KeyError, TypeError, AttributeError) as err:  # a shape no reader expected
                msg = str(err).splitlines()[0] if str(err) else ""
                builder.fail(_ref(row), f"malformed row: {type(err).__name__} {msg}"[:300])
    finally:
        if bar:
            bar.stop()
    return builder.finish()


def _progress(enabled: bool):
    if not enabled:
        return None
    from tooldojo.reporting import progress_bar

    bar = progress_bar("spinner", "{task.description}", "count", "elapsed", stderr=False, transient=True)
    bar.start()
    return bar


# ------------------------------------------------------------------------------------------- on disk

TOOLS, QUERIES, FAILURES, EVAL_DIR = "tools.jsonl", "queries.jsonl", "failures.jsonl", "dataset"


class ImportConfig(BaseModel):
    """What ``tooldojo import`` reads and writes."""

    model_config = ConfigDict(extra="forbid")

    source: str
    """A local file or folder, or a Hub dataset id."""
    format: ImportFormat = "auto"
    subset: str | None = None
    """Hub dataset config name."""
    split: str = "train"
    limit: int | None = Field(None, ge=1)
    """Read at most this many source rows."""
    domain: str | None = None
    """Domain for tools whose source has none."""
    strict: bool = False
    """Refuse rows whose gold call does not validate against its tool's schema."""
    eval_set: bool = True
    """Also write ``dataset/eval/imported.parquet``: the single-call and no-call queries as eval rows."""


def write_import(result: ImportResult, out_dir: str | Path) -> dict[str, int]:
    """Write ``tools.jsonl``, ``queries.jsonl`` and ``failures.jsonl`` (atomically); returns row counts."""
    out = Path(out_dir)
    return {"tools": write_jsonl(out / TOOLS, result.tools),
            "queries": write_jsonl(out / QUERIES, result.queries),
            "failures": write_jsonl(out / FAILURES, result.failures)}


def is_import_dir(path: str | Path) -> bool:
    path = Path(path)
    return (path / TOOLS).is_file() and (path / QUERIES).is_file()


def read_import(out_dir: str | Path) -> ImportResult:
    """An import written by :func:`run_import` / :func:`write_import`, read back."""
    from tooldojo.records import read_jsonl

    out = Path(out_dir)
    if not is_import_dir(out):
        raise DataError("not an import folder (no tools.jsonl/queries.jsonl)", field=str(out),
                        fix=f"run `tooldojo import <source> --out {out}` first")
    m = read_manifest(out)
    meta = (m.stats.get("import") if m else None) or {}
    return ImportResult(
        source=meta.get("source", str(out)), format=meta.get("format", "tooldojo"),
        rows=meta.get("rows", 0), duplicate_queries=meta.get("duplicate_queries", 0),
        off_schema_calls=meta.get("off_schema_calls", 0),
        tools=read_jsonl(out / TOOLS, ImportedTool), queries=read_jsonl(out / QUERIES, ImportedQuery),
        failures=read_jsonl(out / FAILURES, ImportFailure) if (out / FAILURES).exists() else [])


def _source_fingerprint(config: ImportConfig) -> str:
    source = resolve_source(config.source)
    if is_local(source):
        return file_fingerprint(Path(source).expanduser())
    return f"hub:{config.source}:{config.subset or ''}:{config.split}"


def run_import(config: ImportConfig, out_dir: str | Path, *, seed: int = 0, force: bool = False,
               progress: bool = False) -> Manifest:
    """Import ``config.source`` into ``out_dir`` (tools, queries, failures, optional eval set, manifest).
    Skipped when the folder already holds a complete import of the same source with the same config."""
    out = Path(out_dir)
    check_out_dir(out, "import")
    st = StageRun(out, "import", config, inputs={"source": _source_fingerprint(config)})
    if not force and st.up_to_date():
        return read_manifest(out)  # type: ignore[return-value]
    with st:
        result = import_source(config.source, config.format, subset=config.subset, split=config.split,
                               limit=config.limit, domain=config.domain, strict=config.strict,
                               progress=progress)
        counts = write_import(result, out)
        if not result.queries:
            reasons = "; ".join(f"{k} ({v})" for k, v in list(result.stats()["failure_reasons"].items())[:3])
            raise DataError(f"no row could be converted ({result.rows} rows read): {reasons}",
                            field=config.source, fix=f"check --format; every reason is in {out / FAILURES}")
        for name, rel in (("tools", TOOLS), ("queries", QUERIES), ("failures", FAILURES)):
            st.record_output(name, counts[name], rel)
        if config.eval_set:
            from tooldojo.formats.evalset import to_examples, write_eval_dataset

            examples, skipped = to_examples(result, default_domain=config.domain or "imported")
            if examples:
                write_eval_dataset(examples, out / EVAL_DIR)
                st.record_output("eval_examples", len(examples), EVAL_DIR)
            st.counts["eval_skipped"] = len(skipped)
        st.stats["import"] = {"source": result.source, "format": result.format, "rows": result.rows,
                              "duplicate_queries": result.duplicate_queries,
                              "off_schema_calls": result.off_schema_calls}
        st.stats.update(result.stats())
    return st.manifest
