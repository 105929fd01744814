"""Dedup on Ray gives the single-machine results (pairs, signatures, kept rows, clusters)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.dedup.dedup_synthdata import catalog_records, family_twins, planted_family, write_synth
from tooldojo.dedup.config import DedupConfig, MinHashConfig, SemanticConfig
from tooldojo.dedup.filters import minhash_pairs, semantic_pairs
from tooldojo.executors import ExecutionConfig
from tooldojo.executors.ray import RayExecutor
from tooldojo.runs import config_hash
from tooldojo.similarity.semantic import encode_config

pytest.importorskip("ray", reason="ray is an optional extra: pip install 'tooldojo[ray]'")


def _texts(n_base: int = 1800, seed: int = 0) -> list[str]:
    """Random texts with planted near-duplicates (one word changed) and a large bucket of identical texts."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(400)]
    out = []
    for _ in range(n_base):
        t = [rng.choice(words) for _ in range(12)]
        out.append(" ".join(t))
        if rng.random() < 0.4:
            t[rng.randrange(len(t))] = rng.choice(words)
            out.append(" ".join(t))
    return out + ["the very same text"] * 40  # a bucket above the all-pairs limit


def test_minhash_pairs_equal(ray_local):
    from tooldojo.dedup.parallel import minhash_pairs_on

    texts = _texts()
    assert len(texts) > 2000  # the LSH path, not the exhaustive one
    cfg = MinHashConfig()
    local_pairs, local_sigs = minhash_pairs(texts, cfg)
    with RayExecutor() as executor:
        ray_pairs, ray_sigs = minhash_pairs_on(executor, texts, cfg)
    assert np.array_equal(local_sigs, ray_sigs)
    assert len(local_pairs) > 600
    assert [(p.a, p.b, p.similarity) for p in ray_pairs] == [(p.a, p.b, p.similarity) for p in local_pairs]


def test_text_dedup_equal(ray_local):
    from tooldojo.dedup.ray_text import local_text_dedup, ray_text_dedup

    texts = _texts(seed=1)
    cfg = MinHashConfig(threshold=0.8, link_threshold=0.5)
    local, on_ray = local_text_dedup(texts, cfg), ray_text_dedup(texts, cfg)
    assert 0 < len(local["removed"]) < len(texts) // 2
    assert np.array_equal(local["kept"], on_ray["kept"]) and local["removed"] == on_ray["removed"]
    # the same from a Ray dataset with its own text column (as read from Parquet files)
    ds = ray_local.data.from_items([{"row": k, "query": t} for k, t in enumerate(texts)], override_num_blocks=3)
    from_ds = ray_text_dedup(ds, cfg, text_column="query")
    assert np.array_equal(local["kept"], from_ds["kept"]) and local["removed"] == from_ds["removed"]


def test_embedding_filter_equal(ray_local):
    from tooldojo.dedup.parallel import encode_on, semantic_pairs_on

    _, queries = catalog_records(max_families=40, per_pattern=1)
    texts = [q.text for q in queries][:400]
    cfg = SemanticConfig(block_size=128, batch_size=64, link_threshold=0.8, threshold=0.9)
    local_emb = encode_config(texts, cfg)
    with RayExecutor() as executor:
        ray_emb = encode_on(executor, texts, cfg)
        ray_p = [(p.a, p.b) for p in semantic_pairs_on(executor, local_emb, cfg)]
    assert ray_emb.shape == local_emb.shape
    np.testing.assert_allclose(ray_emb, local_emb, atol=1e-5)
    local_p = [(p.a, p.b) for p in semantic_pairs(local_emb, cfg)]
    assert local_p and ray_p == local_p
    assert [(p.a, p.b) for p in semantic_pairs(ray_emb, cfg)] == local_p


def cli_app():
    """The `tooldojo` app with every stage's commands (registered once)."""
    from tooldojo.cli import app

    return app


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_dedup_stage_cli_equal(ray_local, tmp_path):
    """`tooldojo dedup --executor ray` keeps the same rows and clusters as the local executor (MinHash)."""
    tools, queries = catalog_records(per_pattern=2)
    fid = tools[0].family_id
    pt, pq = planted_family(tools, queries, fid, new_id="planted", rename=True)
    tools, queries = tools + pt, queries + pq
    assert len(queries) > 2000
    app = cli_app()
    runner = CliRunner()
    for name, extra in (("local", []), ("ray", ["--executor", "ray"])):
        write_synth(tmp_path / name, tools, queries)
        res = runner.invoke(app, ["dedup", "-r", str(tmp_path / name), "--no-semantic", *extra])
        assert res.exit_code == 0, res.output
    local, ray = tmp_path / "local" / "dedup", tmp_path / "ray" / "dedup"
    for f in ("tools.jsonl", "queries.jsonl", "clusters.jsonl", "removed.jsonl"):
        assert _read(ray / f) == _read(local / f), f
    removed = _read(local / "removed.jsonl")
    assert any(r["filter"] == "minhash" and r["table"] == "queries" for r in removed)
    assert json.loads((ray / "manifest.json").read_text())["stats"]["executor"] == "ray"
    # the executor is not part of the config hash: the local run is up to date for a ray rerun and back
    assert json.loads((ray / "manifest.json").read_text())["config_hash"] == \
        json.loads((local / "manifest.json").read_text())["config_hash"] == config_hash(DedupConfig(semantic={"enabled": False}))


def test_ann_semantic_pairs_equal(ray_local):
    from tooldojo.dedup.parallel import semantic_pairs_on

    rng = np.random.default_rng(0)
    emb = rng.standard_normal((600, 32)).astype(np.float32)
    emb[300:] = emb[:300] + 0.2 * rng.standard_normal((300, 32)).astype(np.float32)  # planted near-copies
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    cfg = SemanticConfig(exact_up_to=100, block_size=128, link_threshold=0.8, threshold=0.9)
    local = [(p.a, p.b, p.similarity) for p in semantic_pairs(emb, cfg)]
    assert len(local) >= 250
    # pairs inside families the index misses (1 neighbour), found by the family pass on both paths
    twins, fams = family_twins()
    one = cfg.model_copy(update={"exact_up_to": 2, "neighbors": 1})
    index_only = [(p.a, p.b, p.similarity) for p in semantic_pairs(twins, one)]
    grouped = [(p.a, p.b, p.similarity) for p in semantic_pairs(twins, one, fams)]
    assert len(set(grouped) - set(index_only)) > 100
    with RayExecutor(ExecutionConfig(executor="ray", ray_workers=2)) as executor:
        assert [(p.a, p.b, p.similarity) for p in semantic_pairs_on(executor, emb, cfg)] == local
        assert [(p.a, p.b, p.similarity) for p in semantic_pairs_on(executor, twins, one, fams)] == grouped
