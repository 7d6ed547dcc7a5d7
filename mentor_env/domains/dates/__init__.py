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
    true/false; counts of days exactly, with ``days`` the only unit accepted
    (``"1,234 days"``; ``"5 weeks"`` is not 5), by
    :func:`~mentor_env.domains.answers.numbers_match`. Never raises.

Modules
    :mod:`.tools`, :mod:`.templates` (wording helpers, question templates),
    :mod:`.teacher` (a question's plan as
    :class:`~mentor_env.domains.scripted.Call` objects for
    :func:`~mentor_env.domains.scripted.solve_calls`), :mod:`.judge`.

Spaces, rewards, termination and arguments are those of
:class:`~mentor_env.core.env.ToolUseEnv`.
"""

from __future__ import annotations

import random

from mentor_env.domains.base import Draw, GeneratedDomain
from mentor_env.domains.dates.judge import judge_answer
from mentor_env.domains.dates.teacher import solve
from mentor_env.domains.dates.templates import OOD_TEMPLATES, TEMPLATES
from mentor_env.domains.dates.tools import TOOLS

__all__ = ["DatesDomain"]

SYSTEM_PROMPT = (
    "You are a careful assistant that answers calendar questions with the date tools provided. "
    "Pass dates to the tools as YYYY-MM-DD. Do every date calculation with a tool call instead of counting "
    "yourself; you may make several independent calls in one turn. When a period combines several units, "
    "apply them from the largest to the smallest: years, then months, then weeks, then days. Adding months or "
    "years to a day that the target month lacks (the 31st, or 29 February) gives the last day of that month. "
    "When you know the result, reply without a tool call and put the final answer in \\boxed{}: a date as "
    "YYYY-MM-DD, a weekday as its English name, a count as a whole number, or yes or no."
)


class DatesDomain(GeneratedDomain):
    """Calendar arithmetic questions with eight date tools."""

    name = "dates"
    tools = TOOLS
    system_prompt = SYSTEM_PROMPT
    difficulties = (1, 2, 3, 4)
    # reasoning-gym's tasks that these tools solve (mentor_env.external.reasoning_gym).
    extra_splits = {"ood-reasoning-gym": "mentor_env.external.reasoning_gym:dates_tasks"}

    def random_stream(self, seed: int, ood: bool) -> random.Random:
        # A separate stream for ood, so that seed 7 in and out of distribution share no draws.
        # String seeds go through SHA-512 (not hash()), so they are the same in every process.
        return random.Random(f"dates-ood-{seed}" if ood else seed)

    def draw(self, rng: random.Random, level: int, ood: bool) -> Draw:
        # A draw that leaves the supported years is drawn again.
        template = rng.choice((OOD_TEMPLATES if ood else TEMPLATES)[level])
        question, plan = template(rng)
        # The teacher makes each step's call once.
        return Draw(question, solve(plan), {"difficulty": level, "style": template.__name__, "calls": len(plan)})

    def judge(self, prediction: str, answer: str) -> bool:
        return judge_answer(prediction, answer)
