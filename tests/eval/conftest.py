"""Fixtures of the eval tests: a small scenario dataset in a run folder (see scenario_data.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scenario_data import make_examples, write_dataset

from tooldojo.records import Example


@pytest.fixture
def examples() -> list[Example]:
    return make_examples()


@pytest.fixture
def eval_run(tmp_path: Path, examples: list[Example]) -> Path:
    """A run folder whose split stage holds the fixture's scenario dataset."""
    run_dir = tmp_path / "run"
    write_dataset(run_dir, examples)
    return run_dir
