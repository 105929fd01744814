"""The synth stage: a teacher LLM (or the offline seed-catalog teacher) writes tool families (weak tool +
upgraded strong variant) and queries for GenTool's Zero-to-One and Weak-to-Strong scenarios.

Library: :func:`run_synth` (``<run_dir>/synth/``: ``tools.jsonl``, ``queries.jsonl``, ``drops.jsonl``,
``cache.sqlite``, ``manifest.json``, ``report.md``). CLI: ``tooldojo synth``. See docs/synth.md.
"""

from tooldojo.synth.seeds import functions_from_file, read_seed_tools
from tooldojo.synth.stage import run_synth
from tooldojo.synth.templates import TemplateSet, export_templates

__all__ = ["TemplateSet", "export_templates", "functions_from_file", "read_seed_tools", "run_synth"]
