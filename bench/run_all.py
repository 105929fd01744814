"""Every CPU benchmark in turn (``make bench``); each updates its section of docs/benchmarks.md.

    python -m bench.run_all            # full sizes (about an hour on 2 cores)
    python -m bench.run_all --quick    # smoke sizes, a few minutes
    python -m bench.run_all --only minhash,filters

The GPU comparisons (Unsloth vs TRL+PEFT, memory fit) need CUDA: run ``bench.bench_train`` and
``bench.bench_eval`` on a GPU machine as their docstrings say.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

BENCHES = {
    "teacher": ["bench.bench_teacher"],
    "synth_faults": ["bench.bench_synth_faults"],
    "minhash": ["bench.bench_minhash"],
    "filters": ["bench.bench_filters"],
    "eval": ["bench.bench_eval", "--quick"],
    "train": ["bench.bench_train", "--quick", "--models", "tiny,gemma-3-270m"],
}
"""Full-size arguments; eval and train run their CPU sizes (the full ones are for a GPU)."""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke sizes")
    ap.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(BENCHES)}")
    args = ap.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        ap.error(f"--only: unknown benchmark(s) {unknown}; choose from {', '.join(BENCHES)}")
    failed = []
    for name in names:
        cmd = [sys.executable, "-m", *BENCHES[name]]
        if args.quick and "--quick" not in cmd:
            cmd.append("--quick")
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd)
        print(f"== {name}: exit {rc} after {time.perf_counter() - t0:.0f}s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
