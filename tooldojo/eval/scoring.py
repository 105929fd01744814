"""Per-example verdicts: parse a raw output and compare it with the gold answer.

Select task (one call expected; the first call found is the answer):

- ``tool_correct``: the called tool is the gold tool (``generate_response`` counts as a tool);
- ``malformed``: no call could be read, or a call section did not parse (always also wrong);
- ``well_formed``: the strict format (``<think>`` then the answer section, nothing else);
- ``offers_both`` / ``chose_strong`` / ``chose_weak``: for examples offering the weak and the strong tool;
- arguments, when the right (non-``generate_response``) tool was called: key precision and recall, value
  accuracy (share of gold keys with an equal value), exact arguments;
- ``call_exact``: right tool and exact arguments (``generate_response`` matches on the name alone);
- ``answered``: when ``generate_response`` was rightly chosen, whether its ``response`` is non-empty (``None``
  otherwise): the selection is scored as GenTool does, the answer apart.

Rank task: ``exact`` (the ranking up to ``generate_response`` equals the gold ranking), ``top1``, and
``pairwise``: the share of ordered pairs of the gold ranking that the prediction orders the same way (an
item missing from the prediction gets its pairs wrong); ``None`` when the gold ranking has one item.
"""

from __future__ import annotations

import json
from typing import Any

from tooldojo.records import GENERATE_RESPONSE
from tooldojo.toolcalls import Parsed, call_matches, from_openai_tool_calls, parse_output, score_arguments


def parse_result(text: str, tool_calls: list[dict[str, Any]] | None) -> Parsed:
    """Parse a raw output: an endpoint's chat reply (``tool_calls`` a list, maybe empty: then a prose reply is
    a direct answer), or a local model's generated text (``tool_calls`` is ``None``)."""
    if tool_calls is not None:
        return from_openai_tool_calls(tool_calls or None, text)
    return parse_output(text or "")


def candidate_names(tools: list[dict[str, Any]]) -> list[str]:
    return [t["function"]["name"] if "function" in t else t["name"] for t in tools]


def score_select(parsed: Parsed, row: dict[str, Any]) -> dict[str, Any]:
    """Verdict of a select-task output against the row's gold tool and arguments."""
    gold_tool = row["gold_tool"]
    gold_args = json.loads(row["gold_arguments"]) if isinstance(row["gold_arguments"], str) else row["gold_arguments"]
    names = candidate_names(json.loads(row["tools"]))
    call = parsed.calls[0] if parsed.calls else None
    pred = call.name if call else None
    weak, strong = row.get("weak_tool"), row.get("strong_tool")
    offers_both = bool(weak and strong and weak in names and strong in names)
    v: dict[str, Any] = {
        "predicted_tool": pred,
        "tool_correct": pred == gold_tool,
        "malformed": parsed.malformed,
        "well_formed": parsed.well_formed,
        "n_calls": len(parsed.calls),
        "offers_both": offers_both,
        "chose_strong": offers_both and pred == strong,
        "chose_weak": offers_both and pred == weak,
        "call_exact": bool(call) and call_matches(call, gold_tool, gold_args),
        "arg_key_precision": None, "arg_key_recall": None, "arg_value_accuracy": None, "arg_exact": None,
        "answered": None,
    }
    if call and pred == gold_tool == GENERATE_RESPONSE:
        v["answered"] = bool(str(call.arguments.get("response") or "").strip())
    if call and pred == gold_tool and gold_tool != GENERATE_RESPONSE:
        s = score_arguments(call.arguments, gold_args)
        v.update(arg_key_precision=s.key_precision, arg_key_recall=s.key_recall,
                 arg_value_accuracy=s.value_accuracy, arg_exact=s.exact)
    return v


def ranking_upto_generate_response(ranking: list[str]) -> list[str]:
    """The ranking cut after ``generate_response`` (items after it are the ones ranked irrelevant)."""
    if GENERATE_RESPONSE in ranking:
        return ranking[:ranking.index(GENERATE_RESPONSE) + 1]
    return ranking


def pairwise_order(pred: list[str], gold: list[str]) -> float | None:
    """Share of the gold ranking's ordered pairs that ``pred`` orders the same way (``None``: no pairs)."""
    pairs = [(a, b) for i, a in enumerate(gold) for b in gold[i + 1:]]
    if not pairs:
        return None
    pos = {name: i for i, name in reversed(list(enumerate(pred)))}
    right = sum(1 for a, b in pairs if a in pos and b in pos and pos[a] < pos[b])
    return right / len(pairs)


def score_rank(parsed: Parsed, row: dict[str, Any]) -> dict[str, Any]:
    """Verdict of a rank-task output against the row's gold ranking."""
    gold = list(row["gold_ranking"])
    pred = parsed.ranking
    if pred is None:
        return {"predicted_ranking": None, "malformed": True, "well_formed": False, "exact": False,
                "top1": False, "pairwise": 0.0 if len(gold) > 1 else None}
    return {
        "predicted_ranking": pred,
        "malformed": False,
        "well_formed": parsed.well_formed,
        "exact": ranking_upto_generate_response(pred) == gold,
        "top1": bool(pred) and pred[0] == gold[0],
        "pairwise": pairwise_order(pred, gold),
    }


def score(task: str, parsed: Parsed, row: dict[str, Any]) -> dict[str, Any]:
    return score_rank(parsed, row) if task == "rank" else score_select(parsed, row)
