"""``run_train``: stage 1 (ranking) -> stage 2 (selection) -> RL (Tool-Zero), then the merged ``final/`` model.

Each phase is skipped when its ``phase.json`` says it completed with the same settings and inputs, resumed
from its last checkpoint when it was interrupted, and started afresh when its settings changed. Stage 2 starts
from stage 1's result (from the base model with ``rank.enabled: false``, the paper's ablation); RL from the
last SFT result (``rl.init: sft``) or from the base model (``rl.init: base``, Tool-Zero).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tooldojo.errors import ConfigError, DataError
from tooldojo.reporting import md_table
from tooldojo.runs import (
    Manifest,
    StageRun,
    config_hash,
    hashed_dump,
    read_manifest,
    upstream_fingerprint,
    write_json,
)
from tooldojo.train.config import PHASES, SETTINGS, Phase, TrainConfig

if TYPE_CHECKING:
    from tooldojo.train.data import PreparedData

PHASE_FILE = "phase.json"
FINAL = "final"
TASKS = {"stage1": "rank", "stage2": "select", "rl": "select"}
LABELS = {"stage1": "stage 1 (ranking)", "stage2": "stage 2 (selection)", "rl": "RL (Tool-Zero GRPO)"}
GIB_COLUMNS = ("weights", "trainable_state", "activations", "logits", "generation", "total")
"""The memory estimate's parts in ``--estimate``'s table."""


@dataclass
class PhasePlan:
    phase: Phase
    start: str
    """``base`` or the phase whose result this one starts from."""


def plan(cfg: TrainConfig) -> list[PhasePlan]:
    """The enabled phases in order, each with the phase it starts from."""
    recipe = [p for p in PHASES if cfg.phase_enabled(p)]
    if not recipe:
        raise ConfigError("every training phase is disabled", field="train",
                          fix="enable at least one of train.rank, train.select, train.rl")
    out = []
    for phase in recipe:
        if phase == "stage1":
            start = "base"
        elif phase == "stage2":
            start = "stage1" if cfg.rank.enabled else "base"
        elif cfg.rl.init == "base":
            start = "base"
        else:
            sft = [p for p in ("stage2", "stage1") if cfg.phase_enabled(p)]
            if not sft:
                raise ConfigError("rl.init is 'sft' but both SFT stages are disabled", field="train.rl.init",
                                  fix="set train.rl.init=base (Tool-Zero from the base model) or enable train.select")
            start = sft[0]
        out.append(PhasePlan(phase, start))
    return out


def planned_steps(cfg: TrainConfig, dataset_dir: Path, phases: Sequence[Phase]) -> int | None:
    """Optimizer micro-steps that ``phases`` will take, from the config and the split's row counts (Parquet
    metadata only: nothing is loaded); ``None`` when a row count is unknown. An upper bound: rows longer than
    ``max_length`` are left out later."""
    import math

    import pyarrow.parquet as pq

    total = 0
    for phase in phases:
        st = cfg.settings(phase)
        if phase == "rl" or st.max_steps > 0:
            total += st.max_steps * (1 if phase == "rl" else st.grad_accum)
            continue
        try:
            rows = pq.read_metadata(Path(dataset_dir) / TASKS[phase] / "train.parquet").num_rows
        except OSError:
            return None
        total += math.ceil(st.epochs * math.ceil(min(rows, st.max_examples or rows) / st.batch_size))
    return total


def phase_hash(cfg: TrainConfig, phase: Phase, *, seed: int, data_fp: str, upstream: str | None) -> str:
    """What a phase's result depends on: model, LoRA, format, the phase's settings, seed, data, its start."""
    return config_hash({"model": cfg.model, "lora": hashed_dump(cfg.lora), "call_format": cfg.call_format,
                        "dtype": cfg.dtype, "phase": phase, "settings": hashed_dump(cfg.settings(phase)),
                        "seed": seed, "data": data_fp, "upstream": upstream})


def read_phase(phase_dir: Path) -> dict[str, Any]:
    path = phase_dir / PHASE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _console():
    from rich.console import Console

    return Console(stderr=True)


def run_train(config: TrainConfig, run_dir: Path, *, seed: int = 0, force: bool = False,
              phases: Sequence[Phase] | None = None) -> Manifest:
    """Train on ``run_dir/split/dataset`` and write ``run_dir/train/`` (see docs/training.md).

    ``phases`` runs only those phases now (each can run alone; the phases they start from must have run);
    ``None`` runs every enabled phase and builds ``final/``. Interrupted work resumes on rerun; ``force``
    retrains everything."""
    run_dir = Path(run_dir)
    split_fp = upstream_fingerprint(run_dir / "split", needed_by="train")
    wanted = tuple(p for p in PHASES if phases is None or p in phases)
    unknown = [p for p in (phases or ()) if p not in PHASES]
    if unknown:
        raise ConfigError(f"unknown phase(s) {unknown}", field="--phases", fix=f"choose from {', '.join(PHASES)}")
    steps = plan(config)
    train_dir = run_dir / "train"
    resolved = config.model_copy(update={"seed": seed})
    run = StageRun(train_dir, "train", resolved, inputs={"split": split_fp})
    run.manifest.config_hash = config_hash(resolved.hashed())  # under the keys older run folders were hashed with
    if phases is not None:
        run.manifest.config_hash = config_hash({"config": run.manifest.config_hash, "phases": list(wanted)})
    if not force and run.up_to_date():
        return read_manifest(train_dir)  # type: ignore[return-value]
    if force:
        for name in (*PHASES, FINAL):
            if phases is None or name in wanted:
                shutil.rmtree(train_dir / name, ignore_errors=True)

    from tooldojo.models import resolve_model
    from tooldojo.train.backends import phase_output, resolve_backend

    console = _console()
    todo = [s.phase for s in steps if s.phase in wanted]
    backend = resolve_backend(config, planned_steps=planned_steps(config, run_dir / "split" / "dataset", todo),
                              phases=len(todo))
    base = resolve_model(config.model)
    console.print(f"train: {base} — {backend.describe()}")
    for note in backend.notes:
        console.print(f"[yellow]warning: {note}[/yellow]")
    from tooldojo.models import load_tokenizer

    tokenizer = load_tokenizer(base)
    with run as st:
        st.stats["backend"] = backend.describe()
        if backend.compile is not None:
            st.stats["compile"] = backend.compile.reason
        st.stats["base_model"] = config.model or "gemma-3-270m"
        st.stats["recipe"] = [f"{s.phase}<-{s.start}" for s in steps]
        st.stats["phases"] = {}
        hashes: dict[str, str] = {}
        for step in steps:
            phase, phase_dir = step.phase, train_dir / step.phase
            upstream = None if step.start == "base" else hashes.get(step.start)
            h = phase_hash(config, phase, seed=seed, data_fp=split_fp, upstream=upstream)
            hashes[phase] = h
            marker = read_phase(phase_dir)
            done = marker.get("status") == "complete" and marker.get("hash") == h and phase_output(phase_dir)
            if done:
                console.print(f"{LABELS[phase]}: up to date, skipped")
                st.stats["phases"][phase] = marker.get("result", {}) | {"skipped": True}
            elif phase not in wanted:
                later = [s.phase for s in steps if s.start == phase and s.phase in wanted]
                if later:
                    raise DataError(f"{later[0]} starts from {phase}, which has not been trained with these settings",
                                    field=str(phase_dir),
                                    fix=f"run `tooldojo train --run-dir {run_dir} --phases {phase}` first, or add it to --phases")
                continue
            else:
                init_from = None if step.start == "base" else phase_output(train_dir / step.start)
                result = _run_phase(phase, config, backend, base, init_from, run_dir, phase_dir, h, seed, console,
                                    tokenizer)
                st.stats["phases"][phase] = result
            log = phase_dir / "log.jsonl"
            if log.exists():
                st.record_output(f"{phase}_log", sum(1 for _ in log.open(encoding="utf-8")), f"{phase}/log.jsonl")
            if (phase_dir / "samples.jsonl").exists():
                st.record_output("rl_samples", None, f"{phase}/samples.jsonl")
        last = steps[-1].phase
        if all(read_phase(train_dir / s.phase).get("hash") == hashes[s.phase]
               and read_phase(train_dir / s.phase).get("status") == "complete" for s in steps):
            final_hash = config_hash({"last": hashes[last], "base": base})
            final_dir = train_dir / FINAL
            marker = final_dir / "tooldojo_train.json"
            if not (marker.exists() and json.loads(marker.read_text()).get("hash") == final_hash):
                from tooldojo.train.backends import merge_and_save
                from tooldojo.train.phases import quiet_libraries

                console.print(f"merging {last} into a ready-to-load model: {final_dir}")
                with quiet_libraries():
                    merge_and_save(base, phase_output(train_dir / last), final_dir,  # type: ignore[arg-type]
                                   provenance={"hash": final_hash, "base_model": config.model or "gemma-3-270m",
                                               "base_path": base, "recipe": st.stats["recipe"],
                                               "call_format": config.call_format, "from_phase": last},
                                   tokenizer=tokenizer)
            st.record_output("final", None, FINAL)
        else:
            st.stats["final"] = "not built: run every enabled phase (without --phases) to build final/"
    return run.manifest


def prepare_phase_data(cfg: TrainConfig, phase: Phase, run_dir: Path, tok: Any, seed: int) -> PreparedData:
    """The phase's rows from ``run_dir``'s split, as its settings select and render them (RL prompts, or
    tokenized SFT rows)."""
    from tooldojo.train import data as data_mod

    raw = data_mod.load_split(run_dir / "split" / "dataset", TASKS[phase])
    if phase == "rl":
        rl = cfg.rl
        return data_mod.prepare_rl(raw, tok, call_format=cfg.call_format, max_prompt_length=rl.max_prompt_length,
                                   max_examples=rl.max_examples, seed=seed, kinds=rl.kinds)
    st = cfg.settings(phase)
    return data_mod.prepare_sft(raw, tok, task=TASKS[phase], call_format=cfg.call_format, max_length=st.max_length,
                                max_examples=st.max_examples, seed=seed)


def _run_phase(phase: Phase, cfg: TrainConfig, backend: Any, base: str, init_from: Path | None, run_dir: Path,
               phase_dir: Path, h: str, seed: int, console: Any, tok: Any) -> dict[str, Any]:
    from tooldojo.train.phases import last_checkpoint, run_rl, run_sft

    marker = read_phase(phase_dir)
    if marker.get("hash") != h:  # different settings or inputs: start this phase afresh
        shutil.rmtree(phase_dir, ignore_errors=True)
    phase_dir.mkdir(parents=True, exist_ok=True)
    write_json(phase_dir / PHASE_FILE, {"phase": phase, "status": "running", "hash": h,
                                        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                        "init_from": str(init_from) if init_from else "base"})
    prepared = prepare_phase_data(cfg, phase, run_dir, tok, seed)
    estimate = check_memory(phase, cfg, backend, base, prepared, console)
    resume = last_checkpoint(phase_dir)
    paired = f", {prepared.dropped_with_pair} zero rows with them" if prepared.dropped_with_pair else ""
    console.print(f"{LABELS[phase]}: {prepared.rows_used} rows ({prepared.too_long} too long{paired}: "
                  f"{prepared.drop_rate:.1%} dropped; {prepared.trimmed} fitted by leaving out distractors), longest "
                  f"{prepared.max_tokens} tokens, from {'base' if init_from is None else init_from.parent.name}"
                  f"{f', resuming at {resume.name}' if resume else ''}; memory ≈ {estimate.line()}")
    from tooldojo.train.phases import quiet_libraries

    with quiet_libraries():
        result = (run_rl(cfg, backend, base, init_from, prepared, phase_dir, seed=seed, tokenizer=tok) if phase == "rl"
                  else run_sft(phase, cfg, backend, base, init_from, prepared, phase_dir, seed=seed, tokenizer=tok))
    shutil.rmtree(phase_dir / "checkpoints", ignore_errors=True)
    summary = result.summary() | {"data": prepared.summary(), "memory_estimate_gib": estimate.gib(),
                                  "output": result.output.name}
    write_json(phase_dir / PHASE_FILE, {"phase": phase, "status": "complete", "hash": h,
                                        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                        "init_from": str(init_from) if init_from else "base", "result": summary})
    console.print(f"{LABELS[phase]}: {result.steps} steps in {result.seconds:.1f}s"
                  f" ({result.seconds_per_step}s/step)")
    return summary


def workload(phase: Phase, cfg: TrainConfig, prepared: Any) -> Any:
    """The memory :class:`~tooldojo.train.memory.Workload` of a phase on its prepared data."""
    from tooldojo.train.memory import Workload

    if phase == "rl":
        rl = cfg.rl
        return Workload("rl", rl.batch_size, prepared.max_tokens + rl.max_completion_length,
                        rl.max_completion_length, rl.batch_size)
    st = cfg.settings(phase)
    length = st.max_length if st.packing else prepared.max_tokens
    return Workload("sft", st.batch_size, length, prepared.completion_tokens or length)


def memory_settings(cfg: TrainConfig, backend: Any) -> dict[str, Any]:
    return {"dtype": backend.dtype, "lora": backend.lora, "r": cfg.lora.r, "targets": cfg.lora.target_modules,
            "load_in_4bit": backend.load_in_4bit, "gradient_checkpointing": backend.gradient_checkpointing,
            "backend": backend.name, "device": backend.device}


def check_memory(phase: Phase, cfg: TrainConfig, backend: Any, base: str, prepared: Any, console: Any) -> Any:
    """Estimate the phase's peak memory; refuse (GPU) or warn (CPU) when it will not fit."""
    from tooldojo.train.memory import GiB, check_fits, gpu_capacity, model_shape

    shape = model_shape(base)
    capacity = gpu_capacity(cfg.max_memory_gib) if backend.device == "cuda" or cfg.max_memory_gib else None
    est = check_fits(shape, workload(phase, cfg, prepared), memory_settings(cfg, backend), capacity=capacity,
                     phase=LABELS[phase], field_prefix=f"train.{SETTINGS[phase]}",
                     length_field="max_prompt_length" if phase == "rl" else "max_length",
                     refuse=cfg.check_memory, batch_step=cfg.rl.num_generations if phase == "rl" else 1)
    if capacity is None:
        import psutil

        avail = psutil.virtual_memory().available
        if est.total > avail:
            console.print(f"[yellow]warning: {LABELS[phase]} may need {est.total / GiB:.1f} GiB of RAM; "
                          f"{avail / GiB:.1f} GiB is free[/yellow]")
    return est


def estimate_train(config: TrainConfig, run_dir: Path, *, seed: int = 0) -> str:
    """A markdown table of every enabled phase's memory estimate on this run's data and the GPU found (or
    ``max_memory_gib``); trains nothing."""
    from tooldojo.models import load_tokenizer, resolve_model
    from tooldojo.train.backends import resolve_backend
    from tooldojo.train.memory import GiB, estimate, gpu_capacity, model_shape

    run_dir = Path(run_dir)
    upstream_fingerprint(run_dir / "split", needed_by="train")
    backend = resolve_backend(config)
    base = resolve_model(config.model)
    tok = load_tokenizer(base)
    shape = model_shape(base)
    capacity = gpu_capacity(config.max_memory_gib) if backend.device == "cuda" or config.max_memory_gib else None
    rows = []
    for step in plan(config):
        prepared = prepare_phase_data(config, step.phase, run_dir, tok, seed)
        work = workload(step.phase, config, prepared)
        g = estimate(shape, work, **{k: v for k, v in memory_settings(config, backend).items()}).gib()
        fits = "n/a" if capacity is None else ("yes" if g["total"] * GiB <= capacity else "**no**")
        rows.append([step.phase, f"{work.batch} × {work.seq_len}", *(f"{g[k]:.2f}" for k in GIB_COLUMNS), fits])
    return "\n".join([f"model {config.model or 'gemma-3-270m'} ({shape.params / 1e6:.0f}M parameters), "
                      f"{backend.describe()}, capacity {'%.1f GiB' % (capacity / GiB) if capacity else 'n/a (CPU)'}",
                      "", md_table(["phase", "batch × tokens", "weights", "trainable", "activations", "logits",
                                    "generation", "total GiB", "fits"], rows, fmt=str)])


def export_phase(out: Path, *, run_dir: Path, phase: str = "stage2", base: str | None = None,
                 adapter: Path | None = None) -> Path:
    """Merge a phase's result (or any adapter folder) into its base model and save it to ``out``."""
    from tooldojo.train.backends import merge_and_save, phase_output
    from tooldojo.train.phases import quiet_libraries

    if adapter is None:
        if phase not in PHASES:
            raise ConfigError(f"unknown phase {phase!r}", field="--phase", fix=f"choose from {', '.join(PHASES)}")
        adapter = phase_output(Path(run_dir) / "train" / phase)
        if adapter is None or read_phase(Path(run_dir) / "train" / phase).get("status") != "complete":
            raise DataError(f"no finished {phase} in {run_dir}", field=str(Path(run_dir) / "train" / phase),
                            fix=f"run `tooldojo train --run-dir {run_dir} --phases {phase}` first")
    adapter = Path(adapter)
    config_file = adapter / "adapter_config.json"
    if base is None and config_file.exists():
        base = json.loads(config_file.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if base is None and not config_file.exists():
        base = str(adapter)  # a full model folder
    if not base:
        raise ConfigError("the adapter does not name its base model", field="--base", fix="pass --base <model>")
    with quiet_libraries():
        return merge_and_save(base, adapter, Path(out), provenance={"base_path": base, "adapter": str(adapter)})
