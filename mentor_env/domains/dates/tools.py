"""The eight date tools: proleptic Gregorian arithmetic on ``YYYY-MM-DD`` strings."""

from __future__ import annotations

import calendar
import datetime
import re
from typing import Any

from mentor_env.core.tools import Tool, ToolError, object_schema

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
        object_schema({"date": _date_param("The starting date."), "weeks": _integer_param("Weeks to add.", MAX_WEEKS)}),
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
        object_schema({"date": _date_param("The starting date."), "years": _integer_param("Years to add.", MAX_YEARS)}),
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
