"""Synth on a distributed executor (``execution.executor: ray``): the same generation steps, in shards.

:meth:`~tooldojo.synth.generate.Synthesizer.run` takes a *mapper* that runs one step's items (domains to write
tools for, tools to upgrade or weaken, families to write queries for). :class:`ShardMapper` splits the items
into contiguous shards and maps :func:`run_shard` over them with the executor (one task per shard); each task
builds its own :class:`~tooldojo.synth.generate.Synthesizer` and teacher (its own async OpenAI client, or the
offline teacher) with ``1/shards`` of the global ``concurrency``, ``requests_per_minute`` and
``tokens_per_minute``, runs :meth:`~tooldojo.synth.generate.Synthesizer.step` on its items, and returns the
results, its drops and its accounting. The executor returns shard results in item order, so the output is the
one the local executor writes (the offline teacher and an HTTP teacher that answers a request the same way
give identical files).

**Cache (shared store).** One :class:`Coordinator`, an executor *service* kept beside the driver, owns the
run's ``synth/cache.sqlite`` (the same file and keys as the local executor); tasks read and write it through
the service (:class:`RemoteCache`; a write is awaited before the answer is used, so it is stored before the
worker can die). Hence a run interrupted on either executor resumes on either one, and a shard that is redone
re-sends no answered request.

**Killed workers.** A shard task whose worker process dies is run again by the executor (``MAX_RETRIES``);
it runs its whole shard again, answered requests come from the cache, and its results are returned once, so
nothing is duplicated. The coordinator also records each shard's worker pid and attempts
(:meth:`Coordinator.snapshot`).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tooldojo.errors import TeacherError
from tooldojo.executors import Executor, Service, WorkerDied
from tooldojo.records import stable_id
from tooldojo.synth.config import SynthConfig, TeacherConfig

MAX_RETRIES = 3
"""Retries of a shard whose worker died."""


def coordinator_name(stage_dir: str | Path) -> str:
    """The service (Ray actor) name of the coordinator of the synth run in ``stage_dir``."""
    return "tooldojo-synth-" + stable_id(str(Path(stage_dir).resolve()), length=12)


class Coordinator:
    """The run's response cache, progress counters and shard registry (a service on the driver's node)."""

    def __init__(self, cache_path: str | None):
        from tooldojo.synth.cache import ResponseCache

        self.cache = ResponseCache(cache_path) if cache_path else None
        self.started: Counter = Counter()
        self.finished: Counter = Counter()
        self.shards: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> tuple[str, dict[str, int]] | None:
        return self.cache.get(key) if self.cache is not None else None

    def put(self, key: str, content: str, step: str, model: str, usage: dict[str, int] | None) -> None:
        if self.cache is not None:
            self.cache.put(key, content, step=step, model=model, usage=usage)

    def delete(self, key: str) -> None:
        if self.cache is not None:
            self.cache.delete(key)

    def progress(self, started: dict[str, int], finished: dict[str, int]) -> None:
        self.started.update(started)
        self.finished.update(finished)

    def register(self, shard: str, pid: int, items: int) -> None:
        row = self.shards.setdefault(shard, {"attempts": 0, "done": False, "items": items})
        row["attempts"] += 1
        row["pid"] = pid

    def done(self, shard: str) -> None:
        self.shards[shard]["done"] = True

    def snapshot(self) -> dict[str, Any]:
        return {"started": dict(self.started), "finished": dict(self.finished),
                "shards": {k: dict(v) for k, v in self.shards.items()},
                "cached": len(self.cache) if self.cache is not None else 0}

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
            self.cache = None


class RemoteCache:
    """:class:`~tooldojo.synth.cache.ResponseCache`'s ``get``/``put``/``delete`` through the coordinator (awaitable)."""

    def __init__(self, coordinator: Service):
        self.coordinator = coordinator

    def get(self, key: str) -> Any:
        return self.coordinator.call("get", key)

    def put(self, key: str, content: str, *, step: str = "", model: str = "",
            usage: dict[str, int] | None = None) -> Any:
        return self.coordinator.call("put", key, content, step, model, usage)

    def delete(self, key: str) -> Any:
        return self.coordinator.call("delete", key)


class RemoteProgress:
    """Request progress sent to the coordinator in batches (at most every ``interval_s``)."""

    def __init__(self, coordinator: Service, interval_s: float = 0.25):
        self.coordinator, self.interval_s = coordinator, interval_s
        self.started_n: Counter = Counter()
        self.finished_n: Counter = Counter()
        self._last = time.monotonic()

    def started(self, step: str) -> None:
        self.started_n[step] += 1
        self._maybe_flush()

    def finished(self, step: str) -> None:
        self.finished_n[step] += 1
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last >= self.interval_s:
            self.flush()

    def flush(self) -> None:
        if self.started_n or self.finished_n:
            self.coordinator.call("progress", dict(self.started_n), dict(self.finished_n))
            self.started_n, self.finished_n = Counter(), Counter()
        self._last = time.monotonic()


def teacher_share(cfg: TeacherConfig, shards: int) -> TeacherConfig:
    """``cfg`` with ``1/shards`` of its concurrency, rate limits (each at least 1) and cost cap."""
    def part(v: int | None) -> int | None:
        return None if v is None else max(1, v // shards)

    return cfg.model_copy(update={"concurrency": part(cfg.concurrency), "requests_per_minute":
                                  part(cfg.requests_per_minute), "tokens_per_minute": part(cfg.tokens_per_minute),
                                  "max_cost_usd": None if cfg.max_cost_usd is None else cfg.max_cost_usd / shards})


@dataclass
class ShardSpec:
    """What a shard task needs to rebuild the synthesizer on its worker."""

    config: SynthConfig
    seed: int
    catalog_folder: str | None
    coordinator: Service
    shards: int
    shard: str


def run_shard(spec: ShardSpec, kind: str, items: Sequence[Any]) -> dict[str, Any]:
    """One shard (the body of a task): :meth:`Synthesizer.step` on ``items`` with this worker's teacher."""
    from tooldojo.synth.catalog import load_catalog
    from tooldojo.synth.generate import Synthesizer
    from tooldojo.synth.teachers import make_teacher
    from tooldojo.synth.templates import TemplateSet

    spec.coordinator.call("register", spec.shard, os.getpid(), len(items))
    cfg = spec.config
    templates = TemplateSet(cfg.templates)
    progress = RemoteProgress(spec.coordinator)
    teacher = make_teacher(teacher_share(cfg.teacher, spec.shards), seed=spec.seed,
                           cache=RemoteCache(spec.coordinator) if cfg.teacher.cache else None,  # type: ignore[arg-type]
                           progress=progress, catalog_folder=spec.catalog_folder)
    synth = Synthesizer(cfg, teacher, templates, load_catalog(spec.catalog_folder), seed=spec.seed)

    async def go() -> list[Any]:
        async with teacher:
            return await synth.map_local(kind, items)

    results = asyncio.run(go())
    progress.flush()
    spec.coordinator.call("done", spec.shard)
    return {"results": results, "drops": synth.drops.rows,
            "stats": {step: asdict(st) for step, st in teacher.stats.items()}, "describe": teacher.describe()}


class ShardMapper:
    """A :data:`~tooldojo.synth.generate.Mapper` that maps :func:`run_shard` over shards of each step's items
    with the executor and merges their drops and accounting into the driver's synthesizer and teacher."""

    def __init__(self, executor: Executor, synth: Any, teacher: Any, coordinator: Service, *, seed: int,
                 catalog_folder: str | None, progress: Any = None):
        self.executor, self.synth, self.teacher, self.coordinator = executor, synth, teacher, coordinator
        self.seed, self.catalog_folder, self.progress = seed, catalog_folder, progress
        self._seen_started: Counter = Counter()
        self._seen_finished: Counter = Counter()

    async def __call__(self, kind: str, items: Sequence[Any]) -> list[Any]:
        from tooldojo.synth.teacher import StepStats

        items = list(items)
        if not items:
            return []
        shards = min(self.executor.workers, len(items))
        bounds = [len(items) * k // shards for k in range(shards + 1)]
        config = self.synth.config
        if config.teacher.max_cost_usd is not None:  # the shards share what the earlier steps left of the cap
            self.teacher._check_budget()
            spent = self.teacher.accounting()["total"].get("cost_usd", 0.0)
            config = config.model_copy(update={"teacher": config.teacher.model_copy(
                update={"max_cost_usd": config.teacher.max_cost_usd - spent})})
        tasks = [(ShardSpec(config, self.seed, self.catalog_folder, self.coordinator, shards, f"{kind}-{k}"), kind,
                  items[bounds[k]:bounds[k + 1]]) for k in range(shards)]
        try:
            outs = await self.executor.amap(run_shard, tasks, name=f"synth-{kind}", retries=MAX_RETRIES,
                                            poll=self._poll)
        except WorkerDied as err:
            raise TeacherError(f"a synth shard's worker died {MAX_RETRIES + 1} times ({err.cause})",
                               field="execution.executor",
                               fix="check the workers' logs (memory?), then rerun: finished answers are cached") from None
        results: list[Any] = []
        for out in outs:
            results += out["results"]
            self.synth.drops.rows.extend(out["drops"])
            for step, row in out["stats"].items():
                self.teacher.stats[step].add(StepStats(**row))
            changes = out["describe"].get("structured_output_changes")
            if changes and hasattr(self.teacher, "mode_changes"):
                self.teacher.mode = out["describe"]["structured_output"]
                self.teacher.mode_changes += [c for c in changes if c not in self.teacher.mode_changes]
        return results

    async def _poll(self) -> None:
        if self.progress is None:
            return
        snap = self.coordinator.call("snapshot")
        snap = await snap if inspect.isawaitable(snap) else snap
        for seen, now, mark in ((self._seen_started, snap["started"], self.progress.started),
                                (self._seen_finished, snap["finished"], self.progress.finished)):
            for step, n in now.items():
                for _ in range(n - seen[step]):
                    mark(step)
                seen[step] = max(seen[step], n)


def run_sharded(executor: Executor, synth: Any, teacher: Any, strong_tools: list[dict[str, Any]] | None, *,
                stage_dir: Path, seed: int, catalog_folder: str | None, progress: Any = None) -> Any:
    """:meth:`Synthesizer.run` with a :class:`ShardMapper` on ``executor`` (entered: its session is open);
    returns the :class:`~tooldojo.synth.generate.SynthResult`."""
    from tooldojo.synth.aio import run_coroutine

    cfg: SynthConfig = synth.config
    cache_path = str(Path(stage_dir) / "cache.sqlite") if cfg.teacher.cache else None
    coordinator = executor.service(Coordinator, cache_path, name=coordinator_name(stage_dir))
    if cfg.teacher.cache:  # the driver asks nothing itself, but forgets rejected replies (generate.py)
        teacher.cache = RemoteCache(coordinator)
    try:
        mapper = ShardMapper(executor, synth, teacher, coordinator, seed=seed, catalog_folder=catalog_folder,
                             progress=progress)

        async def go() -> Any:
            async with teacher:  # the driver's teacher checks the endpoint and holds the merged accounting
                return await synth.run(strong_tools, mapper)

        if progress is not None:
            with progress:
                return run_coroutine(go())
        return run_coroutine(go())
    finally:
        coordinator.close()
