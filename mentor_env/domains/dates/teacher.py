"""The Dates teacher: a question is a list of calls, solved in the fewest turns, no arithmetic of its own."""

from __future__ import annotations

from typing import Any, Sequence

from mentor_env.domains.scripted import Call, Read, TeacherPlan, solve_calls

# The calls that answer a question, in the order a turn lists them; the last call's result is the answer.
Plan = tuple[Call, ...]


def _year(date: str) -> int:
    return int(date[:4])


def _month(date: str) -> int:
    return int(date[5:7])


def _month_end(date: str, length: str) -> str:
    # Copying the month from one result and the day count from another: no arithmetic.
    return f"{date[:7]}-{int(length):02d}"


def year_of(call: Call) -> Read:
    """The year of the date ``call`` returned."""
    return Read((call,), _year)


def month_of(call: Call) -> Read:
    """The month (1-12) of the date ``call`` returned."""
    return Read((call,), _month)


def last_day(date_call: Call, length_call: Call) -> Read:
    """The last day of the month of ``date_call``'s date; ``length_call`` is that month's days_in_month call."""
    return Read((date_call, length_call), _month_end)


def answer_text(tool: str, result: str) -> str:
    """The final answer written from the last call's result."""
    if tool == "is_leap_year":
        return "yes" if result == "true" else "no"
    return result


def _write_answer(call: Call, result: str) -> str:
    return answer_text(call.tool, result)


def solve(plan: Plan) -> TeacherPlan:
    """The scripted teacher: every call whose inputs are known in the same turn (date results read as text)."""
    return solve_calls(plan[-1], plan, read=str, write=_write_answer)


def chain(start: Any, offsets: Sequence[tuple[str, int]]) -> list[Call]:
    """Calls applying ``(tool, amount)`` offsets one after another from ``start``."""
    amount_names = {"add_days": "days", "add_weeks": "weeks", "add_months": "months", "add_years": "years"}
    calls: list[Call] = []
    current = start
    for tool, amount in offsets:
        calls.append(Call(tool, {"date": current, amount_names[tool]: amount}))
        current = calls[-1]
    return calls


def month_length_of(date_call: Call) -> Call:
    """A days_in_month call on the year and month of an earlier date result."""
    return Call("days_in_month", {"year": year_of(date_call), "month": month_of(date_call)})
