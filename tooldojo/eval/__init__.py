"""The eval stage: GenTool's generalization scenarios for any model or endpoint, reports, comparisons, BFCL.

Library entry points (plain functions over typed configs and run folders):

- :func:`run_eval` — score a model (folder, Hub id, adapter, the run's ``train/final``) or an OpenAI-compatible
  endpoint on the run's scenario sets into ``<run>/eval/<name>/``;
- :func:`compare_runs` — several evaluations side by side (markdown + grouped bar chart);
- :func:`run_bfcl` / :func:`setup_bfcl` — the Berkeley Function Calling Leaderboard through the official
  ``bfcl-eval`` package, in an isolated environment tooldojo creates.
"""

from __future__ import annotations

from tooldojo.eval.compare import compare_runs
from tooldojo.eval.config import BFCLConfig, EvalConfig
from tooldojo.eval.generation import FunctionGenerator, GenRequest, GenResult
from tooldojo.eval.runner import run_eval
from tooldojo.lazy import lazy_exports

# the BFCL module is loaded on first use
__getattr__ = lazy_exports(__name__, {"run_bfcl": ".bfcl", "setup_bfcl": ".bfcl"})


__all__ = ["BFCLConfig", "EvalConfig", "FunctionGenerator", "GenRequest", "GenResult", "compare_runs",
           "run_bfcl", "run_eval", "setup_bfcl"]
