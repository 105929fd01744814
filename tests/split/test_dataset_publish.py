"""Publishing to the Hub against a local stand-in server (never the network): every config pushed, the
card and plot committed, a second push updates in place, and the token appears nowhere."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml
from hub_stub import HubStub

TOKEN = "hf_test_SECRET_token_9f8e7d"


def _publish(run, endpoint, home, *extra, token=TOKEN):
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home), HF_HUB_DISABLE_XET="1",  # the stand-in speaks LFS
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    if token:
        env["HF_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "tooldojo.cli", "publish", "--run-dir", str(run),
                           "--repo-id", "me/tooldojo-test", *extra], env=env, capture_output=True, text=True,
                          timeout=300)


def test_publish_pushes_every_config_and_updates_in_place(split_run, tmp_path):
    with HubStub() as hub:
        first = _publish(split_run, hub.endpoint, tmp_path / "hf")
        assert first.returncode == 0, first.stderr[-2000:]
        repo = hub.repos["me/tooldojo-test"]
        files = sorted(repo.files)
        assert repo.private  # private unless --public
        assert [f for f in files if f.endswith(".parquet")] == [
            "eval/seen_tool_unseen_query-00000-of-00001.parquet", "eval/unseen_tool_seen_query-00000-of-00001.parquet",
            "eval/unseen_tool_unseen_query-00000-of-00001.parquet", "eval/weak_to_strong-00000-of-00001.parquet",
            "rank/train-00000-of-00001.parquet", "select/train-00000-of-00001.parquet"]
        assert "README.md" in files and repo.files["domains.png"][:4] == b"\x89PNG"
        card = repo.files["README.md"].decode()
        meta = yaml.safe_load(card.split("---")[1])
        configs = {c["config_name"]: c for c in meta["configs"]}
        assert configs["eval"]["data_files"][0] == {"split": "seen_tool_unseen_query", "path": "eval/seen_tool_unseen_query-*"}
        assert configs["select"].get("default") is True and meta["license"] == "apache-2.0"
        assert 'load_dataset("me/tooldojo-test", "select"' in card and "Leakage audit" in card
        n_commits = len(repo.commits)

        second = _publish(split_run, hub.endpoint, tmp_path / "hf", "--private")
        assert second.returncode == 0, second.stderr[-2000:]
        assert sorted(repo.files) == files and len(repo.commits) > n_commits  # updated, not duplicated

        # the token reached the server, and nowhere else
        assert f"Bearer {TOKEN}" in hub.auth_headers
        assert hub.unhandled == []
    leaks = [p for p in split_run.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    leaks += [p for p in (tmp_path / "hf").rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert leaks == []
    assert TOKEN not in first.stdout + first.stderr + second.stdout + second.stderr
    assert TOKEN.encode() not in b"".join(repo.files.values())
    record = (split_run / "split" / "publish.json").read_text()
    assert "me/tooldojo-test" in record and TOKEN not in record


def test_publish_without_a_token_says_so(split_run, tmp_path):
    with HubStub() as hub:
        res = _publish(split_run, hub.endpoint, tmp_path / "hf", token=None)
        assert res.returncode == 2 and "HF_TOKEN is not set" in res.stderr
        assert hub.repos == {}


def test_publish_dry_run_checks_and_prints_what_would_be_pushed_and_sends_nothing(split_run, tmp_path):
    with HubStub() as hub:
        res = _publish(split_run, hub.endpoint, tmp_path / "hf", "--dry-run", "--public", token=None)
        assert res.returncode == 0, res.stderr[-2000:]
        assert "would push to me/tooldojo-test (PUBLIC" in res.stdout and "nothing was pushed" in res.stdout
        assert "select: train " in res.stdout and "eval: seen_tool_unseen_query " in res.stdout
        assert "$HF_TOKEN is NOT set" in res.stdout
        assert hub.repos == {} and hub.auth_headers == [] and hub.unhandled == []
        bad = _publish(split_run, hub.endpoint, tmp_path / "hf", "--dry-run", "--repo-id", "no-slash")
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--repo-id" in bad.stderr


def test_publish_public_opts_in(split_run, tmp_path):
    with HubStub() as hub:
        res = _publish(split_run, hub.endpoint, tmp_path / "hf", "--public")
        assert res.returncode == 0, res.stderr[-2000:]
        assert hub.repos["me/tooldojo-test"].private is False and "(public)" in res.stdout
