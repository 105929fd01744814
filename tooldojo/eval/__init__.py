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


def __getattr__(name: str):  # the BFCL module is loaded on first use
    if name in ("run_bfcl", "setup_bfcl"):
        from tooldojo.eval import bfcl

        return getattr(bfcl, name)
    raise AttributeError(name)


__all__ = ["BFCLConfig", "EvalConfig", "FunctionGenerator", "GenRequest", "GenResult", "compare_runs",
           "run_bfcl", "run_eval", "setup_bfcl"]
