"""The SFT targets: rule-built rationales agree with what each offered tool can do for the query (its
``needs``), and ``zero`` targets carry the query's direct answer."""

from __future__ import annotations

import json

import pytest

from tooldojo.prompting import build_completion, closest_tool, rationale
from tooldojo.records import GENERATE_RESPONSE, Example, QueryRecord, ToolRecord, gold_for
from tooldojo.split.examples import KINDS, _offered

GAP = "forecasts up to 14 days ahead"
WEAK = ToolRecord(tool_id="t-w", family_id="f", domain="weather", role="weak",
                  function={"name": "get_weather", "description": "Current weather.", "parameters": {}})
STRONG = ToolRecord(tool_id="t-s", family_id="f", domain="weather", role="strong", capability_gap=GAP,
                    function={"name": "get_forecast", "description": "Weather forecast.", "parameters": {}})
FAMILY = {"weak": WEAK, "strong": STRONG}
DISTRACTOR = {"name": "send_email", "description": "Send an email.", "parameters": {}}
ANSWER = "I can't do that without a tool that can get the current weather at a location."

# (kind, needs, weak tool callable for the query) -> (select rationale, rank rationale), rationale "verdict_first" (default)
DIRECT = "None of the available tools can serve this request, so I will answer directly."
VERDICT_FIRST = {
    ("zero", "weak", True): (DIRECT, DIRECT),
    ("zero", "strong", True): (DIRECT, DIRECT),
    ("zero", "strong", False): (DIRECT, DIRECT),
    ("one", "weak", True): ("get_weather serves the whole request.",) * 2,
    ("one", "strong", True): (f"get_forecast serves the whole request ({GAP}).",) * 2,
    ("one", "strong", False): (f"get_forecast serves the whole request ({GAP}).",) * 2,
    ("weak_only", "strong", True): (
        "No available tool serves the whole request; get_weather is the closest and serves it in part.",) * 2,
    ("weak_only", "strong", False): (DIRECT, DIRECT),
    ("weak_strong", "weak", True): (
        f"Both get_weather and get_forecast serve the whole request; get_forecast is the stronger tool ({GAP}), "
        "so I will call get_forecast.",
        f"Both get_weather and get_forecast serve the whole request; get_forecast is the stronger tool ({GAP}), "
        "so get_forecast ranks first and get_weather next."),
    ("weak_strong", "strong", True): (
        f"get_forecast serves the whole request ({GAP}); get_weather serves it only in part, so I will call "
        "get_forecast.",
        f"get_forecast serves the whole request ({GAP}); get_weather serves it only in part, so get_forecast "
        "ranks first and get_weather next."),
    ("weak_strong", "strong", False): (
        f"get_forecast serves the whole request ({GAP}); get_weather cannot serve it, so I will call get_forecast.",
        f"get_forecast serves the whole request ({GAP}); get_weather cannot serve it, so get_forecast ranks "
        "first."),
}
# rationale "tool_first": every rationale opens with a tool's name; the verdict follows
DECLINE = "{} is the closest tool, but it cannot serve this request, so I will answer directly."
TOOL_FIRST = {
    **VERDICT_FIRST,
    ("zero", "weak", True): (DECLINE.format("send_email"),) * 2,
    ("zero", "strong", True): (DECLINE.format("send_email"),) * 2,
    ("zero", "strong", False): (DECLINE.format("send_email"),) * 2,
    ("weak_only", "strong", True): (
        "get_weather is the closest tool and serves the request in part; no available tool serves all of it.",) * 2,
    ("weak_only", "strong", False): (DECLINE.format("get_weather"),) * 2,
    ("weak_strong", "weak", True): (
        f"get_forecast and get_weather both serve the whole request; get_forecast is the stronger tool ({GAP}), "
        "so I will call get_forecast.",
        f"get_forecast and get_weather both serve the whole request; get_forecast is the stronger tool ({GAP}), "
        "so get_forecast ranks first and get_weather next."),
}
EXPECTED = {"verdict_first": VERDICT_FIRST, "tool_first": TOOL_FIRST}


def _query(needs: str, weak_callable: bool) -> QueryRecord:
    calls = {"get_forecast": {"city": "Oslo"}}
    if weak_callable:
        calls["get_weather"] = {"city": "Oslo"}
    return QueryRecord(query_id="q", family_id="f", text="Weather in Oslo?", needs=needs, calls=calls,
                       answer=ANSWER)


def _example(kind: str, q: QueryRecord) -> Example | None:
    """The example the split builds for ``kind`` (``None`` when that kind does not apply to ``q``)."""
    offered = _offered(kind, q, FAMILY)
    if offered is None:
        return None
    tools = [t.function for t in offered] + [DISTRACTOR]
    gold = gold_for(q, {"weak": "get_weather", "strong": "get_forecast"}, [t["name"] for t in tools])
    return Example(example_id=kind, query_id=q.query_id, family_id="f", domain="weather", scenario="train",
                   kind=kind, style="question", query=q.text, tools=tools, gold_tool=gold.tool,
                   gold_arguments=gold.arguments, gold_ranking=gold.ranking, weak_tool="get_weather",
                   strong_tool="get_forecast", capability_gap=GAP, needs=q.needs)


COMBOS = [(k, n, w) for k in KINDS for n in ("weak", "strong") for w in (True, False) if n == "strong" or w]


@pytest.mark.parametrize("style", ["tool_first", "verdict_first"])
@pytest.mark.parametrize("kind,needs,weak_callable", COMBOS)
def test_rationale_states_what_each_tool_does_for_the_query(kind, needs, weak_callable, style):
    ex = _example(kind, _query(needs, weak_callable))
    if ex is None:  # weak_only exists only for queries that need the strong tool
        assert (kind, needs) == ("weak_only", "weak")
        return
    select, rank = rationale(ex, "select", style), rationale(ex, "rank", style)
    assert (select, rank) == EXPECTED[style][(kind, needs, weak_callable)]
    if style == "tool_first":  # no fixed opening: the first word is always an offered tool's name
        assert select.split()[0] in {t["name"] for t in ex.tools}
    for text in (select, rank):
        if needs == "weak":  # the weak tool serves the whole query: nothing may say it serves only part
            assert "in part" not in text
        if "in part" in text:
            assert ex.gold_tool != GENERATE_RESPONSE and "get_weather" in text.split("in part")[0]
        if ex.gold_tool == GENERATE_RESPONSE:
            assert text.endswith("serve this request, so I will answer directly.")
        else:
            assert ex.gold_tool in text


def test_every_combination_is_pinned():
    built = {(k, n, w) for k, n, w in COMBOS if _example(k, _query(n, w)) is not None}
    assert built == set(VERDICT_FIRST) == set(TOOL_FIRST)


def test_closest_tool_is_the_one_sharing_most_words_with_the_query():
    tools = [{"name": "send_email", "description": "Send an email."},
             {"name": "get_ride_history", "description": "List past rides in a date range."},
             {"name": "book_ride", "description": "Book a ride."}]
    assert closest_tool("How much did I spend on rides between two dates?", tools) == "get_ride_history"
    assert closest_tool("Nothing in common here", tools) == "send_email"  # a tie: the first offered
    assert closest_tool("anything", [{"name": GENERATE_RESPONSE}]) is None


@pytest.mark.parametrize("answer,arguments", [(ANSWER, {"response": ANSWER}), ("", {})])
def test_zero_target_answers_with_the_query_answer(answer, arguments):
    q = _query("weak", True).model_copy(update={"answer": answer})
    ex = _example("zero", q)
    assert ex.gold_tool == GENERATE_RESPONSE and ex.gold_arguments == arguments
    body = build_completion(ex, "select").split("<tool_call>\n")[1].split("\n</tool_call>")[0]
    assert json.loads(body) == {"name": GENERATE_RESPONSE, "arguments": arguments}
    assert build_completion(ex, "select", "python").endswith(
        f"<answer>{GENERATE_RESPONSE}(response={ANSWER!r})</answer>" if answer else f"<answer>{GENERATE_RESPONSE}()</answer>")
    one = _example("one", q)  # the added tool is called with its own arguments, not the answer
    assert one.gold_tool == "get_weather" and one.gold_arguments == {"city": "Oslo"}
