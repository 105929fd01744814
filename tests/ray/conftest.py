"""One local Ray instance (2 CPUs) per test module: Ray's start-up is slow, so tests share it."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray instance with 2 CPUs, shut down after the module (skips when ``ray`` is not installed)."""
    ray = pytest.importorskip("ray", reason="ray is an optional extra: pip install 'tooldojo[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()
