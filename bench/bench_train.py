"""Training speed and memory: Unsloth vs plain transformers + PEFT + TRL, through tooldojo's own train path.

Every measurement runs in its own subprocess (Unsloth patches transformers/TRL on import, so the plain path
must never share a process with it), with the same model, data, LoRA settings, batch and length:

- **SFT**: tokens/s (every token of the batch, prompt included; after one warm-up step) and peak GPU memory
  (``torch.cuda.max_memory_allocated``; on CPU the process's peak RSS), on pre-tokenized rows of exactly
  ``--seq-len`` tokens whose last 64 carry the loss (tooldojo's SFT rows have this shape: a long prompt with
  the tool schemas, a short completion);
- **GRPO**: seconds per step (generation of ``--generations`` rollouts + the update; after one warm-up step)
  on scenario prompts built from the seed catalog, scored by tooldojo's Tool-Zero rewards;
- **fit** (GPU only, ``--fit 8,12,24``): an SFT step's peak (batch 1, 512..8192 tokens, ascending on one model
  load: the allocator's reserved peak + the CUDA context) next to tooldojo's estimate, and from them the
  longest sequence that fits 8, 12 and 24 GiB.

A worker process can run several jobs in turn (``run_jobs``; ``bench.gpu_check`` runs SFT, GRPO and the fit of
one backend variant in one process, to pay Unsloth's import once); peaks are then counted from the job's own
allocations.

Models: ``gemma-3-270m`` (the offline package's real weights), ``tiny``, and random-init shapes
``gemma-3-270m-random`` and ``gemma-3-1b`` (the Gemma tokenizer; valid for speed and memory, not quality, and
all a fresh GPU machine can build), or any model spec.

Every row also reports ``compile_s``: the first step's time beyond a steady step (torch.compile and
warm-up), kept apart from the steady step time; ``--compile on|off`` sets ``train.compile`` for Unsloth.

On the lent GPU, ``bash bench/gpu_check.sh`` runs these workers with the GPU tests in one command (see
``bench/gpu_check.py``); by hand (needs ``tooldojo[gpu]``)::

    python -m bench.bench_train --models gemma-3-270m-random,gemma-3-1b --backends unsloth,hf --fit 8,12,24

CPU smoke run (the TRL+PEFT half only)::

    python -m bench.bench_train --quick                        # tiny model, 2 steps each
    python -m bench.bench_train --quick --models gemma-3-270m  # Gemma-3-270M seconds/step on CPU
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._report import table, write_section

ROOT = Path(__file__).resolve().parent.parent
MARK = "BENCH_RESULT "
SHAPES: dict[str, dict[str, Any]] = {
    "gemma-3-270m-random": {"hidden_size": 640, "intermediate_size": 2048, "num_hidden_layers": 18,
                            "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256,
                            "sliding_window": 512, "query_pre_attn_scalar": 256, "max_position_embeddings": 32768},
    "gemma-3-1b": {"hidden_size": 1152, "intermediate_size": 6912, "num_hidden_layers": 26,
                   "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256, "sliding_window": 512,
                   "query_pre_attn_scalar": 256, "max_position_embeddings": 32768},
    "gemma-3-4b": {"hidden_size": 2560, "intermediate_size": 10240, "num_hidden_layers": 34,
                   "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "sliding_window": 1024,
                   "query_pre_attn_scalar": 256, "max_position_embeddings": 32768},
}
COMPLETION = 64


# ------------------------------------------------------------------------------------------------ models

def model_path(spec: str) -> str:
    """A model folder for ``spec``: a random-init shape (built once under the cache) or any tooldojo spec."""
    if spec not in SHAPES:
        from tooldojo.models import resolve_model

        return resolve_model(spec)
    import torch
    from transformers import AutoModelForCausalLM, Gemma3TextConfig

    from tooldojo.models import cache_dir, gemma_tokenizer

    dest = cache_dir() / "models" / f"bench-{spec}-random"
    if (dest / "config.json").exists():
        return str(dest)
    tok = gemma_tokenizer()
    config = Gemma3TextConfig(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                              pad_token_id=tok.pad_token_id, **SHAPES[spec])
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    tmp = dest.with_name(dest.name + ".tmp")
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    tmp.rename(dest)
    return str(dest)


# -------------------------------------------------------------------------------------------------- data

def sft_rows(n: int, seq_len: int, vocab: int, seed: int = 0) -> Any:
    """Pre-tokenized SFT rows of exactly ``seq_len`` tokens, the last ``COMPLETION`` carrying the loss."""
    from datasets import Dataset

    rng = random.Random(seed)
    comp = min(COMPLETION, seq_len // 2)
    ids = [[2] + [rng.randrange(1000, vocab) for _ in range(seq_len - 1)] for _ in range(n)]
    return Dataset.from_dict({"input_ids": ids, "completion_mask": [[0] * (seq_len - comp) + [1] * comp] * n})


def select_rows(n: int, seed: int = 0) -> Any:
    """``select`` rows from the seed catalog: each family's queries under varied candidate sets (2-3
    distractors), the shape of the split stage's training rows."""
    from datasets import Dataset

    from tooldojo.dataset_schema import example_to_row, features
    from tooldojo.records import Example, QueryRecord, gold_for, stable_id
    from tooldojo.synth.catalog import fill, load_catalog, sample_slots

    rng = random.Random(seed)
    families = [(dom, fam) for dom, df in load_catalog().items() for fam in df.families]
    all_tools = [fn for _, fam in families for fn in (fam.weak, fam.strong)]
    rows = []
    for i in range(n):
        dom, fam = families[i % len(families)]
        pattern = fam.queries[(i // len(families)) % len(fam.queries)]
        values = sample_slots(fam, pattern, rng)
        names = {"weak": fam.weak["name"], "strong": fam.strong["name"]}
        calls = {names[role]: fill(args, values) for role, args in pattern.calls.items()}
        q = QueryRecord(query_id=stable_id("q", i), family_id=fam.id, text=fill(pattern.text, values),
                        style=pattern.style, needs=pattern.needs, calls=calls)
        kind = ("zero", "one", "weak_strong")[i % 3]
        offered = {"zero": [], "one": [pattern.needs], "weak_strong": ["weak", "strong"]}[kind]
        tools = rng.sample([t for t in all_tools if t["name"] not in names.values()], rng.randint(2, 3))
        tools += [fam.weak if role == "weak" else fam.strong for role in offered]
        rng.shuffle(tools)
        gold = gold_for(q, names, [t["name"] for t in tools])
        ex = Example(example_id=stable_id("bench-train", i), query_id=q.query_id, family_id=fam.id, domain=dom,
                     scenario="train", kind=kind, style=q.style, query=q.text, tools=tools, gold_tool=gold.tool,
                     gold_arguments=gold.arguments, gold_ranking=gold.ranking, weak_tool=names["weak"],
                     strong_tool=names["strong"], capability_gap=fam.gap)
        rows.append(example_to_row(ex, "select"))
    return Dataset.from_list(rows, features=features("select"))


# ------------------------------------------------------------------------------------------------ worker

def _peak_bytes(cuda: bool) -> int:
    if cuda:
        import torch

        return int(torch.cuda.max_memory_allocated())
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _reset_peak(cuda: bool) -> None:
    if cuda:
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


class _StepTimer:
    """Wall time of every optimizer step (a TrainerCallback, built lazily)."""

    def __new__(cls, cuda: bool):
        from transformers import TrainerCallback

        class Timer(TrainerCallback):
            def __init__(self):
                self.times: list[float] = []
                self._t = 0.0

            def on_step_begin(self, args, state, control, **kwargs):
                if cuda:
                    import torch

                    torch.cuda.synchronize()
                self._t = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                if cuda:
                    import torch

                    torch.cuda.synchronize()
                self.times.append(time.perf_counter() - self._t)

        return Timer()


def _setup(job: dict[str, Any]) -> tuple[Any, Any, Any]:
    from tooldojo.train import TrainConfig
    from tooldojo.train.backends import resolve_backend

    cfg = TrainConfig.model_validate({"model": job["model"], "backend": job["backend"],
                                      "compile": job.get("compile") or "auto", "gradient_checkpointing": job["gc"],
                                      "lora": {"load_in_4bit": job["four_bit"], "r": 16}})
    t0 = time.perf_counter()
    backend = resolve_backend(cfg)  # imports unsloth first when it is the backend (once per process)
    job["backend_s"] = round(time.perf_counter() - t0, 2)
    return cfg, backend, model_path(job["model"])


def _allocated(cuda: bool) -> int:
    if not cuda:
        return 0
    import gc

    import torch

    gc.collect()  # the previous job's trainer and model, when several jobs share a process
    torch.cuda.empty_cache()
    return int(torch.cuda.memory_allocated())


def _timing(times: list[float]) -> dict[str, float]:
    """Steady seconds per step (the steps after the first) and the first step's excess over it (compile and
    warm-up), reported apart."""
    steady = sum(times[1:]) / len(times[1:])
    return {"seconds_per_step": steady, "first_step_s": times[0], "compile_s": max(0.0, times[0] - steady)}


def worker_sft(job: dict[str, Any]) -> dict[str, Any]:
    """One SFT measurement through tooldojo's backend loader and TRL's SFTTrainer."""
    cfg, backend, path = _setup(job)
    import torch
    from trl import SFTConfig, SFTTrainer

    from tooldojo.train.backends import load_for_training
    from tooldojo.train.phases import _common_args, compact_loss_on_cpu, make_args, quiet_libraries

    cuda = backend.device == "cuda"
    if job.get("memory_fraction"):
        torch.cuda.set_per_process_memory_fraction(job["memory_fraction"], 0)
    steps, batch, seq = job["steps"], job["batch"], job["seq_len"]
    start = _allocated(cuda)
    grouping = {}
    if job.get("group_by_length"):
        from tooldojo.train.phases import length_grouping

        grouping = length_grouping(True)
    with quiet_libraries():
        t0 = time.perf_counter()
        model, tok = load_for_training(backend, path, init_from=None, lora=cfg.lora, max_seq_length=seq, seed=0)
        load_s = time.perf_counter() - t0
        prepared = None
        if job.get("rows") == "catalog":  # real select rows, as many as the run's steps take, lengths varying
            from tooldojo.train.data import prepare_sft

            prepared = prepare_sft(select_rows(4 * batch * (steps + 1)), tok, task="select", call_format="json",
                                   max_length=seq, max_examples=batch * (steps + 1), seed=0)
            data = prepared.dataset
        else:
            data = sft_rows(batch * (steps + 1), seq, len(tok))
        args = make_args(SFTConfig, **(_common_args(cfg, backend, Path(job["out"]), 0) | {"save_strategy": "no"}),
                         per_device_train_batch_size=batch, max_steps=-(-len(data) // batch), learning_rate=1e-4,
                         max_length=seq, completion_only_loss=True, **grouping)
        trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok)
        timer = _StepTimer(cuda)
        trainer.add_callback(timer)
        _reset_peak(cuda)
        with compact_loss_on_cpu(backend):
            trainer.train()
    loss = [round(h["loss"], 3) for h in trainer.state.log_history if "loss" in h][-1]
    common = {"peak_gib": (_peak_bytes(cuda) - start) / 2**30, "load_s": load_s, "backend_s": job["backend_s"],
              "setup": backend.describe(), "loss": loss}
    if prepared is not None:  # one pass over the rows: every row's real (unpadded) tokens over the whole time
        total = sum(timer.times)
        real = sum(len(r) for r in data["input_ids"])
        return {"seconds_per_step": total / len(timer.times), "tokens_per_s": real / total,
                "rows_per_s": len(data) / total, "mean_tokens": real / len(data), "rows_kept": prepared.rows_used,
                "rows_too_long": prepared.too_long, **common}
    timing = _timing(timer.times)  # the first step compiles and warms up kernels and caches
    return timing | {"tokens_per_s": batch * seq / timing["seconds_per_step"], **common}


def worker_grpo(job: dict[str, Any]) -> dict[str, Any]:
    """One GRPO measurement (generation + update per step) through TRL's GRPOTrainer and tooldojo's rewards."""
    cfg, backend, path = _setup(job)
    from trl import GRPOConfig, GRPOTrainer

    from tooldojo.train.backends import load_for_training
    from tooldojo.train.data import prepare_rl
    from tooldojo.train.phases import _common_args, compact_loss_on_cpu, make_args, quiet_libraries
    from tooldojo.train.rewards import ToolZeroRewards

    cuda = backend.device == "cuda"
    steps, gens, comp = job["steps"], job["generations"], job["completion"]
    start = _allocated(cuda)
    with quiet_libraries():
        model, tok = load_for_training(backend, path, init_from=None, lora=cfg.lora, max_seq_length=2048 + comp,
                                       seed=0)
        data = prepare_rl(select_rows(max(8, gens * (steps + 1))), tok, call_format="json", max_prompt_length=2048,
                          max_examples=None, seed=0)
        rewards = ToolZeroRewards(max_steps=steps + 1, log_samples=0)
        generation = None
        if job.get("stop_at_answer"):
            from tooldojo.train.phases import stop_rollouts_at_answer_end

            generation = stop_rollouts_at_answer_end(model, tok)
        args = make_args(GRPOConfig, **(_common_args(cfg, backend, Path(job["out"]), 0) | {"save_strategy": "no"}),
                         per_device_train_batch_size=gens, num_generations=gens, max_completion_length=comp,
                         max_steps=steps + 1, learning_rate=1e-5, beta=0.0, temperature=0.8,
                         generation_kwargs=generation)
        trainer = GRPOTrainer(model=model, reward_funcs=[rewards.format_fn, rewards.tool_fn], args=args,
                              train_dataset=data.dataset, processing_class=tok)
        timer = _StepTimer(cuda)
        trainer.add_callback(timer)
        _reset_peak(cuda)
        with compact_loss_on_cpu(backend):
            trainer.train()
    lengths = [h["completions/mean_length"] for h in trainer.state.log_history if "completions/mean_length" in h]
    return _timing(timer.times) | {"peak_gib": (_peak_bytes(cuda) - start) / 2**30,
                                   "mean_completion": sum(lengths) / len(lengths),
                                   "prompt_tokens": round(data.mean_tokens), "backend_s": job["backend_s"],
                                   "setup": backend.describe()}


def worker_fit(job: dict[str, Any]) -> dict[str, Any]:
    """Peak memory of an SFT step (batch 1) at each length, ascending, on one model load, next to tooldojo's
    estimate; from them the longest length that fits each budget. Measured = the allocator's reserved peak plus
    the CUDA context the estimate also counts (on CPU: the process's peak RSS)."""
    cfg, backend, path = _setup(job)
    import torch
    from trl import SFTConfig, SFTTrainer

    from tooldojo.train.backends import load_for_training
    from tooldojo.train.memory import CUDA_CONTEXT, Workload, estimate, model_shape
    from tooldojo.train.phases import _common_args, compact_loss_on_cpu, make_args, quiet_libraries
    from tooldojo.train.runner import memory_settings

    cuda = backend.device == "cuda"
    lengths, budgets = job.get("lengths") or [512, 1024, 2048, 4096, 8192], job["budgets"]
    shape = model_shape(path)
    rows: list[dict[str, Any]] = []
    with quiet_libraries():
        model, tok = load_for_training(backend, path, init_from=None, lora=cfg.lora, max_seq_length=max(lengths),
                                       seed=0)
        for seq in lengths:
            est = estimate(shape, Workload("sft", 1, seq, min(COMPLETION, seq // 2)), **memory_settings(cfg, backend))
            row: dict[str, Any] = {"seq_len": seq, "estimated_gib": est.total / 2**30}
            rows.append(row)
            args = make_args(SFTConfig, **(_common_args(cfg, backend, Path(job["out"]), 0) | {"save_strategy": "no"}),
                             per_device_train_batch_size=1, max_steps=2, max_length=seq, completion_only_loss=True)
            _allocated(cuda)
            _reset_peak(cuda)
            try:
                with compact_loss_on_cpu(backend):
                    SFTTrainer(model=model, args=args, train_dataset=sft_rows(2, seq, len(tok)),
                               processing_class=tok).train()
            except torch.OutOfMemoryError:
                row["note"] = "out of memory"
                break
            if cuda:
                row["allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
                row["measured_gib"] = (torch.cuda.max_memory_reserved() + CUDA_CONTEXT) / 2**30
            else:
                row["measured_gib"] = _peak_bytes(cuda) / 2**30
            row["estimate_ratio"] = row["estimated_gib"] / row["measured_gib"]
            if row["measured_gib"] > max(budgets):
                break
    fit = {str(b): {"measured": max([r["seq_len"] for r in rows if r.get("measured_gib", b + 1) <= b], default=0),
                    "estimated": max([r["seq_len"] for r in rows if r["estimated_gib"] <= b], default=0)}
           for b in budgets}
    return {"fit": fit, "lengths": rows, "backend_s": job["backend_s"], "setup": backend.describe()}


WORKERS = {"sft": worker_sft, "grpo": worker_grpo, "fit": worker_fit}


# ------------------------------------------------------------------------------------------------ driver

def run_logged(cmd: list[str], log: Path, timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd`` from the repository root in its own process group, stdout and stderr streamed to ``log``;
    the group is killed on timeout."""
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                                env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})))
        try:
            rc, timed_out = proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc, timed_out = proc.wait(), True
    return {"rc": rc, "timed_out": timed_out, "seconds": round(time.perf_counter() - t0, 1), "log": log.name}


def marked(log: Path) -> list[dict[str, Any]]:
    """The results a worker printed (``BENCH_RESULT {json}`` lines) into ``log``."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return [json.loads(line[len(MARK):]) for line in lines if line.startswith(MARK)]


def run_jobs(jobs: list[dict[str, Any]], *, timeout: float = 1800, log: Path | None = None) -> list[dict[str, Any]]:
    """Run measurements one after another in one fresh Python process, its output streamed to ``log``; one
    result per job: its numbers, or ``{"error": ...}`` (a timeout keeps the jobs finished before it)."""
    import tempfile

    with contextlib.ExitStack() as stack:
        if log is None:
            log = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "worker.log"
        res = run_logged([sys.executable, "-m", "bench.bench_train", "--worker", json.dumps(jobs)], log, timeout,
                         env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
        done = marked(log)
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    ended = f"timed out after {timeout:.0f}s" if res["timed_out"] else f"exit {res['rc']}"
    tail = " / ".join(line.strip() for line in lines[-3:] if line.strip())
    return done + [{"error": f"{ended}: {tail}"[:600]}] * (len(jobs) - len(done))


def run_job(job: dict[str, Any], timeout: int = 1800) -> dict[str, Any]:
    """Run one measurement in a fresh Python process; its result, or ``{"error": ...}``."""
    return run_jobs([job], timeout=timeout)[0]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="CPU smoke run: TRL+PEFT path, tiny model, 2 steps each")
    ap.add_argument("--models", default=None, help="comma-separated: gemma-3-270m, gemma-3-1b, tiny, folders")
    ap.add_argument("--backends", default=None, help="comma-separated: unsloth, hf (default: both on CUDA)")
    ap.add_argument("--steps", type=int, default=None, help="timed steps (after one warm-up step)")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--seq-len", type=int, default=None)
    ap.add_argument("--generations", type=int, default=None, help="GRPO rollouts per step")
    ap.add_argument("--completion", type=int, default=None, help="GRPO max completion tokens")
    ap.add_argument("--four-bit", action="store_true", help="4-bit QLoRA on both paths (default: 16-bit LoRA)")
    ap.add_argument("--no-gc", action="store_true", help="without gradient checkpointing")
    ap.add_argument("--compile", choices=["auto", "on", "off"], default=None,
                    help="train.compile for the Unsloth rows (default auto: on, as the steps are unknown)")
    ap.add_argument("--fit", default="", help="memory budgets in GiB to search, e.g. 8,12,24 (CUDA only)")
    ap.add_argument("--no-write", action="store_true", help="print only; do not update docs/benchmarks.md")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        jobs = json.loads(args.worker)
        for job in jobs if isinstance(jobs, list) else [jobs]:
            try:
                result = WORKERS[job["kind"]](job)
            except Exception as err:  # report it and go on with the next job of this process
                import traceback

                traceback.print_exc()
                result = {"error": f"{type(err).__name__}: {str(err).strip()[:400]}"}
            print(MARK + json.dumps(result), flush=True)
        return

    import torch

    cuda = torch.cuda.is_available()
    quick = args.quick or not cuda
    models = (args.models or ("tiny" if quick else "gemma-3-270m,gemma-3-1b")).split(",")
    backends = (args.backends or ("unsloth,hf" if cuda else "hf")).split(",")
    steps = args.steps or (2 if quick else 10)
    batch = args.batch or (2 if quick else 8)
    seq = args.seq_len or (512 if quick else 1024)
    gens = args.generations or (2 if quick else 8)
    comp = args.completion or (16 if quick else 128)
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "tooldojo-bench-train"
    common = {"gc": not args.no_gc and (cuda or None), "four_bit": args.four_bit if cuda else False,
              "out": str(out), "compile": args.compile}

    sft, grpo = [], []
    for model in models:
        for backend in backends:
            job = {"model": model, "backend": backend, **common}
            r = run_job({"kind": "sft", **job, "steps": steps, "batch": batch, "seq_len": seq})
            sft.append({"model": model, "backend": backend, **r})
            r = run_job({"kind": "grpo", **job, "steps": max(1, steps // 2), "generations": gens, "completion": comp})
            grpo.append({"model": model, "backend": backend, **r})
    fit = []
    if args.fit and cuda:
        budgets = [float(b) for b in args.fit.split(",")]
        for model in models:
            backend = backends[0]
            r = run_job({"kind": "fit", "model": model, "backend": backend, **common, "budgets": budgets})
            fit.append({"model": model, "backend": backend, **r})
    body = render(sft, grpo, fit, steps=steps, batch=batch, seq=seq, gens=gens, comp=comp, common=common)
    if args.no_write:
        print(body)
    else:
        write_section("train", "Training: Unsloth vs TRL+PEFT (SFT tokens/s, GRPO step time, memory)", body)


def _fmt(r: dict[str, Any], key: str, digits: int = 2) -> Any:
    if "error" in r:
        return "error"
    v = r.get(key)
    return round(v, digits) if isinstance(v, float) else v


def render(sft: list[dict], grpo: list[dict], fit: list[dict], *, steps: int, batch: int, seq: int, gens: int,
           comp: int, common: dict[str, Any]) -> str:
    """Markdown: one row per (model, backend variant), the ratios of every variant to TRL+PEFT (``backend``
    ``hf``), and the memory fit. Rows are matched by ``model`` and ``backend`` (a variant's label)."""
    quant = "4-bit QLoRA" if common["four_bit"] else "LoRA on unquantized weights"
    lines = [f"Same model, data and settings per row pair: {quant} r=16 on all linear layers, "
             f"gradient checkpointing {'on' if common['gc'] else 'off'}; SFT batch {batch} × {seq} tokens "
             f"(loss on the last {min(COMPLETION, seq // 2)}), {steps} timed steps after one warm-up step; GRPO "
             f"{gens} rollouts × ≤{comp} tokens per step on catalog scenario prompts. Each variant ran in its own "
             "process. Peak memory: `torch.cuda.max_memory_allocated` over the job's own allocations on GPU, peak "
             "RSS on CPU. *first step +s*: the first step's time beyond a steady step (torch.compile, warm-up).", ""]

    def ok(rows: list[dict], model: str, backend: str) -> dict | None:
        return next((r for r in rows if r["model"] == model and r["backend"] == backend and "error" not in r), None)

    rows = []
    for r in sft:
        row = {"model": r["model"], "backend": r.get("setup", r["backend"]),
               "SFT tokens/s": _fmt(r, "tokens_per_s", 0), "SFT s/step": _fmt(r, "seconds_per_step"),
               "SFT first step +s": _fmt(r, "compile_s", 1), "SFT peak GiB": _fmt(r, "peak_gib")}
        g = next((x for x in grpo if x["model"] == r["model"] and x["backend"] == r["backend"]), {})
        row |= {"GRPO s/step": _fmt(g, "seconds_per_step"), "GRPO first step +s": _fmt(g, "compile_s", 1),
                "GRPO peak GiB": _fmt(g, "peak_gib"), "mean completion": _fmt(g, "mean_completion", 1)}
        if "error" in r or "error" in g:
            row["note"] = (r.get("error") or g.get("error") or "")[:160]
        rows.append(row)
    lines.append(table(rows, columns=list(dict.fromkeys(k for row in rows for k in row))))
    ratios = []
    for model in dict.fromkeys(r["model"] for r in sft):
        h, gh = ok(sft, model, "hf"), ok(grpo, model, "hf")
        for variant in dict.fromkeys(r["backend"] for r in sft if r["model"] == model and r["backend"] != "hf"):
            u, gu = ok(sft, model, variant), ok(grpo, model, variant)
            if u and h:
                ratios.append({"model": model, "variant": variant,
                               "tokens/s ratio (target ≥ 1.8)": round(u["tokens_per_s"] / h["tokens_per_s"], 2),
                               "peak memory ratio (target ≤ 0.6)": round(u["peak_gib"] / h["peak_gib"], 2),
                               "GRPO step time ratio": round(gu["seconds_per_step"] / gh["seconds_per_step"], 2)
                               if gu and gh else "–"})
    if ratios:
        lines += ["", "Unsloth ÷ TRL+PEFT:", "", table(ratios)]
    if fit:
        lines += ["", "SFT memory (batch 1) by length, measured (reserved peak + 0.5 GiB CUDA context) next to "
                  "tooldojo's estimate, and the longest length that fits each budget:", ""]
        lrows, frows = [], []
        for r in fit:
            label = r.get("setup", r["backend"])
            lrows += [{"model": r["model"], "backend": label, "tokens": x["seq_len"],
                       "measured GiB": _fmt(x, "measured_gib") if "measured_gib" in x else x.get("note", "–"),
                       "estimated GiB": _fmt(x, "estimated_gib"),
                       "estimate ÷ measured": _fmt(x, "estimate_ratio") if "estimate_ratio" in x else "–"}
                      for x in r.get("lengths") or []]
            for budget, v in (r.get("fit") or {}).items():
                frows.append({"model": r["model"], "backend": label, "GiB": budget,
                              "longest measured": v["measured"] or "none tried fits",
                              "longest estimated": v["estimated"] or "none tried fits"})
            if "error" in r:
                frows.append({"model": r["model"], "backend": r["backend"], "GiB": "–", "longest measured": "error",
                              "longest estimated": r["error"][:120]})
        if lrows:
            lines += [table(lrows), ""]
        lines.append(table(frows))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
