"""Rule-based weakening, capability diffs, and the offline teacher's answers for imported tools (imported seed
queries first, schema-driven queries for the rest)."""

from __future__ import annotations

import random

import pytest

from tooldojo.synth.schema_queries import action_phrase, sample_value, schema_query, value_index
from tooldojo.synth.schemas import call_errors, function_problems
from tooldojo.synth.steps.queries import seeded_queries
from tooldojo.synth.weakening import (
    Gap,
    NotWeakenable,
    capability_diff,
    coverage_problems,
    uses_gap,
    weak_call,
    weaken_by_rule,
)


def _fn(props: dict, required: list[str], name: str = "do_thing", desc: str = "Calculates a thing.") -> dict:
    return {"name": name, "description": desc,
            "parameters": {"type": "object", "properties": props, "required": required}}


SUM = _fn({"numbers": {"type": "array", "items": {"type": "integer"}, "description": "Numbers to add"},
           "mode": {"type": "string", "enum": ["fast", "exact", "approx", "safe"], "description": "How"}},
          ["numbers", "mode"], name="math_sum", desc="Calculates the sum of numbers.")
UNITS = _fn({"value": {"type": "number", "description": "Value"},
             "unit": {"type": "string", "enum": ["km", "mi", "nm"], "description": "Unit"}},
            ["value", "unit"], name="convert")
FACT = _fn({"number": {"type": "integer", "description": "n"}}, ["number"], name="factorial")


def test_weaken_without_optional_parameters_makes_an_array_scalar_then_narrows_an_enum():
    weak, gap = weaken_by_rule(SUM)
    assert weak["parameters"]["properties"]["numbers"]["type"] == "integer" and "several 'numbers'" in gap
    assert weak["parameters"]["properties"]["mode"] == SUM["parameters"]["properties"]["mode"]
    assert function_problems(weak) == [] and capability_diff(weak, SUM) == [Gap("scalar", "numbers")]
    weak, gap = weaken_by_rule(UNITS)
    assert weak["parameters"]["properties"]["unit"]["enum"] == ["km", "mi"] and "nm" in gap
    assert capability_diff(weak, UNITS) == [Gap("enum", "unit", ("km", "mi"))]
    with pytest.raises(NotWeakenable, match="factorial"):
        weaken_by_rule({"name": "factorial", "description": "n!"})


TEMP = _fn({"fahrenheit": {"type": "number", "description": "Degrees F"}}, ["fahrenheit"], name="f_to_c")
DAYS = _fn({"days": {"type": "integer", "minimum": 1, "maximum": 14, "description": "Days"},
            "city": {"type": "string", "description": "City"}}, ["days", "city"], name="forecast")
LOOKUP = _fn({"loc": {"type": "string", "description": "Location"}}, ["loc"], name="api_weather")
SHIFT = _fn({"offset": {"type": "integer", "description": "Hours"}}, ["offset"], name="shift_time")


@pytest.mark.parametrize("fn,gap,param_after,weak_ok,strong_only", [
    (TEMP, Gap("integer", "fahrenheit"), {"type": "integer", "description": "Degrees F"}, 98, 98.6),
    (SHIFT, Gap("range", "offset", (0, None)), {"type": "integer", "description": "Hours", "minimum": 0}, 5, -3),
    (DAYS, Gap("range", "days", (1, 7)), {"type": "integer", "minimum": 1, "maximum": 7, "description": "Days"}, 7, 10),
])
def test_tools_with_only_required_scalars_are_weakened_by_a_coarser_or_narrower_parameter(
        fn, gap, param_after, weak_ok, strong_only):
    weak, text = weaken_by_rule(fn)
    assert function_problems(weak) == [] and weak["name"] == fn["name"] + "_basic" and text
    assert weak["parameters"]["properties"][gap.param] == param_after
    assert weak["parameters"]["required"] == fn["parameters"]["required"]
    assert capability_diff(weak, fn) == [gap]
    base = {p: "Oslo" for p in fn["parameters"]["properties"] if p != gap.param}
    ok, beyond = {**base, gap.param: weak_ok}, {**base, gap.param: strong_only}
    assert call_errors(fn, ok) == call_errors(weak, ok) == [] and call_errors(fn, beyond) == []
    assert call_errors(weak, beyond)  # the weak schema itself refuses what only the strong tool takes
    assert not uses_gap(gap, ok, fn) and uses_gap(gap, beyond, fn)
    assert weak_call(weak, fn, ok, [gap]) == ok and weak_call(weak, fn, beyond, [gap]) is None  # required
    index = value_index()
    for i in range(5):  # schema-driven queries: strong ones use the gap, weak ones stay inside it
        rng = random.Random(i)
        strong_q = schema_query(weak, fn, [gap], "strong", "imperative", rng, index)
        weak_q = schema_query(weak, fn, [gap], "weak", "question", rng, index)
        assert strong_q and uses_gap(gap, strong_q["calls"]["strong"], fn) and strong_q["calls"]["weak"] is None
        assert call_errors(fn, strong_q["calls"]["strong"]) == []
        assert weak_q and call_errors(weak, weak_q["calls"]["weak"]) == []


@pytest.mark.parametrize("fn", [LOOKUP, FACT])  # strings; an unbounded count whose negatives mean nothing
def test_a_tool_with_nothing_else_to_take_returns_fewer_result_fields(fn):
    weak, gap = weaken_by_rule(fn)
    assert weak["parameters"] == fn["parameters"] and "only the main result" in weak["description"]
    assert "full result" in gap and capability_diff(weak, fn) == []


def test_coverage_problems_rule_weakenings_are_covered_and_real_gaps_are_named():
    for fn in (SUM, UNITS, TEMP, DAYS, LOOKUP, FACT, SHIFT):
        assert coverage_problems(weaken_by_rule(fn)[0], fn) == [], fn["name"]

    def one(schema: dict) -> dict:
        return _fn({"x": schema} if schema else {}, [])
    assert coverage_problems(one({"type": "integer"}), one({"type": "number"})) == []  # a number takes integers
    assert coverage_problems(one({"type": "number"}), one({"type": "integer"}))  # an integer takes no fractions
    assert coverage_problems(one({"type": "string"}), one({"type": "array", "items": {"type": "string"}})) == []
    assert coverage_problems(one({"type": "string"}), one({})) == ["the weak tool's parameter 'x' is missing"]
    assert coverage_problems(one({"type": "string", "enum": ["a", "b"]}), one({"type": "string", "enum": ["a"]}))


def test_uses_gap_and_weak_call():
    optional = _fn({"q": {"type": "string", "description": "q"},
                    "limit": {"type": "integer", "default": 10, "description": "limit"}}, ["q"])
    weak, _ = weaken_by_rule(optional)
    gaps = capability_diff(weak, optional)
    assert gaps == [Gap("missing", "limit")]
    assert uses_gap(gaps[0], {"q": "x", "limit": 20}, optional)
    assert not uses_gap(gaps[0], {"q": "x", "limit": 10}, optional)  # the default is no capability
    assert weak_call(weak, optional, {"q": "x", "limit": 20}, gaps) == {"q": "x"}
    weak, _ = weaken_by_rule(UNITS)
    gaps = capability_diff(weak, UNITS)
    assert weak_call(weak, UNITS, {"value": 3, "unit": "mi"}, gaps) == {"value": 3, "unit": "mi"}
    # a required enum value the weak tool lacks cannot be expressed: no weak call
    assert weak_call(weak, UNITS, {"value": 3, "unit": "nm"}, gaps) is None
    weak, _ = weaken_by_rule(SUM)
    gaps = capability_diff(weak, SUM)
    assert weak_call(weak, SUM, {"numbers": [1, 2], "mode": "fast"}, gaps) == {"numbers": 1, "mode": "fast"}


def _plan(*needs: str, styles=("imperative", "question", "casual")) -> list[dict[str, str]]:
    return [{"style": styles[i % len(styles)], "needs": n} for i, n in enumerate(needs)]


def test_imported_queries_are_used_first_with_needs_from_the_gap():
    strong = _fn({"origin": {"type": "string", "description": "From"},
                  "destination": {"type": "string", "description": "To"},
                  "consider_terrain": {"type": "boolean", "description": "Account for terrain"}},
                 ["origin", "destination"], name="distance", desc="Find the distance between two places.")
    weak, _ = weaken_by_rule(strong)
    seeds = [{"text": "Distance from Paris to Lyon, with terrain.",
              "arguments": {"origin": "Paris", "destination": "Lyon", "consider_terrain": True}},
             {"text": "How far is Rome from Milan?", "arguments": {"origin": "Rome", "destination": "Milan"}}]
    v = {"weak": weak, "strong": strong, "plan": _plan("weak", "strong", "weak", "strong"), "seed_queries": seeds}
    out = seeded_queries(v, random.Random(0), value_index())
    assert [q["origin"] for q in out] == ["import", "import", "schema", "schema"]
    assert [q["needs"] for q in out] == ["weak", "strong", "weak", "strong"]
    assert [q["style"] for q in out] == [p["style"] for p in v["plan"]]  # styles come from the plan
    assert out[0]["text"] == seeds[1]["text"] and out[0]["calls"]["weak"] == seeds[1]["arguments"]
    assert out[1]["calls"] == {"weak": {"origin": "Paris", "destination": "Lyon"}, "strong": seeds[0]["arguments"]}
    assert out[3]["calls"]["strong"]["consider_terrain"] is True and "consider_terrain" not in out[3]["calls"]["weak"]
    for q in out:
        assert call_errors(strong, q["calls"]["strong"]) == [] and call_errors(weak, q["calls"]["weak"]) == []
    assert out == seeded_queries(v, random.Random(0), value_index())  # deterministic for the rng


@pytest.mark.parametrize("strong", [SUM, UNITS], ids=["scalar", "enum"])
def test_schema_queries_use_exactly_the_missing_capability(strong):
    weak, _ = weaken_by_rule(strong)
    gaps = capability_diff(weak, strong)
    rng = random.Random(3)
    for needs in ("weak", "strong") * 5:
        q = schema_query(weak, strong, gaps, needs, "question", rng, value_index())
        assert q is not None and q["needs"] == needs and q["text"].endswith("?")
        assert call_errors(strong, q["calls"]["strong"]) == []
        assert any(uses_gap(g, q["calls"]["strong"], strong) for g in gaps) == (needs == "strong")
        if needs == "weak":
            assert call_errors(weak, q["calls"]["weak"]) == []
    unit_queries = [schema_query(weak, strong, gaps, "strong", "imperative", rng, value_index()) for _ in range(3)]
    if strong is UNITS:  # the lost enum value cannot be expressed by the weak tool
        assert all(q["calls"]["weak"] is None and q["calls"]["strong"]["unit"] == "nm" for q in unit_queries)


def test_values_come_from_the_schema_the_description_and_the_catalog():
    rng = random.Random(0)
    index = value_index()
    cities = set(index["city"])
    assert sample_value("city", {"type": "string", "description": "City"}, rng, index) in cities
    assert sample_value("departure_city", {"type": "string", "description": "From"}, rng, index) in cities
    assert 3 <= sample_value("n", {"type": "integer", "minimum": 3, "maximum": 4, "description": "n"}, rng, index) <= 4
    assert len(sample_value("start_date", {"type": "string", "format": "date", "description": "d"}, rng, index)) == 10
    desc = {"type": "string", "description": "Ticker symbol, e.g. 'ACME'"}
    assert "ACME" in {sample_value("zz_symbolic", desc, rng, {}) for _ in range(5)}


@pytest.mark.parametrize(("desc", "phrase"), [
    ("Calculates the area of a triangle given its base and height.", "calculate the area of a triangle"),
    ("This tool retrieves the weather, e.g. in Paris.", "retrieve the weather"),
    ("Fetches news headlines for a country.", "fetch news headlines for a country"),
    ("Find upcoming events of a specific genre in a given location.", "find upcoming events of a specific genre"),
    ("A helper.", "run do thing"),
])
def test_action_phrase(desc, phrase):
    assert action_phrase({"name": "do_thing", "description": desc}) == phrase


def test_queries_template_shows_imported_queries_to_a_real_teacher():
    from tooldojo.synth.templates import TemplateSet

    weak, gap = weaken_by_rule(UNITS)
    base = {"domain": "maps", "weak": weak, "strong": UNITS, "gap": gap, "plan": _plan("weak", "strong"),
            "styles": {"imperative": "an instruction"}, "examples": [],
            "example_family": {"weak": "a", "strong": "b", "gap": "c"}}
    seed = {"text": "Convert 12 nautical miles", "arguments": {"value": 12, "unit": "nm"}}
    with_seed = TemplateSet().render("queries", **base, seed_queries=[seed])[-1]["content"]
    without = TemplateSet().render("queries", **base, seed_queries=[])[-1]["content"]
    assert "Convert 12 nautical miles" in with_seed and "existing dataset" in with_seed
    assert "existing dataset" not in without
