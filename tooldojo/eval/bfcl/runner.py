"""``run_bfcl``: BFCL's single-turn categories on a model, with BFCL's data and AST checker.

tooldojo generates the outputs (any backend: transformers, vLLM, an endpoint) from BFCL's questions and
function docs (converted to OpenAI tools by BFCL's own converter), reads them with
:mod:`tooldojo.toolcalls`, and hands the decoded calls (``[{"func": {"arg": value}}]``) to BFCL's checker in
the isolated environment. A ``generate_response`` call or a reply without calls counts as "no function
call" (right for ``irrelevance``, wrong elsewhere). Results go to ``<run>/eval/<name>/bfcl/``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tooldojo.eval.config import BFCL_DEFAULT_CATEGORIES, BFCLConfig, EvalConfig
from tooldojo.eval.generation import Generator, GenRequest
from tooldojo.records import GENERATE_RESPONSE, GENERATE_RESPONSE_TOOL
from tooldojo.runs import Manifest, StageRun, read_manifest
from tooldojo.stopping import TURN_STARTS
from tooldojo.toolcalls import Parsed

SYSTEM = {
    "json": (
        "You are an assistant that can call tools. Read the user's request and the available tools. "
        "Think briefly inside <think></think>, then call the tools the request needs, each call inside its own "
        "<tool_call></tool_call> as JSON: {\"name\": <tool name>, \"arguments\": <object>}. Make one call per "
        "thing asked (several calls when the request asks for several). If no tool can serve the request, "
        f"call {GENERATE_RESPONSE}."
    ),
    "python": (
        "You are an assistant that can call tools. Read the user's request and the available tools. "
        "Think briefly inside <think></think>, then write the calls the request needs inside "
        "<answer></answer> as function calls separated by commas: tool_name(arg=value, ...). Make one call per "
        f"thing asked. If no tool can serve the request, write {GENERATE_RESPONSE}()."
    ),
}


def bfcl_messages(messages: list[dict[str, Any]], call_format: str) -> list[dict[str, Any]]:
    """tooldojo's instructions as the system message (BFCL's own system text, if any, appended to it)."""
    extra = [m["content"] for m in messages if m.get("role") == "system" and m.get("content")]
    rest = [{"role": m["role"], "content": m["content"]} for m in messages if m.get("role") != "system"]
    return [{"role": "system", "content": "\n\n".join([SYSTEM[call_format], *extra])}, *rest]


def decode_for_bfcl(parsed: Parsed, names: dict[str, str]) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Parsed output -> BFCL's decoded form ``[{name: {arg: value}}]``, or ``(None, why)`` when undecodable.

    Tool names are mapped back to BFCL's (dots were rewritten for OpenAI-style names); ``generate_response``
    calls are dropped (an empty list means no function call).
    """
    if parsed.errors:
        return None, "; ".join(parsed.errors)
    if not parsed.calls:
        return None, "no function call in the output"
    return [{names.get(c.name, c.name): c.arguments} for c in parsed.calls if c.name != GENERATE_RESPONSE], None


@dataclass
class BFCLItem:
    key: str
    category: str
    entry_id: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    names: dict[str, str]
    stop: tuple[str, ...] = field(default_factory=tuple)

    def request(self) -> GenRequest:
        return GenRequest(key=self.key, messages=self.messages, tools=self.tools, stop=self.stop)


def bfcl_stops(call_format: str) -> tuple[str, ...]:
    """Where a BFCL answer ends: the next turn of the chat template, and for ``python`` the closing ``</answer>``
    (not ``</tool_call>``: parallel categories answer with several of them)."""
    return ("</answer>", *TURN_STARTS) if call_format == "python" else TURN_STARTS


def build_bfcl_items(loaded: dict[str, Any], *, limit: int | None, seed: int, call_format: str) -> list[BFCLItem]:
    """Generation items from the worker's ``load`` reply (at most ``limit`` per category, seeded)."""
    items = []
    gr_tool = {"type": "function", "function": GENERATE_RESPONSE_TOOL}
    for cat, block in loaded.items():
        entries = block["entries"]
        if limit is not None and len(entries) > limit:
            keep = set(random.Random(f"{seed}:{cat}").sample(range(len(entries)), limit))
            entries = [e for i, e in enumerate(entries) if i in keep]
        for e in entries:
            items.append(BFCLItem(key=f"{cat}:{e['id']}", category=cat, entry_id=e["id"],
                                  messages=bfcl_messages(e["messages"], call_format), tools=[*e["tools"], gr_tool],
                                  names=e["names"], stop=bfcl_stops(call_format)))
    return items


def bfcl_texts(config: BFCLConfig) -> tuple[list[str], list[str], str]:
    """BFCL's user questions and function docs (each entry's tools as a JSON list of OpenAI tools) of
    ``config.categories``, and the bfcl-eval version: what the leakage audit compares training data with."""
    from tooldojo.eval.bfcl.venv import bfcl_status, call_worker, require_venv

    venv = require_venv(config)
    loaded = call_worker(venv, {"op": "load", "categories": config.categories})["categories"]
    queries, tools = [], []
    for block in loaded.values():
        for e in block["entries"]:
            queries += [m["content"] for m in e["messages"] if m.get("role") == "user" and m.get("content")]
            tools.append(json.dumps(e["tools"]))
    return queries, tools, (bfcl_status(config) or {}).get("version", "?")


def _summary(verdicts: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    order = {c: i for i, c in enumerate(BFCL_DEFAULT_CATEGORIES)}  # BFCL's order: non-live, then live
    cats = {c: {"n": len(verdicts[c]), "accuracy": round(sum(x["valid"] for x in verdicts[c]) / len(verdicts[c]), 4)
                if verdicts[c] else None}
            for c in sorted(verdicts, key=lambda c: (order.get(c, len(order)), c))}
    scored = [m for m in cats.values() if m["n"]]
    total = sum(m["n"] for m in scored)
    return {
        "categories": cats,
        "mean_accuracy": round(sum(m["accuracy"] for m in scored) / len(scored), 4) if scored else None,
        "weighted_accuracy": round(sum(m["accuracy"] * m["n"] for m in scored) / total, 4) if total else None,
        "n": total,
    }


def render_bfcl_report(metrics: dict[str, Any]) -> str:
    from tooldojo.reporting import md_table

    info = metrics["info"]
    rows = [[c, m["n"], m["accuracy"]] for c, m in metrics["categories"].items()]
    lines = [f"# BFCL `{info['name']}`", "",
             f"Model `{info['model']}` · backend {info['backend']} · bfcl-eval {info['bfcl_version']} · "
             f"call format `{info['call_format']}` · seed {info['seed']}"
             + (f" · at most {info['limit']} entries per category" if info.get("limit") else ""), "",
             f"{info['n_generated']} outputs generated in {info['generation_seconds']:.1f} s "
             f"({info['examples_per_second']:.2f} examples/s).", "",
             md_table(["category", "entries", "accuracy"], rows), "",
             f"Mean over categories: **{metrics['mean_accuracy']}**; over entries: {metrics['weighted_accuracy']} "
             f"({metrics['n']} entries).", "",
             "Accuracy per category is BFCL's: AST match by `bfcl_eval`'s `ast_checker` for simple/multiple/parallel "
             "categories; for `irrelevance`/`live_irrelevance`, no function call produced; for `live_relevance`, "
             "at least one call. The two means are tooldojo's summaries over the categories run, not BFCL's "
             "leaderboard overall score (which weights category groups its own way and includes multi-turn "
             "and agentic categories).", ""]
    if metrics.get("plot"):
        lines += [f"![BFCL accuracy per category]({metrics['plot']})", ""]
    return "\n".join(lines)


def run_bfcl(config: EvalConfig, run_dir: Path, *, seed: int = 0, force: bool = False, name: str | None = None,
             generator: Generator | None = None) -> Manifest:
    """Run BFCL's single-turn categories (``config.bfcl``) on ``config``'s model into ``<run>/eval/<name>/bfcl/``
    (``seed``: the stage's seed, from :meth:`~tooldojo.config.PipelineConfig.seed_for`)."""
    from tooldojo.eval.bfcl.venv import bfcl_status, call_worker, require_venv
    from tooldojo.eval.plots import grouped_bars
    from tooldojo.eval.report import write_reports
    from tooldojo.eval.runner import (
        PARTIAL,
        SPEED_ONLY,
        describe_target,
        generate_missing,
        resume_partial,
    )
    from tooldojo.eval.scoring import parse_result
    from tooldojo.runs import config_hash, write_json, write_jsonl

    run_dir = Path(run_dir)
    config = config.model_copy(update={"seed": seed})
    venv = require_venv(config.bfcl)
    version = (bfcl_status(config.bfcl) or {}).get("version", "?")
    target = describe_target(config, run_dir)
    name = name or target.default_name
    out_dir = run_dir / "eval" / name / "bfcl"
    inputs = {"bfcl_eval": version,
              "model": target.fingerprint if generator is None else f"generator:{generator.name}"}
    bfcl_cfg = {"bfcl": config.bfcl.model_dump(mode="json", exclude={"venv"}),
                "generation": config.model_dump(mode="json", exclude={"bfcl", "scenarios", "tasks", "limit",
                                                                      "dataset", "html"})}
    st = StageRun(out_dir, "eval-bfcl", bfcl_cfg, inputs=inputs)
    if st.up_to_date() and not force:
        return read_manifest(out_dir)  # type: ignore[return-value]

    call_format = config.call_format or "json"
    loaded = call_worker(venv, {"op": "load", "categories": config.bfcl.categories})["categories"]
    items = build_bfcl_items(loaded, limit=config.bfcl.limit, seed=seed, call_format=call_format)
    partial = out_dir / PARTIAL
    gen_cfg = {k: v for k, v in bfcl_cfg["generation"].items() if k not in SPEED_ONLY}
    stamp = config_hash({"config": {**bfcl_cfg, "generation": gen_cfg}, "inputs": inputs})
    previous = resume_partial(partial, stamp, force=force)
    n_resumed = sum(1 for it in items if it.key in previous)

    with st:
        done, seconds, gen = generate_missing(config, run_dir, seed, generator, items,  # type: ignore[arg-type]
                                              partial=partial, previous=previous, description=f"bfcl {name}")
        records, results = [], {}
        for it in items:
            out = done[it.key]
            parsed = parse_result(out.get("text") or "", out.get("tool_calls"))
            decoded, error = decode_for_bfcl(parsed, it.names)
            results.setdefault(it.category, []).append({"id": it.entry_id, "decoded": decoded, "error": error})
            raw = out.get("text") or ""
            if out.get("tool_calls"):
                raw = json.dumps({"content": out.get("text") or None, "tool_calls": out["tool_calls"]}, ensure_ascii=False)
            records.append({"category": it.category, "id": it.entry_id, "prompt": it.messages,
                            "tools": [t["function"]["name"] for t in it.tools], "raw_output": raw,
                            "error": out.get("error"), "parsed": parsed.to_dict(), "decoded": decoded,
                            "decode_error": error})
        verdicts = call_worker(venv, {"op": "check", "results": results})["verdicts"]
        by_id = {(c, v["id"]): v for c, vs in verdicts.items() for v in vs}
        for r in records:
            r["verdict"] = by_id[(r["category"], r["id"])]
        metrics = _summary(verdicts)
        n_generated = len(items) - n_resumed
        metrics["info"] = {
            "name": name, "model": target.display if generator is None else generator.name,
            "backend": getattr(gen, "name", "resumed outputs"), "bfcl_version": version, "call_format": call_format,
            "seed": seed, "limit": config.bfcl.limit, "n_generated": n_generated, "n_resumed": n_resumed,
            "generation_seconds": round(seconds, 3),
            "examples_per_second": round(n_generated / seconds, 3) if seconds > 0 else 0.0,
        }
        cats = list(metrics["categories"])
        grouped_bars(cats, {"accuracy": [metrics["categories"][c]["accuracy"] for c in cats]},
                     title=f"BFCL accuracy per category ({name})", ylabel="accuracy", path=out_dir / "bfcl.png")
        metrics["plot"] = "bfcl.png"
        st.record_output("examples", write_jsonl(out_dir / "examples.jsonl", records), "examples.jsonl")
        write_json(out_dir / "metrics.json", metrics)
        st.record_output("metrics", None, "metrics.json")
        for key, rel in write_reports(out_dir, render_bfcl_report(metrics), html=config.html,
                                      title=f"BFCL {name}").items():
            st.record_output(key, None, rel)
        st.record_output("plot", None, "bfcl.png")
        st.counts["entries"] = metrics["n"]
        st.stats.update(name=name, categories={c: m["accuracy"] for c, m in metrics["categories"].items()},
                        mean_accuracy=metrics["mean_accuracy"], weighted_accuracy=metrics["weighted_accuracy"],
                        bfcl_version=version, examples_per_second=metrics["info"]["examples_per_second"])
    partial.unlink(missing_ok=True)
    return st.manifest
