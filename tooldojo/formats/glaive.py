"""Glaive function-calling (v2) rows: ``system`` ("SYSTEM: ... -" followed by one JSON object per tool) and
``chat`` ("USER: ...", "ASSISTANT: <functioncall> {...} <|endoftext|>", "FUNCTION RESPONSE: ...").

Glaive writes a call's arguments as a single-quoted JSON string (``"arguments": '{"a": 1}'``), which is
not JSON; it is read as such. The query is the first user turn, the gold the assistant's reply to it.
"""

from __future__ import annotations

import re
from typing import Any

from tooldojo.formats.model import Conversation, RowError
from tooldojo.formats.parsing import call_from_obj, json_values, loads_loose

_TURN = re.compile(r"(?:^|\n)\s*(USER|ASSISTANT|FUNCTION RESPONSE|SYSTEM):", re.S)
_QUOTED_ARGS = re.compile(r"""("arguments"\s*:\s*)'(.*)'(\s*}\s*)$""", re.S)
_END = "<|endoftext|>"


def matches(row: dict[str, Any]) -> bool:
    return isinstance(row.get("chat"), str) and "system" in row


def _turns(chat: str) -> list[tuple[str, str]]:
    marks = list(_TURN.finditer(chat))
    return [(m.group(1), chat[m.end(): marks[i + 1].start() if i + 1 < len(marks) else len(chat)].strip())
            for i, m in enumerate(marks)]


def _call(text: str) -> dict[str, Any]:
    body = text.split("<functioncall>", 1)[1].replace(_END, "").strip()
    try:
        obj = loads_loose(body, "function call")
    except RowError:
        m = _QUOTED_ARGS.search(body)
        if not m:
            raise
        import json

        fixed = body[: m.start()] + m.group(1) + json.dumps(m.group(2)) + m.group(3)
        obj = loads_loose(fixed, "function call")
    return call_from_obj(obj)


def read(row: dict[str, Any]) -> Conversation:
    """One Glaive row -> :class:`Conversation`."""
    if not matches(row):
        raise RowError("not a Glaive row: needs 'system' and 'chat' strings")
    system = row["system"] if isinstance(row.get("system"), str) else ""
    tools = [v for v, _, _ in json_values(system) if isinstance(v, dict) and "name" in v]
    turns = _turns(row["chat"])
    first_user = next((i for i, (r, _) in enumerate(turns) if r == "USER"), None)
    if first_user is None:
        raise RowError("no user query: the chat has no USER turn")
    reply = next((v for r, v in turns[first_user + 1:] if r == "ASSISTANT"), None)
    if reply is None:
        raise RowError("no gold answer: no ASSISTANT turn after the first USER turn")
    query = turns[first_user][1]
    if "<functioncall>" in reply:
        return Conversation(query=query, tools=tools, calls=[_call(reply)])
    return Conversation(query=query, tools=tools, answer=reply.replace(_END, "").strip())
