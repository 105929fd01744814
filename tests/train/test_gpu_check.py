"""``bench.gpu_check``: its CPU dry run end to end (the same code as on the GPU, plain backend, tiny model), its
checks before any work, and what it derives from results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import gpu_check

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_dry_run_writes_every_part(tmp_path, tiny_model_path):
    out = tmp_path / "check"
    proc = subprocess.run([sys.executable, "-m", "bench.gpu_check", "--out", str(out), "--dry-run"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = json.loads(proc.stdout)
    results = json.loads((out / "results.json").read_text())
    assert printed["parts"] == results["parts"]
    assert {name: p["status"] for name, p in results["parts"].items()} == \
        {"versions": "ok", "pytest": "ok", "bench-1b": "ok"}
    assert results["parts"]["versions"]["versions"]["torch"] and results["parts"]["versions"]["gpu"] is None
    # pytest -m gpu ran with per-test timeouts and thread dumps, its report kept
    tests = {t["test"].rsplit("::", 1)[1]: t for t in results["parts"]["pytest"]["tests"]}
    assert tests["test_unsloth_backend_runs_every_phase"]["outcome"] == "skipped"
    assert (out / "pytest.xml").exists() and "test_gpu.py" in (out / "pytest.log").read_text()
    bench = results["parts"]["bench-1b"]
    sft, grpo, fit = bench["sft"][0], bench["grpo"][0], bench["fit"][0]
    assert sft["model"] == "tiny" and sft["setup"].startswith("hf on cpu")
    assert sft["tokens_per_s"] > 0 and sft["first_step_s"] >= sft["compile_s"] >= 0
    assert grpo["seconds_per_step"] > 0 and grpo["mean_completion"] > 0
    assert fit["lengths"][0]["measured_gib"] > 0 and set(fit["fit"]) == {"8.0", "12.0", "24.0"}
    assert (out / bench["processes"][0]["log"]).exists()
    text = (out / "summary.md").read_text()
    assert "| tiny | hf on cpu" in text and "test_unsloth_backend_runs_every_phase" in text
    # a second check into the same folder is refused before it touches anything
    before = (out / "results.json").read_text()
    again = subprocess.run([sys.executable, "-m", "bench.gpu_check", "--out", str(out), "--dry-run"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and again.stderr.strip().count("\n") == 0 and "fix:" in again.stderr
    assert (out / "results.json").read_text() == before
    doc = tmp_path / "benchmarks.md"
    gpu_check.write_docs(out, doc=doc)
    assert "<!-- bench:gpu-check-dry-run -->" in doc.read_text() and results["commit"] in doc.read_text()


def test_refuses_without_cuda_unless_dry_run(tmp_path, capsys, gemma_tokenizer):
    assert gpu_check.main(["--out", str(tmp_path / "out")]) == 2
    assert "no CUDA GPU here" in capsys.readouterr().err and not (tmp_path / "out").exists()
    with pytest.raises(SystemExit):
        gpu_check.main(["--out", str(tmp_path / "out"), "--parts", "versions,nope"])


def test_compile_record_from_both_unsloth_variants():
    def row(variant, first, steady):
        return {"model": "gemma-3-1b", "backend": variant, "compile_s": first - steady, "seconds_per_step": steady}

    key = {"gpu": "NVIDIA H200", "torch": "2.11.0", "unsloth": "2026.10.9"}
    results = {"started": "2026-12-05T10:00:00+00:00", "plan": gpu_check.plan(False),
               "parts": {"versions": {"compile_key": key},
                         "bench-1b": {"sft": [row("hf", 2.0, 0.6), row("unsloth (compile off)", 3.0, 0.5),
                                              row("unsloth (compile on)", 42.9, 0.4)]}}}
    record = gpu_check.compile_record(results)
    assert record["key"] == key and record["compile_s"] == {"16bit": 40.0}
    assert record["saved_s_per_step"] == {"16bit": 0.1}
    results["parts"]["bench-1b"]["sft"][2] = {"error": "timed out"} | row("unsloth (compile on)", 1, 1)
    assert gpu_check.compile_record(results) is None


def test_wrapper_unpacks_the_kit_and_runs_the_check(tmp_path):
    """bench/gpu_check.sh with a stand-in kit laid out as build-kit.sh packs it (an empty site folder; a
    tokenizer folder with a placeholder file, which is all the versions part needs): the check then finds the
    tokenizer in the unpacked cache only."""
    kit, empty, tok = tmp_path / "kit", tmp_path / "empty", tmp_path / "tok" / "tokenizers" / "gemma-3"
    for folder in (kit, empty, tok):
        folder.mkdir(parents=True)
    (tok / "tokenizer.json").write_text("{}")
    subprocess.run(["tar", "-cJf", str(kit / "site.tar.xz"), "-C", str(empty), "."], check=True)
    subprocess.run(["tar", "-cJf", str(kit / "tok.tar.xz"), "-C", str(tmp_path / "tok"), "tokenizers"], check=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KIT": str(kit), "UNPACK": str(tmp_path / "unpacked"),
           "OUT": str(tmp_path / "out"), "PYTHON": sys.executable}
    proc = subprocess.run(["bash", "bench/gpu_check.sh", "--dry-run", "--parts", "versions"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "unpacked" / "cache" / "tokenizers" / "gemma-3" / "tokenizer.json").exists()
    results = json.loads((tmp_path / "out" / "gpu-check" / "results.json").read_text())
    assert results["parts"]["versions"]["status"] == "ok" and results["budget_s"] <= 470
    missing = subprocess.run(["bash", "bench/gpu_check.sh"], cwd=ROOT, env=env | {"KIT": str(empty)},
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "build-kit.sh" in missing.stderr
