"""Evaluation throughput: scenario examples per second through tooldojo's eval path.

Each row times what ``tooldojo eval`` does per example, on realistic scenario examples built from the seed
catalog (every family's query patterns, the four kinds, 2-3 distractor tools each): render the chat prompt
with the tools, generate (batched, left padding, KV cache; or vLLM; or an endpoint), parse and score. The
select task only (the ranking task is similar in length). Model loading is timed separately.

- local models: ``--models tiny,gemma-3-270m`` (any spec ``tooldojo eval --model`` takes), and
  ``--random-init gemma-3-1b`` / ``qwen2.5-1.5b``: randomly initialised models of those shapes with the Gemma
  tokenizer (valid for throughput, GPU.md; they never stop early, so every output runs to
  ``--max-new-tokens``: a pessimistic bound, a trained model stops after its call);
- ``--endpoint``: the OpenAI-compatible path against the local stub (``python -m tests.openai_stub``, its own
  process) with 100 ms latency, at concurrency 1 and 16.

The GPU goal: 1,000 examples well under a minute for a <=1.5B model::

    python -m bench.bench_eval --n 1000 --random-init gemma-3-1b,qwen2.5-1.5b --batch-size 64 --max-new-tokens 96

CPU smoke run (this machine): ``python -m bench.bench_eval --quick`` (tiny model and Gemma-3-270M, 24 examples).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._report import table, write_section
from tests.openai_stub import spawn as spawn_stub

ROOT = Path(__file__).resolve().parent.parent
SHAPES: dict[str, dict[str, Any]] = {
    "gemma-3-1b": {"arch": "gemma3", "hidden_size": 1152, "intermediate_size": 6912, "num_hidden_layers": 26,
                   "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256, "sliding_window": 512},
    "qwen2.5-1.5b": {"arch": "qwen2", "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
                     "num_attention_heads": 12, "num_key_value_heads": 2, "tie_word_embeddings": True},
}


def catalog_rows(n: int, seed: int = 0) -> dict[str, list[dict[str, Any]]]:
    """``scenario -> eval rows``: ``n`` examples from the seed catalog, spread over scenarios and kinds."""
    from tooldojo.dataset_schema import example_to_row
    from tooldojo.records import SCENARIOS, Example, QueryRecord, gold_for, stable_id
    from tooldojo.synth.catalog import fill, load_catalog, sample_slots

    rng = random.Random(seed)
    families = [(dom, fam) for dom, df in load_catalog().items() for fam in df.families]
    all_tools = [fn for _, fam in families for fn in (fam.weak, fam.strong)]
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in SCENARIOS}
    i = 0
    while i < n:
        dom, fam = families[i % len(families)]
        pattern = fam.queries[(i // len(families)) % len(fam.queries)]
        values = sample_slots(fam, pattern, rng)
        names = {"weak": fam.weak["name"], "strong": fam.strong["name"]}
        calls = {names[role]: fill(args, values) for role, args in pattern.calls.items()}
        q = QueryRecord(query_id=stable_id(i, prefix="q"), family_id=fam.id, text=fill(pattern.text, values),
                        style=pattern.style, needs=pattern.needs, calls=calls)
        kind = ("zero", "one", "weak_only", "weak_strong")[i % 4]
        if kind == "weak_only" and pattern.needs == "weak":
            kind = "one"
        family = {"zero": [], "one": [names[pattern.needs]], "weak_only": [names["weak"]],
                  "weak_strong": [names["weak"], names["strong"]]}[kind]
        distractors = rng.sample([t for t in all_tools if t["name"] not in names.values()], rng.randint(2, 3))
        tools = distractors + [fam.weak if f == names["weak"] else fam.strong for f in family]
        rng.shuffle(tools)
        gold = gold_for(q, names, [t["name"] for t in tools])
        scenario = "weak_to_strong" if kind == "weak_strong" else SCENARIOS[i % 3]
        ex = Example(example_id=stable_id("bench", i), query_id=q.query_id, family_id=fam.id, domain=dom,
                     scenario=scenario, kind=kind, style=q.style, query=q.text, tools=tools, gold_tool=gold.tool,
                     gold_arguments=gold.arguments, gold_ranking=gold.ranking, weak_tool=names["weak"],
                     strong_tool=names["strong"], capability_gap=fam.gap)
        rows[scenario].append(example_to_row(ex, "eval"))
        i += 1
    return {s: r for s, r in rows.items() if r}


def random_init_model(shape: str, dest: Path) -> tuple[str, int]:
    """A randomly initialised model of a known shape with the Gemma tokenizer, saved to ``dest``."""
    import torch
    from transformers import AutoModelForCausalLM, Gemma3TextConfig, Qwen2Config

    from tooldojo.models import gemma_tokenizer

    tok = gemma_tokenizer()
    dims = dict(SHAPES[shape])
    arch = dims.pop("arch")
    common = {"vocab_size": len(tok), "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
              "pad_token_id": tok.pad_token_id, "max_position_embeddings": 8192}
    config = Gemma3TextConfig(**common, **dims) if arch == "gemma3" else Qwen2Config(**common, **dims)
    torch.manual_seed(0)
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    n_params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(str(dest))
    tok.save_pretrained(str(dest))
    return str(dest), n_params


def bench_local(spec: str, label: str, rows: dict[str, list[dict]], *, batch_size: int, max_new_tokens: int,
                backend: str) -> dict[str, Any]:
    from tooldojo.eval.data import build_items
    from tooldojo.eval.generation import choose_backend, resolve_local_model
    from tooldojo.eval.runner import example_record

    model = resolve_local_model(spec, Path("."))
    chosen = choose_backend(backend, endpoint=False, adapter=model.adapter is not None)
    t0 = time.perf_counter()
    if chosen == "vllm":
        from tooldojo.eval.vllm_backend import VLLMGenerator

        gen = VLLMGenerator(model, max_new_tokens=max_new_tokens)
    else:
        from tooldojo.eval.hf_backend import HFGenerator

        gen = HFGenerator(model, batch_size=batch_size, max_new_tokens=max_new_tokens)
    load = time.perf_counter() - t0
    return _timed(gen, rows, label, chosen, load, batch_size, max_new_tokens, build_items, example_record,
                  tokenizer=getattr(gen, "tokenizer", None))


def _timed(gen, rows, label, backend, load, batch_size, max_new_tokens, build_items, example_record, tokenizer=None):
    items = build_items(rows, list(rows), ["select"], limit=None, seed=0, call_format=None)
    outs: dict[str, dict] = {}
    t0 = time.perf_counter()
    gen.generate([it.request() for it in items],
                 lambda res: outs.update({r.key: {"text": r.text, "tool_calls": r.tool_calls, "error": r.error} for r in res}))
    records = [example_record(it, outs[it.key]) for it in items]
    wall = time.perf_counter() - t0
    n = len(items)
    tokens = (sum(len(tokenizer(r["raw_output"], add_special_tokens=False)["input_ids"]) for r in records) / n
              if tokenizer is not None else None)
    return {"model": label, "backend": backend, "examples": n, "batch": batch_size, "max new tokens": max_new_tokens,
            "mean output tokens": round(tokens, 1) if tokens is not None else "–", "load s": round(load, 1),
            "eval s": round(wall, 2), "examples/s": round(n / wall, 2),
            "1,000 examples (s)": round(1000 * wall / n, 1),
            "tool acc": round(sum(r["verdict"]["tool_correct"] for r in records) / n, 3)}


def bench_endpoint(rows: dict[str, list[dict]], concurrencies: list[int]) -> list[dict[str, Any]]:
    from tooldojo.eval.data import build_items
    from tooldojo.eval.openai_backend import OpenAIGenerator
    from tooldojo.eval.runner import example_record

    proc, base_url = spawn_stub(0.1)
    out = []
    try:
        for c in concurrencies:
            gen = OpenAIGenerator("stub", base_url, concurrency=c, max_new_tokens=64)
            out.append(_timed(gen, rows, "stub endpoint (100 ms latency)", f"openai, concurrency {c}", 0.0, "–", 64,
                              build_items, example_record))
    finally:
        proc.terminate()
        proc.wait(10)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="CPU smoke run: tiny + Gemma-3-270M, 24 examples")
    ap.add_argument("--n", type=int, default=1000, help="examples")
    ap.add_argument("--models", default="", help="comma-separated model specs (tiny, gemma-3-270m, folders, Hub ids)")
    ap.add_argument("--random-init", default="", help=f"comma-separated shapes: {', '.join(SHAPES)}")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--backend", default="auto", choices=["auto", "hf", "vllm"])
    ap.add_argument("--endpoint", action="store_true", help="also the endpoint path (stub, concurrency 1 and 16)")
    ap.add_argument("--no-write", action="store_true", help="print only; do not update docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.models, args.batch_size, args.max_new_tokens = 24, "tiny,gemma-3-270m", 8, 48
        args.endpoint = True
    if not args.models and not args.random_init:
        args.models = "gemma-3-270m"
    rows = catalog_rows(args.n)
    results = []
    for spec in filter(None, args.models.split(",")):
        results.append(bench_local(spec, spec, rows, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                                   backend=args.backend))
    for shape in filter(None, args.random_init.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            path, n_params = random_init_model(shape, Path(tmp) / shape)
            label = f"{shape} shape, random init ({n_params / 1e9:.2f}B params)"
            results.append(bench_local(path, label, rows, batch_size=args.batch_size,
                                       max_new_tokens=args.max_new_tokens, backend=args.backend))
    if args.endpoint:
        results += bench_endpoint(catalog_rows(min(args.n, 64)), [1, 16])
    body = table(results) + (
        "\n\nSelect task on scenario examples built from the seed catalog; *eval s* covers prompt rendering, "
        "generation, parsing and scoring (model load apart). Untrained and random models rarely write the stop "
        "string, so most outputs run to *max new tokens*; a trained model stops after its call. *tool acc* is "
        "only a sanity column here. The endpoint rows measure the client's concurrency against a stub that "
        "answers every request after 100 ms.")
    if args.quick:
        body += " `--quick`: 24 examples on CPU, other processes were sharing the 2 cores."
    if args.no_write:
        print(body)
    else:
        write_section("eval" + ("-quick" if args.quick else ""), "Evaluation throughput (eval)"
                      + (" — CPU smoke run" if args.quick else ""), body)


if __name__ == "__main__":
    main()
