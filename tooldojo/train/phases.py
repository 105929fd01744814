"""One training phase: SFT (stage 1 ranking, stage 2 selection) with TRL's ``SFTTrainer``, or Tool-Zero RL with
TRL's ``GRPOTrainer``. The same code runs on both backends; only model loading differs (:mod:`.backends`).

A phase trains into ``<phase>/checkpoints/`` (resumable), logs every step to ``<phase>/log.jsonl`` and saves
its result to ``<phase>/adapter/`` (LoRA) or ``<phase>/model/`` (full fine-tune), with the tokenizer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tooldojo.models import vllm_available
from tooldojo.train.backends import ADAPTER_DIR, MODEL_DIR, Backend, load_for_training
from tooldojo.train.config import Phase, TrainConfig
from tooldojo.train.data import PreparedData

CHECKPOINTS = "checkpoints"
LOG = "log.jsonl"
SAMPLES = "samples.jsonl"


@dataclass
class PhaseResult:
    """What a finished phase did (goes into the train manifest's stats)."""

    phase: str
    output: Path
    steps: int
    seconds: float
    resumed_from_step: int = 0
    first_loss: float | None = None
    last_loss: float | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds_per_step(self) -> float | None:
        done = self.steps - self.resumed_from_step
        return round(self.seconds / done, 3) if done > 0 else None

    def summary(self) -> dict[str, Any]:
        return {"steps": self.steps, "seconds": round(self.seconds, 1), "seconds_per_step": self.seconds_per_step,
                "resumed_from_step": self.resumed_from_step, "first_loss": self.first_loss,
                "last_loss": self.last_loss, **self.stats}


def make_args(cls: type, **kwargs: Any) -> Any:
    """A TRL config from the keyword arguments this TRL version knows (others are dropped: the field set
    differs between the TRL that Unsloth pins and the newest)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in kwargs.items() if k in names})


def _common_args(cfg: TrainConfig, backend: Backend, phase_dir: Path, seed: int) -> dict[str, Any]:
    cuda = backend.device == "cuda"
    checkpointing = backend.gradient_checkpointing and backend.name != "unsloth"
    return {
        "output_dir": str(phase_dir / CHECKPOINTS),
        "logging_steps": 1,
        "save_strategy": "steps",
        "save_steps": cfg.save_steps,
        "save_total_limit": 1,
        "seed": seed,
        "data_seed": seed,
        "bf16": (cuda and backend.dtype == "bfloat16") or backend.autocast_bf16,
        "fp16": cuda and backend.dtype == "float16",
        # Unsloth applies its own (offloaded) checkpointing at load time. transformers >= 5.20 renamed the
        # option; both names are given so neither version warns (make_args drops the unknown one).
        "gradient_checkpointing": checkpointing,
        "gradient_checkpointing_kwargs": {"use_reentrant": False},
        "activation_checkpointing": checkpointing,
        "activation_checkpointing_kwargs": {"use_reentrant": False},
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "use_cpu": not cuda,
    }


def length_grouping(on: bool) -> dict[str, Any]:
    """The Trainer arguments for length-grouped batches (``train_sampling_strategy`` in transformers 5,
    ``group_by_length`` before; :func:`make_args` keeps the one this version knows)."""
    return {"train_sampling_strategy": "group_by_length" if on else "random", "group_by_length": on}


def last_checkpoint(phase_dir: Path) -> Path | None:
    """The newest ``checkpoint-N`` folder of a phase, if any."""
    from transformers.trainer_utils import get_last_checkpoint

    folder = phase_dir / CHECKPOINTS
    if not folder.is_dir():
        return None
    found = get_last_checkpoint(str(folder))
    return Path(found) if found else None


def _checkpoint_step(path: Path | None) -> int:
    return int(path.name.rsplit("-", 1)[1]) if path is not None else 0


@contextlib.contextmanager
def compact_loss_on_cpu(backend: Backend) -> Iterator[None]:
    """On CPU, let TRL's fused LM head score only the positions that carry a loss (the completion), as it does on
    GPU, instead of every prompt position: the 262k-vocabulary projection of the long tool-list prompts is
    most of the CPU time. Nothing changes on GPU or on TRL versions without the fused head."""
    try:
        import trl.trainer.utils as tu
    except ImportError:  # pragma: no cover
        yield
        return
    original = getattr(tu, "_use_triton", None)
    if backend.device != "cpu" or original is None or not hasattr(tu, "add_fused_lm_head"):
        yield
        return
    tu._use_triton = lambda device: device.type == "cpu" or original(device)
    try:
        yield
    finally:
        tu._use_triton = original


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Silence the libraries' own progress bars and deprecation chatter while a phase runs (the phase shows
    one rich progress bar); their previous settings come back afterwards."""
    import warnings

    import datasets as dtqdm
    from transformers.utils import logging as tlog

    t_bars, d_bars = tlog.is_progress_bar_enabled(), dtqdm.is_progress_bar_enabled()
    verbosity = tlog.get_verbosity()
    tlog.disable_progress_bar()
    dtqdm.disable_progress_bars()
    tlog.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", message=".*gradient.checkpointing.*")
            yield
    finally:
        tlog.set_verbosity(verbosity)
        if t_bars:
            tlog.enable_progress_bar()
        if d_bars:
            dtqdm.enable_progress_bars()


def stop_rollouts_at_answer_end(model: Any, tokenizer: Any, stops: list[str] | None = None) -> dict[str, Any]:
    """End each transformers-generated GRPO rollout at its closing tag (``</tool_call>``, ``</answer>``) or when
    the model starts a new turn of the chat template, as the eval does, instead of sampling on to ``max_completion_length``.

    TRL's generate call takes no stopping criteria, so ``model.generate`` gets one (the eval's). Returns the
    ``generation_kwargs`` to give ``GRPOConfig``: a rollout that stops early is padded with EOS, which TRL's
    completion mask ends at (its first EOS is kept, as in the SFT targets ``...</tool_call><eos>``)."""
    from transformers import StoppingCriteriaList

    from tooldojo.stopping import STOPS, stop_criterion

    stops = stops or sorted({s for task in STOPS.values() for s in task if s != "</ranking>"})
    generate = model.generate

    def generate_with_stops(*args: Any, **kwargs: Any) -> Any:
        prompt_len = kwargs["input_ids"].shape[1]
        kwargs.setdefault("stopping_criteria", StoppingCriteriaList([stop_criterion(tokenizer, stops, prompt_len)]))
        return generate(*args, **kwargs)

    model.generate = generate_with_stops
    return {"pad_token_id": tokenizer.eos_token_id}


def _train(trainer: Any, phase: str, phase_dir: Path, resume: Path | None, extra_callbacks: list[Any],
           backend: Backend) -> float:
    """Run ``trainer.train`` with progress, graceful Ctrl-C (checkpoint, then ``KeyboardInterrupt``) and resume."""
    from transformers import PrinterCallback

    from tooldojo.train.callbacks import GracefulInterrupt, RichProgress

    stop = GracefulInterrupt()
    progress = RichProgress(phase)
    trainer.remove_callback(PrinterCallback)
    for cb in [*extra_callbacks, stop, progress]:
        trainer.add_callback(cb)
    t0 = time.perf_counter()
    try:
        with compact_loss_on_cpu(backend):
            trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    finally:
        stop.restore()
        progress.close()
    if stop.requested:
        raise KeyboardInterrupt
    return time.perf_counter() - t0


def _save(trainer: Any, tokenizer: Any, phase_dir: Path, lora: bool) -> Path:
    out = phase_dir / (ADAPTER_DIR if lora else MODEL_DIR)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.save_model(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def _losses(trainer: Any, key: str = "loss") -> tuple[float | None, float | None]:
    values = [h[key] for h in trainer.state.log_history if key in h and "train_runtime" not in h]
    return (values[0], values[-1]) if values else (None, None)


def run_sft(phase: Phase, cfg: TrainConfig, backend: Backend, base: str, init_from: Path | None,
            data: PreparedData, phase_dir: Path, *, seed: int, tokenizer: Any = None) -> PhaseResult:
    """Train one SFT stage (``stage1``: ``rank``, or ``stage2``: ``select``); returns its result."""
    from trl import SFTConfig, SFTTrainer

    from tooldojo.train.callbacks import JsonlLog

    st = cfg.settings(phase)
    resume = last_checkpoint(phase_dir)
    model, tok = load_for_training(backend, base, init_from=init_from, lora=cfg.lora,
                                   max_seq_length=st.max_length, seed=seed, tokenizer=tokenizer)
    args = make_args(SFTConfig, **_common_args(cfg, backend, phase_dir, seed),
                     per_device_train_batch_size=st.batch_size, gradient_accumulation_steps=st.grad_accum,
                     learning_rate=st.learning_rate, num_train_epochs=st.epochs, max_steps=st.max_steps,
                     max_length=st.max_length, packing=st.packing, completion_only_loss=True,
                     dataset_num_proc=None, remove_unused_columns=True, **length_grouping(st.group_by_length))
    trainer = SFTTrainer(model=model, args=args, train_dataset=data.dataset, processing_class=tok)
    log = JsonlLog(phase_dir / LOG, kind="sft", resume_step=_checkpoint_step(resume))
    seconds = _train(trainer, phase, phase_dir, resume, [log], backend)
    out = _save(trainer, tok, phase_dir, backend.lora)
    first, last = _losses(trainer)
    rows = log.rows
    return PhaseResult(phase, out, trainer.state.global_step, seconds, _checkpoint_step(resume),
                       first_loss=rows[0].get("loss") if rows else first,
                       last_loss=rows[-1].get("loss") if rows else last)


def run_rl(cfg: TrainConfig, backend: Backend, base: str, init_from: Path | None, data: PreparedData,
           phase_dir: Path, *, seed: int, tokenizer: Any = None) -> PhaseResult:
    """Tool-Zero GRPO with the rule-based rewards and the dynamic schedule; returns its result."""
    from trl import GRPOConfig, GRPOTrainer

    from tooldojo.train.callbacks import JsonlLog, RewardClock
    from tooldojo.train.rewards import ToolZeroRewards

    rl = cfg.rl
    resume = last_checkpoint(phase_dir)
    fast = bool(rl.fast_inference) if rl.fast_inference is not None else vllm_available()
    fast = fast and backend.name == "unsloth"
    model, tok = load_for_training(backend, base, init_from=init_from, lora=cfg.lora,
                                   max_seq_length=data.max_tokens + rl.max_completion_length, seed=seed,
                                   fast_inference=fast, tokenizer=tokenizer)
    rewards = ToolZeroRewards(call_format=cfg.call_format, kappa=rl.kappa, midpoint=rl.midpoint,
                              max_steps=rl.max_steps, log_samples=rl.log_samples)
    generation = stop_rollouts_at_answer_end(model, tok) if rl.stop_at_answer and not fast else None
    args = make_args(GRPOConfig, **_common_args(cfg, backend, phase_dir, seed),
                     per_device_train_batch_size=rl.batch_size, gradient_accumulation_steps=1,
                     num_generations=rl.num_generations, max_completion_length=rl.max_completion_length,
                     max_prompt_length=rl.max_prompt_length, temperature=rl.temperature,
                     learning_rate=rl.learning_rate, lr_scheduler_type="cosine", beta=rl.beta, epsilon=rl.epsilon,
                     max_steps=rl.max_steps, remove_unused_columns=False, log_completions=False,
                     generation_kwargs=generation,
                     scale_rewards=rl.scale_rewards == "group",  # a bool: newer TRL maps it to group/none
                     **({"use_vllm": True, "vllm_mode": "colocate"} if fast else {}))
    trainer = GRPOTrainer(model=model, reward_funcs=[rewards.format_fn, rewards.tool_fn], args=args,
                          train_dataset=data.dataset, processing_class=tok)
    step0 = _checkpoint_step(resume)
    log = JsonlLog(phase_dir / LOG, kind="rl", rewards=rewards, samples_path=phase_dir / SAMPLES, resume_step=step0)
    seconds = _train(trainer, "rl", phase_dir, resume, [RewardClock(rewards), log], backend)
    out = _save(trainer, tok, phase_dir, backend.lora)
    rows = log.rows
    first = rows[0].get("reward") if rows else None
    last = rows[-1].get("reward") if rows else None
    return PhaseResult("rl", out, trainer.state.global_step, seconds, step0,
                       first_loss=rows[0].get("loss") if rows else None,
                       last_loss=rows[-1].get("loss") if rows else None,
                       stats={"first_reward": first, "last_reward": last,
                              "last_sigma": rows[-1].get("sigma") if rows else None, "fast_inference": fast})
