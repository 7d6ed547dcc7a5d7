"""Arguments that JSON cannot hold, or too many of them, are typed errors, and checking them is part of the call's time."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pytest

from mentor_env.core.tools import (
    MAX_ARGUMENT_CHARS,
    MAX_ARGUMENT_DIGITS,
    MAX_ARGUMENT_ITEMS,
    Tool,
    ToolRuntime,
    argument_problem,
    object_schema,
)
from mentor_env.domains.calc.tools import TOOLS as CALC_TOOLS
from tests.conftest import nested_list

CALC = ToolRuntime(CALC_TOOLS)


def test_the_limits() -> None:
    assert (MAX_ARGUMENT_ITEMS, MAX_ARGUMENT_CHARS, MAX_ARGUMENT_DIGITS) == (10_000, 100_000, 64)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"a": 10**5000, "b": 1}, "an integer argument has more than 64 digits; numbers must be smaller"),
        ({"a": -(10**64), "b": 1}, "an integer argument has more than 64 digits; numbers must be smaller"),
        ({"a": complex(1, 2), "b": 1}, "an argument is a complex number, which JSON does not have; send a real number"),
        ({"a": math.nan, "b": 1}, "an argument is nan, which is not a JSON number; send a finite number"),
        ({"a": -math.inf, "b": 1}, "an argument is -inf, which is not a JSON number; send a finite number"),
        ({"a": np.float64("inf"), "b": 1}, "an argument is inf, which is not a JSON number; send a finite number"),
        ({"a": [[[10**100]]], "b": 1}, "an integer argument has more than 64 digits; numbers must be smaller"),
        ({"a": "x" * 100_001}, "the arguments' strings hold more than 100,000 characters; send less"),
        ({"a": list(range(10_000))}, "the arguments hold more than 10,000 values; send less"),
        ({"a": nested_list(5_000), "b": 1}, "the arguments are nested deeper than 32 levels; send a flatter value"),
        ({"a": nested_list(31)}, "the arguments are nested deeper than 32 levels; send a flatter value"),
    ],
    ids=[
        "10**5000",
        "64-digits",
        "complex",
        "nan",
        "-inf",
        "numpy-inf",
        "nested-huge",
        "long-string",
        "10k-values",
        "5000-deep",
        "33-deep",
    ],  # fmt: skip
)
def test_argument_problem(arguments: dict[str, Any], message: str) -> None:
    assert argument_problem(arguments) == message
    result = CALC.execute("add", arguments)
    assert result.error_category == "invalid_args" and result.content == message


@pytest.mark.parametrize(
    "arguments",
    [
        {"a": 10**63, "b": 1},
        {"a": np.int64(3), "b": np.float64(2.5)},
        {"a": 1.5e300, "b": -2},
        {"a": True, "b": None, "c": {"d": ["x" * 1000]}},
        {"a": nested_list(30)},  # the arguments object and 31 lists inside it: 32 levels, as deep as allowed
    ],
)
def test_json_values_within_the_limits_pass(arguments: dict[str, Any]) -> None:
    assert argument_problem(arguments) is None


def test_numpy_numbers_reach_the_tool() -> None:
    assert CALC.execute("add", {"a": np.int64(2), "b": np.float64(0.5)}).content == "2.5"


def test_a_million_numbers_are_refused_at_once() -> None:
    started = time.perf_counter()
    result = CALC.execute("sum_numbers", {"numbers": list(range(1_000_000))})
    assert time.perf_counter() - started < 1.0  # measured: about 1 ms (the count stops at 10,000 values)
    assert result.error_category == "invalid_args"
    assert result.content == "the arguments hold more than 10,000 values; send less"


def test_checking_the_arguments_is_part_of_the_calls_time() -> None:
    # A schema the fast check does not take (uniqueItems), so jsonschema checks 9,000 items: that alone is
    # longer than a limit of 1 microsecond, and the call is reported as over its limit, never run.
    ran: list[Any] = []
    schema = object_schema({"value": {"type": "array", "uniqueItems": True, "items": {"type": "number"}}})
    tool = Tool("echo", "Echo.", schema, lambda value: ran.append(value) or "ran")
    result = ToolRuntime([tool], timeout_s=1e-6).execute("echo", {"value": list(range(9_000))})
    assert result.error_category == "timeout" and result.content == "echo did not finish within 0 s"
    assert ran == []
    assert result.charged_s == 1e-6
