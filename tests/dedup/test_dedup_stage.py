"""The dedup stage end to end: planted duplicates removed (and counted), close families clustered,
errors that name the row and the field."""

from __future__ import annotations

import copy
import json

import pytest
from dedup_synthdata import catalog_records, planted_family, write_synth
from typer.testing import CliRunner

from tooldojo.dedup import run_dedup
from tooldojo.dedup.config import DedupConfig
from tooldojo.errors import DataError
from tooldojo.records import QueryRecord, ToolRecord
from tooldojo.runs import read_manifest
from tooldojo.similarity.minhash import LSHIndex, MinHasher
from tooldojo.similarity.text import tool_text

MINHASH_ONLY = {"semantic": {"enabled": False}}


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_planted_duplicates_are_removed_and_counted(tmp_path, records):
    tools, queries = records
    fid = tools[0].family_id
    dup_t, dup_q = planted_family(tools, queries, fid, new_id="dup_family", rename=True, shuffle_params=True)
    reworded = [q.model_copy(update={"query_id": q.query_id + "_re", "text": "  " + q.text.upper().replace(".", " !!")})
                for q in queries[20:23]]
    write_synth(tmp_path, tools + dup_t, queries + dup_q + reworded)
    m = run_dedup(DedupConfig(**MINHASH_ONLY), tmp_path)
    out = tmp_path / "dedup"
    removed = _jsonl(out / "removed.jsonl")
    kept_tools = _jsonl(out / "tools.jsonl")
    kept_queries = _jsonl(out / "queries.jsonl")

    # the renamed, parameter-shuffled copy of a family goes, with all its queries; the original stays
    gone = [r for r in removed if r["family_id"] == "dup_family"]
    assert {r["id"] for r in gone if r["table"] == "tools"} == {t.tool_id for t in dup_t}
    assert {r["id"] for r in gone if r["table"] == "queries"} == {q.query_id for q in dup_q}
    assert all(r["representative_family"] == fid and r["filter"] == "minhash" for r in gone)
    assert all(r["similarity"] is not None and r["similarity"] >= 0.7 for r in gone if r["table"] == "tools")
    # weak and strong tools of one family are similar by design and never removed
    assert {t["tool_id"] for t in kept_tools} == {t.tool_id for t in tools}
    # reworded queries (case, punctuation, spacing) point at the query they repeat
    by_id = {r["id"]: r for r in removed}
    for q in reworded:
        row = by_id[q.query_id]
        assert row["representative"] == q.query_id.removesuffix("_re")
        assert row["similarity"] == pytest.approx(1.0) and row["reason"] == "duplicate"
    # nothing disappears uncounted
    for table, inp, kept in (("tools", tools + dup_t, kept_tools), ("queries", queries + dup_q + reworded, kept_queries)):
        assert len(kept) + sum(1 for r in removed if r["table"] == table) == len(inp)
    stats = m.stats["removed"]["minhash"]
    assert stats["families"] == 1 and stats["tools"] == 2 and stats["queries_with_family"] == len(dup_q)
    assert stats["queries"] == sum(1 for r in removed if r["reason"] == "duplicate")
    assert m.stats["examples"] and (out / "report.md").read_text().count("minhash") >= 2
    # every kept family is in exactly one cluster
    clusters = _jsonl(out / "clusters.jsonl")
    fams = [f for c in clusters for f in c["families"]]
    assert sorted(fams) == sorted({t["family_id"] for t in kept_tools})
    # the saved indexes hold what was kept and dedup a new batch against it
    qindex = LSHIndex.load(out / "index" / "queries.pkl")
    assert len(qindex) == len(kept_queries)
    best, _ = qindex.best_match(qindex.hasher.signatures([kept_queries[0]["text"] + "!"]))
    assert qindex.keys[int(best[0])] == kept_queries[0]["query_id"]
    # up to date: skipped
    again = run_dedup(DedupConfig(**MINHASH_ONLY), tmp_path)
    assert again.finished_at == m.finished_at


def _close_family(tools: list[ToolRecord]) -> tuple[list[ToolRecord], list[QueryRecord]]:
    """A family whose tools are close to ``place_search``'s (Jaccard 0.5-0.7) but not duplicates."""
    src = {t.role: t for t in tools if t.family_id == "place_search"}
    weak = copy.deepcopy(src["weak"].function)
    weak["name"] = "internet_lookup"
    weak["description"] += " It also lists sponsored results and trending searches for the region."
    strong = {"name": "internet_lookup_pro", "description": "Look things up online with filters for date, site "
              "and language, returning titles, links, snippets and publication dates.",
              "parameters": {"type": "object", "properties": {"q": {"type": "string", "description": "Query."},
                                                               "site": {"type": "string", "description": "Domain."}},
                             "required": ["q"]}}
    t = [ToolRecord(tool_id="close_w", family_id="close_family", domain="search", role="weak", function=weak),
         ToolRecord(tool_id="close_s", family_id="close_family", domain="search", role="strong", function=strong)]
    texts = ["Look up the history of the Eiffel Tower online.", "Which sites explain how sourdough starters work?",
             "Get only articles from nature.com about coral reefs published this year."]
    q = [QueryRecord(query_id=f"close_q{i}", family_id="close_family", text=x, style="imperative",
                     needs="weak" if i < 2 else "strong",
                     calls={"internet_lookup": {"query": x}, "internet_lookup_pro": {"q": x}} if i < 2
                     else {"internet_lookup_pro": {"q": x, "site": "nature.com"}}) for i, x in enumerate(texts)]
    return t, q


def test_close_families_are_linked_not_removed(tmp_path):
    tools, queries = catalog_records(per_pattern=1, domains=["search"])
    ct, cq = _close_family(tools)
    h = MinHasher()
    web = next(t for t in tools if t.name == "web_search")
    sig = h.signatures([tool_text(web.function), tool_text(ct[0].function)])
    assert 0.5 <= (sig[0] == sig[1]).mean() < 0.7  # the setup really is "close, not duplicate"
    write_synth(tmp_path, tools + ct, queries + cq)
    run_dedup(DedupConfig(**MINHASH_ONLY), tmp_path)
    clusters = _jsonl(tmp_path / "dedup" / "clusters.jsonl")
    home = next(c for c in clusters if "close_family" in c["families"])
    assert "place_search" in home["families"]
    link = next(lk for lk in home["links"] if {lk["a"], lk["b"]} == {"close_family", "place_search"})
    assert link["table"] == "tools" and 0.5 <= link["similarity"] < 0.7
    assert "close_w" in {t["tool_id"] for t in _jsonl(tmp_path / "dedup" / "tools.jsonl")}


def test_semantic_filter_removes_paraphrases(tmp_path):
    tools, queries = catalog_records(per_pattern=1, domains=["search"])
    base = next(q for q in queries if q.family_id == "place_search" and q.needs == "weak")
    a = base.model_copy(update={"query_id": "para_a", "text": "Find bakeries in Lisbon please."})
    b = base.model_copy(update={"query_id": "para_b", "text": "In Lisbon, please find bakeries."})
    write_synth(tmp_path, tools, [*queries, a, b])
    m = run_dedup(DedupConfig(), tmp_path)
    removed = {r["id"]: r for r in _jsonl(tmp_path / "dedup" / "removed.jsonl")}
    assert removed["para_b"]["filter"] == "semantic" and removed["para_b"]["representative"] == "para_a"
    assert removed["para_b"]["similarity"] >= 0.92
    assert m.stats["removed"]["semantic"]["queries"] >= 1


def test_reference_index_removes_queries_seen_before(tmp_path, records):
    tools, queries = records
    write_synth(tmp_path / "v1", tools, queries)
    run_dedup(DedupConfig(**MINHASH_ONLY), tmp_path / "v1")
    new_q = [q.model_copy(update={"query_id": "new_" + q.query_id}) for q in queries[:4]]
    fresh = queries[4].model_copy(update={"query_id": "fresh", "text": "Something nobody has asked before about otters"})
    write_synth(tmp_path / "v2", tools, [*new_q, fresh])
    cfg = DedupConfig(semantic={"enabled": False},
                      minhash={"reference_index": str(tmp_path / "v1" / "dedup" / "index" / "queries.pkl")})
    m = run_dedup(cfg, tmp_path / "v2")
    removed = {r["id"]: r for r in _jsonl(tmp_path / "v2" / "dedup" / "removed.jsonl")}
    assert {k for k, r in removed.items() if r["filter"] == "reference"} == {q.query_id for q in new_q}
    assert removed[new_q[0].query_id]["representative"] == queries[0].query_id
    assert [q["query_id"] for q in _jsonl(tmp_path / "v2" / "dedup" / "queries.jsonl")] == ["fresh"]
    assert m.stats["removed"]["reference"]["queries"] == 4


def _write_raw(run_dir, tools_lines, queries_lines):
    from tooldojo.runs import StageRun, write_text

    with StageRun(run_dir / "synth", "synth", {"raw": True}) as st:
        write_text(st.dir / "tools.jsonl", "".join(line + "\n" for line in tools_lines))
        write_text(st.dir / "queries.jsonl", "".join(line + "\n" for line in queries_lines))
        st.record_output("tools", None, "tools.jsonl")


def test_errors_name_the_row_and_the_field(tmp_path, records):
    tools, queries = records
    good_t = [t.model_dump_json() for t in tools]
    good_q = [q.model_dump_json() for q in queries]

    _write_raw(tmp_path / "empty", [], [])
    with pytest.raises(DataError, match="no valid tools"):
        run_dedup(DedupConfig(**MINHASH_ONLY), tmp_path / "empty")

    missing = json.loads(good_t[1])
    del missing["role"]
    _write_raw(tmp_path / "missing", [good_t[0], json.dumps(missing), *good_t[2:]], good_q)
    with pytest.raises(DataError, match=r"tools.jsonl:2 .*field role") as err:
        run_dedup(DedupConfig(**MINHASH_ONLY), tmp_path / "missing")
    assert "on_invalid=drop" in str(err.value)

    bad_schema = json.loads(good_t[2])
    bad_schema["function"]["parameters"]["properties"] = {"x": {"type": "no-such-type"}}
    _write_raw(tmp_path / "schema", [*good_t[:2], json.dumps(bad_schema), *good_t[3:]], good_q)
    with pytest.raises(DataError, match=r"tools.jsonl:3 .*function\.parameters.*invalid JSON Schema"):
        run_dedup(DedupConfig(**MINHASH_ONLY), tmp_path / "schema")

    _write_raw(tmp_path / "json", good_t, [good_q[0], "{not json", *good_q[1:]])
    with pytest.raises(DataError, match=r"queries.jsonl:2 .*not valid JSON"):
        run_dedup(DedupConfig(**MINHASH_ONLY), tmp_path / "json")

    # drop mode: the same rows are left out, and counted
    _write_raw(tmp_path / "drop", [good_t[0], json.dumps(missing), json.dumps(bad_schema), *good_t[3:]],
               [good_q[0], "{not json", *good_q[1:]])
    m = run_dedup(DedupConfig(on_invalid="drop", **MINHASH_ONLY), tmp_path / "drop")
    invalid = [r for r in _jsonl(tmp_path / "drop" / "dedup" / "removed.jsonl") if r["filter"] == "invalid"]
    assert m.stats["removed"]["invalid"]["tools"] == 2
    assert sorted(r["line"] for r in invalid if r["table"] == "tools") == [2, 3]
    assert ("queries", 2) in {(r["table"], r["line"]) for r in invalid}
    # queries of a family that lost a tool (needed, or named in their calls) are invalid too: counted,
    # not silently lost
    lost = {json.loads(good_t[1])["family_id"], json.loads(good_t[2])["family_id"]}
    orphans = {q.query_id for q in queries if q.family_id in lost}
    assert orphans <= {r["id"] for r in invalid}
    assert m.stats["removed"]["invalid"]["queries"] == 1 + len(orphans)
    assert "| invalid |" in (tmp_path / "drop" / "dedup" / "report.md").read_text()


def test_cli_dedup_and_missing_upstream(tmp_path, records):
    from tooldojo.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["dedup", "--run-dir", str(tmp_path), "--no-semantic"])
    assert res.exit_code == 2 and "tooldojo synth" in res.output
    tools, queries = records
    write_synth(tmp_path, tools, queries)
    res = runner.invoke(app, ["dedup", "--run-dir", str(tmp_path), "--no-semantic", "--threshold", "0.9"])
    assert res.exit_code == 0, res.output
    cfg = (tmp_path / "dedup" / "config.yaml").read_text()
    assert "threshold: 0.9" in cfg and "enabled: false" in cfg
    out = tmp_path / "q.pkl"
    res = runner.invoke(app, ["dedup-index", str(tmp_path / "dedup" / "queries.jsonl"), "-o", str(out), "--column", "text"])
    assert res.exit_code == 0, res.output
    assert len(LSHIndex.load(out)) == len(_jsonl(tmp_path / "dedup" / "queries.jsonl"))


def test_cli_dedup_own_records_without_synth(tmp_path, records):
    from tooldojo.cli import app
    from tooldojo.runs import read_manifest, write_jsonl

    runner = CliRunner()
    tools, queries = records
    write_jsonl(tmp_path / "my_tools.jsonl", tools)
    write_jsonl(tmp_path / "my_queries.jsonl", queries)
    run = tmp_path / "run"
    spec = f"{tmp_path / 'my_tools.jsonl'},{tmp_path / 'my_queries.jsonl'}"
    # bad input: one line naming the option, and nothing written
    res = runner.invoke(app, ["dedup", "-r", str(run), "--no-semantic", "--input", str(tmp_path / "my_tools.jsonl")])
    assert res.exit_code == 2 and "--input" in res.output and not run.exists()
    res = runner.invoke(app, ["dedup", "-r", str(run), "--no-semantic", "--input", spec + "x"])
    assert res.exit_code == 2 and "file not found" in res.output and not run.exists()
    # the same validation as synth output: a broken row stops the stage before the run folder is touched
    lines = (tmp_path / "my_queries.jsonl").read_text().splitlines()
    (tmp_path / "bad_queries.jsonl").write_text("\n".join([lines[0], '{"query_id": "x"}', *lines[1:]]) + "\n")
    res = runner.invoke(app, ["dedup", "-r", str(run), "--no-semantic", "--input",
                              f"{tmp_path / 'my_tools.jsonl'},{tmp_path / 'bad_queries.jsonl'}"])
    assert res.exit_code == 2 and "bad_queries.jsonl:2" in res.output and not run.exists()
    res = runner.invoke(app, ["dedup", "-r", str(run), "--no-semantic", "--input", spec])
    assert res.exit_code == 0, res.output
    m = read_manifest(run / "dedup")
    assert m.status == "complete" and not (run / "synth").exists()
    assert len(_jsonl(run / "dedup" / "queries.jsonl")) + sum(
        r["table"] == "queries" for r in _jsonl(run / "dedup" / "removed.jsonl")) == len(queries)


def test_semantic_ann_finds_the_exact_pairs_and_unreadable_texts_are_not_compared(tmp_path):
    import numpy as np

    from tooldojo.dedup.config import SemanticConfig
    from tooldojo.dedup.filters import semantic_pairs
    from tooldojo.similarity.semantic import encode_config

    _, queries = catalog_records(max_families=40, per_pattern=2)
    cfg = SemanticConfig(link_threshold=0.8, threshold=0.9)
    emb = encode_config([q.text for q in queries], cfg)
    exact = [(p.a, p.b, p.similarity) for p in semantic_pairs(emb, cfg)]
    ann = [(p.a, p.b, p.similarity) for p in semantic_pairs(emb, cfg.model_copy(update={"exact_up_to": 0}))]
    assert len(exact) > 50
    assert len(set(ann) & set(exact)) >= 0.98 * len(exact) and set(ann) <= set(exact)
    assert ann == sorted(ann)  # distinct, in (i, j) order: the same on every run and executor

    # two unrelated Chinese queries (restaurant advice; an electricity-bill reminder): all-MiniLM-L6-v2 reads
    # most of their characters as [UNK], and their embeddings come out close
    zh = ["给我推荐几家附近评价好的餐馆", "提醒我周五交电费"]
    unguarded = cfg.model_copy(update={"max_unknown_share": 1.0, "threshold": 0.65, "link_threshold": 0.6})
    raw = encode_config(zh, unguarded)
    assert float(raw[0] @ raw[1]) > 0.65
    assert not np.any(encode_config(zh, cfg))  # guarded: zero vectors, similar to nothing
    assert np.all(encode_config(["Find bakeries in Lisbon"], cfg))  # readable text is embedded as before
    tools, queries = catalog_records(per_pattern=1, domains=["search"])
    base = next(q for q in queries if q.needs == "weak")
    extra = [base.model_copy(update={"query_id": f"zh{i}", "text": t}) for i, t in enumerate(zh)]
    for name, sem in (("off", unguarded), ("on", unguarded.model_copy(update={"max_unknown_share": 0.5}))):
        write_synth(tmp_path / name, tools, [*queries, *extra])
        run_dedup(DedupConfig(semantic=sem), tmp_path / name)
    kept = {name: {q["query_id"] for q in _jsonl(tmp_path / name / "dedup" / "queries.jsonl")} for name in ("off", "on")}
    assert "zh1" not in kept["off"]  # without the guard, one unrelated query removes the other
    assert {"zh0", "zh1"} <= kept["on"]
    assert read_manifest(tmp_path / "on" / "dedup").stats["not_embedded"]["queries"] == 2
    assert "not compared (mostly unknown tokens): 0 tools, 2 queries" in (tmp_path / "on" / "dedup" / "report.md").read_text()


def test_semantic_doctests():
    import doctest

    from tooldojo.similarity import semantic

    assert doctest.testmod(semantic).failed == 0


def test_ann_path_still_compares_each_family_pair_by_pair():
    """Above ``exact_up_to`` the index finds each row's ``neighbors`` nearest rows; a near-duplicate inside one
    family that is not among them (here: each row's one nearest row lies in another family) is still found."""
    from dedup_synthdata import family_twins

    from tooldojo.dedup.config import SemanticConfig
    from tooldojo.dedup.filters import semantic_pairs
    from tooldojo.similarity.semantic import group_pairs, similar_pairs

    emb, fams = family_twins()
    cfg = SemanticConfig(exact_up_to=2, neighbors=1, link_threshold=0.8, threshold=0.9)  # index above 2 rows
    inside = {(k, k + 200) for k in range(200) if float(emb[k] @ emb[k + 200]) >= 0.8}
    assert len(inside) > 150
    ann = {(p.a, p.b) for p in semantic_pairs(emb, cfg)}
    assert len(inside - ann) > 100  # the index alone misses most of them
    grouped = [(p.a, p.b, p.similarity) for p in semantic_pairs(emb, cfg, fams)]
    assert inside <= {(i, j) for i, j, _ in grouped} and ann <= {(i, j) for i, j, _ in grouped}
    assert grouped == sorted(set(grouped))  # distinct, in (i, j) order
    # the group pairs are exactly the all-pairs search's pairs that lie inside one family
    i, j, _ = group_pairs(emb, fams, 0.8)
    ei, ej, _ = similar_pairs(emb, 0.8)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [
        (x, y) for x, y in zip(ei.tolist(), ej.tolist(), strict=True) if fams[x] == fams[y]]
    assert not len(group_pairs(emb, fams, 0.8, up_to=1)[0])  # families above ``up_to`` rows are left to the index
    with pytest.raises(ValueError, match="one label per row"):
        group_pairs(emb, fams[:-1], 0.8)
    assert {(p.a, p.b) for p in semantic_pairs(emb, cfg.model_copy(update={"exact_up_to": 0}), fams)} == ann

    # the stage gives each query's family: the twin a family's query duplicates is removed
    from tooldojo.dedup.filters import FilterOps
    from tooldojo.dedup.inputs import Inputs
    from tooldojo.dedup.stage import dedup_records

    tools = [ToolRecord(tool_id=f"t_{f}", family_id=f, domain="d", role="weak",
                        function={"name": f"tool_{f}", "description": f"tool {f}",
                                  "parameters": {"type": "object", "properties": {}}}) for f in dict.fromkeys(fams)]
    queries = [QueryRecord(query_id=f"q{k:03d}", family_id=f, text=f"query {k}", needs="weak", calls={f"tool_{f}": {}})
               for k, f in enumerate(fams)]
    twins = {f"q{k + 200:03d}" for k in range(200) if float(emb[k] @ emb[k + 200]) >= 0.9}
    assert len(twins) > 20
    result = dedup_records(DedupConfig(minhash={"enabled": False}, semantic=cfg, apply_to=["queries"]),
                           Inputs(tools, queries), ops=FilterOps(encode=lambda texts, *_a, **_k: emb))
    removed = {r["id"]: r for r in result.removed}
    assert twins <= set(removed) and {removed[q]["representative"] for q in twins} <= {f"q{k:03d}" for k in range(200)}
