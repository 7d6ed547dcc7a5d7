"""Hostile and malformed actions: ``step`` must answer every one with a typed error, never raise.

The environment contract: bad input never raises out of ``step``;
it becomes an error observation recorded in ``info["errors"]`` as
``"category: message"``, the episode goes on, and nothing the model wrote is
ever executed. Each case below names the category the code should report
first; the expectations were written from the contract and the code, not
copied from a run.
"""

from __future__ import annotations

import builtins
import json
import math
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mentor_env.core.tools import ERROR_CATEGORIES, Tool, ToolRuntime
from mentor_env.domains.calc.tools import TOOL_NAMES
from tests.conftest import SMALL_TASK, call, raw

# A step that takes longer than this on hostile input counts as a hang.
HANG_LIMIT_S = 5.0
# The correct episode played after every hostile turn to show the env still works.
RECOVERY = [call("add", a=2, b=3), call("multiply", a=5, b=4), "\\boxed{20}"]

ADD_ARGS = '"arguments": {"a": 2, "b": 3}'


def padded_to(text: str, length: int) -> str:
    """``text`` padded with spaces to exactly ``length`` characters."""
    return text + " " * (length - len(text))


# id -> (action, category of info["errors"][0]). Every action contains tool
# markup or is not a str, so the turn is a tool turn and the episode continues.
CASES: dict[str, tuple[Any, str]] = {
    # --- broken structure: the parser reports it -------------------------
    "broken-json": (raw('{"name": "add", "arguments": {"a": 2, "b": }}'), "parse_error"),
    "truncated-json": (raw('{"name": "add", "arguments": {"a": 2'), "parse_error"),
    "single-quoted-json": (raw("{'name': 'add', 'arguments': {'a': 2, 'b': 3}}"), "parse_error"),
    "trailing-comma": (raw('{"name": "add", "arguments": {"a": 2, "b": 3,}}'), "parse_error"),
    "empty-call-block": ("<tool_call></tool_call>", "parse_error"),
    "unclosed-tool-call": ('<tool_call>{"name": "add", ' + ADD_ARGS + "}", "parse_error"),
    "stray-close-tag": ("Let me add them. </tool_call>", "parse_error"),
    "close-before-open": ("</tool_call>" + call("add", a=2, b=3), "parse_error"),
    # The outer block is interrupted by a second opening tag: reported first.
    "nested-tags": ('<tool_call><tool_call>{"name": "add", ' + ADD_ARGS + "}</tool_call></tool_call>", "parse_error"),
    # An unclosed <think> runs to the end, leaving an unclosed call visible.
    "interleaved-think": ('<tool_call>{"name": "add", <think>' + ADD_ARGS + "}</tool_call></think>", "parse_error"),
    "hidden-call-then-broken-call": (
        '<think><tool_call>{"name": "add", ' + ADD_ARGS + '}</tool_call></think><tool_call>{"name": "add"</tool_call>',
        "parse_error",
    ),
    "json-list": (raw('[{"name": "add", ' + ADD_ARGS + "}]"), "parse_error"),
    "json-string": (raw('"add"'), "parse_error"),
    "json-number": (raw("42"), "parse_error"),
    "json-null": (raw("null"), "parse_error"),
    "missing-name": (raw("{" + ADD_ARGS + "}"), "parse_error"),
    "name-not-string": (raw('{"name": 42, ' + ADD_ARGS + "}"), "parse_error"),
    "name-is-list": (raw('{"name": ["add"], ' + ADD_ARGS + "}"), "parse_error"),
    "name-empty": (raw('{"name": "", ' + ADD_ARGS + "}"), "parse_error"),
    "arguments-is-list": (raw('{"name": "add", "arguments": [2, 3]}'), "parse_error"),
    # "arguments" as a JSON string (OpenAI style) is decoded, then judged like an object.
    "arguments-string-valid-json-bad-type": (
        raw(json.dumps({"name": "add", "arguments": json.dumps({"a": "2", "b": 3})})),
        "invalid_args",
    ),
    "arguments-string-valid-json-list": (raw(json.dumps({"name": "add", "arguments": "[2, 3]"})), "parse_error"),
    "arguments-string-invalid-json": (raw(json.dumps({"name": "add", "arguments": "{a: 2, b: 3}"})), "parse_error"),
    "arguments-string-nan": (raw(json.dumps({"name": "add", "arguments": '{"a": NaN, "b": 1}'})), "parse_error"),
    "python-code-as-body": (raw("__import__('os').system('echo hacked')"), "parse_error"),
    # --- numbers the strict JSON reader refuses --------------------------
    "gigantic-int-5000-digits": (raw('{"name": "add", "arguments": {"a": ' + "9" * 5000 + ', "b": 1}}'), "parse_error"),
    "int-65-digits": (raw('{"name": "add", "arguments": {"a": 1' + "0" * 64 + ', "b": 1}}'), "parse_error"),
    "float-1e999": (raw('{"name": "add", "arguments": {"a": 1e999, "b": 1}}'), "parse_error"),
    "nan-literal": (raw('{"name": "add", "arguments": {"a": NaN, "b": 1}}'), "parse_error"),
    "infinity-literal": (raw('{"name": "add", "arguments": {"a": Infinity, "b": 1}}'), "parse_error"),
    "minus-infinity-literal": (raw('{"name": "sqrt", "arguments": {"x": -Infinity}}'), "parse_error"),
    # Unclosed so that the block stays under the call-length limit and the depth check is what refuses it.
    "deep-nesting-10000": (raw('{"name": "add", "arguments": {"a": ' + "[" * 10_000 + "}}"), "parse_error"),
    # 10,000 numbers make a call block longer than the parser's per-call limit.
    "sum-numbers-10000-items": (call("sum_numbers", numbers=[1] * 10_000), "parse_error"),
    # --- names that are not tools -----------------------------------------
    "unknown-tool": (call("calculator", expression="(2+3)*4"), "not_found"),
    "duplicate-name-key-last-wins": (raw('{"name": "add", "name": "rm", ' + ADD_ARGS + "}"), "not_found"),
    "path-in-name": (call("../../../bin/sh", a=2, b=3), "not_found"),
    "shell-in-name": (call("add; rm -rf / #", a=2, b=3), "not_found"),
    "command-substitution-name": (call("$(echo hacked)", a=2, b=3), "not_found"),
    "dunder-name": (call("__class__", a=2, b=3), "not_found"),
    "exec-tool": (call("exec", code="import os; os.system('echo hacked')"), "not_found"),
    "python-code-as-name": (call("__import__('os').system('echo hacked')"), "not_found"),
    "nul-in-name": (call("ad\x00d", a=2, b=3), "not_found"),
    "control-chars-in-name": (call("add\n\t\r\x1b[31m\x7f", a=2, b=3), "not_found"),
    "homoglyph-name": (call("\u0430dd", a=2, b=3), "not_found"),  # Cyrillic a
    "rtl-override-name": (call("\u202eadd", a=2, b=3), "not_found"),
    "lone-surrogate-name": (call("\ud800", a=2, b=3), "not_found"),
    "emoji-name": (call("\u2795\U0001f9ee", a=2, b=3), "not_found"),
    "uppercase-name": (call("ADD", a=2, b=3), "not_found"),
    "very-long-name": (call("a" * 5_000, a=2, b=3), "not_found"),
    "fake-tool-response-then-call": ("<tool_response>20</tool_response>" + call("solve", q="x"), "not_found"),
    # --- arguments the schema refuses -------------------------------------
    "string-for-number": (call("add", a="2", b=3), "invalid_args"),
    "list-for-number": (call("add", a=[2], b=3), "invalid_args"),
    "object-for-number": (call("add", a={"value": 2}, b=3), "invalid_args"),
    "null-for-number": (call("add", a=None, b=3), "invalid_args"),
    "bool-for-number": (call("add", a=True, b=3), "invalid_args"),
    "string-1e999-for-number": (call("add", a="1e999", b=1), "invalid_args"),
    "missing-argument": (call("add", a=2), "invalid_args"),
    "no-arguments-key": (raw('{"name": "add"}'), "invalid_args"),
    "extra-argument": (call("add", a=2, b=3, c=4), "invalid_args"),
    "dunder-argument": (call("add", a=2, b=3, __class__=1, self=0), "invalid_args"),
    "float-1e308": (call("add", a=1e308, b=1), "invalid_args"),
    "int-64-digits": (call("add", a=10**63, b=1), "invalid_args"),
    "power-10-to-1e9": (call("power", base=10, exponent=10**9), "invalid_args"),
    "power-2.5-to-200": (call("power", base=2.5, exponent=200), "invalid_args"),
    "sum-numbers-empty": (call("sum_numbers", numbers=[]), "invalid_args"),
    "sum-numbers-101-items": (call("sum_numbers", numbers=[1] * 101), "invalid_args"),
    "sum-numbers-string": (call("sum_numbers", numbers="1,2,3"), "invalid_args"),
    "round-decimals-1e9": (call("round_number", x=3.14159, decimals=1e9), "invalid_args"),
    "round-decimals-negative": (call("round_number", x=3.14159, decimals=-3), "invalid_args"),
    "python-code-in-argument": (call("add", a="__import__('os').system('echo hacked')", b=1), "invalid_args"),
    "exec-in-argument": (call("sqrt", x="exec('import os; os.system(\"echo hacked\")')"), "invalid_args"),
    "nested-25-levels-in-argument": (call("add", a=json.loads("[" * 25 + "]" * 25), b=1), "invalid_args"),
    "lone-surrogate-before-call": ("\ud800" + call("add", a="x", b=1), "invalid_args"),
    # --- valid shapes, impossible math: the tool refuses ------------------
    "power-10-to-60": (call("power", base=10, exponent=60), "execution_error"),
    "power-tiny-base-negative-exponent": (call("power", base=1e-12, exponent=-64), "execution_error"),
    "power-zero-negative": (call("power", base=0, exponent=-1), "execution_error"),
    "power-negative-fractional": (call("power", base=-8, exponent=0.5), "execution_error"),
    "sqrt-negative": (call("sqrt", x=-1), "execution_error"),
    "divide-by-zero": (call("divide", a=1, b=0), "execution_error"),
    "divide-by-minus-zero-float": (call("divide", a=1.0, b=-0.0), "execution_error"),
    "divide-by-tiny": (call("divide", a=1, b=1e-300), "execution_error"),
    "modulo-by-zero": (call("modulo", a=5, b=0), "execution_error"),
    "multiply-overflow": (call("multiply", a=1e12, b=1e12), "execution_error"),
    "nul-bytes-around-call": ("\x00" * 100 + call("divide", a=1, b=0) + "\x00", "execution_error"),
    # Thousands of unclosed \boxed{ after a call: the answer search must stay cheap.
    "unclosed-boxed-flood": (call("sqrt", x=-1) + "\\boxed{" * 6_000, "execution_error"),
    # --- the turn itself is refused ---------------------------------------
    "megabyte-action-2000000-chars": (padded_to(call("add", a=2, b=3), 2_000_000), "invalid_action"),
    "action-one-over-limit": (padded_to(call("add", a=2, b=3), 65_537), "invalid_action"),
    "action-none": (None, "invalid_action"),
    "action-int": (42, "invalid_action"),
    "action-bytes": (b"bytes", "invalid_action"),
    "action-bytes-with-call": (call("add", a=2, b=3).encode(), "invalid_action"),
    "action-dict": ({"name": "add", "arguments": {"a": 2, "b": 3}}, "invalid_action"),
    "action-list": ([call("add", a=2, b=3)], "invalid_action"),
    # 100 valid calls: the first 16 (max_calls_per_turn) run, the rest are refused.
    "100-calls-in-one-turn": (call("add", a=1, b=1) * 100, "invalid_action"),
    # Many broken blocks: every one is reported, the first as a parse error.
    "5000-unclosed-open-tags": ("<tool_call>" * 5_000, "parse_error"),
    "5000-stray-close-tags": ("</tool_call>" * 5_000, "parse_error"),
}


def fresh_env(**kwargs: Any) -> gym.Env:
    env = gym.make("mentor/Calc-v0", **kwargs)
    env.reset(seed=0, options={"task": SMALL_TASK})
    return env


@pytest.mark.parametrize("action, category", list(CASES.values()), ids=list(CASES))
def test_hostile_action_is_answered_with_a_typed_error(action: Any, category: str) -> None:
    env = fresh_env()
    started = time.perf_counter()
    obs, reward, terminated, truncated, info = env.step(action)
    elapsed = time.perf_counter() - started

    assert elapsed < HANG_LIMIT_S, f"step took {elapsed:.1f} s on hostile input"
    assert info["errors"], "a hostile turn must be recorded in info['errors']"
    assert info["errors"][0].split(":", 1)[0] == category, info["errors"][0][:300]
    assert all(error.split(":", 1)[0] in ERROR_CATEGORIES for error in info["errors"])
    assert isinstance(obs, str) and "Error (" in obs
    assert env.observation_space.contains(obs)
    assert not terminated and not truncated
    assert info["turn"] == 1
    assert isinstance(reward, float) and math.isfinite(reward)

    # The environment is not left in a broken state: a correct episode still finishes and scores.
    for step_action in RECOVERY:
        obs, reward, terminated, truncated, info = env.step(step_action)
        assert env.observation_space.contains(obs)
    assert terminated and not truncated
    assert info["turn"] == 1 + len(RECOVERY)
    assert info["reward_components"]["correct"] == 1.0


def test_only_max_calls_per_turn_are_executed() -> None:
    env = fresh_env()
    obs, _, _, _, info = env.step(call("add", a=1, b=1) * 100)
    limit = env.unwrapped.max_calls_per_turn
    # One response per executed call, then a single refusal for the rest (a flood of
    # calls must not flood the conversation).
    assert obs.count("<tool_response>") == limit + 1
    assert info["errors"] == [f"invalid_action: at most {limit} tool calls per turn; {100 - limit} more were not run"]
    assert sum(1 for m in info["messages"] if m["role"] == "tool" and m["content"] == "2") == limit


def test_arguments_as_a_valid_json_string_are_accepted() -> None:
    # The counterpart of the "arguments-string-*" cases: a well-formed OpenAI-style string works.
    env = fresh_env()
    obs, _, terminated, _, info = env.step(raw(json.dumps({"name": "add", "arguments": json.dumps({"a": 2, "b": 3})})))
    assert info["errors"] == [] and not terminated
    assert "<tool_response>\n5\n</tool_response>" in obs


@pytest.mark.parametrize(
    "action, expected",
    [
        # JSON Schema counts 2.0 as an integer, so the tool must accept it as 2 decimal places.
        (call("round_number", x=3.14159, decimals=2.0), "3.14"),
        (call("round_number", x=1e12, decimals=10), "1000000000000"),
        (call("power", base=-8, exponent=3.0), "-512"),
        (call("sum_numbers", numbers=[1e12] * 100), "100000000000000"),
    ],
    ids=[
        "round-decimals-2.0",
        "round-largest-x-most-decimals",
        "power-negative-base-float-exponent",
        "sum-100-largest",
    ],
)
def test_schema_valid_edge_arguments_run(action: str, expected: str) -> None:
    # Arguments the schema accepts must reach a result, not crash inside the tool.
    env = fresh_env()
    obs, _, _, _, info = env.step(action)
    assert info["errors"] == [], info["errors"]
    assert f"<tool_response>\n{expected}\n</tool_response>" in obs


def test_no_hostile_action_runs_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "pwned"
    touch = f"touch {target}"
    py_touch = f"open({str(target)!r}, 'w').write('x')"
    payloads: list[str] = [
        call("add", a=f"__import__('os').system({touch!r})", b=1),
        call("add", a=f"$({touch})", b=f"`{touch}`"),
        call("exec", code=py_touch),
        call("eval", expression=py_touch),
        call("__import__", module="os"),
        call(f"__import__('os').system({touch!r})", a=1, b=1),
        call(f"add; {touch}", a=1, b=1),
        call("round_number", x=py_touch, decimals=2),
        call("sum_numbers", numbers=[py_touch]),
        raw(f"__import__('os').system({touch!r})"),
        raw(json.dumps({"name": "add", "arguments": py_touch})),
        f"<think>{py_touch}</think>" + call("add", a=py_touch, b=1),
    ]
    # Fail loudly if the env reaches for a shell or an evaluator while stepping.
    reached: list[str] = []

    def forbidden(what: str) -> Any:
        def trap(*args: Any, **kwargs: Any) -> Any:
            reached.append(what)
            raise AssertionError(f"{what} called while stepping a hostile action")

        return trap

    env = fresh_env(max_turns=len(payloads) + 2)
    with monkeypatch.context() as patched:
        for name in ("system", "popen", "execv", "execvp", "spawnv"):
            patched.setattr(os, name, forbidden(f"os.{name}"))
        patched.setattr(subprocess, "Popen", forbidden("subprocess.Popen"))
        patched.setattr(builtins, "eval", forbidden("eval"))
        patched.setattr(builtins, "exec", forbidden("exec"))
        for payload in payloads:
            _, _, terminated, _, info = env.step(payload)
            assert info["errors"] and not terminated
        # The final answer is judged as a number, never evaluated.
        _, _, terminated, _, info = env.step(f"\\boxed{{__import__('os').system({touch!r})}}")
    assert terminated and info["reward_components"]["correct"] == 0.0
    assert reached == []
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def _slow_tool(seconds: float) -> Tool:
    return Tool("slow", "Sleeps.", {"type": "object", "properties": {}}, lambda: time.sleep(seconds))


def test_a_call_that_returns_after_its_limit_is_a_timeout() -> None:
    # An ordinary tool runs in the caller's thread; one that overruns is reported, its result dropped.
    runtime = ToolRuntime([_slow_tool(0.3)], timeout_s=0.1)
    result = runtime.execute("slow", {})
    assert result.error == "timeout: slow did not finish within 0.1 s"

    # The same from a worker thread, and a caller's budget smaller than timeout_s wins.
    runtime = ToolRuntime([_slow_tool(0.3)], timeout_s=5.0)
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(runtime.execute("slow", {}, 0.1)))
    worker.start()
    worker.join(2.0)
    assert outcome and outcome[0].error == "timeout: slow did not finish within 0.1 s"


# --- properties ----------------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        "<tool_call>",
        "</tool_call>",
        "<think>",
        "</think>",
        "<tool_response>",
        "\\boxed{",
        "}",
        "{",
        '{"name": "add", "arguments": {',
        '"a": ',
        '"b": ',
        ", ",
        '"',
        "NaN",
        "Infinity",
        "\x00",
        "\n",
    ]
)
NUMBER_TEXT = st.one_of(
    st.integers(min_value=-(10**80), max_value=10**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
ACTION_TEXT = st.lists(st.one_of(FRAGMENTS, st.text(max_size=30), NUMBER_TEXT), max_size=16).map("".join)
# Mostly text, now and then something that is not a str at all.
ANY_ACTION = st.one_of(ACTION_TEXT, ACTION_TEXT, ACTION_TEXT, st.none(), st.integers(), st.binary(max_size=20))

# One environment reused across examples (reset each time): making one per example is slower.
_PROPERTY_ENV = gym.make("mentor/Calc-v0", max_turns=8)


@settings(max_examples=300, deadline=None)
@given(actions=st.lists(ANY_ACTION, min_size=1, max_size=5))
def test_random_text_actions_never_raise(actions: list[Any]) -> None:
    env = _PROPERTY_ENV
    _, info = env.reset(seed=0, options={"task": SMALL_TASK})
    seen_messages = len(info["messages"])
    for turn, action in enumerate(actions, start=1):
        obs, reward, terminated, truncated, info = env.step(action)
        assert isinstance(obs, str) and env.observation_space.contains(obs)
        assert info["turn"] == turn
        assert len(info["messages"]) >= seen_messages
        seen_messages = len(info["messages"])
        assert math.isfinite(reward)
        assert all(error.split(":", 1)[0] in ERROR_CATEGORIES for error in info["errors"])
        if terminated or truncated:
            break


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**70), max_value=10**70),  # past the 64-digit limit, short of Python's str limit
    st.floats(allow_nan=True, allow_infinity=True),  # json.dumps writes NaN / Infinity literals
    st.text(max_size=20),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)
PARAMETER_NAMES = st.sampled_from(["a", "b", "x", "numbers", "base", "exponent", "decimals", "c", ""])


@st.composite
def arguments_values(draw: st.DrawFn) -> Any:
    """Whole random "arguments", or real parameter names with random values, possibly JSON-encoded."""
    value = draw(st.one_of(JSON_VALUES, st.dictionaries(PARAMETER_NAMES, JSON_VALUES, max_size=3)))
    return json.dumps(value) if draw(st.booleans()) and draw(st.booleans()) else value


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(TOOL_NAMES), arguments=arguments_values())
def test_random_json_arguments_never_raise(name: str, arguments: Any) -> None:
    env = _PROPERTY_ENV
    env.reset(seed=0, options={"task": SMALL_TASK})
    action = raw(json.dumps({"name": name, "arguments": arguments}))
    obs, reward, terminated, truncated, info = env.step(action)
    assert isinstance(obs, str) and env.observation_space.contains(obs)
    assert not terminated and not truncated  # a tool turn, well-formed or not
    assert info["turn"] == 1 and math.isfinite(reward)
    # One block, one error at most; unless the arguments themselves hold call tags
    # (the string "<tool_call>"), which split the turn into more blocks.
    assert len(info["errors"]) <= action.count("<tool_call>") + action.count("</tool_call>") - 1
    assert all(error.split(":", 1)[0] in ERROR_CATEGORIES for error in info["errors"])
    if info["errors"]:
        assert "Error (" in obs
