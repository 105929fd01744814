"""The HTTP teacher through the real openai client against the local stub server: faults, repair, cache."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time

import pytest

from tooldojo.errors import TeacherError
from tooldojo.synth.cache import ResponseCache
from tooldojo.synth.config import TeacherConfig
from tooldojo.synth.teacher import OpenAITeacher, TeacherDown, TeacherRequest, parse_reply, transport_failure

SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
STANDARD_FIELDS = {"model", "messages", "temperature", "top_p", "max_tokens", "seed", "response_format"}


def _request(i: int = 0) -> TeacherRequest:
    return TeacherRequest("arguments", [{"role": "system", "content": "Reply with JSON."},
                                        {"role": "user", "content": f"question {i}"}], SCHEMA,
                          variables={"secret_structured": "never sent"})


def _ask(stub, requests, *, cache=None, **cfg):
    config = TeacherConfig(model="stub-model", base_url=stub.base_url, max_retries=cfg.pop("max_retries", 3),
                           timeout_s=cfg.pop("timeout_s", 5.0), **cfg)
    teacher = OpenAITeacher(config, cache=cache)

    async def go():
        async with teacher:
            return await asyncio.gather(*(teacher.ask(r) for r in requests))

    return asyncio.run(go()), teacher


def _cached(cache: ResponseCache) -> list[str]:
    return [row[0] for row in cache._db.execute("SELECT content FROM responses")]


@pytest.fixture
def stub(openai_stub):
    openai_stub.responder = lambda body: json.dumps({"answer": len(body["messages"])})
    return openai_stub


@pytest.mark.parametrize("kind", ["429", "500"])
def test_status_faults_are_retried(stub, kind):
    stub.queue_fault(kind, times=2)
    (reply,), teacher = _ask(stub, [_request()])
    assert reply.data == {"answer": 2}
    st = teacher.stats["arguments"]
    assert (st.attempts, st.retries, st.failures) == (3, 2, 0)
    assert [k for _, k in stub.fault_log] == [kind, kind] and len(stub.requests) == 3


def test_retry_after_is_honoured(stub):
    stub.queue_fault("429", retry_after=1.5)
    t0 = time.perf_counter()
    (reply,), teacher = _ask(stub, [_request()])
    assert reply.data == {"answer": 2}
    # without Retry-After the SDK's first backoff is at most 0.5 s
    assert time.perf_counter() - t0 >= 1.4
    assert teacher.stats["arguments"].retries == 1


def test_timeout_is_retried(stub):
    stub.queue_fault("timeout")
    (reply,), teacher = _ask(stub, [_request()], timeout_s=0.5)
    assert reply.data == {"answer": 2}
    assert teacher.stats["arguments"].retries == 1 and len(stub.requests) == 2


def test_exhausted_retries_count_a_failure_and_cache_nothing(stub, tmp_path):
    stub.queue_fault("500", times=5)
    cache = ResponseCache(tmp_path / "c.sqlite")
    (reply,), teacher = _ask(stub, [_request()], cache=cache, max_retries=1)
    assert reply.data is None and reply.error.startswith("request failed")
    assert teacher.stats["arguments"].failures == 1 and len(cache) == 0


def test_malformed_json_is_repaired_without_reasking(stub):
    stub.queue_fault("malformed_json")
    (reply,), teacher = _ask(stub, [_request()])
    assert reply.data == {"answer": 2}
    st = teacher.stats["arguments"]
    assert (st.repaired, st.reasks, len(stub.requests)) == (1, 0, 1)


def test_truncated_reply_is_asked_again_with_more_room_and_never_cached(stub, tmp_path):
    stub.queue_fault("truncated_json")
    cache = ResponseCache(tmp_path / "c.sqlite")
    (reply,), teacher = _ask(stub, [_request()], cache=cache, max_tokens=100)
    assert reply.data == {"answer": 2}  # the same messages, no re-ask prompt
    assert teacher.stats["arguments"].truncated == 1 and teacher.stats["arguments"].reasks == 0
    assert [r["max_tokens"] for r in stub.requests] == [100, 200]
    assert [json.loads(c) for c in _cached(cache)] == [{"answer": 2}]


def test_reply_truncated_twice_is_a_failure_not_cached(stub, tmp_path):
    stub.queue_fault("truncated_json", times=2)
    cache = ResponseCache(tmp_path / "c.sqlite")
    (reply,), teacher = _ask(stub, [_request()], cache=cache)
    assert reply.data is None and "finish_reason: length" in reply.error
    assert teacher.stats["arguments"].failures == 1 and len(cache) == 0


@pytest.mark.parametrize("kind", ["non_json", "truncated_json"])
def test_invalid_replies_never_enter_the_cache(stub, tmp_path, kind):
    """Every reply is bad: nothing is cached, and a rerun against a healthy server asks again."""
    stub.queue_fault(kind, times=100)
    cache_path = tmp_path / "c.sqlite"
    (reply,), teacher = _ask(stub, [_request()], cache=ResponseCache(cache_path))
    assert reply.data is None and len(ResponseCache(cache_path)) == 0
    stub._faults.clear()
    (reply,), teacher = _ask(stub, [_request()], cache=ResponseCache(cache_path))
    assert reply.data == {"answer": 2} and teacher.stats["arguments"].cache_hits == 0


def test_reasked_reply_is_cached_under_the_original_request(stub, tmp_path):
    stub.responder = lambda body: "not json" if len(body["messages"]) == 2 else json.dumps({"answer": 4})
    cache_path = tmp_path / "c.sqlite"
    (first,), _ = _ask(stub, [_request()], cache=ResponseCache(cache_path))
    assert first.data == {"answer": 4} and len(stub.requests) == 2
    (again,), teacher = _ask(stub, [_request()], cache=ResponseCache(cache_path))
    assert again.data == {"answer": 4} and len(stub.requests) == 2 and teacher.stats["arguments"].reasks == 0


@pytest.mark.parametrize("kind", ["reset", "truncated_body"])
def test_transport_faults_are_retried_and_classified(stub, kind):
    stub.queue_fault(kind)
    (reply,), teacher = _ask(stub, [_request()])
    assert reply.data == {"answer": 2} and teacher.stats["arguments"].retries == 1
    stub.queue_fault(kind, times=10)
    (reply,), teacher = _ask(stub, [_request(1)], max_retries=1, breaker_window=0)
    assert reply.data is None and reply.error.startswith("request failed: reset after 2 attempts")


def test_slow_drip_within_the_timeout_is_an_answer(stub):
    stub.drip_s = 0.05
    stub.queue_fault("slow_drip")
    (reply,), teacher = _ask(stub, [_request()])
    assert reply.data == {"answer": 2} and teacher.stats["arguments"].retries == 0


def test_slow_drip_past_the_timeout_is_a_timeout(stub):
    """``timeout_s`` bounds each read (the SDK's httpx semantics): a gap between chunks longer than it fails."""
    stub.drip_s = 1.5
    stub.queue_fault("slow_drip", times=10)
    (reply,), _ = _ask(stub, [_request()], max_retries=1, timeout_s=1.0, breaker_window=0)
    assert reply.data is None and "timeout" in reply.error


def test_server_going_away_stops_every_request(stub, tmp_path):
    """The server stops after 5 of 40 requests: the run raises TeacherDown naming the base URL (a refused
    connection, not a timeout), long before the SDK's retries would end; the answers received are cached."""
    stub.latency_s = 0.05
    stub.stop_after(6)
    cache = ResponseCache(tmp_path / "c.sqlite")
    with pytest.raises(TeacherDown) as err:
        _ask(stub, [_request(i) for i in range(40)], cache=cache, concurrency=2, max_retries=6, timeout_s=30)
    line = str(err.value)
    assert stub.base_url in line and "refused" in line.lower() and "\n" not in line
    assert 1 <= len(cache) <= 6
    assert all(json.loads(c) == {"answer": 2} for c in _cached(cache))


def test_breaker_stops_when_most_recent_requests_fail(stub):
    stub.queue_fault("500", times=1000)
    with pytest.raises(TeacherDown, match="of the last 10 teacher requests failed"):
        _ask(stub, [_request(i) for i in range(40)], concurrency=4, max_retries=0)
    assert len(stub.requests) < 20


def test_transport_failure_reads_the_cause_chain():
    import aiohttp
    import httpx2
    import openai

    def chained(cause):
        try:
            try:
                raise cause
            except Exception as inner:
                raise httpx2.ConnectTimeout("mapped") from inner
        except Exception as mapped:
            err = openai.APITimeoutError(request=httpx2.Request("POST", "http://x"))
            err.__cause__ = mapped
            return err

    refused = aiohttp.ClientConnectorError(aiohttp.client_reqrep.ConnectionKey(
        "h", 1, False, True, None, None, None), ConnectionRefusedError(111, "refused"))
    assert transport_failure(chained(refused))[0] == "refused"
    assert transport_failure(chained(aiohttp.ServerDisconnectedError()))[0] == "reset"
    assert transport_failure(chained(aiohttp.SocketTimeoutError()))[0] == "timeout"
    assert transport_failure(chained(ssl.SSLError(1, "bad cert")))[0] == "tls"
    assert transport_failure(chained(socket.gaierror(-2, "Name or service not known")))[0] == "dns"


def test_still_invalid_after_reask_is_counted_not_returned(stub):
    stub.responder = lambda body: json.dumps({"answer": "not an integer"})
    (reply,), teacher = _ask(stub, [_request()])
    assert reply.data is None and "schema" in reply.error
    st = teacher.stats["arguments"]
    assert (st.reasks, st.invalid) == (1, 1)


def test_json_schema_rejection_falls_back_to_json_object(stub):
    stub.queue_fault("reject_json_schema", times=100)
    replies, teacher = _ask(stub, [_request(i) for i in range(3)], concurrency=1)
    assert all(r.data for r in replies)
    assert teacher.mode == "json_object" and teacher.mode_changes == ["json_schema -> json_object"]
    assert stub.requests[0]["response_format"]["type"] == "json_schema"
    later = stub.requests[1:]
    assert [r["response_format"]["type"] for r in later] == ["json_object"] * 3
    assert "JSON Schema" in later[0]["messages"][-1]["content"]  # the schema travels in the prompt instead


def test_only_standard_fields_are_sent(stub):
    _ask(stub, [_request()])
    body = stub.requests[0]
    assert set(body) <= STANDARD_FIELDS
    assert "never sent" not in json.dumps(body)
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA


def test_cache_answers_a_rerun_without_requests(stub, tmp_path):
    cache_path = tmp_path / "cache.sqlite"
    first, _ = _ask(stub, [_request(i) for i in range(5)], cache=ResponseCache(cache_path))
    assert len(stub.requests) == 5
    second, teacher = _ask(stub, [_request(i) for i in range(5)], cache=ResponseCache(cache_path))
    assert len(stub.requests) == 5, "a cached request was sent again"
    assert [r.data for r in first] == [r.data for r in second]
    assert teacher.stats["arguments"].cache_hits == 5 and teacher.stats["arguments"].sent == 0


def test_concurrency_is_bounded(stub):
    stub.latency_s = 0.1
    _ask(stub, [_request(i) for i in range(8)], concurrency=3)
    assert stub.max_in_flight <= 3 and len(stub.requests) == 8


def test_usage_is_accounted(stub):
    _, teacher = _ask(stub, [_request(i) for i in range(2)], price_per_million=(1.0, 2.0))
    acc = teacher.accounting()
    assert acc["arguments"]["prompt_tokens"] > 0 and acc["arguments"]["completion_tokens"] > 0
    assert acc["total"]["cost_usd"] > 0


def test_unreachable_server_names_base_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: nothing listens there
    teacher = OpenAITeacher(TeacherConfig(model="m", base_url=f"http://127.0.0.1:{port}/v1"))
    with pytest.raises(TeacherError) as err:
        asyncio.run(teacher.open())
    assert "--base-url" in str(err.value) and "\n" not in str(err.value)


def test_missing_key_for_remote_teacher(monkeypatch):
    monkeypatch.delenv("TOOLDOJO_TEST_KEY", raising=False)
    with pytest.raises(TeacherError, match="TOOLDOJO_TEST_KEY is not set"):
        OpenAITeacher(TeacherConfig(model="m", base_url="https://api.example.com/v1", api_key_env="TOOLDOJO_TEST_KEY"))
    # a local server needs no key
    OpenAITeacher(TeacherConfig(model="m", base_url="http://localhost:8000/v1", api_key_env="TOOLDOJO_TEST_KEY"))


@pytest.mark.parametrize("content,ok", [
    ('{"answer": 1}', True),
    ('Here you go:\n```json\n{"answer": 1,}\n```', True),
    ('{"answer": 1', False),
    ("[1, 2]", False),
    ("", False),
])
def test_parse_reply(content, ok):
    data, error, _ = parse_reply(content, SCHEMA)
    assert (data is not None) == ok and (error is None) == ok
