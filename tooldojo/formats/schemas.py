"""Normalise tool definitions from any dataset to OpenAI function schemas.

The result is always ``{"name", "description", "parameters"}`` with ``parameters`` a JSON Schema object
(``{"type": "object", "properties": {...}, "required": [...]}``). Fixed on the way:

- wrappers: ``{"type": "function", "function": {...}}`` and ``{"function": {...}}``;
- Python and Java type names: ``dict`` -> ``object``, ``float`` -> ``number``, ``int`` -> ``integer``,
  ``list``/``tuple`` -> ``array``, ``str`` -> ``string``, ``any`` -> no type, ``List[str]`` ->
  ``{"type": "array", "items": {"type": "string"}}``, ``Optional[int]`` / ``"int, optional"`` -> not required;
- parameter *lists* (``[{"name": "x", "type": ..., "required": true}]``), xLAM-style parameter *dicts*
  (``{"x": {"type": "str", "description": ...}}``) and ToolBench's ``required_parameters`` /
  ``optional_parameters`` become ``properties``;
- ``required``: a missing list is built from per-property flags (``"required": true``, ``"optional": true``;
  for xLAM-style dicts, parameters without a default that are not marked optional), names of unknown
  parameters are dropped;
- extra keys of the function (``return``, ``response``, ...) are dropped.

Anything that cannot be fixed raises :class:`SchemaError` with the reason; the result must pass
:mod:`tooldojo.toolschema` at ``Level.IMPORTED`` (a name, a valid JSON Schema).
"""

from __future__ import annotations

import re
from typing import Any

from tooldojo.toolschema import Level, name_problem, normalize_function, tool_problems

_NOT_SCHEMA = {"optional", "name"}
"""Keys that tools put on a *property* but that are not JSON Schema keywords there (``required`` too, when
it is a flag rather than a list)."""

_TYPES: dict[str, str | None] = {
    "string": "string", "str": "string", "char": "string", "character": "string", "text": "string",
    "date": "string", "datetime": "string", "time": "string",
    "integer": "integer", "int": "integer", "long": "integer", "short": "integer", "byte": "integer",
    "number": "number", "float": "number", "double": "number", "decimal": "number",
    "boolean": "boolean", "bool": "boolean",
    "array": "array", "list": "array", "tuple": "array", "set": "array", "arraylist": "array",
    "sequence": "array", "iterable": "array",
    "object": "object", "dict": "object", "hashmap": "object", "map": "object", "mapping": "object",
    "null": "null", "none": "null", "nonetype": "null",
    "any": None, "": None, "typing.any": None,
}
"""Lower-cased type names seen in tool datasets -> JSON Schema type (``None``: any value)."""

_GENERIC = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:\[(.*)\])?\s*$", re.S)


class SchemaError(ValueError):
    """A tool definition that cannot be normalised (the message says why)."""


def _split_args(text: str, sep: str = ",") -> list[str]:
    """Split ``"str, List[int]"`` on top-level commas (or ``sep``)."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def parse_type(text: str, where: str = "") -> tuple[dict[str, Any], bool]:
    """A type name as written in a dataset -> (JSON Schema fragment, optional?).

    Handles plain names in any case, ``"int, optional"``, ``Optional[X]``, ``Union[A, B]``, ``A | B``,
    ``List[X]``, ``Dict[K, V]``, ``Tuple[...]`` and ``Literal[...]``.
    """
    raw = text.strip()
    optional = False
    low = raw.lower()
    for suffix in (", optional", ",optional", " optional", "(optional)"):
        if low.endswith(suffix):
            raw, optional = raw[: -len(suffix)].strip(), True
            low = raw.lower()
    if len(alts := _split_args(raw, "|")) > 1:
        return parse_type(f"Union[{', '.join(alts)}]", where)[0], optional or any(
            a.strip().lower() in ("none", "null", "nonetype") for a in alts)
    if (t := _TYPES.get(low)) is not None or low in _TYPES:
        return ({"type": t} if t else {}), optional
    m = _GENERIC.match(raw)
    if not m:
        raise SchemaError(f"unknown type {text!r}{where}")
    head, inner = m.group(1).lower().split(".")[-1], m.group(2)
    args = _split_args(inner) if inner else []
    if head == "optional" and len(args) == 1:
        return parse_type(args[0], where)[0], True
    if head == "union" and args:
        frags = [parse_type(a, where)[0] for a in args]
        nullable = any(f.get("type") == "null" for f in frags)
        frags = [f for f in frags if f.get("type") != "null"]
        return _union(frags, where), optional or nullable
    if head == "literal" and args:
        import ast

        try:
            values = [ast.literal_eval(a) for a in args]
        except (ValueError, SyntaxError):
            raise SchemaError(f"unknown type {text!r}{where}") from None
        return {"enum": values}, optional
    base = _TYPES.get(head, "?")
    if base == "?":
        raise SchemaError(f"unknown type {text!r}{where}")
    frag: dict[str, Any] = {"type": base} if base else {}
    if base == "array" and len(args) == 1 and args[0] != "...":
        items = parse_type(args[0], where)[0]
        if items:
            frag["items"] = items
    return frag, optional


def _union(frags: list[dict[str, Any]], where: str) -> dict[str, Any]:
    if any(not f for f in frags):  # one alternative is "any"
        return {}
    if all(set(f) == {"type"} for f in frags):
        types = list(dict.fromkeys(f["type"] for f in frags))
        return {"type": types[0] if len(types) == 1 else types}
    return {"anyOf": frags}


def normalize_schema(spec: Any, where: str = "") -> tuple[dict[str, Any], bool]:
    """One property's schema -> (JSON Schema, optional?). Strings are read as type names."""
    if isinstance(spec, str):
        return parse_type(spec, where)
    if not isinstance(spec, dict):
        raise SchemaError(f"parameter schema must be an object, got {type(spec).__name__}{where}")
    out = {k: v for k, v in spec.items() if k not in _NOT_SCHEMA and not (k == "required" and not isinstance(v, list))}
    optional = spec.get("optional") is True or spec.get("required") is False
    t = spec.get("type")
    if isinstance(t, str):
        frag, opt = parse_type(t, where)
        optional = optional or opt
        out.pop("type")
        out = {**frag, **out}  # the spec's own keys (items, enum, ...) win over what the type name implies
    elif isinstance(t, list):
        types = []
        for one in t:
            frag, _ = parse_type(str(one), where)
            if not frag:
                types = None
                break
            types.append(frag.get("type"))
        if types is None:
            out.pop("type")
        else:
            types = list(dict.fromkeys(x for x in types if x))
            out["type"] = types[0] if len(types) == 1 else types
    elif t is not None:
        raise SchemaError(f"'type' must be a string or a list, got {t!r}{where}")
    if out.get("type") == "object" or ("properties" in out and "type" not in out):
        out = _normalize_object(out, where)
    if isinstance(out.get("items"), dict):
        out["items"] = normalize_schema(out["items"], where + " (items)")[0]
    elif isinstance(out.get("items"), list):  # tuple validation, draft-04 style
        out["prefixItems"] = [normalize_schema(i, where + " (items)")[0] for i in out.pop("items")]
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = normalize_schema(out["additionalProperties"], where)[0]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(out.get(key), list):
            out[key] = [normalize_schema(s, where)[0] for s in out[key]]
    return out, optional


def _normalize_object(spec: dict[str, Any], where: str) -> dict[str, Any]:
    """An object schema: ``type``, ``properties`` normalised, ``required`` completed and checked."""
    props_in = spec.get("properties") or {}
    if isinstance(props_in, list):
        props_in = _list_to_props(props_in, where)
    if not isinstance(props_in, dict):
        raise SchemaError(f"'properties' must be an object{where}")
    props, flagged_required, optional = {}, [], set()
    for pname, pspec in props_in.items():
        props[pname], opt = normalize_schema(pspec, f"{where} (parameter {pname!r})")
        if opt:
            optional.add(pname)
        if isinstance(pspec, dict) and pspec.get("required") is True:
            flagged_required.append(pname)
    req = spec.get("required")
    if isinstance(req, list):
        required = [r for r in req if isinstance(r, str) and r in props]
    elif req is None or isinstance(req, bool):
        required = flagged_required
    else:
        raise SchemaError(f"'required' must be a list of parameter names{where}")
    explicit = req if isinstance(req, list) else []
    required = [r for r in dict.fromkeys(required) if r not in optional or r in explicit]
    rest = {k: v for k, v in spec.items() if k not in ("type", "properties", "required")}
    return {"type": "object", "properties": props, "required": required, **rest}


def _list_to_props(params: list[Any], where: str) -> dict[str, Any]:
    """``[{"name": "x", "type": ..., "required": true}, ...]`` -> properties (flags kept for required)."""
    props: dict[str, Any] = {}
    for p in params:
        if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not p["name"]:
            raise SchemaError(f"every entry of a parameter list needs a 'name'{where}")
        props[p["name"]] = {k: v for k, v in p.items() if k != "name"}
    return props


def _is_json_schema(params: dict[str, Any]) -> bool:
    t = params.get("type")
    return isinstance(t, (str, list)) or isinstance(params.get("properties"), (dict, list)) or not params


def normalize_parameters(params: Any, where: str = "") -> dict[str, Any]:
    """A tool's ``parameters`` in any common shape -> a JSON Schema object."""
    if params is None:
        return {"type": "object", "properties": {}, "required": []}
    if isinstance(params, list):
        props = _list_to_props(params, where)
        return _normalize_object({"properties": props}, where)
    if not isinstance(params, dict):
        raise SchemaError(f"'parameters' must be an object or a list, got {type(params).__name__}{where}")
    if _is_json_schema(params):
        schema, _ = normalize_schema({**params, "type": params.get("type", "object")}, where)
        if schema.get("type") != "object":
            raise SchemaError(f"'parameters' must describe an object, got type {schema.get('type')!r}{where}")
        return schema
    # xLAM style: {"param": {"type": "str", "description": ..., "default": ...}, ...}
    props, required = {}, []
    for pname, pspec in params.items():
        schema, optional = normalize_schema(pspec, f"{where} (parameter {pname!r})")
        props[pname] = schema
        has_default = isinstance(pspec, dict) and "default" in pspec
        flag = pspec.get("required") if isinstance(pspec, dict) else None
        if flag is True or (flag is None and not optional and not has_default):
            required.append(pname)
    return {"type": "object", "properties": props, "required": required}


def repair_function(tool: Any) -> dict[str, Any]:
    """Any common tool definition -> ``{"name", "description", "parameters"}`` (see module docstring), put
    through :func:`tooldojo.toolschema.normalize_function` and checked at ``Level.IMPORTED``."""
    if not isinstance(tool, dict):
        raise SchemaError(f"a tool must be an object, got {type(tool).__name__}")
    if isinstance(tool.get("function"), dict):
        tool = tool["function"]
    name = tool.get("name")
    if (problem := name_problem(name, Level.IMPORTED)) is not None:
        raise SchemaError(problem.message)
    name = name.strip()
    where = f" in tool {name!r}"
    desc = tool.get("description", "")
    desc = "" if desc is None else desc if isinstance(desc, str) else str(desc)
    if "parameters" in tool or not ({"required_parameters", "optional_parameters"} & set(tool)):
        params = normalize_parameters(tool.get("parameters"), where)
    else:  # ToolBench / RapidAPI
        req = tool.get("required_parameters") or []
        opt = tool.get("optional_parameters") or []
        props = _list_to_props([*req, *opt], where)
        params = _normalize_object({"properties": props, "required": [p["name"] for p in req]}, where)
    fn = normalize_function({"name": name, "description": desc, "parameters": params})
    if problems := tool_problems(fn, Level.IMPORTED):
        raise SchemaError(f"{problems[0].message}{where}")
    return fn
