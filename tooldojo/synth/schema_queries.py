"""Schema-driven queries: a request and its gold calls written from a tool's schema alone.

The offline teacher uses them for families it has neither a catalog entry nor imported queries for (e.g. a
plain JSON file of tool schemas). Argument values are sampled from the schema: enum values, numbers within
``minimum``/``maximum`` (or a range guessed from the name), string formats (``date``, ``email``, ...),
values given in the description (``e.g. 'Berlin, DE'``), and otherwise strings looked up by parameter name
among the seed catalog's slot values and gold-call arguments (``city``, ``date``, ``query``, ...). The text
is the description's action phrase ("Calculate the area of a triangle") plus the arguments, phrased in the
plan's style. A ``strong`` query uses exactly the capability the weak variant lacks (:mod:`.weakening`).
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from datetime import date, timedelta
from functools import cache
from typing import Any

from tooldojo.synth.catalog import _REF, load_catalog
from tooldojo.synth.weakening import Gap, fit_to_weak, is_default, uses_gap, weak_call

_EXAMPLE = re.compile(r"(?:e\.g\.|for example|such as)[,:]?\s*(.+?)(?:\)|\.(?:\s|$)|$)", re.I)
_VERB_ENDINGS = (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("sses", "ss"), ("xes", "x"), ("zes", "z"))
_PREFIX = re.compile(r"^(?:this|the|a|an)\s+(?:tool|function|api|endpoint|method|service)\s+"
                     r"(?:that\s+|which\s+|will\s+|can\s+|is used to\s+|is able to\s+|to\s+|allows you to\s+)?", re.I)
_CUT = re.compile(r"\s(?:given|based on|using|according to|with the|for the given|by providing|provided)\s", re.I)
_DANGLING = {"a", "an", "the", "in", "of", "for", "to", "at", "on", "with", "and", "or", "from", "by", "specific"}
_CONTEXT = ("I'm putting together some numbers for a project.", "A colleague asked me about this earlier.",
            "I'm planning ahead for next week.", "I need this for a report I'm writing.")


def _words(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace(".", " ").strip().lower()


@cache
def value_index(folder: str | None = None) -> dict[str, tuple[str, ...]]:
    """String values by (lower-case) name from the seed catalog: slot values under the slot's name and gold
    call arguments under the parameter's name (a single-slot template contributes every value of the slot)."""
    out: dict[str, set[str]] = defaultdict(set)
    for dom in load_catalog(folder).values():
        for fam in dom.families:
            for slot, values in fam.slots.items():
                out[slot.lower()].update(v for v in values if isinstance(v, str))
            for pat in fam.queries:
                for args in pat.calls.values():
                    for key, tmpl in args.items():
                        if not isinstance(tmpl, str):
                            continue
                        ref = _REF.fullmatch(tmpl)
                        if ref is None:
                            if not _REF.search(tmpl):
                                out[key.lower()].add(tmpl)
                            continue
                        for v in fam.slots.get(ref.group(1), []):
                            v = v.get(ref.group(2)) if ref.group(2) and isinstance(v, dict) else v
                            if isinstance(v, str):
                                out[key.lower()].add(v)
    return {k: tuple(sorted(v)) for k, v in out.items() if v}


def _lookup(name: str, index: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    key = name.lower()
    if key in index:
        return index[key]
    tokens = [t for t in _words(name).split() if len(t) > 1]
    for tok in reversed(tokens):
        if tok in index:
            return index[tok]
        if tok.endswith("s") and tok[:-1] in index:
            return index[tok[:-1]]
    return ()


def example_values(description: str) -> list[str]:
    """Values a description gives as examples: ``e.g. 'Berlin, DE'`` -> ``["Berlin, DE"]``, ``(e.g. basic,
    pantone)`` -> ``["basic", "pantone"]``."""
    m = _EXAMPLE.search(description or "")
    if not m:
        return []
    text = m.group(1).strip()
    quoted = re.findall(r"'([^']+)'|\"([^\"]+)\"", text)
    parts = [a or b for a, b in quoted] if quoted else re.split(r",\s*|\s+or\s+|;\s*", text)
    return [p.strip() for p in parts if 0 < len(p.strip()) <= 60]


def _number_range(name: str, schema: dict[str, Any], integer: bool) -> tuple[float, float]:
    words = set(_words(name).split())
    lo, hi = (1, 100)
    if words & {"year", "years"} and "years" not in words:
        lo, hi = 2015, 2025
    elif words & {"age"}:
        lo, hi = 18, 80
    elif words & {"percent", "percentage", "rate", "probability"}:
        lo, hi = (1, 20) if integer else (0.05, 0.95)
    elif words & {"n", "k", "count", "limit", "num", "number", "size", "days", "top", "max", "results", "times"}:
        lo, hi = 2, 20
    step = 1 if integer else 0.01
    low = schema["exclusiveMinimum"] + step if "exclusiveMinimum" in schema else schema.get("minimum")
    high = schema["exclusiveMaximum"] - step if "exclusiveMaximum" in schema else schema.get("maximum")
    if low is not None:
        lo, hi = low, max(hi, low + 10)
    if high is not None:
        hi, lo = high, min(lo, high)
    return lo, hi


def _string(name: str, schema: dict[str, Any], rng: random.Random, index: dict[str, tuple[str, ...]]) -> str:
    fmt = schema.get("format", "")
    words = set(_words(name).split())
    day = date(2025, 1, 1) + timedelta(days=rng.randrange(365))
    if fmt == "date" or (not fmt and words & {"date", "day"} and not words & {"format"}):
        return day.isoformat()
    if fmt == "date-time":
        return f"{day.isoformat()}T{rng.randrange(7, 21):02d}:{rng.choice((0, 15, 30, 45)):02d}:00"
    if fmt == "time" or (not fmt and words == {"time"}):
        return f"{rng.randrange(7, 21):02d}:{rng.choice((0, 15, 30, 45)):02d}"
    if fmt == "email" or "email" in words:
        return f"{rng.choice(('alex', 'sam', 'maria', 'kenji'))}@example.com"
    if fmt in ("uri", "url") or words & {"url", "uri", "link"}:
        return f"https://example.com/{rng.choice(('docs', 'report', 'data', 'page'))}"
    given = example_values(str(schema.get("description", "")))
    pool = _lookup(name, index)
    if given and (not pool or rng.random() < 0.5):
        return rng.choice(given)
    if pool:
        return rng.choice(pool)
    return f"{_words(name)} {rng.choice('ABCDEFGH')}"


def sample_value(name: str, schema: dict[str, Any], rng: random.Random, index: dict[str, tuple[str, ...]],
                 *, many: bool = False, depth: int = 0) -> Any:
    """A value of parameter ``name`` valid for ``schema``; an array gets 2-3 items when ``many``, else 1-2."""
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return rng.choice(schema["enum"])
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, dict) and o.get("type") != "null"]
        if options:
            return sample_value(name, options[0], rng, index, many=many, depth=depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "integer":
        lo, hi = _number_range(name, schema, True)
        return rng.randint(int(lo), max(int(lo), int(hi)))
    if kind == "number":
        lo, hi = _number_range(name, schema, False)
        return round(rng.uniform(lo, hi), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {"type": "string"}
        lo = max(int(schema.get("minItems", 2 if many else 1)), 2 if many else 1)
        hi = max(lo, min(int(schema.get("maxItems", 3)), 3))
        n = rng.randint(lo, hi)
        singular = name[:-1] if name.endswith("s") else name
        if isinstance(items.get("enum"), list) and len(items["enum"]) >= n:
            return rng.sample(items["enum"], n)
        out: list[Any] = []
        for _ in range(n * 4):
            v = sample_value(singular, items, rng, index, depth=depth + 1)
            if v not in out:
                out.append(v)
            if len(out) == n:
                break
        return out
    if kind == "object" and depth < 3:
        props = schema.get("properties") or {}
        req = [p for p in schema.get("required") or [] if p in props] or list(props)[:2]
        return {p: sample_value(p, props[p], rng, index, depth=depth + 1) for p in req}
    if kind == "object":
        return {}
    return _string(name, schema, rng, index)


def action_phrase(fn: dict[str, Any]) -> str:
    """The description's first clause as an imperative ("Calculates the area ..." -> "Calculate the area")."""
    text = str(fn.get("description", "")).strip()
    text = re.split(r"(?<!e\.g)(?<!i\.e)\.(?:\s|$)|\n", text, maxsplit=1)[0]
    stripped = _PREFIX.sub("", text)
    prefixed, text = stripped != text, stripped
    text = re.split(r"[,;:(]", text, maxsplit=1)[0]
    words = _CUT.split(text, maxsplit=1)[0].split()
    while len(words) > 2 and words[-1].lower() in _DANGLING:
        words.pop()
    if len(words) < 2 or words[0].lower() in ("a", "an", "the", "this", "returns:", "tool", "for", "used"):
        return f"run {_words(fn.get('name', 'the tool'))}"
    first = words[0]
    if (first[0].isupper() or prefixed) and first.lower().endswith("s") and not first.lower().endswith("ss"):
        low = first.lower()
        for end, repl in _VERB_ENDINGS:
            if low.endswith(end):
                low = low[: -len(end)] + repl
                break
        else:
            low = low[:-1]
        first = low
    return " ".join([first.lower(), *words[1:]])


def _say(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        parts = [_say(v) for v in value]
        return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)
    if isinstance(value, dict):
        return ", ".join(f"{_words(k)} {_say(v)}" for k, v in value.items())
    return str(value)


def query_text(fn: dict[str, Any], arguments: dict[str, Any], style: str, rng: random.Random) -> str:
    """A request for ``fn`` with ``arguments``, phrased in ``style`` (unknown styles read as imperatives)."""
    action = action_phrase(fn)
    parts = []
    for k, v in arguments.items():
        if isinstance(v, bool):
            parts.append(f"{'with' if v else 'without'} {_words(k)}")
        else:
            parts.append(f"{_words(k)} {_say(v)}")
    args = ("for " + ", ".join(parts)) if parts else ""
    body = f"{action} {args}".strip()
    if style == "question":
        return f"{rng.choice(('Could you', 'Can you', 'Would you'))} {body}?"
    if style == "contextual":
        return f"{rng.choice(_CONTEXT)} Please {body}."
    if style == "casual":
        return f"{body.lower()} {rng.choice(('pls', 'thx', 'asap', ''))}".strip()
    return body[:1].upper() + body[1:] + "."


def beyond_weak(gap: Gap, schema: dict[str, Any], rng: random.Random) -> Any:
    """A value of a numeric parameter that the strong tool takes and the weak one (``integer``/``range`` gap)
    does not: a fractional value, or one past the weak tool's bound."""
    if gap.kind == "integer":
        lo, hi = _number_range(gap.param, schema, False)
        return round(rng.uniform(lo, max(lo, hi - 1)), 0) + 0.5
    lo, hi = gap.allowed
    if hi is not None:
        top = schema.get("maximum", hi + 10)
        value = rng.uniform(hi, top) if schema.get("type") == "number" else rng.randint(int(hi) + 1, int(top))
        return value if value > hi else top
    return -rng.randint(1, 20) if lo == 0 else lo - rng.randint(1, 20)


def schema_query(weak: dict[str, Any], strong: dict[str, Any], gaps: list[Gap], needs: str, style: str,
                 rng: random.Random, index: dict[str, tuple[str, ...]]) -> dict[str, Any] | None:
    """One ``queries`` item (text, style, needs, calls) from the schemas: a ``strong`` query uses the first
    gap it can, a ``weak`` query none. ``None`` when the schemas allow no such query."""
    params = strong.get("parameters") or {}
    props = params.get("properties") or {}
    required = [p for p in params.get("required") or [] if p in props]
    gap_params = {g.param for g in gaps}
    for _ in range(6):
        args = {p: sample_value(p, props[p], rng, index) for p in required}
        optional = [p for p in props if p not in required and p not in gap_params]
        if optional and rng.random() < 0.5:
            p = rng.choice(optional)
            args[p] = sample_value(p, props[p], rng, index)
        if needs == "strong":
            if not gaps:
                return None
            gap = gaps[rng.randrange(len(gaps))]
            schema = props[gap.param]
            if gap.kind == "enum":
                lost = [v for v in schema.get("enum", []) if v not in gap.allowed]
                args[gap.param] = rng.choice(lost)
            elif gap.kind == "missing" and schema.get("type") == "boolean":
                args[gap.param] = not is_default(schema, True)
            elif gap.kind in ("integer", "range"):
                args[gap.param] = beyond_weak(gap, schema, rng)
            else:
                args[gap.param] = sample_value(gap.param, schema, rng, index, many=gap.kind == "scalar")
            if not uses_gap(gap, args, strong):
                continue
        else:
            for gap in gaps:  # a required gap parameter: a value the weak tool also takes
                if gap.param in args and uses_gap(gap, args, strong):
                    args[gap.param] = fit_to_weak(gap, args[gap.param], rng)
            if any(uses_gap(g, args, strong) for g in gaps):
                continue
        wcall = weak_call(weak, strong, args, gaps)
        if needs == "weak" and wcall is None:
            continue
        text = query_text(strong if needs == "strong" else weak, args, style, rng)
        return {"text": text, "style": style, "needs": needs, "calls": {"weak": wcall, "strong": args}}
    return None
