"""Weak/strong tool differences: the rule-based ``weaken`` and the capability diff between two schemas.

:func:`weaken_by_rule` makes a weaker variant of a strong tool by the first of these rules that applies:

1. drop the most capable optional parameter (structured > enumerated > other, then the longest description);
2. turn an array parameter into a scalar (its item type: one item at a time);
3. narrow an enumerated parameter to the first half of its values;
4. make a ``number`` parameter coarser: whole numbers only (``integer``; not for a share or probability,
   bounded by 1);
5. narrow a numeric parameter's range: the lower half of a bounded range, or no negative values for an
   unbounded one whose name says it can be negative (temperature, latitude, offset, change, ...);
6. return fewer result fields: same parameters, the basic version returns only the main result (a gap no
   schema shows, so only queries written for it need the strong tool).

Rules 4-6 are what tools with only required parameters (most imported ones) can lose. A tool without
``parameters`` at all cannot be weakened by rule.

:func:`capability_diff` finds what a weak schema lacks compared with the strong one (missing parameters,
narrowed enums, arrays made scalar) whoever wrote the weak variant; :func:`coverage_problems` the reverse,
where the strong schema does not cover the weak one (a parameter, its type or enum values); :func:`uses_gap` and :func:`weak_call`
say whether a strong call relies on it and what the best weak call for it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from tooldojo.synth.schemas import call_errors


class NotWeakenable(ValueError):
    """The tool has no parameters schema to take anything away from."""


def _capability(name: str, schema: dict[str, Any]) -> tuple[int, int, str]:
    kind = schema.get("type")
    rank = 2 if kind in ("object", "array") else 1 if "enum" in schema else 0
    return rank, len(str(schema.get("description", ""))), name


def _desc(schema: dict[str, Any]) -> str:
    return str(schema.get("description", "")).strip().rstrip(".")


def weaken_by_rule(fn: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A weaker variant of ``fn`` (named ``<name>_basic``) and the capability gap, by the rules above.
    Raises :class:`NotWeakenable` when no rule applies."""
    params = fn.get("parameters") or {}
    props: dict[str, Any] = params.get("properties") or {}
    required = list(params.get("required") or [])
    name = f"{fn['name'][:58]}_basic"
    base_desc = str(fn.get("description", "")).rstrip()
    optional = [p for p in props if p not in required]
    if optional:
        drop = max(optional, key=lambda p: _capability(p, props[p]))
        weak_params = {**params, "properties": {k: v for k, v in props.items() if k != drop}, "required": required}
        desc = _desc(props[drop])
        gap = f"accepts '{drop}' ({desc})" if desc else f"accepts the '{drop}' parameter"
        return ({"name": name, "description": f"{base_desc} Basic version: it has no '{drop}' parameter.",
                 "parameters": weak_params}, gap)
    arrays = [p for p in props if isinstance(props[p], dict) and props[p].get("type") == "array"
              and isinstance(props[p].get("items"), dict) and props[p]["items"].get("type")
              not in (None, "array")]
    if arrays:
        p = max(arrays, key=lambda k: _capability(k, props[k]))
        item = dict(props[p]["items"])
        item["description"] = f"One item at a time: {_desc(props[p]) or p}."
        weak_params = {**params, "properties": {**props, p: item}}
        gap = f"takes several '{p}' values at once (a list), not one at a time"
        return ({"name": name, "description": f"{base_desc} Basic version: '{p}' takes one value per call.",
                 "parameters": weak_params}, gap)
    enums = [p for p in props if isinstance(props[p], dict) and isinstance(props[p].get("enum"), list)
             and len(props[p]["enum"]) >= 2]
    if enums:
        p = max(enums, key=lambda k: (len(props[k]["enum"]), k))
        values = props[p]["enum"]
        keep, lost = values[: (len(values) + 1) // 2], values[(len(values) + 1) // 2:]
        weak_params = {**params, "properties": {**props, p: {**props[p], "enum": keep}}}
        gap = f"accepts '{p}' values {', '.join(map(str, lost))} (the basic version only {', '.join(map(str, keep))})"
        return ({"name": name, "description": f"{base_desc} Basic version: fewer '{p}' options.",
                 "parameters": weak_params}, gap)
    numeric = [p for p in props if isinstance(props[p], dict) and props[p].get("type") in ("number", "integer")]
    fractional = [p for p in numeric if props[p]["type"] == "number" and not props[p].get("maximum", 2) <= 1]
    if fractional:
        p = max(fractional, key=lambda k: _capability(k, props[k]))
        weak_params = {**params, "properties": {**props, p: {**props[p], "type": "integer"}}}
        return ({"name": name, "description": f"{base_desc} Basic version: '{p}' takes whole numbers only.",
                 "parameters": weak_params}, f"accepts fractional '{p}' values, not only whole numbers")
    ranged = [p for p in numeric if _narrower_range(p, props[p]) is not None]
    if ranged:
        p = max(ranged, key=lambda k: _capability(k, props[k]))
        lo, hi = _narrower_range(p, props[p])  # type: ignore[misc]
        narrowed = {**props[p], "minimum": lo, **({"maximum": hi} if hi is not None else {})}
        weak_params = {**params, "properties": {**props, p: narrowed}}
        span = f"from {lo} to {hi}" if hi is not None else f"of at least {lo}"
        gap = (f"accepts '{p}' values up to {props[p]['maximum']}" if hi is not None
               else f"accepts negative '{p}' values")
        return ({"name": name, "description": f"{base_desc} Basic version: '{p}' only takes values {span}.",
                 "parameters": weak_params}, f"{gap} (the basic version only values {span})")
    if not isinstance(fn.get("parameters"), dict):
        raise NotWeakenable(f"tool {fn.get('name')!r} has no parameters schema to weaken")
    return ({"name": name, "description": f"{base_desc} Basic version: it returns only the main result, "
             "without the details or extra fields of the full version.", "parameters": params},
            "returns the full result with every detail and field, not only the main result")


_SIGNED = re.compile(r"temp|lat|lon|offset|change|delta|balance|elevation|altitude|difference|shift|angle|"
                     r"gain|profit|return|growth|velocity|acceleration|charge|potential|position|x\b|y\b|z\b", re.I)
"""Names of numeric parameters whose negative values are meaningful (an unbounded range narrows to >= 0)."""


def _narrower_range(name: str, schema: dict[str, Any]) -> tuple[Any, Any] | None:
    """(minimum, maximum or ``None``) of a narrower range for numeric parameter ``name``: the lower half of a
    bounded range, else no negative values when the name says they mean something; ``None`` otherwise."""
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if isinstance(lo, int | float) and isinstance(hi, int | float) and hi - lo >= 2:
        mid = lo + (hi - lo) / 2
        return lo, int(mid) if schema.get("type") == "integer" else mid
    if lo is None and hi is None and _SIGNED.search(name):
        return 0, None
    return None


@dataclass(frozen=True)
class Gap:
    """One capability the weak tool lacks: parameter ``param`` is ``missing``, ``scalar`` (array in the
    strong tool, one value in the weak one), ``enum`` (``allowed`` = the weak tool's values), ``integer``
    (fractional in the strong tool, whole numbers in the weak one) or ``range`` (``allowed`` = the weak tool's
    (minimum, maximum), ``None`` for no bound)."""

    kind: Literal["missing", "scalar", "enum", "integer", "range"]
    param: str
    allowed: tuple[Any, ...] = ()


def _props(fn: dict[str, Any]) -> dict[str, Any]:
    return (fn.get("parameters") or {}).get("properties") or {}


def _params_against(fn: dict[str, Any], other: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """Each parameter of ``fn`` with an object schema (in order): its name, its schema and ``other``'s schema
    of the same name (``None`` where ``other`` has none)."""
    theirs = _props(other)
    for p, schema in _props(fn).items():
        if isinstance(schema, dict):
            yield p, schema, theirs.get(p)


def capability_diff(weak: dict[str, Any], strong: dict[str, Any]) -> list[Gap]:
    """What ``weak`` lacks compared with ``strong``, parameter by parameter (strong order)."""
    out = []
    for p, s, w in _params_against(strong, weak):
        if w is None:
            out.append(Gap("missing", p))
        elif s.get("type") == "array" and isinstance(w, dict) and w.get("type") != "array":
            out.append(Gap("scalar", p))
        elif isinstance(s.get("enum"), list) and isinstance(w, dict) and isinstance(w.get("enum"), list) \
                and set(map(str, s["enum"])) - set(map(str, w["enum"])):
            out.append(Gap("enum", p, tuple(w["enum"])))
        elif isinstance(w, dict) and s.get("type") == "number" and w.get("type") == "integer":
            out.append(Gap("integer", p))
        elif isinstance(w, dict) and s.get("type") in ("number", "integer") and _range_narrowed(s, w):
            out.append(Gap("range", p, (w.get("minimum"), w.get("maximum"))))
    return out


def _range_narrowed(strong: dict[str, Any], weak: dict[str, Any]) -> bool:
    def wider(a: Any, b: Any, sign: int) -> bool:  # bound a (strong) admits values bound b (weak) does not
        return b is not None and (a is None or sign * (a - b) > 0)
    return wider(strong.get("minimum"), weak.get("minimum"), -1) or wider(strong.get("maximum"), weak.get("maximum"), 1)


def in_weak_range(gap: Gap, value: Any) -> bool:
    """Whether a numeric ``value`` is one the weak tool takes under an ``integer`` or ``range`` gap."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return True
    if gap.kind == "integer":
        return float(value).is_integer()
    lo, hi = gap.allowed
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def fit_to_weak(gap: Gap, value: Any, rng: Any) -> Any:
    """The value closest to ``value`` that the weak tool takes for ``gap``'s parameter."""
    if gap.kind == "scalar":
        return value[:1] if isinstance(value, list) else value
    if gap.kind == "enum":
        return rng.choice(gap.allowed) if gap.allowed else value
    if gap.kind == "integer" and isinstance(value, float):
        return round(value)
    if gap.kind == "range" and isinstance(value, int | float):
        lo, hi = gap.allowed
        return min(max(value, lo if lo is not None else value), hi if hi is not None else value)
    return value


def _types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema declares."""
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if kind else set()


def _accepts(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema accepts (a ``number`` takes integers too)."""
    kinds = _types(schema)
    return kinds | ({"integer"} if "number" in kinds else set())


def coverage_problems(weak: dict[str, Any], strong: dict[str, Any]) -> list[str]:
    """Where ``strong``'s parameters do not cover ``weak``'s: a weak parameter missing from the strong tool,
    a type it does not accept (an array of the weak type counts), enum values it lacks. Empty = it covers."""
    out = []
    for p, w, s in _params_against(weak, strong):
        if not isinstance(s, dict):
            out.append(f"the weak tool's parameter '{p}' is missing")
            continue
        wt, st = _types(w), _accepts(s)
        item = s.get("items") if isinstance(s.get("items"), dict) else {}
        if wt and st and not wt <= st and not (_types(s) == {"array"} and wt <= _accepts(item)):
            out.append(f"'{p}' is {'/'.join(sorted(_types(s)))} in the strong tool, {'/'.join(sorted(wt))} in the weak one")
        w_enum, s_enum = w.get("enum"), s.get("enum") or item.get("enum")
        if isinstance(s_enum, list):
            lost = [v for v in (w_enum if isinstance(w_enum, list) else []) if v not in s_enum]
            if not isinstance(w_enum, list):
                out.append(f"'{p}' is limited to {s_enum[:6]} in the strong tool, free in the weak one")
            elif lost:
                out.append(f"'{p}' lacks the weak tool's values {lost[:6]}")
    return out


_DEFAULT = re.compile(r"\bdefaults?(?:\s+(?:is|to|value is|of))?\s*[:=]?\s*(?:'([^']*)'|\"([^\"]*)\"|([^\s.,;)]+))", re.I)


def is_default(schema: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` is the parameter's default: ``schema["default"]``, or one the description states
    ("Default is 0", "defaults to 'units'")."""
    if "default" in schema:
        return schema["default"] == value
    m = _DEFAULT.search(str(schema.get("description", "")))
    if m is None or isinstance(value, dict | list):
        return False
    stated = next(g for g in m.groups() if g is not None).strip().lower()
    said = str(value).lower() if not isinstance(value, bool) else ("true" if value else "false")
    if stated == said:
        return True
    try:
        return float(stated) == float(said)
    except ValueError:
        return False


def uses_gap(gap: Gap, arguments: dict[str, Any], strong: dict[str, Any]) -> bool:
    """Whether a strong call with ``arguments`` relies on the capability ``gap`` names (a parameter at its
    default does not, see :func:`is_default`)."""
    if gap.param not in arguments:
        return False
    value = arguments[gap.param]
    if gap.kind == "missing":
        return not is_default(_props(strong).get(gap.param) or {}, value)
    if gap.kind == "scalar":
        return isinstance(value, list) and len(value) > 1
    if gap.kind in ("integer", "range"):
        return not in_weak_range(gap, value)
    return value not in gap.allowed


def weak_call(weak: dict[str, Any], strong: dict[str, Any], arguments: dict[str, Any],
              gaps: list[Gap]) -> dict[str, Any] | None:
    """The best call of ``weak`` for a request whose strong call is ``arguments``: missing parameters left
    out, one item of an array made scalar, a value outside a narrowed enum left out. ``None`` when the result
    is not a valid call (a required capability cannot be expressed)."""
    out = dict(arguments)
    for gap in gaps:
        if gap.param not in out:
            continue
        if gap.kind == "missing":
            del out[gap.param]
        elif gap.kind == "scalar":
            value = out[gap.param]
            if isinstance(value, list):
                if not value:
                    del out[gap.param]
                else:
                    out[gap.param] = value[0]
        elif uses_gap(gap, out, strong):  # an enum value or number the weak tool does not take
            del out[gap.param]
    return None if call_errors(weak, out) else out
