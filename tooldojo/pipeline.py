"""The whole pipeline: synth -> dedup -> split -> train -> eval in one run folder.

Each stage is its library function; a stage that is up to date (same config, same inputs) is skipped, so
rerunning after an interruption resumes where it stopped. The eval stage scores the untuned base model and
the trained model on the same scenario sets and compares them. ``report.md`` at the top of the run folder
says what every stage did.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tooldojo.config import PipelineConfig
from tooldojo.runs import Manifest, read_manifest, write_text
from tooldojo.stages import STAGES as REGISTRY

STAGES = tuple(REGISTRY)
"""The stage names, in pipeline order."""


@dataclass
class StageResult:
    stage: str
    ran: bool
    seconds: float
    manifest: Manifest | None


def run_pipeline(cfg: PipelineConfig, *, stages: tuple[str, ...] = STAGES, force: bool = False) -> list[StageResult]:
    """Run ``stages`` in order on ``cfg.run_dir``; returns what each stage did."""
    from rich.console import Console

    console = Console(stderr=True)
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    write_text(cfg.run_dir / "pipeline.yaml", _dump(cfg))
    results = []
    for i, stage in enumerate(stages, 1):
        console.rule(f"[bold]{i}/{len(stages)} {stage}")
        spec = REGISTRY[stage]
        before = read_manifest(cfg.run_dir / (spec.manifest_dir or stage))
        t0 = time.perf_counter()
        manifests = spec.run(cfg, force=force)
        seconds = time.perf_counter() - t0
        after = manifests[-1] if manifests else None
        ran = force or before is None or before.finished_at != (after.finished_at if after else None)
        results.append(StageResult(stage, ran, seconds, after))
        console.print(f"{stage}: {'done' if ran else 'up to date, skipped'} in {seconds:.1f}s")
    report = render_report(cfg, results)
    write_text(cfg.run_dir / "report.md", report)
    console.rule("[bold]done")
    console.print(f"report: {cfg.run_dir / 'report.md'}")
    return results


def _dump(cfg: PipelineConfig) -> str:
    from tooldojo.config import dump_config

    return dump_config(cfg)


def render_report(cfg: PipelineConfig, results: list[StageResult]) -> str:
    """The run's top-level report: what every stage did, with counts, timings and the evaluation."""
    lines = [f"# tooldojo run `{cfg.run_dir}`", "",
             f"Preset: `{cfg.preset or 'none'}` · seed {cfg.seed} · teacher `{cfg.synth.teacher.model}` · "
             f"model `{cfg.train.model or 'gemma-3-270m'}`", "",
             "| stage | status | seconds | outputs |", "|---|---|---|---|"]
    for r in results:
        m = r.manifest
        counts = ", ".join(f"{k}: {v}" for k, v in (m.counts if m else {}).items())
        stage_seconds = m.seconds if m and m.seconds is not None else r.seconds
        lines.append(f"| {r.stage} | {'ran' if r.ran else 'skipped (up to date)'} | {stage_seconds:.1f} | {counts} |")
    compare = cfg.run_dir / "eval" / "compare" / "compare.md"
    if compare.exists():
        lines += ["", "## Evaluation: base vs trained", ""]
        for line in compare.read_text(encoding="utf-8").strip().splitlines():
            if line.startswith("# "):  # compare.md's own title
                continue
            line = "#" + line if line.startswith("#") else line  # one level deeper
            lines.append(line.replace("](compare.png)", "](eval/compare/compare.png)"))
    lines += ["", "Stage folders hold each stage's outputs, `manifest.json` and `config.yaml`.", ""]
    return "\n".join(lines)
