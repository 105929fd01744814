"""Template sets: StrictUndefined rendering, per-file overrides, name/hash in provenance."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tooldojo.errors import ConfigError
from tooldojo.records import QueryRecord, ToolRecord, read_jsonl
from tooldojo.synth import run_synth
from tooldojo.synth.catalog import load_catalog
from tooldojo.synth.config import SynthConfig
from tooldojo.synth.templates import TEMPLATE_NAMES, TemplateSet, export_templates, shipped_dir


def test_every_shipped_template_has_a_version_and_renders_messages():
    ts = TemplateSet()
    assert ts.name == "default" and len(ts.hash) == 16
    assert all(ts.versions[n] != "unversioned" for n in TEMPLATE_NAMES)
    msgs = ts.render("reask", error="bad", schema={"type": "object"})
    assert msgs == [{"role": "user", "content": msgs[0]["content"]}] and "bad" in msgs[0]["content"]


def test_missing_variable_is_an_error_not_an_empty_string():
    with pytest.raises(ConfigError, match="undefined variable") as err:
        TemplateSet().render("arguments", query="q", tool={"name": "t"})
    assert "arguments.jinja" in str(err.value)


def test_override_folder_replaces_only_its_files(tmp_path):
    folder = tmp_path / "terse"
    folder.mkdir()
    src = (shipped_dir() / "verify.jinja").read_text()
    (folder / "verify.jinja").write_text(src.replace("{# version: 2 #}", "{# version: 2-terse #}")
                                         .replace("You are strict", "Be brief and strict"))
    ts = TemplateSet(folder)
    assert ts.name == "terse" and ts.hash != TemplateSet().hash
    assert ts.versions["verify"] == "2-terse" and ts.versions["queries"] == TemplateSet().versions["queries"]
    msgs = ts.render("verify", domain="d", weak={}, strong={}, gap="g", queries=[], coverage=[])
    assert "Be brief and strict" in msgs[0]["content"]
    assert ts.render("reask", error="e", schema={}) == TemplateSet().render("reask", error="e", schema={})


def test_unknown_or_broken_override_files_fail_clearly(tmp_path):
    (tmp_path / "typo").mkdir()
    (tmp_path / "typo" / "queris.jinja").write_text("x")
    with pytest.raises(ConfigError, match="not a template tooldojo uses"):
        TemplateSet(tmp_path / "typo")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "tools.jinja").write_text("{% block user %}{{ domain }{% endblock %}")
    with pytest.raises(ConfigError, match="template error"):
        TemplateSet(tmp_path / "broken").render("tools", domain="x")
    with pytest.raises(ConfigError, match="syntax error") as err:  # checked before any request
        TemplateSet(tmp_path / "broken").check()
    assert "tools.jinja:1" in str(err.value)
    with pytest.raises(ConfigError, match="not found"):
        TemplateSet(tmp_path / "missing")


def test_template_override_changes_provenance_and_only_its_prompts(tmp_path):
    domain = sorted(load_catalog())[0]
    cfg = SynthConfig(domains=[domain], families_per_domain=1, queries_per_family=4)
    run_synth(cfg, tmp_path / "base", progress=False)
    folder = tmp_path / "my_set"
    export_templates(folder)
    q = folder / "queries.jinja"
    q.write_text(q.read_text().replace("Use concrete, varied values", "Use concrete, surprising values"))
    run_synth(cfg.model_copy(update={"templates": folder}), tmp_path / "abl", progress=False)

    def load(run):
        return (read_jsonl(tmp_path / run / "synth" / "tools.jsonl", ToolRecord),
                read_jsonl(tmp_path / run / "synth" / "queries.jsonl", QueryRecord))

    (bt, bq), (at, aq) = load("base"), load("abl")
    assert {t.provenance.template_set for t in at} == {"my_set"}
    assert at[0].provenance.template_set_hash == TemplateSet(folder).hash != bt[0].provenance.template_set_hash
    assert [t.provenance.prompt_hash for t in at] == [t.provenance.prompt_hash for t in bt]  # tools prompts same
    assert aq[0].provenance.prompt_hash != bq[0].provenance.prompt_hash  # queries prompt changed


def test_cli_writes_the_shipped_templates(tmp_path):
    import typer

    from tooldojo.cli.synth import register

    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["synth-templates", str(tmp_path / "t")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "t").glob("*.jinja")) == sorted(f"{n}.jinja" for n in TEMPLATE_NAMES)
    again = CliRunner().invoke(app, ["synth-templates", str(tmp_path / "t")])
    assert again.exit_code == 2


def test_check_refuses_variables_the_step_does_not_provide(tmp_path):
    TemplateSet().check()  # the shipped set uses only what its steps provide
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "upgrade.jinja").write_text("{% block user %}{{ tool }} {{ queries }}{% endblock %}")
    with pytest.raises(ConfigError, match="queries") as err:
        TemplateSet(tmp_path / "t").check()
    assert "upgrade.jinja" in str(err.value) and "'upgrade' step does not provide" in str(err.value)
