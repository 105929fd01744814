"""Metric aggregation on hand-computed cases."""

from __future__ import annotations

import pytest

from tooldojo.eval.metrics import compute_metrics


def approx(x):
    return pytest.approx(x, abs=1e-4)  # metrics are rounded to 4 decimals


NONE_ARGS = {"arg_key_precision": None, "arg_key_recall": None, "arg_value_accuracy": None, "arg_exact": None}


def sel(scenario, kind, qid, *, correct, malformed=False, both=False, strong=False, weak=False, args=None,
        answered=None):
    v = {"tool_correct": correct, "malformed": malformed, "well_formed": not malformed, "call_exact": correct and not args,
         "offers_both": both, "chose_strong": strong, "chose_weak": weak, "answered": answered, **NONE_ARGS}
    if args:
        v.update(zip(("arg_key_precision", "arg_key_recall", "arg_value_accuracy", "arg_exact"), args, strict=True))
    return {"scenario": scenario, "kind": kind, "query_id": qid, "task": "select", "verdict": v}


def rank(scenario, kind, qid, *, exact, top1, pairwise, malformed=False):
    return {"scenario": scenario, "kind": kind, "query_id": qid, "task": "rank",
            "verdict": {"exact": exact, "top1": top1, "pairwise": pairwise, "malformed": malformed,
                        "well_formed": not malformed}}


RECORDS = [
    # scenario A: two Zero-to-One pairs; q1's "one" is wrong, so 1 of 2 pairs is right
    sel("A", "zero", "q1", correct=True, answered=True),
    sel("A", "one", "q1", correct=False, malformed=True),
    sel("A", "zero", "q2", correct=True, answered=False),
    sel("A", "one", "q2", correct=True, args=(1.0, 0.5, 0.5, False)),
    sel("A", "zero", "q3", correct=False),  # no "one" example: not a pair
    # scenario B: weak/strong offered three times: strong, weak, something else
    sel("B", "weak_strong", "q4", correct=True, both=True, strong=True, args=(1.0, 1.0, 1.0, True)),
    sel("B", "weak_strong", "q5", correct=False, both=True, weak=True),
    sel("B", "weak_strong", "q6", correct=False, both=True),
    rank("A", "zero", "q1", exact=True, top1=True, pairwise=None),
    rank("A", "one", "q1", exact=False, top1=True, pairwise=0.0),
    rank("B", "weak_strong", "q4", exact=False, top1=False, pairwise=2 / 3),
    rank("B", "weak_strong", "q5", exact=False, top1=False, pairwise=None, malformed=True),
]


def test_select_metrics_hand_computed():
    m = compute_metrics(RECORDS, ["select", "rank"])["select"]
    o = m["overall"]
    assert o["n"] == 8
    assert o["tool_accuracy"] == approx(4 / 8)
    assert o["malformed_rate"] == approx(1 / 8)
    assert o["zero_to_one_pairs"] == 2 and o["zero_to_one"] == approx(0.5)
    assert o["strong_preference"] == approx(1 / 3)
    assert o["strong_share"] == approx(1 / 2)  # of the 2 family-tool calls, 1 was the strong tool
    assert o["n_offers_both"] == 3
    assert o["n_args"] == 2 and o["arg_key_recall"] == approx(0.75) and o["arg_exact"] == approx(0.5)
    # answers apart from the selection: of the 2 rightly chosen generate_response calls, 1 said something
    assert o["n_answers"] == 2 and o["answer_rate"] == approx(0.5)
    a, b = m["by_scenario"]["A"], m["by_scenario"]["B"]
    assert a["tool_accuracy"] == approx(3 / 5) and a["strong_preference"] is None and a["zero_to_one"] == 0.5
    assert b["tool_accuracy"] == approx(1 / 3) and "zero_to_one" not in b
    assert m["by_scenario_kind"]["A"]["zero"]["tool_accuracy"] == approx(2 / 3)
    assert m["by_kind"]["one"]["n"] == 2 and m["by_kind"]["one"]["arg_value_accuracy"] == approx(0.5)


def test_rank_metrics_hand_computed():
    m = compute_metrics(RECORDS, ["select", "rank"])["rank"]
    o = m["overall"]
    assert o["n"] == 4 and o["exact"] == approx(0.25) and o["top1"] == approx(0.5)
    assert o["n_pairwise"] == 2 and o["pairwise"] == approx(1 / 3)  # mean of 0 and 2/3; None left out
    assert o["malformed_rate"] == approx(0.25)
    assert m["by_scenario"]["B"]["pairwise"] == approx(2 / 3)


def test_tasks_without_records_are_left_out():
    only_select = [r for r in RECORDS if r["task"] == "select"]
    assert set(compute_metrics(only_select, ["select", "rank"])) == {"select"}


@pytest.mark.parametrize("output,answered", [
    ('<tool_call>\n{"name": "generate_response", "arguments": {"response": "I cannot check that."}}\n</tool_call>', True),
    ('<tool_call>\n{"name": "generate_response", "arguments": {"response": "  "}}\n</tool_call>', False),
    ('<tool_call>\n{"name": "generate_response", "arguments": {}}\n</tool_call>', False),
    ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>', None),
])
def test_answer_is_scored_apart_from_the_selection(output, answered):
    from tooldojo.eval.scoring import parse_result, score_select

    tools = '[{"type": "function", "function": {"name": "get_weather"}}]'
    row = {"gold_tool": "generate_response", "gold_arguments": '{"response": "No tool for that."}', "tools": tools}
    v = score_select(parse_result(output, None), row)
    assert v["answered"] is answered
    assert v["tool_correct"] is (answered is not None) and v["call_exact"] is (answered is not None)


def test_validation_runs_only_when_asked_and_alone():
    from tooldojo.errors import ConfigError
    from tooldojo.eval.data import select_scenarios

    available = ["validation", "weak_to_strong", "seen_tool_unseen_query"]
    assert select_scenarios(available, None) == ["seen_tool_unseen_query", "weak_to_strong"]
    assert select_scenarios(available, ["validation"]) == ["validation"]
    with pytest.raises(ConfigError, match="validation is evaluated on its own"):
        select_scenarios(available, ["validation", "weak_to_strong"])
