"""The Units teacher: a problem is a graph of tool calls, solved bottom-up."""

from __future__ import annotations

from typing import Union

from mentor_env.domains.scripted import Call, TeacherPlan, solve_calls

Number = Union[int, float]


def conv(value: Call | Number, from_unit: str, to_unit: str) -> Call:
    """``value`` converted from ``from_unit`` to ``to_unit``."""
    return Call("convert", {"value": value, "from_unit": from_unit, "to_unit": to_unit})


def factor(from_unit: str, to_unit: str) -> Call:
    """The factor from ``from_unit`` to ``to_unit``."""
    return Call("lookup_factor", {"from_unit": from_unit, "to_unit": to_unit})


def arith(tool: str, *inputs: Call | Number) -> Call:
    """A calculator call: ``sum_numbers`` over all inputs, any other tool over two (``a``, ``b``)."""
    if tool == "sum_numbers":
        return Call(tool, {"numbers": list(inputs)})
    return Call(tool, {"a": inputs[0], "b": inputs[1]})


def rounded(value: Call, decimals: int) -> Call:
    """``value`` rounded to ``decimals`` places."""
    return Call("round_number", {"x": value, "decimals": decimals})


def solve(root: Call) -> TeacherPlan:
    """The scripted teacher: every call whose inputs are known, in the same turn, bottom-up."""
    return solve_calls(root)
