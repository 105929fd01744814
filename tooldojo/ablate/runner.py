"""``run_ablate``: the results run. One split, five variants, the same evaluation sets, one results page.

Layout of the run folder (beside the usual ``synth/ dedup/ split/``)::

    variants/<training run>/split -> ../../split   each training run's own train/ folder
    variants/two_stage/stage2-merged/              (c) when the same run continues into GRPO (d)
    eval/<variant>/                                scenario evaluation of each variant
    eval/<variant>/bfcl/                           BFCL categories (for ``ablate.bfcl_variants``)
    eval/bfcl-audit/                               leakage audit: training data vs BFCL's questions and functions
    results/results.md  results.json  results.png

Every step is a stage with a manifest (:func:`tooldojo.train.run_train`, :func:`tooldojo.eval.run_eval`, ...),
so a rerun skips what is finished and resumes what was interrupted. Everything that can be checked without
training (settings, the BFCL environment, the time plan) is checked before the run folder is touched.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooldojo.ablate.config import VARIANTS, AblateConfig, Variant
from tooldojo.ablate.variants import (
    AUDIT,
    LABELS,
    MERGED_STAGE2,
    TRAINED_BY,
    base_model,
    training_runs,
    variant_dir,
    variant_model,
)
from tooldojo.config import PipelineConfig
from tooldojo.errors import ConfigError, DataError
from tooldojo.train.config import TrainConfig


def check_config(cfg: PipelineConfig) -> None:
    """Refuse settings that cannot make a fair comparison, before anything runs."""
    a: AblateConfig = cfg.ablate
    wanted = set(a.variants)
    if a.bfcl != "off" and (extra := [v for v in a.bfcl_variants if v not in wanted]):
        raise ConfigError(f"BFCL variants {extra} are not in ablate.variants", field="ablate.bfcl_variants",
                          fix=f"choose from {', '.join(a.variants)}")
    steps = {"rank": cfg.train.rank.max_steps, "select": cfg.train.select.max_steps}
    if wanted & {"select_only", "two_stage", "two_stage_rl"}:
        for key, n in steps.items():
            if n < 1:
                raise ConfigError(f"the comparison needs an explicit step budget (got {n})",
                                  field=f"train.{key}.max_steps",
                                  fix="set a step count, e.g. --set train.rank.max_steps=100")
    if cfg.eval.limit is not None and cfg.eval.limit < a.min_eval_examples:
        raise ConfigError(f"eval.limit ({cfg.eval.limit}) is below ablate.min_eval_examples "
                          f"({a.min_eval_examples})", field="eval.limit",
                          fix=f"set eval.limit to at least {a.min_eval_examples} (or lower ablate.min_eval_examples)")
    if "select" not in cfg.eval.tasks:
        raise ConfigError("the comparison scores the select task", field="eval.tasks", fix="include `select`")


def bfcl_available(cfg: PipelineConfig) -> tuple[bool, str]:
    """Whether BFCL runs, and why not; ``ablate.bfcl: on`` without the environment is refused."""
    if cfg.ablate.bfcl == "off":
        return False, "switched off (ablate.bfcl: off)"
    if not cfg.ablate.bfcl_variants:
        return False, "no variant chosen for it (ablate.bfcl_variants is empty)"
    from tooldojo.eval.bfcl.venv import bfcl_status, require_venv, venv_dir

    if cfg.ablate.bfcl == "on":
        require_venv(cfg.eval.bfcl)  # one line with the fix when missing
    elif bfcl_status(cfg.eval.bfcl) is None:
        return False, (f"the bfcl-eval environment is not set up ({venv_dir(cfg.eval.bfcl)}): run "
                       "`tooldojo eval bfcl --setup` once (needs PyPI), then rerun the same command")
    _check_categories(cfg)
    return True, ""


def _check_categories(cfg: PipelineConfig) -> None:
    """Unknown BFCL categories are refused now, not after hours of training."""
    from tooldojo.eval.bfcl.venv import call_worker, venv_dir

    info = call_worker(venv_dir(cfg.eval.bfcl), {"op": "info"})
    known = {c for c in info["single_turn"] if "java" not in c} | set(info["collections"])  # no Java/JavaScript
    if bad := [c for c in cfg.eval.bfcl.categories if c not in known]:
        raise ConfigError(f"unknown BFCL categories {bad}", field="eval.bfcl.categories",
                          fix="use single-turn Python categories, e.g. simple_python, multiple, irrelevance")


@dataclass
class Step:
    """One resumable unit of the results run, with its planned seconds."""

    title: str
    planned: float
    run: Callable[[], Any]
    report: bool = False
    """Rewrite the results page after this step (an interrupted run still shows what it measured)."""


def _examples_per_variant(cfg: PipelineConfig, sizes: dict[str, int] | None) -> int:
    limit = cfg.eval.limit
    if sizes is None and (cfg.run_dir / "split" / "manifest.json").is_file():
        sizes = scenario_sizes_of(cfg)
    if sizes:
        return sum(n if limit is None else min(n, limit) for n in sizes.values()) * len(cfg.eval.tasks)
    # before the split exists: the chosen scenarios (default four) at the limit (~650 examples each at 16
    # queries per family)
    return (limit or 650) * len(cfg.eval.scenarios or range(4)) * len(cfg.eval.tasks)


def _bfcl_entries(cfg: PipelineConfig) -> int:
    """Entries per BFCL evaluation, for the plan (BFCL v4 sizes; the real count comes from bfcl-eval)."""
    sizes = {"simple_python": 400, "multiple": 200, "irrelevance": 240, "parallel": 200, "parallel_multiple": 200}
    cats = cfg.eval.bfcl.categories
    return sum(min(sizes.get(c, 200), cfg.eval.bfcl.limit or 10**9) for c in cats)


def plan(cfg: PipelineConfig, *, bfcl: bool, sizes: dict[str, int] | None = None, force_data: bool = False
         ) -> list[Step]:
    """Every step in order, with planned seconds from ``ablate.cost``; ``Step.run`` does the work."""
    cost, seed = cfg.ablate.cost, cfg.seed
    steps = [Step("data: synth, dedup, split", cost.data_seconds, lambda: _prepare_data(cfg, force=force_data))]
    runs, per_variant = training_runs(cfg), _examples_per_variant(cfg, sizes)
    for v in cfg.ablate.variants:  # each variant's training just before its evaluation: numbers come in early
        name = TRAINED_BY[v]
        if name in runs:
            tc = runs.pop(name)
            n_sft = sum(st.max_steps for st in (tc.rank, tc.select) if st.enabled)
            n_rl = tc.rl.max_steps if tc.rl.enabled else 0
            planned = n_sft * cost.sft_step_seconds + n_rl * cost.rl_step_seconds + cost.model_seconds
            steps.append(Step(f"train {name} ({n_sft} SFT + {n_rl} GRPO steps)", planned,
                              lambda name=name, tc=tc: _train(cfg, name, tc)))
            if v == "two_stage" and "two_stage_rl" in cfg.ablate.variants:
                steps.append(Step("merge (c)'s stage 2", cost.model_seconds, lambda: _merge_stage2(cfg)))
        steps.append(Step(f"eval {LABELS[v]} ({per_variant} outputs)",
                          per_variant * cost.eval_example_seconds + cost.model_seconds,
                          lambda v=v: _evaluate(cfg, v, seed), report=True))
    if bfcl:
        entries = _bfcl_entries(cfg)
        steps.append(Step("BFCL leakage audit", cost.audit_seconds, lambda: audit_bfcl(cfg)))
        for v in cfg.ablate.bfcl_variants:
            steps.append(Step(f"BFCL {LABELS[v]} ({entries} entries)",
                              entries * cost.eval_example_seconds + cost.model_seconds,
                              lambda v=v: _bfcl(cfg, v, seed), report=True))
    return steps


def plan_table(steps: list[Step]) -> str:
    from tooldojo.reporting import md_table

    total = sum(s.planned for s in steps)
    rows = [[s.title, f"{s.planned / 60:.1f}"] for s in steps] + [["**total**", f"{total / 60:.1f}"]]
    return md_table(["step", "planned minutes"], rows)


def _prepare_data(cfg: PipelineConfig, *, force: bool = False) -> dict[str, int]:
    """synth, dedup and split (each skipped when up to date; ``force`` rebuilds them, replacing a finished run
    made with another config), then the evaluation sets' sizes checked before any training."""
    from rich.console import Console

    from tooldojo.pipeline import run_pipeline

    run_pipeline(cfg, stages=("synth", "dedup", "split"), force=force)
    sizes = scenario_sizes(cfg)
    Console(stderr=True).print("evaluation sets: " + ", ".join(f"{s} {n}" for s, n in sizes.items()))
    return sizes


def scenario_sizes_of(cfg: PipelineConfig) -> dict[str, int]:
    """Examples per evaluated scenario in the run's dataset (before ``eval.limit``)."""
    from tooldojo.eval.data import load_eval_sets, select_scenarios

    sets = load_eval_sets(cfg.eval.dataset or cfg.run_dir / "split" / "dataset")
    return {s: len(sets[s]) for s in select_scenarios(sets, cfg.eval.scenarios)}


def scenario_sizes(cfg: PipelineConfig) -> dict[str, int]:
    """Examples per evaluated scenario; fails when one is below ``ablate.min_eval_examples``."""
    sizes = scenario_sizes_of(cfg)
    small = {s: n for s, n in sizes.items() if n < cfg.ablate.min_eval_examples}
    if small:
        raise DataError(f"scenario(s) with fewer than {cfg.ablate.min_eval_examples} examples: {small}",
                        field="synth.queries_per_family",
                        fix="synthesize more queries (raise synth.queries_per_family or families_per_domain) "
                            "or lower ablate.min_eval_examples")
    return sizes


def _train(cfg: PipelineConfig, name: str, tc: TrainConfig) -> Any:
    from tooldojo.train import run_train

    folder = variant_dir(cfg.run_dir, name)
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "split"
    if not link.exists():
        link.symlink_to(os.path.relpath(cfg.run_dir / "split", folder), target_is_directory=True)
    seed = cfg.seed_for("train")
    return run_train(tc, folder, seed=seed)


def _merge_stage2(cfg: PipelineConfig) -> Path:
    """(c) when its training run continues into GRPO: its stage-2 adapter merged into a model folder
    (redone only when stage 2 changed)."""
    from tooldojo.models import resolve_model
    from tooldojo.train.backends import merge_and_save, phase_output
    from tooldojo.train.phases import quiet_libraries
    from tooldojo.train.runner import read_phase

    train_dir = variant_dir(cfg.run_dir, "two_stage") / "train"
    marker = read_phase(train_dir / "stage2")
    out = variant_dir(cfg.run_dir, "two_stage") / MERGED_STAGE2
    done = out / "tooldojo_train.json"
    if done.exists() and json.loads(done.read_text(encoding="utf-8")).get("hash") == marker.get("hash"):
        return out
    adapter = phase_output(train_dir / "stage2")
    if adapter is None or marker.get("status") != "complete":
        raise DataError("stage 2 of the two-stage run has not finished", field=str(train_dir / "stage2"),
                        fix="rerun the same `tooldojo ablate` command")
    base = resolve_model(cfg.train.model)
    with quiet_libraries():
        from tooldojo.models import load_tokenizer

        return merge_and_save(base, adapter, out, tokenizer=load_tokenizer(base),
                              provenance={"hash": marker["hash"], "base_model": base_model(cfg),
                                          "from_phase": "stage2", "call_format": cfg.train.call_format})


def _evaluate(cfg: PipelineConfig, variant: str, seed: int) -> Any:
    from tooldojo.eval import run_eval

    seed = cfg.seed_for("eval")
    return run_eval(cfg.eval.model_copy(update={"model": variant_model(cfg, variant)}), cfg.run_dir, seed=seed,
                    name=variant)


def _bfcl(cfg: PipelineConfig, variant: str, seed: int) -> Any:
    from tooldojo.eval.bfcl import run_bfcl

    seed = cfg.seed_for("eval")
    return run_bfcl(cfg.eval.model_copy(update={"model": variant_model(cfg, variant)}), cfg.run_dir, seed=seed,
                    name=variant)


def audit_bfcl(cfg: PipelineConfig) -> Any:
    """The leakage audit of the training data against BFCL's questions and function docs (the categories
    scored): ``<run>/eval/bfcl-audit/`` (``audit.json``), a stage skipped when up to date."""
    from tooldojo.eval.bfcl.runner import bfcl_texts
    from tooldojo.eval.bfcl.venv import bfcl_status
    from tooldojo.runs import StageRun, read_manifest, upstream_fingerprint, write_json
    from tooldojo.split.audit import audit_external
    from tooldojo.split.stage import read_dedup_settings

    run_dir = cfg.run_dir
    split_fp = upstream_fingerprint(run_dir / "split", needed_by="the BFCL leakage audit")
    version = (bfcl_status(cfg.eval.bfcl) or {}).get("version", "?")
    settings = {"categories": cfg.eval.bfcl.categories, "max_jaccard": cfg.split.audit_max_jaccard,
                "max_cosine": cfg.split.audit_max_cosine, "semantic": cfg.split.audit_semantic}
    st = StageRun(run_dir / "eval" / AUDIT, "audit-bfcl", settings, inputs={"split": split_fp, "bfcl_eval": version})
    if st.up_to_date():
        return read_manifest(st.dir)
    from tooldojo.dataset_io import load_dataset_dir

    queries, tools, _ = bfcl_texts(cfg.eval.bfcl)
    train = load_dataset_dir(run_dir / "split" / "dataset", "select")["train"]
    dedup = read_dedup_settings(run_dir / "dedup")
    with st:
        report = audit_external({"query": train["query"], "tools": train["tools"]}, "bfcl",
                                {"query": queries, "tools": tools}, minhash=dedup.minhash,
                                semantic=dedup.semantic if cfg.split.audit_semantic else None,
                                max_jaccard=cfg.split.audit_max_jaccard, max_cosine=cfg.split.audit_max_cosine)
        write_json(st.dir / "audit.json", report)
        st.record_output("audit", None, "audit.json")
        st.counts.update(bfcl_questions=len(set(queries)), bfcl_functions=report["checks"]["tools"]["n_unseen"])
        st.stats.update(passed=report["passed"], **{f"max_{m}_{what}": r.get(f"max_{m}")
                                                   for what, r in report["checks"].items()
                                                   for m in ("jaccard", "cosine")})
    return st.manifest


def _rss_gib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**30


def run_ablate(cfg: PipelineConfig, *, docs: Path | None = None, command: str | None = None,
               force_data: bool = False) -> dict[str, Any]:
    """Run every variant's training and evaluation, then write ``<run>/results/`` (and ``docs``, when
    given: ``results.md``, ``results.json``, ``results.png``). ``force_data`` rebuilds synth, dedup and split
    (training and evaluation then rerun where their inputs changed). Returns the results record."""
    from rich.console import Console

    from tooldojo.ablate.results import write_results
    from tooldojo.models import release_memory

    console = Console(stderr=True)
    check_config(cfg)
    bfcl, why_not = bfcl_available(cfg)
    steps = plan(cfg, bfcl=bfcl, force_data=force_data)
    total = sum(s.planned for s in steps)
    budget = cfg.ablate.budget_hours
    if budget is not None and total > budget * 3600:
        raise ConfigError(f"the planned time ({total / 3600:.2f} h) exceeds ablate.budget_hours ({budget} h)",
                          field="ablate.budget_hours",
                          fix="lower the step budgets or eval.limit, or raise ablate.budget_hours")
    console.rule("[bold]results run: plan")
    console.print(plan_table(steps))
    if not bfcl:
        console.print(f"[yellow]BFCL will not run: {why_not}[/yellow]")
    t0 = time.perf_counter()

    def report(final: bool = False) -> dict[str, Any]:
        return write_results(cfg, bfcl_note=None if bfcl else why_not, docs=docs if final else None,
                             command=command, wall_seconds=time.perf_counter() - t0, planned_seconds=total)

    for i, step in enumerate(steps, 1):
        console.rule(f"[bold]{i}/{len(steps)} {step.title}")
        s0 = time.perf_counter()
        step.run()
        release_memory()  # one process runs every step: what a finished model held goes back
        console.print(f"{step.title}: {time.perf_counter() - s0:.1f}s (planned {step.planned:.0f}s), "
                      f"memory {_rss_gib():.1f} GiB")
        if step.report:
            report()
    record = report(final=True)
    console.rule("[bold]done")
    console.print(f"results: {cfg.run_dir / 'results' / 'results.md'}"
                  + (f" (and {docs / 'results.md'})" if docs else ""))
    return record


__all__ = ["LABELS", "VARIANTS", "Variant", "check_config", "plan", "run_ablate", "training_runs"]
