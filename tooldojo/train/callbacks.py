"""Trainer callbacks: per-step ``log.jsonl`` files, a rich progress bar, graceful Ctrl-C, the RL step clock.

Imported by the phase runners only (it imports transformers).
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from tooldojo.runs import write_jsonl

RL_KEYS = {
    "reward": "reward_trl",
    "rewards/reward_format/mean": "reward_format_trl",
    "rewards/reward_tool/mean": "reward_tool_trl",
    "completions/mean_length": "completion_length",
    "kl": "kl",
    "loss": "loss",
    "learning_rate": "learning_rate",
    "grad_norm": "grad_norm",
    "reward_std": "reward_std",
    "entropy": "entropy",
    "frac_reward_zero_std": "frac_reward_zero_std",
    "completions/clipped_ratio": "completion_clipped_ratio",
    "step_time": "step_time",
}
_SKIP = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos", "train_loss")


def read_log(path: Path, *, upto_step: int | None = None) -> list[dict[str, Any]]:
    """Rows of a ``log.jsonl`` file (only those with ``step <= upto_step`` when given)."""
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if upto_step is None or r.get("step", 0) <= upto_step]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class JsonlLog(TrainerCallback):
    """Write one JSON object per logged training step to ``path`` (atomically rewritten, so a crash never
    leaves half a line). RL rows follow docs/architecture.md: ``step, sigma, reward, reward_format,
    reward_general, reward_strict, reward_tool, completion_length, kl, loss, learning_rate`` (+ extras); SFT
    rows ``step, loss, learning_rate, ...``; both end with ``elapsed`` (seconds of training so far). On resume,
    earlier rows up to the checkpoint are kept."""

    def __init__(self, path: Path, *, kind: str, rewards: Any = None, samples_path: Path | None = None,
                 resume_step: int | None = None):
        self.path, self.kind, self.rewards, self.samples_path = Path(path), kind, rewards, samples_path
        self.rows = read_log(self.path, upto_step=resume_step) if resume_step else []
        self.samples = (read_log(samples_path, upto_step=resume_step)
                        if samples_path is not None and resume_step else [])
        self._t0 = time.perf_counter()
        self._offset = float(self.rows[-1].get("elapsed") or 0) if self.rows else 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self._t0 = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if any(k in logs for k in _SKIP) or not ({"loss", "reward"} & set(logs)):
            return
        if self.kind == "rl":
            row: dict[str, Any] = {"step": state.global_step}
            stats = self.rewards.pop_stats() if self.rewards is not None else None
            row.update(stats or {"sigma": None, "reward": logs.get("reward"), "reward_format": None,
                                 "reward_general": None, "reward_strict": None, "reward_tool": None})
            for key, name in RL_KEYS.items():
                if key in logs or name in ("kl", "completion_length", "loss", "learning_rate"):
                    row[name] = _clean(logs.get(key))
            row["epoch"] = logs.get("epoch")
        else:
            row = {"step": state.global_step}
            row.update({k: _clean(v) for k, v in logs.items() if isinstance(v, (int, float)) and k != "step"})
        row["elapsed"] = round(self._offset + time.perf_counter() - self._t0, 3)
        self.rows = [r for r in self.rows if r["step"] != row["step"]] + [row]
        write_jsonl(self.path, self.rows)
        if self.samples_path is not None and self.rewards is not None:
            new = self.rewards.pop_samples()
            for s in new:
                s["step"] = state.global_step
            if new:
                self.samples += new
                write_jsonl(self.samples_path, self.samples)


class RewardClock(TrainerCallback):
    """Keep :attr:`ToolZeroRewards.step` equal to the trainer's step (for TRL versions without
    ``trainer_state`` in the reward kwargs)."""

    def __init__(self, rewards: Any):
        self.rewards = rewards

    def on_step_begin(self, args, state, control, **kwargs):
        self.rewards.step = state.global_step

    def on_train_begin(self, args, state, control, **kwargs):
        self.rewards.step = state.global_step


class GracefulInterrupt(TrainerCallback):
    """First Ctrl-C: finish the current step, save a checkpoint, stop (the runner then raises
    ``KeyboardInterrupt``). A second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def on_train_begin(self, args, state, control, **kwargs):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)

    def on_step_end(self, args, state, control, **kwargs):
        if self.requested:
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_train_end(self, args, state, control, **kwargs):
        self.restore()

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class RichProgress(TrainerCallback):
    """A rich progress bar over optimizer steps, showing the latest loss or reward."""

    def __init__(self, label: str):
        self.label = label
        self.progress = None
        self.task = None

    def on_train_begin(self, args, state, control, **kwargs):
        from tooldojo.reporting import progress_bar

        self.progress = progress_bar("[bold]{task.description}", "bar", "count", "elapsed", "remaining",
                                     "{task.fields[info]}")
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=state.max_steps, completed=state.global_step, info="")

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.progress is None or not logs:
            return
        parts = [f"{k} {logs[k]:.4g}" for k in ("loss", "reward") if isinstance(logs.get(k), (int, float))]
        self.progress.update(self.task, info=" ".join(parts))

    def on_train_end(self, args, state, control, **kwargs):
        self.close()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
