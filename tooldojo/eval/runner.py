"""``run_eval``: generate for every scenario example, score, and write the report folder.

``<run>/eval/<name>/`` holds ``report.md`` (+ ``report.html``), ``metrics.json``, ``examples.jsonl`` (prompt,
raw output, parsed call, verdict per example), ``plots/*.png``, ``manifest.json`` and ``config.yaml``.
Finished outputs are appended to ``partial.jsonl`` as they come, so an interrupted evaluation resumes where it
stopped; the file is removed once the report is written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooldojo.eval.config import EvalConfig
from tooldojo.eval.data import EvalItem, build_items, load_eval_sets, select_scenarios
from tooldojo.eval.generation import EndpointError, Generator, GenResult
from tooldojo.runs import (
    Manifest,
    StageRun,
    config_hash,
    file_fingerprint,
    read_manifest,
    upstream_fingerprint,
)

PARTIAL = "partial.jsonl"
SPEED_ONLY = {"batch_size", "concurrency", "max_retries", "request_timeout", "html"}
"""Config fields that do not change the outputs: a resumed run may change them."""


def slug(text: str) -> str:
    """A folder-safe name: ``Qwen/Qwen2.5-0.5B-Instruct`` -> ``qwen2.5-0.5b-instruct``."""
    s = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")
    return s[:80] or "model"


@dataclass
class Target:
    """What is evaluated: its display name, a fingerprint for skipping, and the default report name."""

    display: str
    fingerprint: str
    default_name: str
    endpoint: bool
    trained_here: bool = False
    """The model lives in this run's ``train/`` folder (its training curves belong in the report)."""


def _folder_fingerprint(path: Path) -> str:
    """Cheap fingerprint of a model folder (names, sizes, mtimes), or its train manifest's fingerprint."""
    from tooldojo.records import stable_id

    files = sorted(p for p in path.rglob("*") if p.is_file())
    return stable_id([(str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns) for p in files])


def describe_target(config: EvalConfig, run_dir: Path) -> Target:
    if config.base_url:
        return Target(f"{config.model} @ {config.base_url}", f"endpoint:{config.base_url}:{config.model}",
                      slug(config.model or "endpoint"), endpoint=True)
    spec = config.model or str(run_dir / "train" / "final")
    path = Path(spec)
    if path.is_dir():
        try:
            rel = Path(os.path.abspath(path)).relative_to(os.path.abspath(run_dir))  # symlinks kept as named
            name, trained_here = "-".join(rel.parts), rel.parts[:1] == ("train",)
        except ValueError:
            name, trained_here = path.resolve().name, False
        return Target(spec, f"folder:{_folder_fingerprint(path)}", slug(name), endpoint=False,
                      trained_here=trained_here)
    return Target(spec, f"spec:{spec}", slug(spec.split("/")[-1] if "/" in spec else spec), endpoint=False)


def make_generator(config: EvalConfig, run_dir: Path, seed: int) -> Generator:
    """The generation backend for ``config`` (endpoint, vLLM or transformers)."""
    from tooldojo.eval.generation import choose_backend, resolve_local_model

    if config.base_url:
        choose_backend(config.backend, endpoint=True, adapter=False)
        from tooldojo.eval.openai_backend import OpenAIGenerator

        return OpenAIGenerator(config.model or "", config.base_url, api_key_env=config.api_key_env,
                               concurrency=config.concurrency, max_new_tokens=config.max_new_tokens,
                               temperature=config.temperature, top_p=config.top_p, seed=seed,
                               max_retries=config.max_retries, timeout=config.request_timeout)
    model = resolve_local_model(config.model, run_dir)
    backend = choose_backend(config.backend, endpoint=False, adapter=model.adapter is not None)
    if backend == "vllm":
        from tooldojo.eval.vllm_backend import VLLMGenerator

        return VLLMGenerator(model, max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                             top_p=config.top_p, dtype=config.dtype, seed=seed)
    from tooldojo.eval.hf_backend import HFGenerator

    return HFGenerator(model, batch_size=config.batch_size, max_new_tokens=config.max_new_tokens,
                       temperature=config.temperature, top_p=config.top_p, dtype=config.dtype, seed=seed)


def generate_all(generator: Generator, items: list[EvalItem], *, partial: Path, description: str,
                 done: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[GenResult], float]:
    """Generate for the items not in ``done``, appending each finished output to ``partial``.

    Returns (all outputs by key, results that failed transiently, generation seconds). Shows a progress bar
    with throughput and ETA.
    """
    from tooldojo.reporting import progress_bar

    todo = [it for it in items if it.key not in done]
    failed: list[GenResult] = []
    if not todo:
        return done, failed, 0.0
    t0 = time.perf_counter()
    partial.parent.mkdir(parents=True, exist_ok=True)
    with open(partial, "a", encoding="utf-8") as fh, \
            progress_bar("{task.description}", "bar", "count", "percent", "{task.fields[rate]} ex/s", "elapsed",
                         "ETA", "remaining") as progress:
        bar = progress.add_task(description, total=len(todo), rate="–")
        finished = 0

        def on_done(results: list[GenResult]) -> None:
            nonlocal finished
            for res in results:
                if res.retryable:
                    failed.append(res)
                    continue
                row = {"key": res.key, "text": res.text, "tool_calls": res.tool_calls, "error": res.error}
                done[res.key] = row
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            finished += len(results)
            rate = finished / max(time.perf_counter() - t0, 1e-9)
            progress.update(bar, advance=len(results), rate=f"{rate:.2f}")

        generator.generate([it.request() for it in todo], on_done)
    return done, failed, time.perf_counter() - t0


def read_partial(path: Path) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut by an interruption
            continue
        done[row["key"]] = row
    return done


def resume_partial(partial: Path, stamp: str, *, force: bool = False) -> dict[str, dict[str, Any]]:
    """The finished outputs in ``partial`` when it was written for ``stamp`` (what the outputs depend on);
    otherwise (or with ``force``) start it afresh, its first line the stamp."""
    previous = read_partial(partial)
    if force or previous.pop("__stamp__", {}).get("stamp") != stamp:
        previous = {}
        partial.unlink(missing_ok=True)
    if not partial.exists():
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps({"key": "__stamp__", "stamp": stamp}) + "\n", encoding="utf-8")
    return previous


def generate_missing(config: EvalConfig, run_dir: Path, seed: int, generator: Generator | None,
                     items: list[Any], *, partial: Path, previous: dict[str, dict[str, Any]], description: str,
                     ) -> tuple[dict[str, dict[str, Any]], float, Generator | None]:
    """Outputs for every item: ``previous`` plus what is generated now, by ``generator`` or, only when an item
    is missing, one made from ``config`` (closed afterwards). Returns (outputs by key, generation seconds, the
    generator used or ``None``); requests that still fail after retries raise :class:`EndpointError`."""
    own = generator is None and any(it.key not in previous for it in items)
    gen = make_generator(config, run_dir, seed) if own else generator
    try:
        done, failed, seconds = generate_all(gen, items, partial=partial, done=previous,
                                             description=description) if gen else (previous, [], 0.0)
    finally:
        if own and gen is not None:
            gen.close()
    if failed:
        raise EndpointError(f"{len(failed)} requests still failed after retries (last: {failed[-1].error})",
                            field="eval.base_url",
                            fix="rerun the same command to retry them; finished outputs are kept")
    return done, seconds, gen


def example_record(item: EvalItem, out: dict[str, Any]) -> dict[str, Any]:
    """One ``examples.jsonl`` row: the prompt, raw output, parsed answer and verdict."""
    from tooldojo.eval.scoring import candidate_names, parse_result, score

    row = item.row
    parsed = parse_result(out.get("text") or "", out.get("tool_calls"))
    verdict = score(item.task, parsed, row)
    gold_args = json.loads(row["gold_arguments"]) if row.get("gold_arguments") else {}
    raw = out.get("text") or ""
    if out.get("tool_calls"):
        raw = json.dumps({"content": out.get("text") or None, "tool_calls": out["tool_calls"]}, ensure_ascii=False)
    return {
        "example_id": row["example_id"], "query_id": row["query_id"], "family_id": row["family_id"],
        "scenario": row["scenario"], "kind": row["kind"], "style": row["style"], "task": item.task,
        "query": row["query"], "prompt": item.messages, "tools": candidate_names(item.tools),
        "raw_output": raw, "error": out.get("error"), "parsed": parsed.to_dict(),
        "gold": {"tool": row["gold_tool"], "arguments": gold_args, "ranking": list(row["gold_ranking"])},
        "verdict": verdict,
    }


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "select" in metrics:
        o = metrics["select"]["overall"]
        out.update({k: o.get(k) for k in ("tool_accuracy", "strong_preference", "call_exact", "malformed_rate",
                                          "zero_to_one", "answer_rate")})
        out["tool_accuracy_by_scenario"] = {s: m["tool_accuracy"] for s, m in metrics["select"]["by_scenario"].items()}
    if "rank" in metrics:
        o = metrics["rank"]["overall"]
        out.update({f"rank_{k}": o.get(k) for k in ("exact", "top1", "pairwise")})
    return out


def run_eval(config: EvalConfig, run_dir: Path, *, seed: int = 0, force: bool = False, name: str | None = None,
             generator: Generator | None = None) -> Manifest:
    """Evaluate a model (or endpoint) on the run's scenario sets into ``<run>/eval/<name>/``.

    ``name`` defaults to a slug of the model. ``seed`` is the stage's seed, already resolved
    (:meth:`~tooldojo.config.PipelineConfig.seed_for`; it is recorded as ``config.seed``). ``generator``
    replaces the backend ``config`` describes (e.g. a :class:`~tooldojo.eval.generation.FunctionGenerator`);
    it is known by its ``name`` for skipping. Skipped when the folder's manifest is complete for the same
    config, dataset and model, unless ``force``.
    """
    from tooldojo.eval.metrics import compute_metrics
    from tooldojo.eval.plots import accuracy_by_scenario, ranking_by_scenario, training_plots
    from tooldojo.eval.report import render_markdown, write_reports
    from tooldojo.runs import write_json, write_jsonl

    run_dir = Path(run_dir)
    config = config.model_copy(update={"seed": seed})
    if config.dataset is None:
        ds_path = run_dir / "split" / "dataset"
        inputs = {"split": upstream_fingerprint(run_dir / "split", needed_by="eval")}
    elif Path(config.dataset).is_dir():
        ds_path = Path(config.dataset)
        inputs = {"dataset": file_fingerprint(ds_path)}
    elif re.fullmatch(r"[\w.-]+/[\w.-]+", str(config.dataset)):  # a Hub dataset repo id
        ds_path = config.dataset
        inputs = {"dataset": f"hub:{config.dataset}"}
    else:
        from tooldojo.errors import ConfigError

        raise ConfigError("dataset folder not found", field="eval.dataset",
                          fix="point eval.dataset at a scenario dataset folder (with eval/*.parquet) or a Hub repo id")
    target = describe_target(config, run_dir)
    inputs["model"] = target.fingerprint if generator is None else f"generator:{generator.name}"
    name = name or target.default_name
    out_dir = run_dir / "eval" / name
    st = StageRun(out_dir, "eval", config, inputs=inputs)
    if st.up_to_date() and not force:
        return read_manifest(out_dir)  # type: ignore[return-value]

    sets = load_eval_sets(ds_path)
    scenarios = select_scenarios(sets, config.scenarios)
    items = build_items(sets, scenarios, list(config.tasks), limit=config.limit, seed=seed,
                        call_format=config.call_format)
    partial = out_dir / PARTIAL
    # outputs depend on what is generated and how, not on batch size, concurrency or report options
    stamp = config_hash({"config": config.model_dump(mode="json", exclude=SPEED_ONLY), "inputs": inputs})
    previous = resume_partial(partial, stamp, force=force)
    n_resumed = sum(1 for it in items if it.key in previous)

    with st:
        done, seconds, gen = generate_missing(config, run_dir, seed, generator, items, partial=partial,
                                              previous=previous, description=f"eval {name}")
        records = [example_record(it, done[it.key]) for it in items]
        metrics = compute_metrics(records, list(config.tasks))
        n_generated = len(items) - n_resumed
        metrics["info"] = {
            "name": name, "model": target.display if generator is None else (config.model or generator.name),
            "backend": getattr(gen, "name", "resumed outputs"),
            "dataset": str(ds_path), "scenarios": scenarios, "tasks": list(config.tasks), "seed": seed,
            "limit": config.limit, "n_examples": len(items), "n_generated": n_generated, "n_resumed": n_resumed,
            "n_errors": sum(1 for r in records if r["error"]), "generation_seconds": round(seconds, 3),
            "load_seconds": round(float(getattr(gen, "load_seconds", 0.0)), 3),
            "examples_per_second": round(n_generated / seconds, 3) if seconds > 0 else 0.0,
        }
        plots: dict[str, str] = {}
        shutil.rmtree(out_dir / "plots", ignore_errors=True)
        if "select" in metrics:
            accuracy_by_scenario(metrics["select"], out_dir / "plots" / "accuracy_by_scenario.png")
            plots["accuracy_by_scenario"] = "plots/accuracy_by_scenario.png"
        if "rank" in metrics:
            ranking_by_scenario(metrics["rank"], out_dir / "plots" / "ranking_by_scenario.png")
            plots["ranking_by_scenario"] = "plots/ranking_by_scenario.png"
        if target.trained_here and generator is None:
            for key, path in training_plots(run_dir, out_dir / "plots").items():
                plots[key] = f"plots/{path.name}"
        st.record_output("examples", write_jsonl(out_dir / "examples.jsonl", records), "examples.jsonl")
        write_json(out_dir / "metrics.json", metrics)
        st.record_output("metrics", None, "metrics.json")
        for key, rel in write_reports(out_dir, render_markdown(metrics, records, plots), html=config.html,
                                      title=f"tooldojo evaluation {name}").items():
            st.record_output(key, None, rel)
        st.record_output("plots", len(plots), "plots")
        for task in metrics:
            if task != "info":
                st.counts[task] = metrics[task]["overall"]["n"]
        st.stats.update(_headline(metrics), name=name, examples_per_second=metrics["info"]["examples_per_second"],
                        backend=metrics["info"]["backend"], model=metrics["info"]["model"])
    partial.unlink(missing_ok=True)
    return st.manifest
