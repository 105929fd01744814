"""What a valid tool is at each strictness level: every known-good and known-bad schema against every level."""

from __future__ import annotations

import pytest

from tooldojo.toolschema import IDENTIFIER, Level, Problem, normalize_function, tool_problems

G, R, IMP = Level.GENERATED, Level.RECORD, Level.IMPORTED
DESC = "Get the current weather for a city."
PARAMS = {"type": "object", "properties": {"city": {"type": "string", "description": "City name."}},
          "required": ["city"]}


def _tool(**changes):
    return {"name": "get_weather", "description": DESC, "parameters": PARAMS, **changes}


def _params(**prop):
    return {"type": "object", "properties": {"x": {"description": "An x.", **prop}}}


NOT_IDENTIFIER = f"must match {IDENTIFIER.pattern}"
BAD_RECORD_NAME = "missing, or not a valid tool name (letters, digits, _ . -; at most 64)"
NOT_SCHEMA = "parameters are not a valid JSON Schema: "

# case -> (tool, {level: (field, start of the message) of the first problem; a level not named: valid})
CASES = {
    "good": (_tool(), {}),
    "dotted name": (_tool(name="math.factorial"), {G: ("name", f"name 'math.factorial' {NOT_IDENTIFIER}")}),
    "hyphenated name": (_tool(name="get-weather"), {G: ("name", f"name 'get-weather' {NOT_IDENTIFIER}")}),
    "one-letter name": (_tool(name="f"), {G: ("name", f"name 'f' {NOT_IDENTIFIER}")}),
    "65-character name": (_tool(name="f" * 65), {G: ("name", "name 'fff"), R: ("name", BAD_RECORD_NAME)}),
    "name with a space": (_tool(name="get weather"), {G: ("name", "name 'get weather' must match"),
                                                      R: ("name", BAD_RECORD_NAME)}),
    "reserved name": (_tool(name="generate_response"), {G: ("name", "name 'generate_response' is reserved")}),
    "blank name": (_tool(name="  "), {G: ("name", "name '  ' must match"), R: ("name", BAD_RECORD_NAME),
                                      IMP: ("name", "tool has no 'name'")}),
    "no name": ({"description": DESC, "parameters": PARAMS}, {
        G: ("name", "name None must match"), R: ("name", BAD_RECORD_NAME), IMP: ("name", "tool has no 'name'")}),
    "short description": (_tool(description="Weather"), {G: ("description", "description must be a sentence")}),
    "empty description": (_tool(description=" "), {G: ("description", "description must be a sentence"),
                                                    R: ("description", "missing or empty")}),
    "no properties": (_tool(parameters={"type": "object"}), {
        G: ("parameters", "parameters must be a JSON Schema object with 'properties'")}),
    "parameters of type string": (_tool(parameters={"type": "string"}), {
        G: ("parameters", "parameters must be a JSON Schema object with 'properties'"),
        R: ("parameters.type", 'must be "object"')}),
    "properties a list": (_tool(parameters={"type": "object", "properties": []}), {
        G: ("parameters", "parameters must be a JSON Schema object with 'properties'"),
        R: ("parameters.properties", "must be an object"), IMP: ("parameters.properties", "invalid JSON Schema: ")}),
    "no parameters": (_tool(parameters=None), {
        G: ("parameters", "parameters must be a JSON Schema object with 'properties'"),
        R: ("parameters", "missing or not an object"), IMP: ("parameters", "invalid JSON Schema: None is not")}),
    "unknown type": (_tool(parameters=_params(type="no-such-type")), {
        G: ("parameters.properties.x.type", f"{NOT_SCHEMA}'no-such-type'"),
        R: ("parameters.properties.x.type", "invalid JSON Schema: 'no-such-type'"),
        IMP: ("parameters.properties.x.type", "invalid JSON Schema: 'no-such-type'")}),
    "tuple items (draft-07 only)": (_tool(parameters=_params(type="array", items=[{"type": "string"}])), {
        G: ("parameters.properties.x.items", NOT_SCHEMA), R: ("parameters.properties.x.items", "invalid JSON Schema: ")}),
    "undocumented parameter": (_tool(parameters=_params(type="string", description=" ")), {
        G: ("parameters.properties.x.description", "parameter 'x' needs a description")}),
    "untyped parameter": (_tool(parameters=_params()), {G: ("parameters.properties.x.type", "parameter 'x' needs a type")}),
    "enum instead of a type": (_tool(parameters=_params(enum=["a", "b"])), {}),
    "parameter name with a space": (_tool(parameters={"type": "object", "properties": {
        "city name": {"type": "string", "description": "City."}}}), {
        G: ("parameters.properties.city name", "parameter name 'city name' is not an identifier")}),
    "required names an unknown parameter": (_tool(parameters={**PARAMS, "required": ["town"]}), {
        G: ("parameters.required", "'required' must list only names from 'properties'")}),
}


@pytest.mark.parametrize("level", list(Level))
@pytest.mark.parametrize("case", list(CASES))
def test_each_schema_at_each_level(case, level):
    tool, expected = CASES[case]
    problems = tool_problems(tool, level)
    if level not in expected:
        assert problems == []
    else:
        field, message = expected[level]
        assert problems and problems[0].field == field and problems[0].message.startswith(message), problems


def test_generated_lists_every_problem_and_stops_where_nothing_more_can_be_checked():
    tool = {"name": "x", "description": "short", "parameters": {
        "type": "object", "properties": {"a b": {"type": "string"}}, "required": ["c"]}}
    assert [p.message for p in tool_problems(tool, G)] == [
        f"name 'x' {NOT_IDENTIFIER}", "description must be a sentence", "parameter name 'a b' is not an identifier",
        "parameter 'a b' needs a description", "'required' must list only names from 'properties'"]
    no_props = {**tool, "parameters": {"type": "object"}}
    assert tool_problems(no_props, G)[-1] == Problem(
        "parameters", "parameters must be a JSON Schema object with 'properties'")
    assert len(tool_problems(no_props, G)) == 3


def test_normalize_function_keeps_the_envelope_only():
    raw = {"name": " f_x ", "description": " Does x. ", "parameters": {"type": "object", "properties": {}},
           "returns": {"type": "string"}}
    assert normalize_function(raw) == {"name": "f_x", "description": "Does x.",
                                       "parameters": {"type": "object", "properties": {}, "required": []}}
    kept = {"type": "object", "properties": {}, "required": ["a"]}
    assert normalize_function({"name": "g", "parameters": kept})["parameters"] is kept
    assert normalize_function({"parameters": "not a schema"}) == {"name": "", "description": "",
                                                                  "parameters": "not a schema"}
