"""Imported tools as synth's strong tools."""

from __future__ import annotations

import pytest

from tooldojo.errors import DataError
from tooldojo.formats import (
    ImportConfig,
    import_source,
    load_seed_set,
    load_seed_tools,
    run_import,
    seed_tools_from,
)
from tooldojo.formats.seed import identifier


def test_seed_tools_from_an_import_folder_and_a_raw_source(data_dir, tmp_path):
    imp = tmp_path / "imp"
    run_import(ImportConfig(source=str(data_dir / "toolace.json"), eval_set=False), imp)
    from_folder = load_seed_tools(imp)
    assert from_folder == load_seed_tools(data_dir / "toolace.json")
    assert [t["name"] for t in from_folder] == ["Market_Trends_API", "stock_price"]
    assert from_folder[1]["parameters"]["required"] == ["symbol"]


def test_cap_alternates_domains_and_filter(data_dir):
    result = import_source(data_dir / "bfcl")
    domains = [t.domain for t in result.tools]
    assert domains == ["math", None, "math", "route"]
    capped = seed_tools_from(result, cap=3)
    assert [t.name for t in capped] == ["math.sum", "calculate_triangle_area", "route.estimate_time"]
    assert [t.name for t in seed_tools_from(result, domains=["MATH"])] == ["math.sum", "math.hypot"]
    assert [t["name"] for t in load_seed_tools(data_dir / "bfcl", domains=["imported"])] == ["calculate_triangle_area"]
    with pytest.raises(DataError, match="no seed tools left"):
        load_seed_tools(data_dir / "bfcl", domains=["cooking"])
    with pytest.raises(DataError, match="cap must be"):
        load_seed_tools(data_dir / "bfcl", cap=0)


@pytest.mark.parametrize(("name", "ident"), [("math.factorial", "math_factorial"), ("Market Trends API", "Market_Trends_API"),
                                             ("3d-render", "t_3d_render"), ("x", "x_"), ("ok_name", "ok_name")])
def test_identifier(name, ident):
    assert identifier(name) == ident


def test_synth_weakens_imported_tools_with_the_offline_teacher(data_dir, tmp_path):
    """``synth.seed_tools`` naming an import folder: synth reads it through ``load_seed_tools`` and the
    offline teacher writes a weak variant of every tool (it has no queries for tools outside its catalog)."""
    from tooldojo.synth import run_synth
    from tooldojo.synth.config import SynthConfig

    imp = tmp_path / "imp"
    run_import(ImportConfig(source=str(data_dir / "bfcl"), eval_set=False), imp)
    tools = load_seed_tools(imp)
    m = run_synth(SynthConfig(seed_tools=str(imp), queries_per_family=2), tmp_path / "run", progress=False)
    assert m.status == "complete"
    weaken = m.stats["accounting"]["weaken"]
    assert weaken["asked"] == len(tools) == 4 and weaken["failures"] == 0


def test_seed_set_carries_single_call_queries_under_the_new_names(data_dir):
    seeds = load_seed_set(data_dir / "bfcl")
    assert [t["name"] for t in seeds.tools] == ["math_sum", "calculate_triangle_area", "math_hypot",
                                                "route_estimate_time"]
    assert set(seeds.queries) == {"calculate_triangle_area", "math_hypot", "route_estimate_time"}
    (q,) = seeds.queries["math_hypot"]
    assert q["arguments"] == {"x": 4, "y": 5, "z": 0} and "hypotenuse" in q["text"]
    assert seeds.stats["queries"] == 3  # the math.sum row is an irrelevance row (no call)


def test_seeded_cap_is_deterministic_and_alternates_domains(data_dir):
    result = import_source(data_dir / "bfcl")
    picks = {tuple(t.name for t in seed_tools_from(result, cap=2, seed=s)) for s in range(12)}
    assert len(picks) > 1  # the seed changes the sample
    for s in range(4):
        once = [t.name for t in seed_tools_from(result, cap=2, seed=s)]
        assert once == [t.name for t in seed_tools_from(result, cap=2, seed=s)]
        assert len({n.split(".")[0] if "." in n else "imported" for n in once}) == 2  # two domains of three


def test_domain_filter_only_when_the_tools_carry_domains(data_dir):
    # glaive tools carry no domain: synth's catalog domains cannot filter them, so the filter is ignored
    seeds = load_seed_set(data_dir / "glaive.jsonl", domains=["weather"], domains_when_tagged=True)
    assert len(seeds.tools) == 2 and seeds.stats["domain_filter"].startswith("ignored")
    with pytest.raises(DataError, match="no seed tools left"):
        load_seed_set(data_dir / "glaive.jsonl", domains=["weather"])
    seeds = load_seed_set(data_dir / "bfcl", domains=["route"], domains_when_tagged=True)
    assert [t["name"] for t in seeds.tools] == ["route_estimate_time"] and seeds.stats["domain_filter"] == "applied"


def _synth_outputs(run_dir):
    from tooldojo.records import QueryRecord, ToolRecord, read_jsonl

    tools = read_jsonl(run_dir / "synth" / "tools.jsonl", ToolRecord)
    return tools, read_jsonl(run_dir / "synth" / "queries.jsonl", QueryRecord)


@pytest.mark.parametrize("fixture", ["xlam.jsonl", "toolace.json", "glaive.jsonl", "hermes.jsonl", "openai.jsonl",
                                     "bfcl"])
def test_offline_synth_from_every_importable_fixture(fixture, data_dir, tmp_path):
    """``synth --seed-tools <dataset>`` with the offline teacher: every weakenable imported tool makes a
    family; its imported queries come back with needs derived from the gap, the rest are schema-driven, and
    every gold call validates against its tool."""
    from tooldojo.synth import run_synth
    from tooldojo.synth.config import SynthConfig
    from tooldojo.synth.schemas import call_errors

    seeds = load_seed_set(data_dir / fixture)
    m = run_synth(SynthConfig(seed_tools=str(data_dir / fixture), queries_per_family=4), tmp_path / "run",
                  progress=False)
    tools, queries = _synth_outputs(tmp_path / "run")
    fams = {t.family_id for t in tools}
    st = m.stats["seed_tools"]
    assert fams and queries and st["families"] == len(fams) == m.counts["families"]
    assert st["picked"] == len(seeds.tools) == len(fams) + sum(st["rejected"].values())
    by_name = {t.name: t for t in tools}
    imported = [q for q in queries if q.provenance.query_source == "import"]
    used_seeds = {s["text"] for name, rows in seeds.queries.items() if name in by_name for s in rows}
    assert {q.text for q in imported} == used_seeds
    for q in queries:
        assert q.calls and all(call_errors(by_name[n].function, args) == [] for n, args in q.calls.items())
        strong = next(n for n in q.calls if by_name[n].role == "strong")
        assert by_name[strong].family_id == q.family_id
        if q.needs == "weak":
            assert len(q.calls) == 2


def test_synth_cli_with_seed_tools_cap_and_domains(data_dir, tmp_path):
    import typer
    from typer.testing import CliRunner

    from tooldojo.cli.synth import register
    from tooldojo.runs import read_manifest

    app = typer.Typer()
    register(app)

    imp = tmp_path / "imp"
    run_import(ImportConfig(source=str(data_dir / "bfcl"), eval_set=False), imp)
    args = ["synth", "--seed-tools", str(imp), "--queries-per-family", "3", "--run-dir", str(tmp_path / "run")]
    res = CliRunner().invoke(app, [*args, "--seed-tools-cap", "2", "--domains", "math,route"])
    assert res.exit_code == 0, res.output
    m = read_manifest(tmp_path / "run" / "synth")
    st = m.stats["seed_tools"]
    assert st["picked"] == 2 and st["cap"] == 2 and st["domain_filter"] == "applied"
    tools, queries = _synth_outputs(tmp_path / "run")
    strong = sorted(t.name for t in tools if t.role == "strong")
    assert len(strong) == 2 and all(n.startswith(("math_", "route_")) for n in strong) and queries
    # the same seed gives the same sample; the filter leaving nothing is a one-line error
    res = CliRunner().invoke(app, [*args, "--seed-tools-cap", "2", "--domains", "cooking"])
    assert res.exit_code == 2 and "no seed tools left" in res.output
