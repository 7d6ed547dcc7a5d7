"""The fast argument check in front of jsonschema: it only ever says "valid" when jsonschema does."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from mentor_env.core.splits import load_split
from mentor_env.core.tools import Tool, ToolRuntime, compile_fast_check
from mentor_env.domains import DOMAINS, get_domain

ALL_TOOLS = [(domain, tool) for domain in DOMAINS for tool in get_domain(domain).tools]


def _value_for(schema: dict[str, Any], rng: random.Random) -> Any:
    """A value that often fits ``schema`` and often just misses it."""
    kind = schema.get("type")
    pool: list[Any] = [None, True, False, 0, -1, 2.0, 1.5, float("nan"), 10**40, "", "x", [], {}, [1], {"a": 1}]
    if kind in ("number", "integer"):
        low, high = schema.get("minimum", -100), schema.get("maximum", 100)
        pool += [low, high, low - 1, high + 1, low - 0.5, high + 0.5, (low + high) // 2, float((low + high) // 2)]
        pool += [rng.randint(int(low), int(high)) for _ in range(4)] + [rng.uniform(low, high) for _ in range(4)]
    elif kind == "string":
        pool += list(schema.get("enum", ()))[:5] + [
            "2024-03-05",
            "2024-3-5",
            "doc-00042",
            "doc-0042",
            "orders",
            "9x",
            "a" * 65,
        ]
        pool += ["SELECT 1", "x" * schema.get("maxLength", 10), "x" * (schema.get("maxLength", 10) + 1), "2024-03-05\n"]
    elif kind == "array":
        item = schema.get("items", {})
        pool += [[_value_for(item, rng) for _ in range(rng.randint(0, 3))] for _ in range(4)]
        pool += [list(range(schema.get("maxItems", 5) + 1)), (1, 2)]
    return rng.choice(pool)


def _arguments_for(schema: dict[str, Any], rng: random.Random) -> Any:
    if rng.random() < 0.03:
        return rng.choice([None, [], "a", 1, ()])
    properties = schema.get("properties", {})
    arguments = {name: _value_for(sub, rng) for name, sub in properties.items() if rng.random() < 0.9}
    if rng.random() < 0.1:
        arguments[rng.choice(["extra", "A", "sql "])] = 1
    return arguments


def _jsonschema_only(tool: Tool) -> Tool:
    clone = copy.copy(tool)
    object.__setattr__(clone, "fast_check", None)
    return clone


@pytest.mark.parametrize("domain, tool", ALL_TOOLS, ids=[f"{d}-{t.name}" for d, t in ALL_TOOLS])
def test_fast_check_never_accepts_what_jsonschema_refuses(domain, tool):
    assert tool.fast_check is not None  # every shipped tool gets the fast path
    rng = random.Random(f"{domain}-{tool.name}")
    reference = _jsonschema_only(tool)
    properties = tool.parameters["properties"]
    accepted = 0
    for _ in range(600):
        arguments = _arguments_for(dict(tool.parameters), rng)
        fast = tool.fast_check(arguments)
        is_valid = tool.validator.is_valid(arguments)
        assert not fast or is_valid, arguments
        if is_valid and not fast:
            # The one valid case it leaves to jsonschema here: 2.0 for an integer.
            assert any(type(v) is float and properties[k]["type"] == "integer" for k, v in arguments.items()), arguments
        accepted += fast
        # What the model reads is the same word for word.
        if isinstance(arguments, dict):
            assert ToolRuntime._validation_error(tool, arguments) == ToolRuntime._validation_error(reference, arguments)
    assert accepted > 0


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_teacher_call_takes_the_fast_path(domain):
    tools = {tool.name: tool for tool in get_domain(domain).tools}
    calls = [call for task in load_split(get_domain(domain), "test") for call in task.teacher.calls]
    assert calls
    for call in calls:
        assert tools[call.name].fast_check(dict(call.arguments)), call


@pytest.mark.parametrize(
    "schema",
    [
        True,
        {"type": ["string", "null"]},
        {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "number"}]}}},
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}, "$defs": {"a": {"type": "string"}}},
        {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "number", "enum": [1, 2]},
        {"type": "string", "format": "date"},
        {"type": "array", "items": [{"type": "string"}]},
        {"minimum": 3},
    ],
)
def test_schemas_it_does_not_understand_are_left_to_jsonschema(schema):
    assert compile_fast_check(schema) is None


def test_exact_json_types_only_the_rest_goes_to_jsonschema():
    check = compile_fast_check(
        {
            "type": "object",
            "properties": {
                "n": {"type": "integer", "minimum": 0, "maximum": 9},
                "s": {"type": "string", "enum": ["a", 1]},
            },
            "required": ["n"],
            "additionalProperties": False,
        }
    )
    assert check({"n": 3}) and check({"n": 0, "s": "a"})
    for unsure in (
        {"n": True},
        {"n": 3.0},
        {"n": 10},
        {"n": -1},
        {"s": "a"},
        {"n": 1, "s": 1},
        {"n": 1, "x": 0},
        [("n", 1)],
    ):
        assert not check(unsure)
