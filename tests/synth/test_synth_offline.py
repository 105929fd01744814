"""The whole synth stage on the offline teacher: validity, determinism, skipping, the weaken path."""

from __future__ import annotations

import json

import pytest

from tooldojo.errors import ConfigError
from tooldojo.records import QueryRecord, ToolRecord, read_jsonl
from tooldojo.runs import read_manifest
from tooldojo.synth import run_synth
from tooldojo.synth.catalog import load_catalog
from tooldojo.synth.config import SynthConfig
from tooldojo.synth.schemas import call_errors, function_problems
from tooldojo.synth.steps.weaken import weaken_by_rule


def _domains(n: int = 2) -> list[str]:
    cat = load_catalog()
    return sorted(cat, key=lambda d: (-len(cat[d].families), d))[:n]


def _config(**kw) -> SynthConfig:
    return SynthConfig(domains=_domains(), families_per_domain=2, queries_per_family=6, **kw)


def _read(run_dir):
    return (read_jsonl(run_dir / "synth" / "tools.jsonl", ToolRecord),
            read_jsonl(run_dir / "synth" / "queries.jsonl", QueryRecord))


def test_offline_run_produces_valid_families_and_queries(tmp_path):
    m = run_synth(_config(), tmp_path, seed=3, progress=False)
    tools, queries = _read(tmp_path)
    assert m.status == "complete" and m.counts["tools"] == len(tools) and m.counts["queries"] == len(queries)
    by_family: dict[str, dict[str, ToolRecord]] = {}
    for t in tools:
        assert function_problems(t.function) == []
        by_family.setdefault(t.family_id, {})[t.role] = t
    assert len(by_family) == m.counts["families"] >= 2
    assert all(set(f) == {"weak", "strong"} and f["strong"].capability_gap for f in by_family.values())
    assert {q.needs for q in queries} == {"weak", "strong"}
    for q in queries:
        fam = by_family[q.family_id]
        needed = fam[q.needs].name
        assert needed in q.calls and fam["strong"].name in q.calls
        for name, args in q.calls.items():
            fn = next(t.function for t in fam.values() if t.name == name)
            assert call_errors(fn, args) == []
        p = q.provenance
        assert (p.template, p.teacher_model, p.seed, p.template_set) == ("queries", "offline", 3, "default")
        assert p.template_version == "3" and len(p.prompt_hash) == 16 and p.template_set_hash
        # the offline teacher writes no answer: the zero target's answer is templated from the needed tool
        assert p.answer_source == "template" and q.answer.startswith("I can't do that without a tool that can ")
    assert len({q.query_id for q in queries}) == len(queries)
    stats = m.stats
    assert stats["templates"]["name"] == "default" and stats["accounting"]["total"]["sent"] > 0
    assert set(stats["accounting"]) >= {"tools", "upgrade", "queries", "verify", "total"}
    report = (tmp_path / "synth" / "report.md").read_text()
    assert "Teacher accounting" in report and "Capability gap" in report
    # the offline teacher ignores the prompts: manifest and report say the template set changes no data
    assert "not the data" in stats["templates"]["note"] and stats["templates"]["note"] in report


def test_offline_teacher_is_deterministic_for_a_seed(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    run_synth(_config(), a, seed=7, progress=False)
    run_synth(_config(), b, seed=7, progress=False)
    run_synth(_config(), c, seed=8, progress=False)
    for name in ("tools.jsonl", "queries.jsonl"):
        assert (a / "synth" / name).read_bytes() == (b / "synth" / name).read_bytes()
    assert (a / "synth" / "queries.jsonl").read_bytes() != (c / "synth" / "queries.jsonl").read_bytes()


def test_up_to_date_stage_is_skipped_and_cache_reused(tmp_path):
    first = run_synth(_config(), tmp_path, seed=1, progress=False)
    again = run_synth(_config(), tmp_path, seed=1, progress=False)
    assert again.finished_at == first.finished_at  # skipped
    forced = run_synth(_config(), tmp_path, seed=1, force=True, progress=False)
    acc = forced.stats["accounting"]["total"]
    assert acc["sent"] == 0 and acc["cache_hits"] == acc["asked"] > 0
    assert forced.fingerprint == first.fingerprint
    before = (tmp_path / "synth" / "queries.jsonl").read_bytes()
    with pytest.raises(ConfigError, match="different seed"):  # a finished run is not replaced by accident
        run_synth(_config(), tmp_path, seed=2, progress=False)
    assert (tmp_path / "synth" / "queries.jsonl").read_bytes() == before
    other_seed = run_synth(_config(), tmp_path, seed=2, force=True, progress=False)
    assert other_seed.stats["accounting"]["total"]["sent"] > 0


def test_styles_and_sizes_follow_the_config(tmp_path):
    cfg = _config(styles=["question", "casual"], verify=False)
    m = run_synth(cfg, tmp_path, progress=False)
    _, queries = _read(tmp_path)
    assert {q.style for q in queries} <= {"question", "casual"}
    per_family = {}
    for q in queries:
        per_family[q.family_id] = per_family.get(q.family_id, 0) + 1
    assert max(per_family.values()) <= 6
    assert "verify" not in m.stats["accounting"]


def test_unknown_domain_for_offline_teacher_is_a_config_error(tmp_path):

    with pytest.raises(ConfigError, match=r"synth\.domains"):
        run_synth(SynthConfig(domains=["no_such_domain"]), tmp_path, progress=False)


def test_weaken_by_rule_drops_the_most_capable_optional_parameter():
    strong = {"name": "search_flights", "description": "Search flights between two airports.",
              "parameters": {"type": "object", "required": ["origin"], "properties": {
                  "origin": {"type": "string", "description": "IATA code"},
                  "cabin": {"type": "string", "enum": ["economy", "business"], "description": "Cabin class"},
                  "max_stops": {"type": "integer", "description": "At most this many stops"},
                  "filters": {"type": "object", "description": "Airline and time filters"}}}}
    weak, gap = weaken_by_rule(strong)
    assert weak["name"] == "search_flights_basic" and "filters" not in weak["parameters"]["properties"]
    assert set(weak["parameters"]["properties"]) == {"origin", "cabin", "max_stops"}
    assert "filters" in gap and function_problems(weak) == []


def test_seed_tools_path_weakens_imported_strong_tools(tmp_path):
    cat = load_catalog()
    fam = cat[_domains(1)[0]].families[0]
    unknown = {"name": "translate_text", "description": "Translate text into another language.",
               "parameters": {"type": "object", "required": ["text", "target"], "properties": {
                   "text": {"type": "string", "description": "Text to translate"},
                   "target": {"type": "string", "description": "Target language code"},
                   "formality": {"type": "string", "enum": ["formal", "informal"], "description": "Register"}}}}
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("\n".join(json.dumps({"type": "function", "function": f}) for f in (fam.strong, unknown)))
    m = run_synth(SynthConfig(seed_tools=str(seeds), queries_per_family=4), tmp_path / "run", progress=False)
    tools, queries = _read(tmp_path / "run")
    names = {t.name: t for t in tools}
    assert names[fam.weak["name"]].provenance.template == "weaken"
    assert names[fam.strong["name"]].provenance.source == "import"
    assert queries and m.stats["accounting"]["weaken"]["asked"] == 2
    # the unknown tool is weakened by rule (its enum parameter dropped) and gets schema-driven queries
    weak = names["translate_text_basic"]
    assert "formality" not in weak.function["parameters"]["properties"]
    mine = [q for q in queries if q.family_id == weak.family_id]
    assert {q.needs for q in mine} == {"weak", "strong"} and "queries" not in m.stats["drops"]
    for q in mine:
        assert q.provenance.query_source == "schema"
        assert ("formality" in q.calls["translate_text"]) == (q.needs == "strong")
        assert all(call_errors(names[n].function, args) == [] for n, args in q.calls.items())
    assert m.stats["seed_tools"]["picked"] == 2 and m.stats["seed_tools"]["rejected"] == {}
    manifest = read_manifest(tmp_path / "run" / "synth")
    assert "seed_tools" in manifest.inputs
