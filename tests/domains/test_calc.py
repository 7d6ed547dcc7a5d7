"""The Calc domain: tools, judge, generator and scripted teacher."""

from __future__ import annotations

from collections import Counter

import pytest

from mentor_env.core.tools import ToolRuntime
from mentor_env.domains.calc import CalcDomain
from mentor_env.domains.calc.expressions import leaf, op
from mentor_env.domains.calc.tools import TOOL_NAMES, TOOLS

runtime = ToolRuntime(TOOLS)


def test_the_twelve_published_tool_names():
    assert TOOL_NAMES == (
        "add", "subtract", "multiply", "divide", "sum_numbers", "floor",
        "ceil", "round_number", "power", "sqrt", "abs_value", "modulo",
    )  # fmt: skip


@pytest.mark.parametrize(
    "name, arguments, shown",
    [
        ("add", {"a": 2, "b": 3}, "5"),
        ("add", {"a": 0.1, "b": 0.2}, "0.3"),
        ("subtract", {"a": 2, "b": 7.5}, "-5.5"),
        ("multiply", {"a": 12, "b": 0.25}, "3"),
        ("divide", {"a": 10, "b": 4}, "2.5"),
        ("divide", {"a": 10, "b": 3}, "3.33333333333"),
        ("sum_numbers", {"numbers": [1, 2, 3, 4.5]}, "10.5"),
        ("floor", {"x": -2.5}, "-3"),
        ("ceil", {"x": 2.1}, "3"),
        ("round_number", {"x": 2.5}, "3"),
        ("round_number", {"x": 2.675, "decimals": 2}, "2.68"),
        ("round_number", {"x": -1.25, "decimals": 1}, "-1.3"),
        ("power", {"base": 2, "exponent": 10}, "1024"),
        ("power", {"base": 1.05, "exponent": 2}, "1.1025"),
        ("power", {"base": 4, "exponent": -1}, "0.25"),
        ("sqrt", {"x": 144}, "12"),
        ("sqrt", {"x": 2}, "1.41421356237"),
        ("abs_value", {"x": -7}, "7"),
        ("modulo", {"a": 17, "b": 5}, "2"),
    ],
)
def test_tool_results(name, arguments, shown):
    result = runtime.execute(name, arguments)
    assert result.ok, result.content
    assert result.content == shown


@pytest.mark.parametrize(
    "name, arguments, category, message",
    [
        ("divide", {"a": 1, "b": 0}, "execution_error", "division by zero"),
        ("modulo", {"a": 1, "b": 0}, "execution_error", "modulo by zero"),
        ("sqrt", {"x": -4}, "execution_error", "not real"),
        ("power", {"base": 10, "exponent": 60}, "execution_error", "outside the supported range"),
        ("power", {"base": 10, "exponent": 10**9}, "invalid_args", "is greater than the maximum of 64"),
        ("power", {"base": 0, "exponent": -1}, "execution_error", "negative power"),
        ("power", {"base": -8, "exponent": 0.5}, "execution_error", "whole-number exponent"),
        ("multiply", {"a": 1e12, "b": 1e12}, "execution_error", "outside the supported range"),
        ("add", {"a": 1e13, "b": 1}, "invalid_args", "is greater than the maximum"),
        ("add", {"a": "2", "b": 3}, "invalid_args", "is not of type 'number'"),
        ("add", {"a": True, "b": 3}, "invalid_args", "is not of type 'number'"),
        ("add", {"a": 2}, "invalid_args", "'b' is a required property"),
        ("add", {"a": 2, "b": 3, "c": 4}, "invalid_args", "Additional properties are not allowed"),
        ("sum_numbers", {"numbers": []}, "invalid_args", "should be non-empty"),
        ("sum_numbers", {"numbers": list(range(101))}, "invalid_args", "is too long"),
        ("round_number", {"x": 1.5, "decimals": 1.5}, "invalid_args", "is not of type 'integer'"),
        ("solve", {"x": 1}, "not_found", "there is no tool named 'solve'"),
    ],
)
def test_tool_errors_are_messages(name, arguments, category, message):
    result = runtime.execute(name, arguments)
    assert result.error_category == category
    assert message in result.content


# The number reader and the shared rules are tested in tests/domains/test_answers.py; here, Calc's verdicts.
@pytest.mark.parametrize(
    "prediction, answer, correct",
    [
        ("12", "12", True),
        ("12.0", "12", True),
        ("\\frac{24}{2}", "12", True),
        ("1,200", "1200", True),
        ("$12", "12", True),
        ("\\$12.50", "12.5", True),
        ("= 7", "7", True),
        ("3.33333333", "3.33333333333", True),  # a rounded real: within a relative 1e-6
        ("10/3", "3.33333333333", True),
        ("3.33", "3.33333333333", False),
        ("13", "12", False),
        ("0", "0", True),
        ("1e-12", "0", False),  # an integer is compared exactly
        ("12.5", "12.50", True),
        ("12.5000001", "12.5", False),  # a short decimal is exact too
        ("13907110055", "13907110055", True),
        ("13907122571", "13907110055", False),
        ("12 apples", "12", False),  # a unit the judge cannot check is refused
        ("12 thousand", "12", False),
        ("45%", "45", False),
        ("\\text{284.78}", "284.78", True),
        ("twelve", "12", False),
        # The card's examples (tasks/calc/README.md).
        ("3.62e2", "362", True),
        ("3.62 \\times 10^{2}", "362", True),
        ("\\frac{724}{2}", "362", True),
        ("1\\,200", "1200", True),
        ("1{,}200", "1200", True),
        ("1 200", "1200", True),
        ("0.2500001", "0.25", False),
        ("1/4", "0.25", True),
        ("3.333333", "3.33333333333", True),
        ("2.5 million", "2500000", True),
        ("5 dozen", "60", True),
        ("45%", "0.45", True),
        ("5 km", "5", False),
        ("3K", "3000", False),
        ("3M", "3000000", False),
    ],
)
def test_judge(prediction, answer, correct):
    assert CalcDomain().judge(prediction, answer) is correct


def test_generation_is_deterministic_and_covers_every_difficulty():
    domain = CalcDomain()
    assert domain.generate(7) == domain.generate(7)
    assert domain.generate(7).to_json() == CalcDomain().generate(7).to_json()
    assert domain.generate(7) != domain.generate(8)
    for level in domain.difficulties:
        task = domain.generate(11, difficulty=level)
        assert task.meta["difficulty"] == level
        assert task.meta["operations"] == level == len(task.teacher.calls) or task.meta["style"] == "story"
    with pytest.raises(ValueError, match="difficulty must be one of"):
        domain.generate(1, difficulty=9)


def test_generated_tasks_use_every_tool_and_style():
    domain = CalcDomain()
    tasks = [domain.generate(seed) for seed in range(400)]
    used = Counter(call.name for task in tasks for call in task.teacher.calls)
    assert set(used) == set(TOOL_NAMES)
    assert {task.meta["style"] for task in tasks} == {"story", "symbolic", "verbal"}
    assert {task.meta["difficulty"] for task in tasks} == {1, 2, 3, 4, 5}


def test_teacher_uses_parallel_calls_and_sum_numbers():
    task = CalcDomain().generate(0, difficulty=1)
    domain = CalcDomain()
    shopping = next(
        t
        for t in (domain.generate(s, difficulty=3) for s in range(200))
        if t.question.startswith(tuple("ABCDEFGHIJKL")) and "buys" in t.question
    )
    assistant_turns = [m for m in shopping.teacher.messages if m["role"] == "assistant"]
    # Two products in one turn, then their sum, then the answer.
    assert [len(m.get("tool_calls", [])) for m in assistant_turns] == [2, 1, 0]
    totals = next(t for t in (domain.generate(s, difficulty=1) for s in range(200)) if "bakery" in t.question)
    assert [c.name for c in totals.teacher.calls] == ["sum_numbers"]
    assert task.teacher.source == "scripted"


def test_an_inner_node_names_its_operation_and_a_leaf_has_none():
    assert op("add", leaf(2), leaf(3)).operation == "add"
    with pytest.raises(ValueError, match=r"a leaf \(7\) has no operation"):
        _ = leaf(7).operation
