"""Aggregate per-example verdicts into metrics per scenario × kind, per scenario, per kind and overall.

Select task:

| metric | over | meaning |
|---|---|---|
| ``tool_accuracy`` | all examples | the called tool is the gold tool (``generate_response`` included) |
| ``strong_preference`` | examples offering weak and strong | the strong tool was called |
| ``strong_share`` | same, where either family tool was called | strong / (strong + weak) calls |
| ``arg_key_precision``, ``arg_key_recall``, ``arg_value_accuracy``, ``arg_exact`` | right-tool calls of a real tool | keys and values against the gold arguments |
| ``call_exact`` | all examples | right tool and exactly the gold arguments |
| ``malformed_rate`` | all examples | no readable call (counted wrong) |
| ``well_formed_rate`` | all examples | strict ``<think>`` + answer format |
| ``answer_rate`` | examples where ``generate_response`` was rightly chosen | its ``response`` is non-empty |
| ``zero_to_one`` | queries with a ``zero`` and a ``one`` example | both answered with the right tool |

Rank task: ``exact``, ``top1``, ``pairwise`` (see :mod:`tooldojo.eval.scoring`), ``malformed_rate``.
"""

from __future__ import annotations

from typing import Any

SELECT_COLUMNS = ("tool_correct", "malformed", "well_formed", "call_exact", "offers_both", "chose_strong",
                  "chose_weak", "arg_key_precision", "arg_key_recall", "arg_value_accuracy", "arg_exact",
                  "answered")
RANK_COLUMNS = ("exact", "top1", "pairwise", "malformed", "well_formed")
ALL = "all"


def _frame(records: list[dict[str, Any]], task: str) -> Any:
    import polars as pl

    cols = SELECT_COLUMNS if task == "select" else RANK_COLUMNS
    schema: dict[str, Any] = {"scenario": pl.String, "kind": pl.String, "query_id": pl.String}
    for c in cols:
        schema[c] = pl.Float64 if c in ("arg_key_precision", "arg_key_recall", "arg_value_accuracy", "pairwise") \
            else pl.Boolean
    rows = [{"scenario": r["scenario"], "kind": r["kind"], "query_id": r["query_id"],
             **{c: r["verdict"].get(c) for c in cols}} for r in records if r["task"] == task]
    return pl.DataFrame(rows, schema=schema)


def _means(*columns: str) -> list[Any]:
    """Each column's mean, named after the column."""
    import polars as pl

    return [pl.col(c).mean().alias(c) for c in columns]


def _format_rates() -> list[Any]:
    """The output-format shares both tasks report: ``malformed_rate`` and ``well_formed_rate``."""
    import polars as pl

    return [pl.col("malformed").mean().alias("malformed_rate"), pl.col("well_formed").mean().alias("well_formed_rate")]


def _select_aggs() -> list[Any]:
    import polars as pl

    both = pl.col("offers_both")
    strong = pl.col("chose_strong").filter(both).cast(pl.Int64).sum()
    weak = pl.col("chose_weak").filter(both).cast(pl.Int64).sum()
    return [
        pl.len().alias("n"),
        pl.col("tool_correct").mean().alias("tool_accuracy"),
        pl.col("chose_strong").filter(both).mean().alias("strong_preference"),
        (strong / (strong + weak)).alias("strong_share"),
        both.cast(pl.Int64).sum().alias("n_offers_both"),
        *_means("arg_key_precision", "arg_key_recall", "arg_value_accuracy", "arg_exact"),
        pl.col("arg_exact").count().alias("n_args"),
        *_means("call_exact"),
        pl.col("answered").mean().alias("answer_rate"),
        pl.col("answered").count().alias("n_answers"),
        *_format_rates(),
    ]


def _rank_aggs() -> list[Any]:
    import polars as pl

    return [pl.len().alias("n"), *_means("exact", "top1", "pairwise"), pl.col("pairwise").count().alias("n_pairwise"),
            *_format_rates()]


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if isinstance(v, float):
            v = None if v != v else round(v, 4)  # NaN (0/0) -> None
        out[k] = v
    return out


def _grouped(df: Any, keys: list[str], aggs: list[Any]) -> list[dict[str, Any]]:
    if df.is_empty():
        return []
    frame = df.group_by(keys).agg(aggs).sort(keys) if keys else df.select(aggs)
    return [_clean(r) for r in frame.to_dicts()]


def zero_to_one(df: Any, by_scenario: bool) -> list[dict[str, Any]]:
    """Per scenario (or overall): pairs of one query's ``zero`` and ``one`` examples, and the share of pairs
    whose examples were all answered with the right tool."""
    import polars as pl

    z1 = df.filter(pl.col("kind").is_in(["zero", "one"]))
    if z1.is_empty():
        return []
    pairs = (z1.group_by(["scenario", "query_id"])
             .agg((pl.col("kind") == "zero").any().alias("has_zero"), (pl.col("kind") == "one").any().alias("has_one"),
                  pl.col("tool_correct").all().alias("both_right"))
             .filter(pl.col("has_zero") & pl.col("has_one")))
    aggs = [pl.len().alias("zero_to_one_pairs"), pl.col("both_right").mean().alias("zero_to_one")]
    return _grouped(pairs, ["scenario"] if by_scenario else [], aggs)


def aggregate(records: list[dict[str, Any]], task: str) -> dict[str, Any]:
    """Metrics of one task: ``overall``, ``by_scenario``, ``by_kind`` and ``by_scenario_kind``."""
    df = _frame(records, task)
    aggs = _select_aggs() if task == "select" else _rank_aggs()
    overall = (_grouped(df, [], aggs) or [{"n": 0}])[0]
    by_scenario = {r.pop("scenario"): r for r in _grouped(df, ["scenario"], aggs)}
    by_kind = {r.pop("kind"): r for r in _grouped(df, ["kind"], aggs)}
    by_scenario_kind: dict[str, dict[str, Any]] = {}
    for r in _grouped(df, ["scenario", "kind"], aggs):
        by_scenario_kind.setdefault(r.pop("scenario"), {})[r.pop("kind")] = r
    if task == "select":
        for r in zero_to_one(df, by_scenario=True):
            by_scenario[r.pop("scenario")].update(r)
        overall.update((zero_to_one(df, by_scenario=False) or [{}])[0])
    return {"overall": overall, "by_scenario": by_scenario, "by_kind": by_kind, "by_scenario_kind": by_scenario_kind}


def compute_metrics(records: list[dict[str, Any]], tasks: list[str]) -> dict[str, Any]:
    """Metrics for every task present in ``records`` (``{"select": {...}, "rank": {...}}``)."""
    return {task: aggregate(records, task) for task in tasks if any(r["task"] == task for r in records)}
