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
from typing import Any, Literal

from tooldojo.records import GENERATE_RESPONSE, GENERATE_RESPONSE_TOOL, Example

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


def rationale(example: Example, task: Task) -> str:
    """A short, rule-built reasoning for the gold answer (the SFT target's <think> section), stating what each
    offered family tool can do for this query: the one its ``needs`` names serves all of it; the weak tool of a
    ``needs="strong"`` query serves it only in part (or not at all when it has no gold call); the strong tool,
    when offered, comes first either way."""
    gold, weak, strong = example.gold_tool, example.weak_tool, example.strong_tool
    gap = f" ({example.capability_gap})" if example.capability_gap else ""
    if gold == GENERATE_RESPONSE:
        return "None of the available tools can serve this request, so I will answer directly."
    if example.kind == "weak_strong" and weak and strong:
        partly = weak in example.gold_ranking
        then = (f"so I will call {strong}." if task == "select"
                else f"so {strong} ranks first and {weak} next." if partly else f"so {strong} ranks first.")
        if example.needs == "weak":
            return f"Both {weak} and {strong} serve the whole request; {strong} is the stronger tool{gap}, {then}"
        if example.needs == "strong":
            part = "serves it only in part" if partly else "cannot serve it"
            return f"{strong} serves the whole request{gap}; {weak} {part}, {then}"
        return f"Both {weak} and {strong} can serve this request; {strong} is the stronger tool{gap}, {then}"
    if example.kind == "weak_only":
        return f"No available tool serves the whole request; {gold} is the closest and serves it in part."
    if example.kind == "one":
        return f"{gold} serves the whole request{gap if gold == strong else ''}."
    return f"{gold} can serve this request."


def build_completion(example: Example, task: Task = "select", call_format: CallFormat = "json",
                     think: bool = True) -> str:
    """The gold completion text for ``example``."""
    head = f"<think>{rationale(example, task)}</think>\n" if think else ""
    if task == "rank":
        return head + f"<ranking>{json.dumps(example.gold_ranking, ensure_ascii=False)}</ranking>"
    return head + format_call(example.gold_tool, example.gold_arguments, call_format)


def example_to_sft_row(example: Example, task: Task, call_format: CallFormat = "json") -> dict[str, Any]:
    """A TRL conversational prompt-completion row: ``prompt``, ``completion`` (message lists), ``tools``
    (JSON string of OpenAI tool entries, as TRL's SFT and GRPO trainers read it)."""
    return {
        "prompt": build_prompt(example.query, task, call_format),
        "completion": [{"role": "assistant", "content": build_completion(example, task, call_format)}],
        "tools": json.dumps(openai_tools(example.tools), ensure_ascii=False),
    }
