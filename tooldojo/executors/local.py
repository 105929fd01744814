"""The default executor: every task in this process, one after the other."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tooldojo.executors.base import Executor, LocalService


class LocalExecutor(Executor):
    """Tasks run in order in this process (a raised error propagates as is)."""

    name = "local"

    @property
    def workers(self) -> int:
        return 1

    def map(self, fn: Callable[..., Any], items: Sequence[tuple], *, name: str = "task", retries: int = 0,
            shared: tuple = (), gpus: int = 0) -> list[Any]:
        return [fn(*shared, *args) for args in items]

    def service(self, cls: type, *args: Any, name: str) -> LocalService:
        return LocalService(cls(*args))
