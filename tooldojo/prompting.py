"""The student's prompt and completion format, shared by training (SFT and RL) and evaluation.

A prompt is a chat: a system message with the task instructions and a user message with the query; the
candidate tools travel separately as ``tools`` (OpenAI ``{"type": "function", "function": ...}`` dicts,
``generate_response`` always last) and are rendered by the tokenizer's chat template. Base models get
tooldojo's own template (``tooldojo/templates/chat/base.jinja``); instruct models keep theirs.

Completions:

- ``select`` (stage 2 and RL), ``call_format="json"``::

    <think>short reasoning</think>
    <tool_call>
    {"name": "map_search", "arguments": {"query": "..."}}
    </tool_call>

- ``select``, ``call_format="python"`` (Tool-Zero's style)::

    <think>short reasoning</think>
    <answer>map_search(query="...")</answer>

- ``rank`` (stage 1)::

    <think>short reasoning</think>
    <ranking>["map_search", "web_search", "generate_response"]</ranking>
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from tooldojo.records import GENERATE_RESPONSE, GENERATE_RESPONSE_TOOL, Example
from tooldojo.similarity.text import name_words

Task = Literal["select", "rank"]
CallFormat = Literal["json", "python"]

SELECT_INSTRUCTIONS = {
    "json": (
        "You are an assistant that can call tools. Read the user's request and the available tools. "
        "Think briefly inside <think></think>, then call the single best tool for the request inside "
        "<tool_call></tool_call> as JSON: {\"name\": <tool name>, \"arguments\": <object>}. Prefer the tool "
        f"that serves the whole request. If no tool can serve it, call {GENERATE_RESPONSE}."
    ),
    "python": (
        "You are an assistant that can call tools. Read the user's request and the available tools. "
        "Think briefly inside <think></think>, then write the call to the single best tool inside "
        "<answer></answer> as a function call: tool_name(arg=value, ...). Prefer the tool that serves the "
        f"whole request. If no tool can serve it, write {GENERATE_RESPONSE}()."
    ),
}
RANK_INSTRUCTIONS = (
    "You are an assistant that can call tools. Read the user's request and the available tools. "
    "Think briefly inside <think></think>, then rank the tools that can serve the request, best first, "
    f"followed by {GENERATE_RESPONSE}, as a JSON list inside <ranking></ranking>. Leave out tools that "
    "cannot serve the request at all."
)


def openai_tools(functions: list[dict[str, Any]], *, with_generate_response: bool = True) -> list[dict[str, Any]]:
    """Function schemas -> OpenAI ``tools`` entries, ``generate_response`` appended (once)."""
    fns = [f for f in functions if f.get("name") != GENERATE_RESPONSE]
    if with_generate_response:
        fns.append(GENERATE_RESPONSE_TOOL)
    return [{"type": "function", "function": f} for f in fns]


def build_prompt(query: str, task: Task = "select", call_format: CallFormat = "json") -> list[dict[str, str]]:
    """The chat messages for one query (tools are passed separately to the chat template)."""
    system = RANK_INSTRUCTIONS if task == "rank" else SELECT_INSTRUCTIONS[call_format]
    return [{"role": "system", "content": system}, {"role": "user", "content": query}]


def format_call(name: str, arguments: dict[str, Any], call_format: CallFormat = "json") -> str:
    """One tool call in the completion syntax of ``call_format``."""
    if call_format == "python":
        args = ", ".join(f"{k}={_py_literal(v)}" for k, v in arguments.items())
        return f"<answer>{name}({args})</answer>"
    body = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return f"<tool_call>\n{body}\n</tool_call>"


def _py_literal(value: Any) -> str:
    # JSON literals are Python literals except true/false/null; repr() of the JSON-loaded value is exact.
    return repr(value)


Rationale = Literal["verdict_first", "tool_first"]
"""How the SFT target's <think> opens. ``verdict_first`` (default, the first results run): a declined request
opens with one fixed sentence, "None of the available tools ...". ``tool_first``: every rationale opens with a
tool's name (the one that serves, or the closest one that cannot) and the verdict follows it, so declining is
decided after naming a candidate. Tried because greedy decoding may prefer the fixed sentence's first token
whenever the model spreads its first-token probability over several tool names (the first results run's
two-stage model declined 78% of the requests a tool could serve); on validation families it declined less
(58% against 67%, intervals overlapping) with no gain in accuracy (0.355 against 0.370), so the default
stays (docs/results.md)."""

DIRECT = "None of the available tools can serve this request, so I will answer directly."
_WORD = re.compile(r"[a-z0-9]{3,}")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(name_words(text).casefold()))


def closest_tool(query: str, tools: list[dict[str, Any]]) -> str | None:
    """The offered tool sharing the most words (of 3+ characters) with ``query``, by name and description;
    the first offered one on a tie; ``None`` when nothing is offered.

    >>> closest_tool("Book a ride to the airport", [{"name": "send_email", "description": "Send an email."},
    ...               {"name": "book_flight", "description": "Book a flight."}])
    'book_flight'
    """
    q = _words(query)
    best, score = None, -1
    for fn in tools:
        name = str(fn.get("name", ""))
        if name == GENERATE_RESPONSE:
            continue
        s = len(q & _words(f"{name} {fn.get('description', '')}"))
        if s > score:
            best, score = name, s
    return best


def rationale(example: Example, task: Task, style: Rationale = "verdict_first") -> str:
    """A short, rule-built reasoning for the gold answer (the SFT target's <think> section), stating what each
    offered family tool can do for this query: the one its ``needs`` names serves all of it; the weak tool of a
    ``needs="strong"`` query serves it only in part (or not at all when it has no gold call); the strong tool,
    when offered, comes first either way. ``style`` is where the verdict goes (see :data:`Rationale`)."""
    gold, weak, strong = example.gold_tool, example.weak_tool, example.strong_tool
    gap = f" ({example.capability_gap})" if example.capability_gap else ""
    first = style == "tool_first"
    if gold == GENERATE_RESPONSE:
        if not first:
            return DIRECT
        offered = [t["name"] for t in example.tools]
        closest = next((t for t in (weak, strong) if t in offered), None) or closest_tool(example.query,
                                                                                          example.tools)
        if closest is None:
            return DIRECT
        return f"{closest} is the closest tool, but it cannot serve this request, so I will answer directly."
    if example.kind == "weak_strong" and weak and strong:
        partly = weak in example.gold_ranking
        then = (f"so I will call {strong}." if task == "select"
                else f"so {strong} ranks first and {weak} next." if partly else f"so {strong} ranks first.")
        if example.needs == "weak":
            both = f"{strong} and {weak} both serve" if first else f"Both {weak} and {strong} serve"
            return f"{both} the whole request; {strong} is the stronger tool{gap}, {then}"
        if example.needs == "strong":
            part = "serves it only in part" if partly else "cannot serve it"
            return f"{strong} serves the whole request{gap}; {weak} {part}, {then}"
        both = f"{strong} and {weak} can both serve" if first else f"Both {weak} and {strong} can serve"
        return f"{both} this request; {strong} is the stronger tool{gap}, {then}"
    if example.kind == "weak_only":
        if first:
            return f"{gold} is the closest tool and serves the request in part; no available tool serves all of it."
        return f"No available tool serves the whole request; {gold} is the closest and serves it in part."
    if example.kind == "one":
        return f"{gold} serves the whole request{gap if gold == strong else ''}."
    return f"{gold} can serve this request."


def build_completion(example: Example, task: Task = "select", call_format: CallFormat = "json",
                     think: bool = True, style: Rationale = "verdict_first") -> str:
    """The gold completion text for ``example`` (``style``: see :data:`Rationale`)."""
    head = f"<think>{rationale(example, task, style)}</think>\n" if think else ""
    if task == "rank":
        return head + f"<ranking>{json.dumps(example.gold_ranking, ensure_ascii=False)}</ranking>"
    return head + format_call(example.gold_tool, example.gold_arguments, call_format)
