"""PNG plots for reports: accuracy by scenario × kind, ranking quality, training curves, comparisons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KIND_ORDER = ("zero", "one", "weak_only", "weak_strong")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    from tooldojo.runs import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return path


def ordered_kinds(kinds: Any) -> list[str]:
    kinds = set(kinds)
    return [k for k in KIND_ORDER if k in kinds] + sorted(kinds - set(KIND_ORDER))


def grouped_bars(groups: list[str], series: dict[str, list[float | None]], *, title: str, ylabel: str,
                 path: Path, ylim: tuple[float, float] = (0, 1.05),
                 intervals: dict[str, list[tuple[float, float] | None]] | None = None) -> Path:
    """A grouped bar chart: one cluster per group, one bar per series (``None`` values are left out);
    ``intervals`` (same keys and order as ``series``) adds an error bar from ``lo`` to ``hi`` per bar."""
    import numpy as np

    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(groups) + 2), 4.2))
    n = max(1, len(series))
    width = 0.8 / n
    x = np.arange(len(groups))
    for i, (label, values) in enumerate(series.items()):
        ys = [np.nan if v is None else v for v in values]
        bars = ax.bar(x + (i - (n - 1) / 2) * width, ys, width, label=label)
        spans = (intervals or {}).get(label)
        if spans:
            lo = [0.0 if v is None or s is None else v - s[0] for v, s in zip(values, spans, strict=True)]
            hi = [0.0 if v is None or s is None else s[1] - v for v, s in zip(values, spans, strict=True)]
            ax.errorbar(x + (i - (n - 1) / 2) * width, ys, yerr=[lo, hi], fmt="none", ecolor="black",
                        elinewidth=0.8, capsize=2)
        for bar, v in zip(bars, values, strict=True):
            if v is not None:
                ax.annotate(f"{v:.2f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [g.replace("_", "\n") for g in groups], fontsize=8)
    ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, ncols=min(n, 5), loc="upper center", bbox_to_anchor=(0.5, -0.18))
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def accuracy_by_scenario(select: dict[str, Any], path: Path) -> Path:
    """Tool-selection accuracy per scenario, one bar per kind plus all kinds."""
    scenarios = list(select["by_scenario"])
    kinds = ordered_kinds(k for s in select["by_scenario_kind"].values() for k in s)
    series = {kind: [select["by_scenario_kind"].get(s, {}).get(kind, {}).get("tool_accuracy") for s in scenarios]
              for kind in kinds}
    series["all kinds"] = [select["by_scenario"][s]["tool_accuracy"] for s in scenarios]
    return grouped_bars(scenarios, series, title="Tool-selection accuracy by scenario and kind",
                        ylabel="accuracy", path=path)


def ranking_by_scenario(rank: dict[str, Any], path: Path) -> Path:
    scenarios = list(rank["by_scenario"])
    series = {m: [rank["by_scenario"][s].get(m) for s in scenarios] for m in ("exact", "top1", "pairwise")}
    return grouped_bars(scenarios, series, title="Ranking quality by scenario (stage-1 task)", ylabel="score",
                        path=path)


def read_log(path: Path) -> list[dict[str, Any]]:
    """Rows of a training ``log.jsonl`` (unreadable lines skipped)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "step" in row:
            rows.append(row)
    return rows


def rl_curves(log: list[dict[str, Any]], path: Path) -> Path | None:
    """RL rewards per step (total, format, general, strict, tool) and the schedule's sigma(t)."""
    keys = [k for k in ("reward", "reward_format", "reward_general", "reward_strict", "reward_tool")
            if any(k in r for r in log)]
    if not keys:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for k in keys:
        pts = [(r["step"], r[k]) for r in log if r.get(k) is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=k, marker="." if len(pts) < 30 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("reward")
    ax.grid(alpha=0.3)
    if any("sigma" in r for r in log):
        ax2 = ax.twinx()
        pts = [(r["step"], r["sigma"]) for r in log if r.get("sigma") is not None]
        ax2.plot([p[0] for p in pts], [p[1] for p in pts], "k--", label="sigma(t)")
        ax2.set_ylim(-0.05, 1.05)
        ax2.set_ylabel("sigma(t): weight of r_strict")
        ax2.legend(loc="lower right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("RL rewards and the exploratory->exploitative schedule")
    return _save(fig, path)


def sft_loss(logs: dict[str, list[dict[str, Any]]], path: Path) -> Path | None:
    """Training loss per step of each SFT stage."""
    series = {name: [(r["step"], r["loss"]) for r in log if r.get("loss") is not None] for name, log in logs.items()}
    series = {k: v for k, v in series.items() if v}
    if not series:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    for name, pts in series.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name, marker="." if len(pts) < 30 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("SFT loss")
    return _save(fig, path)


def training_plots(run_dir: Path, plots_dir: Path) -> dict[str, Path]:
    """Plots of the run's training logs, when present: ``rl_rewards.png`` and ``sft_loss.png``."""
    out: dict[str, Path] = {}
    train = Path(run_dir) / "train"
    rl_log = train / "rl" / "log.jsonl"
    if rl_log.is_file() and (p := rl_curves(read_log(rl_log), plots_dir / "rl_rewards.png")):
        out["rl_rewards"] = p
    sft_logs = {d.name: read_log(d / "log.jsonl") for d in sorted(train.glob("stage*")) if (d / "log.jsonl").is_file()}
    if sft_logs and (p := sft_loss(sft_logs, plots_dir / "sft_loss.png")):
        out["sft_loss"] = p
    return out
