"""Fixtures of the dedup tests: synth folders made from the seed catalog (see dedup_synthdata.py)."""

from __future__ import annotations

import pytest
from dedup_synthdata import catalog_records


@pytest.fixture(scope="session")
def records():
    """Tools and queries of 10 catalog families (2 filled queries per pattern)."""
    return catalog_records(max_families=10, per_pattern=2)
