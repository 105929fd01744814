"""OpenAI chat rows (``messages`` + ``tools``), which are also TRL's conversational tool-calling rows.

Reading accepts ``messages`` (or TRL's ``prompt`` + ``completion``) as lists or JSON strings, ``tools`` as
a list or a JSON string (also the legacy ``functions``), and an assistant reply as ``tool_calls`` (with
``arguments`` as a JSON string, OpenAI's way, or as an object, the chat-template way), a legacy
``function_call``, or text holding ``<tool_call>`` blocks or tooldojo's ``<answer>`` section.

Writing produces what TRL's ``SFTTrainer`` reads for tool calling: ``messages`` where the assistant turn
carries ``tool_calls`` ``[{"type": "function", "function": {"name", "arguments": {...}}}]``, and a ``tools``
column holding the OpenAI tool entries as a JSON string (TRL parses it).
"""

from __future__ import annotations

import json
from typing import Any

from tooldojo.formats.model import Conversation, RowError
from tooldojo.formats.parsing import call_from_obj, loads_loose, tool_call_blocks
from tooldojo.prompting import RANK_INSTRUCTIONS, SELECT_INSTRUCTIONS

_TOOLDOJO_SYSTEMS = {RANK_INSTRUCTIONS, *SELECT_INSTRUCTIONS.values()}


def matches(row: dict[str, Any]) -> bool:
    return "messages" in row or ("prompt" in row and "completion" in row)


def _list(value: Any, what: str) -> list[Any]:
    if isinstance(value, str):
        value = loads_loose(value, what) if value.strip() else []
    if value is None:
        return []
    if not isinstance(value, list):
        raise RowError(f"'{what}' must be a list: got {type(value).__name__}")
    return value


def _reply_calls(msg: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    if msg.get("tool_calls"):
        return [call_from_obj(tc) for tc in msg["tool_calls"]], None
    if isinstance(msg.get("function_call"), dict):
        return [call_from_obj(msg["function_call"])], None
    content = msg.get("content")
    if isinstance(content, list):  # structured content blocks
        content = "".join(b.get("text", "") for b in content if isinstance(b, dict))
    content = content if isinstance(content, str) else ""
    if (calls := tool_call_blocks(content)) is not None:
        return calls, None
    if "<answer>" in content or "<ranking>" in content:
        from tooldojo.toolcalls import parse_output

        parsed = parse_output(content)
        if parsed.section == "ranking" or (parsed.ranking is not None and not parsed.calls):
            raise RowError("not a call: the completion holds a ranking (stage-1 row)")
        if parsed.errors:
            raise RowError(f"unreadable <answer> section: {parsed.errors[0]}")
        return [c.to_dict() for c in parsed.calls], None
    return [], content.strip()


def read(row: dict[str, Any]) -> Conversation:
    """One OpenAI/TRL row -> :class:`Conversation`."""
    if "messages" in row:
        messages = _list(row["messages"], "messages")
    elif "prompt" in row and "completion" in row:
        messages = _list(row["prompt"], "prompt") + _list(row["completion"], "completion")
    else:
        raise RowError("not an OpenAI row: needs 'messages' (or 'prompt' and 'completion')")
    tools = _list(row.get("tools", row.get("functions")), "tools")
    if any(not isinstance(m, dict) for m in messages):
        raise RowError("messages must be objects with 'role' and 'content'")
    first_user = next((i for i, m in enumerate(messages) if m.get("role") == "user"), None)
    if first_user is None:
        raise RowError("no user query: no message with role 'user'")
    reply = next((m for m in messages[first_user + 1:] if m.get("role") == "assistant"), None)
    if reply is None:
        raise RowError("no gold answer: no assistant message after the first user message")
    systems = [m.get("content") for m in messages[:first_user] if m.get("role") in ("system", "developer")]
    system = "\n".join(s for s in systems if isinstance(s, str) and s not in _TOOLDOJO_SYSTEMS) or None
    calls, answer = _reply_calls(reply)
    query = messages[first_user].get("content")
    domain = row.get("domain") if isinstance(row.get("domain"), str) else None
    return Conversation(query=query if isinstance(query, str) else "", tools=tools, calls=calls, answer=answer,
                        system=system, domain=domain or None,
                        id=None if row.get("id") is None else str(row["id"]))


def write(conv: Conversation) -> dict[str, Any]:
    """A :class:`Conversation` (tools already normalised) -> one TRL tool-calling row."""
    messages: list[dict[str, Any]] = []
    if conv.system:
        messages.append({"role": "system", "content": conv.system})
    messages.append({"role": "user", "content": conv.query})
    if conv.calls:
        messages.append({"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in conv.calls]})
    else:
        messages.append({"role": "assistant", "content": conv.answer or ""})
    return {"messages": messages,
            "tools": json.dumps([{"type": "function", "function": f} for f in conv.tools], ensure_ascii=False)}


def for_parquet(row: dict[str, Any]) -> dict[str, Any]:
    """A TRL row with each call's arguments pre-encoded as JSON text (Python's exact float repr):
    ``datasets.Json`` keeps valid JSON text as given, while its own encoder rounds floats to 10 digits
    (``8.854e-12`` would be stored as ``0.0``)."""
    messages = []
    for m in row["messages"]:
        if m.get("tool_calls"):
            m = {**m, "tool_calls": [{**tc, "function": {**tc["function"], "arguments": json.dumps(
                tc["function"]["arguments"], ensure_ascii=False)}} for tc in m["tool_calls"]]}
        messages.append(m)
    return {**row, "messages": messages}


def features():
    """``datasets`` features of TRL rows; call arguments are stored as JSON (``datasets.Json``), so each
    call keeps exactly its own keys and loads back as a dict (write rows through :func:`for_parquet`)."""
    from datasets import Features, List, Value

    try:
        from datasets import Json
    except ImportError:  # datasets < 4.4
        from tooldojo.errors import ConfigError

        raise ConfigError("this datasets version cannot store call arguments as JSON in Parquet",
                          field="--file-format", fix="pip install -U datasets, or export with --file-format jsonl") from None
    call = {"type": Value("string"), "function": {"name": Value("string"), "arguments": Json()}}
    message = {"role": Value("string"), "content": Value("string"), "tool_calls": List(call)}
    return Features({"messages": List(message), "tools": Value("string")})
