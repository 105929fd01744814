"""Weak/strong tool differences: the rule-based ``weaken`` and the capability diff between two schemas.

:func:`weaken_by_rule` makes a weaker variant of a strong tool by one of three rules, in this order:

1. drop the most capable optional parameter (structured > enumerated > other, then the longest description);
2. turn an array parameter into a scalar (its item type: one item at a time);
3. narrow an enumerated parameter to the first half of its values.

A tool with none of these (only required scalar parameters without an enum) cannot be weakened by rule.

:func:`capability_diff` finds what a weak schema lacks compared with the strong one (missing parameters,
narrowed enums, arrays made scalar) whoever wrote the weak variant; :func:`coverage_problems` the reverse,
where the strong schema does not cover the weak one (a parameter, its type or enum values); :func:`uses_gap` and :func:`weak_call`
say whether a strong call relies on it and what the best weak call for it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from tooldojo.synth.schemas import call_errors


class NotWeakenable(ValueError):
    """The tool has no optional parameter, array parameter or enum to take away."""


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
    raise NotWeakenable(f"tool {fn.get('name')!r} has no optional parameter, array parameter or enum to take away")


@dataclass(frozen=True)
class Gap:
    """One capability the weak tool lacks: parameter ``param`` is ``missing``, ``scalar`` (array in the
    strong tool, one value in the weak one) or ``enum`` (``allowed`` = the weak tool's values)."""

    kind: Literal["missing", "scalar", "enum"]
    param: str
    allowed: tuple[Any, ...] = ()


def _props(fn: dict[str, Any]) -> dict[str, Any]:
    return (fn.get("parameters") or {}).get("properties") or {}


def capability_diff(weak: dict[str, Any], strong: dict[str, Any]) -> list[Gap]:
    """What ``weak`` lacks compared with ``strong``, parameter by parameter (strong order)."""
    wp, sp = _props(weak), _props(strong)
    out = []
    for p, s in sp.items():
        w = wp.get(p)
        if not isinstance(s, dict):
            continue
        if w is None:
            out.append(Gap("missing", p))
        elif s.get("type") == "array" and isinstance(w, dict) and w.get("type") != "array":
            out.append(Gap("scalar", p))
        elif isinstance(s.get("enum"), list) and isinstance(w, dict) and isinstance(w.get("enum"), list) \
                and set(map(str, s["enum"])) - set(map(str, w["enum"])):
            out.append(Gap("enum", p, tuple(w["enum"])))
    return out


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind} if kind else set()
    return kinds | ({"number"} if "integer" in kinds else set())


def coverage_problems(weak: dict[str, Any], strong: dict[str, Any]) -> list[str]:
    """Where ``strong``'s parameters do not cover ``weak``'s: a weak parameter missing from the strong tool,
    a type it does not accept (an array of the weak type counts), enum values it lacks. Empty = it covers."""
    wp, sp = _props(weak), _props(strong)
    out = []
    for p, w in wp.items():
        s = sp.get(p)
        if not isinstance(w, dict):
            continue
        if not isinstance(s, dict):
            out.append(f"the weak tool's parameter '{p}' is missing")
            continue
        wt, st = _types(w), _types(s)
        item = s.get("items") if isinstance(s.get("items"), dict) else {}
        if wt and st and not wt <= st and not (st == {"array"} and wt <= _types(item)):
            out.append(f"'{p}' is {'/'.join(sorted(st))} in the strong tool, {'/'.join(sorted(wt))} in the weak one")
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
        elif out[gap.param] not in gap.allowed:
            del out[gap.param]
    return None if call_errors(weak, out) else out
