"""Run folders and stage manifests.

A run folder holds one directory per stage (``synth/``, ``dedup/``, ``split/``, ``train/``, ``eval/``).
Each stage writes its outputs there plus ``manifest.json`` (counts, config hash, input fingerprints,
package versions, timings, stage-specific stats) and ``config.yaml`` (the resolved config). A stage whose
manifest says it completed with the same config hash and the same input fingerprints is skipped on rerun.

Writes are atomic (temp file + rename), so an interrupted stage never leaves a half-written output that a
later stage would read as complete.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

MANIFEST = "manifest.json"
CONFIG = "config.yaml"

_VERSIONED = ("tooldojo", "torch", "transformers", "trl", "peft", "datasets", "datasketch",
              "sentence-transformers", "openai", "unsloth")


def package_versions(names: Iterable[str] = _VERSIONED) -> dict[str, str]:
    """Installed versions of the packages that shape a stage's output (missing ones are left out)."""
    out = {"python": platform.python_version()}
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


@functools.cache
def code_version() -> dict[str, Any]:
    """The commit of the tooldojo checkout this process imported, and whether it had uncommitted changes
    (``None`` for an installed package outside a git checkout). Cached: the code a process runs is the code it
    imported, even when the checkout moves on while it works."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                                 cwd=Path(__file__).resolve().parent)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    return {"commit": commit, "dirty": bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None}


NOT_HASHED = {"hash": False}
"""``Field(..., json_schema_extra=NOT_HASHED)``: a setting that cannot change a stage's outputs (how hard it
drives a server: the synth teacher's concurrency, rate limits, timeouts, retries, cost cap, circuit breaker).
It is written with the config but left out of :func:`config_hash`, so changing it does not make a finished
stage rerun. Where a stage runs is not in its config at all (the ``execution`` section)."""


HASHED_UNLESS_DEFAULT = {"hash": "unless_default"}
"""``Field(..., json_schema_extra=HASHED_UNLESS_DEFAULT)``: a setting added after stages were run with the
config, whose default does what the stage did before it existed. It is hashed only when set to something
else, so finished run folders stay up to date when tooldojo gains the setting."""


def _hashed_fields(model: BaseModel, data: dict[str, Any]) -> dict[str, Any]:
    for name, field in type(model).model_fields.items():
        if field.json_schema_extra == NOT_HASHED or (
                field.json_schema_extra == HASHED_UNLESS_DEFAULT and getattr(model, name) == field.get_default()):
            data.pop(name, None)
        elif isinstance(value := getattr(model, name), BaseModel) and isinstance(data.get(name), dict):
            _hashed_fields(value, data[name])
    return data


def hashed_dump(config: BaseModel) -> dict[str, Any]:
    """``config`` as the JSON-ready dict a hash covers: without :data:`NOT_HASHED` fields, and without
    :data:`HASHED_UNLESS_DEFAULT` fields left at their default (nested configs included)."""
    return _hashed_fields(config, config.model_dump(mode="json"))


def config_hash(config: BaseModel | dict) -> str:
    """A stable hash of a config (pydantic model or dict, see :func:`hashed_dump`), for stage skipping and
    provenance."""
    data = hashed_dump(config) if isinstance(config, BaseModel) else config
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def file_fingerprint(path: str | Path) -> str:
    """sha256 of a file's bytes, or of a folder's files (relative names + bytes), hex-truncated."""
    path = Path(path)
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        h.update(str(f.relative_to(path) if f != path else f.name).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path`` (atomic on POSIX)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    tmp_path.chmod(0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_text(path: str | Path, text: str) -> Path:
    """Atomically write ``text`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[BaseModel | dict]) -> int:
    """Atomically write rows (pydantic models or dicts) as JSON Lines; returns the row count."""
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            line = row.model_dump_json() if isinstance(row, BaseModel) else json.dumps(row, ensure_ascii=False)
            fh.write(line + "\n")
            n += 1
    return n


class Manifest(BaseModel):
    """What a stage did: enough to skip it on rerun, reproduce it, and report on it."""

    stage: str
    status: str = "running"
    """``running`` while the stage works, ``complete`` when every output is written."""
    config_hash: str = ""
    inputs: dict[str, str] = Field(default_factory=dict)
    """Input name -> fingerprint (an upstream manifest's ``fingerprint`` or a file hash)."""
    outputs: dict[str, str] = Field(default_factory=dict)
    """Output name -> path relative to the stage folder."""
    counts: dict[str, int] = Field(default_factory=dict)
    stats: dict[str, Any] = Field(default_factory=dict)
    """Stage-specific facts: token accounting, filter reports, leakage audit, training metrics."""
    versions: dict[str, str] = Field(default_factory=package_versions)
    code: dict[str, Any] = Field(default_factory=dict)
    """The tooldojo commit that ran the stage (:func:`code_version`; empty in manifests written before it was
    recorded)."""
    started_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    finished_at: str | None = None
    seconds: float | None = None
    fingerprint: str = ""
    """Hash of this stage's outputs, used as the input fingerprint of the stages after it."""


def read_manifest(stage_dir: str | Path) -> Manifest | None:
    """The stage's manifest, or ``None`` if it has none (never ran, or a foreign folder)."""
    path = Path(stage_dir) / MANIFEST
    if not path.exists():
        return None
    return Manifest.model_validate_json(path.read_text(encoding="utf-8"))


def is_up_to_date(stage_dir: str | Path, cfg_hash: str, inputs: dict[str, str]) -> bool:
    """True if the stage completed before with this config hash and these input fingerprints."""
    m = read_manifest(stage_dir)
    return bool(m and m.status == "complete" and m.config_hash == cfg_hash and m.inputs == inputs)


class StageRun:
    """Bookkeeping for one stage execution: use as a context manager around the stage's work.

    >>> with StageRun(run_dir / "dedup", "dedup", config, inputs={"synth": fp}) as st:
    ...     st.record_output("tools", write_jsonl(st.dir / "tools.jsonl", rows), "tools.jsonl")
    ...     st.stats["minhash"] = report

    On entry it writes the resolved config and a ``running`` manifest; on clean exit it fingerprints the
    declared outputs and marks the manifest ``complete``. On an exception the manifest stays ``running``
    (so the stage reruns) and earlier complete outputs are left untouched.
    """

    def __init__(self, stage_dir: str | Path, stage: str, config: BaseModel | dict,
                 inputs: dict[str, str] | None = None):
        self.dir = Path(stage_dir)
        self.config = config
        self.manifest = Manifest(stage=stage, config_hash=config_hash(config), inputs=inputs or {},
                                 code=code_version())
        self._t0 = 0.0

    @property
    def stats(self) -> dict[str, Any]:
        return self.manifest.stats

    @property
    def counts(self) -> dict[str, int]:
        return self.manifest.counts

    def up_to_date(self) -> bool:
        return is_up_to_date(self.dir, self.manifest.config_hash, self.manifest.inputs)

    def record_output(self, name: str, count: int | None, relpath: str) -> None:
        """Declare an output file/folder (relative to the stage dir) and its row count."""
        self.manifest.outputs[name] = relpath
        if count is not None:
            self.manifest.counts[name] = count

    def __enter__(self) -> StageRun:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._t0 = time.perf_counter()
        data = self.config.model_dump(mode="json") if isinstance(self.config, BaseModel) else self.config
        write_text(self.dir / CONFIG, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        write_json(self.dir / MANIFEST, self.manifest.model_dump(mode="json"))
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            return
        m = self.manifest
        m.seconds = round(time.perf_counter() - self._t0, 3)
        m.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        h = hashlib.sha256()
        for name in sorted(m.outputs):
            h.update(name.encode())
            h.update(file_fingerprint(self.dir / m.outputs[name]).encode())
        m.fingerprint = h.hexdigest()[:16]
        m.status = "complete"
        write_json(self.dir / MANIFEST, m.model_dump(mode="json"))


def upstream_fingerprint(stage_dir: str | Path, *, needed_by: str) -> str:
    """The fingerprint of a completed upstream stage, or a one-line error saying which command to run."""
    from tooldojo.errors import DataError

    m = read_manifest(stage_dir)
    if m is None or m.status != "complete":
        stage = Path(stage_dir).name
        raise DataError(
            f"{needed_by} needs a completed '{stage}' stage in {Path(stage_dir).parent}",
            field=str(stage_dir),
            fix=f"run `tooldojo {stage} --run-dir {Path(stage_dir).parent}` first",
        )
    return m.fingerprint
