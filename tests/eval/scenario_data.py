"""A small scenario dataset built from hand-written records, for the eval tests (imported by conftest)."""

from __future__ import annotations

from pathlib import Path

from tooldojo.records import Example, QueryRecord, gold_for, stable_id

FUNCS = {
    "web_search": {"name": "web_search", "description": "Search the web; returns titles, URLs and snippets.",
                   "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}},
    "map_search": {"name": "map_search", "description": "Search a map for places near a location, with cuisine and ratings.",
                   "parameters": {"type": "object", "properties": {"query": {"type": "string"},
                                                                   "location": {"type": "string"},
                                                                   "min_rating": {"type": "number"}},
                                  "required": ["query", "location"]}},
    "current_weather": {"name": "current_weather", "description": "The weather right now in a city.",
                        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    "weather_forecast": {"name": "weather_forecast", "description": "Hourly weather forecast for up to 10 days.",
                         "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                                         "days": {"type": "integer"}},
                                        "required": ["city"]}},
    "send_email": {"name": "send_email", "description": "Send an email.",
                   "parameters": {"type": "object", "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
                                  "required": ["to", "body"]}},
    "play_song": {"name": "play_song", "description": "Play a song by title.",
                  "parameters": {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}},
}
FAMILIES = {
    "place": {"weak": "web_search", "strong": "map_search", "domain": "search",
              "gap": "returns cuisine and ratings, filters by rating"},
    "weather": {"weak": "current_weather", "strong": "weather_forecast", "domain": "weather",
                "gap": "forecasts up to 10 days ahead"},
}
QUERIES = [
    # family, text, style, needs, calls
    ("place", "Find bakeries in Lisbon.", "imperative", "weak",
     {"web_search": {"query": "bakeries in Lisbon"}, "map_search": {"query": "bakeries", "location": "Lisbon"}}),
    ("place", "Best rated Thai places in Paris?", "question", "strong",
     {"web_search": {"query": "best Thai restaurants Paris"},
      "map_search": {"query": "Thai restaurants", "location": "Paris", "min_rating": 4.5}}),
    ("weather", "What's the weather in Oslo right now?", "question", "weak",
     {"current_weather": {"city": "Oslo"}, "weather_forecast": {"city": "Oslo", "days": 1}}),
    ("weather", "gonna rain in Tokyo this weekend?", "casual", "strong",
     {"current_weather": {"city": "Tokyo"}, "weather_forecast": {"city": "Tokyo", "days": 3}}),
]
SCENARIO_QUERIES = {  # scenario -> (query indexes, kinds)
    "seen_tool_unseen_query": ([0, 1], ["zero", "one"]),
    "unseen_tool_seen_query": ([2], ["zero", "one"]),
    "unseen_tool_unseen_query": ([3], ["zero", "one", "weak_only"]),
    "weak_to_strong": ([1, 3], ["weak_strong"]),
}


def make_examples() -> list[Example]:
    """Every scenario's examples: Zero-to-One pairs, a weak_only and weak_strong cases, one distractor each."""
    examples = []
    for scenario, (idxs, kinds) in SCENARIO_QUERIES.items():
        for i in idxs:
            fam, text, style, needs, calls = QUERIES[i]
            f = FAMILIES[fam]
            q = QueryRecord(query_id=f"q{i}", family_id=fam, text=text, style=style, needs=needs, calls=calls)
            distractor = "send_email" if fam == "place" else "play_song"
            for kind in kinds:
                family_tools = {"zero": [], "one": [f[needs]], "weak_only": [f["weak"]],
                                "weak_strong": [f["weak"], f["strong"]]}[kind]
                if kind == "one" and needs == "strong":
                    family_tools = [f["strong"]]
                names = [distractor, *family_tools]
                gold = gold_for(q, {"weak": f["weak"], "strong": f["strong"]}, names)
                examples.append(Example(
                    example_id=stable_id(scenario, q.query_id, kind, prefix="ex"), query_id=q.query_id,
                    family_id=fam, domain=f["domain"], scenario=scenario, kind=kind, style=style, query=text,
                    tools=[FUNCS[n] for n in names], gold_tool=gold.tool, gold_arguments=gold.arguments,
                    gold_ranking=gold.ranking, weak_tool=f["weak"], strong_tool=f["strong"],
                    capability_gap=f["gap"]))
    return examples


def write_dataset(run_dir: Path, examples: list[Example]) -> Path:
    """Write the ``eval`` config as ``split/dataset/eval/<scenario>.parquet`` and a complete split manifest."""
    from datasets import Dataset

    from tooldojo import dataset_schema as schema
    from tooldojo.runs import StageRun

    split = run_dir / "split"
    with StageRun(split, "split", {"fixture": True}) as st:
        for scenario in SCENARIO_QUERIES:
            rows = [schema.example_to_row(e, "eval") for e in examples if e.scenario == scenario]
            Dataset.from_list(rows, features=schema.features("eval")).to_parquet(
                str(split / "dataset" / "eval" / f"{scenario}.parquet"))
        st.record_output("dataset", len(examples), "dataset")
    return split / "dataset"


def oracle_output(example_row: dict, task: str, call_format: str = "json") -> str:
    """The gold completion for a dataset row (what a perfect model writes)."""
    from tooldojo.dataset_schema import row_to_example
    from tooldojo.prompting import build_completion

    return build_completion(row_to_example(example_row), task, call_format)
