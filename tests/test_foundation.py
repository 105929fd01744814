"""The foundation every stage stands on: configs (presets, files, overrides, one-line errors), run folders
(manifests, skip when up to date, atomic writes) and the CLI's error contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from tooldojo.config import PipelineConfig, dump_config, load_config, parse_overrides, presets
from tooldojo.errors import ConfigError, DataError
from tooldojo.runs import StageRun, read_manifest, upstream_fingerprint, write_text


def tooldojo(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    repo = str(Path(__file__).resolve().parents[1])  # this checkout's tooldojo, whatever is installed
    path = os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-m", "tooldojo.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path, **(env or {})}, timeout=120)


# ---------------------------------------------------------------------------------------------- configs

def test_presets_load_and_precedence_is_preset_file_override(tmp_path):
    assert {"demo", "quick"} <= set(presets())
    quick = load_config(preset="quick")
    assert quick.preset == "quick" and quick.train.model == "tiny"
    cfg_file = tmp_path / "my.yaml"
    cfg_file.write_text("train:\n  select:\n    max_steps: 7\n    batch_size: 3\nseed: 5\n")
    cfg = load_config(cfg_file, ["train.select.max_steps=9", "synth.teacher.model=gpt-4o-mini"], preset="quick")
    assert cfg.train.model == "tiny"                      # from the preset
    assert cfg.train.select.batch_size == 3 and cfg.seed == 5   # from the file
    assert cfg.train.select.max_steps == 9                # the override wins
    assert cfg.synth.teacher.model == "gpt-4o-mini"
    # the resolved config written beside outputs loads back to the same config
    again = tmp_path / "resolved.yaml"
    again.write_text(dump_config(cfg))
    assert load_config(again) == cfg


def test_toml_config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('seed = 3\n[synth]\nqueries_per_family = 4\n')
    cfg = load_config(path)
    assert cfg.seed == 3 and cfg.synth.queries_per_family == 4


@pytest.mark.parametrize(("text", "overrides", "field", "fix"), [
    ("train:\n  select:\n    max_stepz: 3\n", None, "train.select.max_stepz", "spelling"),
    ("synth:\n  queries_per_family: zero\n", None, "synth.queries_per_family", "tooldojo config --show"),
    ("synth: [1, 2\n", None, "c.yaml", "syntax"),
    ("", ["train.rl.batch_size=3"], "train.rl", "config --show"),   # not a multiple of num_generations
])
def test_bad_config_is_one_line_naming_the_field(tmp_path, text, overrides, field, fix):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path, overrides)
    message = str(err.value)
    assert "\n" not in message and field in message and fix in message


def test_override_syntax_errors():
    assert parse_overrides(["a.b=1", "a.c=[x, y]", "d="]) == {"a": {"b": 1, "c": ["x", "y"]}, "d": ""}
    with pytest.raises(ConfigError, match="--set"):
        parse_overrides(["synth.teacher.model"])
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config(preset="nope")


# ------------------------------------------------------------------------------------------- run folders

class Toy(BaseModel):
    n: int = 1


def test_stage_run_records_skips_and_keeps_running_on_failure(tmp_path):
    stage = tmp_path / "run" / "toy"
    with StageRun(stage, "toy", Toy(n=2), inputs={"up": "abc"}) as st:
        write_text(st.dir / "out.txt", "hello")
        st.record_output("out", 1, "out.txt")
    m = read_manifest(stage)
    assert m.status == "complete" and m.counts == {"out": 1} and m.fingerprint and m.seconds is not None
    assert (stage / "config.yaml").read_text() == "n: 2\n"
    assert StageRun(stage, "toy", Toy(n=2), inputs={"up": "abc"}).up_to_date()
    assert not StageRun(stage, "toy", Toy(n=3), inputs={"up": "abc"}).up_to_date()     # config changed
    assert not StageRun(stage, "toy", Toy(n=2), inputs={"up": "xyz"}).up_to_date()     # input changed
    assert upstream_fingerprint(stage, needed_by="next") == m.fingerprint

    with pytest.raises(RuntimeError), StageRun(stage, "toy", Toy(n=4)) as st:
        raise RuntimeError("killed halfway")
    assert read_manifest(stage).status == "running"            # so the stage reruns
    assert (stage / "out.txt").read_text() == "hello"          # earlier output untouched
    with pytest.raises(DataError, match="run `tooldojo toy"):
        upstream_fingerprint(stage, needed_by="next")


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path):
    from tooldojo.runs import atomic_path

    path = tmp_path / "data.jsonl"
    write_text(path, "old\n")
    with pytest.raises(KeyboardInterrupt), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["data.jsonl"]


# ------------------------------------------------------------------------------------------------- CLI

def test_every_stage_command_has_help_with_examples(tmp_path):
    top = tooldojo("--help", cwd=tmp_path)
    assert top.returncode == 0
    for cmd in ("synth", "dedup", "split", "train", "eval", "pipeline", "models", "import", "export", "publish"):
        assert cmd in top.stdout
    for cmd in ("synth", "dedup", "split", "train", "eval", "pipeline"):
        out = tooldojo(cmd, "--help", cwd=tmp_path)
        assert out.returncode == 0 and "tooldojo " + cmd in out.stdout, cmd


def test_cli_errors_are_one_line_and_lose_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("synth:\n  families_per_domain: -1\n")
    out = tooldojo("synth", "--config", str(bad), "--run-dir", "runs/x", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "synth.families_per_domain" in out.stderr and "fix:" in out.stderr
    assert not (tmp_path / "runs").exists()

    # a finished synth stage, then a remote teacher without its key: refused before anything is touched
    ok = tooldojo("synth", "--run-dir", "runs/x", "--domains", "weather", "--families-per-domain", "1",
                  "--queries-per-family", "4", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    before = (tmp_path / "runs/x/synth/queries.jsonl").read_bytes()
    out = tooldojo("synth", "--run-dir", "runs/x", "--model", "gpt-4o-mini", "--api-key-env", "TD_NO_SUCH_KEY",
                   "--domains", "weather", cwd=tmp_path, env={"TD_NO_SUCH_KEY": ""})
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "TD_NO_SUCH_KEY" in out.stderr
    assert (tmp_path / "runs/x/synth/queries.jsonl").read_bytes() == before
    assert json.loads((tmp_path / "runs/x/synth/manifest.json").read_text())["status"] == "complete"

    # a downstream stage without its upstream says which command to run
    out = tooldojo("train", "--run-dir", "runs/empty", cwd=tmp_path)
    assert out.returncode == 2 and "tooldojo split --run-dir runs/empty" in out.stderr


def test_pipeline_config_default_is_valid():
    cfg = PipelineConfig()
    assert cfg.synth.teacher.model == "offline" and cfg.train.model is None


def test_settings_that_cannot_change_outputs_are_written_but_not_hashed(tmp_path):
    from tooldojo.runs import config_hash
    from tooldojo.synth.config import SynthConfig, TeacherConfig

    local, on_ray = SynthConfig(), SynthConfig(teacher=TeacherConfig(concurrency=64))
    assert config_hash(local) == config_hash(on_ray)                       # a finished run stays up to date
    assert config_hash(local) != config_hash(SynthConfig(queries_per_family=3))
    with StageRun(tmp_path / "synth", "synth", on_ray):
        pass
    assert "concurrency: 64" in (tmp_path / "synth" / "config.yaml").read_text()   # ... and is reproducible
    assert StageRun(tmp_path / "synth", "synth", local).up_to_date()


def test_a_setting_added_later_is_hashed_only_away_from_its_default():
    from tooldojo.runs import config_hash
    from tooldojo.split.config import SplitConfig

    # the hash the split config had before `validation_family_ratio` and `rationale` existed
    before = {k: v for k, v in SplitConfig().model_dump(mode="json").items()
              if k not in ("validation_family_ratio", "rationale")}
    assert config_hash(SplitConfig()) == config_hash(before)  # finished run folders stay up to date
    assert config_hash(SplitConfig(rationale="tool_first")) != config_hash(before)
    assert config_hash(SplitConfig(validation_family_ratio=0.1)) != config_hash(before)
