"""The Calc teacher: an expression tree as a call graph, solved bottom-up."""

from __future__ import annotations

from mentor_env.core.tools import format_value
from mentor_env.domains.calc.expressions import Node
from mentor_env.domains.scripted import Call, TeacherPlan, read_number, solve_calls


def _write_answer(call: Call, result: str) -> str:
    # The number the last call printed, written as format_value writes it ("-6.85346103807e+12" is -6853461038070).
    return format_value(read_number(result))


def solve(root: Node) -> TeacherPlan:
    """The scripted teacher: every ready operation in the same turn, bottom-up."""
    return solve_calls(root.call(), write=_write_answer)
