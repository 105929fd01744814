"""The evaluation report: markdown tables per scenario and kind, plots, definitions; HTML on request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tooldojo.eval.plots import ordered_kinds
from tooldojo.reporting import md_table

SELECT_TABLE = [("n", "n"), ("tool_accuracy", "tool acc"), ("strong_preference", "strong pref"),
                ("arg_key_precision", "key P"), ("arg_key_recall", "key R"), ("arg_value_accuracy", "value acc"),
                ("arg_exact", "args exact"), ("call_exact", "call exact"), ("answer_rate", "answer rate"),
                ("malformed_rate", "malformed"),
                ("well_formed_rate", "well-formed")]
RANK_TABLE = [("n", "n"), ("exact", "exact"), ("top1", "top-1"), ("pairwise", "pairwise"),
              ("malformed_rate", "malformed"), ("well_formed_rate", "well-formed")]

DEFINITIONS = """\
**Definitions.** *tool acc*: the first call names the gold tool (`generate_response` counts as a tool).
*strong pref*: on examples offering both the weak and the strong tool, the share that called the strong one.
*key P / key R / value acc / args exact*: over calls of the right (real) tool, precision and recall of the
argument keys, the share of gold keys with an equal value (strings compared trimmed and case-folded, numbers
as numbers), and exactly the gold arguments. *call exact*: right tool and exact arguments, over all examples.
*answer rate*: where `generate_response` was rightly chosen, the share whose `response` is non-empty (the
selection itself counts in *tool acc*, as GenTool scores it).
*malformed*: no readable call (counted wrong). *well-formed*: the strict `<think>` + answer format.
*Zero-to-One pairs*: queries evaluated both without (`zero`) and with (`one`) their tool; a pair is right when
both examples are. Ranking (stage-1 task): *exact*: the ranking up to `generate_response` equals the gold
ranking; *top-1*: the first item is the gold best tool; *pairwise*: share of the gold ranking's ordered pairs
in the same order (items missing count wrong; queries whose gold ranking has a single item are left out).
"""


def _metric_rows(groups: list[tuple[list[str], dict[str, Any]]], cols: list[tuple[str, str]]) -> list[list[Any]]:
    return [[*labels, *(m.get(k) for k, _ in cols)] for labels, m in groups]


def select_section(m: dict[str, Any]) -> list[str]:
    scenarios = list(m["by_scenario"])
    out = ["## Tool selection and calls (select task)", ""]
    rows = [([s], m["by_scenario"][s]) for s in scenarios] + [(["**all**"], m["overall"])]
    cols = [*SELECT_TABLE, ("zero_to_one", "Zero-to-One"), ("zero_to_one_pairs", "pairs")]
    out += [md_table(["scenario", *(h for _, h in cols)], _metric_rows(rows, cols)), ""]
    out += ["### By scenario and kind", ""]
    rows = []
    for s in scenarios:
        per_kind = m["by_scenario_kind"].get(s, {})
        rows += [([s, k], per_kind[k]) for k in ordered_kinds(per_kind)]
    rows += [(["**all**", k], m["by_kind"][k]) for k in ordered_kinds(m["by_kind"])]
    out += [md_table(["scenario", "kind", *(h for _, h in SELECT_TABLE)], _metric_rows(rows, SELECT_TABLE)), ""]
    return out


def rank_section(m: dict[str, Any]) -> list[str]:
    out = ["## Ranking (stage-1 task)", ""]
    rows = [([s], m["by_scenario"][s]) for s in m["by_scenario"]] + [(["**all**"], m["overall"])]
    out += [md_table(["scenario", *(h for _, h in RANK_TABLE)], _metric_rows(rows, RANK_TABLE)), ""]
    rows = [([k], m["by_kind"][k]) for k in ordered_kinds(m["by_kind"])]
    out += [md_table(["kind", *(h for _, h in RANK_TABLE)], _metric_rows(rows, RANK_TABLE)), ""]
    return out


def failures_section(records: list[dict[str, Any]], n: int = 5) -> list[str]:
    """A few wrong select-task examples, to see what goes wrong (all are in examples.jsonl)."""
    bad = [r for r in records if r["task"] == "select" and not r["verdict"].get("tool_correct")][:n]
    if not bad:
        return []
    out = [f"## Some wrong answers (first {len(bad)}; every example is in `examples.jsonl`)", ""]
    for r in bad:
        raw = (r.get("error") or r["raw_output"] or "").strip().replace("```", "'''")
        raw = raw if len(raw) <= 400 else raw[:400] + " …"
        out += [f"- `{r['scenario']}` / `{r['kind']}`: {r['query']!r} — gold `{r['gold']['tool']}`, "
                f"got `{r['verdict'].get('predicted_tool')}`", "", "  ```text", *("  " + ln for ln in raw.splitlines()),
                "  ```", ""]
    return out


def render_markdown(metrics: dict[str, Any], records: list[dict[str, Any]], plots: dict[str, str]) -> str:
    """The report as markdown; ``plots`` maps a plot name to its path relative to the report."""
    info = metrics["info"]
    lines = [f"# Evaluation `{info['name']}`", "",
             f"Model `{info['model']}` · backend {info['backend']} · dataset `{info['dataset']}` · seed {info['seed']}"
             + (f" · at most {info['limit']} examples per scenario" if info.get("limit") else ""), "",
             f"{info['n_generated']} outputs generated in {info['generation_seconds']:.1f} s "
             f"({info['examples_per_second']:.2f} examples/s; model load {info['load_seconds']:.1f} s)"
             + (f"; {info['n_resumed']} taken from an interrupted earlier run" if info.get("n_resumed") else "")
             + (f"; {info['n_errors']} requests failed (see `error` in examples.jsonl)" if info.get("n_errors") else "")
             + ".", ""]
    if "select" in metrics:
        lines += select_section(metrics["select"])
    if "accuracy_by_scenario" in plots:
        lines += [f"![Tool-selection accuracy by scenario and kind]({plots['accuracy_by_scenario']})", ""]
    if "rank" in metrics:
        lines += rank_section(metrics["rank"])
    if "ranking_by_scenario" in plots:
        lines += [f"![Ranking quality by scenario]({plots['ranking_by_scenario']})", ""]
    if "rl_rewards" in plots or "sft_loss" in plots:
        lines += ["## Training curves (from this run's `train/` logs)", ""]
        if "sft_loss" in plots:
            lines += [f"![SFT loss]({plots['sft_loss']})", ""]
        if "rl_rewards" in plots:
            lines += [f"![RL rewards and sigma]({plots['rl_rewards']})", ""]
    lines += [DEFINITIONS, *failures_section(records)]
    return "\n".join(lines).rstrip() + "\n"


def markdown_to_html(markdown: str, title: str) -> str:
    """A standalone HTML page from a markdown report (tables and images kept)."""
    import html

    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}"
             "table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .6em;"
             "text-align:right}th:first-child,td:first-child{text-align:left}img{max-width:100%}"
             "pre{background:#f5f5f5;padding:.6em;overflow-x:auto}")
    return (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n{body}</body></html>\n")


def write_reports(out_dir: Path, markdown: str, *, html: bool, title: str) -> dict[str, str]:
    """Write ``report.md`` (and ``report.html``); returns output name -> relative path."""
    from tooldojo.runs import write_text

    write_text(out_dir / "report.md", markdown)
    out = {"report": "report.md"}
    if html:
        write_text(out_dir / "report.html", markdown_to_html(markdown, title))
        out["report_html"] = "report.html"
    return out
