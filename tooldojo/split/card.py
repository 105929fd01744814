"""The dataset card (``README.md`` with YAML metadata), its statistics (polars) and the domain plot.

The card says how the data was made (teacher model, template set and its hash, filter settings, split
settings, the leakage audit's result), how big each config and split is, and shows the distribution of
tools over domains. It never contains a secret: only names and settings go into it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tooldojo.records import GENERATE_RESPONSE, Example, ToolRecord
from tooldojo.reporting import md_table

PLOT = "domains.png"


@dataclass
class CardInfo:
    """Everything the card reports besides the examples themselves."""

    pretty_name: str = "tooldojo tool-use generalization dataset"
    license: str = "apache-2.0"
    teacher_models: list[str] = field(default_factory=list)
    template_sets: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    dedup: dict[str, Any] = field(default_factory=dict)
    """``{"settings": {...}, "stats": {...}}`` of the dedup stage."""
    split: dict[str, Any] = field(default_factory=dict)
    """Split settings and statistics."""
    audit: dict[str, Any] = field(default_factory=dict)
    seed: int = 0


def provenance_summary(tools: list[ToolRecord]) -> dict[str, list[str]]:
    """Teacher models, template sets (with hashes) and sources named by the tools' provenance."""
    teachers = Counter(t.provenance.teacher_model for t in tools if t.provenance.teacher_model)
    sets = Counter(f"{t.provenance.template_set or 'default'} (hash {t.provenance.template_set_hash})"
                   for t in tools if t.provenance.template_set_hash)
    sources = Counter(t.provenance.source for t in tools)
    return {"teacher_models": [k for k, _ in teachers.most_common()],
            "template_sets": [k for k, _ in sets.most_common()],
            "sources": [k for k, _ in sources.most_common()]}


def examples_frame(examples: dict[str, list[Example]]):
    """One polars row per example: split, kind, domain, style, gold, candidate count."""
    import polars as pl

    rows = [{"split": split, "kind": e.kind, "domain": e.domain, "style": e.style, "family_id": e.family_id,
             "query_id": e.query_id, "gold_is_generate_response": e.gold_tool == GENERATE_RESPONSE,
             "candidates": len(e.tools) + 1}
            for split, exs in examples.items() for e in exs]
    schema = {"split": pl.Utf8, "kind": pl.Utf8, "domain": pl.Utf8, "style": pl.Utf8, "family_id": pl.Utf8,
              "query_id": pl.Utf8, "gold_is_generate_response": pl.Boolean, "candidates": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def tools_frame(tools: list[ToolRecord], family_side: dict[str, str]):
    import polars as pl

    return pl.DataFrame([{"domain": t.domain, "family_id": t.family_id, "role": t.role,
                          "side": family_side.get(t.family_id, "?")} for t in tools],
                        schema={"domain": pl.Utf8, "family_id": pl.Utf8, "role": pl.Utf8, "side": pl.Utf8})


def _pivot(ex, column: str, known: tuple[str, ...]):
    """Counts per split (rows) and ``column`` value (columns: ``known`` first, then others sorted)."""
    import polars as pl

    values = ex.get_column(column).unique().to_list()
    cols = [v for v in known if v in values] + sorted(v for v in values if v not in known)
    counts = ex.group_by("split", column).agg(pl.len().alias("n")).sort("split", column) \
        .pivot(on=column, index="split", values="n").fill_null(0).sort("split")
    return counts.select(["split", *[c for c in cols if c in counts.columns]])


def statistics(examples: dict[str, list[Example]], tools: list[ToolRecord], family_side: dict[str, str]
               ) -> dict[str, Any]:
    """Polars tables (as lists of dicts) for the card and the manifest."""
    import polars as pl

    ex = examples_frame(examples)
    tf = tools_frame(tools, family_side)
    by_split = (ex.group_by("split").agg(pl.len().alias("examples"), pl.col("query_id").n_unique().alias("queries"),
                                         pl.col("family_id").n_unique().alias("families"),
                                         pl.col("candidates").mean().round(2).alias("mean_candidates"),
                                         pl.col("gold_is_generate_response").mean().round(3)
                                         .alias("share_generate_response"))
                .with_columns((pl.col("examples") / pl.col("examples").sum()).round(3).alias("share_of_examples"))
                .sort("split"))
    kinds = _pivot(ex, "kind", ("zero", "one", "weak_only", "weak_strong"))
    domains = (tf.group_by("domain").agg(pl.len().alias("tools"),
                                         (pl.col("side") == "seen").sum().alias("seen_tools"),
                                         (pl.col("side") == "unseen").sum().alias("unseen_tools"),
                                         pl.col("family_id").n_unique().alias("families"))
               .sort(["tools", "domain"], descending=[True, False]))
    styles = _pivot(ex, "style", ("imperative", "question", "contextual", "casual"))
    return {"by_split": by_split.to_dicts(), "kinds": kinds.to_dicts(), "domains": domains.to_dicts(),
            "styles": styles.to_dicts()}


def plot_domains(domains: list[dict[str, Any]], path: str | Path) -> Path:
    """A PNG bar chart of tools per domain, seen vs unseen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tooldojo.runs import atomic_path

    names = [d["domain"] for d in domains]
    seen = [d["seen_tools"] for d in domains]
    unseen = [d["unseen_tools"] for d in domains]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(names) + 2), 3.6), dpi=110)
    ax.bar(names, seen, label="seen tools", color="#4C72B0")
    ax.bar(names, unseen, bottom=seen, label="unseen tools", color="#DD8452")
    ax.set_ylabel("tools")
    ax.set_title("Tools per domain")
    ax.legend(frameon=False)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)


def _md_table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of records, the first record's keys as columns."""
    if not rows:
        return "(empty)"
    cols = list(rows[0])
    return md_table(cols, [[r.get(c, "") for c in cols] for r in rows], fmt=str)


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def render_card(info: CardInfo, stats: dict[str, Any], sizes: dict[str, dict[str, dict[str, int]]],
                data_files: dict[str, dict[str, str]]) -> str:
    """The card text. ``sizes``: ``{config: {split: {"num_examples", "num_bytes"}}}``; ``data_files``:
    ``{config: {split: path or glob}}`` (local layout, or the Hub's after ``push_to_hub``)."""
    from huggingface_hub import DatasetCard, DatasetCardData

    total = sum(s["num_examples"] for c in sizes.values() for s in c.values())
    configs = [{"config_name": c, "data_files": [{"split": s, "path": p} for s, p in files.items()],
                **({"default": True} if c == "select" else {})} for c, files in data_files.items()]
    dataset_info = [{"config_name": c, "splits": [{"name": s, "num_bytes": v["num_bytes"],
                                                   "num_examples": v["num_examples"]} for s, v in splits.items()],
                     "dataset_size": sum(v["num_bytes"] for v in splits.values())} for c, splits in sizes.items()]
    data = DatasetCardData(
        license=info.license, language=["en"], pretty_name=info.pretty_name,
        task_categories=["text-generation"], size_categories=[_size_category(total)],
        tags=["tool-use", "function-calling", "synthetic", "gentool", "tooldojo"],
        configs=configs, dataset_info=dataset_info,
    )
    dd = info.dedup.get("settings", {})
    ds = info.dedup.get("stats", {})
    mh, sem = dd.get("minhash", {}), dd.get("semantic", {})
    removed = ds.get("removed", {})
    removed_rows = [{"filter": f, **{k: c.get(k, 0) for k in ("families", "tools", "queries", "queries_with_family")}}
                    for f, c in removed.items()]
    audit = info.audit
    audit_rows = [{"seen": p["seen"], "unseen": p["unseen"], "compared": what,
                   "max_jaccard": r.get("max_jaccard", "-"), "max_cosine": r.get("max_cosine", "-"),
                   "result": "pass" if r["passed"] else "FAIL"}
                  for p in audit.get("pairs", []) for what, r in p["checks"].items()]
    sp = info.split
    validation = ("\n  `validation`: the families held out of training for choosing settings "
                  f"({sp.get('families', {}).get('validation', '?')} families; not a test set)."
                  if "validation" in sizes.get("eval", {}) else "")
    size_rows = [{"config": c, "split": s, "examples": v["num_examples"]} for c, splits in sizes.items()
                 for s, v in splits.items()]
    body = f"""
# {info.pretty_name}

Tool-use examples for teaching small language models to *generalize*: to call tools they never saw in
training, to answer directly (`generate_response`) when no offered tool fits (Zero-to-One), and to prefer
an upgraded tool over a weaker one (Weak-to-Strong), following GenTool. Made with
[tooldojo](https://github.com/tooldojo/tooldojo).

## Configs

- `rank` (`train`): stage 1 of GenTool's fine-tune. The completion ranks the tools that serve the query,
  best first, then `generate_response`.
- `select` (`train`, default): stage 2. The completion is the chosen tool's call (or `generate_response`).
- `eval`: one split per generalization scenario: `seen_tool_unseen_query`, `unseen_tool_seen_query`,
  `unseen_tool_unseen_query`, `weak_to_strong`.{validation}

{_md_table(size_rows)}

Every row holds the query, the candidate tools (`tools`: a JSON string of OpenAI function-calling tool
entries, in display order, `generate_response` last), the gold tool, arguments (JSON string) and ranking,
the example `kind` (`zero`, `one`, `weak_only`, `weak_strong`), and chat-format `prompt` (and `completion`
in the training configs), TRL's conversational prompt-completion format.

```python
from datasets import load_dataset
train = load_dataset("<repo>", "select", split="train")
scenarios = load_dataset("<repo>", "eval")
```

## How it was made

- **Teacher**: {", ".join(f"`{t}`" for t in info.teacher_models) or "not recorded"}; templates:
  {", ".join(f"`{t}`" for t in info.template_sets) or "not recorded"}; sources: {", ".join(info.sources) or "-"}.
- **Deduplication**: MinHash-LSH ({"on" if mh.get("enabled", True) else "off"}; {mh.get("shingle", "word")}
  {mh.get("ngram", "?")}-grams, {mh.get("num_perm", "?")} permutations, duplicate at Jaccard >= {mh.get("threshold", "?")},
  close at >= {mh.get("link_threshold", "?")}) and embeddings ({"on" if sem.get("enabled", True) else "off"};
  `{sem.get("model") or "all-MiniLM-L6-v2"}`, duplicate at cosine >= {sem.get("threshold", "?")}, close at >=
  {sem.get("link_threshold", "?")}), over tools (name, description and parameter schema) and queries. A tool
  family whose tool duplicates another family's is removed with its queries; close families are clustered.
  Input: {ds.get("input", {}).get("tools", "?")} tools, {ds.get("input", {}).get("queries", "?")} queries; kept:
  {ds.get("kept", {}).get("tools", "?")} tools, {ds.get("kept", {}).get("queries", "?")} queries.

{_md_table(removed_rows) if removed_rows else "No rows were removed."}

- **Split**: by tool-family cluster (a family, its upgraded variant and every family the filters linked to
  it stay on one side). {sp.get("families", {}).get("unseen", "?")} of {sum(v for k, v in sp.get("families", {}).items() if k in ("seen", "unseen", "validation"))}
  families are unseen (target ratio {sp.get("settings", {}).get("unseen_family_ratio", "?")}); {sp.get("settings", {}).get("unseen_query_ratio", "?")}
  of the seen families' queries are held out as unseen queries; held-out styles: {sp.get("held_out_styles", sp.get("settings", {}).get("unseen_styles", []))}.
  Share of queries per split: {", ".join(f"{k} {v:.0%}" for k, v in sp.get("query_shares", {}).items()) or "-"}.
  Distractors come from other families on the same side. Seed {info.seed}.
- **Leakage audit** ({", ".join(audit.get("methods", [])) or "not run"}; fails above Jaccard
  {audit.get("thresholds", {}).get("max_jaccard", "?")} or cosine {audit.get("thresholds", {}).get("max_cosine", "?")}):
  **{"passed" if audit.get("passed") else "FAILED" if audit else "not run"}**.

{_md_table(audit_rows) if audit_rows else ""}

## Statistics

Examples per split:

{_md_table(stats["by_split"])}

Examples per kind:

{_md_table(stats["kinds"])}

Examples per query style:

{_md_table(stats["styles"])}

Tools per domain:

{_md_table(stats["domains"])}

![Tools per domain, seen and unseen]({PLOT})

## Limits

One query, one tool call; no multi-step plans. Queries and tools are synthetic: check them before relying
on this data for anything beyond research on tool-use generalization.
"""
    card = DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}")
    return str(card)
