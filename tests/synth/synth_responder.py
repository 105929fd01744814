"""A stub responder that answers tooldojo's synth requests over HTTP, so ``tooldojo synth --base-url <stub>``
produces a valid dataset. It reads only what a real server gets: the messages and ``response_format``.

The step comes from ``response_format.json_schema.name`` (``tooldojo_<step>``), or, when the client fell back
to plain text, from the response schema appended to the prompt. Everything else is parsed from the first
user message (the rendered template): ``Domain: ...``, counts, the JSON code blocks holding the tools, and
the numbered plan lines. Answers are a pure function of the request, so reruns are deterministic.

Each tool is about its own topic (:data:`TOPICS`), named in its description and in its queries, so
families differ in meaning as they would with a real teacher. Knobs (constructor arguments) make it misbehave on purpose: ``bad_tools`` (every other tool is invalid),
``bad_args`` (gold arguments of strong-needing queries fail the schema), ``repair`` (``"fix"`` or
``"keep"``: what the repair step answers), ``reject_word`` (the verifier rejects queries containing it), ``narrow_upgrade`` (the upgrade limits
the weak tool's free-text ``keyword`` to an enum, so its schema no longer covers the weak one) and ``vouch``
(what the verifier says about such an upgrade: ``True``/``False``, or ``None`` to say nothing).
"""

from __future__ import annotations

import json
import re
from typing import Any

from tooldojo.synth.steps import RESPONSE_SCHEMAS
from tooldojo.synth.steps.arguments import repair_arguments

_BLOCK = re.compile(r"```json\n(.*?)\n```", re.S)
_TOPIC = re.compile(r"^Look up (.+?) in the ")
TOPICS = ("weather forecasts", "restaurant reviews", "stock prices", "flight departures", "song lyrics",
          "football scores", "cooking recipes", "hotel rooms", "movie showtimes", "currency rates",
          "hiking trails", "medical symptoms")
"""What each generated tool is about (distinct per tool of the test domains, for the meaning checks)."""
_PLAN = re.compile(r"^\d+\. style: (\S+); needs: (weak|strong)$", re.M)


def _step(body: dict[str, Any]) -> str:
    fmt = body.get("response_format") or {}
    name = (fmt.get("json_schema") or {}).get("name", "")
    if name.startswith("tooldojo_"):
        return name.removeprefix("tooldojo_")
    last = body["messages"][-1]["content"]
    for step, schema in RESPONSE_SCHEMAS.items():
        if json.dumps(schema, ensure_ascii=False) in last:
            return step
    raise ValueError("cannot tell which synth step this request is")


def _value(schema: dict[str, Any], i: int) -> Any:
    if "enum" in schema:
        return schema["enum"][i % len(schema["enum"])]
    kind = schema.get("type")
    if kind == "integer":
        return int(schema.get("minimum", 1)) + i % 3
    if kind == "number":
        return float(schema.get("minimum", 1)) + 0.5
    if kind == "boolean":
        return True
    if kind == "array":
        return [_value(schema.get("items", {"type": "string"}), i)]
    if kind == "object":
        return {}
    return f"value {i}"


def _call(fn: dict[str, Any], i: int, extra: str | None = None) -> dict[str, Any]:
    props = fn["parameters"]["properties"]
    args = {p: _value(props[p], i) for p in fn["parameters"].get("required", [])}
    if extra:
        args[extra] = _value(props[extra], i)
    return args


class SynthResponder:
    """``responder(body) -> content`` for :class:`openai_stub.OpenAIStub`."""

    def __init__(self, *, bad_tools: bool = False, bad_args: bool = False, repair: str = "fix",
                 reject_word: str | None = None, narrow_upgrade: bool = False, vouch: bool | None = None):
        self.bad_tools, self.bad_args, self.repair, self.reject_word = bad_tools, bad_args, repair, reject_word
        self.narrow_upgrade, self.vouch = narrow_upgrade, vouch

    def __call__(self, body: dict[str, Any]) -> str:
        step = _step(body)
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        user = user.split("\n\nReply with only one JSON object that matches this JSON Schema")[0]  # fallback hint
        blocks = [json.loads(b) for b in _BLOCK.findall(user)]
        return json.dumps(getattr(self, f"_{step}")(user, blocks))

    def _tools(self, user: str, blocks: list) -> dict[str, Any]:
        domain = re.search(r"^Domain: (\S+)", user, re.M).group(1)
        count = int(re.search(r"Write (\d+) new tools", user).group(1))
        done = re.search(r"Tools already written for this domain[^:]*: (.*)\.$", user, re.M)
        start = len(done.group(1).split(", ")) if done else 0
        tools = []
        for k in range(start, start + count):
            topic = TOPICS[(7 * len(domain) + k) % len(TOPICS)]
            tool = {"name": f"{domain}_lookup_{k}",
                    "description": f"Look up {topic} in the {domain} catalogue by keyword.",
                    "parameters": {"type": "object", "required": ["keyword"], "properties": {
                        "keyword": {"type": "string", "description": "What to look up."}}}}
            if self.bad_tools and k % 2:
                tool["parameters"]["required"] = ["keyword", "missing_param"]
            tools.append(tool)
        return {"tools": tools}

    def _upgrade(self, user: str, blocks: list) -> dict[str, Any]:
        weak = blocks[0]
        props = dict(weak["parameters"]["properties"])
        props["sort_by"] = {"type": "string", "enum": ["relevance", "date"], "description": "Order of results."}
        props["max_results"] = {"type": "integer", "minimum": 1, "maximum": 50, "description": "How many results."}
        params = {**weak["parameters"], "properties": props}
        if self.narrow_upgrade:  # the upgrade takes a string parameter and makes it an enum
            props["keyword"] = {**props["keyword"], "enum": ["new", "popular"]}
        strong = {"name": weak["name"] + "_pro", "description": weak["description"] + " Sortable, with limits.",
                  "parameters": params}
        return {"strong": strong, "capability_gap": "can sort results by date and limit how many come back"}

    def _weaken(self, user: str, blocks: list) -> dict[str, Any]:
        strong = blocks[0]
        params = strong["parameters"]
        required = params.get("required", [])
        props = {k: v for k, v in params["properties"].items() if k in required}
        weak = {"name": strong["name"] + "_lite", "description": strong["description"] + " (lite)",
                "parameters": {"type": "object", "properties": props, "required": required}}
        return {"weak": weak, "capability_gap": "has none of the optional parameters", "domain": "imported"}

    def _queries(self, user: str, blocks: list) -> dict[str, Any]:
        weak, strong = blocks[0], blocks[1]
        extra = next((p for p in strong["parameters"]["properties"] if p not in weak["parameters"]["properties"]), None)
        out = []
        for i, (style, needs) in enumerate(_PLAN.findall(user)):
            calls = {"weak": _call(weak, i), "strong": _call(strong, i, extra if needs == "strong" else None)}
            if needs == "strong" and self.bad_args and extra:
                calls["strong"][extra] = "not-a-valid-value"
            topic = _TOPIC.search(strong["description"])
            about = f" about {topic.group(1)}" if topic else ""
            text = f"{style} request {i}{about} for {strong['name']}" + (" sorted by date" if needs == "strong" else "")
            out.append({"text": text, "style": style, "needs": needs, "calls": calls})
            if i % 2 == 0:  # the answer is optional: every other query has one
                out[-1]["answer"] = f"Without a tool I cannot do this: {text}."
        return {"queries": out}

    def _arguments(self, user: str, blocks: list) -> dict[str, Any]:
        tool, args = blocks[0], blocks[1]
        return {"arguments": repair_arguments(tool, args) if self.repair == "fix" else args}

    def _verify(self, user: str, blocks: list) -> dict[str, Any]:
        queries = blocks[2:]
        out: dict[str, Any] = {"verdicts": [{"index": q["index"], "reason": "ok",
                                             "accept": not (self.reject_word and self.reject_word in q["text"])}
                                            for q in queries]}
        if self.vouch is not None and "does not cover the weak tool's" in user:
            out["upgrade"] = {"stronger": self.vouch, "reason": "it sorts and limits results"}
        return out
