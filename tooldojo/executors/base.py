"""The one interface the stages run their parallel work through (after datatrove's ``PipelineExecutor``):
an executor owns the session (a cluster connection or nothing), how many tasks run at once, and the
completion of each task (retries, errors, waiting); stage code hands it a function and the items to map
it over, and gets the results back in item order."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Self

from tooldojo.errors import ToolDojoError
from tooldojo.executors.config import ExecutionConfig

Poll = Callable[[], Awaitable[None]]
"""Called while tasks are running (and once after): e.g. to move progress bars."""


class WorkerDied(ToolDojoError):
    """A task's worker process died more often than the task may be retried."""

    def __init__(self, message: str, *, cause: str, **kw: Any):
        super().__init__(message, **kw)
        self.cause = cause
        """The executor's name for what happened (e.g. Ray's ``WorkerCrashedError``)."""


class Service(ABC):
    """A stateful object the tasks share (e.g. synth's response cache)."""

    @abstractmethod
    def call(self, method: str, *args: Any) -> Any:
        """Call ``method`` on the object: its result, or an awaitable of it."""

    @abstractmethod
    def close(self) -> None:
        """Call the object's ``close()`` and release it."""


class Executor(ABC):
    """Runs a stage's independent tasks. Use as a context manager around the stage's work (the session)."""

    name: ClassVar[str]
    distributed: ClassVar[bool] = False
    """True when tasks run in other processes (they rebuild what they need from picklable arguments)."""

    def __init__(self, config: ExecutionConfig | None = None):
        self.config = config or ExecutionConfig(executor=self.name)  # type: ignore[arg-type]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    @property
    @abstractmethod
    def workers(self) -> int:
        """Tasks that can run at once."""

    @abstractmethod
    def map(self, fn: Callable[..., Any], items: Sequence[tuple], *, name: str = "task", retries: int = 0,
            shared: tuple = (), gpus: int = 0) -> list[Any]:
        """``[fn(*shared, *args) for args in items]``, run as tasks; results in item order. ``shared``
        arguments are sent to the workers once; ``gpus`` is what one task needs (on a distributed executor).
        A task that raised re-raises its :class:`~tooldojo.errors.ToolDojoError` here; a task whose worker
        died is run again up to ``retries`` times, then :class:`WorkerDied` is raised."""

    async def amap(self, fn: Callable[..., Any], items: Sequence[tuple], *, name: str = "task",
                   retries: int = 0, poll: Poll | None = None) -> list[Any]:
        """:meth:`map` from a coroutine, awaiting ``poll`` while the tasks run (and once after)."""
        out = self.map(fn, items, name=name, retries=retries)
        if poll is not None:
            await poll()
        return out

    @abstractmethod
    def service(self, cls: type, *args: Any, name: str) -> Service:
        """An instance of ``cls(*args)`` the tasks share, kept beside the driver."""


class LocalService(Service):
    """The object itself, in this process (its answers are plain values)."""

    def __init__(self, obj: Any):
        self.obj = obj

    def call(self, method: str, *args: Any) -> Any:
        return getattr(self.obj, method)(*args)

    def close(self) -> None:
        self.obj.close()
