"""Parse model outputs into tool calls and rankings, and compare calls with gold ones.

Shared by the RL rewards (``train/rewards.py``) and the evaluator, so both read outputs the same way.
Accepted forms, in order of precedence:

- ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` (tooldojo's and Hermes/Qwen's), one or more;
- ``<answer>...</answer>`` holding JSON calls or Python-style calls ``name(a=1, b="x")`` (Tool-Zero), or a
  plain-text direct reply (read as ``generate_response``);
- inside ``<tool_call>``, also Qwen3-Coder's XML (``<function=f><parameter=a>1</parameter></function>``) and
  Python dict literals;
- ``<ranking>["a", "b"]</ranking>`` (stage 1), also ``a > b > c``;
- bare JSON anywhere in the text: ``{"name": ..., "arguments": ...}``, a list of those, or OpenAI's
  ``{"function": {"name": ..., "arguments": "<json string>"}}``;
- a text that is nothing but Python-style calls, ``[f(a=1), g(b=2)]`` (Llama 3.2, BFCL prompting);
- OpenAI ``tool_calls`` from an endpoint (:func:`from_openai_tool_calls`).

Nothing here raises on bad model output: problems are reported in :attr:`Parsed.errors`. The readers of
one call object (:func:`call_from_obj`) and of Python-style calls (:func:`calls_from_python`) also serve the
dataset importers (``formats/parsing.py``), which read the same forms from dataset rows.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tooldojo.records import GENERATE_RESPONSE

_THINK = re.compile(r"<think>(.*?)</think>", re.S)
_TOOL_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.S)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)
_RANKING = re.compile(r"<ranking>(.*?)</ranking>", re.S)
_STRICT = {
    "tool_call": re.compile(r"\s*<think>(?:(?!<think>).)*?</think>\s*(?:<tool_call>(?:(?!<tool_call>).)*?</tool_call>\s*)+", re.S),
    "answer": re.compile(r"\s*<think>(?:(?!<think>).)*?</think>\s*<answer>(?:(?!<answer>).)*?</answer>\s*", re.S),
    "ranking": re.compile(r"\s*<think>(?:(?!<think>).)*?</think>\s*<ranking>(?:(?!<ranking>).)*?</ranking>\s*", re.S),
}


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}


@dataclass
class Parsed:
    """What a model output says."""

    think: str | None = None
    calls: list[ToolCall] = field(default_factory=list)
    ranking: list[str] | None = None
    errors: list[str] = field(default_factory=list)
    well_formed: bool = False
    """Strict format: one <think> section, then only <tool_call> sections, or one <answer>, or one
    <ranking>, and nothing else outside them; every call inside parsed."""
    section: str | None = None
    """Which answer form was found: ``tool_call``, ``answer``, ``ranking``, ``json``, ``python`` or ``None``."""

    @property
    def tool(self) -> str | None:
        """The first called tool's name (``None`` if no call was found)."""
        return self.calls[0].name if self.calls else None

    @property
    def malformed(self) -> bool:
        return (not self.calls and self.ranking is None) or bool(self.errors)

    def to_dict(self) -> dict[str, Any]:
        return {"think": self.think, "calls": [c.to_dict() for c in self.calls], "ranking": self.ranking,
                "errors": self.errors, "well_formed": self.well_formed, "section": self.section}


def call_from_obj(obj: Any, loads: Callable[[str], Any] = json.loads) -> ToolCall:
    """One call from ``{"name", "arguments"}`` (arguments possibly a string read by ``loads``, or under
    ``parameters``), also OpenAI's ``{"function": {...}}``. Raises ``ValueError`` naming the problem."""
    if not isinstance(obj, dict):
        raise ValueError("a tool call must be an object")
    if "function" in obj and isinstance(obj["function"], dict):  # OpenAI tool_calls entry
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("a tool call has no name")
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):  # OpenAI sends arguments as a JSON string
        args = loads(args) if args.strip() else {}
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ValueError(f"arguments of a call to {name} must be an object")
    return ToolCall(name, args)


def _calls_from_json_text(text: str) -> list[ToolCall]:
    data = json.loads(text)
    items = data if isinstance(data, list) else [data]
    return [call_from_obj(item) for item in items]


def calls_from_python(text: str, names: Iterable[str] = ()) -> list[ToolCall]:
    """``[f(a=1), g(b="x")]`` (or one call without brackets) -> calls; values are Python literals or JSON
    spellings (``true``/``false``/``null``). Names may hold spaces, dots or dashes when they are among ``names``
    (the offered tools). Raises ``SyntaxError``/``ValueError`` naming the problem."""
    body = text.strip()
    placeholders: dict[str, str] = {}
    for i, name in enumerate(sorted(set(names), key=len, reverse=True)):
        token = f"__tooldojo_fn_{i}__"
        pattern = re.compile(r"(?<![\w.])" + re.escape(name) + r"\s*\(")
        if pattern.search(body):
            body = pattern.sub(token + "(", body)
            placeholders[token] = name
    tree = ast.parse(body, mode="eval").body
    nodes = tree.elts if isinstance(tree, (ast.Tuple, ast.List)) else [tree]
    calls = []
    for node in nodes:
        if not isinstance(node, ast.Call):
            raise ValueError("expected a function call like name(arg=value)")
        if node.args:
            raise ValueError("positional arguments are not allowed; write arg=value")
        name = ast.unparse(node.func)
        args = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise ValueError("**kwargs is not allowed")
            args[kw.arg] = _literal(kw.value)
        calls.append(ToolCall(placeholders.get(name, name), args))
    return calls


def _literal(node: ast.AST) -> Any:
    """A literal value, accepting JSON's ``true``/``false``/``null`` at any depth; tuples read as lists."""
    if isinstance(node, ast.Name) and node.id in ("true", "false", "null"):  # JSON spellings
        return {"true": True, "false": False, "null": None}[node.id]
    if isinstance(node, ast.List):
        return [_literal(n) for n in node.elts]
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True)}
    value = ast.literal_eval(node)
    return list(value) if isinstance(value, tuple) else value


def _bare_json_calls(text: str) -> list[ToolCall]:
    """Calls from the first JSON object/list in free text that looks like a call."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        items = obj if isinstance(obj, list) else [obj]
        if items and all(isinstance(i, dict) and ("name" in i or "function" in i) for i in items):
            try:
                return [call_from_obj(i) for i in items]
            except (ValueError, json.JSONDecodeError):
                continue
    return []


_XML_FUNCTION = re.compile(r"^\s*<function=([^>\s]+)>(.*?)</function>\s*$", re.S)
_XML_PARAMETER = re.compile(r"<parameter=([^>\s]+)>(.*?)</parameter>", re.S)


def _calls_from_tool_call_variant(body: str) -> list[ToolCall]:
    """Other bodies seen inside ``<tool_call>``: Qwen3-Coder's XML (``<function=f><parameter=a>1</parameter>
    </function>``) and a Python dict literal (``{'name': 'f', 'arguments': {...}}``). ``[]`` if neither."""
    if m := _XML_FUNCTION.match(body):
        args: dict[str, Any] = {}
        for key, raw in _XML_PARAMETER.findall(m.group(2)):
            raw = raw.strip()
            try:
                args[key] = json.loads(raw)
            except json.JSONDecodeError:
                args[key] = raw
        return [ToolCall(m.group(1), args)]
    try:
        data = ast.literal_eval(body.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return []
    try:
        return [call_from_obj(item) for item in (data if isinstance(data, list) else [data])]
    except (ValueError, json.JSONDecodeError):
        return []


def _bare_python_calls(text: str) -> list[ToolCall]:
    """Calls from a text that is nothing but Python-style calls, e.g. ``[f(a=1), g(b="x")]`` (Llama 3.2's
    and BFCL's prompting format). ``[]`` otherwise."""
    body = text.strip()
    if not body or not re.match(r"^\[?\s*[A-Za-z_][\w.]*\s*\(", body):
        return []
    try:
        return calls_from_python(body)
    except (SyntaxError, ValueError):
        return []


def _parse_ranking(body: str) -> list[str]:
    body = body.strip()
    try:
        data = json.loads(body)
        if isinstance(data, list) and all(isinstance(x, str) for x in data):
            return [x.strip() for x in data]
    except json.JSONDecodeError:
        pass
    sep = ">" if ">" in body else ","
    return [part.strip().strip("\"'`[] ") for part in body.split(sep) if part.strip().strip("\"'`[] ")]


def parse_output(text: str) -> Parsed:
    """Parse one model completion. Never raises; see :class:`Parsed`."""
    out = Parsed()
    thinks = _THINK.findall(text)
    out.think = thinks[0].strip() if thinks else None

    if blocks := _TOOL_CALL.findall(text):
        out.section = "tool_call"
        for body in blocks:
            try:
                out.calls.extend(_calls_from_json_text(body))
            except (ValueError, json.JSONDecodeError) as err:
                if calls := _calls_from_tool_call_variant(body):
                    out.calls.extend(calls)
                else:
                    out.errors.append(f"tool_call: {err}")
    elif answers := _ANSWER.findall(text):
        out.section = "answer"
        body = answers[0].strip()
        try:
            out.calls = _calls_from_json_text(body)
        except (ValueError, json.JSONDecodeError):
            try:
                out.calls = calls_from_python(body)
            except (SyntaxError, ValueError) as err:
                if body and "(" not in body:  # a direct reply in prose
                    out.calls = [ToolCall(GENERATE_RESPONSE, {"response": body})]
                else:
                    out.errors.append(f"answer: {err}")
    if rankings := _RANKING.findall(text):
        out.ranking = _parse_ranking(rankings[0])
        out.section = out.section or "ranking"
    if out.section is None and (calls := _bare_json_calls(text)):
        out.section, out.calls = "json", calls
    if out.section is None and (calls := _bare_python_calls(_THINK.sub("", text))):
        out.section, out.calls = "python", calls

    strict = _STRICT.get(out.section or "")
    out.well_formed = bool(strict and strict.fullmatch(text) and len(thinks) == 1 and not out.errors)
    return out


def from_openai_tool_calls(tool_calls: list[Any] | None, content: str | None = None) -> Parsed:
    """A :class:`Parsed` from an OpenAI chat-completions message (``tool_calls`` objects or dicts).

    A message without tool calls is parsed from its text; plain prose counts as ``generate_response``.
    """
    if not tool_calls:
        parsed = parse_output(content or "")
        if not parsed.calls and parsed.ranking is None and content and content.strip():
            parsed.calls = [ToolCall(GENERATE_RESPONSE, {"response": content.strip()})]
            parsed.section, parsed.well_formed = "text", True
        return parsed
    out = Parsed(section="tool_calls", well_formed=True)
    for tc in tool_calls:
        obj = tc if isinstance(tc, dict) else tc.model_dump()
        try:
            out.calls.append(call_from_obj(obj))
        except (ValueError, json.JSONDecodeError) as err:
            out.errors.append(f"tool_calls: {err}")
            out.well_formed = False
    return out


# ---------------------------------------------------------------------------------------------- matching

def normalize_value(value: Any) -> Any:
    """Canonical form for comparing argument values: strings trimmed and case-folded, ints and floats
    unified, lists/dicts normalised recursively (lists keep their order)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    if isinstance(value, (list, tuple)):
        return [normalize_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): normalize_value(v) for k, v in value.items()}
    return value


def values_equal(a: Any, b: Any) -> bool:
    return normalize_value(a) == normalize_value(b)


@dataclass
class ArgScore:
    """How well predicted arguments match gold ones (for one call with the right name)."""

    key_precision: float
    key_recall: float
    value_accuracy: float
    """Share of gold keys whose predicted value equals the gold value."""
    exact: bool
    """Same keys and every value equal."""


def score_arguments(pred: dict[str, Any], gold: dict[str, Any]) -> ArgScore:
    pk, gk = set(pred), set(gold)
    common = pk & gk
    prec = len(common) / len(pk) if pk else 1.0
    rec = len(common) / len(gk) if gk else 1.0
    correct = sum(values_equal(pred[k], gold[k]) for k in common)
    vacc = correct / len(gk) if gk else 1.0
    return ArgScore(prec, rec, vacc, exact=pk == gk and correct == len(gk))


def call_matches(pred: ToolCall, gold_name: str, gold_args: dict[str, Any]) -> bool:
    """Exact match: same tool and same arguments (``generate_response`` matches on the name alone)."""
    if pred.name != gold_name:
        return False
    if gold_name == GENERATE_RESPONSE:
        return True
    return score_arguments(pred.arguments, gold_args).exact
