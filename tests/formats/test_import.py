"""Importers: each hand-written fixture in its public format, malformed rows included."""

from __future__ import annotations

import json

import pytest

from tooldojo.errors import DataError
from tooldojo.formats import ImportConfig, import_source, read_import, run_import
from tooldojo.formats.importing import detect_format
from tooldojo.records import GENERATE_RESPONSE

# fixture -> (format, queries, failures, {failing row ref prefix: reason prefix})
EXPECTED = {
    "xlam.jsonl": ("xlam", 4, 5, {"xlam.jsonl:6": "unreadable answers", "xlam.jsonl:7": "call to a tool that is not offered",
                                  "xlam.jsonl:8": "bad tool schema", "xlam.jsonl:9": "no user query",
                                  "xlam.jsonl:10": "unreadable row"}),
    "toolace.json": ("toolace", 3, 2, {"toolace.json[3]": "no tool list found", "toolace.json[4]": "unreadable call list"}),
    "glaive.jsonl": ("glaive", 3, 2, {"glaive.jsonl:4": "no tools offered", "glaive.jsonl:5": "no gold answer"}),
    "hermes.jsonl": ("hermes", 3, 2, {"hermes.jsonl:4": "no gold answer", "hermes.jsonl:5": "unreadable <tool_call> body"}),
    "openai.jsonl": ("openai", 4, 2, {"openai.jsonl:5": "no user query", "openai.jsonl:6": "arguments of a call"}),
    "bfcl": ("bfcl", 4, 2, {"BFCL_v3_multi_turn_base.json": "unsupported BFCL category",
                            "BFCL_v3_simple.json:4": "no ground truth"}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_imports_and_reports_failures(data_dir, name):
    fmt, n_queries, n_failures, reasons = EXPECTED[name]
    result = import_source(data_dir / name)
    assert result.format == fmt
    assert len(result.queries) == n_queries
    assert len(result.failures) == n_failures
    for ref, reason in reasons.items():
        hit = [f for f in result.failures if f.row.startswith(ref)]
        assert hit and hit[0].reason.startswith(reason), (ref, [f.model_dump() for f in result.failures])
    assert result.rows == n_queries + n_failures + result.duplicate_queries
    # every call names an offered tool and every schema is normalised
    for q in result.queries:
        offered = {t["name"] for t in result.offered(q)}
        assert {c.name for c in q.calls} <= offered
    for t in result.tools:
        assert set(t.function) == {"name", "description", "parameters"}
        assert t.function["parameters"]["type"] == "object"


def test_xlam_contents(data_dir):
    r = import_source(data_dir / "xlam.jsonl", "xlam")
    assert r.duplicate_queries == 1
    by_text = {q.text: q for q in r.queries}
    weather = by_text["What's the weather in Lyon for the next 3 days?"]
    assert [c.model_dump() for c in weather.calls] == [{"name": "get_weather", "arguments": {"city": "Lyon", "days": 3}}]
    fn = r.offered(weather)[0]
    assert fn["parameters"]["required"] == ["days"]  # city has a default, units is optional
    assert fn["parameters"]["properties"]["units"] == {"type": "string", "description": "metric or imperial."}
    assert len(by_text["Convert 20 EUR to USD and tell me 5!"].calls) == 2
    assert by_text["Write me a haiku about rain."].calls == []
    assert {t.name: t.domain for t in r.tools}["math.factorial"] == "math"  # dotted name's prefix


def test_toolace_names_with_spaces_and_direct_reply(data_dir):
    r = import_source(data_dir / "toolace.json")
    q = next(q for q in r.queries if q.text.startswith("Show me"))
    assert [c.model_dump() for c in q.calls] == [
        {"name": "Market Trends API", "arguments": {"trend_type": "MOST_ACTIVE", "country": "de"}},
        {"name": "stock.price", "arguments": {"symbol": "AAPL", "realtime": True}}]
    joke = next(q for q in r.queries if "joke" in q.text)
    assert joke.calls == [] and joke.answer.startswith("I can only look up")


def test_glaive_single_quoted_arguments(data_dir):
    r = import_source(data_dir / "glaive.jsonl")
    news = next(q for q in r.queries if "France" in q.text)
    assert news.calls[0].arguments == {"country": "France's politics"}
    bmi = next(q for q in r.queries if "BMI" in q.text)
    assert bmi.calls[0].arguments == {"weight": 70, "height": 1.75}


def test_hermes_python_literals_and_category(data_dir):
    r = import_source(data_dir / "hermes.jsonl")
    cam = next(q for q in r.queries if "camera" in q.text)
    assert cam.calls[0].arguments == {"camera_id": "front_door", "stream_quality": "1080p"}
    assert {t.domain for t in r.tools} == {"IoT and Home Automation"}
    enum = r.offered(cam)[0]["parameters"]["properties"]["stream_quality"]["enum"]
    assert enum == ["720p", "1080p", "4k"]


def test_openai_variants_and_system(data_dir):
    r = import_source(data_dir / "openai.jsonl")
    flights = next(q for q in r.queries if "SFO" in q.text)
    assert flights.system == "You are a travel assistant."
    assert flights.calls[0].arguments["passengers"] == 2
    legacy = next(q for q in r.queries if "notes" in q.text)
    assert legacy.calls[0].arguments == {"to": ["team@example.com"], "subject": "Notes"}
    spider = next(q for q in r.queries if "spider" in q.text)
    assert spider.calls == [] and spider.answer == "Eight."


def test_bfcl_ground_truth_canonical_values(data_dir):
    r = import_source(data_dir / "bfcl")
    by_id = {q.source_row.split("id=")[-1].rstrip(")"): q for q in r.queries}
    assert by_id["simple_0"].calls[0].arguments == {"base": 10, "height": 5, "unit": "units"}
    assert by_id["simple_1"].calls[0].arguments == {"x": 4, "y": 5, "z": 0}  # "" (omit) is not the first value
    route = by_id["simple_2"].calls[0].arguments
    assert route["stops"] == ["Santa Barbara", "Monterey"] and route["options"] == {"avoid_tolls": True}
    assert by_id["simple_2"].system == "You are a geometry tutor."
    assert by_id["irrelevance_0"].calls == []
    hypot = next(t for t in r.tools if t.name == "math.hypot").function["parameters"]
    assert hypot["required"] == ["x", "y"] and "optional" not in hypot["properties"]["z"]


def test_generate_response_is_a_direct_reply_not_a_tool(tmp_path):
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": GENERATE_RESPONSE, "arguments": {"response": "Hello!"}}}]}],
        "tools": [{"type": "function", "function": {"name": "f", "description": "F.", "parameters": {}}},
                  {"type": "function", "function": {"name": GENERATE_RESPONSE, "description": "Answer directly.",
                                                    "parameters": {}}}]}
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row) + "\n")
    r = import_source(path)
    assert [t.name for t in r.tools] == ["f"]
    assert r.queries[0].calls == [] and r.queries[0].answer == "Hello!"


def test_detection_limit_and_errors(data_dir, tmp_path):
    assert detect_format({"query": "q", "tools": "[]", "answers": "[]"}) == "xlam"
    assert detect_format({"system": "S", "chat": "USER: hi"}) == "glaive"
    assert detect_format({"foo": 1}) is None
    assert import_source(data_dir / "xlam.jsonl", limit=3).rows == 3
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"foo": 1}\n')
    with pytest.raises(DataError, match="cannot tell the format"):
        import_source(odd)
    with pytest.raises(DataError, match="unknown format"):
        import_source(odd, "yaml")
    with pytest.raises(DataError, match="no such file"):
        import_source(tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match="cannot load Hub dataset"):  # the Hub is offline in tests
        import_source("no-such-owner/no-such-dataset")


def test_run_import_writes_files_and_skips_when_up_to_date(data_dir, tmp_path):
    out = tmp_path / "imp"
    m = run_import(ImportConfig(source=str(data_dir / "xlam.jsonl")), out)
    assert m.status == "complete" and m.counts["queries"] == 4 and m.counts["failures"] == 5
    assert m.counts["eval_examples"] == 3 and m.counts["eval_skipped"] == 1  # one query has two calls
    assert (out / "dataset" / "eval" / "imported.parquet").is_file()
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert {f["row"] for f in failures} >= {"xlam.jsonl:6 (id=5)", "xlam.jsonl:10"}
    back = read_import(out)
    assert back.format == "xlam" and len(back.queries) == 4 and len(back.tools) == 3
    stamp = (out / "manifest.json").stat().st_mtime_ns
    run_import(ImportConfig(source=str(data_dir / "xlam.jsonl")), out)
    assert (out / "manifest.json").stat().st_mtime_ns == stamp  # skipped


def test_run_import_fails_loudly_when_nothing_converts(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"query": "q", "tools": "[]", "answers": "[]"}\n')
    with pytest.raises(DataError, match="no row could be converted"):
        run_import(ImportConfig(source=str(src)), tmp_path / "out")
    assert json.loads((tmp_path / "out" / "failures.jsonl").read_text())["reason"].startswith("no tools offered")


def test_cli_import(data_dir, tmp_path, cli):
    out = tmp_path / "imp"
    res = cli("import", data_dir / "hermes.jsonl", "--out", out, "--no-eval")
    assert res.exit_code == 0, res.output
    assert "3 queries" in res.output and "2 rows not converted" in res.output
    assert not (out / "dataset").exists()
    bad = cli("import", data_dir / "hermes.jsonl", "--out", out, "--format", "csv")
    assert bad.exit_code == 2 and "unknown format" in bad.output


def test_strict_refuses_calls_that_break_their_schema(tmp_path):
    tool = {"name": "f", "description": "F.", "parameters": {"type": "object", "properties": {
        "n": {"type": "integer", "description": "N"}}, "required": ["n"]}}
    rows = [{"query": "ok", "tools": json.dumps([tool]), "answers": json.dumps([{"name": "f", "arguments": {"n": 2}}])},
            {"query": "bad", "tools": json.dumps([tool]), "answers": json.dumps([{"name": "f", "arguments": {"n": "two"}}])}]
    path = tmp_path / "x.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lenient = import_source(path)
    assert len(lenient.queries) == 2 and lenient.off_schema_calls == 1
    strict = import_source(path, strict=True)
    assert [q.text for q in strict.queries] == ["ok"]
    assert strict.failures[0].reason == "gold call does not fit its tool's schema: n: 'two' is not of type 'integer'"


def test_bfcl_shortcut_source(data_dir, monkeypatch):
    monkeypatch.setenv("TOOLDOJO_BFCL_DATA", str(data_dir / "bfcl"))
    r = import_source("bfcl")
    assert r.format == "bfcl" and len(r.queries) == 4
    monkeypatch.setenv("TOOLDOJO_BFCL_DATA", str(data_dir / "missing"))
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(DataError, match="BFCL data not found"):
        import_source("bfcl")
