"""synth against a misbehaving teacher: outages, fault mixes, bad replies and bad inputs, end to end.

The teacher is the fault-injecting stub (tests/openai_stub.py) speaking the OpenAI protocol on 127.0.0.1;
`tooldojo synth` runs through the CLI in-process. Each test checks exit codes, manifest states, what the
cache holds (only replies that validate against their step's schema) and, where that is the promise, that
rerunning converges to the bytes of a clean run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import stage_cli
from openai_stub import OpenAIStub
from synth_responder import SynthResponder

from tooldojo.cli.synth import register
from tooldojo.runs import read_manifest
from tooldojo.synth.cache import ResponseCache
from tooldojo.synth.steps import RESPONSE_SCHEMAS
from tooldojo.synth.teacher import parse_reply

DOMAINS = "alpha_shop,beta_travel"
OUTPUTS = ("tools.jsonl", "queries.jsonl")
invoke = stage_cli(register)


def _synth(stub_url: str, run_dir: Path, *extra: str):
    return invoke("synth", "--teacher", "stub-model", "--base-url", stub_url, "--run-dir", run_dir,
                  "--domains", DOMAINS, "--families-per-domain", "3", "--queries-per-family", "4",
                  "--set", "synth.tools_per_request=2", "--set", "synth.teacher.max_retries=2",
                  "--timeout", "5", *extra)


def _port(stub: OpenAIStub) -> int:
    return int(stub.base_url.rsplit(":", 1)[1].split("/")[0])


def _outputs(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / "synth" / name).read_bytes() for name in OUTPUTS}


def _cache_rows(run_dir: Path) -> list[tuple[str, str]]:
    cache = ResponseCache(run_dir / "synth" / "cache.sqlite")
    try:
        return list(cache._db.execute("SELECT step, content FROM responses"))
    finally:
        cache.close()


def _assert_cache_valid(run_dir: Path) -> int:
    """Every cached reply parses (fences and prose around the object are repaired, as on a cache hit) to an
    object valid for its step's schema; returns how many there are."""
    rows = _cache_rows(run_dir)
    for step, content in rows:
        data, error, _ = parse_reply(content, RESPONSE_SCHEMAS[step])
        assert data is not None, (step, error, content[:200])
    return len(rows)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A clean run: the reference outputs and the number of requests it takes."""
    run_dir = tmp_path_factory.mktemp("clean")
    with OpenAIStub(responder=SynthResponder()) as stub:
        result = _synth(stub.base_url, run_dir)
        assert result.exit_code == 0, result.output
        return {"outputs": _outputs(run_dir), "requests": len(stub.requests),
                "queries_bodies": [json.dumps(b, sort_keys=True) for b in stub.requests
                                   if "tooldojo_queries" in json.dumps(b.get("response_format"))]}


def test_outage_stops_the_run_and_a_rerun_converges(clean, tmp_path):
    """The server goes away after 10 requests: one line naming the base URL and the refused connection,
    exit 2, manifest `interrupted`, only valid replies cached; the same command against the server back on
    the same port sends only the missing requests and writes the clean run's bytes."""
    run_dir = tmp_path / "run"
    with OpenAIStub(responder=SynthResponder(), latency_s=0.02) as stub:
        port, url = _port(stub), stub.base_url
        stub.stop_after(10)
        result = _synth(url, run_dir, "--concurrency", "2")
    assert result.exit_code == 2, result.output
    line = result.output.strip().splitlines()[-1]
    assert url in line and "refused" in line and "rerun" in line
    manifest = read_manifest(run_dir / "synth")
    assert manifest.status == "interrupted" and "refused" in manifest.stats["error"]
    cached = _assert_cache_valid(run_dir)
    assert 0 < cached <= 10
    with OpenAIStub(responder=SynthResponder(), port=port) as back:
        result = _synth(back.base_url, run_dir, "--concurrency", "2")
        assert result.exit_code == 0, result.output
        assert len(back.requests) == clean["requests"] - cached  # no answered request is sent again
    assert _outputs(run_dir) == clean["outputs"]
    assert read_manifest(run_dir / "synth").status == "complete"


def test_fault_mix_converges_to_the_clean_run(clean, tmp_path):
    """30% of requests fail at random (HTTP errors, resets, cut bodies, prose, truncated JSON...): each run
    ends `complete` or `partial` (exit 3), never caches a bad reply, and reruns converge to the clean bytes."""
    run_dir = tmp_path / "run"
    with OpenAIStub(responder=SynthResponder()) as stub:
        stub.fault_rate, stub.fault_seed = 0.3, 7
        stub.fault_kinds = ("429", "500", "reset", "truncated_body", "non_json", "truncated_json",
                            "malformed_json")
        codes = []
        for _ in range(8):
            result = _synth(stub.base_url, run_dir, "--set", "synth.teacher.breaker_window=0")
            codes.append(result.exit_code)
            assert result.exit_code in (0, 3), result.output
            _assert_cache_valid(run_dir)
            if result.exit_code == 0:
                break
        kinds = {k for _, k in stub.fault_log}
    assert codes[-1] == 0 and len(kinds) >= 5, (codes, kinds)
    assert read_manifest(run_dir / "synth").status == "complete"
    assert _outputs(run_dir) == clean["outputs"]


def test_rate_limit_storm_ends_partial_and_the_rerun_retries_only_the_failed(clean, tmp_path):
    run_dir = tmp_path / "run"
    with OpenAIStub(responder=SynthResponder()) as stub:
        stub.faults_from = 8  # the tools requests pass, then 3 requests fail after their 3 attempts each
        stub.queue_fault("429", times=9, retry_after=0.05)
        result = _synth(stub.base_url, run_dir, "--concurrency", "1")
        assert result.exit_code == 3, result.output
        assert "partial" in result.output and "rerun the same command" in result.output
        manifest = read_manifest(run_dir / "synth")
        assert manifest.status == "partial" and sum(manifest.stats["failed"].values()) >= 1
        assert manifest.stats["accounting"]["total"]["failures"] == 3
        cached = _assert_cache_valid(run_dir)
        before = len(stub.requests)
        result = _synth(stub.base_url, run_dir, "--concurrency", "1")
        assert result.exit_code == 0, result.output
        assert len(stub.requests) - before == clean["requests"] - cached
    assert _outputs(run_dir) == clean["outputs"]


def test_query_plans_do_not_depend_on_other_families_failing(clean, tmp_path):
    """An upgrade fails: every other family's queries request is still the one of the clean run."""
    with OpenAIStub(responder=SynthResponder()) as stub:
        stub.faults_from = 4  # after the tools requests: an upgrade fails, all 3 attempts
        stub.queue_fault("500", times=3)
        result = _synth(stub.base_url, tmp_path / "run", "--concurrency", "1")
        assert result.exit_code == 3
        bodies = [json.dumps(b, sort_keys=True) for b in stub.requests
                  if "tooldojo_queries" in json.dumps(b.get("response_format"))]
    assert bodies and set(bodies) < set(clean["queries_bodies"])


def test_mixed_up_replies_are_rejected_forgotten_and_retried(clean, tmp_path):
    """A proxy answers two families' queries requests with other families' replies (valid JSON, wrong
    family): the meaning check rejects them (`wrong_family_reply`), they leave the cache, the run is partial,
    and the rerun against a healthy server converges."""
    responder = SynthResponder()
    seen: list[dict] = []

    def swapping(body):
        if "tooldojo_queries" in json.dumps(body.get("response_format")):
            seen.append(body)
            if len(seen) in (2, 4):
                return responder(seen[0])
        return responder(body)

    run_dir = tmp_path / "run"
    with OpenAIStub(responder=swapping) as stub:
        result = _synth(stub.base_url, run_dir, "--concurrency", "1")
        port = _port(stub)
    assert result.exit_code == 3, result.output
    manifest = read_manifest(run_dir / "synth")
    assert manifest.stats["drops"]["queries"]["wrong_family_reply"] == 2
    wrong = json.loads(responder(seen[0]))  # cached once, for its own family only
    assert sum(1 for step, c in _cache_rows(run_dir)
               if step == "queries" and parse_reply(c, RESPONSE_SCHEMAS[step])[0] == wrong) == 1
    with OpenAIStub(responder=SynthResponder(), port=port) as stub:  # the same URL: the cache is keyed by it
        result = _synth(stub.base_url, run_dir)
        assert result.exit_code == 0, result.output
        assert len(stub.requests) == 4  # the two queries requests and their verify requests
    assert _outputs(run_dir) == clean["outputs"]


def test_a_teacher_answering_prose_fails_and_leaves_a_finished_run_untouched(clean, tmp_path):
    run_dir = tmp_path / "run"
    with OpenAIStub(responder=SynthResponder()) as stub:
        assert _synth(stub.base_url, run_dir).exit_code == 0
        before = {p.name: p.read_bytes() for p in (run_dir / "synth").iterdir() if p.name != "cache.sqlite"}
        stub.responder = lambda body: "Sure! I would love to help you with that."
        result = _synth(stub.base_url, run_dir, "--force", "--no-cache")
    assert result.exit_code == 2
    assert "nothing usable" in result.output.strip().splitlines()[-1]
    after = {p.name: p.read_bytes() for p in (run_dir / "synth").iterdir() if p.name != "cache.sqlite"}
    assert after == before


def _template_dir(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "queries.jinja").write_text(text)
    return folder


@pytest.mark.parametrize("case", ["syntax", "undefined", "seed_not_json", "seed_all_invalid", "other_config",
                                  "config_yaml"])
def test_bad_input_is_one_line_before_any_request_or_write(clean, tmp_path, case):
    run_dir = tmp_path / "run"
    with OpenAIStub(responder=SynthResponder()) as stub:
        assert _synth(stub.base_url, run_dir).exit_code == 0
        before = _outputs(run_dir), (run_dir / "synth" / "manifest.json").read_bytes()
        sent = len(stub.requests)
        templates = {"syntax": "{% block user %}{{ domain }{% endblock %}",
                     "undefined": "{% block user %}{{ domian }}{% endblock %}"}
        args = ["--templates", _template_dir(tmp_path, templates[case])] if case in templates else {
            "seed_not_json": ["--seed-tools", tmp_path / "tools.json"],
            "seed_all_invalid": ["--seed-tools", tmp_path / "tools.jsonl"],
            "other_config": ["--queries-per-family", "2"],
            "config_yaml": ["--config", tmp_path / "bad.yaml"],
        }[case]
        (tmp_path / "bad.yaml").write_text("synth:\n  domains: [a, b\n  verify: true\n")
        (tmp_path / "tools.json").write_text("name: not json\n")
        (tmp_path / "tools.jsonl").write_text(json.dumps({"name": "x y", "parameters": {}}) + "\n")
        result = _synth(stub.base_url, run_dir, *args, "--force" if case != "other_config" else "--no-cache")
        assert len(stub.requests) == sent
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert "\n" not in message and "fix:" in message
    expected = {"syntax": "queries.jinja:1", "undefined": "domian", "seed_not_json": "line 1 is not JSON",
                "seed_all_invalid": "none of the 1 seed tools", "other_config": "--force",
                "config_yaml": "bad.yaml:3:"}[case]
    assert expected in message
    assert (_outputs(run_dir), (run_dir / "synth" / "manifest.json").read_bytes()) == before


def test_cost_cap_stops_the_run_resumably(clean, tmp_path):
    run_dir = tmp_path / "run"
    price = ["--set", "synth.teacher.price_per_million=[1000, 1000]"]
    with OpenAIStub(responder=SynthResponder()) as stub:
        result = _synth(stub.base_url, run_dir, *price, "--max-cost", "1", "--concurrency", "1")
        assert result.exit_code == 2 and "--max-cost" in result.output
        manifest = read_manifest(run_dir / "synth")
        assert manifest.status == "interrupted"
        spent = manifest.stats["accounting"]["total"]["cost_usd"]
        assert 1 <= spent < 1.5  # stops at the first request past the cap (one in flight)
        cached = _assert_cache_valid(run_dir)
        before = len(stub.requests)
        assert _synth(stub.base_url, run_dir, *price, "--max-cost", "100").exit_code == 0
        assert len(stub.requests) - before == clean["requests"] - cached
    assert _outputs(run_dir) == clean["outputs"]


def test_estimate_sends_and_writes_nothing(tmp_path):
    with OpenAIStub(responder=SynthResponder()) as stub:
        result = _synth(stub.base_url, tmp_path / "run", "--estimate",
                        "--set", "synth.teacher.price_per_million=[0.15, 0.6]")
        assert result.exit_code == 0, result.output
        assert stub.requests == []
    assert not (tmp_path / "run").exists()
    assert "queries" in result.output and "total" in result.output and "cost" in result.output


def test_pipeline_stops_loudly_on_a_partial_synth(tmp_path):
    from tooldojo.config import load_config
    from tooldojo.errors import DataError
    from tooldojo.pipeline import run_pipeline

    with OpenAIStub(responder=SynthResponder()) as stub:
        stub.faults_from = 4  # after the tools requests: one upgrade fails all its attempts
        stub.queue_fault("500", times=2)
        cfg = load_config(None, {"run_dir": str(tmp_path / "run"), "synth": {
            "teacher": {"model": "stub-model", "base_url": stub.base_url, "max_retries": 1, "concurrency": 1},
            "domains": DOMAINS.split(","), "families_per_domain": 2, "queries_per_family": 2}})
        with pytest.raises(DataError, match=r"synth ended partial .*upgrade/request_failed 1"):
            run_pipeline(cfg, stages=("synth", "dedup"))
    assert read_manifest(tmp_path / "run" / "synth").status == "partial"
    assert read_manifest(tmp_path / "run" / "dedup") is None
