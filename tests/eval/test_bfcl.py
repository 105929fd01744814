"""BFCL through the official ``bfcl-eval`` package (isolated venv), on a handful of its real entries, with a
scripted model whose right and wrong answers are known in advance.

Creating the venv takes about a minute and needs PyPI; it is created once (cached under the tooldojo cache)
and reused. Where it cannot be created, these tests skip and say how to enable them.
"""

from __future__ import annotations

import json
import zlib

import pytest

from tooldojo.errors import ConfigError
from tooldojo.eval import EvalConfig, FunctionGenerator
from tooldojo.eval.config import BFCLConfig

CATEGORIES = ["simple_python", "multiple", "parallel", "irrelevance", "live_simple", "live_relevance"]


@pytest.fixture(scope="module")
def bfcl_truth():
    from tooldojo.eval.bfcl.venv import BFCLError, bfcl_status, call_worker, setup_bfcl, venv_dir

    if bfcl_status(BFCLConfig()) is None:
        try:
            setup_bfcl(BFCLConfig())
        except BFCLError as err:
            pytest.skip(f"bfcl-eval environment unavailable ({err}); enable with `tooldojo eval bfcl --setup`")
    return call_worker(venv_dir(BFCLConfig()), {"op": "truth", "categories": CATEGORIES})["truth"]


def right(entry_id: str) -> bool:
    return zlib.crc32(entry_id.encode()) % 2 == 0


def answer_calls(truth_calls: list[dict], *, wrong: bool) -> list[tuple[str, dict]]:
    """BFCL's possible answers -> one concrete call list (first allowed value; optional params left out)."""
    calls = []
    for call in truth_calls:
        (name, params), = call.items()
        args = {k: v[0] for k, v in params.items() if v and v[0] != ""}
        if wrong:
            key = next(iter(args))
            args[key] = "definitely not the right value"
        calls.append((name.replace(".", "_"), args))
    return calls


def scripted(truth, call_format: str):
    def fn(req):
        category, entry_id = req.key.split(":", 1)
        ok = right(entry_id)
        if category in truth:
            calls = answer_calls(truth[category][entry_id], wrong=not ok)
        elif category == "irrelevance":  # right: answer directly; wrong: call the offered tool
            first = req.tools[0]["function"]["name"]
            calls = [("generate_response", {"response": "I cannot help."})] if ok else [(first, {})]
        else:  # live_relevance: right = any call
            calls = [(req.tools[0]["function"]["name"], {})] if ok else [("generate_response", {})]
        if call_format == "python":
            body = ", ".join(f"{n}({', '.join(f'{k}={v!r}' for k, v in a.items())})" for n, a in calls)
            return f"<think>ok</think><answer>{body}</answer>"
        return "<think>ok</think>" + "".join(
            f"<tool_call>{json.dumps({'name': n, 'arguments': a})}</tool_call>" for n, a in calls)

    return fn


@pytest.mark.parametrize("call_format", ["json", "python"])
def test_bfcl_scripted_model(tmp_path, bfcl_truth, call_format):
    from tooldojo.eval.bfcl import run_bfcl

    cfg = EvalConfig(call_format=call_format, bfcl=BFCLConfig(categories=CATEGORIES, limit=4))
    man = run_bfcl(cfg, tmp_path, name="scripted", generator=FunctionGenerator(scripted(bfcl_truth, call_format)))
    out = tmp_path / "eval" / "scripted" / "bfcl"
    records = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    assert {r["category"] for r in records} == set(CATEGORIES) and len(records) == 4 * len(CATEGORIES)
    metrics = json.loads((out / "metrics.json").read_text())
    for cat in CATEGORIES:
        ids = [r["id"] for r in records if r["category"] == cat]
        expected = sum(map(right, ids)) / len(ids)
        assert metrics["categories"][cat]["accuracy"] == pytest.approx(expected, abs=1e-4), cat
    for r in records:  # every verdict is BFCL's, and agrees with what the script meant
        assert r["verdict"]["valid"] is right(r["id"]), r
        if not right(r["id"]) and r["category"] in bfcl_truth:
            assert r["verdict"]["error_type"]  # e.g. value_error:string from BFCL's ast_checker
    parallel = [r for r in records if r["category"] == "parallel" and right(r["id"])]
    assert parallel and all(len(r["decoded"]) >= 2 for r in parallel)
    dotted = [r for r in records if any("." in next(iter(c)) for c in (r["decoded"] or []))]
    assert all(r["verdict"]["valid"] is right(r["id"]) for r in dotted)  # '_' names mapped back to BFCL's '.'
    assert man.stats["bfcl_version"] and (out / "report.md").read_text().count("| live_simple |") == 1


def test_bfcl_rejects_multi_turn(tmp_path, bfcl_truth):
    from tooldojo.eval.bfcl import run_bfcl

    cfg = EvalConfig(bfcl=BFCLConfig(categories=["multi_turn_base"]))
    with pytest.raises(ConfigError, match="single-turn"):
        run_bfcl(cfg, tmp_path, generator=FunctionGenerator(lambda r: ""))


def test_bfcl_without_environment_says_how_to_set_it_up(tmp_path):
    from tooldojo.eval.bfcl import run_bfcl

    cfg = EvalConfig(bfcl=BFCLConfig(venv=tmp_path / "no-venv"))
    with pytest.raises(ConfigError, match="tooldojo eval bfcl --setup"):
        run_bfcl(cfg, tmp_path, generator=FunctionGenerator(lambda r: ""))
