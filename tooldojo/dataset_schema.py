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
from collections.abc import Sequence
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


def _gold_arguments(example: Example) -> str:
    return json.dumps(example.gold_arguments, ensure_ascii=False, sort_keys=True)


def _task_fields(example: Example, config: str, call_format: CallFormat, rationale: Rationale) -> dict[str, Any]:
    """A row's ``prompt`` and, for ``rank``/``select``, ``completion`` (its <think> opening as ``rationale``
    says)."""
    task: Task = "rank" if config == "rank" else "select"
    fields: dict[str, Any] = {"prompt": build_prompt(example.query, task, call_format)}
    if config in ("rank", "select"):
        fields["completion"] = [{"role": "assistant",
                                 "content": build_completion(example, task, call_format, style=rationale)}]
    return fields


def example_to_row(example: Example, config: str, call_format: CallFormat = "json",
                   rationale: Rationale = "verdict_first") -> dict[str, Any]:
    """An :class:`Example` as a row of ``config`` (one at a time; :func:`base_columns` and
    :func:`task_columns` render many)."""
    row = example.model_dump(exclude={"tools", "gold_arguments"})
    row["tools"] = json.dumps(openai_tools(example.tools), ensure_ascii=False)
    row["gold_arguments"] = _gold_arguments(example)
    row.update(_task_fields(example, config, call_format, rationale))
    return row


class ToolsJson:
    """Renders candidate tool lists as the ``tools`` column's JSON string, each distinct tool schema once.

    The result is ``json.dumps(openai_tools(tools), ensure_ascii=False)``: a JSON list is its entries' JSON
    joined by ``", "``, and an entry's JSON depends only on its function schema, so each schema object is
    dumped on first sight and looked up by identity after (examples share their family's schema objects).
    """

    def __init__(self) -> None:
        # id -> (schema, its entry's JSON); holding the schema keeps its id from being reused
        self._seen: dict[int, tuple[dict[str, Any], str]] = {}

    def __call__(self, tools: list[dict[str, Any]]) -> str:
        parts = []
        for entry in openai_tools(tools):
            fn = entry["function"]
            hit = self._seen.get(id(fn))
            if hit is None:
                hit = self._seen[id(fn)] = (fn, json.dumps(entry, ensure_ascii=False))
            parts.append(hit[1])
        return "[" + ", ".join(parts) + "]"


def base_columns(examples: Sequence[Example], tools_json: ToolsJson | None = None) -> dict[str, list[Any]]:
    """The :data:`BASE_FEATURES` columns of ``examples`` (the rows of :func:`example_to_row`, by column);
    pass one ``tools_json`` to every call of a build to render each tool once."""
    tools_json = tools_json or ToolsJson()
    cols = {name: [getattr(e, name) for e in examples] for name in BASE_FEATURES}
    cols["tools"] = [tools_json(e.tools) for e in examples]
    cols["gold_arguments"] = [_gold_arguments(e) for e in examples]
    return cols


def task_columns(examples: Sequence[Example], config: str, call_format: CallFormat = "json",
                 rationale: Rationale = "verdict_first") -> dict[str, list[Any]]:
    """The columns of ``config`` beyond :data:`BASE_FEATURES` (``prompt``, ``completion``) for ``examples``."""
    rows = [_task_fields(e, config, call_format, rationale) for e in examples]
    return {name: [r[name] for r in rows] for name in features(config) if name not in BASE_FEATURES}


def row_to_example(row: dict[str, Any]) -> Example:
    """A dataset row back to an :class:`Example` (``generate_response`` dropped from ``tools``)."""
    data = {k: row.get(k) for k in Example.model_fields}
    data["tools"] = [t["function"] for t in json.loads(row["tools"]) if t["function"]["name"] != GENERATE_RESPONSE]
    data["gold_arguments"] = json.loads(row["gold_arguments"]) if row.get("gold_arguments") else {}
    return Example.model_validate(data)
