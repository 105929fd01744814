"""The shared reporting helpers: markdown tables and progress bars."""

from __future__ import annotations

import doctest

from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeRemainingColumn

from tooldojo import reporting
from tooldojo.reporting import md_table, progress_bar


def test_reporting_doctests():
    assert doctest.testmod(reporting).failed == 0


def test_md_table_with_a_formatter():
    assert md_table(["a", "b"], [[1.0, None]], fmt=repr) == "| a | b |\n|---|---|\n| 1.0 | None |"
    assert md_table(["a"], []) == "| a |\n|---|"


def test_progress_bar_columns_console_and_transience():
    bar = progress_bar("spinner", "{task.description}", "bar", "count", "remaining", "{task.fields[info]}")
    assert [type(c) for c in bar.columns] == [SpinnerColumn, TextColumn, BarColumn, MofNCompleteColumn,
                                               TimeRemainingColumn, TextColumn]
    assert [c.text_format for c in bar.columns if isinstance(c, TextColumn)] == ["{task.description}",
                                                                                 "{task.fields[info]}"]
    assert bar.console.stderr and not bar.live.transient
    quiet = progress_bar("count", stderr=False, transient=True)
    assert not quiet.console.stderr and quiet.live.transient
