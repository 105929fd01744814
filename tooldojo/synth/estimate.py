"""``tooldojo synth --estimate``: the requests, tokens and cost a run would need, before anything is sent.

Request counts per step are the run's plan (one ``tools`` request per ``tools_per_request`` tools of a
domain, one ``upgrade``/``weaken``, ``queries`` and ``verify`` per family). Tokens per request are measured
on a dry run of the same templates and config with the offline teacher (no network, nothing written):
prompts as rendered, completions the size of the catalog's answers, both as characters / 4. Argument
repairs and re-asks are not planned requests and are left out; the worst case bounds every completion by
``max_tokens``.
"""

from __future__ import annotations

from typing import Any

from tooldojo.synth.config import OFFLINE, SynthConfig, TeacherConfig


def estimate_run(config: SynthConfig, *, seed: int = 0, strong_tools: list[dict[str, Any]] | None = None,
                 seed_queries: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """Per step and in total: ``requests``, ``prompt_tokens``, ``completion_tokens`` (and ``cost_usd``,
    ``worst_cost_usd`` when ``synth.teacher.price_per_million`` is set)."""
    from tooldojo.synth.aio import run_coroutine
    from tooldojo.synth.generate import Synthesizer
    from tooldojo.synth.stage import _synthesize, expected_requests, resolve_inputs
    from tooldojo.synth.steps import STEPS
    from tooldojo.synth.teachers import make_teacher

    inputs = resolve_inputs(config, seed=seed, strong_tools=strong_tools, seed_queries=seed_queries)
    n_seeds = None if inputs.strong_tools is None else len(inputs.strong_tools)
    expected = expected_requests(config, len(inputs.domains), n_seeds)
    planned = {k: expected[k] for k in STEPS if expected.get(k)}
    # the dry run: the offline teacher on the catalog's domains (a sample of at most 3 is enough to size)
    sample = [d for d in inputs.domains if d in inputs.catalog][:3] or sorted(inputs.catalog)[:3]
    dry_cfg = config.model_copy(update={"teacher": TeacherConfig(model=OFFLINE, cache=False),
                                        "domains": sample, "semantic_margin": None})
    teacher = make_teacher(dry_cfg.teacher, seed=seed, catalog_folder=inputs.catalog_folder)
    synth = Synthesizer(dry_cfg, teacher, inputs.templates, inputs.catalog, seed=seed,
                        seed_queries=inputs.seed_queries)
    tools = inputs.strong_tools[:24] if inputs.strong_tools is not None else None
    run_coroutine(_synthesize(synth, teacher, tools))
    price = config.teacher.price_per_million
    steps: dict[str, dict[str, Any]] = {}
    total = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "worst_completion_tokens": 0}
    for step, n in planned.items():
        measured = teacher.stats.get(step)
        asked = measured.asked if measured and measured.asked else 0
        per_prompt = measured.prompt_tokens / asked if asked else 0
        per_completion = measured.completion_tokens / asked if asked else 0
        row = {"requests": n, "prompt_tokens": round(n * per_prompt), "completion_tokens": round(n * per_completion),
               "worst_completion_tokens": n * config.teacher.max_tokens}
        for k in total:
            total[k] += row[k]
        steps[step] = row
    steps["total"] = total
    if price:
        for row in steps.values():
            row["cost_usd"] = round((row["prompt_tokens"] * price[0] + row["completion_tokens"] * price[1]) / 1e6, 4)
            row["worst_cost_usd"] = round((row["prompt_tokens"] * price[0]
                                           + row["worst_completion_tokens"] * price[1]) / 1e6, 4)
    return {"teacher": config.teacher.model, "steps": steps, "priced": bool(price),
            "sized_on": {"domains": sample} if inputs.strong_tools is None else {"seed_tools": len(tools or [])}}


def print_estimate(est: dict[str, Any]) -> None:
    """The estimate as a table on stdout, with what it leaves out."""
    from rich.console import Console
    from rich.table import Table

    cols = ["requests", "prompt_tokens", "completion_tokens", "worst_completion_tokens"]
    cols += ["cost_usd", "worst_cost_usd"] if est["priced"] else []
    table = Table(title=f"synth estimate for teacher {est['teacher']} (nothing sent)", title_justify="left")
    table.add_column("step")
    for c in cols:
        table.add_column(c.replace("_", " "), justify="right")
    for step, row in est["steps"].items():
        table.add_row(step, *(str(row[c]) for c in cols))
    console = Console(width=160)
    console.print(table)
    console.print("Tokens are characters / 4 of the rendered prompts and of offline answers of the same shape; "
                  "argument repairs and re-asks are not counted; worst = every completion at max_tokens."
                  + ("" if est["priced"] else " Set synth.teacher.price_per_million for costs."))
