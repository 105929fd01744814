"""synth against a failing teacher: outage detection time, cache contents after faults, rerun convergence.

The teacher is the fault-injecting stub (``tests/openai_stub.py`` with ``tests/synth/synth_responder.py``) in
this process; ``tooldojo synth`` runs as a subprocess (the real CLI). Measured:

- **outage**: the server is stopped (nothing listens any more) half-way through the queries step; the time
  from the stop to synth's error line and to its exit, its exit code, the manifest status, the cached replies (all must validate),
  then the same command against the server back on the same port: requests it sends (answered ones must not
  be sent again) and whether the outputs are byte-identical to a clean run's;
- **fault mix**: ``--fault-rate`` of requests (and 50% with ``max_retries`` 1) fail at random (429 with Retry-After, 500, reset connections,
  cut bodies, slow drips, prose, truncated JSON, fenced JSON); the same command is repeated until it exits 0:
  runs needed, exit codes, invalid cached replies, answered requests sent again, byte-identity with a clean run.

Run: ``python -m bench.bench_synth_faults`` (``--quick`` for a smaller run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench._report import table, write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "synth"))
DOMAINS = "alpha_shop,beta_travel,gamma_media,delta_health"
OUTPUTS = ("tools.jsonl", "queries.jsonl")
KINDS = ("429", "500", "reset", "truncated_body", "slow_drip", "non_json", "truncated_json", "malformed_json")


def synth_cmd(url: str, run_dir: Path, fpd: int) -> list[str]:
    return [sys.executable, "-m", "tooldojo.cli", "synth", "--teacher", "stub-model", "--base-url", url,
            "--run-dir", str(run_dir), "--domains", DOMAINS, "--families-per-domain", str(fpd),
            "--queries-per-family", "4", "--concurrency", "4", "--timeout", "10"]


CODE = ROOT
"""The source tree whose ``tooldojo`` runs synth (``--code``: e.g. an export of an older commit)."""


def run(cmd: list[str]) -> int:
    env = {**os.environ, "PYTHONPATH": str(CODE)}
    return subprocess.run(cmd, cwd=CODE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode


def outputs(run_dir: Path) -> dict[str, bytes]:
    return {n: (run_dir / "synth" / n).read_bytes() for n in OUTPUTS if (run_dir / "synth" / n).exists()}


def cache_check(run_dir: Path) -> tuple[int, int]:
    """(cached replies, invalid ones)."""
    from tooldojo.synth.cache import ResponseCache
    from tooldojo.synth.steps import RESPONSE_SCHEMAS
    from tooldojo.synth.teacher import parse_reply

    path = run_dir / "synth" / "cache.sqlite"
    if not path.exists():
        return 0, 0
    cache = ResponseCache(path)
    rows = list(cache._db.execute("SELECT step, content FROM responses"))
    cache.close()
    return len(rows), sum(parse_reply(c, RESPONSE_SCHEMAS[s])[0] is None for s, c in rows)


def port_of(stub) -> int:
    return int(stub.base_url.rsplit(":", 1)[1].split("/")[0])


def answered_again(stub) -> int:
    """Requests sent again although an earlier identical request was answered without a fault."""
    faulted = {i for i, _ in stub.fault_log}
    answered, again = set(), 0
    for i, body in enumerate(stub.requests):
        key = json.dumps(body, sort_keys=True)
        if key in answered:
            again += 1
        if i not in faulted:
            answered.add(key)
    return again


def main(argv: list[str] | None = None) -> None:
    from openai_stub import OpenAIStub
    from synth_responder import SynthResponder

    from tooldojo.runs import read_manifest

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--families-per-domain", type=int, default=8)
    ap.add_argument("--fault-rate", type=float, default=0.2)
    ap.add_argument("--note", default="", help="conditions to print with the numbers (e.g. other load)")
    ap.add_argument("--code", type=Path, help="run synth from this source tree (e.g. `git archive` of an older "
                    "commit) for a before/after comparison; only the outage is measured")
    args = ap.parse_args(argv)
    global CODE
    CODE = (args.code or ROOT).resolve()
    fpd = 3 if args.quick else args.families_per_domain
    tmp = Path(tempfile.mkdtemp(prefix="bench-faults-"))

    with OpenAIStub(responder=SynthResponder(), latency_s=0.05) as stub:
        t0 = time.perf_counter()
        assert run(synth_cmd(stub.base_url, tmp / "clean", fpd)) == 0
        clean_s, clean_requests = time.perf_counter() - t0, len(stub.requests)
    clean = outputs(tmp / "clean")

    # ---- outage ----
    with OpenAIStub(responder=SynthResponder(), latency_s=0.05) as stub:
        port = port_of(stub)
        proc = subprocess.Popen(synth_cmd(stub.base_url, tmp / "outage", fpd), cwd=CODE,
                                env={**os.environ, "PYTHONPATH": str(CODE)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # stop mid-way through the queries step: every earlier step and the embedding model are done
        stub.stop_after(len(DOMAINS.split(",")) * (-(-fpd // 8) + fpd) + fpd * 2)
        lines, error_s = [], None
        for line in proc.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if error_s is None and "stopped: the teacher" in line:
                error_s = time.perf_counter() - stub.stopped_at
        proc.wait(timeout=600)
        detect_s = time.perf_counter() - stub.stopped_at
        sent_before_kill = len(stub.requests)
    err = "".join(lines)
    status = read_manifest(tmp / "outage" / "synth").status
    cached, invalid = cache_check(tmp / "outage")
    with OpenAIStub(responder=SynthResponder(), port=port) as back:
        rerun_code = run(synth_cmd(back.base_url, tmp / "outage", fpd))
        resent = len(back.requests)
    outage = [{"requests before the stop": sent_before_kill,
               "stop → error logged (s)": round(error_s, 2) if error_s is not None else "never",
               "stop → exit (s)": round(detect_s, 2),
               "exit code": proc.returncode, "manifest": status, "cached replies": cached,
               "invalid cached": invalid, "rerun exit": rerun_code, "rerun requests": resent,
               "clean run requests": clean_requests,
               "answered requests sent again": again if (again := resent - (clean_requests - cached)) >= 0
               else f"none ({-again} unanswered never asked again)",
               "byte-identical": outputs(tmp / "outage") == clean}]
    last_line = (err.strip().splitlines() or [""])[-1][:300]

    # ---- fault mix ----
    mix, served = [], Counter()
    for rate, retries in (((args.fault_rate, 6), (0.5, 1)) if args.code is None else ()):
        with OpenAIStub(responder=SynthResponder(), latency_s=0.05) as stub:
            stub.fault_rate, stub.fault_kinds, stub.fault_seed, stub.drip_s = rate, KINDS, 1, 0.05
            run_dir = tmp / f"mix-{rate}-{retries}"
            codes, invalid_seen = [], 0
            for _ in range(10):  # the same command until it completes
                cmd = [*synth_cmd(stub.base_url, run_dir, fpd), "--set", f"synth.teacher.max_retries={retries}"]
                codes.append(run(cmd))
                invalid_seen += cache_check(run_dir)[1]
                if codes[-1] == 0:
                    break
            served.update(k for _, k in stub.fault_log)
            mix.append({"fault rate": rate, "max_retries": retries, "runs": len(codes),
                        "exit codes": " ".join(map(str, codes)), "requests": len(stub.requests),
                        "faults served": len(stub.fault_log), "invalid cached (any run)": invalid_seen,
                        "answered requests sent again": answered_again(stub),
                        "manifest": read_manifest(run_dir / "synth").status,
                        "byte-identical": outputs(run_dir) == clean})
    kinds = served

    from tooldojo.runs import code_version

    commit = (code_version()["commit"] or "unknown")[:7]
    if args.code is not None:
        commit = f"code from {args.code}"
    body = (f"Commit `{commit}`. {len(DOMAINS.split(','))} domains × {fpd} families × 4 queries (clean run: {clean_requests} requests, "
            f"{clean_s:.1f} s, stub latency 50 ms, concurrency 4, `max_retries` 6, `--timeout 10`)."
            + (f" Conditions: {args.note}." if args.note else "")
            + "\n\n### Outage: the server stopped half-way through the queries step\n\n" + table(outage)
            + f"\n\nLast line synth printed: `{last_line}`\n\n"
            + (f"### Fault mix: requests fail at random ({', '.join(KINDS)}); the same command until exit 0\n\n"
               + table(mix) + "\n\nFaults served by kind: "
               + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) + "." if mix else ""))
    name = "synth_faults" if args.code is None else "synth_faults_baseline"
    title = "synth against a failing teacher (bench_synth_faults)" if args.code is None else \
        f"synth against a failing teacher: baseline, {commit} (bench_synth_faults --code)"
    write_section(name, title, body)


if __name__ == "__main__":
    main()
