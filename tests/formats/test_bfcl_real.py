"""End to end on the real BFCL files shipped by ``bfcl-eval``: import a sample, check it, and feed its tools
to synth as strong tools with the offline teacher. Skipped when the data cannot be found: set
``TOOLDOJO_BFCL_DATA`` to ``<site-packages>/bfcl_eval/data`` (the package pins old dependencies, so it
belongs in its own venv; its data files are read without importing it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.formats.helpers import calls_of, functions_of
from tooldojo.formats import (
    ExportConfig,
    ImportConfig,
    find_bfcl_data,
    import_source,
    load_seed_tools,
    read_import,
    run_export,
    run_import,
    to_examples,
)
from tooldojo.records import stable_id

DATA = find_bfcl_data()
pytestmark = pytest.mark.skipif(DATA is None, reason="BFCL data not found (TOOLDOJO_BFCL_DATA or bfcl-eval)")
SAMPLE = 25  # rows per category


def _sample(tmp_path: Path) -> Path:
    """The first rows of the simple, multiple, parallel and irrelevance categories (and one multi-turn file),
    with their possible answers, copied into a folder laid out like BFCL's."""
    out = tmp_path / "bfcl"
    (out / "possible_answer").mkdir(parents=True)
    picked = []
    wanted = re.compile(r"BFCL_v\d+_(simple_python|simple|multiple|parallel|irrelevance|multi_turn_base)\.json")
    for src in sorted(p for p in DATA.glob("BFCL_*.json") if wanted.fullmatch(p.name)):
        lines = [line for line in src.read_text(encoding="utf-8").splitlines() if line.strip()][:SAMPLE]
        (out / src.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        ans = src.parent / "possible_answer" / src.name
        if ans.is_file():
            ids = {json.loads(line)["id"] for line in lines}
            keep = [line for line in ans.read_text(encoding="utf-8").splitlines()
                    if line.strip() and json.loads(line)["id"] in ids]
            (out / "possible_answer" / src.name).write_text("\n".join(keep) + "\n", encoding="utf-8")
        picked.append(src.name)
    assert len(picked) >= 4, f"expected BFCL categories in {DATA}, found {picked}"
    return out


def test_real_bfcl_sample_imports_and_seeds_synth(tmp_path):
    sample = _sample(tmp_path)
    imp = tmp_path / "imp"
    m = run_import(ImportConfig(source=str(sample)), imp)
    result = read_import(imp)
    # single-turn categories convert completely; multi-turn rows are reported, not dropped silently
    assert {f.reason.split(":")[0] for f in result.failures} <= {"unsupported BFCL category"}
    assert m.stats["single_call"] >= SAMPLE and m.stats["multi_call"] >= 1 and m.stats["no_call"] >= 1
    tools = result.tool_map()
    n_calls = off = 0
    for q in result.queries:  # every gold call names an offered tool; nearly all fit its schema
        offered = {tools[t].name: tools[t].function for t in q.tools}
        for c in q.calls:
            n_calls += 1
            off += bool(list(Draft202012Validator(offered[c.name]["parameters"]).iter_errors(c.arguments)))
    assert off == result.off_schema_calls and off <= n_calls // 10
    examples, skipped = to_examples(result)
    assert len(examples) == m.counts["eval_examples"] and len(skipped) == m.stats["multi_call"]

    for fmt in ("trl", "hermes", "xlam"):  # every tool and gold call survives each export format
        run_export(ExportConfig(source=str(imp), format=fmt), tmp_path / fmt)
        again = import_source(tmp_path / fmt / "default" / "train.parquet")
        assert again.failures == [] and functions_of(again) == functions_of(result)
        assert calls_of(again) == calls_of(result)

    from tooldojo.synth import run_synth
    from tooldojo.synth.config import SynthConfig

    seeds = load_seed_tools(imp, cap=12)
    assert len(seeds) == 12
    run = run_synth(SynthConfig(queries_per_family=2), tmp_path / "run", strong_tools=seeds, progress=False)
    assert run.status == "complete" and run.inputs["seed_tools"] == stable_id(seeds)
    assert run.stats["accounting"]["weaken"]["asked"] == 12  # one weak variant asked for per imported tool


def test_real_bfcl_simple_import_then_offline_synth(tmp_path):
    """``tooldojo import <BFCL simple>`` then ``synth --seed-tools`` with the offline teacher: most tools make
    a family (the rest are counted with the reason), each with its imported query and schema-driven ones."""
    from tooldojo.records import QueryRecord, ToolRecord, read_jsonl
    from tooldojo.synth import run_synth
    from tooldojo.synth.config import SynthConfig
    from tooldojo.synth.schemas import call_errors

    files = sorted(DATA.glob("BFCL_v*_simple_python.json")) or sorted(DATA.glob("BFCL_v*_simple.json"))
    assert files, f"no BFCL simple category in {DATA}"
    imp = tmp_path / "imp"
    run_import(ImportConfig(source=str(files[-1]), eval_set=False), imp)
    m = run_synth(SynthConfig(seed_tools=str(imp), queries_per_family=3), tmp_path / "run", progress=False)
    st = m.stats["seed_tools"]
    assert st["picked"] >= 300 and st["tools_with_queries"] >= 0.9 * st["picked"]
    assert st["families"] + sum(st["rejected"].values()) == st["picked"]
    assert st["families"] >= 0.7 * st["picked"]  # measured: 291 of 370 (the rest have nothing to take away)
    tools = {t.name: t for t in read_jsonl(tmp_path / "run" / "synth" / "tools.jsonl", ToolRecord)}
    queries = read_jsonl(tmp_path / "run" / "synth" / "queries.jsonl", QueryRecord)
    assert len(queries) == 3 * st["families"] == m.counts["queries"]
    by_source = m.stats["queries_by_source"]
    assert by_source["import"] >= 0.9 * st["families"] and by_source["schema"] >= st["families"]
    assert min(m.stats["queries_by_needs"].values()) >= 0.3 * len(queries)
    for q in queries:
        assert all(call_errors(tools[n].function, args) == [] for n, args in q.calls.items())
