"""Row schema of tooldojo's scenario datasets (what ``split`` writes and ``train``/``eval`` read).

On disk a dataset is a folder with three configs, each a ``DatasetDict`` saved as Parquet::

    dataset/
      README.md            dataset card
      rank/train.parquet   stage 1 (ranking) SFT rows
      select/train.parquet stage 2 (selection + call) SFT rows, also the RL prompts
      eval/<scenario>.parquet  one split per generalization scenario (see records.SCENARIOS)

Every row has the :class:`~tooldojo.records.Example` fields (``gold_arguments`` as a JSON string) plus
``tools``: a JSON string of OpenAI tool entries (``{"type": "function", "function": ...}``), the candidate
tools in display order with ``generate_response`` last, exactly as TRL's trainers and chat templates read
it. ``rank``/``select`` rows add ``prompt`` and ``completion`` (chat message lists, TRL's conversational
prompt-completion format); ``eval`` rows add ``prompt`` for the select task.
"""

from __future__ import annotations

import json
from typing import Any

from datasets import Features, List, Value

from tooldojo.prompting import CallFormat, Rationale, Task, build_completion, build_prompt, openai_tools
from tooldojo.records import GENERATE_RESPONSE, Example

CONFIGS = ("rank", "select", "eval")

_MESSAGE = {"role": Value("string"), "content": Value("string")}

BASE_FEATURES = {
    "example_id": Value("string"),
    "query_id": Value("string"),
    "family_id": Value("string"),
    "domain": Value("string"),
    "scenario": Value("string"),
    "kind": Value("string"),
    "style": Value("string"),
    "query": Value("string"),
    "tools": Value("string"),
    "gold_tool": Value("string"),
    "gold_arguments": Value("string"),
    "gold_ranking": List(Value("string")),
    "weak_tool": Value("string"),
    "strong_tool": Value("string"),
    "capability_gap": Value("string"),
    "needs": Value("string"),
}


def features(config: str) -> Features:
    """Explicit ``datasets`` features of a config (``rank``, ``select`` or ``eval``)."""
    feats = dict(BASE_FEATURES, prompt=List(_MESSAGE))
    if config in ("rank", "select"):
        feats["completion"] = List(_MESSAGE)
    return Features(feats)


def example_to_row(example: Example, config: str, call_format: CallFormat = "json",
                   rationale: Rationale = "tool_first") -> dict[str, Any]:
    """An :class:`Example` as a row of ``config`` (``rationale``: how SFT targets open their <think>)."""
    task: Task = "rank" if config == "rank" else "select"
    row = example.model_dump(exclude={"tools", "gold_arguments"})
    row["tools"] = json.dumps(openai_tools(example.tools), ensure_ascii=False)
    row["gold_arguments"] = json.dumps(example.gold_arguments, ensure_ascii=False, sort_keys=True)
    row["prompt"] = build_prompt(example.query, task, call_format)
    if config in ("rank", "select"):
        row["completion"] = [{"role": "assistant", "content": build_completion(example, task, call_format,
                                                                              style=rationale)}]
    return row


def row_to_example(row: dict[str, Any]) -> Example:
    """A dataset row back to an :class:`Example` (``generate_response`` dropped from ``tools``)."""
    data = {k: row.get(k) for k in Example.model_fields}
    data["tools"] = [t["function"] for t in json.loads(row["tools"]) if t["function"]["name"] != GENERATE_RESPONSE]
    data["gold_arguments"] = json.loads(row["gold_arguments"]) if row.get("gold_arguments") else {}
    return Example.model_validate(data)
