"""The whole pipeline: synth -> dedup -> split -> train -> eval in one run folder."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``pipeline`` command to ``app``."""
