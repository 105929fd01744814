"""ToolACE rows: a ``system`` prompt that lists the tools as a JSON array, and ``conversations`` turns
``{"from": "user"|"assistant"|"tool", "value": ...}`` whose assistant calls are Python-style:
``[get_weather(city="Paris"), ...]`` (tool names may contain spaces).

The query is the first user turn; the gold is the assistant's reply to it: its calls, or, when it is
plain text, a direct reply.
"""

from __future__ import annotations

from typing import Any

from tooldojo.formats.model import Conversation, RowError
from tooldojo.formats.parsing import python_calls, sharegpt_turns, tool_list_in


def matches(row: dict[str, Any]) -> bool:
    system = row.get("system")
    return isinstance(system, str) and "<tools>" not in system and isinstance(row.get("conversations"), list)


def _turns(row: dict[str, Any]) -> list[tuple[str, str]]:
    return sharegpt_turns(row.get("conversations") or [])


def read(row: dict[str, Any]) -> Conversation:
    """One ToolACE row -> :class:`Conversation`."""
    if not matches(row):
        raise RowError("not a ToolACE row: needs a 'system' string and a 'conversations' list")
    tools = tool_list_in(row["system"])
    turns = _turns(row)
    first_user = next((i for i, (r, _) in enumerate(turns) if r in ("user", "human")), None)
    if first_user is None:
        raise RowError("no user query: the conversation has no user turn")
    reply = next(((r, v) for r, v in turns[first_user + 1:] if r in ("assistant", "gpt")), None)
    if reply is None:
        raise RowError("no gold answer: no assistant turn after the first user turn")
    text = reply[1].strip()
    names = [t.get("function", t).get("name", "") for t in tools if isinstance(t, dict)]
    if text.startswith("[") and text.endswith("]") and "(" in text:
        return Conversation(query=turns[first_user][1], tools=tools, calls=python_calls(text, names),
                            id=_id(row))
    return Conversation(query=turns[first_user][1], tools=tools, answer=text, id=_id(row))


def _id(row: dict[str, Any]) -> str | None:
    return None if row.get("id") is None else str(row["id"])
