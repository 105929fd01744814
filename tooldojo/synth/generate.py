"""Generation: tools -> upgraded variants (or weakened imports) -> queries -> argument repair -> verification.

Each step (its template, schema and reply checks: :mod:`tooldojo.synth.steps`) renders its template, asks
the teacher, validates the reply and keeps or drops every item with a counted reason. Requests run concurrently (the teacher bounds them); results are gathered in request order
and processed in that order, so the output is deterministic and independent of the order replies arrive in.
A family's query plan depends only on its own identity and the seed, so failures elsewhere never change it.

With a real teacher, replies are also checked for *meaning* (sentence embeddings, :func:`off_target`): an
upgrade closer to another family's weak tool than to its own, or a family's queries closer (on average) to
another family's tools, answer another request (a mixed-up reply): they are removed from the cache so that a
rerun asks again; single queries far closer to another family are dropped. Drops whose reason is in :data:`RETRYABLE`
make the run ``partial``: the same command asks for exactly those items again.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tooldojo.records import Provenance, QueryRecord, ToolRecord, stable_id
from tooldojo.synth.answers import templated_answer
from tooldojo.synth.catalog import DomainFile, Family, fill, sample_slots
from tooldojo.synth.config import SynthConfig
from tooldojo.synth.request import TeacherRequest
from tooldojo.synth.schemas import call_errors, function_problems
from tooldojo.synth.steps import STEPS
from tooldojo.synth.steps import arguments as arguments_step
from tooldojo.synth.steps import queries as queries_step
from tooldojo.synth.steps import tools as tools_step
from tooldojo.synth.steps import upgrade as upgrade_step
from tooldojo.synth.steps import verify as verify_step
from tooldojo.synth.steps import weaken as weaken_step
from tooldojo.synth.steps.base import Rejected
from tooldojo.synth.steps.queries import QueryDraft
from tooldojo.synth.teacher import Teacher, TeacherReply
from tooldojo.synth.templates import TemplateSet
from tooldojo.synth.weakening import coverage_problems
from tooldojo.toolschema import normalize_function

STYLE_GUIDE = {
    "imperative": "an instruction, e.g. 'Find ...', 'Book ...'",
    "question": "a direct question, e.g. 'What ...?', 'Which ...?'",
    "contextual": "one or two sentences about the user's situation, then the request",
    "casual": "informal and short, as typed in a chat (lowercase is fine)",
}


@dataclass
class Drops:
    """Items left out, with the step and reason (counted in the manifest, listed in ``drops.jsonl``)."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, step: str, reason: str, detail: str = "", **ref: Any) -> None:
        self.rows.append({"step": step, "reason": reason, "detail": detail[:300], **ref})

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, Counter] = defaultdict(Counter)
        for row in self.rows:
            out[row["step"]][row["reason"]] += 1
        return {step: dict(sorted(c.items())) for step, c in sorted(out.items())}


@dataclass
class FamilyDraft:
    domain: str
    weak: dict[str, Any]
    strong: dict[str, Any]
    gap: str
    weak_prov: Provenance
    strong_prov: Provenance
    seed_queries: list[dict[str, Any]] = field(default_factory=list)
    """Imported queries for the strong tool (``{"text", "arguments"}``), shown to the ``queries`` step."""

    @property
    def family_id(self) -> str:
        return stable_id(self.domain, self.weak["name"], self.strong["name"], prefix="fam-")

    def tool_records(self) -> list[ToolRecord]:
        fid = self.family_id
        return [
            ToolRecord(tool_id=stable_id(fid, "weak", self.weak["name"], prefix="tool-"), family_id=fid,
                       domain=self.domain, role="weak", function=self.weak, provenance=self.weak_prov),
            ToolRecord(tool_id=stable_id(fid, "strong", self.strong["name"], prefix="tool-"), family_id=fid,
                       domain=self.domain, role="strong", function=self.strong, capability_gap=self.gap,
                       provenance=self.strong_prov),
        ]


@dataclass
class SynthResult:
    tools: list[ToolRecord]
    queries: list[QueryRecord]
    drops: Drops
    families_per_domain: dict[str, int]

    @property
    def failed(self) -> dict[str, int]:
        """Drops a rerun retries (:data:`RETRYABLE`), by ``step/reason``."""
        return dict(Counter(f"{r['step']}/{r['reason']}" for r in self.drops.rows if r["reason"] in RETRYABLE))


RETRYABLE = frozenset({"request_failed", "invalid_reply", "repair_request_failed", "repair_invalid_reply",
                       "verify_request_failed", "verify_invalid_reply", "wrong_family_reply",
                       "unrelated_upgrade"})
"""Drop reasons a rerun can fix (nothing was cached for them): they make the run ``partial``."""


def _reason(reply: TeacherReply) -> str:
    error = reply.error or ""
    return "request_failed" if error.startswith("request failed") else \
        "unanswerable" if error.startswith("unanswerable") else "invalid_reply"


Mapper = Callable[[str, Sequence[Any]], Awaitable[list[Any]]]
"""``await mapper(kind, items)``: :meth:`Synthesizer.step` applied to every item, results in item order
(the default runs them concurrently in this process; :mod:`tooldojo.synth.shards` shards them on a distributed executor)."""


class Synthesizer:
    """Runs the generation steps for one config against one teacher."""

    def __init__(self, config: SynthConfig, teacher: Teacher, templates: TemplateSet,
                 catalog: dict[str, DomainFile], *, seed: int = 0,
                 seed_queries: dict[str, list[dict[str, Any]]] | None = None):
        self.config = config
        self.seed_queries = seed_queries or {}
        """Strong tool name -> imported queries with their gold arguments (the ``seed_tools`` path)."""
        self.teacher = teacher
        self.templates = templates
        self.catalog = catalog
        self.seed = seed
        self.drops = Drops()
        self.source = "catalog" if teacher.model_label == "offline" else "synth"
        self._all_families = [(d, f) for d, dom in catalog.items() for f in dom.families]
        self._encoder: asyncio.Future | None = None

    # ---- helpers ---------------------------------------------------------------------------------
    def _request(self, step: str, **variables: Any) -> TeacherRequest:
        return STEPS[step].request(self.templates, **variables)

    def _prov(self, step: str, reply: TeacherReply | None, source: str | None = None, **extra: Any) -> Provenance:
        return Provenance(
            template=step if reply else "", template_version=self.templates.versions.get(step, "") if reply else "",
            template_set=self.templates.name, template_set_hash=self.templates.hash,
            teacher_model=self.teacher.model_label, sampling=self.teacher.sampling, seed=self.seed,
            prompt_hash=reply.prompt_hash if reply else "", source=source or self.source, **extra)

    def _rng(self, *parts: Any) -> random.Random:
        return random.Random(stable_id(self.seed, *parts))

    def _domain_families(self, domain: str, k: int, *parts: Any) -> list[tuple[str, Family]]:
        dom = self.catalog.get(domain)
        pool = [(domain, f) for f in dom.families] if dom else list(self._all_families)
        if len(pool) < k:  # top up from other domains
            pool += [p for p in self._all_families if p[0] != domain]
        pool = sorted(pool, key=lambda p: p[1].id)
        return self._rng("examples", domain, *parts).sample(pool, min(k, len(pool)))

    def _pair_examples(self, domain: str) -> list[dict[str, Any]]:
        return [{"weak": f.weak, "strong": f.strong, "gap": f.gap}
                for _, f in self._domain_families(domain, 2, "pairs")]

    def _query_examples(self, domain: str, exclude: set[str]) -> tuple[dict[str, str], list[dict[str, Any]]]:
        cands = [p for p in self._domain_families(domain, 3, "queries") if p[1].weak["name"] not in exclude]
        if not cands:
            return {"weak": "", "strong": "", "gap": ""}, []
        _, fam = cands[0]
        rng = self._rng("query-examples", fam.id)
        chosen, styles = [], set()
        for need in ("weak", "strong", "strong"):
            pats = [p for p in fam.queries if p.needs == need and p.style not in styles] or \
                   [p for p in fam.queries if p.needs == need]
            pat = rng.choice(pats)
            styles.add(pat.style)
            slots = sample_slots(fam, pat, rng)
            chosen.append({"text": fill(pat.text, slots), "style": pat.style, "needs": pat.needs,
                           "calls": {r: fill(pat.calls[r], slots) if r in pat.calls else None
                                     for r in ("weak", "strong")}})
        return {"weak": fam.weak["name"], "strong": fam.strong["name"], "gap": fam.gap}, chosen

    def plan(self, family_id: str) -> list[dict[str, str]]:
        """Style and need of each query of a family: styles round-robin (rotated by a hash of the family id
        and the seed), needs alternating so that every style gets both. Depends on nothing else, so a family
        asks the same request whichever other families failed."""
        styles = list(self.config.styles)
        n = len(styles)
        h = int(stable_id(self.seed, "plan", family_id), 16)
        rot_i, parity = h % n, (h // n) % 2
        rot = styles[rot_i:] + styles[:rot_i]
        out = []
        for i in range(self.config.queries_per_family):
            flip = (i % 2) if n % 2 else (i + i // n) % 2
            out.append({"style": rot[i % n], "needs": ("weak", "strong")[(flip + parity) % 2]})
        return out

    def _style_guide(self) -> dict[str, str]:
        return {s: STYLE_GUIDE.get(s, f"phrase the request in a {s} way") for s in self.config.styles}

    # ---- step 1: base tools ------------------------------------------------------------------------
    async def _domain_tools(self, domain: str) -> list[tuple[str, dict[str, Any], Provenance]]:
        produced: list[tuple[str, dict[str, Any], Provenance]] = []
        avoid: list[str] = []
        dom = self.catalog.get(domain)
        examples = [f.weak for _, f in self._domain_families(domain, 3, "tools")]
        remaining = self.config.families_per_domain
        while remaining > 0:
            count = min(self.config.tools_per_request, remaining)
            remaining -= count
            reply = await self.teacher.ask(self._request(
                "tools", domain=domain, domain_description=dom.description if dom else "", count=count,
                examples=examples, avoid=list(avoid)))
            if reply.data is None:  # later requests list this one's tools: they wait for a rerun
                self.drops.add("tools", _reason(reply), reply.error or "", domain=domain)
                break
            kept, rejected = tools_step.read(reply.data, count, avoid)
            for r in rejected:
                self.drops.add("tools", r.reason, r.detail, domain=domain)
            produced += [(domain, fn, self._prov("tools", reply)) for fn in kept]
        return produced

    def _upgrade_request(self, domain: str, weak: dict[str, Any]) -> TeacherRequest:
        return self._request("upgrade", domain=domain, tool=weak, examples=self._pair_examples(domain))

    def _weaken_request(self, strong: dict[str, Any], domains: list[str]) -> TeacherRequest:
        return self._request("weaken", tool=strong, domains=domains, examples=self._pair_examples(""))

    async def _upgrade(self, domain: str, weak: dict[str, Any], weak_prov: Provenance) -> FamilyDraft | None:
        reply = await self.teacher.ask(self._upgrade_request(domain, weak))
        if reply.data is None:
            self.drops.add("upgrade", _reason(reply), reply.error or "", domain=domain, tool=weak["name"])
            return None
        read = upgrade_step.read(reply.data, weak)
        if isinstance(read, Rejected):
            self.drops.add("upgrade", read.reason, read.detail, domain=domain, tool=weak["name"])
            return None
        strong, gap = read
        return FamilyDraft(domain, weak, strong, gap, weak_prov, self._prov("upgrade", reply))

    async def _weaken(self, strong: dict[str, Any], domains: list[str]) -> FamilyDraft | None:
        reply = await self.teacher.ask(self._weaken_request(strong, domains))
        if reply.data is None:
            self.drops.add("weaken", _reason(reply), reply.error or "", tool=strong["name"])
            return None
        read = weaken_step.read(reply.data, strong)
        if isinstance(read, Rejected):
            self.drops.add("weaken", read.reason, read.detail, tool=strong["name"])
            return None
        weak, gap, domain = read
        return FamilyDraft(domain, weak, strong, gap, self._prov("weaken", reply), self._prov("", None, source="import"))

    def _unique_names(self, families: list[FamilyDraft | None], step: str) -> list[FamilyDraft]:
        seen: set[str] = set()
        out = []
        for fam in families:
            if fam is None:
                continue
            clash = [n for n in (fam.weak["name"], fam.strong["name"]) if n in seen]
            if clash:
                self.drops.add(step, "duplicate_name", clash[0], domain=fam.domain, tool=fam.weak["name"])
                continue
            seen |= {fam.weak["name"], fam.strong["name"]}
            out.append(fam)
        return out

    async def step(self, kind: str, item: Any) -> Any:
        """One unit of work: ``tools`` (a domain), ``upgrade`` ((domain, weak tool, provenance)), ``weaken``
        ((strong tool, domains)) or ``queries`` (a family draft)."""
        if kind == "tools":
            return await self._domain_tools(item)
        if kind == "upgrade":
            return await self._upgrade(*item)
        if kind == "weaken":
            return await self._weaken(*item)
        if kind == "queries":
            return await self._queries(item)
        raise ValueError(f"unknown synth step {kind!r}")

    async def map_local(self, kind: str, items: Sequence[Any]) -> list[Any]:
        """The default mapper: every item's :meth:`step` concurrently in this process (the teacher bounds it)."""
        return list(await asyncio.gather(*(self.step(kind, it) for it in items)))

    async def families(self, strong_tools: list[dict[str, Any]] | None = None,
                       mapper: Mapper | None = None) -> list[FamilyDraft]:
        """Step 1+2: base tools and their upgrades, or weak variants of imported strong tools."""
        mapper = mapper or self.map_local
        if strong_tools is not None:
            valid = []
            for raw in strong_tools:
                fn = normalize_function(raw)
                problems = function_problems(fn)
                if problems:
                    self.drops.add("weaken", "invalid_seed_tool", f"{fn['name']}: {problems[0]}", tool=fn["name"])
                else:
                    valid.append(fn)
            domains = sorted(self.catalog)
            drafts = await mapper("weaken", [(fn, domains) for fn in valid])
            for draft in drafts:
                if draft is not None:
                    draft.seed_queries = list(self.seed_queries.get(draft.strong["name"], []))
            return self._unique_names(list(drafts), "weaken")
        domains = self.config.domains or list(self.catalog)
        per_domain = await mapper("tools", domains)
        base, seen = [], set()
        for items in per_domain:
            for domain, fn, prov in items:
                if fn["name"] in seen:
                    self.drops.add("tools", "duplicate_name", fn["name"], domain=domain)
                    continue
                seen.add(fn["name"])
                base.append((domain, fn, prov))
        drafts = await mapper("upgrade", base)
        return self._unique_names(list(drafts), "upgrade")

    # ---- steps 3-5: queries, argument repair, verification -------------------------------------------
    async def _repair(self, fam: FamilyDraft, q: QueryDraft) -> None:
        for role, fn in (("weak", fam.weak), ("strong", fam.strong)):
            args = q.calls.get(role)
            if args is None:
                continue
            errors = call_errors(fn, args)
            if not errors:
                continue
            q.repaired = True
            reply = await self.teacher.ask(self._request("arguments", query=q.text, tool=fn, arguments=args,
                                                         errors=errors))
            if reply.data is None:
                q.dropped, q.detail = "repair_" + _reason(reply), f"{role}: {reply.error}"
                return
            fixed = arguments_step.read(reply.data, fn)
            if isinstance(fixed, Rejected):
                q.dropped, q.detail = fixed.reason, fixed.detail
                return
            q.calls[role] = fixed

    def queries_request(self, fam: FamilyDraft) -> TeacherRequest:
        """The ``queries`` request of a family (a pure function of the family, the config and the seed)."""
        plan = self.plan(fam.family_id)
        example_family, examples = self._query_examples(fam.domain, {fam.weak["name"]})
        return self._request(
            "queries", domain=fam.domain, weak=fam.weak, strong=fam.strong, gap=fam.gap, plan=plan,
            styles=self._style_guide(), examples=examples, example_family=example_family,
            seed_queries=fam.seed_queries[: len(plan)])

    async def _queries(self, fam: FamilyDraft) -> list[QueryRecord] | None:
        """The family's queries (``None``: the family itself was rejected, its drop recorded)."""
        fid = fam.family_id
        request = self.queries_request(fam)
        plan = request.variables["plan"]
        reply = await self.teacher.ask(request)
        if reply.data is None:
            self.drops.add("queries", _reason(reply), reply.error or "", family=fid)
            return []
        drafts, rejected = queries_step.read(reply.data, plan, self.config.styles,
                                             with_origin=self.source == "catalog")
        for r in rejected:
            self.drops.add("queries", r.reason, r.detail, family=fid)
        await asyncio.gather(*(self._repair(fam, q) for q in drafts))
        for q in drafts:
            if q.dropped:
                self.drops.add("arguments", q.dropped, q.detail, family=fid, query=q.text[:80])
        kept = [q for q in drafts if not q.dropped]
        verify_hash = ""
        # a teacher's upgrade must cover the weak tool's schema, or its verify step must vouch for it
        coverage = coverage_problems(fam.weak, fam.strong) if self.source != "catalog" else []
        family_step = "weaken" if fam.strong_prov.source == "import" else "upgrade"
        if coverage and not self.config.verify:
            self.drops.add(family_step, "not_a_superset", "; ".join(coverage), family=fid, tool=fam.weak["name"])
            return None
        if self.config.verify and kept:
            shown = [{"index": i, "text": q.text, "style": q.style, "needs": q.needs, "calls": q.calls}
                     for i, q in enumerate(kept)]
            vreply = await self.teacher.ask(self._request("verify", domain=fam.domain, weak=fam.weak,
                                                          strong=fam.strong, gap=fam.gap, queries=shown,
                                                          coverage=coverage))
            if vreply.data is None:
                for q in kept:
                    self.drops.add("verify", "verify_" + _reason(vreply), vreply.error or "", family=fid,
                                   query=q.text[:80])
                return []
            verify_hash = vreply.prompt_hash
            upgrade = vreply.data.get("upgrade") or {}
            if coverage and upgrade.get("stronger") is not True:
                self.drops.add(family_step, "not_stronger", f"{'; '.join(coverage)}; teacher: "
                               f"{upgrade.get('reason') or 'no upgrade verdict'}", family=fid, tool=fam.weak["name"])
                return None
            passed = []
            for q, verdict in zip(kept, verify_step.read(vreply.data, len(kept)), strict=True):
                if verdict is None:
                    passed.append(q)
                else:
                    self.drops.add("verify", verdict.reason, verdict.detail, family=fid, query=q.text[:80])
            kept = passed
        records = []
        for q in kept:
            calls = {fam.strong["name"]: q.calls["strong"]}
            if q.calls["weak"] is not None:
                calls = {fam.weak["name"]: q.calls["weak"], **calls}
            extra: dict[str, Any] = {"repaired": q.repaired, "verified": bool(self.config.verify)}
            if verify_hash:
                extra["verify_prompt_hash"] = verify_hash
            if q.origin:
                extra["query_source"] = q.origin
            extra["answer_source"] = "teacher" if q.answer else "template"
            answer = q.answer or templated_answer(fam.weak if q.needs == "weak" else fam.strong)
            records.append(QueryRecord(query_id=stable_id(fid, q.text, prefix="q-"), family_id=fid, text=q.text,
                                       style=q.style, needs=q.needs, calls=calls, answer=answer,
                                       provenance=self._prov("queries", reply, **extra)))
        return records

    async def run(self, strong_tools: list[dict[str, Any]] | None = None, mapper: Mapper | None = None
                  ) -> SynthResult:
        """Every step; returns the records in a deterministic order. ``mapper`` runs each step's items
        (default: :meth:`map_local`)."""
        if self._semantic:  # load the embedding model while the first steps wait for the teacher
            from tooldojo.similarity.semantic import load_encoder

            self._encoder = asyncio.ensure_future(asyncio.to_thread(load_encoder))
        families = await self.families(strong_tools, mapper)
        families = await self._check_upgrades(families)
        per_family = await (mapper or self.map_local)("queries", families)
        per_family = await self._check_queries(families, per_family)
        tools, queries = [], []
        produced: Counter = Counter()
        for fam, qs in zip(families, per_family, strict=True):
            if qs is None:  # a mixed-up reply, counted and forgotten
                continue
            if not qs:
                self.drops.add("queries", "no_queries", "no query of the family survived", family=fam.family_id,
                               domain=fam.domain, tool=fam.weak["name"])
                continue
            tools += fam.tool_records()
            queries += qs
            produced[fam.domain] += 1
        return SynthResult(tools, queries, self.drops, dict(produced))

    # ---- meaning checks (real teachers) ----------------------------------------------------------------
    @property
    def _semantic(self) -> bool:
        return self.config.semantic_margin is not None and self.source != "catalog"

    async def _encode(self, texts: list[str]) -> Any:
        """Embeddings off the event loop (requests in flight keep being served)."""
        from tooldojo.similarity.semantic import encode

        if self._encoder is not None:
            await self._encoder
        return await asyncio.to_thread(encode, texts)

    async def _check_upgrades(self, families: list[FamilyDraft]) -> list[FamilyDraft]:
        """Drop families whose teacher-written tool (the upgrade, or the weak variant of an imported tool) is
        closer to another family's tool than to its own by more than ``semantic_margin`` (``unrelated_upgrade``:
        a reply to another request; forgotten in the cache and retried by a rerun)."""
        if not self._semantic or len(families) < 2:
            return families
        # the tool the teacher wrote (the strong one, or the weak one of an imported tool) against the other
        pairs = [(f.weak, f.strong) if f.strong_prov.source == "import" else (f.strong, f.weak) for f in families]
        emb = await self._encode([tool_text(w) for w, _ in pairs] + [tool_text(a) for _, a in pairs])
        n = len(families)
        off = off_target(emb[:n], emb[n:], list(range(n)), list(range(n)), self.config.semantic_margin)
        keep = []
        for i, fam in enumerate(families):
            if i in off:
                j, own, other = off[i]
                imported = fam.strong_prov.source == "import"
                await self.teacher.forget(self._weaken_request(fam.strong, sorted(self.catalog)) if imported
                                          else self._upgrade_request(fam.domain, fam.weak))
                written, anchor = pairs[i][0]["name"], pairs[j][1]["name"]
                self.drops.add("weaken" if imported else "upgrade", "unrelated_upgrade",
                               f"{written} is closer to {anchor} ({families[j].domain}, {other:.2f}) than to "
                               f"{pairs[i][1]['name']} ({own:.2f})", domain=fam.domain, tool=fam.weak["name"])
            else:
                keep.append(fam)
        return keep

    async def _check_queries(self, families: list[FamilyDraft], per_family: list[list[QueryRecord] | None]
                             ) -> list[list[QueryRecord] | None]:
        """A family whose queries, on average (the normalised mean embedding), are closer to another family's
        tools than to its own by more than ``semantic_margin`` got another request's reply: it is forgotten in
        the cache and counted as ``wrong_family_reply`` (retried by a rerun). Single queries closer to another
        family by more than twice the margin are dropped as ``off_topic``."""
        import numpy as np

        if not self._semantic or len(families) < 2:
            return list(per_family)
        rejected = {i for i, qs in enumerate(per_family) if qs is None}
        per_family = [qs or [] for qs in per_family]
        margin = self.config.semantic_margin
        texts = [q.text for qs in per_family for q in qs]
        owner = [i for i, qs in enumerate(per_family) for _ in qs]
        emb = await self._encode(texts + [tool_text(f.weak) + " " + tool_text(f.strong) for f in families])
        queries, targets = emb[: len(texts)], emb[len(texts):]
        groups = list(range(len(families)))
        with_queries = [i for i, qs in enumerate(per_family) if qs]
        centroids = np.stack([queries[np.array(owner) == i].mean(axis=0) for i in with_queries]) \
            if with_queries else np.zeros((0, targets.shape[1]), dtype=np.float32)
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
        wrong = {with_queries[n]: hit for n, hit in off_target(centroids, targets, with_queries, groups, margin).items()}
        off = off_target(queries, targets, owner, groups, 2 * margin)
        out: list[list[QueryRecord] | None] = []
        k = 0
        for i, (fam, qs) in enumerate(zip(families, per_family, strict=True)):
            if i in rejected:
                out.append(None)
            elif i in wrong:
                await self.teacher.forget(self.queries_request(fam))
                j, own, other = wrong[i]
                self.drops.add("queries", "wrong_family_reply", f"the queries are about {families[j].strong['name']} "
                               f"({other:.2f}) rather than {fam.strong['name']} ({own:.2f})", family=fam.family_id,
                               domain=fam.domain)
                out.append(None)
            else:
                for n in range(k, k + len(qs)):
                    if n in off:
                        j, own, other = off[n]
                        self.drops.add("queries", "off_topic", f"closer to {families[j].strong['name']} ({other:.2f}) "
                                       f"than to its own tools ({own:.2f})", family=fam.family_id, query=texts[n][:80])
                out.append([q for n, q in enumerate(qs) if k + n not in off])
            k += len(qs)
        return out


def tool_text(fn: dict[str, Any]) -> str:
    """What a tool is about, for embeddings: its name (words) and description."""
    return f"{fn['name'].replace('_', ' ')}: {fn.get('description', '')}"


def off_target(emb: Any, targets: Any, own: list[int], groups: list[Any], margin: float
               ) -> dict[int, tuple[int, float, float]]:
    """Rows of ``emb`` (L2-normalised embeddings) closer, by more than ``margin`` cosine, to a target of another
    group than to their own target ``targets[own[i]]``: ``{row: (closest other target, own sim, other sim)}``."""
    import numpy as np

    if not len(emb):
        return {}
    sim = emb @ targets.T
    labels = {g: n for n, g in enumerate(dict.fromkeys(groups))}
    group = np.array([labels[g] for g in groups])
    out = {}
    for i, o in enumerate(own):
        row = np.where(group == group[o], -np.inf, sim[i])
        j = int(np.argmax(row))
        if row[j] - sim[i, o] > margin:
            out[i] = (j, float(sim[i, o]), float(row[j]))
    return out
