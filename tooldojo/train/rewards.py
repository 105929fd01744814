"""Tool-Zero's rule-based rewards and its dynamic exploratory -> exploitative schedule.

``R = R_format + R_tool`` with ``R_tool = sigma(t) * r_strict + (1 - sigma(t)) * r_general``:

- :func:`format_reward`: 1 when the completion is one ``<think>`` section followed by the answer section of
  the run's ``call_format`` (``<tool_call>`` JSON for ``json``, ``<answer>`` for ``python``), every call in
  it parsed, nothing else around; else 0.
- :func:`general_reward` (exploratory): ``-0.5 + |Y ∩ Y*| / |Y*|``, the share of the reference answer's
  tokens (tool name, argument keys, argument values) found in the answer, in [-0.5, 0.5].
- :func:`strict_reward` (exploitative): 1 for an exact match of the parsed calls with the gold ones (names,
  keys, values; order-insensitive for parallel calls; ``generate_response`` on the name alone), else 0;
  +0.3 when several gold calls are all matched; -0.3 per argument value the tool's schema rejects.
- :func:`sigma`: ``1 / (1 + exp(-kappa (t - m)))``, ``m`` in steps or as a fraction of ``max_steps``.

Outputs are read with :func:`tooldojo.toolcalls.parse_output`, exactly as the evaluator reads them.
:func:`reward_format` and :func:`reward_tool` are the two TRL reward functions (pure, each computing its own
term); :class:`ToolZeroRewards` binds them to a run's settings and keeps per-step statistics.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tooldojo.records import GENERATE_RESPONSE
from tooldojo.toolcalls import ToolCall, call_matches, parse_output

SECTION_FOR_FORMAT = {"json": "tool_call", "python": "answer"}
MULTI_CALL_BONUS = 0.3
INVALID_VALUE_PENALTY = 0.3
_WORD = re.compile(r"\w+")


# ------------------------------------------------------------------------------------------------ schedule

def resolve_midpoint(midpoint: float, max_steps: int) -> float:
    """The switch point in steps: ``midpoint`` itself, or ``midpoint * max_steps`` when ``midpoint < 1``."""
    return midpoint * max_steps if midpoint < 1 else float(midpoint)


def sigma(step: float, kappa: float = 0.1, midpoint: float = 25, max_steps: int | None = None) -> float:
    """Weight of the exploitative term at training step ``step``: ``1 / (1 + exp(-kappa (step - m)))``.

    ``midpoint < 1`` is a fraction of ``max_steps`` (which must then be given)."""
    if midpoint < 1:
        if not max_steps:
            raise ValueError("a fractional midpoint needs max_steps")
        m = resolve_midpoint(midpoint, max_steps)
    else:
        m = float(midpoint)
    z = -kappa * (step - m)
    if z > 700:  # exp overflow: the weight is 0 to double precision
        return 0.0
    return 1.0 / (1.0 + math.exp(z))


# ------------------------------------------------------------------------------------------------- helpers

def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or a list of chat messages (the last assistant content)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        for message in reversed(completion):
            if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
                content = message.get("content")
                return content if isinstance(content, str) else ""
        return ""
    return str(completion or "")


@dataclass
class GoldCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


def gold_calls(gold_tool: str | Sequence[Any], gold_arguments: str | dict[str, Any] | None = None) -> list[GoldCall]:
    """Gold calls from dataset columns: ``gold_tool`` + ``gold_arguments`` (a dict or its JSON string), or a list
    of ``{"name", "arguments"}`` dicts for parallel calls."""
    if isinstance(gold_tool, str):
        if isinstance(gold_arguments, str):
            args = json.loads(gold_arguments) if gold_arguments.strip() else {}
        else:
            args = dict(gold_arguments or {})
        return [GoldCall(gold_tool, args)]
    return [GoldCall(c["name"], dict(c.get("arguments") or {})) for c in gold_tool]


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _value_tokens(value: Any) -> list[str]:
    if isinstance(value, str):
        return _tokens(value)
    return _tokens(json.dumps(value, ensure_ascii=False))


def reference_tokens(calls: Iterable[GoldCall]) -> list[str]:
    """``Y*``: the gold answer as tokens: each tool name, then its argument keys and values (word tokens,
    case-folded). A ``generate_response`` answer is the name alone (the reply text is free)."""
    out: list[str] = []
    for call in calls:
        out += _tokens(call.name)
        if call.name == GENERATE_RESPONSE:
            continue
        for key, value in call.arguments.items():
            out += _tokens(str(key))
            out += _value_tokens(value)
    return out


def answer_text(text: str) -> str:
    """The answer part of a completion: the ``<tool_call>``/``<answer>`` bodies if present, else the text after
    ``</think>``, else the whole text."""
    bodies = re.findall(r"<tool_call>(.*?)</tool_call>", text, re.S) or re.findall(r"<answer>(.*?)</answer>", text, re.S)
    if bodies:
        return "\n".join(bodies)
    if "</think>" in text:
        return text.rsplit("</think>", 1)[1]
    return text


# ------------------------------------------------------------------------------------------------- rewards

def format_reward(completion: Any, call_format: str = "json") -> float:
    """1.0 for a well-formed completion in the run's ``call_format`` (one think section, then the answer section,
    every call parsed, nothing else), else 0.0."""
    parsed = parse_output(completion_text(completion))
    expected = SECTION_FOR_FORMAT[call_format]
    return 1.0 if parsed.well_formed and parsed.section == expected and parsed.calls else 0.0


def general_reward(completion: Any, gold: Sequence[GoldCall]) -> float:
    """Exploratory ``r_general = -0.5 + |Y ∩ Y*| / |Y*|`` (multiset overlap of the answer's tokens with the
    reference's), in [-0.5, 0.5]. Parsed call names count as answer tokens, so a prose reply read as
    ``generate_response`` matches a ``generate_response`` reference."""
    text = completion_text(completion)
    parsed = parse_output(text)
    ref = Counter(reference_tokens(gold))
    if not ref:
        return 0.5
    answer = Counter(_tokens(answer_text(text)))
    for call in parsed.calls:
        for tok in _tokens(call.name):
            answer[tok] = max(answer[tok], 1)
    overlap = sum((answer & ref).values())
    return -0.5 + overlap / sum(ref.values())


def invalid_values(call: ToolCall, tools: Sequence[dict[str, Any]] | None) -> int:
    """How many of ``call``'s argument values its tool's JSON schema rejects: a key the schema does not declare,
    or a value failing that property's schema (type, enum, ...). Unknown tools count nothing here."""
    if not tools or call.name == GENERATE_RESPONSE:
        return 0
    schema = None
    for tool in tools:
        fn = tool.get("function", tool)
        if fn.get("name") == call.name:
            schema = fn.get("parameters") or {}
            break
    if schema is None:
        return 0
    import jsonschema

    props = schema.get("properties") or {}
    bad = 0
    for key, value in call.arguments.items():
        if key not in props:
            bad += 1 if props or schema.get("additionalProperties") is False else 0
            continue
        try:
            jsonschema.validate(value, props[key])
        except jsonschema.ValidationError:
            bad += 1
        except jsonschema.SchemaError:
            continue
    return bad


def strict_reward(completion: Any, gold: Sequence[GoldCall], tools: Sequence[dict[str, Any]] | None = None) -> float:
    """Exploitative ``r_strict``: 1 when the parsed calls equal the gold calls as a multiset (else 0), +0.3 when
    there are several gold calls and all match, -0.3 per invalid argument value (see :func:`invalid_values`)."""
    parsed = parse_output(completion_text(completion))
    calls = list(parsed.calls)
    exact = bool(calls) and not parsed.errors and len(calls) == len(gold)
    if exact:
        remaining = list(calls)
        for g in gold:
            hit = next((c for c in remaining if call_matches(c, g.name, g.arguments)), None)
            if hit is None:
                exact = False
                break
            remaining.remove(hit)
    score = 1.0 if exact else 0.0
    if exact and len(gold) > 1:
        score += MULTI_CALL_BONUS
    score -= INVALID_VALUE_PENALTY * sum(invalid_values(c, tools) for c in calls)
    return score


@dataclass
class RewardBreakdown:
    """Every term of ``R`` for one completion."""

    format: float
    general: float
    strict: float
    sigma: float

    @property
    def tool(self) -> float:
        return self.sigma * self.strict + (1 - self.sigma) * self.general

    @property
    def total(self) -> float:
        return self.format + self.tool


def score(completion: Any, gold_tool: str | Sequence[Any], gold_arguments: str | dict | None = None, *,
          tools: str | Sequence[dict[str, Any]] | None = None, call_format: str = "json",
          step: float = 0, kappa: float = 0.1, midpoint: float = 25, max_steps: int | None = None) -> RewardBreakdown:
    """All reward terms of one completion against its gold answer at training step ``step``."""
    gold = gold_calls(gold_tool, gold_arguments)
    tool_list = json.loads(tools) if isinstance(tools, str) else tools
    return RewardBreakdown(
        format=format_reward(completion, call_format),
        general=general_reward(completion, gold),
        strict=strict_reward(completion, gold, tool_list),
        sigma=sigma(step, kappa, midpoint, max_steps),
    )


# --------------------------------------------------------------------------------------- TRL reward funcs

def _step(trainer_state: Any, step: int) -> int:
    """The training step: TRL's ``trainer_state.global_step`` when passed, else ``step``."""
    return int(getattr(trainer_state, "global_step", step)) if trainer_state is not None else step


def breakdowns(completions: Sequence[Any], gold_tool: Sequence[Any] | None = None,
               gold_arguments: Sequence[Any] | None = None, tools: Sequence[Any] | None = None, *,
               call_format: str = "json", step: int = 0, kappa: float = 0.1, midpoint: float = 25,
               max_steps: int | None = None) -> list[RewardBreakdown]:
    """:func:`score` for a batch of TRL completions with their dataset columns (a missing ``gold_tool`` is
    ``generate_response``, missing ``gold_arguments`` are ``{}``)."""
    n = len(completions)
    return [score(completion_text(c), gt, ga, tools=tl, call_format=call_format, step=step, kappa=kappa,
                  midpoint=midpoint, max_steps=max_steps)
            for c, gt, ga, tl in zip(completions, gold_tool or [GENERATE_RESPONSE] * n,
                                     gold_arguments or ["{}"] * n, tools or [None] * n, strict=True)]


def reward_format(completions: Sequence[Any], call_format: str = "json", **kwargs: Any) -> list[float]:
    """TRL reward function for ``R_format``: :func:`format_reward` of each completion.

    >>> reward_format(['<think>map fits</think><tool_call>{"name": "map_search", "arguments": {}}</tool_call>',
    ...                'I would use map_search.'])
    [1.0, 0.0]
    """
    return [format_reward(c, call_format) for c in completions]


def reward_tool(completions: Sequence[Any], gold_tool: Sequence[Any] | None = None,
                gold_arguments: Sequence[Any] | None = None, tools: Sequence[Any] | None = None,
                trainer_state: Any = None, *, step: int = 0, kappa: float = 0.1, midpoint: float = 25,
                max_steps: int | None = None, **kwargs: Any) -> list[float]:
    """TRL reward function for ``R_tool = sigma(t) r_strict + (1 - sigma(t)) r_general`` of each completion
    against the dataset columns ``gold_tool``/``gold_arguments``/``tools``; ``t`` is ``trainer_state``'s step
    (else ``step``).

    >>> right = '<think>.</think><tool_call>{"name": "map_search", "arguments": {"q": "cafe"}}</tool_call>'
    >>> reward_tool([right, 'no idea'], ["map_search"] * 2, ['{"q": "cafe"}'] * 2, step=25, kappa=0.1, midpoint=25)
    [0.75, -0.25]
    """
    return [b.tool for b in breakdowns(completions, gold_tool, gold_arguments, tools,
                                       step=_step(trainer_state, step), kappa=kappa, midpoint=midpoint,
                                       max_steps=max_steps)]


class ToolZeroRewards:
    """Tool-Zero's reward functions bound to a run's settings, for TRL's ``GRPOTrainer``, plus per-step
    statistics for the logs.

    ``reward_funcs=[rewards.format_fn, rewards.tool_fn]`` (weights 1 and 1, so TRL's ``reward`` is ``R``; TRL
    logs them as ``reward_format`` and ``reward_tool``). Each computes its own term, in any call order; ``tool_fn``
    also records every term of its batch for :meth:`pop_stats` and :meth:`pop_samples`. The step comes from
    ``trainer_state`` (TRL >= 0.16) or from :attr:`step`, which the training callback keeps current.
    """

    def __init__(self, *, call_format: str = "json", kappa: float = 0.1, midpoint: float = 25,
                 max_steps: int = 50, log_samples: int = 2):
        self.call_format = call_format
        self.kappa, self.midpoint, self.max_steps = kappa, midpoint, max_steps
        self.log_samples = log_samples
        self.step = 0
        self._pending: list[tuple[int, RewardBreakdown]] = []
        self._samples: list[dict[str, Any]] = []
        self.format_fn = partial(reward_format, call_format=call_format)
        self.tool_fn = self.reward_tool

    def reward_tool(self, completions: Sequence[Any], prompts: Sequence[Any] | None = None,
                    gold_tool: Sequence[Any] | None = None, gold_arguments: Sequence[Any] | None = None,
                    tools: Sequence[Any] | None = None, trainer_state: Any = None, **kwargs: Any) -> list[float]:
        """:func:`reward_tool` with this run's schedule, recording the batch's terms."""
        step = _step(trainer_state, self.step)
        out = breakdowns(completions, gold_tool, gold_arguments, tools, call_format=self.call_format, step=step,
                         kappa=self.kappa, midpoint=self.midpoint, max_steps=self.max_steps)
        self._pending += [(step, b) for b in out]
        if self.log_samples and prompts is not None:
            for prompt, completion, b in list(zip(prompts, completions, out, strict=False))[: self.log_samples]:
                self._samples.append({"step": step + 1,
                                      "prompt": completion_text(prompt) if not isinstance(prompt, str) else prompt,
                                      "completion": completion_text(completion), "reward": round(b.total, 4),
                                      "reward_format": b.format, "reward_general": round(b.general, 4),
                                      "reward_strict": b.strict})
        return [b.tool for b in out]

    def sigma_at(self, step: float) -> float:
        return sigma(step, self.kappa, self.midpoint, self.max_steps)

    def pop_stats(self) -> dict[str, float] | None:
        """Means of every term since the last call (``None`` if no completion was scored since)."""
        if not self._pending:
            return None
        items = [b for _, b in self._pending]
        n = len(items)
        step = self._pending[-1][0]
        self._pending = []
        s = self.sigma_at(step)
        return {
            "sigma": s,
            "weight_strict": s,
            "weight_general": 1 - s,
            "reward_format": sum(b.format for b in items) / n,
            "reward_general": sum(b.general for b in items) / n,
            "reward_strict": sum(b.strict for b in items) / n,
            "reward_tool": sum(b.tool for b in items) / n,
            "reward": sum(b.total for b in items) / n,
        }

    def pop_samples(self) -> list[dict[str, Any]]:
        out, self._samples = self._samples, []
        return out
