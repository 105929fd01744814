"""The stage registry the pipeline loops over."""

from __future__ import annotations

from tooldojo.config import PipelineConfig
from tooldojo.pipeline import STAGES
from tooldojo.stages import STAGES as REGISTRY


def test_registry_is_in_pipeline_order_and_names_config_sections():
    assert STAGES == ("synth", "dedup", "split", "train", "eval")
    seen: set[str] = set()
    for name, stage in REGISTRY.items():
        assert stage.name == name and stage.section in PipelineConfig.model_fields
        assert set(stage.inputs) <= seen, f"{name} reads a stage that runs after it"
        seen.add(name)
    assert REGISTRY["eval"].manifest_dir == "eval/trained"


def test_pipeline_runs_the_registered_stages(tmp_path, monkeypatch):
    import tooldojo.stages as stages
    from tooldojo.pipeline import run_pipeline

    calls = []
    fake = {n: stages.Stage(n, s.inputs, lambda cfg, force, n=n: calls.append((n, force)) or [])
            for n, s in REGISTRY.items()}
    monkeypatch.setattr("tooldojo.pipeline.REGISTRY", fake)
    results = run_pipeline(PipelineConfig(run_dir=tmp_path), stages=("dedup", "split"), force=True)
    assert calls == [("dedup", True), ("split", True)] and [r.stage for r in results] == ["dedup", "split"]
