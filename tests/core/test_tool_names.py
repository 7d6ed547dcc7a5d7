"""Tool names: dotted and dashed names (``math.factorial``) are legal and travel through parser, specs and templates."""

from __future__ import annotations

import pytest

from mentor_env.core.parsing import HermesParser, format_tool_call
from mentor_env.core.tools import Tool, ToolRuntime, object_schema


def _echo(**arguments):
    return "ok"


@pytest.mark.parametrize(
    "name", ["add", "math.factorial", "spotify.play", "Flights_4_Search", "get-weather", "_x", "a" * 128]
)
def test_names_of_letters_digits_underscores_dots_and_dashes_are_accepted(name):
    assert Tool(name, "d", object_schema({}), _echo).name == name


@pytest.mark.parametrize("name", ["", "1abc", ".hidden", "a b", "a/b", "ünï", "a" * 129, "x\n"])
def test_other_names_are_refused_with_the_rule(name):
    with pytest.raises(ValueError, match="letters, digits"):
        Tool(name, "d", object_schema({}), _echo)


def test_a_dotted_call_parses_runs_and_is_rendered_back():
    runtime = ToolRuntime([Tool("math.factorial", "n!", object_schema({"number": {"type": "integer"}}), _echo)])
    text = format_tool_call("math.factorial", {"number": 5})
    (call,) = HermesParser().parse(text).calls
    assert (call.name, call.arguments, call.ok) == ("math.factorial", {"number": 5}, True)
    assert runtime.execute(call.name, call.arguments).content == "ok"
    assert runtime.specs[0]["function"]["name"] == "math.factorial"


def test_the_tiny_students_chat_template_carries_dotted_names():
    pytest.importorskip("transformers")
    from agents.students import TINY_CHAT_TEMPLATE, render_with_template

    tool = Tool("math.factorial", "n!", object_schema({"number": {"type": "integer"}}), _echo)
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "5!?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"type": "function", "function": {"name": "math.factorial", "arguments": {"number": 5}}}],
        },
    ]
    text = render_with_template(TINY_CHAT_TEMPLATE, messages, [tool.spec])
    assert "- math.factorial(number: integer)" in text
    assert '{"name": "math.factorial", "arguments": {"number": 5}}' in text
    (call,) = HermesParser().parse(text.split("<|im_start|>assistant\n")[-1]).calls
    assert call.name == "math.factorial" and call.ok
