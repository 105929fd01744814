"""The ``execution`` config section (where synth and dedup run), its old keys, and the local executor."""

from __future__ import annotations

import pytest

from tooldojo.config import load_config
from tooldojo.errors import ConfigError
from tooldojo.executors import ExecutionConfig, LocalExecutor, make_executor
from tooldojo.runs import config_hash


def test_old_stage_keys_move_to_execution_with_one_line_each(capsys):
    base = load_config()
    cfg = load_config(overrides=["synth.executor=ray", "dedup.executor=ray", "dedup.ray_workers=3"])
    assert cfg.execution == ExecutionConfig(executor="ray", ray_workers=3)
    # the stage configs no longer hold how they run: their hashes are those of the same run on `local`
    assert config_hash(cfg.synth) == config_hash(base.synth) and config_hash(cfg.dedup) == config_hash(base.dedup)
    err = capsys.readouterr().err.splitlines()
    assert err == ["warning: config key synth.executor is deprecated: use execution.executor",
                   "warning: config key dedup.executor is deprecated: use execution.executor",
                   "warning: config key dedup.ray_workers is deprecated: use execution.ray_workers"]


def test_old_and_new_keys_that_disagree_are_one_error():
    with pytest.raises(ConfigError) as err:
        load_config(overrides=["execution.executor=local", "dedup.executor=ray"])
    assert err.value.field == "execution.executor" and "dedup.executor='ray'" in str(err.value)
    with pytest.raises(ConfigError):  # two stages that ran on different executors cannot both be kept
        load_config(overrides=["synth.executor=ray", "dedup.executor=local"])


def test_cli_flags_set_the_execution_section():
    from tooldojo.cli.options import execution_flags, load_pipeline_config

    cfg = load_pipeline_config(None, None, extra=execution_flags("ray", "auto", 2))
    assert cfg.execution == ExecutionConfig(executor="ray", ray_address="auto", ray_workers=2)
    assert execution_flags(None, None, None) == {}


def test_a_stage_seed_wins_over_the_global_one():
    cfg = load_config(overrides=["seed=4", "split.seed=9"])
    assert cfg.seed_for("split") == 9
    assert cfg.seed_for("synth") == cfg.seed_for("dedup") == cfg.seed_for("eval") == 4


def test_local_executor_maps_in_item_order_with_shared_arguments():
    executor = make_executor()
    assert isinstance(executor, LocalExecutor) and executor.workers == 1 and not executor.distributed
    with executor:
        assert executor.map(lambda base, x, y: base + x * y, [(1, 2), (3, 4)], shared=(10,)) == [12, 22]
    service = executor.service(dict, name="unused")
    service.call("__setitem__", "k", 1)
    assert service.call("get", "k") == 1
