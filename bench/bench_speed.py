"""Before/after speed of the eval and training paths on Gemma-3-270M (CPU): the same harness run against an
earlier commit's package and against this tree, interleaved (before, after, before, after...).

- **eval**: select-task examples/s on catalog scenario examples (``bench_eval``), batch 8; before with the
  demo preset's 96-token cap, after with the per-task caps and also with the same 96-token cap;
- **sft**: one pass over real ``select`` rows (``bench_train``'s catalog mode): unpadded tokens/s, rows/s and
  rows dropped as too long at ``--seq-len``; after with length-grouped batches;
- **grpo**: seconds per step, ``--generations`` rollouts of at most ``--completion`` tokens; after with rollouts
  stopped at the closing tag.

The earlier commit is extracted with ``git archive`` into a temporary folder and this ``bench/`` folder copied
over it. Each side gets its own hard-linked copy of the model cache carrying *its* chat template (the tool
rendering changed), and each measurement runs in its own process::

    python -m bench.bench_speed --before 2488d24                 # all three, about an hour on 2 busy cores
    python -m bench.bench_speed --before 2488d24 --only eval --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench._report import table, write_section

ROOT = Path(__file__).resolve().parent.parent
MARK = "BENCH_SPEED "


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """One measurement with the package found first on the path (this process's working tree)."""
    if job["kind"] == "eval":
        from bench.bench_eval import bench_local, catalog_rows

        return bench_local("gemma-3-270m", job["label"], catalog_rows(job["n"]), batch_size=job["batch"],
                           max_new_tokens=job["max_new_tokens"], backend="hf")
    from bench.bench_train import worker_grpo, worker_sft

    return (worker_sft if job["kind"] == "sft" else worker_grpo)(job)


def side_cache(tree: Path, dest: Path) -> Path:
    """A hard-linked copy of the model cache whose chat templates are ``tree``'s base template."""
    from tooldojo.models import cache_dir, resolve_model

    resolve_model("gemma-3-270m")  # prepared once in the real cache
    src = cache_dir()
    template = (tree / "tooldojo" / "templates" / "chat" / "base.jinja").read_text(encoding="utf-8")
    for sub in ("models", "tokenizers"):
        shutil.copytree(src / sub, dest / sub, copy_function=os.link)
    for path in dest.rglob("chat_template.jinja"):
        path.unlink()  # a new file, not the linked one
        path.write_text(template, encoding="utf-8")
    (dest / "gguf").symlink_to(src / "gguf")
    return dest


def run(job: dict[str, Any], tree: Path, cache: Path, timeout: int = 3600) -> dict[str, Any]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", TOOLDOJO_CACHE=str(cache),
               PYTHONPATH=str(tree))
    proc = subprocess.run([sys.executable, "-m", "bench.bench_speed", "--worker", json.dumps(job)], cwd=tree,
                          capture_output=True, text=True, env=env, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    return {"error": " / ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])}


def load_average() -> float:
    return round(os.getloadavg()[0], 1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="2488d24", help="the earlier commit")
    ap.add_argument("--only", default="eval,sft,grpo")
    ap.add_argument("--repeat", type=int, default=1, help="before/after pairs per measurement")
    ap.add_argument("--n", type=int, default=16, help="eval examples")
    ap.add_argument("--seq-len", type=int, default=1024, help="SFT max_length (rows longer are trimmed or dropped)")
    ap.add_argument("--steps", type=int, default=4, help="SFT steps (batch 4); GRPO timed steps = half")
    ap.add_argument("--generations", type=int, default=4)
    ap.add_argument("--completion", type=int, default=64)
    ap.add_argument("--note", default="", help="conditions to state under the table (e.g. other load)")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--from-log", type=Path, default=None,
                    help="render the rows an earlier run printed (one JSON object a line) instead of measuring")
    ap.add_argument("--after", default=None, help="with --from-log: the commit the after rows measured")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(MARK + json.dumps(worker(json.loads(args.worker))), flush=True)
        return
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "tooldojo"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    after = args.after or f"{commit}{'+changes' if dirty else ''}"
    if args.from_log:
        results = [json.loads(line) for line in args.from_log.read_text().splitlines() if line.startswith("{")]
    else:
        results = measure(args)
    body = render(results, before=args.before, after=after, args=args)
    if args.no_write:
        print(body)
    else:
        write_section("speed", "Speed before/after: eval examples/s, SFT tokens/s, GRPO s/step (Gemma-3-270M, CPU)",
                      body)


def measure(args: Any) -> list[dict[str, Any]]:
    """Run every before/after pair; each row is printed as a JSON line as it finishes."""
    only = args.only.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        old.mkdir()
        archive = subprocess.run(["git", "archive", args.before], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        shutil.rmtree(old / "bench")
        shutil.copytree(ROOT / "bench", old / "bench")
        caches = {"before": side_cache(old, Path(tmp) / "cache-before"),
                  "after": side_cache(ROOT, Path(tmp) / "cache-after")}
        trees = {"before": old, "after": ROOT}
        train = {"model": "gemma-3-270m", "backend": "hf", "gc": None, "four_bit": False, "out": str(Path(tmp) / "out")}
        jobs: list[tuple[str, str, dict[str, Any]]] = []
        for _ in range(args.repeat):
            if "eval" in only:
                eval_job = {"kind": "eval", "n": args.n, "batch": 8}
                jobs += [("eval", "before", eval_job | {"label": "before", "max_new_tokens": 96}),
                         ("eval", "after", eval_job | {"label": "after", "max_new_tokens": None}),
                         ("eval", "after", eval_job | {"label": "after, 96-token cap", "max_new_tokens": 96})]
            if "sft" in only:
                sft_job = train | {"kind": "sft", "steps": args.steps, "batch": 4, "seq_len": args.seq_len,
                                   "rows": "catalog"}
                jobs += [("sft", "before", sft_job), ("sft", "after", sft_job | {"group_by_length": True})]
            if "grpo" in only:
                grpo_job = train | {"kind": "grpo", "steps": max(1, args.steps // 2),
                                    "generations": args.generations, "completion": args.completion}
                jobs += [("grpo", "before", grpo_job), ("grpo", "after", grpo_job | {"stop_at_answer": True})]
        results = []
        for kind, side, job in jobs:
            load = load_average()
            r = run(job, trees[side], caches[side])
            results.append({"kind": kind, "side": side, "load": load, **job, **r})
            print(json.dumps(results[-1]), flush=True)
    return results


def render(results: list[dict[str, Any]], *, before: str, after: str, args: Any) -> str:
    side = {"before": f"before ({before})", "after": f"after ({after})"}
    out = [f"Same harness (this `bench/`) against the package at `{before}` and at `{after}`; each row its own "
           "process, rows in the order they ran; *load* is the 1-minute load average when the row started.", ""]
    ev = [r for r in results if r["kind"] == "eval"]
    if ev:
        out += ["**Eval** (select task, catalog scenario examples, batch 8, greedy):", "", table([{
            "package": side[r["side"]], "setup": r.get("model", r.get("label")), "cap": r.get("max new tokens") or "per task (192)",
            "mean output tokens": r.get("mean output tokens", "–"), "eval s": r.get("eval s", "error"),
            "examples/s": r.get("examples/s", r.get("error", "")[:80]), "load": r["load"]} for r in ev]), ""]
    sft = [r for r in results if r["kind"] == "sft"]
    if sft:
        out += [f"**SFT** (one pass over catalog `select` rows, batch 4, max_length {args.seq_len}, LoRA r=16; "
                "tokens/s counts unpadded tokens):", "", table([{
                    "package": side[r["side"]], "length-grouped": bool(r.get("group_by_length")),
                    "rows kept": r.get("rows_kept", "–"), "rows too long": r.get("rows_too_long", "–"),
                    "mean tokens/row": _num(r, "mean_tokens", 0), "tokens/s": _num(r, "tokens_per_s", 0),
                    "rows/s": _num(r, "rows_per_s", 3), "s/step": _num(r, "seconds_per_step", 1),
                    "load": r["load"]} for r in sft]), ""]
    grpo = [r for r in results if r["kind"] == "grpo"]
    if grpo:
        out += [f"**GRPO** ({args.generations} rollouts × ≤{args.completion} tokens per step, catalog prompts, "
                "after one warm-up step):", "", table([{
                    "package": side[r["side"]], "stop at closing tag": bool(r.get("stop_at_answer")),
                    "prompt tokens": r.get("prompt_tokens", "–"), "mean completion": _num(r, "mean_completion", 1),
                    "s/step": _num(r, "seconds_per_step", 1), "load": r["load"]} for r in grpo]), ""]
    if args.note:
        out.append(args.note)
    return "\n".join(out)


def _num(r: dict[str, Any], key: str, digits: int) -> Any:
    if "error" in r:
        return "error: " + r["error"][:80]
    v = r.get(key)
    return round(v, digits) if isinstance(v, float) else v


if __name__ == "__main__":
    main()
