"""Training data: the split stage's ``rank``/``select`` datasets, sampled, length-filtered and shaped for TRL.

- SFT rows are TRL's conversational prompt-completion rows rendered through the chat template with the row's
  ``tools`` and tokenized the way ``SFTTrainer`` does it (``input_ids`` + ``completion_mask``: loss on the
  completion only).
- RL rows carry the prompt already rendered by the chat template with the row's tools (``GRPOTrainer``
  renders only trainer-wide tools), and the gold columns the rewards read.

A row longer than the budget first loses distractor tools (other families' tools, longest first; the family's
tools, the gold answer's and ``generate_response`` always stay) until it fits; a row that still does not fit is
left out and counted, never cut: a cut prompt loses tools, a cut completion loses the call. A Zero-to-One pair
is left out whole: when a query's ``one`` row (its ``zero`` row plus the added tool, so always the longer) does
not fit, its ``zero`` row goes too. Otherwise the filter would keep the query only with the
``generate_response`` target and tilt the training set towards answering directly (``dropped_with_pair``
counts these rows). The counts and the drop rate go into the train manifest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tooldojo.errors import DataError
from tooldojo.prompting import SELECT_INSTRUCTIONS, build_prompt, format_call
from tooldojo.records import GENERATE_RESPONSE

RL_COLUMNS = ["prompt", "tools", "gold_tool", "gold_arguments", "kind", "example_id"]


@dataclass
class PreparedData:
    """A dataset ready for a trainer, and what preparing it did."""

    dataset: Any
    rows_in: int
    rows_used: int
    too_long: int
    max_tokens: int
    """Longest kept row (SFT: prompt + completion; RL: prompt) in tokens."""
    mean_tokens: float
    completion_tokens: int = 0
    """SFT: the longest completion in tokens."""
    trimmed: int = 0
    """Rows kept by leaving out distractor tools to fit the budget."""
    distractors_removed: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    dropped_with_pair: int = 0
    """Zero-to-One rows left out because the other row of their pair was too long."""

    @property
    def drop_rate(self) -> float:
        """Share of the sampled rows left out: too long, or the ``zero`` half of a pair that was too long."""
        out = self.too_long + self.dropped_with_pair
        return out / (self.rows_used + out) if self.rows_used + out else 0.0

    def summary(self) -> dict[str, Any]:
        return {"rows_in": self.rows_in, "rows_used": self.rows_used, "too_long": self.too_long,
                "dropped_with_pair": self.dropped_with_pair, "drop_rate": round(self.drop_rate, 4),
                "trimmed": self.trimmed, "distractors_removed": self.distractors_removed,
                "max_tokens": self.max_tokens, "mean_tokens": round(self.mean_tokens, 1)}


def within_budget(rows: list[dict[str, Any]], lengths: list[int], budget: int) -> tuple[list[int], int, int]:
    """Indices of the rows to keep (at most ``budget`` tokens, Zero-to-One pairs kept or left out whole), the
    number of rows too long, and the number of rows left out with their pair (the other half was too long:
    usually the ``one`` row, but trimming distractors can leave a ``zero`` row the longer)."""
    pair = ("zero", "one")
    broken = {r.get("query_id") for r, n in zip(rows, lengths, strict=True) if r.get("kind") in pair and n > budget}
    keep, too_long, with_pair = [], 0, 0
    for i, (r, n) in enumerate(zip(rows, lengths, strict=True)):
        if n > budget:
            too_long += 1
        elif r.get("kind") in pair and r.get("query_id") in broken:
            with_pair += 1
        else:
            keep.append(i)
    return keep, too_long, with_pair


def load_split(dataset_dir: Path, config: str) -> Any:
    """The ``train`` split of ``config`` (``rank`` or ``select``) of a scenario dataset folder."""
    dataset_dir = Path(dataset_dir)
    try:  # the split stage's loader, when present
        from tooldojo.dataset_io import load_dataset_dir
    except ImportError:
        load_dataset_dir = None
    if load_dataset_dir is not None:
        dd = load_dataset_dir(dataset_dir, config)
        return dd["train"] if hasattr(dd, "keys") else dd
    from datasets import Dataset

    from tooldojo.dataset_schema import features

    path = dataset_dir / config / "train.parquet"
    if not path.exists():
        raise DataError(f"no {config} training split ({config}/train.parquet)", field=str(dataset_dir),
                        fix="run `tooldojo split` first (it writes the scenario dataset)")
    return Dataset.from_parquet(str(path), features=features(config), keep_in_memory=True)


def sample(ds: Any, max_examples: int | None, seed: int) -> Any:
    """At most ``max_examples`` rows, a seeded shuffle of the dataset (all rows, shuffled, when ``None``)."""
    ds = ds.shuffle(seed=seed)
    if max_examples is not None and len(ds) > max_examples:
        ds = ds.select(range(max_examples))
    return ds


def _with_call_format(row: dict[str, Any], call_format: str) -> dict[str, Any]:
    """Rebuild a ``select`` row's prompt and call in ``call_format`` when the dataset used the other one (its
    <think> section is kept as the dataset wrote it)."""
    system = row["prompt"][0]["content"] if row["prompt"] and row["prompt"][0]["role"] == "system" else None
    if system == SELECT_INSTRUCTIONS[call_format]:
        return row
    from tooldojo.dataset_schema import row_to_example

    example = row_to_example(row)
    content = row["completion"][0]["content"]
    head = content[:content.index("</think>") + len("</think>\n")] if "</think>" in content else ""
    row = dict(row)
    row["prompt"] = build_prompt(example.query, "select", call_format)  # type: ignore[arg-type]
    row["completion"] = [{"role": "assistant", "content": head + format_call(
        example.gold_tool, example.gold_arguments, call_format)}]  # type: ignore[arg-type]
    return row


def _tools(row: dict[str, Any]) -> list[dict[str, Any]] | None:
    tools = row.get("tools")
    return json.loads(tools) if isinstance(tools, str) else tools


def fit_tools(row: dict[str, Any], tools: list[dict[str, Any]], measure: Any, budget: int
              ) -> tuple[list[dict[str, Any]] | None, int, int]:
    """Leave distractor tools out of ``tools`` (longest schema first) until ``measure(tools) <= budget``.

    Distractors are the tools of other families: not the row's weak/strong tool, not in its gold ranking, not
    ``generate_response``; a row without family tools keeps one. Returns ``(tools, measured length, distractors removed)``; ``tools`` is ``None``
    when even the family's tools alone exceed the budget.
    """
    keep = {row.get("gold_tool"), row.get("weak_tool"), row.get("strong_tool"), GENERATE_RESPONSE,
            *(row.get("gold_ranking") or [])}
    removable = sorted((t for t in tools if _name(t) not in keep), key=lambda t: len(json.dumps(t)), reverse=True)
    # a row offering no family tool (Zero-to-One's "zero") keeps one distractor: it is the example's point
    floor = 0 if any(_name(t) in keep - {GENERATE_RESPONSE} for t in tools) else 1
    n, removed = measure(tools), 0
    while n > budget and len(removable) > floor:
        drop = _name(removable.pop(0))
        tools = [t for t in tools if _name(t) != drop]
        n, removed = measure(tools), removed + 1
    return (tools if n <= budget else None), n, removed


def _fit_row(row: dict[str, Any], budget: int, encode: Any) -> tuple[list[dict[str, Any]] | None, int, int, Any]:
    """:func:`fit_tools` on the row's tools with ``encode(tools) -> (encoded, length)``; also returns what the
    last measure encoded (the returned tools' ids or text), so a kept row is not encoded twice."""
    last: list[Any] = [None]

    def measure(tools: list[dict[str, Any]]) -> int:
        last[0], n = encode(tools)
        return n

    tools, n, dropped = fit_tools(row, _tools(row) or [], measure, budget)
    return tools, n, dropped, last[0]


def _with_len(ids: list[int]) -> tuple[list[int], int]:
    return ids, len(ids)


def _name(tool: dict[str, Any]) -> str:
    return (tool.get("function") or tool).get("name", "")


def _ids(tokenizer: Any, messages: list[dict[str, str]], tools: Any, *, generation_prompt: bool) -> list[int]:
    out = tokenizer.apply_chat_template(messages, tools=tools or None, tokenize=True,
                                        add_generation_prompt=generation_prompt, return_dict=True)
    return list(out["input_ids"])


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def prepare_sft(ds: Any, tokenizer: Any, *, task: str, call_format: str, max_length: int,
                max_examples: int | None, seed: int) -> PreparedData:
    """Tokenized SFT rows of at most ``max_length`` tokens: ``input_ids`` (prompt + completion through the chat
    template, with the row's tools) and ``completion_mask`` (1 on completion tokens: the loss goes there only),
    the columns TRL's ``SFTTrainer`` takes as already processed (TRL's own tokenization hashes the tokenizer
    for the datasets fingerprint, seconds per call for Gemma's vocabulary)."""
    from datasets import Dataset

    rows_in = len(ds)
    ds = sample(ds, max_examples, seed)
    rows = [_with_call_format(row, call_format) if task == "select" else row for row in ds]
    fitted = [_fit_row(row, max_length, lambda t, m=row["prompt"] + row["completion"]: _with_len(
        _ids(tokenizer, m, t, generation_prompt=False))) for row in rows]
    keep, too_long, with_pair = within_budget(rows, [n if t is not None else max_length + 1
                                                     for t, n, _, _ in fitted], max_length)
    kept, lengths, completion_lengths, trimmed, removed = [], [], [], 0, 0
    for i in keep:
        row, (tools, _, dropped, full) = rows[i], fitted[i]
        trimmed, removed = trimmed + (dropped > 0), removed + dropped
        prompt_len = _common_prefix(_ids(tokenizer, row["prompt"], tools, generation_prompt=True), full)
        kept.append({"input_ids": full, "completion_mask": [0] * prompt_len + [1] * (len(full) - prompt_len)})
        lengths.append(len(full))
        completion_lengths.append(len(full) - prompt_len)
    if not kept:
        raise DataError(f"every {task} row is longer than max_length={max_length} tokens",
                        field=f"train.{task}.max_length",
                        fix="raise max_length (the rows' prompts hold every candidate tool's schema)")
    return PreparedData(Dataset.from_list(kept), rows_in, len(kept), too_long, max(lengths),
                        sum(lengths) / len(lengths), completion_tokens=max(completion_lengths),
                        dropped_with_pair=with_pair, trimmed=trimmed, distractors_removed=removed)


def render_prompt(tokenizer: Any, messages: list[dict[str, str]], tools: Any) -> str:
    """The prompt text the model continues (chat template with tools and the generation prompt), without a
    leading BOS when the tokenizer adds one itself (TRL tokenizes text prompts with special tokens)."""
    text = tokenizer.apply_chat_template(messages, tools=tools or None, tokenize=False, add_generation_prompt=True)
    bos = tokenizer.bos_token
    if bos and text.startswith(bos):
        probe = tokenizer("x")["input_ids"]
        if probe and probe[0] == tokenizer.bos_token_id:
            text = text[len(bos):]
    return text


def prepare_rl(ds: Any, tokenizer: Any, *, call_format: str, max_prompt_length: int, max_examples: int | None,
               seed: int, kinds: Sequence[str] | None = None) -> PreparedData:
    """RL rows: the rendered ``prompt`` text and the gold columns, prompts of at most ``max_prompt_length``;
    with ``kinds``, only rows of those example kinds (before ``max_examples`` is drawn)."""
    from datasets import Dataset

    rows_in = len(ds)
    if kinds is not None:
        wanted = set(kinds)
        ds = ds.select([i for i, kind in enumerate(ds["kind"]) if kind in wanted])
        if not len(ds):
            raise DataError(f"no training row of kinds {sorted(wanted)} for RL", field="train.rl.kinds",
                            fix="include kinds the split has (zero, one, weak_only, weak_strong), or null for all")
    ds = sample(ds, max_examples, seed)
    rows = [_with_call_format(row, call_format) for row in ds]
    fitted = [_fit_row(row, max_prompt_length, lambda t, m=row["prompt"]: (text := render_prompt(tokenizer, m, t),
                                                                           len(tokenizer(text)["input_ids"])))
              for row in rows]
    all_lengths = [n if t is not None else max_prompt_length + 1 for t, n, _, _ in fitted]
    keep, too_long, with_pair = within_budget(rows, all_lengths, max_prompt_length)
    kept, lengths, trimmed, removed = [], [], 0, 0
    for i in keep:
        row, (tools, _, dropped, text) = rows[i], fitted[i]
        trimmed, removed = trimmed + (dropped > 0), removed + dropped
        kept.append({"prompt": text,
                     "tools": json.dumps(tools, ensure_ascii=False) if dropped else row["tools"],
                     "gold_tool": row["gold_tool"],
                     "gold_arguments": row["gold_arguments"] or "{}", "kind": row.get("kind") or "",
                     "example_id": row.get("example_id") or ""})
        lengths.append(all_lengths[i])
    if not kept:
        raise DataError(f"every RL prompt is longer than max_prompt_length={max_prompt_length} tokens",
                        field="train.rl.max_prompt_length", fix="raise train.rl.max_prompt_length")
    return PreparedData(Dataset.from_list(kept), rows_in, len(kept), too_long, max(lengths),
                        sum(lengths) / len(lengths), dropped_with_pair=with_pair, trimmed=trimmed,
                        distractors_removed=removed)
