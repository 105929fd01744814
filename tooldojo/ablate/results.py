"""The results page of a results run: ``results.json`` (every number with its n and 95% Wilson interval),
``results.md`` (tables, plot, goals, commands, commit, machine, wall time) and ``results.png``.

Everything is read from the run folder's evaluation outputs (``eval/<variant>/metrics.json``,
``eval/<variant>/bfcl/metrics.json``, ``eval/bfcl-audit/audit.json``) and manifests; nothing is typed in.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tooldojo.ablate.variants import LABELS, training_runs, variant_model
from tooldojo.config import PipelineConfig
from tooldojo.eval.intervals import rate
from tooldojo.records import SCENARIOS, VALIDATION
from tooldojo.runs import code_version

METRICS = [
    ("tool_accuracy", "n", "Tool-selection accuracy"),
    ("strong_preference", "n_offers_both", "Strong-over-weak preference (examples offering both)"),
    ("call_exact", "n", "Exact call: right tool and exactly the gold arguments"),
    ("zero_to_one", "zero_to_one_pairs", "Zero-to-One pairs both right"),
    ("answer_rate", "n_answers", "Direct answers given (generate_response rightly chosen, response non-empty)"),
    ("malformed_rate", "n", "Malformed outputs (lower is better)"),
]
"""(metric in metrics.json, the field holding its n, title): the shares reported with intervals."""
ALL = "all"
NOTES_MARKER = "<!-- notes: written by hand below this line; tooldojo keeps them when it rewrites the page -->"
UNSEEN_TOOLS = ("unseen_tool_seen_query", "unseen_tool_unseen_query")


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def scenario_numbers(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{scenario or "all": {metric: {"value", "n", "k", "ci"} or None}}`` from a select ``metrics.json``."""
    select = metrics.get("select", {})
    blocks = {**select.get("by_scenario", {}), ALL: select.get("overall", {})}
    return {s: {m: rate(b.get(m), b.get(n_field)) for m, n_field, _ in METRICS} for s, b in blocks.items()}


def kind_numbers(metrics: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    """``{kind: tool accuracy {"value", "n", "k", "ci"}}`` over every evaluated scenario: ``zero`` (no suitable
    tool: ``generate_response`` is right), ``one`` (the suitable tool appeared), ``weak_only``, ``weak_strong``."""
    return {kind: rate(b.get("tool_accuracy"), b.get("n"))
            for kind, b in metrics.get("select", {}).get("by_kind", {}).items()}


def bfcl_numbers(metrics: dict[str, Any]) -> dict[str, Any]:
    return {c: rate(m.get("accuracy"), m.get("n")) for c, m in metrics.get("categories", {}).items()}


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                            "cpus": os.cpu_count(), "python": platform.python_version()}
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def _stage_folders(run_dir: Path, cfg: PipelineConfig) -> dict[str, Path]:
    folders = {s: run_dir / s for s in ("synth", "dedup", "split")}
    folders |= {f"train {n}": run_dir / "variants" / n / "train" for n in training_runs(cfg)}
    folders |= {f"eval {v}": run_dir / "eval" / v for v in cfg.ablate.variants}
    folders |= {f"bfcl {v}": run_dir / "eval" / v / "bfcl" for v in cfg.ablate.bfcl_variants}
    folders["bfcl audit"] = run_dir / "eval" / "bfcl-audit"
    return folders


def stage_times(run_dir: Path, cfg: PipelineConfig) -> tuple[dict[str, float], dict[str, str], dict[str, str]]:
    """Each finished stage's seconds (from its manifest; resumed work counts the attempt that finished), what
    they bought (examples/s of an evaluation, s/step of each training phase) and the commit that ran it."""
    from tooldojo.runs import read_manifest

    seconds, speed, commits = {}, {}, {}
    for name, folder in _stage_folders(run_dir, cfg).items():
        m = read_manifest(folder)
        if m is None or m.status != "complete":
            continue
        if m.seconds is not None:
            seconds[name] = round(m.seconds, 1)
        commits[name] = m.code.get("commit") or "unknown"
        if (eps := m.stats.get("examples_per_second")) is not None:
            speed[name] = f"{eps:.2f} examples/s"
        elif phases := m.stats.get("phases"):
            speed[name] = ", ".join(f"{p} {r['seconds_per_step']:.1f} s/step" for p, r in phases.items()
                                    if r.get("seconds_per_step") and not r.get("skipped"))
    return seconds, speed, commits


def _training(cfg: PipelineConfig, variant: str) -> str:
    runs = training_runs(cfg)
    t = cfg.train
    if variant == "base":
        return "untuned"
    if variant == "select_only":
        return f"stage 2 from base, {runs['select_only'].select.max_steps} steps"
    if variant == "two_stage":
        return f"stage 1 {t.rank.max_steps} steps, then stage 2 {t.select.max_steps} steps"
    if variant == "two_stage_rl":
        return f"(c), then GRPO {t.rl.max_steps} steps"
    return f"GRPO from base, {t.rl.max_steps} steps"


def collect(cfg: PipelineConfig, *, bfcl_note: str | None = None) -> dict[str, Any]:
    """The results record of ``cfg.run_dir`` (see module docstring)."""
    run_dir = cfg.run_dir
    variants: dict[str, Any] = {}
    for v in cfg.ablate.variants:
        metrics = _read(run_dir / "eval" / v / "metrics.json")
        entry: dict[str, Any] = {"label": LABELS[v], "model": variant_model(cfg, v), "training": _training(cfg, v),
                                 "scenarios": scenario_numbers(metrics) if metrics else None,
                                 "kinds": kind_numbers(metrics) if metrics else None}
        if v in cfg.ablate.bfcl_variants and bfcl_note is None:
            bfcl = _read(run_dir / "eval" / v / "bfcl" / "metrics.json")
            entry["bfcl"] = bfcl_numbers(bfcl) if bfcl else None
        variants[v] = entry
    audit = _read(run_dir / "eval" / "bfcl-audit" / "audit.json")
    complete = all(e["scenarios"] for e in variants.values()) and all(
        e.get("bfcl") for v, e in variants.items() if v in cfg.ablate.bfcl_variants and bfcl_note is None)
    status = "incomplete" if not complete else "complete" if bfcl_note is None else "complete (BFCL not run)"
    return {
        "status": status,
        "preset": cfg.preset, "run_dir": str(run_dir), "seed": cfg.seed, "base_model": cfg.train.model or "gemma-3-270m",
        "eval_limit": cfg.eval.limit,
        "bfcl": {"run": bfcl_note is None, "note": bfcl_note, "categories": cfg.eval.bfcl.categories,
                 "limit": cfg.eval.bfcl.limit,
                 "audit": None if audit is None else {
                     "passed": audit["passed"],
                     **{what: {k: r.get(k) for k in ("n_unseen", "n_seen", "max_jaccard", "max_cosine", "passed")}
                        | {"closest": (r.get("closest_cosine") or r.get("closest_jaccard") or [None])[0]}
                        for what, r in audit["checks"].items()}}},
        "variants": variants,
        "goals": goals(variants),
    }


def _get(variants: dict[str, Any], v: str, scenario: str, metric: str) -> dict[str, Any] | None:
    block = (variants.get(v) or {}).get("scenarios") or {}
    return (block.get(scenario) or {}).get(metric)


def _versus(variants: dict[str, Any], goal: str, a: str, b: str, scenario: str, metric: str,
            need: float = 0.0, clear: bool = False) -> dict[str, Any]:
    """Goal ``b - a >= need`` on one metric (with ``clear``: ``b`` above ``a`` with the intervals apart):
    both values with intervals, the difference, whether it holds, and whether the intervals are apart."""
    x, y = _get(variants, a, scenario, metric), _get(variants, b, scenario, metric)
    out: dict[str, Any] = {"goal": goal, "scenario": scenario, "metric": metric, a: x, b: y}
    if x and y:
        diff = round(y["value"] - x["value"], 4)
        apart = y["ci"][0] > x["ci"][1] or x["ci"][0] > y["ci"][1]
        out |= {"difference": diff, "met": diff > 0 and apart if clear else diff >= need, "intervals_apart": apart}
    return out


def goals(variants: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's anchors, measured: whatever the direction, the numbers are reported."""
    out = [_versus(variants, "(c) beats (a) by >= 0.40 tool-selection accuracy on unseen tools", "base",
                   "two_stage", s, "tool_accuracy", 0.40) for s in UNSEEN_TOOLS]
    out.append(_versus(variants, "(c) >= (b) on Weak-to-Strong preference", "select_only", "two_stage",
                       "weak_to_strong", "strong_preference"))
    out.append(_versus(variants, "(d) >= (c) on exact-call accuracy", "two_stage", "two_stage_rl", ALL,
                       "call_exact"))
    out.append(_versus(variants, "(e) beats (a) clearly (exact call, intervals apart)", "base", "rl_from_base",
                       ALL, "call_exact", clear=True))
    simple = {v: (e.get("bfcl") or {}).get("simple_python") for v, e in variants.items()}
    simple = {v: r for v, r in simple.items() if r}
    if simple:
        best = max(simple, key=lambda v: simple[v]["value"])
        out.append({"goal": "BFCL simple_python >= 0.40 for the best variant", "best": best,
                    best: simple[best], "met": simple[best]["value"] >= 0.40})
    return out


def cell(r: dict[str, Any] | None) -> str:
    """``0.512 [0.443, 0.580]`` (value and 95% Wilson interval), or ``–``."""
    if not r:
        return "–"
    return f"{r['value']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"


def _reported_scenarios(variants: dict[str, Any], metric: str) -> list[str]:
    """The scenarios (validation and ``all`` included) for which some variant has ``metric``, in page order."""
    return [s for s in (*SCENARIOS, VALIDATION, ALL) if any(_get(variants, v, s, metric) for v in variants)]


def _code_lines(prov: dict[str, Any]) -> list[str]:
    """Which commit ran which stage, when not every stage ran at the commit that wrote the page."""
    by_commit: dict[str, list[str]] = {}
    for stage, commit in prov.get("stage_commits", {}).items():
        by_commit.setdefault(commit, []).append(stage)
    if set(by_commit) <= {prov["git"].get("commit")}:
        return []
    parts = [f"commit `{c[:12]}` ({', '.join(s)})" if c != "unknown" else
             f"not recorded in the manifests ({', '.join(s)})" for c, s in by_commit.items()]
    return ["Code that ran the stages: " + "; ".join(parts) + ".", ""]


def render(record: dict[str, Any], *, command: str | None, plot: str | None) -> str:
    from tooldojo.reporting import md_table

    variants = record["variants"]
    names = list(variants)
    prov = record["provenance"]
    lines = ["# Results", "",
             f"Status: **{record['status']}** · preset `{record['preset'] or 'none'}` · base model "
             f"`{record['base_model']}` · seed {record['seed']} · commit `{prov['git']['commit'] or 'unknown'}`"
             + (" (with uncommitted changes)" if prov["git"].get("dirty") else "")
             + f" · {prov['date']}", "",
             *([f"**Toy-scale plumbing run** with the `{record['base_model']}` model (random weights): these numbers "
                "measure nothing but the code paths.", ""] if record["base_model"] == "tiny" else []),
             f"Machine: {prov['machine']['platform']}, {prov['machine']['cpus']} CPUs"
             + (f", GPU {prov['machine']['gpu']}" if prov["machine"].get("gpu") else ", no GPU")
             + f". Wall time: {sum(prov['stage_seconds'].values()) / 60:.1f} min summed over the stages' "
             f"manifests (planned {prov['planned_seconds'] / 60:.1f} min; "
             + ("this page was written by `--report` from the run folder)." if prov["wall_seconds"] is None else
                f"the command that wrote this page ran {prov['wall_seconds'] / 60:.1f} min, less when it resumed "
                "finished stages)."), "",
             *_code_lines(prov),
             "## Commands", "", "```", *(["tooldojo eval bfcl --setup   # once, for the BFCL rows"]
                                         if record["bfcl"]["run"] else []),
             command or f"tooldojo ablate --run-dir {record['run_dir']}", "```", "",
             "## Variants", "",
             md_table(["variant", "training", "evaluated model"],
                      [[e["label"], e["training"], f"`{e['model']}`"] for e in variants.values()]), "",
             "Every cell is the share over the evaluated examples with its **95% Wilson interval** in brackets; "
             f"n is the number of examples (pairs for Zero-to-One). At most {record['eval_limit'] or 'all'} "
             "examples per scenario, the same examples for every variant.", ""]
    for metric, _, title in METRICS:
        scenarios = _reported_scenarios(variants, metric)
        if not scenarios:
            continue
        rows = []
        for s in scenarios:
            first = next(r for v in names if (r := _get(variants, v, s, metric)))
            rows.append([f"**{s}**" if s == ALL else s, first["n"], *(cell(_get(variants, v, s, metric)) for v in names)])
        lines += [f"## {title}", "", md_table(["scenario", "n", *(variants[v]["label"] for v in names)], rows), ""]
    by_kind = {v: variants[v].get("kinds") or {} for v in names}
    kinds = list(dict.fromkeys(k for v in names for k in by_kind[v]))
    if kinds:
        rows = [[k, next(r["n"] for v in names if (r := by_kind[v].get(k))),
                 *(cell(by_kind[v].get(k)) for v in names)] for k in kinds]
        lines += ["## Tool-selection accuracy by kind (all scenarios)", "",
                  "`zero`: no suitable tool offered, `generate_response` is right; `one`: the suitable tool offered; "
                  "`weak_only` / `weak_strong`: only the weak tool / both variants offered. A model that always "
                  "answers directly scores on `zero` alone.", "",
                  md_table(["kind", "n", *(variants[v]["label"] for v in names)], rows), ""]
    if plot:
        lines += [f"![Tool-selection accuracy per scenario with 95% Wilson intervals]({plot})", ""]
    lines += ["## BFCL", ""]
    bfcl = record["bfcl"]
    if not bfcl["run"]:
        lines += [f"Not run: {bfcl['note']}.", ""]
    else:
        scored = [v for v in names if variants[v].get("bfcl")]
        cats = list(dict.fromkeys(c for v in scored for c in variants[v]["bfcl"]))
        if scored:
            rows = [[c, next(variants[v]["bfcl"][c]["n"] for v in scored if variants[v]["bfcl"].get(c)),
                     *(cell(variants[v]["bfcl"].get(c)) for v in scored)] for c in cats]
            lines += [md_table(["category", "n", *(variants[v]["label"] for v in scored)], rows), ""]
        scope = f"at most {bfcl['limit']} entries per category" if bfcl["limit"] else "whole categories"
        lines += [f"BFCL's own data and AST checker (`bfcl-eval`, isolated environment), {scope}. "
                  "BFCL is a test set only: nothing from it is used for training or for choosing settings.", ""]
        audit = bfcl.get("audit")
        if audit:
            lines += ["**Leakage audit, training data vs BFCL** (nearest training text for every BFCL text): "
                      + "; ".join(f"{what}: {a['n_unseen']} BFCL vs {a['n_seen']} training, max Jaccard "
                                  f"{a.get('max_jaccard')}, max cosine {a.get('max_cosine')}"
                                  for what, a in audit.items() if isinstance(a, dict))
                      + f" → {'no overlap above the thresholds' if audit['passed'] else '**overlap found**'} "
                      "(see `eval/bfcl-audit/audit.json`)."
                      + "".join(f" Closest {what}: BFCL “{a['closest']['unseen']}” vs training “{a['closest']['seen']}” "
                                f"({a['closest']['similarity']})." for what, a in audit.items()
                                if isinstance(a, dict) and not a.get("passed") and a.get("closest")), ""]
    lines += ["## Goals, as measured", "",
              md_table(["goal", "scenario", "measured", "met", "intervals apart"],
                       [[g["goal"], g.get("scenario", "simple_python"),
                         f"{g['difference']:+.3f}" if "difference" in g
                         else cell(g[g["best"]]) + f" ({g['best']})" if "best" in g else "–",
                         {True: "yes", False: "no"}.get(g.get("met"), "not measured"),
                         {True: "yes", False: "no"}.get(g.get("intervals_apart"), "–")]
                        for g in record["goals"]]), "",
              "## Where the time went", "",
              md_table(["stage", "seconds", "speed"], [[k, f"{v:.0f}", prov.get("stage_speed", {}).get(k, "")]
                                                      for k, v in prov["stage_seconds"].items()]), "",
              "## What these numbers mean, and what they do not", "",
              "- They measure one base model, one seed and one synthetic dataset (the offline seed-catalog teacher). "
              "Two variants differ clearly only where their intervals are apart; overlapping intervals mean the "
              "run cannot tell them apart.",
              "- Unseen-tool scenarios hold tool families never trained on; they test generalization to new tools "
              "of the same synthetic style, not to arbitrary real APIs. BFCL is the outside check.",
              "- A difference in tool-selection accuracy can come from one kind of example alone: a model that "
              "learned to answer directly (`generate_response`) gains on `zero` while it loses on `one`; the "
              "by-kind table says which.",
              "- Step budgets are matched where the comparison needs it: (b) trains as many SFT steps as (c)'s two "
              "stages together; (e) as many GRPO steps as (d).",
              "- Per-example outputs are in `eval/<variant>/examples.jsonl`; per-stage timings in each manifest.", "",
              NOTES_MARKER, ""]
    return "\n".join(lines)


def with_notes(page: str, old: str | None) -> str:
    """``page`` followed by the hand-written notes below :data:`NOTES_MARKER` in ``old`` (the page it replaces).

    >>> with_notes(f"# Results\\n{NOTES_MARKER}\\n", f"# old\\n{NOTES_MARKER}\\n## Findings\\n")
    '# Results\\n<!-- notes: written by hand below this line; tooldojo keeps them when it rewrites the page -->\\n## Findings\\n'
    """
    if not old or NOTES_MARKER not in old:
        return page
    return page + old.split(NOTES_MARKER, 1)[1].lstrip("\n")


def write_results(cfg: PipelineConfig, *, bfcl_note: str | None = None, docs: Path | None = None,
                  command: str | None = None, wall_seconds: float | None = 0.0, planned_seconds: float = 0.0
                  ) -> dict[str, Any]:
    """Collect, render and write ``<run>/results/`` (and ``docs``); returns the record."""
    from tooldojo.eval.plots import grouped_bars
    from tooldojo.runs import write_json, write_text

    record = collect(cfg, bfcl_note=bfcl_note)
    seconds, speed, commits = stage_times(cfg.run_dir, cfg)
    record["provenance"] = {"git": code_version(), "machine": machine(), "stage_commits": commits,
                            "date": datetime.now(UTC).isoformat(timespec="seconds"), "command": command,
                            "wall_seconds": None if wall_seconds is None else round(wall_seconds, 1), "planned_seconds": round(planned_seconds, 1),
                            "stage_seconds": seconds, "stage_speed": speed}
    variants = record["variants"]
    scenarios = _reported_scenarios(variants, "tool_accuracy")
    for out in [cfg.run_dir / "results", *([docs] if docs else [])]:
        plot = None
        if scenarios:
            series = {e["label"]: [(_get(variants, v, s, "tool_accuracy") or {}).get("value") for s in scenarios]
                      for v, e in variants.items()}
            spans = {e["label"]: [tuple(r["ci"]) if (r := _get(variants, v, s, "tool_accuracy")) else None
                                  for s in scenarios] for v, e in variants.items()}
            grouped_bars(scenarios, series, intervals=spans, title="Tool-selection accuracy (95% Wilson intervals)",
                         ylabel="accuracy", path=Path(out) / "results.png")
            plot = "results.png"
        write_json(Path(out) / "results.json", record)
        page = Path(out) / "results.md"
        old = page.read_text(encoding="utf-8") if page.is_file() else None
        write_text(page, with_notes(render(record, command=command, plot=plot), old))
    return record
