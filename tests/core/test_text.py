"""Whatever a model writes, everything an env returns is valid UTF-8 text and JSON-serialisable.

A lone surrogate reaches the env two ways: as a character of the action text
(a caller can pass any ``str``), and as a pure-ASCII JSON escape (``"\\ud800"``)
that ``json.loads`` turns into one. Both are checked for every string argument
of every tool of every text env.
"""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import pytest

import mentor_env  # noqa: F401  (registers the ids)
from mentor_env.core.parsing import HermesParser
from mentor_env.core.text import valid_json, valid_text
from mentor_env.core.tools import ToolRuntime
from mentor_env.registration import DOMAIN_ENV_IDS

LONE_HIGH = "\ud800"
LONE_LOW = "\udfff"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("plain text", "plain text"),
        ("caf\u00e9 \U0001f600", "caf\u00e9 \U0001f600"),
        ("a\ud800b", "a\ufffdb"),
        ("\udfff", "\ufffd"),
        ("\ud83d\ude00", "\U0001f600"),  # a high and a low surrogate that belong together: one character
        ("\ude00\ud83d", "\ufffd\ufffd"),  # the wrong order: two lone ones
        ("x\ud800\ud800y", "x\ufffd\ufffdy"),
    ],
)
def test_valid_text_repairs_surrogates(text: str, expected: str) -> None:
    repaired = valid_text(text)
    assert repaired == expected
    repaired.encode("utf-8")  # never raises


def test_valid_text_and_valid_json_return_clean_values_unchanged() -> None:
    text = "no surrogates here"
    value = {"a": [1, 2.5, "x", None, True], "b": {"c": "d"}}
    assert valid_text(text) is text
    assert valid_json(value) is value


def test_valid_json_repairs_keys_and_nested_values() -> None:
    value = {"a\ud800": ["ok", {"k": "\udc00z"}], "n": 3}
    assert valid_json(value) == {"a\ufffd": ["ok", {"k": "\ufffdz"}], "n": 3}
    assert value == {"a\ud800": ["ok", {"k": "\udc00z"}], "n": 3}  # the input is left as it was


def test_the_parser_decodes_a_lone_surrogate_escape_to_the_replacement_character() -> None:
    turn = HermesParser().parse('<tool_call>{"name": "add", "arguments": {"a": "\\ud800", "b\\udfff": 2}}</tool_call>')
    assert [(call.name, call.arguments, call.error) for call in turn.calls] == [
        ("add", {"a": "\ufffd", "b\ufffd": 2}, None)
    ]


def test_the_runtime_repairs_arguments_a_trainer_decoded() -> None:
    from mentor_env.domains.calc.tools import TOOLS

    result = ToolRuntime(TOOLS).execute("add", {"a": LONE_HIGH, "b": 2})
    assert result.error_category == "invalid_args"
    assert "'\ufffd' is not of type 'number'" in result.content
    result.content.encode("utf-8")


def _string_arguments(schema: dict[str, Any]) -> list[str]:
    return [name for name, spec in schema.get("properties", {}).items() if spec.get("type") == "string"]


def _filled(schema: dict[str, Any]) -> dict[str, Any]:
    """Plausible values for every property, so the call reaches the tool where the schema lets it."""
    plain = {"string": "x", "number": 1, "integer": 1, "boolean": True, "array": [1], "object": {}}
    return {name: plain.get(spec.get("type"), 1) for name, spec in schema.get("properties", {}).items()}


def _string_argument_cases() -> list[tuple[str, str, str]]:
    cases = []
    for env_id in DOMAIN_ENV_IDS.values():
        env = gym.make(env_id)
        env.reset(seed=0)
        for tool in env.unwrapped.runtime.tools.values():
            cases.extend((env_id, tool.name, argument) for argument in _string_arguments(dict(tool.parameters)))
        env.close()
    return cases


STRING_ARGUMENTS = _string_argument_cases()


def _assert_all_valid(observation: str, info: dict[str, Any], rendered: str | None) -> None:
    for text in (observation, rendered or ""):
        text.encode("utf-8")
    json.dumps(info, ensure_ascii=False).encode("utf-8")
    json.dumps(info)  # the ASCII form too, which escapes every non-ASCII character


def test_every_domain_with_text_arguments_is_checked() -> None:
    # Calc's tools take numbers only (its turns are checked below, in the other test); the other four take text.
    assert {env_id for env_id, _, _ in STRING_ARGUMENTS} == set(DOMAIN_ENV_IDS.values()) - {"mentor/Calc-v0"}
    assert len(STRING_ARGUMENTS) >= 12


@pytest.mark.parametrize("env_id, tool, argument", STRING_ARGUMENTS)
@pytest.mark.parametrize("written", ["escape", "character"])
def test_a_lone_surrogate_in_any_string_argument_leaves_everything_valid(
    env_id: str, tool: str, argument: str, written: str
) -> None:
    env = gym.make(env_id, render_mode="ansi")
    env.reset(seed=0)
    arguments = _filled(dict(env.unwrapped.runtime.tools[tool].parameters))
    arguments[argument] = f"a{LONE_HIGH}b{LONE_LOW}"
    body = json.dumps({"name": tool, "arguments": arguments})  # the ASCII escapes: \ud800 ... \udfff
    if written == "character":
        body = json.dumps({"name": tool, "arguments": arguments}, ensure_ascii=False)  # the code points themselves
    observation, reward, terminated, truncated, info = env.step(f"<tool_call>{body}</tool_call>")
    _assert_all_valid(observation, info, env.render())
    sent = (
        info["messages"][-2]["tool_calls"][0]["function"]["arguments"] if "tool_calls" in info["messages"][-2] else None
    )
    if sent is not None:
        assert sent[argument] == "a\ufffdb\ufffd"
    # The episode goes on and ends with its reward, as for any other turn.
    observation, reward, terminated, truncated, info = env.step(f"\\boxed{{{LONE_HIGH}}} {LONE_LOW}")
    assert terminated and info["final_answer"] == "\ufffd"
    _assert_all_valid(observation, info, env.render())
    env.close()


@pytest.mark.parametrize(
    "action",
    [
        '<tool_call>{"name": "\\ud800", "arguments": {}}</tool_call>',
        '<tool_call>{"name": "add", "arguments": "{\\"a\\": \\"\\\\ud800\\"}"}</tool_call>',
        '<tool_call>{"name": "add", "arguments": {"\\udfff": 1}}</tool_call>',
        '<tool_call>{"name": "add\ud800", "arguments": {"a": 1}',
        "\ud800<think>\udfff</think>\\boxed{\ud800",
        "x" * 10 + "\ud800" * 100_000,  # longer than an action may be
    ],
    ids=["tool-name", "arguments-as-string", "argument-name", "broken-call", "raw-characters", "too-long"],
)
def test_a_lone_surrogate_anywhere_in_a_turn_leaves_everything_valid(action: str) -> None:
    env = gym.make("mentor/Calc-v0", render_mode="ansi")
    env.reset(seed=0)
    observation, reward, terminated, truncated, info = env.step(action)
    _assert_all_valid(observation, info, env.render())


def test_a_chat_template_takes_the_messages_after_a_surrogate_turn(tiny_student_path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_student_path)
    env = gym.make("mentor/Calc-v0")
    env.reset(seed=0)
    info = env.step('<tool_call>{"name": "add", "arguments": {"a": "\\ud800", "b": 2}}</tool_call>')[4]
    ids = tokenizer.apply_chat_template(
        info["messages"], tools=info["tools"], tokenize=True, add_generation_prompt=True
    )
    assert len(ids) > 0
