"""Tool schema normalisation: every quirk the importers fix, and the ones they refuse."""

from __future__ import annotations

import pytest

from tooldojo.formats.schemas import SchemaError, parse_type, repair_function


def test_nested_function_and_python_types():
    fn = repair_function({"type": "function", "function": {
        "name": " area ", "description": "Area.", "extra": 1,
        "parameters": {"type": "dict", "properties": {
            "w": {"type": "float", "description": "width"},
            "n": {"type": "int", "description": "count"},
            "tags": {"type": "list", "items": {"type": "str"}, "description": "tags"},
            "opts": {"type": "dict", "properties": {"fast": {"type": "bool", "description": "f"}}},
            "anything": {"type": "any", "description": "a"},
        }, "required": ["w", "ghost"]}}})
    assert fn["name"] == "area" and set(fn) == {"name", "description", "parameters"}
    p = fn["parameters"]
    assert p["type"] == "object" and p["required"] == ["w"]  # unknown name dropped
    props = p["properties"]
    assert props["w"]["type"] == "number" and props["n"]["type"] == "integer"
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "description": "tags"}
    assert props["opts"]["type"] == "object" and props["opts"]["properties"]["fast"]["type"] == "boolean"
    assert props["opts"]["required"] == []
    assert "type" not in props["anything"]


def test_parameter_list_and_flags():
    fn = repair_function({"name": "f", "parameters": [
        {"name": "a", "type": "string", "description": "A", "required": True},
        {"name": "b", "type": "integer", "description": "B"},
    ]})
    assert fn["description"] == ""
    assert list(fn["parameters"]["properties"]) == ["a", "b"]
    assert fn["parameters"]["required"] == ["a"]
    assert "required" not in fn["parameters"]["properties"]["a"]


def test_missing_required_built_from_optional_flags():
    fn = repair_function({"name": "f", "parameters": {"type": "object", "properties": {
        "a": {"type": "string", "description": "A", "required": True},
        "b": {"type": "string", "description": "B", "optional": True}}}})
    assert fn["parameters"]["required"] == ["a"]
    assert "optional" not in fn["parameters"]["properties"]["b"]
    no_params = repair_function({"name": "ping", "description": "Ping."})
    assert no_params["parameters"] == {"type": "object", "properties": {}, "required": []}


def test_xlam_parameter_dicts():
    fn = repair_function({"name": "g", "description": "G.", "parameters": {
        "city": {"type": "str", "description": "City", "default": "Paris"},
        "days": {"type": "int", "description": "Days"},
        "units": {"type": "str, optional", "description": "Units"},
        "ids": {"type": "List[int]", "description": "Ids"},
        "when": {"type": "Optional[Union[int, float]]", "description": "When"},
        "mode": {"type": "Literal['a', 'b']", "description": "Mode"},
        "type": {"type": "str", "description": "A parameter named 'type'"},
    }})
    p = fn["parameters"]
    assert p["required"] == ["days", "ids", "mode", "type"]
    assert p["properties"]["ids"] == {"type": "array", "items": {"type": "integer"}, "description": "Ids"}
    assert p["properties"]["when"]["type"] == ["integer", "number"]
    assert p["properties"]["mode"]["enum"] == ["a", "b"]
    assert p["properties"]["type"]["type"] == "string"


def test_toolbench_required_and_optional_parameters():
    fn = repair_function({"name": "h", "description": "H.",
                             "required_parameters": [{"name": "q", "type": "STRING", "description": "Q"}],
                             "optional_parameters": [{"name": "limit", "type": "NUMBER", "description": "L"}]})
    assert fn["parameters"]["required"] == ["q"]
    assert fn["parameters"]["properties"]["limit"]["type"] == "number"


@pytest.mark.parametrize(("text", "frag", "optional"), [
    ("String", {"type": "string"}, False), ("HashMap", {"type": "object"}, False),
    ("long", {"type": "integer"}, False), ("tuple", {"type": "array"}, False),
    ("int | None", {"type": "integer"}, True), ("List[int] | str", {"anyOf": [
        {"type": "array", "items": {"type": "integer"}}, {"type": "string"}]}, False),
    ("Dict[str, Any]", {"type": "object"}, False), ("Union[int, float]", {"type": ["integer", "number"]}, False),
    ("bool, optional", {"type": "boolean"}, True), ("", {}, False),
])
def test_parse_type(text, frag, optional):
    assert parse_type(text) == (frag, optional)


@pytest.mark.parametrize(("tool", "reason"), [
    ({"description": "no name"}, "no 'name'"),
    ({"name": "f", "parameters": {"x": {"type": "Callable", "description": "c"}}}, "unknown type 'Callable'"),
    ({"name": "f", "parameters": {"type": "string"}}, "must describe an object"),
    ({"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "string", "minLength": "3"}}}},
     "invalid JSON Schema"),
    ("not a tool", "must be an object"),
])
def test_refused(tool, reason):
    with pytest.raises(SchemaError, match=reason):
        repair_function(tool)
