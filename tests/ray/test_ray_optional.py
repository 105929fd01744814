"""Without Ray installed: a one-line error with the install command; teacher limits are split per shard."""

from __future__ import annotations

import sys

import pytest

from tooldojo.errors import ConfigError
from tooldojo.executors import ExecutionConfig
from tooldojo.executors.ray import import_ray
from tooldojo.synth.config import TeacherConfig
from tooldojo.synth.shards import teacher_share


def test_missing_ray_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ConfigError) as err:
        import_ray("dedup.executor")
    assert 'pip install "tooldojo[ray]"' in str(err.value) and err.value.field == "dedup.executor"

    from typer.testing import CliRunner

    from tooldojo.cli import app

    res = CliRunner().invoke(app, ["synth", "-r", str(tmp_path), "--executor", "ray", "--families-per-domain", "1"])
    assert res.exit_code == 2
    assert "tooldojo[ray]" in res.output and "Traceback" not in res.output


def test_teacher_share_splits_limits():
    cfg = TeacherConfig(concurrency=16, requests_per_minute=600, tokens_per_minute=None)
    part = teacher_share(cfg, 3)
    assert (part.concurrency, part.requests_per_minute, part.tokens_per_minute) == (5, 200, None)
    assert teacher_share(TeacherConfig(concurrency=2), 8).concurrency == 1


def test_executor_fields_do_not_change_the_config_hash(capsys):
    from tooldojo.config import load_config
    from tooldojo.runs import config_hash

    base = load_config()
    moved = load_config(overrides=["synth.executor=ray", "synth.ray_address=auto", "synth.ray_workers=4"])
    assert moved.execution == ExecutionConfig(executor="ray", ray_address="auto", ray_workers=4)
    assert config_hash(moved.synth) == config_hash(base.synth)
    assert "synth.executor is deprecated: use execution.executor" in capsys.readouterr().err
    with pytest.raises(ValueError):
        ExecutionConfig(executor="spark")


def test_unreachable_ray_address_fails_fast():
    pytest.importorskip("ray")
    import socket

    from tooldojo.executors.ray import ray_session

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError) as err, ray_session(f"127.0.0.1:{port}", field="synth.executor"):
        pass
    assert err.value.field == "synth.ray_address" and "cannot reach" in str(err.value)
