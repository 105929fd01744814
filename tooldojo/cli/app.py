"""The ``tooldojo`` app: one command (or command group) per module of this package, registered here.

Heavy libraries are imported inside the commands, so ``tooldojo --help`` is instant.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tooldojo import __version__
from tooldojo.cli import ablate, dedup, eval, formats, models, pipeline, split, synth, train

app = typer.Typer(
    name="tooldojo",
    help="Teach small language models to generalize in tool use (GenTool + Tool-Zero).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tooldojo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Teach small language models to generalize in tool use (GenTool + Tool-Zero)."""


for _group in (synth, dedup, split, train, eval, formats, pipeline, ablate, models):
    _group.register(app)


def main() -> None:
    app(prog_name="tooldojo")


if __name__ == "__main__":
    sys.exit(main())
