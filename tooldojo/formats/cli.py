"""CLI commands of the formats (import/export) (registered on the main `tooldojo` app)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to `app`."""
