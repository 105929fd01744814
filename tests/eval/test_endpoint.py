"""The OpenAI-compatible endpoint path: the real ``openai`` client against the local stub server."""

from __future__ import annotations

import json

import pytest
from scenario_data import QUERIES

from tooldojo.eval import EvalConfig, run_eval
from tooldojo.eval.generation import EndpointError


def oracle_responder(examples, *, stub_ref=None, in_flight=None):
    """Answers like a good endpoint: native ``tool_calls`` for selection, text for ranking (``tool_choice=none``)."""
    by_key = {}
    for e in examples:
        by_key[(e.query, tuple(sorted(t["name"] for t in e.tools)))] = e
    answered = [0]

    def respond(body):
        if in_flight is not None and stub_ref:
            in_flight.append(len(stub_ref[0].requests) - answered[0])
        answered[0] += 1
        names = tuple(sorted(t["function"]["name"] for t in body["tools"] if t["function"]["name"] != "generate_response"))
        ex = by_key[(body["messages"][-1]["content"], names)]
        if body.get("tool_choice") == "none":
            return f"<ranking>{json.dumps(ex.gold_ranking)}</ranking>"
        if ex.gold_tool == "generate_response":
            return "I can't do that with the tools I have, but here is what I know."  # a text reply = answer directly
        args = ex.gold_arguments
        return {"content": None, "tool_calls": [{"id": "call_1", "type": "function",
                                                 "function": {"name": ex.gold_tool, "arguments": json.dumps(args)}}]}

    return respond


def test_endpoint_oracle_with_bounded_concurrency(eval_run, examples, openai_stub, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-1234")
    in_flight: list[int] = []
    openai_stub.responder = oracle_responder(examples, stub_ref=[openai_stub], in_flight=in_flight)
    openai_stub.latency_s = 0.05
    cfg = EvalConfig(base_url=openai_stub.base_url, model="stub-model", concurrency=3, temperature=0)
    man = run_eval(cfg, eval_run)
    assert man.status == "complete"
    assert man.stats["tool_accuracy"] == 1.0 and man.stats["rank_exact"] == 1.0 and man.stats["zero_to_one"] == 1.0
    assert len(openai_stub.requests) == 22 and max(in_flight) <= 3
    select = [r for r in openai_stub.requests if r.get("tool_choice") != "none"]
    assert len(select) == 11
    assert all(r["model"] == "stub-model" and r["tools"][-1]["function"]["name"] == "generate_response" for r in select)
    out = eval_run / "eval" / "stub-model"
    log = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    native = [r for r in log if r["task"] == "select" and r["parsed"]["section"] == "tool_calls"]
    assert native and all(json.loads(r["raw_output"])["tool_calls"] for r in native)
    for f in eval_run.rglob("*"):  # the key is read from the environment and never written
        assert not f.is_file() or b"sk-test-secret-1234" not in f.read_bytes()


def test_endpoint_retries_transient_faults(eval_run, examples, openai_stub):
    openai_stub.responder = oracle_responder(examples)
    openai_stub.queue_fault("429", times=2, retry_after=0)
    openai_stub.queue_fault("500", times=1)
    cfg = EvalConfig(base_url=openai_stub.base_url, model="m", tasks=["select"], max_retries=3)
    man = run_eval(cfg, eval_run)
    assert man.stats["tool_accuracy"] == 1.0
    assert [kind for _, kind in openai_stub.fault_log] == ["429", "429", "500"]
    assert len(openai_stub.requests) == 11 + 3


def test_endpoint_failures_are_resumed_not_lost(eval_run, examples, openai_stub):
    openai_stub.responder = oracle_responder(examples)
    openai_stub.queue_fault("500", times=4)
    cfg = EvalConfig(base_url=openai_stub.base_url, model="m", tasks=["select"], max_retries=0, concurrency=1)
    with pytest.raises(EndpointError, match="rerun"):
        run_eval(cfg, eval_run)
    partial = eval_run / "eval" / "m" / "partial.jsonl"
    assert len(partial.read_text().splitlines()) == 1 + 11 - 4  # stamp + the outputs that came back
    man = run_eval(cfg, eval_run)
    assert man.stats["tool_accuracy"] == 1.0
    assert len(openai_stub.requests) == 11 + 4  # only the 4 failed requests were sent again


def test_endpoint_prose_and_bad_tool_calls_count_as_wrong(eval_run, examples, openai_stub):
    def respond(body):
        if "Lisbon" in body["messages"][-1]["content"]:
            return {"content": None, "tool_calls": [{"id": "c", "type": "function",
                                                     "function": {"name": "web_search", "arguments": "{not json"}}]}
        return "Sorry, I cannot help with that."

    openai_stub.responder = respond
    man = run_eval(EvalConfig(base_url=openai_stub.base_url, model="m", tasks=["select"]), eval_run)
    metrics = json.loads((eval_run / "eval" / "m" / "metrics.json").read_text())["select"]
    n_lisbon = sum(1 for e in examples if e.query == QUERIES[0][1])  # its zero and one examples
    assert n_lisbon == 2
    assert metrics["overall"]["malformed_rate"] == pytest.approx(n_lisbon / 11, abs=1e-4)
    # a text reply is a direct answer: right on the zero examples, except Lisbon's (a broken call there)
    assert metrics["by_kind"]["zero"]["tool_accuracy"] == pytest.approx(3 / 4, abs=1e-4)
    assert man.stats["tool_accuracy"] == pytest.approx(3 / 11, abs=1e-4)
