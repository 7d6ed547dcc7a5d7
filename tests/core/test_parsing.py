"""The Hermes parser: calls, reasoning, broken blocks and final answers."""

from __future__ import annotations

import random

import pytest

from mentor_env.core.parsing import (
    MAX_CALL_CHARS,
    HermesParser,
    _json_depth_exceeds,
    format_tool_call,
    last_boxed,
    parse_call_block,
    strip_reasoning,
)
from tests.timing import cpu_time_bound

parse = HermesParser().parse


def test_several_calls_in_one_turn_with_text_around():
    turn = parse(
        'First the sums.\n<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>\n'
        '<tool_call>{"name": "sum_numbers", "arguments": {"numbers": [1, 2.5, 3]}}</tool_call>'
    )
    assert [(c.name, c.arguments, c.error) for c in turn.calls] == [
        ("add", {"a": 1, "b": 2}, None),
        ("sum_numbers", {"numbers": [1, 2.5, 3]}, None),
    ]
    assert turn.content == "First the sums."
    assert turn.has_tool_markup and turn.final_answer is None and not turn.malformed


def test_calls_inside_reasoning_are_not_calls():
    turn = parse('<think>maybe <tool_call>{"name": "add", "arguments": {}}</tool_call></think>\\boxed{3}')
    assert turn.calls == () and not turn.has_tool_markup
    assert turn.final_answer == "3"


def test_arguments_as_a_json_string_are_accepted():
    turn = parse('<tool_call>{"name": "add", "arguments": "{\\"a\\": 1, \\"b\\": 2}"}</tool_call>')
    assert turn.calls[0].arguments == {"a": 1, "b": 2}


def test_missing_arguments_mean_an_empty_object():
    assert parse('<tool_call>{"name": "add"}</tool_call>').calls[0].arguments == {}


@pytest.mark.parametrize(
    "text, name, message",
    [
        ('<tool_call>{"name": "add", "arguments": {"a": 1,}}</tool_call>', "add", "not valid JSON"),
        ('<tool_call>{"name": "add", "arguments": {"a": 1}}', "add", "is not closed"),
        (
            '<tool_call>{"name": "add" <tool_call>{"name": "sqrt", "arguments": {"x": 4}}</tool_call>',
            "add",
            "is not closed",
        ),
        ('{"name": "add"}</tool_call>', None, "without a matching"),
        ("<tool_call>[1, 2]</tool_call>", None, "expected a JSON object"),
        ('<tool_call>{"arguments": {}}</tool_call>', None, 'no "name"'),
        ('<tool_call>{"name": "add", "arguments": [1, 2]}</tool_call>', "add", "must be a JSON object"),
        ('<tool_call>{"name": "add", "arguments": {"a": NaN, "b": 1}}</tool_call>', "add", "not valid JSON"),
        ('<tool_call>{"name": "add", "arguments": {"a": Infinity, "b": 1}}</tool_call>', "add", "not valid JSON"),
        ('<tool_call>{"name": "add", "arguments": {"a": 1e999, "b": 1}}</tool_call>', "add", "overflows"),
        ('<tool_call>{"name": "add", "arguments": {"a": ' + "9" * 500 + ', "b": 1}}</tool_call>', "add", "too large"),
        ("<tool_call>" + "[" * 5000 + "</tool_call>", None, "nested deeper"),
    ],
)
def test_broken_blocks_are_reported_with_the_readable_name(text, name, message):
    turn = parse(text)
    assert turn.has_tool_markup
    assert len(turn.calls) >= 1
    broken = turn.calls[0]
    assert broken.name == name and broken.arguments is None
    assert message in broken.error


def test_second_block_after_an_interrupted_one_still_parses():
    turn = parse('<tool_call>{"name": "add" <tool_call>{"name": "sqrt", "arguments": {"x": 4}}</tool_call>')
    assert [c.ok for c in turn.calls] == [False, True]
    assert turn.calls[1].arguments == {"x": 4}


def test_faked_tool_response_is_malformed():
    assert parse("<tool_response>5</tool_response>\\boxed{5}").malformed


@pytest.mark.parametrize(
    "text, answer",
    [
        ("\\boxed{12}", "12"),
        ("a \\boxed{1} then \\boxed{2}", "2"),
        ("\\boxed{\\frac{24}{2}}", "\\frac{24}{2}"),
        ("\\boxed{3} and an unclosed \\boxed{4", "3"),
        ("\\boxed{}", None),
        ("\\boxed{  }", None),
        ("no answer", None),
    ],
)
def test_last_boxed(text, answer):
    assert last_boxed(text) == answer


def test_strip_reasoning_handles_unclosed_think():
    assert strip_reasoning("a<think>b</think>c<think>d") == "ac"


def test_format_tool_call_round_trips():
    text = format_tool_call("round_number", {"x": 2.345, "decimals": 2})
    (parsed,) = parse(text).calls
    assert (parsed.name, parsed.arguments) == ("round_number", {"x": 2.345, "decimals": 2})


# --- linear time on floods of tags, and what such floods parse to ---------------------

UNCLOSED = "<tool_call> is not closed with </tool_call>"
STRAY = "found </tool_call> without a matching <tool_call>"


@pytest.mark.parametrize(
    "text, calls, content",
    [
        ("<tool_call>" * 3, [(None, UNCLOSED, "")] * 3, ""),
        ("</tool_call>" * 2 + "x", [(None, STRAY, "")] * 2, "x"),
        (
            "a<tool_call></tool_call>b</tool_call>",
            [(None, "the tool call is not valid JSON", ""), (None, STRAY, "")],
            "ab",
        ),
        (
            '<tool_call>{"name": "add"<tool_call>{"name": "sqrt", "arguments": {"x": 4}}</tool_call></tool_call>',
            [
                ("add", UNCLOSED, '{"name": "add"'),
                ("sqrt", None, '{"name": "sqrt", "arguments": {"x": 4}}'),
                (None, STRAY, ""),
            ],
            "",
        ),
        (
            '</tool_call>x<tool_call>{"name": "floor", "arguments": {"x": 1.5}}</tool_call>y<tool_call>{"name": "ceil"',
            [
                (None, STRAY, ""),
                ("floor", None, '{"name": "floor", "arguments": {"x": 1.5}}'),
                ("ceil", UNCLOSED, '{"name": "ceil"'),
            ],
            "xy",
        ),
    ],
)
def test_floods_of_tags_parse_block_by_block(text, calls, content):
    turn = parse(text)
    assert [(call.name, call.error and call.error.split(" (")[0], call.raw) for call in turn.calls] == calls
    assert turn.content == content and turn.has_tool_markup


@pytest.mark.parametrize(
    "unit",
    [
        "<tool_call>",
        "</tool_call>",
        "<tool_call></tool_call>",
        '<tool_call>{"name": "a',
        "<think>",
        "</think>",
        "\\boxed{",
        "{[",
        '"\\',
    ],
)
def test_parsing_is_linear_in_the_length(unit):
    # 200,000 characters of one repeated piece: the quadratic parser took minutes on "<tool_call>" floods.
    text = unit * (200_000 // len(unit))
    with cpu_time_bound(1.0):  # measured: 0.02 s
        turn = parse(text)
        parse_call_block(text[:MAX_CALL_CHARS])
    assert turn.final_answer is None


def _reference_depth_exceeds(text: str, limit: int) -> bool:
    """The scan ``_json_depth_exceeds`` must agree with: one character at a time."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def test_json_depth_scan_agrees_with_a_character_by_character_scan():
    rng = random.Random(7)
    alphabet = '[]{}"\\ a\n'
    cases = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(20_000)]
    cases += ['"[[[', '"\\"[[[', '"\\\\"[[[', "]]][[[[", '{"a": "[[[[[["}', "[" * 33, "[" * 32 + "]" + "[", '"\\']
    for text in cases:
        for limit in (0, 1, 2, 5, 32):
            assert _json_depth_exceeds(text, limit) == _reference_depth_exceeds(text, limit), (text, limit)


def test_a_byte_order_mark_is_refused_as_json_loads_refuses_it():
    (block,) = parse('<tool_call>\ufeff{"name": "add", "arguments": {}}</tool_call>').calls
    assert block.name == "add" and block.arguments is None
    assert (
        block.error
        == "the tool call is not valid JSON (Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0))"
    )
