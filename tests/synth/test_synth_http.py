"""The synth stage end to end against the local OpenAI-compatible server: CLI, drops, kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from synth_responder import SynthResponder
from typer.testing import CliRunner

from tooldojo.cli.synth import register
from tooldojo.errors import DataError
from tooldojo.records import QueryRecord, ToolRecord, read_jsonl
from tooldojo.runs import read_manifest
from tooldojo.synth import run_synth
from tooldojo.synth.cache import ResponseCache
from tooldojo.synth.config import SynthConfig, TeacherConfig
from tooldojo.synth.schemas import call_errors, function_problems

STANDARD_FIELDS = {"model", "messages", "temperature", "top_p", "max_tokens", "seed", "response_format"}
DOMAINS = ["alpha_shop", "beta_travel"]


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _config(stub, **kw) -> SynthConfig:
    teacher = TeacherConfig(model="stub-model", base_url=stub.base_url, timeout_s=5, max_retries=2,
                            concurrency=kw.pop("concurrency", 16))
    return SynthConfig(teacher=teacher, domains=kw.pop("domains", DOMAINS), families_per_domain=kw.pop("fpd", 2),
                       queries_per_family=kw.pop("qpf", 4), **kw)


def _records(run_dir: Path):
    return (read_jsonl(run_dir / "synth" / "tools.jsonl", ToolRecord),
            read_jsonl(run_dir / "synth" / "queries.jsonl", QueryRecord))


def test_cli_synth_against_a_server_writes_a_valid_dataset(openai_stub, tmp_path):
    openai_stub.responder = SynthResponder()
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(_app(), [
        "synth", "--teacher", "stub-model", "--base-url", openai_stub.base_url, "--run-dir", str(run_dir),
        "--domains", ",".join(DOMAINS), "--families-per-domain", "3", "--queries-per-family", "4",
        "--set", "synth.tools_per_request=2", "--seed", "5"])
    assert result.exit_code == 0, result.output
    tools, queries = _records(run_dir)
    assert len(tools) == 2 * 2 * 3 and len(queries) == 2 * 3 * 4
    assert all(function_problems(t.function) == [] for t in tools)
    fns = {t.name: t.function for t in tools}
    assert all(call_errors(fns[n], a) == [] for q in queries for n, a in q.calls.items())
    assert {t.provenance.teacher_model for t in tools} == {"stub-model"}
    assert queries[0].provenance.sampling["seed"] == 5 and queries[0].provenance.source == "synth"
    # the teacher's direct answer is kept; where it gave none, one is templated from the needed tool
    by_source = {s: [q for q in queries if q.provenance.answer_source == s] for s in ("teacher", "template")}
    assert by_source["teacher"] and by_source["template"]
    assert all(q.answer == f"Without a tool I cannot do this: {q.text}." for q in by_source["teacher"])
    assert all(q.answer.startswith("I can't do that without a tool that can ") for q in by_source["template"])
    # 2 domains x 2 tools requests (3 tools, 2 per request), 6 upgrades, 6 queries, 6 verify
    assert len(openai_stub.requests) == 4 + 6 + 6 + 6
    assert all(set(b) <= STANDARD_FIELDS for b in openai_stub.requests)
    # the second tools request of a domain names the tools of the first
    assert "alpha_shop_lookup_0, alpha_shop_lookup_1" in json.dumps(openai_stub.requests)
    m = read_manifest(run_dir / "synth")
    assert m.stats["accounting"]["total"]["sent"] == 22 and m.stats["teacher"]["base_url"] == openai_stub.base_url


def test_invalid_tools_and_arguments_are_dropped_and_counted(openai_stub, tmp_path):
    openai_stub.responder = SynthResponder(bad_tools=True, bad_args=True, repair="keep", reject_word="contextual")
    m = run_synth(_config(openai_stub, fpd=2, qpf=4), tmp_path, progress=False)
    drops = m.stats["drops"]
    assert drops["tools"] == {"invalid_tool": 2}  # tool 1 of each domain names an unknown required param
    # strong-needing queries carry an invalid argument; the repair answer keeps it -> dropped
    assert drops["arguments"]["invalid_arguments"] >= 2
    assert drops["verify"]["rejected"] >= 1
    _, queries = _records(tmp_path)
    assert queries and all(q.needs == "weak" and "contextual" not in q.text for q in queries)
    assert m.stats["accounting"]["arguments"]["asked"] == drops["arguments"]["invalid_arguments"]
    lines = (tmp_path / "synth" / "drops.jsonl").read_text().splitlines()
    assert len(lines) == m.counts["drops"] and json.loads(lines[0])["reason"]


def test_repaired_arguments_are_kept_with_provenance(openai_stub, tmp_path):
    openai_stub.responder = SynthResponder(bad_args=True, repair="fix")
    m = run_synth(_config(openai_stub, fpd=1, qpf=4), tmp_path, progress=False)
    _, queries = _records(tmp_path)
    repaired = [q for q in queries if q.provenance.model_extra.get("repaired")]
    assert repaired and len(queries) == 2 * 4 and "arguments" not in m.stats["drops"]


def test_structured_output_fallback_end_to_end(openai_stub, tmp_path):
    openai_stub.responder = SynthResponder()
    openai_stub.queue_fault("reject_json_schema", times=1000)
    m = run_synth(_config(openai_stub, fpd=1, qpf=2), tmp_path, progress=False)
    assert m.counts["queries"] == 2 * 2
    assert m.stats["teacher"]["structured_output"] == "json_object"


def test_unreachable_server_is_one_line_naming_base_url(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = CliRunner().invoke(_app(), ["synth", "--teacher", "m", "--base-url", f"http://127.0.0.1:{port}/v1",
                                         "--run-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--base-url" in result.output and "cannot reach the teacher" in result.output


def _cached(run_dir: Path) -> int:
    """Answers in a running synth's response cache (0 while the file or its table does not exist yet)."""
    import sqlite3
    from contextlib import closing

    path = run_dir / "synth" / "cache.sqlite"
    if not path.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1)) as db:
            return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_killed_run_resumes_without_resending_or_losing_answers(openai_stub, tmp_path):
    """A subprocess killed (SIGKILL) mid-run, then rerun: same dataset as a clean run, no request sent twice."""
    responder = SynthResponder()
    openai_stub.responder = responder
    openai_stub.latency_s = 0.05
    run_dir = tmp_path / "killed"
    args = [sys.executable, "-m", "tooldojo.cli", "synth", "--teacher", "stub-model", "--base-url",
            openai_stub.base_url, "--run-dir", str(run_dir), "--domains", ",".join(DOMAINS),
            "--families-per-domain", "3", "--queries-per-family", "4", "--concurrency", "2"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 60
    # kill it once it has sent 8 requests and cached at least one answer (on a loaded machine the answers of
    # the first requests can still be in flight when the 8th arrives)
    while (len(openai_stub.requests) < 8 or _cached(run_dir) < 1) and time.time() < deadline \
            and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    cached = len(ResponseCache(run_dir / "synth" / "cache.sqlite"))
    assert 0 < cached < 20
    assert read_manifest(run_dir / "synth").status == "running"

    sent_before = len(openai_stub.requests)
    cfg = _config(openai_stub, fpd=3, qpf=4, concurrency=2)
    m = run_synth(cfg, run_dir, seed=0, progress=False)
    resent = len(openai_stub.requests) - sent_before
    # a clean run of the same config on a fresh folder: the reference dataset and request count
    openai_stub.latency_s = 0.0
    before_clean = len(openai_stub.requests)
    run_synth(cfg, tmp_path / "clean", seed=0, progress=False)
    total = len(openai_stub.requests) - before_clean
    assert resent == total - cached, "the resumed run re-sent answered requests"
    assert m.stats["accounting"]["total"]["cache_hits"] == cached
    for name in ("tools.jsonl", "queries.jsonl"):
        assert (run_dir / "synth" / name).read_bytes() == (tmp_path / "clean" / "synth" / name).read_bytes()
    _, queries = _records(run_dir)
    assert len({q.query_id for q in queries}) == len(queries) == 2 * 3 * 4


def test_seed_tools_from_an_import_with_a_real_teacher(openai_stub, tmp_path):
    """``--seed-tools <import folder>`` against a server: the teacher weakens every tool and writes the
    queries; the imported queries of each strong tool are in its ``queries`` prompt as examples."""
    from tooldojo.formats import ImportConfig, run_import

    imp = tmp_path / "imp"
    run_import(ImportConfig(source=str(Path(__file__).parents[1] / "formats" / "data" / "bfcl"), eval_set=False), imp)
    prompts: list[str] = []
    responder = SynthResponder()

    def capture(body):
        if (body.get("response_format") or {}).get("json_schema", {}).get("name") == "tooldojo_queries":
            prompts.append(body["messages"][-1]["content"])
        return responder(body)

    openai_stub.responder = capture
    m = run_synth(_config(openai_stub, domains=None, seed_tools=str(imp), seed_tools_cap=3), tmp_path / "run",
                  progress=False)
    assert m.stats["seed_tools"]["picked"] == 3 and m.stats["accounting"]["weaken"]["asked"] == 3
    tools, queries = _records(tmp_path / "run")
    assert len(tools) == 6 and len(queries) == 3 * 4
    assert {q.provenance.source for q in queries} == {"synth"}
    assert all(getattr(q.provenance, "query_source", None) is None for q in queries)
    shown = [p for p in prompts if "existing dataset" in p]
    assert shown and any("hypotenuse" in p for p in shown)


@pytest.mark.parametrize("vouch", [None, False, True])
def test_an_upgrade_that_does_not_cover_the_weak_tool_needs_the_verifier(openai_stub, tmp_path, vouch):
    """The upgrade narrows the weak tool's free-text parameter to an enum: the verify prompt lists the
    problem, and the family is kept only when the teacher says why the upgrade is stronger."""
    openai_stub.responder = SynthResponder(narrow_upgrade=True, vouch=vouch)
    cfg = _config(openai_stub, fpd=1, qpf=2, domains=DOMAINS[:1], semantic_margin=None)
    if vouch is True:
        m = run_synth(cfg, tmp_path, progress=False)
        assert m.counts["families"] == 1 and "upgrade" not in m.stats["drops"]
    else:
        with pytest.raises(DataError, match="nothing usable"):
            run_synth(cfg, tmp_path, progress=False)
        m = read_manifest(tmp_path / "synth")  # a failed run writes no outputs; the reason is in its manifest
        assert m.status == "failed" and "upgrade/not_stronger: 1" in m.stats["error"]
        assert not (tmp_path / "synth" / "tools.jsonl").exists()
    verify = [b for b in openai_stub.requests if "tooldojo_verify" in json.dumps(b.get("response_format"))]
    assert verify and "'keyword' is limited to" in verify[0]["messages"][-1]["content"]
