"""Shared output for benchmarks: print a markdown table and store it in docs/benchmarks.md.

Each benchmark owns one section of docs/benchmarks.md, delimited by ``<!-- bench:NAME -->`` markers and
replaced on every run, headed by the machine and the date it was measured on.
"""

from __future__ import annotations

import os
import platform
import re
from datetime import date
from pathlib import Path
from typing import Any

from tooldojo.reporting import md_table

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nMeasured by the scripts under `bench/`; each section says where and when it was measured.\n"


def machine() -> str:
    """One line describing this machine: CPU model, cores, memory, GPU (if any), Python, torch."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [f"{cpu}, {os.cpu_count()} cores"]
    try:
        import psutil

        parts.append(f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM")
    except ImportError:
        pass
    try:
        import torch

        if torch.cuda.is_available():
            parts.append(f"GPU {torch.cuda.get_device_name(0)}")
        parts.append(f"torch {torch.__version__}")
    except ImportError:
        pass
    parts.append(f"Python {platform.python_version()}")
    return ", ".join(parts)


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A markdown table from dict rows (floats rounded sensibly)."""
    columns = columns or list(rows[0])

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    return md_table(columns, [[r.get(c, "") for c in columns] for r in rows], fmt)


def write_section(name: str, title: str, body: str, *, doc: Path = DOC, measured: str | None = None) -> str:
    """Replace (or add) benchmark section ``name`` in docs/benchmarks.md; print and return it. ``measured``
    replaces the "date: this machine" line (results measured elsewhere, e.g. on a lent GPU)."""
    measured = measured or f"{date.today().isoformat()}: {machine()}"
    section = (f"<!-- bench:{name} -->\n## {title}\n\n*Measured on {measured}.*\n\n"
               f"{body.strip()}\n<!-- /bench:{name} -->")
    print(section)
    text = doc.read_text(encoding="utf-8") if doc.exists() else HEADER
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
    return section
