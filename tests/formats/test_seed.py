"""Imported tools as synth's strong tools."""

from __future__ import annotations

import pytest

from tooldojo.errors import DataError
from tooldojo.formats import ImportConfig, import_source, load_seed_tools, run_import, seed_tools_from
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
