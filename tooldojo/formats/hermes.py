"""Hermes / ShareGPT function-calling rows (NousResearch's format): ``conversations`` turns
``{"from": "system"|"human"|"gpt"|"tool", "value": ...}``; the system turn lists the tools inside
``<tools>...</tools>``; calls are ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``.

Hermes data often writes the tool list and calls as Python literals (single quotes); both are read.
Writing produces JSON inside the tags, one ``<tool_call>`` block per call.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tooldojo.formats.model import Conversation, RowError
from tooldojo.formats.parsing import loads_loose, sharegpt_turns, tool_call_blocks, tool_list_in

_TOOLS = re.compile(r"<tools>(.*?)</tools>", re.S)

SYSTEM_PROMPT = (
    "You are a function calling AI model. You are provided with function signatures within <tools></tools> "
    "XML tags. You may call one or more functions to assist with the user query. Don't make assumptions "
    "about what values to plug into functions.\n<tools>\n{tools}\n</tools>\nFor each function call, return "
    "a JSON object with the function name and arguments within <tool_call></tool_call> tags:\n<tool_call>\n"
    '{{"name": <function-name>, "arguments": <args-dict>}}\n</tool_call>'
)


def matches(row: dict[str, Any]) -> bool:
    system = row.get("system")
    return isinstance(row.get("conversations"), (list, str)) and (not isinstance(system, str) or "<tools>" in system)


def _turns(row: dict[str, Any]) -> list[tuple[str, str]]:
    convs = row.get("conversations")
    if isinstance(convs, str):
        convs = loads_loose(convs, "conversations")
    if not isinstance(convs, list):
        raise RowError("not a Hermes row: 'conversations' must be a list of turns")
    return sharegpt_turns(convs)


def _tools(system: str, row: dict[str, Any]) -> list[Any]:
    blocks = [b for b in _TOOLS.findall(system) if b.strip()]  # the instructions mention "<tools> </tools>"
    if blocks:
        value = loads_loose(blocks[-1], "<tools> list")
        return value if isinstance(value, list) else [value]
    extra = row.get("tools")
    if isinstance(extra, str) and extra.strip():
        extra = loads_loose(extra, "tools")
    if isinstance(extra, list) and extra:
        return extra
    if system.strip():
        return tool_list_in(system)
    raise RowError("no tools offered: no system turn with <tools> and no 'tools' column")


def read(row: dict[str, Any]) -> Conversation:
    """One Hermes/ShareGPT row -> :class:`Conversation`."""
    turns = _turns(row)
    top = row.get("system") if isinstance(row.get("system"), str) else ""
    system = "\n".join([top, *(v for r, v in turns if r == "system")])
    tools = _tools(system, row)
    first_user = next((i for i, (r, _) in enumerate(turns) if r in ("human", "user")), None)
    if first_user is None:
        raise RowError("no user query: the conversation has no human turn")
    reply = next((v for r, v in turns[first_user + 1:] if r in ("gpt", "assistant")), None)
    if reply is None:
        raise RowError("no gold answer: no gpt turn after the first human turn")
    calls = tool_call_blocks(reply)
    category = row.get("category")
    return Conversation(query=turns[first_user][1], tools=tools, calls=calls or [],
                        answer=None if calls is not None else reply.strip(),
                        domain=category if isinstance(category, str) and category else None,
                        id=None if row.get("id") is None else str(row["id"]))


def write(conv: Conversation) -> dict[str, Any]:
    """A :class:`Conversation` (tools already normalised) -> one Hermes row."""
    tools = json.dumps([{"type": "function", "function": f} for f in conv.tools], ensure_ascii=False)
    if conv.calls:
        reply = "\n".join("<tool_call>\n" + json.dumps(c, ensure_ascii=False) + "\n</tool_call>" for c in conv.calls)
    else:
        reply = conv.answer or ""
    return {
        "id": conv.id or "",
        "conversations": [
            {"from": "system", "value": SYSTEM_PROMPT.format(tools=tools)},
            {"from": "human", "value": conv.query},
            {"from": "gpt", "value": reply},
        ],
        "category": conv.domain or "",
    }


def features():
    from datasets import Features, List, Value

    return Features({"id": Value("string"),
                     "conversations": List({"from": Value("string"), "value": Value("string")}),
                     "category": Value("string")})
