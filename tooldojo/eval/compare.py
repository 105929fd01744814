"""``compare_runs``: several evaluations side by side (ablations: with/without stage 1, SFT vs RL, models).

Each input is an evaluation folder (holding ``metrics.json``), or a run folder / its ``eval/`` folder, which
stands for every evaluation in it. The output is a markdown page with one table per metric (rows: scenarios
and all; columns: evaluations) and a grouped bar chart of tool-selection accuracy per scenario.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooldojo.errors import DataError
from tooldojo.reporting import md_table

COMPARED = [
    ("select", "tool_accuracy", "Tool-selection accuracy"),
    ("select", "strong_preference", "Strong-over-weak preference"),
    ("select", "zero_to_one", "Zero-to-One pairs both right"),
    ("select", "answer_rate", "Direct answers given (generate_response rightly chosen)"),
    ("select", "arg_value_accuracy", "Argument value accuracy (right tool)"),
    ("select", "call_exact", "Exact call (tool and arguments)"),
    ("select", "malformed_rate", "Malformed outputs"),
    ("rank", "exact", "Ranking exact match"),
    ("rank", "pairwise", "Ranking pairwise order accuracy"),
]


@dataclass
class Evaluation:
    label: str
    path: Path
    metrics: dict[str, Any]


def find_evaluations(paths: list[str | Path]) -> list[Evaluation]:
    """Evaluation folders from eval folders, ``<run>/eval`` folders or run folders (in the order given)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if (p / "metrics.json").is_file():
            found.append(p)
            continue
        base = p / "eval" if (p / "eval").is_dir() else p
        subs = sorted(d for d in base.glob("*") if (d / "metrics.json").is_file()) if base.is_dir() else []
        if not subs:
            raise DataError("no evaluation found (no metrics.json in it or its eval/ subfolders)", field=str(p),
                            fix="pass an eval folder (<run>/eval/<name>) or a run folder evaluated with `tooldojo eval`")
        found.extend(subs)
    evals = []
    for d in found:
        metrics = json.loads((d / "metrics.json").read_text(encoding="utf-8"))
        evals.append(Evaluation(label=d.name, path=d, metrics=metrics))
    labels = [e.label for e in evals]
    for e in evals:  # same folder name in two runs: qualify with the run's name
        if labels.count(e.label) > 1:
            e.label = f"{e.path.parent.parent.name}/{e.label}"
    return evals


def _value(e: Evaluation, task: str, metric: str, scenario: str | None) -> Any:
    m = e.metrics.get(task)
    if not m:
        return None
    block = m["overall"] if scenario is None else m["by_scenario"].get(scenario, {})
    return block.get(metric)


def compare_table(evals: list[Evaluation], task: str, metric: str) -> tuple[list[str], list[list[Any]]] | None:
    """Header and rows of one metric: scenarios (+ all) × evaluations, with the change when two are compared."""
    scenarios: list[str] = []
    for e in evals:
        for s in e.metrics.get(task, {}).get("by_scenario", {}):
            if s not in scenarios:
                scenarios.append(s)
    if not scenarios:
        return None
    header = ["scenario", *(f"`{e.label}`" for e in evals)]
    delta = len(evals) == 2
    if delta:
        header.append("change")
    rows = []
    for s in [*scenarios, None]:
        vals = [_value(e, task, metric, s) for e in evals]
        row: list[Any] = ["**all**" if s is None else s, *vals]
        if delta:
            row.append(None if None in vals else f"{vals[1] - vals[0]:+.3f}")
        rows.append(row)
    return header, rows


def compare_runs(paths: list[str | Path], *, out: str | Path | None = None) -> str:
    """Compare evaluations; returns the markdown, and with ``out`` writes ``compare.md``, ``compare.json``
    and ``compare.png`` (tool accuracy per scenario) there."""
    from tooldojo.eval.plots import grouped_bars
    from tooldojo.runs import write_json, write_text

    evals = find_evaluations(paths)
    lines = ["# Comparison", "", md_table(["evaluation", "model", "examples", "folder"],
                                          [[f"`{e.label}`", e.metrics.get("info", {}).get("model", "?"),
                                            e.metrics.get("info", {}).get("n_examples"), str(e.path)] for e in evals]), ""]
    data: dict[str, Any] = {"evaluations": {e.label: str(e.path) for e in evals}, "metrics": {}}
    for task, metric, title in COMPARED:
        table = compare_table(evals, task, metric)
        if table is None or all(v is None for row in table[1] for v in row[1:1 + len(evals)]):
            continue
        header, rows = table
        lines += [f"## {title}", "", md_table(header, rows), ""]
        data["metrics"][f"{task}.{metric}"] = {row[0].strip("*"): dict(zip([e.label for e in evals], row[1:1 + len(evals)],
                                                                           strict=True)) for row in rows}
    text = "\n".join(lines).rstrip() + "\n"
    if out is not None:
        out = Path(out)
        acc = compare_table(evals, "select", "tool_accuracy")
        if acc:
            header, rows = acc
            groups = [str(r[0]).strip("*") for r in rows]
            series = {e.label: [r[1 + i] for r in rows] for i, e in enumerate(evals)}
            grouped_bars(groups, series, title="Tool-selection accuracy", ylabel="accuracy", path=out / "compare.png")
            text += "\n![Tool-selection accuracy by scenario](compare.png)\n"
        write_text(out / "compare.md", text)
        write_json(out / "compare.json", data)
    return text

