"""BFCL (Berkeley Function Calling Leaderboard) as an outside check, through the official ``bfcl-eval``
package in an isolated environment (see :mod:`tooldojo.eval.bfcl.venv`)."""

from __future__ import annotations

from tooldojo.eval.bfcl.runner import run_bfcl
from tooldojo.eval.bfcl.venv import bfcl_status, setup_bfcl

__all__ = ["bfcl_status", "run_bfcl", "setup_bfcl"]
