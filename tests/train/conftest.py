"""Fixtures of the train tests: a small hand-written scenario dataset in a run folder (the split stage's
layout), and the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tooldojo.records import GENERATE_RESPONSE, Example

WEB_SEARCH = {
    "name": "web_search",
    "description": "Search the web; returns result titles and snippets.",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string", "description": "The search query."},
        "num_results": {"type": "integer", "minimum": 1, "maximum": 20}}, "required": ["query"]},
}
MAP_SEARCH = {
    "name": "map_search",
    "description": "Search a map for places near a location; returns names, cuisines and ratings.",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string"}, "location": {"type": "string"},
        "open_now": {"type": "boolean"}}, "required": ["query", "location"]},
}
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]},
}

QUERIES = [
    ("q1", "Find restaurants in Lyon and their cuisines", {"web_search": {"query": "restaurants in Lyon"},
                                                          "map_search": {"query": "restaurants", "location": "Lyon"}}),
    ("q2", "Which cafes are open now in Osaka?", {"web_search": {"query": "cafes open now Osaka"},
                                                  "map_search": {"query": "cafes", "location": "Osaka",
                                                                 "open_now": True}}),
]


def make_examples() -> list[Example]:
    """Every example kind for two place-search queries, with the weather tool as a distractor."""
    out = []
    for qid, text, calls in QUERIES:
        sets = {
            "zero": [WEATHER],
            "one": [WEATHER, MAP_SEARCH],
            "weak_only": [WEB_SEARCH, WEATHER],
            "weak_strong": [WEB_SEARCH, WEATHER, MAP_SEARCH],
        }
        for kind, tools in sets.items():
            names = [t["name"] for t in tools]
            if "map_search" in names:
                gold, ranking = "map_search", ["map_search", *(["web_search"] if "web_search" in names else [])]
            elif "web_search" in names:
                gold, ranking = "web_search", ["web_search"]
            else:
                gold, ranking = GENERATE_RESPONSE, []
            out.append(Example(
                example_id=f"{qid}-{kind}", query_id=qid, family_id="place_search", domain="search",
                scenario="train", kind=kind, style="imperative", query=text, tools=tools, gold_tool=gold,
                gold_arguments=calls.get(gold, {}), gold_ranking=[*ranking, GENERATE_RESPONSE],
                weak_tool="web_search", strong_tool="map_search", capability_gap="returns cuisines"))
    return out


def write_split(run_dir: Path, examples: list[Example] | None = None, call_format: str = "json") -> Path:
    """A completed ``split`` stage in ``run_dir`` whose dataset has ``rank`` and ``select`` configs."""
    from datasets import Dataset

    from tooldojo import dataset_schema as schema
    from tooldojo.runs import StageRun

    examples = examples or make_examples()
    split_dir = Path(run_dir) / "split"
    with StageRun(split_dir, "split", {"test": True}) as st:
        for config in ("rank", "select"):
            rows = [schema.example_to_row(e, config, call_format) for e in examples]
            ds = Dataset.from_list(rows, features=schema.features(config))
            path = split_dir / "dataset" / config / "train.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            ds.to_parquet(str(path))
        st.record_output("dataset", len(examples), "dataset")
    return split_dir / "dataset"


@pytest.fixture
def split_run(tmp_path) -> Path:
    """A run folder with a completed split stage (8 examples, rank + select)."""
    write_split(tmp_path)
    return tmp_path


def tools_json(*fns) -> str:
    return json.dumps([{"type": "function", "function": f} for f in fns])
