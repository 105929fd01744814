"""Helpers shared by tests of several areas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def stage_cli(register: Callable[[Any], None]) -> Callable[..., Any]:
    """A Typer app with only one area's commands (added by its ``register``), and a function that invokes
    it with ``typer.testing.CliRunner`` (arguments converted to strings)."""
    import typer
    from typer.testing import CliRunner

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """tooldojo (test app)"""

    register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])
