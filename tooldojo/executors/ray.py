"""The Ray executor (``execution.executor: ray``): tasks on a Ray cluster, in the manner of datatrove's
``RayPipelineExecutor``. ``ray`` is the optional extra ``tooldojo[ray]``, imported only when a run asks for it;
stage code reaches Ray only through :class:`RayExecutor`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, Self

from tooldojo.errors import ConfigError, ToolDojoError
from tooldojo.executors.base import Executor, Poll, Service, WorkerDied
from tooldojo.executors.config import ExecutionConfig

INSTALL = 'pip install "tooldojo[ray]"'


def import_ray(field: str = "execution.executor") -> Any:
    """The ``ray`` module, or a one-line :class:`ConfigError` with the install command."""
    try:
        import ray
        import ray.data  # the extra is ray[data]
    except ImportError:
        raise ConfigError("Ray is not installed", field=field, fix=f"{INSTALL}, or use the local executor") from None
    return ray


@contextmanager
def ray_session(address: str | None = None, *, field: str = "execution.executor", num_cpus: int | None = None
                ) -> Iterator[Any]:
    """Use the running Ray instance, or connect to ``address``, or start Ray on this machine (``ray.init()``);
    a session started here is shut down on exit. Yields the ``ray`` module."""
    ray = import_ray(field)
    if ray.is_initialized():
        yield ray
        return
    if address:
        _check_reachable(address, field.rsplit(".", 1)[0] + ".ray_address")
    try:
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 logging_level="WARNING", configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = address or "a local Ray instance"
        raise ConfigError(f"cannot start or reach {where}: {str(err).splitlines()[0][:160]}",
                          field=field.rsplit(".", 1)[0] + ".ray_address",
                          fix="check --ray-address (e.g. ray://head:10001 or auto), or leave it out to start "
                              "Ray on this machine") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _check_reachable(address: str, field: str, timeout: float = 5.0) -> None:
    """Fail fast (instead of Ray's minutes of retries) when nothing listens at ``host:port`` / ``ray://host:port``."""
    import socket

    hostport = address.removeprefix("ray://")
    if address == "auto" or ":" not in hostport:
        return
    host, _, port = hostport.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot reach a Ray cluster at {address} ({err.strerror or err})", field=field,
                          fix="check --ray-address (head node host:port, or ray://host:10001 for Ray Client), "
                              "or leave it out to start Ray on this machine") from None


def cluster_cpus(ray: Any, workers: int | None = None) -> int:
    """``workers`` if given, else the CPUs of the connected cluster (at least 1)."""
    if workers:
        return int(workers)
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _apply(fn: Callable[..., Any], *args: Any) -> Any:
    """A task's body: ``fn`` may be any callable (a bound method, a partial), not only a plain function."""
    return fn(*args)


class RayService(Service):
    """An actor pinned to the driver's node; ``call`` returns an (awaitable) ``ObjectRef``; ``close`` calls
    the object's ``close()`` and ends the actor."""

    def __init__(self, actor: Any):
        self.actor = actor  # picklable: tasks get the service as an argument

    def call(self, method: str, *args: Any) -> Any:
        return getattr(self.actor, method).remote(*args)

    def close(self) -> None:
        ray = import_ray()
        try:
            ray.get(self.actor.close.remote())
        finally:
            ray.kill(self.actor)


class RayExecutor(Executor):
    """Each item one Ray task (1 CPU), retried when its worker dies; the session is the running Ray
    instance, the one at ``execution.ray_address``, or one started here (and shut down on exit)."""

    name = "ray"
    distributed = True

    def __init__(self, config: ExecutionConfig | None = None):
        super().__init__(config)
        self.ray: Any = None
        self._stack: ExitStack | None = None

    def __enter__(self) -> Self:
        self._stack = ExitStack()
        self.ray = self._stack.enter_context(ray_session(self.config.ray_address))
        return self

    def __exit__(self, *exc: Any) -> None:
        stack, self._stack, self.ray = self._stack, None, None
        if stack is not None:
            stack.close()

    @property
    def workers(self) -> int:
        return cluster_cpus(self.ray, self.config.ray_workers)

    def _submit(self, fn: Callable[..., Any], items: Sequence[tuple], name: str, retries: int,
                shared: tuple = (), gpus: int = 0) -> list[Any]:
        task = self.ray.remote(num_cpus=0 if gpus else 1, num_gpus=gpus, max_retries=retries,
                               retry_exceptions=False)(_apply)
        refs = [self.ray.put(x) for x in (fn, *shared)]  # stored once; a task gets the values
        return [task.options(name=f"tooldojo-{name}-{k}").remote(*refs, *args) for k, args in enumerate(items)]

    @contextmanager
    def _translated(self, name: str, retries: int) -> Iterator[None]:
        """Waiting for tasks: a task's own user error is raised as itself, a dead worker as one line."""
        exc = self.ray.exceptions
        try:
            yield
        except exc.RayTaskError as err:
            if isinstance(getattr(err, "cause", None), ToolDojoError):
                raise err.cause from None
            raise
        except (exc.WorkerCrashedError, exc.NodeDiedError) as err:
            raise WorkerDied(f"a {name} task's Ray worker died {retries + 1} times ({type(err).__name__})",
                             field="execution.executor", cause=type(err).__name__,
                             fix="check the workers' logs (memory?), then rerun: finished work is kept") from None

    def map(self, fn: Callable[..., Any], items: Sequence[tuple], *, name: str = "task", retries: int = 0,
            shared: tuple = (), gpus: int = 0) -> list[Any]:
        refs = self._submit(fn, items, name, retries, shared, gpus)
        with self._translated(name, retries):
            return self.ray.get(refs)

    async def amap(self, fn: Callable[..., Any], items: Sequence[tuple], *, name: str = "task",
                   retries: int = 0, poll: Poll | None = None) -> list[Any]:
        pending = refs = self._submit(fn, items, name, retries)
        while pending:
            _, pending = self.ray.wait(pending, num_returns=len(pending), timeout=0)
            if poll is not None:
                await poll()
            if pending:
                await asyncio.sleep(0.25)
        if poll is not None:
            await poll()
        with self._translated(name, retries):
            return [await r for r in refs]

    def service(self, cls: type, *args: Any, name: str) -> RayService:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(self.ray.get_runtime_context().get_node_id(), soft=False)
        actor = self.ray.remote(cls).options(name=name, num_cpus=0, scheduling_strategy=here).remote(*args)
        return RayService(actor)
