"""The scenario tables built by column (``build_dataset_dicts``) against the straightforward per-example rows."""

from __future__ import annotations

import json

import pytest

from tooldojo.prompting import openai_tools
from tooldojo.records import GENERATE_RESPONSE_TOOL, SCENARIOS, Example

MAP = {"name": "map_search", "description": "Find places near a point — café, bäckerei ☕",
       "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}
ROUTE = {"name": "route_plan", "description": "Plan a route between two places.",
         "parameters": {"type": "object", "properties": {"from": {"type": "string"}, "to": {"type": "string"},
                                                         "avoid": {"type": "array", "items": {"type": "string"}}},
                        "required": ["from", "to"]}}
# another schema under a taken name (as imported rows can have): must not be served MAP's JSON
MAP_AGAIN = {"name": "map_search", "description": "Another map search.", "parameters": {"type": "object"}}


def _example(n: int, scenario: str, tools: list[dict], **kw) -> Example:
    fields = dict(example_id=f"e{n}", query_id=f"q{n}", family_id="maps", domain="travel", scenario=scenario,
                  kind="weak_strong", style="question", query=f"Where is the nearest café? ({n})", tools=tools,
                  gold_tool="map_search", gold_arguments={"query": "café", "near": [n, 1.5]},
                  gold_ranking=["map_search", "route_plan", "generate_response"], weak_tool="route_plan",
                  strong_tool="map_search", capability_gap="places, not routes", needs="strong")
    return Example.model_construct(**{**fields, **kw})  # as build_examples makes them: tool schemas shared


def _examples() -> dict[str, list[Example]]:
    return {
        "train": [_example(0, "train", [MAP, ROUTE]), _example(1, "train", [ROUTE, MAP]),
                  _example(2, "train", [MAP], kind="one", weak_tool=None, strong_tool=None, capability_gap=None,
                           needs=None, gold_arguments={})],
        SCENARIOS[0]: [_example(3, SCENARIOS[0], [ROUTE, GENERATE_RESPONSE_TOOL, MAP]),
                       _example(4, SCENARIOS[0], [MAP_AGAIN, ROUTE], kind="zero", gold_tool="generate_response",
                                gold_arguments={}, gold_ranking=["generate_response"])],
        "validation": [_example(5, "validation", [MAP, ROUTE])],
        "empty_extra": [],
    }


def test_tools_json_is_json_dumps_of_openai_tools():
    from tooldojo.dataset_schema import ToolsJson

    render = ToolsJson()
    for tools in ([MAP, ROUTE], [ROUTE, MAP], [MAP_AGAIN], [MAP, GENERATE_RESPONSE_TOOL], [], [MAP, ROUTE]):
        assert render(tools) == json.dumps(openai_tools(tools), ensure_ascii=False)


@pytest.mark.parametrize(("call_format", "on_disk"), [("json", False), ("python", False), ("json", True)])
def test_built_tables_equal_the_per_example_rows(call_format, on_disk, tmp_path):
    """In memory, and on disk in chunks of 2 examples (memory-mapped): the same tables, byte-identical Parquet."""
    from datasets import Dataset

    from tooldojo.dataset_io import build_dataset_dicts, load_dataset_dir, save_dataset_dicts

    def load_dataset_dir_all(folder):
        return {config: load_dataset_dir(folder, config) for config in ("rank", "select", "eval")}
    from tooldojo.dataset_schema import example_to_row, features

    examples = _examples()
    cache = tmp_path / "tables" if on_disk else None
    dicts = build_dataset_dicts(examples, call_format, cache_dir=cache, chunk_examples=2)
    if on_disk:
        assert all(ds.cache_files for dsd in dicts.values() for ds in dsd.values())  # memory-mapped, not in memory
        assert max(len(ds.data.table.column(0).chunks) for ds in dicts["rank"].values()) > 1
    assert list(dicts["eval"]) == [*SCENARIOS, "validation"]  # every scenario, then non-empty extra splits
    expected = {}
    for config, dsd in dicts.items():
        feats = features(config)
        for split, ds in dsd.items():
            rows = [example_to_row(e, config, call_format) for e in examples.get(split, [])]
            plain = Dataset.from_dict({k: [r[k] for r in rows] for k in feats}, features=feats)
            assert ds.features == feats
            assert ds.data.table.equals(plain.data.table), (config, split)
            assert ds.data.table.schema.metadata == plain.data.table.schema.metadata
            assert ds.to_list() == [{k: r[k] for k in feats} for r in rows]
            expected[f"{config}/{split}.parquet"] = plain
    files = save_dataset_dicts(dicts, tmp_path / "fast")
    for config, dsd in load_dataset_dir_all(tmp_path / "fast").items():  # read back, empty splits too
        assert {s: d.to_list() for s, d in dsd.items()} == {s: d.to_list() for s, d in dicts[config].items()}
    assert sorted(p for splits in files.values() for p in splits.values()) == sorted(expected)
    for rel, plain in expected.items():
        plain.to_parquet(str(tmp_path / "plain.parquet"))
        assert (tmp_path / "fast" / rel).read_bytes() == (tmp_path / "plain.parquet").read_bytes(), rel
