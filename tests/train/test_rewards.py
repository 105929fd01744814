"""Tool-Zero's rewards and schedule on hand-written completions."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from tooldojo.records import GENERATE_RESPONSE
from tooldojo.train import rewards as R

from .conftest import MAP_SEARCH, WEATHER, WEB_SEARCH, tools_json

GOLD_ARGS = {"query": "restaurants", "location": "Lyon"}
GOLD = R.gold_calls("map_search", json.dumps(GOLD_ARGS))
TOOLS = json.loads(tools_json(WEB_SEARCH, MAP_SEARCH, WEATHER))


def tc(name: str, args: dict, think: str = "map_search serves it.") -> str:
    return f"<think>{think}</think>\n<tool_call>\n{json.dumps({'name': name, 'arguments': args})}\n</tool_call>"


RIGHT = tc("map_search", GOLD_ARGS)
WRONG_VALUE = tc("map_search", {"query": "restaurants", "location": "Paris"})
MISSING_KEY = tc("map_search", {"query": "restaurants"})
WRONG_TOOL = tc("web_search", {"query": "restaurants in Lyon"})
MALFORMED = '<think>ok</think>\n<tool_call>\n{"name": "map_search", "arguments": {"query": "restaurants",}\n</tool_call>'
EXTRA_TEXT = RIGHT + "\nHope this helps!"
NO_THINK = '<tool_call>\n{"name": "map_search", "arguments": {"query": "restaurants", "location": "Lyon"}}\n</tool_call>'
DIRECT = tc(GENERATE_RESPONSE, {"response": "I cannot look that up."}, think="No tool fits.")


@pytest.mark.parametrize(("completion", "expected"), [
    (RIGHT, 1.0), (WRONG_VALUE, 1.0), (MALFORMED, 0.0), (EXTRA_TEXT, 0.0), (NO_THINK, 0.0), (DIRECT, 1.0),
    ("I would use map_search.", 0.0), ("<think>a</think><think>b</think>" + RIGHT.split("</think>")[1], 0.0),
])
def test_format_reward_json(completion, expected):
    assert R.format_reward(completion, "json") == expected


def test_format_reward_follows_the_runs_call_format():
    python = '<think>map_search serves it.</think>\n<answer>map_search(query="restaurants", location="Lyon")</answer>'
    assert R.format_reward(python, "python") == 1.0
    assert R.format_reward(python, "json") == 0.0  # the run asked for <tool_call> JSON
    assert R.format_reward(RIGHT, "python") == 0.0
    assert R.format_reward('<think>x</think><answer>map_search(query=</answer>', "python") == 0.0


@pytest.mark.parametrize(("completion", "expected"), [
    (RIGHT, 1.0), (EXTRA_TEXT, 1.0), (NO_THINK, 1.0),  # strict judges the call; format is the other term
    (WRONG_VALUE, 0.0), (MISSING_KEY, 0.0), (WRONG_TOOL, 0.0), (MALFORMED, 0.0), (DIRECT, 0.0),
    (tc("map_search", {"query": "  Restaurants ", "location": "lyon"}), 1.0),  # normalized values
])
def test_strict_reward(completion, expected):
    assert R.strict_reward(completion, GOLD, TOOLS) == pytest.approx(expected)


def test_strict_reward_penalises_invalid_values_and_keys():
    bad_type = tc("web_search", {"query": "cafes", "num_results": "ten"})
    assert R.strict_reward(bad_type, R.gold_calls("web_search", {"query": "cafes"}), TOOLS) == pytest.approx(-0.3)
    unknown_key = tc("map_search", {"query": "restaurants", "location": "Lyon", "stars": 5})
    assert R.strict_reward(unknown_key, GOLD, TOOLS) == pytest.approx(-0.3)
    bad_enum = tc("get_weather", {"city": "Oslo", "unit": "kelvin"})
    assert R.strict_reward(bad_enum, R.gold_calls("get_weather", {"city": "Oslo", "unit": "celsius"}),
                           TOOLS) == pytest.approx(-0.3)
    two_bad = tc("web_search", {"query": 3, "num_results": 99})
    assert R.strict_reward(two_bad, R.gold_calls("web_search", {"query": "x"}), TOOLS) == pytest.approx(-0.6)


def test_generate_response_when_it_should_and_should_not():
    gold_direct = R.gold_calls(GENERATE_RESPONSE, "{}")
    assert R.strict_reward(DIRECT, gold_direct, TOOLS) == 1.0  # the reply text is free
    assert R.strict_reward(RIGHT, gold_direct, TOOLS) == 0.0  # called a tool although none fits
    assert R.strict_reward(DIRECT, GOLD, TOOLS) == 0.0  # answered directly although map_search fits
    assert R.general_reward(DIRECT, gold_direct) == pytest.approx(0.5)
    prose = "<think>No tool fits.</think>\n<answer>I cannot do that.</answer>"  # python format: prose = direct reply
    assert R.strict_reward(prose, gold_direct) == 1.0
    assert R.general_reward(prose, gold_direct) == pytest.approx(0.5)


def test_parallel_calls_order_insensitive_with_bonus():
    gold = R.gold_calls([{"name": "get_weather", "arguments": {"city": "Oslo"}},
                         {"name": "get_weather", "arguments": {"city": "Rome"}}])
    text = ('<think>two cities</think>\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n'
            '</tool_call>\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>')
    assert R.strict_reward(text, gold, TOOLS) == pytest.approx(1.3)
    one = tc("get_weather", {"city": "Rome"})
    assert R.strict_reward(one, gold, TOOLS) == 0.0
    py = '<think>two</think>\n<answer>[get_weather(city="Oslo"), get_weather(city="Rome")]</answer>'
    assert R.strict_reward(py, gold, TOOLS) == pytest.approx(1.3)


def test_general_reward_pays_for_getting_closer():
    assert R.general_reward(RIGHT, GOLD) == pytest.approx(0.5)
    assert R.general_reward("<think>hmm</think>", GOLD) == pytest.approx(-0.5)
    # Y* = map_search, query, restaurants, location, lyon -> 4 of 5 present
    assert R.general_reward(WRONG_VALUE, GOLD) == pytest.approx(-0.5 + 4 / 5)
    assert R.general_reward(MISSING_KEY, GOLD) == pytest.approx(-0.5 + 3 / 5)
    # a base model's unformatted attempt still earns a signal; it only reads the answer, not the reasoning
    assert R.general_reward("map_search for restaurants in Lyon", GOLD) == pytest.approx(-0.5 + 3 / 5)
    assert R.general_reward("<think>map_search location lyon</think> sure", GOLD) == pytest.approx(-0.5)
    python = '<think>x</think>\n<answer>map_search(query="restaurants", location="Lyon")</answer>'
    assert R.general_reward(python, GOLD) == pytest.approx(0.5)  # same tokens, either call format


def test_sigma_schedule_values():
    assert R.sigma(25, 0.1, 25) == pytest.approx(0.5)
    assert R.sigma(0, 0.1, 25) == pytest.approx(1 / (1 + math.exp(2.5)))
    assert R.sigma(50, 0.1, 25) == pytest.approx(1 / (1 + math.exp(-2.5)))
    assert R.sigma(50, 0.1, 0.5, max_steps=100) == pytest.approx(0.5)  # midpoint as a fraction of max_steps
    assert R.sigma(0, 1.0, 0.5, max_steps=100) < 1e-20
    assert R.sigma(10**6, 0.1, 25) == pytest.approx(1.0)
    assert R.sigma(-10**5, 0.1, 25) == 0.0  # no overflow
    values = [R.sigma(t, 0.1, 25) for t in range(0, 60, 5)]
    assert values == sorted(values) and values[0] < 0.1 < 0.9 < values[-1]
    with pytest.raises(ValueError):
        R.sigma(3, 0.1, 0.5)


def test_score_combines_terms_with_the_schedule():
    b = R.score(WRONG_VALUE, "map_search", json.dumps(GOLD_ARGS), tools=tools_json(MAP_SEARCH), step=0)
    s = R.sigma(0)
    assert (b.format, b.strict, b.sigma) == (1.0, 0.0, pytest.approx(s))
    assert b.tool == pytest.approx(s * 0.0 + (1 - s) * (-0.5 + 4 / 5))
    assert b.total == pytest.approx(1.0 + b.tool)
    late = R.score(RIGHT, "map_search", GOLD_ARGS, step=200)
    assert late.total == pytest.approx(1.0 + late.sigma * 1.0 + (1 - late.sigma) * 0.5)


def test_trl_reward_functions_read_dataset_columns_and_step():
    rw = R.ToolZeroRewards(call_format="json", kappa=0.1, midpoint=0.5, max_steps=10, log_samples=1)
    completions = [RIGHT, MALFORMED, DIRECT, WRONG_VALUE]
    kwargs = {"gold_tool": ["map_search"] * 3 + [GENERATE_RESPONSE],
              "gold_arguments": [json.dumps(GOLD_ARGS)] * 3 + ["{}"],
              "tools": [tools_json(MAP_SEARCH, WEATHER)] * 4, "kind": ["one"] * 4,
              "trainer_state": SimpleNamespace(global_step=5)}
    prompts = ["p0", "p1", "p2", "p3"]
    fmt = rw.format_fn(completions=completions, prompts=prompts, completion_ids=None, **kwargs)
    tool = rw.tool_fn(completions=completions, prompts=prompts, completion_ids=None, **kwargs)
    assert fmt == [1.0, 0.0, 1.0, 1.0]
    s = R.sigma(5, 0.1, 0.5, 10)
    assert s == pytest.approx(0.5)
    assert tool[0] == pytest.approx(s * 1 + (1 - s) * 0.5)
    assert tool[3] == pytest.approx(s * 0 + (1 - s) * -0.5)  # answered map_search although gold is direct
    stats = rw.pop_stats()
    assert stats["sigma"] == pytest.approx(0.5) and stats["weight_general"] == pytest.approx(0.5)
    assert stats["reward"] == pytest.approx((sum(fmt) + sum(tool)) / 4)
    assert rw.pop_stats() is None
    samples = rw.pop_samples()
    assert len(samples) == 1 and samples[0]["completion"] == RIGHT and samples[0]["prompt"] == "p0"
    # conversational completions (lists of messages) are read too
    assert rw.format_fn(completions=[[{"role": "assistant", "content": RIGHT}]], gold_tool=["map_search"],
                        gold_arguments=[json.dumps(GOLD_ARGS)], tools=[None]) == [1.0]
    # without trainer_state the clock set by the training callback is used
    rw.step = 10
    assert rw.tool_fn(completions=[RIGHT], gold_tool=["map_search"], gold_arguments=[GOLD_ARGS], tools=[None])[0] == \
        pytest.approx(R.sigma(10, 0.1, 0.5, 10) * 1 + (1 - R.sigma(10, 0.1, 0.5, 10)) * 0.5)


def test_reward_doctests():
    import doctest
    assert doctest.testmod(R).failed == 0


BEFORE = json.loads((Path(__file__).parent / "data" / "rewards_before_16.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", BEFORE["cases"], ids=lambda c: f"{c['call_format']}-k{c['kappa']}-t{c['step']}")
@pytest.mark.parametrize("tool_first", [False, True])
def test_same_values_as_before_the_plain_functions(case, tool_first):
    """The plain functions give the values, statistics and samples the old closures with their shared cache gave
    (recorded in data/rewards_before_16.json), in either call order."""
    from trl.trainer.utils import get_callable_name  # how TRL names (and logs) a reward function

    rw = R.ToolZeroRewards(call_format=case["call_format"], kappa=case["kappa"], midpoint=case["midpoint"],
                           max_steps=case["max_steps"], log_samples=2)
    kwargs = {k: BEFORE[k] for k in ("completions", "prompts", "gold_tool", "gold_arguments", "tools")}
    kwargs["trainer_state"] = SimpleNamespace(global_step=case["step"])
    calls = [rw.tool_fn, rw.format_fn] if tool_first else [rw.format_fn, rw.tool_fn]
    got = {get_callable_name(f): f(completion_ids=None, **kwargs) for f in calls}
    assert got == {"reward_format": case["reward_format"], "reward_tool": case["reward_tool"]}
    assert R.reward_tool(**kwargs, kappa=case["kappa"], midpoint=case["midpoint"], max_steps=case["max_steps"]) \
        == case["reward_tool"]
    assert rw.pop_stats() == case["stats"]
    assert rw.pop_samples() == case["samples"]
