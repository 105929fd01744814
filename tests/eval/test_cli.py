"""The `tooldojo eval` commands as a user runs them."""

from __future__ import annotations

import json

import pytest

from tests.cli_helpers import stage_cli


@pytest.fixture
def cli():
    """A Typer app with only the eval commands, and a runner that invokes it."""
    from tooldojo.cli.eval import register

    return stage_cli(register)


def test_eval_then_compare(cli, eval_run, tiny_model_path):
    res = cli("eval", "--run-dir", eval_run, "--model", tiny_model_path, "--name", "tiny-cli", "--limit", 2,
              "--tasks", "select", "--max-new-tokens", 8, "--html")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["report"].endswith("eval/tiny-cli/report.md") and (eval_run / "eval" / "tiny-cli" / "report.html").exists()
    cfg = (eval_run / "eval" / "tiny-cli" / "config.yaml").read_text()
    assert "limit: 2" in cfg and "html: true" in cfg
    res = cli("eval", "compare", eval_run, "--out", eval_run / "cmp")
    assert res.exit_code == 0, res.output
    assert "Tool-selection accuracy" in res.stdout and (eval_run / "cmp" / "compare.md").exists()


def test_user_errors_are_one_line(cli, tmp_path):
    res = cli("eval", "--run-dir", tmp_path, "--model", "tiny")
    assert res.exit_code == 2 and "tooldojo split" in res.output
    res = cli("eval", "compare", tmp_path / "nowhere")
    assert res.exit_code == 2 and "no evaluation found" in res.output
    res = cli("eval", "bfcl", "--run-dir", tmp_path, "--set", f"eval.bfcl.venv={tmp_path / 'none'}")
    assert res.exit_code == 2 and "tooldojo eval bfcl --setup" in res.output
    res = cli("eval", "--run-dir", tmp_path, "--set", "eval.tasks=[select,nonsense]")
    assert res.exit_code == 2 and "eval.tasks" in res.output


def test_help_shows_examples(cli):
    res = cli("eval", "--help")
    assert res.exit_code == 0 and "tooldojo eval compare" in res.output and "--base-url" in res.output
    assert "tooldojo eval bfcl --setup" in cli("eval", "bfcl", "--help").output
