"""The scenario evaluation sets: loading, seeded sampling, and the generation requests built from them."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooldojo.errors import ConfigError
from tooldojo.eval.generation import GenRequest
from tooldojo.prompting import build_prompt
from tooldojo.records import SCENARIOS, VALIDATION
from tooldojo.stopping import STOPS

MAX_NEW_TOKENS = {"select": 192, "rank": 128}
"""Per-task generation caps (``eval.max_new_tokens`` unset): the gold completions of the seed-catalog data take at
most 157 tokens for a JSON call (99th percentile 134) and 85 for a ranking, <think> included."""


def load_eval_sets(path: str | Path) -> dict[str, Any]:
    """``scenario -> datasets.Dataset``: the ``eval`` config of a scenario dataset folder or Hub repo id."""
    from tooldojo.dataset_io import load_dataset_dir

    return dict(load_dataset_dir(str(path), "eval"))


def select_scenarios(available: Iterable[str], wanted: list[str] | None) -> list[str]:
    """The scenarios to run, in :data:`~tooldojo.records.SCENARIOS` order (extra splits after them).
    ``validation`` runs only when asked for, and alone: it is for choosing settings, not a test set, and the
    overall metrics of one evaluation pool every scenario it ran."""
    available = list(available)
    if wanted:
        missing = [s for s in wanted if s not in available]
        if missing:
            raise ConfigError(f"no eval split named {missing}", field="eval.scenarios",
                              fix=f"choose from {', '.join(available)}")
        if VALIDATION in wanted and len(set(wanted)) > 1:
            raise ConfigError("validation is evaluated on its own", field="eval.scenarios",
                              fix="run `--set eval.scenarios=[validation]` and the test scenarios separately")
        return [s for s in available if s in wanted]
    return [s for s in SCENARIOS if s in available] + sorted(s for s in available
                                                             if s not in SCENARIOS and s != VALIDATION)


def sample_rows(rows: list[dict[str, Any]], limit: int | None, seed: int) -> list[dict[str, Any]]:
    """At most ``limit`` rows, sampled by whole queries (seeded), so Zero-to-One pairs stay together."""
    if limit is None or len(rows) <= limit:
        return rows
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["query_id"], []).append(row)
    ids = sorted(groups)
    random.Random(seed).shuffle(ids)
    out: list[dict[str, Any]] = []
    for qid in ids:
        if out and len(out) + len(groups[qid]) > limit:
            continue
        out.extend(groups[qid])
        if len(out) >= limit:
            break
    return out[:limit]


@dataclass
class EvalItem:
    """One (example, task) pair to generate for and score."""

    key: str
    task: str
    row: dict[str, Any]
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]

    def request(self) -> GenRequest:
        return GenRequest(key=self.key, messages=self.messages, tools=self.tools, stop=STOPS[self.task],
                          tool_choice="none" if self.task == "rank" else None,
                          max_new_tokens=MAX_NEW_TOKENS[self.task])


def build_items(sets: dict[str, Any], scenarios: list[str], tasks: list[str], *, limit: int | None, seed: int,
                call_format: str | None) -> list[EvalItem]:
    """Every (example, task) of the chosen scenarios, sampled per scenario, in a stable order."""
    items = []
    for scenario in scenarios:
        rows = sample_rows(list(sets[scenario]), limit, seed)
        for task in tasks:
            for row in rows:
                tools = json.loads(row["tools"])
                if task == "rank":
                    messages = build_prompt(row["query"], "rank")
                elif call_format or not row.get("prompt"):
                    messages = build_prompt(row["query"], "select", call_format or "json")
                else:
                    messages = [dict(m) for m in row["prompt"]]
                items.append(EvalItem(key=f"{task}:{scenario}:{row['example_id']}", task=task, row=row,
                                      messages=messages, tools=tools))
    return items
