"""What the stages show people: markdown tables for reports and rich progress bars for long work.

- :func:`md_table`: a markdown table from a header and rows, each cell written by :func:`cell` (or a given
  formatter).
- :func:`progress_bar`: a ``rich.progress.Progress`` from short column names, on stderr unless told.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.progress import Progress


def cell(value: Any) -> str:
    """A report cell: ``–`` for None, yes/no for booleans, three decimals for floats, else ``str``.

    >>> [cell(None), cell(True), cell(0.5), cell(3)]
    ['–', 'yes', '0.500', '3']
    """
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]], fmt: Callable[[Any], str] = cell) -> str:
    """A markdown table: ``header`` then one line per row, every value written by ``fmt``.

    >>> print(md_table(["tool", "accuracy"], [["map_search", 0.75], ["web_search", None]]))
    | tool | accuracy |
    |---|---|
    | map_search | 0.750 |
    | web_search | – |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def progress_bar(*columns: str, stderr: bool = True, transient: bool = False) -> Progress:
    """A rich progress bar (not started) with ``columns`` in order: ``spinner``, ``bar``, ``count`` (done/total),
    ``percent``, ``elapsed``, ``remaining``, or else a ``TextColumn`` template such as ``"{task.description}"``.
    It writes to stderr, or to rich's default console when ``stderr`` is false."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    named = {"spinner": SpinnerColumn, "bar": BarColumn, "count": MofNCompleteColumn, "percent": TaskProgressColumn,
             "elapsed": TimeElapsedColumn, "remaining": TimeRemainingColumn}
    made = [named[c]() if c in named else TextColumn(c) for c in columns]
    return Progress(*made, console=Console(stderr=True) if stderr else None, transient=transient)
