"""The pipeline's stages as records: a name, the config section it reads, the stages it reads from, and how
it runs on a :class:`~tooldojo.config.PipelineConfig`. :data:`STAGES` is the registry, in pipeline order,
that :mod:`tooldojo.pipeline` loops over; each stage's own library function does the work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tooldojo.config import PipelineConfig
    from tooldojo.runs import Manifest


@dataclass(frozen=True)
class Stage:
    """One pipeline stage."""

    name: str
    """Its folder in the run (``<run>/<name>/``) and its config section (``PipelineConfig.<name>``)."""
    inputs: tuple[str, ...]
    """The stages whose outputs it reads."""
    runs: Callable[[PipelineConfig, bool], list[Manifest]]
    """``runs(cfg, force)``: run it (skipped when up to date unless ``force``); the manifests it wrote."""
    manifest_dir: str | None = None
    """Where its last manifest lives, relative to the run folder, when not in ``<run>/<name>``."""

    @property
    def section(self) -> str:
        """The :class:`~tooldojo.config.PipelineConfig` field holding its settings."""
        return self.name

    def run(self, cfg: PipelineConfig, *, force: bool = False) -> list[Manifest]:
        return self.runs(cfg, force)


def _synth(cfg: PipelineConfig, force: bool) -> list[Manifest]:
    from tooldojo.errors import DataError
    from tooldojo.synth import run_synth

    manifest = run_synth(cfg.synth, cfg.run_dir, seed=cfg.seed_for("synth"), force=force, execution=cfg.execution)
    if manifest.status == "partial":  # the later stages need every item: stop loudly, resumable
        failed = manifest.stats.get("failed", {})
        raise DataError(f"synth ended partial ({sum(failed.values())} items failed: "
                        + ", ".join(f"{k} {v}" for k, v in failed.items()) + ")", field=str(cfg.run_dir / "synth"),
                        fix="rerun the same command: it retries exactly the failed items")
    return [manifest]


def _dedup(cfg: PipelineConfig, force: bool) -> list[Manifest]:
    from tooldojo.dedup import run_dedup

    return [run_dedup(cfg.dedup, cfg.run_dir, force=force, execution=cfg.execution)]


def _split(cfg: PipelineConfig, force: bool) -> list[Manifest]:
    from tooldojo.split import run_split

    return [run_split(cfg.split, cfg.run_dir, seed=cfg.seed_for("split"), force=force)]


def _train(cfg: PipelineConfig, force: bool) -> list[Manifest]:
    from tooldojo.train import run_train

    return [run_train(cfg.train, cfg.run_dir, seed=cfg.seed_for("train"), force=force)]


def _eval(cfg: PipelineConfig, force: bool) -> list[Manifest]:
    """The untuned base model and the trained one on the same scenario sets, then their comparison."""
    from tooldojo.eval import compare_runs, run_eval

    run_dir, seed = cfg.run_dir, cfg.seed_for("eval")
    base = cfg.eval.model_copy(update={"model": cfg.eval.model or cfg.train.model or "gemma-3-270m"})
    manifests = [
        run_eval(base, run_dir, seed=seed, force=force, name="base"),
        run_eval(cfg.eval.model_copy(update={"model": str(run_dir / "train" / "final")}), run_dir,
                 seed=seed, force=force, name="trained"),
    ]
    compare_runs([run_dir / "eval" / "base", run_dir / "eval" / "trained"], out=run_dir / "eval" / "compare")
    return manifests


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("synth", (), _synth),
    Stage("dedup", ("synth",), _dedup),
    Stage("split", ("dedup",), _split),
    Stage("train", ("split",), _train),
    Stage("eval", ("split", "train"), _eval, manifest_dir="eval/trained"),
)}
"""Every stage, in pipeline order."""
