"""Synth on Ray writes the local executor's output, and survives a killed worker without duplicates."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from tests.openai_stub import OpenAIStub
from tests.synth.synth_responder import SynthResponder
from tooldojo.executors import ExecutionConfig
from tooldojo.synth.config import SynthConfig, TeacherConfig
from tooldojo.synth.stage import run_synth

pytest.importorskip("ray", reason="ray is an optional extra: pip install 'tooldojo[ray]'")

RAY = ExecutionConfig(executor="ray")

OUTPUTS = ("tools.jsonl", "queries.jsonl")


def _same_outputs(a, b) -> None:
    for f in OUTPUTS:
        assert (a / "synth" / f).read_bytes() == (b / "synth" / f).read_bytes(), f
    drops_a = sorted(json.dumps(r, sort_keys=True) for r in map(json.loads, (a / "synth/drops.jsonl").open()))
    drops_b = sorted(json.dumps(r, sort_keys=True) for r in map(json.loads, (b / "synth/drops.jsonl").open()))
    assert drops_a == drops_b


def test_offline_teacher_same_output_and_resume(ray_local, tmp_path):
    cfg = SynthConfig(families_per_domain=2, queries_per_family=4)
    local = run_synth(cfg, tmp_path / "local", seed=7, progress=False)
    on_ray = run_synth(cfg, tmp_path / "ray", seed=7, progress=False, execution=RAY)
    _same_outputs(tmp_path / "local", tmp_path / "ray")
    assert on_ray.counts == local.counts and on_ray.counts["queries"] > 100
    assert on_ray.stats["accounting"] == local.stats["accounting"]
    assert on_ray.stats["executor"] == "ray"
    # the shared store is the run's cache.sqlite: a forced rerun on Ray answers everything from it
    again = run_synth(cfg, tmp_path / "ray", seed=7, force=True, progress=False, execution=RAY)
    total = again.stats["accounting"]["total"]
    assert total["sent"] == 0 and total["cache_hits"] == total["asked"] > 0
    _same_outputs(tmp_path / "local", tmp_path / "ray")


def test_killed_worker_shard_is_redone(ray_local, tmp_path):
    """A worker killed mid-shard: Ray reruns the shard, answered requests come from the cache, the output
    equals the local executor's and holds no duplicate."""
    import ray

    from tooldojo.synth.shards import coordinator_name

    teacher = dict(model="stub-model", concurrency=2, max_retries=0)
    cfg = SynthConfig(domains=["weather", "flights"], families_per_domain=6, queries_per_family=4, verify=True)
    with OpenAIStub(responder=SynthResponder(), latency_s=0.15) as stub:
        teacher["base_url"] = stub.base_url
        cfg = cfg.model_copy(update={"teacher": TeacherConfig(**teacher)})
        run_synth(cfg, tmp_path / "local", seed=1, progress=False)
        local_sent = len(stub.requests)

        box: dict = {}

        def work() -> None:
            try:
                box["manifest"] = run_synth(cfg, tmp_path / "ray", seed=1, progress=False, execution=RAY)
            except BaseException as err:  # surfaced below
                box["error"] = err

        thread = threading.Thread(target=work)
        thread.start()
        killed, deadline = None, time.time() + 120
        while killed is None and time.time() < deadline and thread.is_alive():
            try:
                coord = ray.get_actor(coordinator_name(tmp_path / "ray" / "synth"))
                snap = ray.get(coord.snapshot.remote())
            except ValueError:  # not created yet
                time.sleep(0.2)
                continue
            shard = snap["shards"].get("queries-0")
            if shard and not shard["done"] and snap["finished"].get("queries", 0) >= 2:
                os.kill(shard["pid"], signal.SIGKILL)
                killed = shard["pid"]
            time.sleep(0.1)
        assert killed, "the queries shard finished before it could be killed"
        attempts = 0
        while thread.is_alive() and attempts < 2:
            try:
                attempts = ray.get(coord.snapshot.remote())["shards"]["queries-0"]["attempts"]
            except ray.exceptions.RayActorError:
                break
            time.sleep(0.1)
        thread.join(180)
        assert "error" not in box, box.get("error")
        ray_sent = len(stub.requests) - local_sent
    assert attempts == 2  # the killed shard ran again
    _same_outputs(tmp_path / "local", tmp_path / "ray")
    queries = [json.loads(x) for x in (tmp_path / "ray/synth/queries.jsonl").open()]
    assert len({q["query_id"] for q in queries}) == len(queries)
    total = box["manifest"].stats["accounting"]["total"]
    # the redone shard reused answers stored before the kill (a fresh cache has no other hits; the kill waits
    # for 2 finished `queries` answers over all shards, so queries-0 may have stored only one of them)
    assert total["cache_hits"] >= 1
    # only the requests in flight when the worker died were sent twice (at most its concurrency share)
    assert local_sent <= ray_sent <= local_sent + 2


def test_seed_tools_path_same_output(ray_local, tmp_path):
    """The import direction (strong tools -> `weaken` shards -> queries) gives the local output on Ray."""
    from tooldojo.synth.catalog import load_catalog

    strong = [f.strong for dom in load_catalog().values() for f in dom.families][:12]
    strong.append({"name": "custom_search", "description": "Search the web.", "parameters": {
        "type": "object", "required": ["q"], "properties": {"q": {"type": "string", "description": "Query."},
                                                          "limit": {"type": "integer", "description": "Max."}}}})
    cfg = SynthConfig(queries_per_family=4)
    local = run_synth(cfg, tmp_path / "local", seed=2, strong_tools=strong, progress=False)
    run_synth(cfg, tmp_path / "ray", seed=2, strong_tools=strong, progress=False, execution=RAY)
    assert local.counts["families"] >= 12
    _same_outputs(tmp_path / "local", tmp_path / "ray")
