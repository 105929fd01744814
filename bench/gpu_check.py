"""One command for a lent GPU machine: versions, the GPU tests, Unsloth vs TRL+PEFT and the memory fit, written
into one output folder within a time budget.

    bash bench/gpu_check.sh                         # on the GPU: unpacks the kit, then runs the line below
    python -m bench.gpu_check --out DIR             # on the GPU, the kit already unpacked
    python -m bench.gpu_check --out DIR --dry-run   # the same code on CPU: plain backend, tiny model (CI)
    python -m bench.gpu_check --write-docs DIR      # back here: DIR's results into docs/benchmarks.md

Parts, in this order, each in its own process(es) under its own timeout; a part that would start with less
than a minute of ``--budget-s`` (470 s) left is skipped and says so (rerun it with ``--parts``):

- ``versions``: Python, GPU, package versions (no Unsloth import: its import time, ``unsloth_import_s``,
  is the first Unsloth worker's backend set-up);
- ``pytest``: ``pytest -m gpu`` on the GPU test files with ``--timeout`` and ``--timeout-method=thread`` (a
  hang dumps every thread's stack), streamed to ``pytest.log``, with ``pytest.xml``;
- ``bench-1b``, ``bench-270m``: random-init Gemma-3-1B / 270M shapes (only the tokenizer is carried), one
  process per variant (TRL+PEFT; Unsloth with ``train.compile: off``; Unsloth with ``on``) running
  ``bench.bench_train``'s SFT and GRPO workers: tokens/s, s/step, peak memory, the first step's extra time
  (compile) apart from the steady step time, Unsloth's import time; ``bench-1b`` also runs the 8/12/24 GiB fit
  search (QLoRA, batch 1, 512-8192 tokens, next to ``tooldojo.train.memory``'s estimate) in its compile-off
  process.

The folder gets ``results.json`` (rewritten after every part, so a killed run keeps what it did),
``summary.md``, one log per process, and ``unsloth_compile.json`` when both Unsloth variants ran: the measured
compile time and per-step saving that ``train.compile: auto`` reads from ``$TOOLDOJO_CACHE`` (written there
too; copy it into your cache to use it elsewhere). Exit status 0 only when every part ran and passed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.bench_train import MARK, ROOT, marked, render, run_jobs, run_logged

PARTS = ("versions", "pytest", "bench-1b", "bench-270m")
DRY_RUN_PARTS = ("versions", "pytest", "bench-1b")
"""The dry run's default: ``bench-1b`` runs the tiny model there, so ``bench-270m`` would repeat it."""
GPU_TESTS = ("tests/train/test_gpu.py", "tests/eval/test_backends.py")
PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes", "unsloth",
            "unsloth_zoo", "triton", "xformers", "vllm", "pytest", "pytest-timeout")
MIN_PART_S = 60
BUDGETS_GIB = [8.0, 12.0, 24.0]


def plan(dry_run: bool) -> dict[str, Any]:
    """What each part runs: the GPU sizes, or the CPU dry run's (the plain backend, the tiny model)."""
    if dry_run:
        return {"models": {"bench-1b": "tiny", "bench-270m": "tiny"}, "variants": [("hf", "hf", None)],
                "sft": {"steps": 1, "batch": 1, "seq_len": 128}, "grpo": {"steps": 1, "generations": 2, "completion": 8},
                "fit_lengths": [128], "pytest_timeout": 120, "process_timeout": 240}
    return {"models": {"bench-1b": "gemma-3-1b", "bench-270m": "gemma-3-270m-random"},
            "variants": [("hf", "hf", None), ("unsloth (compile off)", "unsloth", "off"),
                         ("unsloth (compile on)", "unsloth", "on")],
            "sft": {"steps": 5, "batch": 8, "seq_len": 1024}, "grpo": {"steps": 1, "generations": 8, "completion": 128},
            "fit_lengths": [512, 1024, 2048, 4096, 8192], "pytest_timeout": 180, "process_timeout": 240}


# --------------------------------------------------------------------------------------------------- parts

def probe() -> dict[str, Any]:
    """Versions and hardware, printed by ``--probe`` in a fresh process."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    from tooldojo.train.backends import compile_key

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    gpu = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        gpu = {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
               "capability": f"{props.major}.{props.minor}", "cuda": torch.version.cuda}
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "gpu": gpu, "versions": versions,
            "compile_key": compile_key()}


def part_versions(out: Path, cfg: dict[str, Any], timeout: float) -> dict[str, Any]:
    res = run_logged([sys.executable, "-m", "bench.gpu_check", "--probe"], out / "versions.log", timeout)
    found = marked(out / "versions.log")
    return res | ({"status": "ok", **found[-1]} if found else {"status": "failed"})


def part_pytest(out: Path, cfg: dict[str, Any], timeout: float) -> dict[str, Any]:
    import xml.etree.ElementTree as ET

    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", *GPU_TESTS, "-v", "-p", "no:cacheprovider",
           f"--timeout={cfg['pytest_timeout']}", "--timeout-method=thread",
           f"--junitxml={out / 'pytest.xml'}"]
    res = run_logged(cmd, out / "pytest.log", timeout, env={"HF_HUB_OFFLINE": "1"})
    tests = []
    if (out / "pytest.xml").exists():
        for case in ET.parse(out / "pytest.xml").getroot().iter("testcase"):
            outcome = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed")
            message = next((c.get("message", "") for c in case if c.tag in ("failure", "error", "skipped")), "")
            tests.append({"test": f"{case.get('classname')}::{case.get('name')}", "outcome": outcome,
                          "seconds": round(float(case.get("time", 0)), 1), "message": message[:300]})
    passed = res["rc"] == 0 and not res["timed_out"]
    return res | {"status": "ok" if passed else ("timed out" if res["timed_out"] else "failed"), "tests": tests}


def part_bench(name: str):
    def run(out: Path, cfg: dict[str, Any], timeout: float) -> dict[str, Any]:
        model = cfg["models"][name]
        # the trainers' scratch folder stays out of the output folder (what comes back from the GPU is limited)
        scratch = Path(os.environ.get("TMPDIR", "/tmp")) / "tooldojo-gpu-check"
        common = {"model": model, "gc": None, "four_bit": False, "out": str(scratch)}
        deadline = time.monotonic() + timeout
        sft, grpo, fit, processes = [], [], [], []
        for label, backend, compile_ in cfg["variants"]:
            left = deadline - time.monotonic()
            if left < MIN_PART_S / 2:
                processes.append({"variant": label, "status": "skipped", "why": "out of time"})
                continue
            job = {**common, "backend": backend, "compile": compile_}
            jobs = [{"kind": "sft", **job, **cfg["sft"]}, {"kind": "grpo", **job, **cfg["grpo"]}]
            if name == "bench-1b" and compile_ in (None, "off") and (backend == "unsloth" or len(cfg["variants"]) == 1):
                # QLoRA where it is meant to fit a consumer GPU (Unsloth's path; the plain one in the dry run)
                jobs.append({"kind": "fit", **job, "four_bit": backend == "unsloth", "gc": None,
                             "budgets": BUDGETS_GIB, "lengths": cfg["fit_lengths"]})
            log = out / f"{name}-{backend}-{compile_ or 'default'}.log"
            t0 = time.perf_counter()
            results = run_jobs(jobs, timeout=min(left, cfg["process_timeout"]), log=log)
            processes.append({"variant": label, "log": log.name, "seconds": round(time.perf_counter() - t0, 1),
                              "status": "failed" if any("error" in r for r in results) else "ok"})
            row = {"model": model, "backend": label}
            sft.append(row | results[0])
            grpo.append(row | results[1])
            fit += [row | r for r in results[2:]]
        status = "ok" if all(p["status"] == "ok" for p in processes) else "failed"
        return {"status": status, "processes": processes, "sft": sft, "grpo": grpo, "fit": fit,
                "settings": {**cfg["sft"], **{f"grpo_{k}": v for k, v in cfg["grpo"].items()}}}
    return run


PART_RUNNERS = {"versions": part_versions, "pytest": part_pytest, "bench-1b": part_bench("bench-1b"),
                "bench-270m": part_bench("bench-270m")}
PART_TIMEOUT = {"versions": 90, "pytest": 330, "bench-1b": 420, "bench-270m": 300}


# ------------------------------------------------------------------------------------------------- results

def compile_record(results: dict[str, Any]) -> dict[str, Any] | None:
    """The measured compile cost and per-step saving (16-bit LoRA SFT, the first bench part with both Unsloth
    variants), in the form ``train.compile: auto`` reads."""
    key = results["parts"].get("versions", {}).get("compile_key")
    for name in ("bench-1b", "bench-270m"):
        rows = {r["backend"]: r for r in results["parts"].get(name, {}).get("sft", []) if "error" not in r}
        on, off = rows.get("unsloth (compile on)"), rows.get("unsloth (compile off)")
        if key and on and off:
            return {"key": key, "compile_s": {"16bit": round(on["compile_s"] - off["compile_s"], 1)},
                    "saved_s_per_step": {"16bit": round(off["seconds_per_step"] - on["seconds_per_step"], 4)},
                    "measured_with": f"{on['model']} SFT, batch {results['plan']['sft']['batch']} × "
                                     f"{results['plan']['sft']['seq_len']} tokens",
                    "date": results["started"][:10]}
    return None


def summary(results: dict[str, Any]) -> str:
    """Markdown of a check's results (what ``--write-docs`` puts into docs/benchmarks.md)."""
    parts, cfg = results["parts"], results["plan"]
    lines = []
    v = parts.get("versions", {})
    if v.get("versions"):
        lines += ["Versions: " + ", ".join(f"{k} {val}" for k, val in v["versions"].items() if val) + ".", ""]
    if "pytest" in parts:
        p = parts["pytest"]
        lines += [f"`pytest -m gpu` ({p['status']}, {p.get('seconds', '–')} s):", ""]
        lines += [f"- `{t['test']}`: {t['outcome']} in {t['seconds']} s{': ' + t['message'] if t['message'] else ''}"
                  for t in p.get("tests", [])] or ["- no report (killed before it wrote one): see pytest.log"]
        lines.append("")
    for name in ("bench-1b", "bench-270m"):
        b = parts.get(name)
        if not b or b.get("status") == "skipped":
            continue
        lines += [f"### {name}", ""]
        lines.append(render(b["sft"], b["grpo"], b["fit"], steps=cfg["sft"]["steps"], batch=cfg["sft"]["batch"],
                            seq=cfg["sft"]["seq_len"], gens=cfg["grpo"]["generations"], comp=cfg["grpo"]["completion"],
                            common={"four_bit": False, "gc": not results["dry_run"]}))
        backend_s = {r["backend"]: r["backend_s"] for r in b["sft"] if "backend_s" in r}
        if backend_s:
            lines += ["", "Backend set-up (Unsloth's import in its process): "
                      + ", ".join(f"{k} {val:.1f} s" for k, val in backend_s.items()) + "."]
        lines.append("")
    skipped = [n for n, p in parts.items() if p.get("status") == "skipped"]
    if skipped:
        lines.append(f"Not run (out of time): {', '.join(skipped)}; rerun them with `--parts {','.join(skipped)}`.")
    rec = results.get("unsloth_compile")
    if rec:
        lines.append(f"Measured for `train.compile: auto`: compile {rec['compile_s']['16bit']} s, "
                     f"saving {rec['saved_s_per_step']['16bit']} s per step ({rec['measured_with']}).")
    return "\n".join(lines).strip() + "\n"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def preflight(out: Path, dry_run: bool) -> str | None:
    """Everything checkable before any work: one line naming the problem and the fix, or ``None``."""
    from tooldojo.models import cache_dir

    if (out / "results.json").exists():
        return f"--out: {out} already holds a check's results — fix: pass an empty or new folder"
    if importlib.util.find_spec("pytest_timeout") is None:
        return "pytest-timeout is not installed — fix: pip install 'tooldojo[dev]' (or pytest-timeout)"
    if not (cache_dir() / "tokenizers" / "gemma-3" / "tokenizer.json").exists():
        return (f"no Gemma tokenizer under {cache_dir() / 'tokenizers' / 'gemma-3'} — fix: untar .gpu/tok.tar.xz "
                "into $TOOLDOJO_CACHE (bench/gpu_check.sh does), or run `tooldojo models prepare` here")
    if not dry_run:
        import torch

        if not torch.cuda.is_available():
            return "no CUDA GPU here — fix: run it on the GPU machine, or pass --dry-run"
    return None


def check(out: Path, *, dry_run: bool, parts: list[str], budget_s: float) -> dict[str, Any]:
    """Run ``parts`` into ``out`` within ``budget_s`` seconds; the results (also in ``out/results.json``)."""
    cfg = plan(dry_run)
    deadline = time.monotonic() + budget_s
    results: dict[str, Any] = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "commit": _commit(),
                               "dry_run": dry_run, "budget_s": budget_s, "plan": cfg, "parts": {}}
    for name in parts:
        left = deadline - time.monotonic()
        if left < MIN_PART_S:
            results["parts"][name] = {"status": "skipped", "why": f"out of time ({left:.0f} s of the budget left)"}
        else:
            print(f"gpu_check: {name} (up to {min(left, PART_TIMEOUT[name]):.0f} s)", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            results["parts"][name] = PART_RUNNERS[name](out, cfg, min(left, PART_TIMEOUT[name]))
            results["parts"][name]["part_seconds"] = round(time.perf_counter() - t0, 1)
            print(f"gpu_check: {name}: {results['parts'][name]['status']}", file=sys.stderr, flush=True)
        (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    results["unsloth_import_s"] = next((r["backend_s"] for name in ("bench-1b", "bench-270m")
                                        for r in results["parts"].get(name, {}).get("sft", [])
                                        if r["backend"].startswith("unsloth") and "backend_s" in r), None)
    record = None if dry_run else compile_record(results)
    if record:
        from tooldojo.models import cache_dir
        from tooldojo.train.backends import COMPILE_FILE

        results["unsloth_compile"] = record
        for folder in (out, cache_dir()):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / COMPILE_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    results["seconds"] = round(budget_s - (deadline - time.monotonic()), 1)
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out / "summary.md").write_text(summary(results), encoding="utf-8")
    return results


def write_docs(folder: Path, doc: Path | None = None) -> str:
    """Put a GPU check's results (``folder/results.json``) into docs/benchmarks.md (or ``doc``), with the
    machine, date and commit it was measured on."""
    from bench._report import DOC, write_section

    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    v = results["parts"].get("versions", {})
    gpu = v.get("gpu") or {}
    machine = (f"{gpu.get('name', 'no GPU')} ({gpu.get('memory_gib', '?')} GiB), {v.get('cpus', '?')} cores, "
               f"Python {v.get('python', '?')}, torch {(v.get('versions') or {}).get('torch', '?')}")
    title = "GPU check: Unsloth vs TRL+PEFT, GPU tests, memory fit (bench.gpu_check)"
    commit = results["commit"] if results["commit"] != "unknown" else f"{_commit()} (checked out here)"
    return write_section("gpu-check" + ("-dry-run" if results["dry_run"] else ""), title, summary(results),
                         doc=doc or DOC, measured=f"{results['started'][:10]}: {machine}, tooldojo {commit}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="output folder (created; must not hold an earlier check)")
    ap.add_argument("--dry-run", action="store_true", help="CPU: plain backend, tiny model, smallest sizes")
    ap.add_argument("--parts", default=None,
                    help=f"comma-separated subset of {', '.join(PARTS)} (default: all; dry run: {', '.join(DRY_RUN_PARTS)})")
    ap.add_argument("--budget-s", type=float, default=470.0, help="the whole check's time budget (default 470)")
    ap.add_argument("--write-docs", type=Path, default=None, metavar="DIR",
                    help="put DIR/results.json into docs/benchmarks.md and exit")
    ap.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.probe:
        print(MARK + json.dumps(probe()), flush=True)
        return 0
    if args.write_docs:
        if not (args.write_docs / "results.json").exists():
            ap.error(f"--write-docs: no results.json in {args.write_docs} (pass the --out folder of a check)")
        write_docs(args.write_docs)
        return 0
    if args.out is None:
        ap.error("--out is required (the folder for results and logs)")
    default = DRY_RUN_PARTS if args.dry_run else PARTS
    parts = [p.strip() for p in args.parts.split(",") if p.strip()] if args.parts else list(default)
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        ap.error(f"--parts: unknown {unknown}; choose from {', '.join(PARTS)}")
    problem = preflight(args.out, args.dry_run)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    results = check(args.out, dry_run=args.dry_run, parts=parts, budget_s=args.budget_s)
    print(json.dumps({k: v for k, v in results.items() if k != "plan"}, indent=2))
    failed = [n for n, p in results["parts"].items() if p.get("status") != "ok"]
    if failed:
        print(f"gpu_check: not ok: {', '.join(failed)} (logs in {args.out})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
