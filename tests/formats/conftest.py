"""Fixtures for the formats tests: the hand-written source files and a small tooldojo dataset folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import stage_cli
from tooldojo.records import GENERATE_RESPONSE, Example, stable_id

DATA = Path(__file__).parent / "data"


def _catalog_tools() -> dict[str, dict]:
    from tooldojo.synth.catalog import load_catalog

    tools = {}
    for fam in load_catalog()["search"].families:
        tools[fam.weak["name"]] = fam.weak
        tools[fam.strong["name"]] = fam.strong
    return tools


def make_examples() -> list[Example]:
    """Four examples over the seed catalog's search tools, one of each kind."""
    t = _catalog_tools()
    web, maps, wiki = t["web_search"], t["map_search"], t["get_wikipedia_summary"]
    kg = t["query_knowledge_graph"]
    rows = [
        ("one", "Find Thai restaurants in Lisbon.", [maps, wiki], "map_search",
         {"query": "Thai restaurants", "location": "Lisbon"}, ["map_search", GENERATE_RESPONSE]),
        ("zero", "Find bakeries in Paris.", [wiki, kg], GENERATE_RESPONSE, {}, [GENERATE_RESPONSE]),
        ("weak_strong", "List the best restaurants in Tokyo and their cuisines.", [web, maps, kg], "map_search",
         {"query": "restaurants", "location": "Tokyo", "min_rating": 4.5},
         ["map_search", "web_search", GENERATE_RESPONSE]),
        ("weak_only", "Which Korean places in Melbourne are open right now?", [web, wiki], "web_search",
         {"query": "Korean restaurants open now Melbourne"}, ["web_search", GENERATE_RESPONSE]),
    ]
    out = []
    for kind, query, tools, gold, args, ranking in rows:
        qid = stable_id(query, prefix="q-")
        out.append(Example(
            example_id=stable_id(qid, kind, prefix="ex-"), query_id=qid, family_id="place_search", domain="search",
            scenario="train", kind=kind, style="imperative", query=query, tools=tools, gold_tool=gold,
            gold_arguments=args, gold_ranking=ranking, weak_tool="web_search", strong_tool="map_search",
            capability_gap="returns cuisines and ratings"))
    return out


def write_dataset(root: Path, examples: list[Example]) -> Path:
    """A tooldojo dataset folder as ``split`` writes it (rows from ``schema.example_to_row``)."""
    from tooldojo.dataset_schema import example_to_row, features
    from tooldojo.formats.files import write_rows

    ds = root / "split" / "dataset"
    for config in ("rank", "select"):
        write_rows([example_to_row(e, config) for e in examples], ds / config / "train.parquet", features(config))
    evals = {"seen_tool_unseen_query": examples[:2], "weak_to_strong": examples[2:3]}
    for scenario, exs in evals.items():
        rows = [example_to_row(e.model_copy(update={"scenario": scenario}), "eval") for e in exs]
        write_rows(rows, ds / "eval" / f"{scenario}.parquet", features("eval"))
    (ds / "README.md").write_text("---\nconfigs: []\n---\n")
    return root


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def examples() -> list[Example]:
    return make_examples()


@pytest.fixture
def run_dir(tmp_path, examples) -> Path:
    """A run folder holding only ``split/dataset/``."""
    return write_dataset(tmp_path / "run", examples)


@pytest.fixture
def cli():
    """A Typer app with only this area's commands, and a runner that invokes it."""
    from tooldojo.cli.formats import register

    return stage_cli(register)


@pytest.fixture
def load_hf(tmp_path):
    """``datasets.load_dataset`` with a cache of this test's own: offline, datasets reuses the cache of an
    earlier folder with the same name and config, whatever its files hold."""

    def load(path, config, split=None):
        from datasets import load_dataset

        return load_dataset(str(path), config, split=split, cache_dir=str(tmp_path / "hf-cache"))

    return load
