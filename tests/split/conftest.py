"""Fixtures of the dataset tests: a run folder after synth (seed catalog) and dedup (MinHash only)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dedup"))

from dedup_synthdata import catalog_records, write_synth


@pytest.fixture(scope="session")
def deduped_run(tmp_path_factory) -> Path:
    """A run folder with synth (14 catalog families) and dedup done."""
    from tooldojo.dedup import run_dedup
    from tooldojo.dedup.config import DedupConfig

    run = tmp_path_factory.mktemp("run")
    tools, queries = catalog_records(max_families=14, per_pattern=2)
    write_synth(run, tools, queries)
    run_dedup(DedupConfig(semantic={"enabled": False}), run)
    return run


@pytest.fixture(scope="session")
def split_run(deduped_run, tmp_path_factory) -> Path:
    """``deduped_run`` copied and split (seed 0, MinHash-only audit)."""
    from tooldojo.split import run_split
    from tooldojo.split.config import SplitConfig

    run = tmp_path_factory.mktemp("split") / "run"
    shutil.copytree(deduped_run, run)
    run_split(SplitConfig(audit_semantic=False, unseen_family_ratio=0.3), run, seed=0)
    return run
