"""Reading final answers: dates in common formats, weekdays, yes/no, exact counts of days."""

from __future__ import annotations

import datetime
import re

from mentor_env.domains.answers import DAYS, MAX_ANSWER_CHARS, clean_answer, numbers_match, readable
from mentor_env.domains.dates.tools import MONTHS, WEEKDAYS

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
_GOLD_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_PREDICTION_CHARS = MAX_ANSWER_CHARS


def _clean(text: str) -> str:
    return clean_answer(text).lower()


def read_date(text: str) -> datetime.date | None:
    """A final answer read as a date (the formats in the module doc); ``None`` otherwise. Never raises."""
    if not readable(text, MAX_PREDICTION_CHARS):
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
    if not readable(text, MAX_PREDICTION_CHARS):
        return None
    return _WEEKDAY_NUMBERS.get(_clean(text))


def read_yes_no(text: str) -> bool | None:
    """A final answer read as yes (also true) or no (also false); ``None`` otherwise."""
    if not readable(text, MAX_PREDICTION_CHARS):
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
    # A count is a whole number of days: compared exactly, "days" the only unit accepted.
    return numbers_match(prediction, gold, (DAYS,), MAX_PREDICTION_CHARS)
