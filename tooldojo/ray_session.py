"""Connecting to Ray for the ``executor: ray`` stages (synth, dedup); ``ray`` is the optional extra
``tooldojo[ray]`` and is imported only here, when a stage asks for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tooldojo.errors import ConfigError

INSTALL = 'pip install "tooldojo[ray]"'


def import_ray(field: str = "executor") -> Any:
    """The ``ray`` module, or a one-line :class:`ConfigError` with the install command."""
    try:
        import ray
        import ray.data  # the extra is ray[data]
    except ImportError:
        raise ConfigError("Ray is not installed", field=field, fix=f"{INSTALL}, or use the local executor") from None
    return ray


@contextmanager
def ray_session(address: str | None = None, *, field: str = "executor", num_cpus: int | None = None
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
