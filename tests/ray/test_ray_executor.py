"""The Ray executor keeps the executor contract: results in item order, shared arguments, a task's own
user error re-raised as itself, any callable as a task, services beside the driver."""

from __future__ import annotations

import asyncio
import operator

import pytest

from tooldojo.errors import ConfigError
from tooldojo.executors import ExecutionConfig, make_executor

pytest.importorskip("ray", reason="ray is an optional extra: pip install 'tooldojo[ray]'")


def test_ray_executor_map_order_errors_and_services(ray_local):
    from tooldojo.dedup.stage import input_files
    from tooldojo.synth.shards import Coordinator

    with make_executor(ExecutionConfig(executor="ray", ray_workers=2)) as executor:
        assert executor.distributed and executor.workers == 2
        assert executor.map(operator.mul, [(k,) for k in range(7)], shared=(3,)) == [3 * k for k in range(7)]
        assert executor.map("{}-{}".format, [("a", 1), ("b", 2)]) == ["a-1", "b-2"]  # a bound method
        with pytest.raises(ConfigError) as err:  # the task's own error, not Ray's wrapper
            executor.map(input_files, [("one.jsonl",)])
        assert err.value.field == "--input"
        polled = []

        async def poll() -> None:
            polled.append(1)

        assert asyncio.run(executor.amap(operator.add, [(2, 4)], poll=poll)) == [6] and polled
        coordinator = executor.service(Coordinator, None, name="tooldojo-test-coordinator")
        ray_local.get(coordinator.call("progress", {"queries": 2}, {}))
        assert ray_local.get(coordinator.call("snapshot"))["started"] == {"queries": 2}
        coordinator.close()
    assert ray_local.is_initialized()  # a session it did not start is left running
