"""The seed catalog: hand-written tool families (weak/strong pairs) with query patterns, one JSON file per
domain under ``tooldojo/synth/catalog/``. Data, not code.

It serves as few-shot seeds for the teacher templates and as the source of the offline teacher. A family::

    {
      "id": "restaurant_search",
      "weak":   {<OpenAI function schema>},
      "strong": {<OpenAI function schema>},
      "gap": "what the strong tool can do that the weak one cannot",
      "slots": {"city": ["Paris", "Osaka"], "place": [{"city": "Lyon", "country": "FR"}]},
      "queries": [
        {"text": "Find restaurants in {city}", "needs": "weak", "style": "imperative",
         "calls": {"weak": {"location": "{city}"}, "strong": {"location": "{city}"}}},
        ...
      ]
    }

Slot references: ``{city}`` or ``{place.city}`` for object-valued slots. An argument value that is exactly
one reference keeps the slot value's JSON type (``"{n}"`` with ``n: [2, 3]`` gives the integer); otherwise
the references are formatted into the string. All references of one query draw the same slot value.
"""

from __future__ import annotations

import json
import random
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tooldojo.errors import DataError
from tooldojo.toolschema import IDENTIFIER

STYLES = ("imperative", "question", "contextual", "casual")
_REF = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)(?:\.([a-zA-Z_][a-zA-Z0-9_]*))?\}")


class QueryPattern(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    needs: Literal["weak", "strong"]
    style: Literal["imperative", "question", "contextual", "casual"]
    calls: dict[Literal["weak", "strong"], dict[str, Any]]


class Family(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    weak: dict[str, Any]
    strong: dict[str, Any]
    gap: str = Field(min_length=8)
    slots: dict[str, list[Any]] = Field(default_factory=dict)
    queries: list[QueryPattern] = Field(min_length=4)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not IDENTIFIER.match(v):
            raise ValueError("family id must be snake_case")
        return v


class DomainFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str
    description: str = ""
    families: list[Family] = Field(min_length=1)


def catalog_dir() -> Path:
    return Path(str(resources.files("tooldojo").joinpath("synth", "catalog")))


@cache
def load_catalog(folder: str | None = None) -> dict[str, DomainFile]:
    """All domain files of the catalog (default: the shipped one), keyed by domain."""
    root = Path(folder) if folder else catalog_dir()
    out: dict[str, DomainFile] = {}
    for path in sorted(root.glob("*.json")):
        try:
            dom = DomainFile.model_validate_json(path.read_text(encoding="utf-8"))
        except Exception as err:  # pydantic ValidationError or JSON error: name the file
            raise DataError(str(err).splitlines()[0] + ": " + " ".join(str(err).splitlines()[1:3]),
                            field=str(path), fix="fix the catalog file") from None
        out[dom.domain] = dom
    return out


def _resolve(ref: re.Match, values: dict[str, Any]) -> Any:
    slot, attr = ref.group(1), ref.group(2)
    value = values[slot]
    return value[attr] if attr else value


def fill(template: Any, values: dict[str, Any]) -> Any:
    """Substitute slot references in a string / list / dict template (see module docstring)."""
    if isinstance(template, str):
        whole = _REF.fullmatch(template)
        if whole:
            return _resolve(whole, values)
        return _REF.sub(lambda m: str(_resolve(m, values)), template)
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    return template


def referenced_slots(pattern: QueryPattern) -> set[str]:
    blob = pattern.text + json.dumps(pattern.calls)
    return {m.group(1) for m in _REF.finditer(blob)}


def sample_slots(family: Family, pattern: QueryPattern, rng: random.Random) -> dict[str, Any]:
    return {slot: rng.choice(family.slots[slot]) for slot in sorted(referenced_slots(pattern))}


def validate_family(family: Family) -> list[str]:
    """Every problem with one family (empty list = valid): schemas, names, slots, and every filled call
    against its tool's parameter schema, for every slot value."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    problems: list[str] = []
    tools = {"weak": family.weak, "strong": family.strong}
    for role, fn in tools.items():
        for key in ("name", "description", "parameters"):
            if key not in fn:
                problems.append(f"{family.id}.{role}: missing '{key}'")
        if set(fn) - {"name", "description", "parameters"}:
            problems.append(f"{family.id}.{role}: unexpected keys {sorted(set(fn) - {'name', 'description', 'parameters'})}")
        if not IDENTIFIER.match(fn.get("name", "")):
            problems.append(f"{family.id}.{role}: name must match {IDENTIFIER.pattern}")
        params = fn.get("parameters", {})
        if params.get("type") != "object" or not isinstance(params.get("properties"), dict):
            problems.append(f"{family.id}.{role}: parameters must be a JSON Schema object with properties")
            continue
        try:
            Draft202012Validator.check_schema(params)
        except SchemaError as err:
            problems.append(f"{family.id}.{role}: invalid JSON Schema: {err.message}")
        for pname, pschema in params["properties"].items():
            if not pschema.get("description"):
                problems.append(f"{family.id}.{role}.{pname}: parameter needs a description")
        if not set(params.get("required", [])) <= set(params["properties"]):
            problems.append(f"{family.id}.{role}: 'required' names unknown parameters")
    if family.weak.get("name") == family.strong.get("name"):
        problems.append(f"{family.id}: weak and strong tools must have different names")
    if problems:
        return problems
    validators = {role: Draft202012Validator({**fn["parameters"], "additionalProperties": False})
                  for role, fn in tools.items()}
    for i, pat in enumerate(family.queries):
        where = f"{family.id}.queries[{i}]"
        if pat.needs not in pat.calls:
            problems.append(f"{where}: calls must include the needed tool '{pat.needs}'")
        if "strong" not in pat.calls:
            problems.append(f"{where}: calls must include 'strong' (the strong tool covers every query)")
        missing = referenced_slots(pat) - set(family.slots)
        if missing:
            problems.append(f"{where}: unknown slots {sorted(missing)}")
            continue
        slots = sorted(referenced_slots(pat))
        # every value of every slot, each at least once (other slots at their first value)
        combos = [{s: family.slots[s][0] for s in slots}]
        for s in slots:
            for v in family.slots[s][1:]:
                combos.append({**combos[0], s: v})
        for values in combos:
            try:
                text = fill(pat.text, values)
                calls = {role: fill(args, values) for role, args in pat.calls.items()}
            except (KeyError, TypeError) as err:
                problems.append(f"{where}: slot value lacks attribute {err}")
                break
            if not isinstance(text, str) or _REF.search(text):
                problems.append(f"{where}: text did not fill to a string")
                break
            bad = [f"{role}: {e.message}" for role, args in calls.items()
                   for e in validators[role].iter_errors(args)]
            if bad:
                problems.append(f"{where} with {values}: {bad[0]}")
                break
    styles = {p.style for p in family.queries}
    needs = {p.needs for p in family.queries}
    if len(styles) < 3:
        problems.append(f"{family.id}: query patterns must span at least 3 styles (has {sorted(styles)})")
    if needs != {"weak", "strong"}:
        problems.append(f"{family.id}: needs both 'weak' and 'strong' query patterns")
    return problems


def validate_catalog(folder: str | None = None) -> list[str]:
    """Every problem in the catalog, including duplicate tool names and family ids across domains."""
    load_catalog.cache_clear()
    problems: list[str] = []
    seen_tools: dict[str, str] = {}
    seen_ids: set[str] = set()
    for domain, dom in load_catalog(folder).items():
        for fam in dom.families:
            if fam.id in seen_ids:
                problems.append(f"{domain}/{fam.id}: duplicate family id")
            seen_ids.add(fam.id)
            for role in ("weak", "strong"):
                name = getattr(fam, role).get("name", "")
                if name in seen_tools:
                    problems.append(f"{domain}/{fam.id}.{role}: tool name '{name}' already used by {seen_tools[name]}")
                seen_tools[name] = f"{domain}/{fam.id}"
            problems.extend(f"{domain}/{p}" for p in validate_family(fam))
    return problems


def catalog_stats(folder: str | None = None) -> dict[str, int]:
    cat = load_catalog(folder)
    fams = [f for d in cat.values() for f in d.families]
    return {"domains": len(cat), "families": len(fams), "tools": 2 * len(fams),
            "query_patterns": sum(len(f.queries) for f in fams)}


if __name__ == "__main__":  # python -m tooldojo.synth.catalog [folder]
    import sys

    probs = validate_catalog(sys.argv[1] if len(sys.argv) > 1 else None)
    print("\n".join(probs) if probs else "catalog OK")
    print(catalog_stats(sys.argv[1] if len(sys.argv) > 1 else None))
    raise SystemExit(1 if probs else 0)
