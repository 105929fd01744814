"""``run_synth``: the synth stage's library entry point (outputs in ``<run_dir>/synth/``)."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooldojo.errors import ConfigError, DataError, TeacherError, ToolDojoError
from tooldojo.executors import ExecutionConfig, make_executor
from tooldojo.records import stable_id
from tooldojo.runs import (
    MANIFEST,
    Manifest,
    StageRun,
    file_fingerprint,
    read_manifest,
    write_json,
    write_jsonl,
    write_text,
)
from tooldojo.synth.aio import run_coroutine
from tooldojo.synth.cache import ResponseCache
from tooldojo.synth.catalog import catalog_dir, catalog_stats, load_catalog
from tooldojo.synth.config import OFFLINE, SynthConfig
from tooldojo.synth.generate import Synthesizer, SynthResult
from tooldojo.synth.schemas import function_problems
from tooldojo.synth.seeds import read_seed_set
from tooldojo.synth.teacher import Teacher, check_reachable, resolve_api_key
from tooldojo.synth.teachers import make_teacher
from tooldojo.synth.templates import TemplateSet
from tooldojo.toolschema import normalize_function

STAGE = "synth"
OFFLINE_TEMPLATES_NOTE = ("the offline teacher answers from the seed catalog whatever the prompts say: the template "
                          "set changes provenance and hashes, not the data; use a teacher model to ablate templates")


class _RichProgress:
    """One progress bar per step with rate and ETA; totals start at the expected request counts."""

    def __init__(self, expected: dict[str, int]):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task):
                return Text(f"{task.speed:.1f} req/s" if task.speed else "– req/s", style="cyan")

        self.bar = Progress(TextColumn("[bold]{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
                            RateColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                            console=Console(stderr=True))
        self.expected = expected
        self.tasks: dict[str, Any] = {}
        self.started_n: Counter = Counter()

    def started(self, step: str) -> None:
        self.started_n[step] += 1
        if step not in self.tasks:
            self.tasks[step] = self.bar.add_task(step, total=max(self.expected.get(step, 0), 1))
        task = self.tasks[step]
        total = self.bar.tasks[self.bar.task_ids.index(task)].total or 0
        if self.started_n[step] > total:
            self.bar.update(task, total=self.started_n[step])

    def finished(self, step: str) -> None:
        self.bar.advance(self.tasks[step])

    def __enter__(self):
        self.bar.start()
        return self

    def __exit__(self, *exc):
        for step, task in self.tasks.items():  # steps end below their expected totals when items drop
            self.bar.update(task, total=self.started_n[step])
        self.bar.stop()


def expected_requests(config: SynthConfig, n_domains: int, n_seeds: int | None) -> dict[str, int]:
    fams = n_seeds if n_seeds is not None else n_domains * config.families_per_domain
    out = {"queries": fams, "verify": fams if config.verify else 0}
    if n_seeds is None:
        out["tools"] = n_domains * -(-config.families_per_domain // config.tools_per_request)
        out["upgrade"] = fams
    else:
        out["weaken"] = n_seeds
    return out


def _check_domains(config: SynthConfig, catalog: dict[str, Any]) -> list[str]:
    if not catalog:
        raise DataError("the seed catalog has no domain files", field=str(config.catalog or catalog_dir()),
                        fix="point synth.catalog at a folder of catalog *.json files")
    domains = config.domains or list(catalog)
    unknown = [d for d in domains if d not in catalog]
    if unknown and config.teacher.model == OFFLINE:
        raise ConfigError(f"domain(s) {unknown} are not in the seed catalog, so the offline teacher cannot "
                          "write them", field="synth.domains",
                          fix=f"choose from {', '.join(sorted(catalog))}, or use a real teacher")
    return domains


async def _synthesize(synth: Synthesizer, teacher: Teacher, strong_tools) -> SynthResult:
    async with teacher:
        return await synth.run(strong_tools)


def run_synth(config: SynthConfig, run_dir: Path, *, seed: int = 0, force: bool = False,
              strong_tools: list[dict[str, Any]] | None = None, progress: bool = True,
              seed_queries: dict[str, list[dict[str, Any]]] | None = None,
              execution: ExecutionConfig | None = None) -> Manifest:
    """Synthesize tool families and queries into ``<run_dir>/synth/`` (skipped when up to date).

    ``strong_tools`` (OpenAI function schemas) switches to the import direction: each is a family's strong
    tool and the teacher writes its weak variant (``weaken``); ``synth.seed_tools`` names a file of them
    (at most ``synth.seed_tools_cap``, filtered by ``synth.domains`` when they carry a domain).
    ``seed_queries`` (strong tool name -> ``{"text", "arguments"}``; read with the tools from an imported
    dataset) are shown to the ``queries`` step: the offline teacher answers with them, a real teacher sees
    them as examples. Without either, the teacher writes base tools per domain and upgrades them. Answers are cached in
    ``cache.sqlite``, so an interrupted run resumes without re-sending answered requests. ``execution`` picks
    the executor (local by default; a distributed one runs each step in shards, :mod:`tooldojo.synth.shards`).

    Everything that can be checked is checked before the stage folder is touched (:func:`preflight`). A
    run whose items partly failed ends ``partial`` (outputs written; the same call retries exactly the
    failed items); a run stopped by the teacher (:class:`~tooldojo.synth.teacher.TeacherDown`,
    :class:`~tooldojo.synth.teacher.BudgetReached`) or that produced nothing usable raises, leaving earlier
    outputs untouched.
    """
    stage_dir = Path(run_dir) / STAGE
    plan, st, up_to_date = preflight(config, stage_dir, seed=seed, force=force, strong_tools=strong_tools,
                                     seed_queries=seed_queries)
    if up_to_date:
        return read_manifest(stage_dir)  # type: ignore[return-value]
    templates, catalog_folder = plan.templates, plan.catalog_folder
    strong_tools, seed_queries, domains = plan.strong_tools, plan.seed_queries, plan.domains

    _record_state(st, "running")
    executor = make_executor(execution)
    sharded = executor.distributed  # then the coordinator service owns cache.sqlite (synth/shards.py)
    cache = ResponseCache(stage_dir / "cache.sqlite") if config.teacher.cache and not sharded else None
    bar = _RichProgress(expected_requests(config, len(domains), None if strong_tools is None else len(strong_tools))) \
        if progress else None
    teacher = make_teacher(config.teacher, seed=seed, cache=cache, progress=bar, catalog_folder=catalog_folder)
    synth = Synthesizer(config.model_copy(update={"domains": domains or None}), teacher, templates, plan.catalog,
                        seed=seed, seed_queries=seed_queries)
    try:
        if sharded:
            from tooldojo.synth.shards import run_sharded

            with executor:
                result = run_sharded(executor, synth, teacher, strong_tools, stage_dir=stage_dir, seed=seed,
                                     catalog_folder=catalog_folder, progress=bar)
        elif bar is not None:
            with bar:
                result = run_coroutine(_synthesize(synth, teacher, strong_tools))
        else:
            result = run_coroutine(_synthesize(synth, teacher, strong_tools))
    except (ToolDojoError, KeyboardInterrupt) as err:
        stopped = isinstance(err, TeacherError | KeyboardInterrupt)  # the teacher, the cost cap, Ctrl-C
        _record_state(st, "interrupted" if stopped else "failed", err, teacher)
        raise
    finally:
        if cache is not None:
            cache.close()
    if not result.tools or not result.queries:
        reasons = ", ".join(f"{step}/{r}: {n}" for step, c in result.drops.counts().items() for r, n in c.items())
        err = DataError(f"the run produced nothing usable (0 families; dropped: {reasons or 'nothing'})",
                        field=str(stage_dir), fix="see the drop reasons (the teacher's replies, the seed tools or "
                        "the templates); earlier outputs were left untouched")
        _record_state(st, "failed", err, teacher)
        raise err
    with st:
        _write_outputs(st, result, teacher, templates, config, catalog_folder, plan.seed_stats, executor.name)
    if result.failed:
        st.manifest.status = "partial"
        write_json(stage_dir / MANIFEST, st.manifest.model_dump(mode="json"))
    if progress:
        print_accounting(st.stats["accounting"], st.stats["drops"])
    return st.manifest


@dataclass
class SynthInputs:
    """What :func:`resolve_inputs` read and checked: templates, catalog, domains, seed tools, fingerprints."""

    templates: TemplateSet
    catalog: dict[str, Any]
    catalog_folder: str | None
    domains: list[str]
    strong_tools: list[dict[str, Any]] | None
    seed_queries: dict[str, list[dict[str, Any]]] | None
    seed_stats: dict[str, Any] | None
    fingerprints: dict[str, str]


def resolve_inputs(config: SynthConfig, *, seed: int = 0, strong_tools: list[dict[str, Any]] | None = None,
                   seed_queries: dict[str, list[dict[str, Any]]] | None = None) -> SynthInputs:
    """The run's inputs, checked without writing anything: every template compiled and its variables
    checked, the catalog, the seed tools read and validated, the domains."""
    templates = TemplateSet(config.templates)
    templates.check()
    catalog_folder = str(config.catalog) if config.catalog else None
    if config.catalog and not Path(config.catalog).is_dir():
        raise ConfigError("catalog folder not found", field=f"synth.catalog ({config.catalog})",
                          fix="point it at a folder of catalog *.json files")
    catalog = load_catalog(catalog_folder)
    seed_stats: dict[str, Any] | None = None
    if strong_tools is None and config.seed_tools:
        seed_set = read_seed_set(config.seed_tools, cap=config.seed_tools_cap, domains=config.domains, seed=seed)
        strong_tools, seed_queries, seed_stats = seed_set.tools, seed_set.queries, seed_set.stats
    elif strong_tools is not None:
        seed_stats = {"source": "strong_tools argument", "picked": len(strong_tools),
                      "tools_with_queries": len(seed_queries or {}),
                      "queries": sum(len(v) for v in (seed_queries or {}).values())}
    if strong_tools is not None:
        _check_seed_tools(strong_tools, config.seed_tools or "strong_tools")
    domains = _check_domains(config, catalog) if strong_tools is None else []
    fingerprints = {"templates": templates.hash, "catalog": file_fingerprint(config.catalog or catalog_dir()),
                    "seed": str(seed)}
    if strong_tools is not None:
        fingerprints["seed_tools"] = stable_id(strong_tools)
    if seed_queries:
        fingerprints["seed_queries"] = stable_id(seed_queries)
    return SynthInputs(templates, catalog, catalog_folder, domains, strong_tools, seed_queries, seed_stats,
                       fingerprints)


def preflight(config: SynthConfig, stage_dir: Path, *, seed: int = 0, force: bool = False,
              strong_tools: list[dict[str, Any]] | None = None,
              seed_queries: dict[str, list[dict[str, Any]]] | None = None) -> tuple[SynthInputs, StageRun, bool]:
    """Every check that needs no answer from the teacher, before ``stage_dir`` is touched:
    :func:`resolve_inputs`, the cost cap's prices and the key (the input's own faults first), a finished
    run with another config (refused unless ``force``), and that the teacher's server is reachable.
    Returns the inputs, the stage bookkeeping and whether it is up to date."""
    inputs = resolve_inputs(config, seed=seed, strong_tools=strong_tools, seed_queries=seed_queries)
    st = StageRun(stage_dir, STAGE, config, inputs=inputs.fingerprints)
    if not force and st.up_to_date():
        return inputs, st, True
    if config.teacher.max_cost_usd is not None and config.teacher.price_per_million is None:
        raise ConfigError("a cost cap needs prices", field="synth.teacher.price_per_million",
                          fix="--set 'synth.teacher.price_per_million=[PROMPT_USD, COMPLETION_USD]' (per million "
                              "tokens), or drop --max-cost")
    if config.teacher.model != OFFLINE:
        resolve_api_key(config.teacher)
    _refuse_replacing(st, force)
    if config.teacher.model != OFFLINE:
        run_coroutine(check_reachable(config.teacher.base_url))
    return inputs, st, False


def _check_seed_tools(tools: list[dict[str, Any]], source: str) -> None:
    """At least one seed tool must be a valid function schema; else one line naming the first problem."""
    problems = []
    for i, raw in enumerate(tools):
        fn = normalize_function(raw) if isinstance(raw, dict) else {"name": repr(raw)}
        found = function_problems(fn) if isinstance(raw, dict) else ["not an object"]
        if not found:
            return
        problems.append(f"tool {i + 1} ({fn.get('name') or 'no name'}): {found[0]}")
    raise DataError(f"none of the {len(tools)} seed tools is a valid function schema; first: "
                    f"{problems[0] if problems else 'no tools'}", field=f"synth.seed_tools ({source})",
                    fix="give OpenAI function schemas with a name, a description and JSON Schema parameters")


def _refuse_replacing(st: StageRun, force: bool) -> None:
    """A finished run (``complete`` or ``partial``) made with another config or other inputs is replaced
    only with ``force``."""
    old = read_manifest(st.dir)
    if force or old is None or old.status not in ("complete", "partial"):
        return
    new = st.manifest
    changed = (["config"] if old.config_hash != new.config_hash else []) + \
        sorted(k for k in set(old.inputs) | set(new.inputs) if old.inputs.get(k) != new.inputs.get(k))
    if not changed:  # the same run: a partial one is retried
        return
    c = old.counts
    raise ConfigError(f"{st.dir} holds a {old.status} run ({c.get('families', 0)} families, {c.get('tools', 0)} "
                      f"tools, {c.get('queries', 0)} queries) made with a different {', '.join(changed)}",
                      field="--run-dir", fix="choose another --run-dir, or pass --force to replace it "
                      "(cached answers are reused)")


def _record_state(st: StageRun, status: str, err: BaseException | None = None, teacher: Teacher | None = None
                  ) -> None:
    """Note the run's state (``running``, or why it stopped) in the manifest, unless the folder holds a
    finished run: its outputs are not touched until this run succeeds, and its manifest still describes them."""
    old = read_manifest(st.dir)
    if old is not None and old.status in ("complete", "partial"):
        return
    m = st.manifest
    m.status = status
    if err is not None:
        m.stats["error"] = str(err) or type(err).__name__
    if teacher is not None:
        m.stats["accounting"] = teacher.accounting()
    write_json(st.dir / MANIFEST, m.model_dump(mode="json"))


def _seed_rejections(result: SynthResult) -> dict[str, int]:
    """Seed tools that made no family, by reason (tool and parameter names elided so reasons group)."""
    out: Counter = Counter()
    for row in result.drops.rows:
        if row["step"] != "weaken":
            continue
        detail = row.get("detail", "")
        if row["reason"] in ("invalid_seed_tool", "invalid_tool"):
            detail = detail.split(": ", 1)[-1]
        elif row["reason"] in ("duplicate_name", "same_name"):
            detail = ""
        detail = re.sub(r"'[^']*'", "'…'", detail)
        out[f"{row['reason']}: {detail}" if detail else row["reason"]] += 1
    return dict(out.most_common())


def _write_outputs(st: StageRun, result: SynthResult, teacher: Teacher, templates: TemplateSet,
                   config: SynthConfig, catalog_folder: str | None, seed_stats: dict[str, Any] | None = None,
                   executor: str = "local") -> None:
    offline = teacher.model_label == OFFLINE
    st.record_output("tools", write_jsonl(st.dir / "tools.jsonl", result.tools), "tools.jsonl")
    st.record_output("queries", write_jsonl(st.dir / "queries.jsonl", result.queries), "queries.jsonl")
    st.record_output("drops", write_jsonl(st.dir / "drops.jsonl", result.drops.rows), "drops.jsonl")
    st.counts["families"] = len({t.family_id for t in result.tools})
    st.counts["domains"] = len({t.domain for t in result.tools})
    st.stats.update({
        "teacher": teacher.describe(),
        "templates": {**templates.describe(), **({"note": OFFLINE_TEMPLATES_NOTE} if offline else {})},
        "failed": result.failed,
        "accounting": teacher.accounting(),
        "tokens_estimated": offline,
        "drops": result.drops.counts(),
        "requested": {"domains": config.domains, "families_per_domain": config.families_per_domain,
                      "queries_per_family": config.queries_per_family, "styles": config.styles,
                      "verify": config.verify},
        "families_per_domain": result.families_per_domain,
        "queries_by_style": dict(Counter(q.style for q in result.queries)),
        "queries_by_needs": dict(Counter(q.needs for q in result.queries)),
        "queries_by_source": dict(Counter(getattr(q.provenance, "query_source", None) or q.provenance.source
                                          for q in result.queries)),
        "catalog": {"folder": catalog_folder or "shipped", **catalog_stats(catalog_folder)},
        "cache": "cache.sqlite" if config.teacher.cache else None,
        "executor": executor,
    })
    if seed_stats is not None:
        fams = len({t.family_id for t in result.tools})
        st.stats["seed_tools"] = {**seed_stats, "families": fams, "rejected": _seed_rejections(result)}
    # the report holds run-specific accounting, so it is not a fingerprinted output (reruns that only hit the
    # cache keep the stage's fingerprint, and downstream stages stay up to date)
    st.stats["report"] = "report.md"
    write_text(st.dir / "report.md", render_report(st, result))


def _md_table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return out



ACCOUNTING_COLUMNS = ["step", "asked", "cache_hits", "sent", "attempts", "retries", "failures", "reasks",
                      "repaired", "invalid", "prompt_tokens", "completion_tokens"]


def render_report(st: StageRun, result: SynthResult) -> str:
    """A short human summary: counts, drops, accounting, and a few example records."""
    s = st.stats
    lines = [f"# synth: {st.counts.get('families', 0)} families, {st.counts.get('tools', 0)} tools, "
             f"{st.counts.get('queries', 0)} queries", "",
             f"Teacher `{s['teacher']['model']}` · templates `{s['templates']['name']}` "
             f"(hash `{s['templates']['hash']}`) · catalog {s['catalog']['domains']} domains / "
             f"{s['catalog']['families']} families", "",
             "Families per domain: " + (", ".join(f"{d} {n}" for d, n in s["families_per_domain"].items()) or "none"),
             "", "Queries by style: " + ", ".join(f"{k} {v}" for k, v in sorted(s["queries_by_style"].items())),
             "", "Queries by need: " + ", ".join(f"{k} {v}" for k, v in sorted(s["queries_by_needs"].items())),
             "", "Queries by source: " + ", ".join(f"{k} {v}" for k, v in sorted(s["queries_by_source"].items()))]
    if s["templates"].get("note"):
        lines += ["", f"Note: {s['templates']['note']}."]
    if s.get("failed"):
        lines += ["", f"**Partial**: {sum(s['failed'].values())} items failed ("
                  + ", ".join(f"{k} {v}" for k, v in s["failed"].items())
                  + "); rerunning the same command retries exactly those."]
    seeds = s.get("seed_tools")
    if seeds:
        lines += ["", "## Seed tools", "",
                  f"{seeds.get('picked', 0)} strong tools from `{seeds.get('source')}`"
                  + (f" (of {seeds['imported_tools']} imported; cap {seeds.get('cap')}, domain filter "
                     f"{seeds.get('domain_filter')})" if "imported_tools" in seeds else "")
                  + f" made {seeds['families']} families; {seeds.get('queries', 0)} imported queries for "
                  f"{seeds.get('tools_with_queries', 0)} of the tools.", ""]
        rejected = [{"reason": r, "tools": n} for r, n in seeds["rejected"].items()]
        lines += _md_table(rejected, ["reason", "tools"]) if rejected else ["No seed tool was rejected."]
    lines += ["", "## Teacher accounting", ""]
    cols = ACCOUNTING_COLUMNS + (["cost_usd"] if "cost_usd" in s["accounting"]["total"] else [])
    lines += _md_table([{"step": k, **v} for k, v in s["accounting"].items()], cols)
    if s["tokens_estimated"]:
        lines += ["", "Token counts of the offline teacher are estimates (characters / 4)."]
    lines += ["", "## Dropped", ""]
    drop_rows = [{"step": step, "reason": r, "count": n} for step, c in s["drops"].items() for r, n in c.items()]
    lines += _md_table(drop_rows, ["step", "reason", "count"]) if drop_rows else ["Nothing was dropped."]
    lines += ["", "Details: `drops.jsonl`.", "", "## Examples", ""]
    by_family: dict[str, list] = {}
    for q in result.queries:
        by_family.setdefault(q.family_id, []).append(q)
    tools = {(t.family_id, t.role): t for t in result.tools}
    for fid in list(by_family)[:3]:
        weak, strong = tools[(fid, "weak")], tools[(fid, "strong")]
        lines += [f"### `{weak.name}` → `{strong.name}` ({weak.domain})", "",
                  f"Capability gap: {strong.capability_gap}", ""]
        for q in sorted(by_family[fid], key=lambda q: q.needs)[:2] + sorted(by_family[fid], key=lambda q: q.needs)[-1:]:
            lines.append(f"- *{q.style}, needs {q.needs}*: {q.text}  ")
            lines.append(f"  gold: `{json.dumps(q.calls, ensure_ascii=False)}`")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def print_accounting(accounting: dict[str, Any], drops: dict[str, dict[str, int]]) -> None:
    """Print the accounting table (and drop counts) to stderr."""
    from rich.console import Console
    from rich.table import Table

    cols = ACCOUNTING_COLUMNS + (["cost_usd"] if "cost_usd" in accounting.get("total", {}) else [])
    short = {"cache_hits": "cached", "attempts": "http", "retries": "retry", "failures": "failed",
             "reasks": "reask", "repaired": "fixed", "prompt_tokens": "tok in", "completion_tokens": "tok out",
             "cost_usd": "USD"}
    table = Table(title="teacher accounting", title_justify="left", padding=(0, 1))
    for c in cols:
        table.add_column(short.get(c, c), justify="left" if c == "step" else "right")
    for step, row in accounting.items():
        table.add_row(step, *(str(row.get(c, "")) for c in cols[1:]))
    console = Console(stderr=True)
    if not console.is_terminal:  # logs and pipes: do not squeeze the table into 80 columns
        console = Console(stderr=True, width=160)
    console.print(table)
    dropped = ", ".join(f"{step}/{r}: {n}" for step, c in drops.items() for r, n in c.items())
    console.print(f"dropped: {dropped or 'nothing'}")
