"""Where a local model's evaluation time goes: prompt processing (prefill) against generation (decode).

Runs ``tooldojo eval``'s transformers backend (:class:`~tooldojo.eval.hf_backend.HFGenerator`: batched, left
padding, KV cache, stop strings) on the select task of one eval split, and times every forward call of the
model: a call over more than one position per row is prefill, one position per row is a decode step. Also
times the tied output layer alone (Gemma's 262k-token vocabulary), the largest single matrix of a decode step.

Point it at a trained model and the split it is scored on, e.g. a validation run of ``tooldojo ablate``::

    python -m bench.bench_eval_profile --model runs/val/variants/two_stage/train/final \\
        --dataset runs/val/split/dataset --scenario validation --n 32 --batch-sizes 8,16

``--model gemma-3-270m`` profiles the base model (it rambles until a stop string or the cap).
"""

from __future__ import annotations

import argparse
import functools
import time
from typing import Any


def profile(model_spec: str, dataset: str, scenario: str, n: int, batch_size: int) -> tuple[dict[str, Any], Any]:
    """One eval pass over ``n`` examples at ``batch_size``: wall, prefill and decode seconds, tokens; and the model."""
    from tooldojo.eval.data import build_items, load_eval_sets
    from tooldojo.eval.generation import resolve_local_model
    from tooldojo.eval.hf_backend import HFGenerator, render_prompt

    items = build_items(load_eval_sets(dataset), [scenario], ["select"], limit=n, seed=0, call_format=None)
    gen = HFGenerator(resolve_local_model(model_spec, None), batch_size=batch_size)
    tok = gen.tokenizer
    prompt_tokens = [len(tok(render_prompt(tok, it.messages, it.tools), add_special_tokens=False)["input_ids"])
                     for it in items]
    calls: list[tuple[int, float]] = []
    forward = gen.model.forward

    @functools.wraps(forward)  # keeps the signature: generate() asks it whether logits_to_keep is accepted
    def timed(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        out = forward(*args, **kwargs)
        calls.append((kwargs["input_ids"].shape[1], time.perf_counter() - t))
        return out

    gen.model.forward = timed
    outs: list[Any] = []
    t0 = time.perf_counter()
    gen.generate([it.request() for it in items], outs.extend)
    wall = time.perf_counter() - t0
    prefill = sum(s for width, s in calls if width > 1)
    steps = [s for width, s in calls if width == 1]
    out_tokens = [len(tok(o.text, add_special_tokens=False)["input_ids"]) for o in outs]
    return {"batch": batch_size, "examples": len(items), "seconds": wall, "examples/s": len(items) / wall,
            "prefill s": prefill, "decode s": sum(steps), "decode steps": len(steps),
            "ms/step": 1000 * sum(steps) / max(1, len(steps)),
            "prompt tokens": sum(prompt_tokens) / len(prompt_tokens),
            "output tokens": sum(out_tokens) / len(out_tokens), "max output": max(out_tokens)}, gen.model


def output_layer_ms(model: Any, batch_size: int, repeat: int = 10) -> float:
    """Milliseconds for the output layer (hidden -> vocabulary logits) of one decode step at ``batch_size``."""
    import torch

    head = model.get_output_embeddings()
    x = torch.randn(batch_size, head.in_features, dtype=head.weight.dtype)
    with torch.inference_mode():
        head(x)
        t = time.perf_counter()
        for _ in range(repeat):
            head(x)
    return 1000 * (time.perf_counter() - t) / repeat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a model folder, adapter folder, or gemma-3-270m")
    ap.add_argument("--dataset", required=True, help="a split's dataset folder (RUN/split/dataset)")
    ap.add_argument("--scenario", default="validation", help="the eval split to draw examples from")
    ap.add_argument("--n", type=int, default=32, help="examples")
    ap.add_argument("--batch-sizes", default="8,16")
    ap.add_argument("--note", default="", help="conditions to record (e.g. other jobs on the machine)")
    ap.add_argument("--no-write", action="store_true", help="print only, do not update docs/benchmarks.md")
    args = ap.parse_args()
    from bench._report import table, write_section

    rows = []
    for b in (int(x) for x in args.batch_sizes.split(",")):
        row, model = profile(args.model, args.dataset, args.scenario, args.n, b)
        row["output layer ms"] = output_layer_ms(model, b)
        rows.append(row)
        print(table([row]), flush=True)
    body = table(rows, ["batch", "examples", "seconds", "examples/s", "prefill s", "decode s", "decode steps",
                        "ms/step", "output layer ms", "prompt tokens", "output tokens", "max output"])
    body += (f"\n\nModel `{args.model}`, split `{args.scenario}` of `{args.dataset}`, select task, greedy. "
             "Prefill: forward calls over the prompts; decode: one call per generated position of the batch "
             "(a batch decodes until its longest output ends, so decode steps ≈ batches × longest output). "
             "Output layer: the logits matrix alone at that batch size. " + args.note)
    if not args.no_write:
        write_section("eval-profile", "Evaluation profile: prefill against decode (bench_eval_profile)", body)
    else:
        print(body)


if __name__ == "__main__":
    main()
