r"""``mentor/Dates-v0``: calendar arithmetic with date tools.

The model answers calendar questions (offsets, day counts, weekdays, month
lengths, leap years) by calling date tools and puts the answer in ``\boxed{}``.
Everything is proleptic Gregorian arithmetic from Python's ``datetime``; no
question depends on today's date, every one states its reference dates.

Tools
    ``days_between(start, end)`` (signed day count ``end - start``),
    ``add_days(date, days)``, ``add_weeks(date, weeks)``,
    ``add_months(date, months)``, ``add_years(date, years)``,
    ``weekday(date)`` (English name), ``days_in_month(year, month)``,
    ``is_leap_year(year)``. Dates are ``YYYY-MM-DD`` strings (a schema pattern
    checks the shape, the tool checks that the day exists: 2023-02-30 is an
    error that says February 2023 has 28 days). Offsets are bounded to
    ``|days| <= 1,000,000``, ``|weeks| <= 150,000``, ``|months| <= 12,000``,
    ``|years| <= 10,000``, and results must stay within 0001-01-01 to
    9999-12-31. Adding months or years clamps to the end of the month:
    2024-01-31 + 1 month = 2024-02-29, 2024-02-29 + 1 year = 2025-02-28.

Tasks
    :meth:`DatesDomain.generate` draws a template family for difficulty 1-4,
    the number of tool calls the teacher makes (one call up to chains of four,
    e.g. "a project starts on 2024-03-15 and ends 10 weeks and 3 days later; on
    what weekday does it end?"). In-distribution dates are ISO strings between
    1950 and 2070 with modest offsets. ``ood=True`` uses wording families that
    in-distribution tasks never use (deadlines relative to a named holiday,
    invoice and contract phrasing, leap-day birthdays, time capsules, probe
    missions), dates written in words ("14 March 2031", "March 14, 2031"),
    years 1600-2400 across the non-leap century years, offsets up to hundreds
    of thousands of days, and one more call than the same in-distribution
    level (2-6 calls). Answers are ISO dates, weekday names, signed whole
    numbers or yes/no; the gold answer is what the tools returned.

Teacher
    A scripted solver over a small dependency graph of calls: every call whose
    inputs are known goes in the same turn, in the fewest turns. It does no
    arithmetic of its own (every number it passes is in the question or came
    from a tool) and applies a combined period from the largest unit to the
    smallest (years, months, weeks, days), the convention the system prompt
    states, because month clamping makes the order matter.

Judge
    Dates in ``2024-03-05``, ``2024-3-5``, ``2024/03/05``, ``March 5, 2024``,
    ``5 March 2024``, ``Tue, Mar 5th 2024`` (a stated weekday must be right);
    weekdays case-insensitively, full or abbreviated (Tue, Tues); yes/no also as
    true/false; counts as exact integers after :func:`parse_number`
    (``"1,234 days"``). Never raises.

Spaces, rewards, termination and arguments are those of
:class:`~mentor_env.core.env.ToolUseEnv`.
"""

from __future__ import annotations

import calendar
import datetime
import functools
import random
import re
from typing import Any, Callable, Sequence

from mentor_env.core.tools import Tool, ToolError, object_schema
from mentor_env.domains.answers import parse_number
from mentor_env.domains.base import Draw, GeneratedDomain
from mentor_env.domains.scripted import Call, Read, TeacherPlan, solve_calls

MAX_DAYS = 1_000_000
MAX_WEEKS = 150_000
MAX_MONTHS = 12_000
MAX_YEARS = 10_000
MIN_YEAR, MAX_YEAR = datetime.MINYEAR, datetime.MAXYEAR  # 1 and 9999

# Fixed English names: strftime("%A") would follow the process locale.
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

SYSTEM_PROMPT = (
    "You are a careful assistant that answers calendar questions with the date tools provided. "
    "Pass dates to the tools as YYYY-MM-DD. Do every date calculation with a tool call instead of counting "
    "yourself; you may make several independent calls in one turn. When a period combines several units, "
    "apply them from the largest to the smallest: years, then months, then weeks, then days. Adding months or "
    "years to a day that the target month lacks (the 31st, or 29 February) gives the last day of that month. "
    "When you know the result, reply without a tool call and put the final answer in \\boxed{}: a date as "
    "YYYY-MM-DD, a weekday as its English name, a count as a whole number, or yes or no."
)

# --- tools ------------------------------------------------------------------

# [0-9], not \d: \d also matches other scripts' digits. Python's "$" matches
# before a final newline, which the exact length bound rules out.
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _date_param(description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": _DATE_PATTERN,
        "minLength": 10,
        "maxLength": 10,
        "description": f"{description} As YYYY-MM-DD, e.g. 2024-03-05.",
    }


def _integer_param(description: str, limit: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": -limit, "maximum": limit, "description": description}


_YEAR_PARAM = {"type": "integer", "minimum": MIN_YEAR, "maximum": MAX_YEAR, "description": "The year, 1 to 9999."}
_MONTH_PARAM = {"type": "integer", "minimum": 1, "maximum": 12, "description": "The month, 1 (January) to 12."}


def parse_date(text: str) -> datetime.date:
    """A ``YYYY-MM-DD`` string as a date; :class:`ToolError` saying what is wrong otherwise."""
    match = _ISO_DATE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ToolError(f"{str(text)[:40]!r} is not a date written as YYYY-MM-DD")
    year, month, day = (int(part) for part in match.groups())
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ToolError(f"{text} is not a valid date: the year must be 0001 to 9999")
    if not 1 <= month <= 12:
        raise ToolError(f"{text} is not a valid date: the month must be 01 to 12")
    length = calendar.monthrange(year, month)[1]
    if not 1 <= day <= length:
        raise ToolError(f"{text} is not a valid date: {MONTHS[month - 1]} {year} has {length} days")
    return datetime.date(year, month, day)


def _shifted(start: datetime.date, days: int, what: str) -> str:
    try:
        return (start + datetime.timedelta(days=days)).isoformat()
    except OverflowError:
        raise ToolError(
            f"{what} {start.isoformat()} falls outside the supported dates 0001-01-01 to 9999-12-31"
        ) from None


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if abs(count) == 1 else f"{count} {unit}s"


def days_between(start: str, end: str) -> int:
    return (parse_date(end) - parse_date(start)).days


def add_days(date: str, days: int) -> str:
    days = int(days)  # JSON Schema counts 3.0 as an integer
    return _shifted(parse_date(date), days, f"adding {_plural(days, 'day')} to")


def add_weeks(date: str, weeks: int) -> str:
    weeks = int(weeks)
    return _shifted(parse_date(date), 7 * weeks, f"adding {_plural(weeks, 'week')} to")


def _add_calendar_months(start: datetime.date, months: int, what: str) -> str:
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ToolError(f"{what} {start.isoformat()} gives the year {year}; dates must stay within years 1 to 9999")
    # Clamp to the month's last day: 2024-01-31 + 1 month = 2024-02-29.
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return datetime.date(year, month + 1, day).isoformat()


def add_months(date: str, months: int) -> str:
    months = int(months)
    return _add_calendar_months(parse_date(date), months, f"adding {_plural(months, 'month')} to")


def add_years(date: str, years: int) -> str:
    years = int(years)
    return _add_calendar_months(parse_date(date), 12 * years, f"adding {_plural(years, 'year')} to")


def weekday(date: str) -> str:
    return WEEKDAYS[parse_date(date).weekday()]


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(int(year), int(month))[1]


def is_leap_year(year: int) -> bool:
    return calendar.isleap(int(year))


TOOLS: tuple[Tool, ...] = (
    Tool(
        "days_between",
        "The signed number of days from start to end (negative when end is earlier).",
        object_schema({"start": _date_param("The first date."), "end": _date_param("The second date.")}),
        days_between,
    ),
    Tool(
        "add_days",
        "The date a number of days after a date (a negative number goes back).",
        object_schema({"date": _date_param("The starting date."), "days": _integer_param("Days to add.", MAX_DAYS)}),
        add_days,
    ),
    Tool(
        "add_weeks",
        "The date a number of weeks after a date (a negative number goes back).",
        object_schema(
            {"date": _date_param("The starting date."), "weeks": _integer_param("Weeks to add.", MAX_WEEKS)}
        ),
        add_weeks,
    ),
    Tool(
        "add_months",
        "The date a number of calendar months after a date (negative goes back); a day the target month lacks "
        "becomes its last day, e.g. 2024-01-31 + 1 month = 2024-02-29.",
        object_schema(
            {"date": _date_param("The starting date."), "months": _integer_param("Months to add.", MAX_MONTHS)}
        ),
        add_months,
    ),
    Tool(
        "add_years",
        "The date a number of years after a date (negative goes back); 29 February becomes 28 February in a "
        "common year.",
        object_schema(
            {"date": _date_param("The starting date."), "years": _integer_param("Years to add.", MAX_YEARS)}
        ),
        add_years,
    ),
    Tool(
        "weekday",
        "The day of the week of a date, as an English name such as Monday.",
        object_schema({"date": _date_param("The date.")}),
        weekday,
    ),
    Tool(
        "days_in_month",
        "The number of days in a month of a year (28 to 31).",
        object_schema({"year": _YEAR_PARAM, "month": _MONTH_PARAM}),
        days_in_month,
    ),
    Tool(
        "is_leap_year",
        "Whether a year is a leap year in the Gregorian calendar (true or false).",
        object_schema({"year": _YEAR_PARAM}),
        is_leap_year,
    ),
)

TOOL_NAMES = tuple(tool.name for tool in TOOLS)

# --- plans: what the teacher computes ---------------------------------------


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


# --- wording helpers ----------------------------------------------------------


@functools.lru_cache(maxsize=None)
def leap_years(first_year: int, last_year: int) -> tuple[int, ...]:
    """The leap years of a range, both ends included (built once per range)."""
    return tuple(year for year in range(first_year, last_year + 1) if calendar.isleap(year))


def random_date(
    rng: random.Random, first_year: int, last_year: int, month_end: float = 0.0, leap_day: float = 0.0
) -> datetime.date:
    """A date in the year range; with the given chances, a month's last days or a 29 February."""
    roll = rng.random()
    if roll < leap_day:
        year = rng.choice(leap_years(first_year, last_year))
        return datetime.date(year, 2, 29)
    year, month = rng.randint(first_year, last_year), rng.randint(1, 12)
    length = calendar.monthrange(year, month)[1]
    if roll < leap_day + month_end:
        return datetime.date(year, month, rng.randint(length - 2, length))
    return datetime.date(year, month, rng.randint(1, length))


def ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def in_words(date: datetime.date, rng: random.Random) -> str:
    """A date written out, day first or month first (out-of-distribution wording)."""
    month = MONTHS[date.month - 1]
    return f"{date.day} {month} {date.year}" if rng.random() < 0.5 else f"{month} {date.day}, {date.year}"


def plural(count: int, unit: str) -> str:
    """``"1 day"``, ``"12 days"``, ``"100,000 days"``."""
    return f"{count:,} {unit}" if count == 1 else f"{count:,} {unit}s"


def _offset_phrase(rng: random.Random, amount: int, unit: str) -> tuple[str, int]:
    """``("N units after", +N)`` or ``("N units before", -N)``."""
    if rng.random() < 0.3:
        return f"{plural(amount, unit)} before", -amount
    return f"{plural(amount, unit)} after", amount


Family = Callable[[random.Random], tuple[str, Plan]]

# In-distribution dates and offsets.
FIRST_YEAR, LAST_YEAR = 1950, 2070


def _date(rng: random.Random, month_end: float = 0.0, leap_day: float = 0.0) -> datetime.date:
    return random_date(rng, FIRST_YEAR, LAST_YEAR, month_end, leap_day)


def near(rng: random.Random, anchor: datetime.date, within_days: int, month_end: float = 0.0) -> datetime.date:
    """A date at most ``within_days`` from ``anchor``, moved to its month's last days with chance ``month_end``."""
    date = anchor + datetime.timedelta(days=rng.randint(-within_days, within_days))
    if rng.random() < month_end:
        length = calendar.monthrange(date.year, date.month)[1]
        date = date.replace(day=rng.randint(length - 2, length))
    return date


# --- in-distribution families: level = tool calls ------------------------------


def weekday_of(rng: random.Random) -> tuple[str, Plan]:
    d = _date(rng).isoformat()
    question = rng.choice(("What day of the week is {d}?", "On which weekday does {d} fall?")).format(d=d)
    return question, (Call("weekday", {"date": d}),)


def days_from_to(rng: random.Random) -> tuple[str, Plan]:
    start = _date(rng)
    end = start + datetime.timedelta(days=rng.randint(1, 1500))
    question = rng.choice(("How many days are there from {a} to {b}?", "How many days after {a} is {b}?"))
    step = Call("days_between", {"start": start.isoformat(), "end": end.isoformat()})
    return question.format(a=start, b=end), (step,)


def _simple_offset(
    rng: random.Random, tool: str, unit: str, high: int, month_end: float, leap_day: float
) -> tuple[str, Plan]:
    d = _date(rng, month_end, leap_day).isoformat()
    phrase, amount = _offset_phrase(rng, rng.randint(1, high), unit)
    question = rng.choice(("What date is {p} {d}?", "Which date falls {p} {d}?")).format(p=phrase, d=d)
    return question, tuple(chain(d, [(tool, amount)]))


def days_offset(rng: random.Random) -> tuple[str, Plan]:
    return _simple_offset(rng, "add_days", "day", 1000, 0.0, 0.0)


def weeks_offset(rng: random.Random) -> tuple[str, Plan]:
    return _simple_offset(rng, "add_weeks", "week", 104, 0.0, 0.0)


def months_offset(rng: random.Random) -> tuple[str, Plan]:
    return _simple_offset(rng, "add_months", "month", 36, 0.5, 0.1)


def years_offset(rng: random.Random) -> tuple[str, Plan]:
    return _simple_offset(rng, "add_years", "year", 30, 0.2, 0.3)


def month_length(rng: random.Random) -> tuple[str, Plan]:
    year = rng.randint(FIRST_YEAR, LAST_YEAR) if rng.random() < 0.7 else rng.choice((1900, 2000, 2100))
    month = 2 if rng.random() < 0.5 else rng.randint(1, 12)
    question = rng.choice(("How many days are in {m} {y}?", "How many days does {m} {y} have?"))
    step = Call("days_in_month", {"year": year, "month": month})
    return question.format(m=MONTHS[month - 1], y=year), (step,)


def leap_year(rng: random.Random) -> tuple[str, Plan]:
    year = rng.randint(FIRST_YEAR, LAST_YEAR) if rng.random() < 0.7 else rng.choice((1800, 1900, 2000, 2100, 2400))
    question = rng.choice(("Is {y} a leap year? Answer yes or no.", "Is the year {y} a leap year? Answer yes or no."))
    return question.format(y=year), (Call("is_leap_year", {"year": year}),)


def delivery_weekday(rng: random.Random) -> tuple[str, Plan]:
    d, n = _date(rng).isoformat(), rng.randint(2, 400)
    question = (
        f"A parcel is shipped on {d} and arrives {plural(n, 'day')} later. On what day of the week does it arrive?"
    )
    steps = chain(d, [("add_days", n)])
    return question, (*steps, Call("weekday", {"date": steps[0]}))


def course_end(rng: random.Random) -> tuple[str, Plan]:
    d, w, k = _date(rng).isoformat(), rng.randint(2, 52), rng.randint(1, 6)
    question = (
        f"A course starts on {d} and ends {plural(w, 'week')} and {plural(k, 'day')} after it starts. "
        "On what date does it end?"
    )
    return question, tuple(chain(d, [("add_weeks", w), ("add_days", k)]))


def lease_weekday(rng: random.Random) -> tuple[str, Plan]:
    d, m = _date(rng, month_end=0.4).isoformat(), rng.randint(2, 48)
    question = f"A lease signed on {d} ends {plural(m, 'month')} later. On what weekday does it end?"
    steps = chain(d, [("add_months", m)])
    return question, (*steps, Call("weekday", {"date": steps[0]}))


def renewal_month_length(rng: random.Random) -> tuple[str, Plan]:
    d, m = _date(rng, month_end=0.2).isoformat(), rng.randint(1, 30)
    question = (
        f"A subscription bought on {d} renews {plural(m, 'month')} later. "
        "How many days are in the month of the renewal?"
    )
    steps = chain(d, [("add_months", m)])
    return question, (*steps, month_length_of(steps[0]))


def loan_days(rng: random.Random) -> tuple[str, Plan]:
    d, m = _date(rng, month_end=0.4).isoformat(), rng.randint(1, 60)
    question = (
        f"A loan taken out on {d} is due {plural(m, 'month')} later. How many days after the loan starts is it due?"
    )
    steps = chain(d, [("add_months", m)])
    return question, (*steps, Call("days_between", {"start": d, "end": steps[0]}))


def birthday_weekday(rng: random.Random) -> tuple[str, Plan]:
    d, age = _date(rng, leap_day=0.3).isoformat(), rng.randint(1, 60)
    question = (
        f"Someone was born on {d}. On what day of the week is their {ordinal(age)} birthday? "
        "(A 29 February birthday is kept on 28 February in common years.)"
    )
    steps = chain(d, [("add_years", age)])
    return question, (*steps, Call("weekday", {"date": steps[0]}))


def leap_year_after(rng: random.Random) -> tuple[str, Plan]:
    d, n = _date(rng).isoformat(), rng.randint(100, 3000)
    question = f"Does the date {plural(n, 'day')} after {d} fall in a leap year? Answer yes or no."
    steps = chain(d, [("add_days", n)])
    return question, (*steps, Call("is_leap_year", {"year": year_of(steps[0])}))


def project_end_weekday(rng: random.Random) -> tuple[str, Plan]:
    d, w, k = _date(rng).isoformat(), rng.randint(2, 60), rng.randint(1, 6)
    question = (
        f"A project starts on {d} and ends {plural(w, 'week')} and {plural(k, 'day')} later. "
        "On what weekday does it end?"
    )
    steps = chain(d, [("add_weeks", w), ("add_days", k)])
    return question, (*steps, Call("weekday", {"date": steps[1]}))


def deadline_gap(rng: random.Random) -> tuple[str, Plan]:
    first_date = _date(rng)
    # The second report's start lies near the first, so that the gap is one a person would ask about.
    second = near(rng, first_date, 400, month_end=0.3).isoformat()
    first = first_date.isoformat()
    n, m = rng.randint(5, 500), rng.randint(1, 24)
    question = (
        f"Report A is due {plural(n, 'day')} after {first}, and report B is due {plural(m, 'month')} after {second}. "
        "How many days after report A is report B due? (Give a negative number if report B is due first.)"
    )
    a_steps = chain(first, [("add_days", n)])
    b_steps = chain(second, [("add_months", m)])
    steps = [
        *a_steps,
        *b_steps,
        Call("days_between", {"start": a_steps[0], "end": b_steps[0]}),
    ]
    return question, tuple(steps)


def contract_month_length(rng: random.Random) -> tuple[str, Plan]:
    d, m, k = _date(rng, month_end=0.3).isoformat(), rng.randint(1, 36), rng.randint(1, 40)
    question = (
        f"A contract signed on {d} runs for {plural(m, 'month')} and {plural(k, 'day')}. "
        "How many days are in the month in which it ends?"
    )
    steps = chain(d, [("add_months", m), ("add_days", k)])
    return question, (*steps, month_length_of(steps[1]))


def warranty_days(rng: random.Random) -> tuple[str, Plan]:
    d, y, m = _date(rng, month_end=0.3, leap_day=0.1).isoformat(), rng.randint(1, 10), rng.randint(1, 11)
    question = (
        f"A warranty that starts on {d} lasts {plural(y, 'year')} and {plural(m, 'month')}. "
        "How many days does it cover?"
    )
    steps = chain(d, [("add_years", y), ("add_months", m)])
    return question, (*steps, Call("days_between", {"start": d, "end": steps[1]}))


def review_weekday(rng: random.Random) -> tuple[str, Plan]:
    d, w, k, m = _date(rng).isoformat(), rng.randint(2, 40), rng.randint(1, 6), rng.randint(1, 12)
    question = (
        f"A project starts on {d} and ends {plural(w, 'week')} and {plural(k, 'day')} later. "
        f"A review is held {plural(m, 'month')} after the project ends. On what weekday is the review?"
    )
    steps = chain(d, [("add_weeks", w), ("add_days", k), ("add_months", m)])
    return question, (*steps, Call("weekday", {"date": steps[2]}))


def trial_vs_subscription(rng: random.Random) -> tuple[str, Plan]:
    subscription_date = _date(rng, month_end=0.3)
    subscription, trial = subscription_date.isoformat(), near(rng, subscription_date, 300).isoformat()
    m, w, k = rng.randint(1, 24), rng.randint(1, 20), rng.randint(1, 6)
    question = (
        f"A subscription that starts on {subscription} runs for {plural(m, 'month')}. A free trial that starts on "
        f"{trial} runs for {plural(w, 'week')} and {plural(k, 'day')}. How many days after the trial ends does the "
        "subscription end? (Give a negative number if the subscription ends first.)"
    )
    sub_steps = chain(subscription, [("add_months", m)])
    trial_steps = chain(trial, [("add_weeks", w), ("add_days", k)])
    steps = [
        *sub_steps,
        *trial_steps,
        Call("days_between", {"start": trial_steps[1], "end": sub_steps[0]}),
    ]
    return question, tuple(steps)


def tenure_weekday(rng: random.Random) -> tuple[str, Plan]:
    d = _date(rng, month_end=0.3, leap_day=0.05).isoformat()
    y, m, k = rng.randint(1, 30), rng.randint(1, 11), rng.randint(1, 27)
    question = (
        f"An employee hired on {d} completes {plural(y, 'year')}, {plural(m, 'month')} and {plural(k, 'day')} "
        "of service on what day of the week?"
    )
    steps = chain(d, [("add_years", y), ("add_months", m), ("add_days", k)])
    return question, (*steps, Call("weekday", {"date": steps[2]}))


FAMILIES: dict[int, tuple[Family, ...]] = {
    1: (weekday_of, days_from_to, days_offset, weeks_offset, months_offset, years_offset, month_length, leap_year),
    2: (
        delivery_weekday, course_end, lease_weekday, renewal_month_length, loan_days, birthday_weekday,
        leap_year_after,
    ),
    3: (project_end_weekday, deadline_gap, contract_month_length, warranty_days),
    4: (review_weekday, trial_vs_subscription, tenure_weekday),
}

# --- out-of-distribution families: one call more per level, other wording ------

OOD_FIRST_YEAR, OOD_LAST_YEAR = 1600, 2400
# Fixed-date holidays: (name, month, day).
HOLIDAYS = (
    ("New Year's Day", 1, 1),
    ("Valentine's Day", 2, 14),
    ("Saint Patrick's Day", 3, 17),
    ("Independence Day in the United States", 7, 4),
    ("Bastille Day", 7, 14),
    ("Halloween", 10, 31),
    ("Christmas Eve", 12, 24),
    ("Christmas Day", 12, 25),
    ("New Year's Eve", 12, 31),
)
_LEAP_BIRTHDAY_NAMES = ("Ada", "Bruno", "Carmen", "Dmitri", "Elif", "Femi", "Greta", "Hamid", "Isla", "Jun")


def _ood_date(rng: random.Random, month_end: float = 0.0, leap_day: float = 0.0) -> datetime.date:
    return random_date(rng, OOD_FIRST_YEAR, OOD_LAST_YEAR, month_end, leap_day)


def _leap_birth_year(rng: random.Random) -> int:
    # Leap years just before a common century year (1700, 1800, 1900, 2100, ...) half the time.
    if rng.random() < 0.5:
        return rng.choice((1696, 1796, 1896, 2096, 2196, 2296)) - 4 * rng.randint(0, 5)
    return rng.choice(leap_years(OOD_FIRST_YEAR, OOD_LAST_YEAR - 1))


def leap_birthday_weekday(rng: random.Random) -> tuple[str, Plan]:
    year, age = _leap_birth_year(rng), rng.randint(1, 110)
    born = datetime.date(year, 2, 29)
    name = rng.choice(_LEAP_BIRTHDAY_NAMES)
    question = (
        f"{name} was born on {in_words(born, rng)}. In years without a 29 February, {name} celebrates on "
        f"28 February. Which day of the week is {name}'s {ordinal(age)} birthday party?"
    )
    steps = chain(born.isoformat(), [("add_years", age)])
    return question, (*steps, Call("weekday", {"date": steps[0]}))


def countdown_leap(rng: random.Random) -> tuple[str, Plan]:
    start, n = _ood_date(rng), rng.randint(10_000, 500_000)
    question = (
        f"A countdown begins on {in_words(start, rng)} and reaches zero {plural(n, 'day')} later. "
        "Is the year in which it reaches zero a leap year? Reply yes or no."
    )
    steps = chain(start.isoformat(), [("add_days", n)])
    return question, (*steps, Call("is_leap_year", {"year": year_of(steps[0])}))


def holiday_deadline(rng: random.Random) -> tuple[str, Plan]:
    name, month, day = rng.choice(HOLIDAYS)
    year, w, k = rng.randint(OOD_FIRST_YEAR, OOD_LAST_YEAR), rng.randint(1, 80), rng.randint(1, 6)
    holiday = datetime.date(year, month, day)
    question = (
        f"In {year}, {name} falls on {MONTHS[month - 1]} {day}. Applications are due {plural(w, 'week')} and "
        f"{plural(k, 'day')} after {name} of that year. On which day of the week is the deadline?"
    )
    steps = chain(holiday.isoformat(), [("add_weeks", w), ("add_days", k)])
    return question, (*steps, Call("weekday", {"date": steps[1]}))


def quarter_close(rng: random.Random) -> tuple[str, Plan]:
    start, m = _ood_date(rng), rng.randint(1, 240)
    clause = f"{rng.randint(2, 19)}.{rng.randint(1, 9)}"
    question = (
        f"Per clause {clause} of the agreement, the books close on the last day of the month that is "
        f"{plural(m, 'month')} after {in_words(start, rng)}. What day of the week is closing day?"
    )
    (moved,) = chain(start.isoformat(), [("add_months", m)])
    length = month_length_of(moved)
    return question, (moved, length, Call("weekday", {"date": last_day(moved, length)}))


def leap_birthday_gap(rng: random.Random) -> tuple[str, Plan]:
    year = _leap_birth_year(rng)
    first = rng.randint(1, 60)
    second = first + rng.randint(1, 60)
    born = datetime.date(year, 2, 29).isoformat()
    question = (
        f"A person born on {in_words(datetime.date(year, 2, 29), rng)} keeps their birthday on 28 February in "
        f"common years. How many days pass from their {ordinal(first)} birthday to their {ordinal(second)}?"
    )
    a_steps = chain(born, [("add_years", first)])
    b_steps = chain(born, [("add_years", second)])
    steps = (
        *a_steps,
        *b_steps,
        Call("days_between", {"start": a_steps[0], "end": b_steps[0]}),
    )
    return question, steps


def net_terms(rng: random.Random) -> tuple[str, Plan]:
    issued = _ood_date(rng, month_end=0.3)
    n, m, w = rng.choice((15, 30, 45, 60, 90, 120)), rng.randint(1, 18), rng.randint(1, 12)
    invoice = f"INV-{rng.randint(1000, 99999)}"
    question = (
        f"Invoice {invoice} was issued on {in_words(issued, rng)} on net {n} terms (payment due {n} days after "
        f"issue). An unpaid invoice is sent to collections {plural(m, 'month')} after the due date, and the account "
        f"is closed {plural(w, 'week')} after that. On which weekday would the account be closed?"
    )
    steps = chain(issued.isoformat(), [("add_days", n), ("add_months", m), ("add_weeks", w)])
    return question, (*steps, Call("weekday", {"date": steps[2]}))


def time_capsule(rng: random.Random) -> tuple[str, Plan]:
    sealed = _ood_date(rng, month_end=0.3, leap_day=0.2)
    y, m, k = rng.randint(50, 400), rng.randint(1, 11), rng.randint(1, 30)
    question = (
        f"A time capsule sealed on {in_words(sealed, rng)} is to be opened {plural(y, 'year')}, "
        f"{plural(m, 'month')} and {plural(k, 'day')} later. For how many days will it stay sealed?"
    )
    steps = chain(sealed.isoformat(), [("add_years", y), ("add_months", m), ("add_days", k)])
    return question, (*steps, Call("days_between", {"start": sealed.isoformat(), "end": steps[2]}))


def mission_log(rng: random.Random) -> tuple[str, Plan]:
    launch = _ood_date(rng, month_end=0.2, leap_day=0.1)
    y, m, w, k = rng.randint(1, 60), rng.randint(1, 11), rng.randint(1, 3), rng.randint(1, 6)
    n = rng.randint(100, 200_000)
    question = (
        f"A probe launched on {in_words(launch, rng)} cruised for {plural(y, 'year')}, {plural(m, 'month')}, "
        f"{plural(w, 'week')} and {plural(k, 'day')} before reaching orbit, then transmitted data for "
        f"{plural(n, 'day')}. On which day of the week did the transmissions end?"
    )
    offsets = [("add_years", y), ("add_months", m), ("add_weeks", w), ("add_days", k), ("add_days", n)]
    steps = chain(launch.isoformat(), offsets)
    return question, (*steps, Call("weekday", {"date": steps[4]}))


def dual_lease(rng: random.Random) -> tuple[str, Plan]:
    lease_a = _ood_date(rng, month_end=0.3, leap_day=0.1)
    lease_b = near(rng, lease_a, 3650)
    y, m = rng.randint(1, 200), rng.randint(1, 11)
    w, n = rng.randint(1, 52), rng.randint(1_000, 90_000)
    question = (
        f"Ground lease A begins on {in_words(lease_a, rng)} and runs {plural(y, 'year')} and {plural(m, 'month')}. "
        f"Ground lease B begins on {in_words(lease_b, rng)} and runs {plural(w, 'week')} and {plural(n, 'day')}. "
        "By how many days does lease B end after lease A? (Negative if lease B ends first.)"
    )
    a_steps = chain(lease_a.isoformat(), [("add_years", y), ("add_months", m)])
    b_steps = chain(lease_b.isoformat(), [("add_weeks", w), ("add_days", n)])
    steps = (
        *a_steps,
        *b_steps,
        Call("days_between", {"start": a_steps[1], "end": b_steps[1]}),
    )
    return question, steps


OOD_FAMILIES: dict[int, tuple[Family, ...]] = {
    1: (leap_birthday_weekday, countdown_leap),
    2: (holiday_deadline, quarter_close, leap_birthday_gap),
    3: (net_terms, time_capsule),
    4: (mission_log, dual_lease),
}

# --- judge ----------------------------------------------------------------------

_MONTH_NUMBERS: dict[str, int] = {}
for _number, _name in enumerate(MONTHS, start=1):
    _MONTH_NUMBERS[_name.lower()] = _number
    _MONTH_NUMBERS[_name[:3].lower()] = _number
_MONTH_NUMBERS["sept"] = 9
_WEEKDAY_NUMBERS: dict[str, int] = {}
for _number, _name in enumerate(WEEKDAYS):
    _WEEKDAY_NUMBERS[_name.lower()] = _number
    _WEEKDAY_NUMBERS[_name[:3].lower()] = _number
_WEEKDAY_NUMBERS.update({"tues": 1, "weds": 2, "thur": 3, "thurs": 3})  # common four- and five-letter forms

_MONTH_ALT = "|".join(sorted(_MONTH_NUMBERS, key=len, reverse=True))
_WEEKDAY_ALT = "|".join(sorted(_WEEKDAY_NUMBERS, key=len, reverse=True))
_WEEKDAY_PREFIX = rf"(?:(?P<weekday>{_WEEKDAY_ALT})\.?,? )?"
_NUMERIC_DATE = re.compile(r"(?P<year>[0-9]{4})(?P<sep>[-/.])(?P<month>[0-9]{1,2})(?P=sep)(?P<day>[0-9]{1,2})")
_MONTH_FIRST = re.compile(
    _WEEKDAY_PREFIX + rf"(?P<month>{_MONTH_ALT})\.? (?P<day>[0-9]{{1,2}})(?:st|nd|rd|th)?,? (?P<year>[0-9]{{1,4}})"
)
_DAY_FIRST = re.compile(
    _WEEKDAY_PREFIX
    + rf"(?:the )?(?P<day>[0-9]{{1,2}})(?:st|nd|rd|th)? (?:of )?(?P<month>{_MONTH_ALT})\.?,? (?P<year>[0-9]{{1,4}})"
)
_LATEX_WRAPPER = re.compile(r"\\(?:text|mathrm|textbf|mbox|texttt)\{([^{}]*)\}")
_GOLD_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_PREDICTION_CHARS = 200


def _clean(text: str) -> str:
    s = _LATEX_WRAPPER.sub(r"\1", text.strip())
    for token in ("\\,", "\\;", "\\ ", "~", "$"):
        s = s.replace(token, " ")
    s = " ".join(s.split()).strip().rstrip(".").strip()
    return s.lower()


def read_date(text: str) -> datetime.date | None:
    """A final answer read as a date (the formats in the module doc); ``None`` otherwise. Never raises."""
    if not isinstance(text, str) or len(text) > MAX_PREDICTION_CHARS:
        return None
    s = _clean(text)
    match = _NUMERIC_DATE.fullmatch(s) or _MONTH_FIRST.fullmatch(s) or _DAY_FIRST.fullmatch(s)
    if match is None:
        return None
    month_text = match.group("month")
    month = int(month_text) if month_text.isdigit() else _MONTH_NUMBERS[month_text]
    try:
        date = datetime.date(int(match.group("year")), month, int(match.group("day")))
    except ValueError:  # 2023-02-30, year 0
        return None
    named = match.groupdict().get("weekday")
    if named is not None and _WEEKDAY_NUMBERS[named] != date.weekday():
        return None  # "Monday, 5 March 2024" is wrong: it was a Tuesday
    return date


def read_weekday(text: str) -> int | None:
    """A final answer read as a weekday (0 = Monday), full name or abbreviated; ``None`` otherwise."""
    if not isinstance(text, str) or len(text) > MAX_PREDICTION_CHARS:
        return None
    return _WEEKDAY_NUMBERS.get(_clean(text))


def read_yes_no(text: str) -> bool | None:
    if not isinstance(text, str) or len(text) > MAX_PREDICTION_CHARS:
        return None
    return {"yes": True, "true": True, "no": False, "false": False}.get(_clean(text))


def judge_answer(prediction: str, answer: str) -> bool:
    """Whether ``prediction`` states the gold ``answer`` (kind read off the gold). Never raises."""
    if not isinstance(prediction, str) or not isinstance(answer, str):
        return False
    gold = answer.strip()
    if _GOLD_DATE.fullmatch(gold):
        expected = read_date(gold)
        return expected is not None and read_date(prediction) == expected
    if gold.lower() in _WEEKDAY_NUMBERS:
        return read_weekday(prediction) == _WEEKDAY_NUMBERS[gold.lower()]
    if gold.lower() in ("yes", "no"):
        return read_yes_no(prediction) == (gold.lower() == "yes")
    # Counts compare exactly: numbers_match's relative tolerance of 1e-6 would
    # accept 1000001 for 1000000 days.
    expected_count, predicted = parse_number(gold), parse_number(prediction)
    return expected_count is not None and predicted is not None and predicted == expected_count


# --- the domain -------------------------------------------------------------------


class DatesDomain(GeneratedDomain):
    """Calendar arithmetic questions with eight date tools."""

    name = "dates"
    tools = TOOLS
    system_prompt = SYSTEM_PROMPT
    difficulties = (1, 2, 3, 4)

    def random_stream(self, seed: int, ood: bool) -> random.Random:
        # A separate stream for ood, so that seed 7 in and out of distribution share no draws.
        # String seeds go through SHA-512 (not hash()), so they are the same in every process.
        return random.Random(f"dates-ood-{seed}" if ood else seed)

    def draw(self, rng: random.Random, level: int, ood: bool) -> Draw:
        # A draw that leaves the supported years is drawn again.
        family = rng.choice((OOD_FAMILIES if ood else FAMILIES)[level])
        question, plan = family(rng)
        # The teacher makes each step's call once.
        return Draw(question, solve(plan), {"difficulty": level, "style": family.__name__, "calls": len(plan)})

    def judge(self, prediction: str, answer: str) -> bool:
        return judge_answer(prediction, answer)
