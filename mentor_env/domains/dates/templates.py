"""Question templates: wording helpers, in-distribution and out-of-distribution families."""

from __future__ import annotations

import calendar
import datetime
import functools
import random
from typing import Callable

from mentor_env.domains.dates.teacher import Plan, chain, last_day, month_length_of, year_of
from mentor_env.domains.dates.tools import MONTHS
from mentor_env.domains.scripted import Call


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


Template = Callable[[random.Random], tuple[str, Plan]]

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


TEMPLATES: dict[int, tuple[Template, ...]] = {
    1: (weekday_of, days_from_to, days_offset, weeks_offset, months_offset, years_offset, month_length, leap_year),
    2: (
        delivery_weekday,
        course_end,
        lease_weekday,
        renewal_month_length,
        loan_days,
        birthday_weekday,
        leap_year_after,
    ),
    3: (project_end_weekday, deadline_gap, contract_month_length, warranty_days),
    4: (review_weekday, trial_vs_subscription, tenure_weekday),
}


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


OOD_TEMPLATES: dict[int, tuple[Template, ...]] = {
    1: (leap_birthday_weekday, countdown_leap),
    2: (holiday_deadline, quarter_close, leap_birthday_gap),
    3: (net_terms, time_capsule),
    4: (mission_log, dual_lease),
}
