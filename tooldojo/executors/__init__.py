"""Executors: where the stages' parallel work runs (``local``, ``ray``), behind one ``map`` interface."""

from __future__ import annotations

from tooldojo.executors.base import Executor, LocalService, Service, WorkerDied
from tooldojo.executors.config import ExecutionConfig
from tooldojo.executors.local import LocalExecutor

__all__ = ["ExecutionConfig", "Executor", "LocalExecutor", "LocalService", "Service", "WorkerDied", "make_executor"]


def make_executor(config: ExecutionConfig | None = None) -> Executor:
    """The executor ``config`` names (``local`` when ``None``); Ray is imported when the session starts."""
    config = config or ExecutionConfig()
    if config.executor == "ray":
        from tooldojo.executors.ray import RayExecutor

        return RayExecutor(config)
    return LocalExecutor(config)
