"""The ``tooldojo`` command line: ``options`` (shared option types, error handling, config loading), one module
per command group (``synth``, ``dedup``, ``split``, ``train``, ``eval``, ``formats``, ``pipeline``, ``ablate``,
``models``) and ``app`` that registers them. Stage packages hold no Typer code.
"""

from __future__ import annotations

from tooldojo.cli.app import app, main

__all__ = ["app", "main"]
