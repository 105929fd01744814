"""tooldojo: teach small language models to generalize in tool use.

Stages (each a plain library function and a CLI subcommand):
synth -> dedup -> split -> train -> eval. See README.md.
"""

__version__ = "0.1.0"
