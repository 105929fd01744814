"""Parsing and scoring on a corpus of real-looking model outputs, good and bad.

Every case gives the raw output and what the evaluator must read from it: the called tools (or none), whether
it is malformed, and whether it is in tooldojo's strict format.
"""

from __future__ import annotations

import json

import pytest

from tooldojo.eval.scoring import parse_result, score_rank, score_select

W = {"city": "Paris"}
CASES = [
    # id, raw output, expected calls [(name, args)], malformed, well_formed
    ("tooldojo-json", '<think>weather_now fits.</think>\n<tool_call>\n{"name": "weather_now", "arguments": {"city": "Paris"}}\n</tool_call>',
     [("weather_now", W)], False, True),
    ("tooldojo-python", '<think>weather_now fits.</think>\n<answer>weather_now(city="Paris")</answer>',
     [("weather_now", W)], False, True),
    ("tooldojo-generate-response", "<think>Nothing fits.</think>\n<tool_call>\n{\"name\": \"generate_response\", \"arguments\": {}}\n</tool_call>",
     [("generate_response", {})], False, True),
    ("python-json-literals", "<think>t</think><answer>weather_now(city='Paris', units=null, hourly=true)</answer>",
     [("weather_now", {"city": "Paris", "units": None, "hourly": True})], False, True),
    ("hermes-two-calls", '<tool_call>\n{"name": "weather_now", "arguments": {"city": "Paris"}}\n</tool_call>\n'
                         '<tool_call>\n{"name": "weather_now", "arguments": {"city": "Oslo"}}\n</tool_call>',
     [("weather_now", W), ("weather_now", {"city": "Oslo"})], False, False),
    ("qwen3-think-hermes", '<think>\nThe user wants the weather in Paris, so I call weather_now.\n</think>\n\n'
                           '<tool_call>\n{"name": "weather_now", "arguments": {"city": "Paris"}}\n</tool_call>',
     [("weather_now", W)], False, True),
    ("qwen-arguments-as-string", '<tool_call>\n{"name": "weather_now", "arguments": "{\\"city\\": \\"Paris\\"}"}\n</tool_call>',
     [("weather_now", W)], False, False),
    ("llama3-bare-json-parameters", '{"name": "weather_now", "parameters": {"city": "Paris"}}',
     [("weather_now", W)], False, False),
    ("mistral-tool-calls-list", '[TOOL_CALLS] [{"name": "weather_now", "arguments": {"city": "Paris"}}]',
     [("weather_now", W)], False, False),
    ("markdown-fenced-json", 'Sure, here is the call:\n```json\n{"name": "weather_now", "arguments": {"city": "Paris"}}\n```',
     [("weather_now", W)], False, False),
    ("openai-function-entry-text", '{"type": "function", "function": {"name": "weather_now", "arguments": "{\\"city\\": \\"Paris\\"}"}}',
     [("weather_now", W)], False, False),
    ("unclosed-tool-call-complete-json", '<think>ok</think><tool_call>{"name": "weather_now", "arguments": {"city": "Paris"}}',
     [("weather_now", W)], False, False),
    ("qwen3-coder-xml", "<tool_call>\n<function=weather_now>\n<parameter=city>\nParis\n</parameter>\n"
                        "<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>",
     [("weather_now", {"city": "Paris", "days": 3})], False, False),
    ("python-dict-in-tool-call", "<think>t</think><tool_call>{'name': 'weather_now', 'arguments': {'city': 'Paris'}}</tool_call>",
     [("weather_now", W)], False, True),
    ("llama32-pythonic-list", '[weather_now(city="Paris"), weather_now(city="Oslo")]',
     [("weather_now", W), ("weather_now", {"city": "Oslo"})], False, False),
    ("bfcl-dotted-python-after-think", "<think>t</think>\n[spotify.play(artist='Maroon 5', duration=15)]",
     [("spotify.play", {"artist": "Maroon 5", "duration": 15})], False, False),
    ("answer-prose-is-direct-reply", "<think>No tool needed.</think><answer>Paris is the capital of France.</answer>",
     [("generate_response", {"response": "Paris is the capital of France."})], False, True),
    # bad outputs
    ("truncated-json", '<think>weather_now fits.</think>\n<tool_call>\n{"name": "weather_now", "arguments": {"city": "Par',
     [], True, False),
    ("truncated-json-closed", '<tool_call>{"name": "weather_now", "arguments": {"city": "Par</tool_call>', [], True, False),
    ("prose-only", "The weather in Paris is usually mild in spring. You could check a weather website.", [], True, False),
    ("empty", "", [], True, False),
    ("think-only", "<think>I should call weather_now with city Paris.</think>", [], True, False),
    ("call-without-name", '<tool_call>{"arguments": {"city": "Paris"}}</tool_call>', [], True, False),
    ("arguments-not-object", '<tool_call>{"name": "weather_now", "arguments": ["Paris"]}</tool_call>', [], True, False),
    ("python-positional-args", '<think>t</think><answer>weather_now("Paris")</answer>', [], True, False),
    ("python-syntax-error", "<think>t</think><answer>weather_now(city=Paris</answer>", [], True, False),
    ("one-good-one-broken-block", '<tool_call>{"name": "weather_now", "arguments": {"city": "Paris"}}</tool_call>'
                                  '<tool_call>{"name": </tool_call>', [("weather_now", W)], True, False),
    ("repeated-think", '<think>a</think><think>b</think><tool_call>{"name": "weather_now", "arguments": {"city": "Paris"}}</tool_call>',
     [("weather_now", W)], False, False),
    ("prose-mentioning-a-call", "You could call weather_now(city='Paris') to find out.", [], True, False),
    ("xml-without-function", "<tool_call><parameter=city>Paris</parameter></tool_call>", [], True, False),
    ("trailing-garbage", '<think>a</think><tool_call>{"name": "weather_now", "arguments": {"city": "Paris"}}</tool_call> and more text',
     [("weather_now", W)], False, False),
]


@pytest.mark.parametrize(("raw", "calls", "malformed", "well_formed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_corpus(raw, calls, malformed, well_formed):
    parsed = parse_result(raw, None)
    assert [(c.name, c.arguments) for c in parsed.calls] == calls
    assert parsed.malformed is malformed
    assert parsed.well_formed is well_formed


def test_openai_tool_calls_and_text_replies():
    tool_calls = [{"id": "call_1", "type": "function",
                   "function": {"name": "weather_now", "arguments": json.dumps(W)}}]
    parsed = parse_result("", tool_calls)
    assert [(c.name, c.arguments) for c in parsed.calls] == [("weather_now", W)] and not parsed.malformed
    broken = parse_result("", [{"id": "c", "type": "function", "function": {"name": "weather_now", "arguments": "{bad"}}])
    assert broken.malformed and not broken.calls
    reply = parse_result("It is sunny in Paris today.", None)  # a local model's prose is malformed ...
    assert reply.malformed
    from tooldojo.toolcalls import from_openai_tool_calls

    direct = from_openai_tool_calls(None, "It is sunny in Paris today.")  # ... an endpoint's text reply answers directly
    assert direct.tool == "generate_response" and not direct.malformed


ROW = {
    "gold_tool": "map_search", "gold_arguments": json.dumps({"query": "Thai restaurants", "location": "Paris", "min_rating": 4.5}),
    "gold_ranking": ["map_search", "web_search", "generate_response"],
    "tools": json.dumps([{"type": "function", "function": {"name": n}} for n in
                         ("send_email", "web_search", "map_search", "generate_response")]),
    "weak_tool": "web_search", "strong_tool": "map_search",
}


def _select(raw: str) -> dict:
    return score_select(parse_result(raw, None), ROW)


def test_select_verdicts_hand_computed():
    exact = _select('<think>t</think><tool_call>{"name": "map_search", "arguments": {"query": " thai  RESTAURANTS", '
                    '"location": "Paris", "min_rating": 4.5}}</tool_call>')
    assert exact["tool_correct"] and exact["call_exact"] and exact["arg_exact"] and exact["chose_strong"]
    # right tool, 3 predicted keys of which 2 are gold keys, 1 of them with the gold value; 3 gold keys
    partial = _select('<tool_call>{"name": "map_search", "arguments": {"query": "Thai restaurants", "location": "Lyon", '
                      '"open_now": true}}</tool_call>')
    assert partial["tool_correct"] and not partial["call_exact"]
    assert partial["arg_key_precision"] == pytest.approx(2 / 3)
    assert partial["arg_key_recall"] == pytest.approx(2 / 3)
    assert partial["arg_value_accuracy"] == pytest.approx(1 / 3)
    weak = _select('<tool_call>{"name": "web_search", "arguments": {"query": "thai paris"}}</tool_call>')
    assert not weak["tool_correct"] and weak["chose_weak"] and not weak["chose_strong"] and weak["offers_both"]
    assert weak["arg_key_precision"] is None  # arguments are scored only for the right tool
    bad = _select("I think map_search would be best.")
    assert bad["malformed"] and not bad["tool_correct"] and bad["predicted_tool"] is None


def test_rank_verdicts_hand_computed():
    def rank(raw: str) -> dict:
        return score_rank(parse_result(raw, None), ROW)

    perfect = rank('<think>t</think><ranking>["map_search", "web_search", "generate_response", "send_email"]</ranking>')
    assert perfect["exact"] and perfect["top1"] and perfect["pairwise"] == 1.0 and perfect["well_formed"]
    swapped = rank('<ranking>["web_search", "map_search", "generate_response"]</ranking>')
    # gold pairs: (map,web) wrong, (map,gr) right, (web,gr) right
    assert not swapped["exact"] and not swapped["top1"] and swapped["pairwise"] == pytest.approx(2 / 3)
    missing = rank("<ranking>map_search > generate_response</ranking>")  # web_search left out: its 2 pairs wrong
    assert missing["top1"] and missing["pairwise"] == pytest.approx(1 / 3) and not missing["exact"]
    none = rank("map_search is the best tool")
    assert none["malformed"] and none["pairwise"] == 0.0
    single = score_rank(parse_result("<ranking>[\"generate_response\"]</ranking>", None),
                        {**ROW, "gold_ranking": ["generate_response"]})
    assert single["exact"] and single["pairwise"] is None


@pytest.mark.parametrize(("text", "expected"), [
    ('[weather_now(city="Paris", days=(1, 2), opts={"metric": true})]',
     {"name": "weather_now", "arguments": {"city": "Paris", "days": [1, 2], "opts": {"metric": True}}}),
    ("[get weather(city='Oslo', hourly=null)]", {"name": "get weather", "arguments": {"city": "Oslo", "hourly": None}}),
])
def test_importer_and_evaluator_read_python_calls_alike(text, expected):
    """The dataset importers and the evaluator share one reader of Python-style calls (JSON spellings at any
    depth, tuples as lists, offered names with spaces)."""
    from tooldojo.formats.parsing import python_calls
    from tooldojo.toolcalls import calls_from_python

    names = ["weather_now", "get weather"]
    assert python_calls(text, names) == [expected]
    assert [c.to_dict() for c in calls_from_python(text, names)] == [expected]
