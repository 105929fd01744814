"""The isolated environment for the official ``bfcl-eval`` package, and the bridge to its worker.

``bfcl-eval`` pins old versions of numpy, tree-sitter, networkx and API SDKs, so it never goes into
tooldojo's environment. :func:`setup_bfcl` creates a separate venv (default ``<tooldojo cache>/bfcl-venv``):

1. ``pip install --no-deps bfcl-eval==<version>``;
2. its declared requirements, except ``sentence-transformers`` and ``faiss-cpu`` (only the agentic *memory*
   category's vector store imports them; they would pull a multi-GB torch build), plus ``soundfile``
   (``qwen-agent``, which BFCL's model registry imports, imports it without declaring it);
3. a check that the worker imports BFCL's data loader and AST checker.

:func:`call_worker` runs ``worker.py`` with that venv's Python, one JSON request in, one JSON reply out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tooldojo.errors import ConfigError, ToolDojoError
from tooldojo.eval.config import BFCLConfig

MARKER = "tooldojo_bfcl.json"
EXCLUDED = {"sentence-transformers", "faiss-cpu"}
EXTRA = ["soundfile"]
WORKER = Path(__file__).with_name("worker.py")


class BFCLError(ToolDojoError):
    """The BFCL environment is missing, broken, or refused a request."""


def venv_dir(config: BFCLConfig) -> Path:
    from tooldojo.models import cache_dir

    return Path(config.venv) if config.venv else cache_dir() / "bfcl-venv"


def venv_python(path: Path) -> Path:
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def bfcl_status(config: BFCLConfig) -> dict[str, Any] | None:
    """The environment's record (version, requirements, setup seconds), or ``None`` when not set up."""
    marker = venv_dir(config) / MARKER
    if not marker.is_file() or not venv_python(venv_dir(config)).exists():
        return None
    return json.loads(marker.read_text(encoding="utf-8"))


def _run(cmd: list[str], what: str, **kwargs: Any) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise BFCLError(f"{what} failed: {tail[-600:]}", field="eval.bfcl.venv",
                        fix="check that PyPI is reachable (or a pip index is configured), then rerun "
                            "`tooldojo eval bfcl --setup`")
    return proc.stdout


def _requirement_name(req: str) -> str:
    return re.split(r"[<>=!~;\[ (]", req, maxsplit=1)[0].strip().lower().replace("_", "-")


def setup_bfcl(config: BFCLConfig | None = None, *, force: bool = False) -> dict[str, Any]:
    """Create (or reuse) the ``bfcl-eval`` environment; returns its record (see module docstring)."""
    from rich.console import Console

    config = config or BFCLConfig()
    path = venv_dir(config)
    status = bfcl_status(config)
    if status and not force and (config.version is None or status.get("version") == config.version):
        return status
    console = Console(stderr=True)
    t0 = time.perf_counter()
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = f"bfcl-eval=={config.version}" if config.version else "bfcl-eval"
    with console.status(f"creating the bfcl-eval environment in {path} (about a minute)"):
        _run([sys.executable, "-m", "venv", str(path)], "creating the venv")
        py = str(venv_python(path))
        pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        _run([*pip, "--no-deps", spec], f"pip install {spec}")
        declared = json.loads(_run([py, "-c", "import importlib.metadata as m, json; "
                                              "print(json.dumps(m.requires('bfcl-eval') or []))"],
                                   "reading bfcl-eval's requirements"))
        reqs = [r for r in declared if "extra ==" not in r and _requirement_name(r) not in EXCLUDED]
        _run([*pip, *reqs, *EXTRA], "installing bfcl-eval's requirements")
        info = call_worker(path, {"op": "info"})
    record = {"version": info["version"], "requirements": reqs + EXTRA, "excluded": sorted(EXCLUDED),
              "python": sys.version.split()[0], "seconds": round(time.perf_counter() - t0, 1),
              "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
    (path / MARKER).write_text(json.dumps(record, indent=2), encoding="utf-8")
    console.print(f"bfcl-eval {record['version']} ready in {path} ({record['seconds']} s)")
    return record


def require_venv(config: BFCLConfig) -> Path:
    """The environment's folder, or a one-line error saying how to create it."""
    if bfcl_status(config) is None:
        raise ConfigError(f"the bfcl-eval environment is not set up ({venv_dir(config)})", field="eval.bfcl.venv",
                          fix="run `tooldojo eval bfcl --setup` once (about a minute; needs PyPI)")
    return venv_dir(config)


def call_worker(path: Path, request: dict[str, Any]) -> dict[str, Any]:
    """Run one worker operation in the environment at ``path``; returns its JSON reply."""
    from tooldojo.models import cache_dir

    project = cache_dir() / "bfcl-project"
    project.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BFCL_PROJECT_ROOT": str(project), "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)  # nothing from tooldojo's environment leaks in
    proc = subprocess.run([str(venv_python(path)), str(WORKER)], input=json.dumps({**request, "project_root": str(project)}),
                          capture_output=True, text=True, env=env, cwd=str(project))
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise BFCLError(f"the bfcl-eval worker failed ({request.get('op')}): {tail[-600:]}", field="eval.bfcl.venv",
                        fix="recreate the environment: `tooldojo eval bfcl --setup --force`")
    reply = json.loads(proc.stdout)
    if "user_error" in reply:
        raise ConfigError(reply["user_error"], field="eval.bfcl.categories",
                          fix="use single-turn Python categories, e.g. simple_python, multiple, live")
    return reply
