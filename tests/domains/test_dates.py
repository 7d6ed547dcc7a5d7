"""The Dates domain: tools, errors, judge, generator, scripted teacher and hostile input."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mentor_env.core.messages import render_assistant_text
from mentor_env.core.tools import ERROR_CATEGORIES, ToolRuntime
from mentor_env.domains.dates import DatesDomain
from mentor_env.domains.dates.templates import OOD_TEMPLATES, TEMPLATES
from mentor_env.domains.dates.tools import TOOL_NAMES, TOOLS
from tests.conftest import call, raw

runtime = ToolRuntime(TOOLS)
domain = DatesDomain()


def test_tool_names():
    assert TOOL_NAMES == (
        "days_between", "add_days", "add_weeks", "add_months", "add_years",
        "weekday", "days_in_month", "is_leap_year",
    )  # fmt: skip


# Expected values worked out by hand (and checked against a wall calendar), not by the tools.
@pytest.mark.parametrize(
    "name, arguments, shown",
    [
        ("days_between", {"start": "2024-01-01", "end": "2024-12-31"}, "365"),
        ("days_between", {"start": "2024-03-01", "end": "2024-02-01"}, "-29"),
        ("days_between", {"start": "2000-01-01", "end": "2100-01-01"}, "36525"),
        ("days_between", {"start": "0001-01-01", "end": "9999-12-31"}, "3652058"),
        ("days_between", {"start": "2024-03-05", "end": "2024-03-05"}, "0"),
        ("add_days", {"date": "2024-02-28", "days": 1}, "2024-02-29"),
        ("add_days", {"date": "2023-02-28", "days": 1}, "2023-03-01"),
        ("add_days", {"date": "2024-12-31", "days": 1}, "2025-01-01"),
        ("add_days", {"date": "2024-03-01", "days": -1}, "2024-02-29"),
        ("add_days", {"date": "2000-01-01", "days": 1_000_000}, "4737-11-28"),
        ("add_days", {"date": "9999-12-31", "days": -1_000_000}, "7262-02-02"),
        ("add_days", {"date": "2024-01-01", "days": 0}, "2024-01-01"),
        ("add_weeks", {"date": "2024-03-15", "weeks": 10}, "2024-05-24"),
        ("add_weeks", {"date": "2024-03-15", "weeks": -2}, "2024-03-01"),
        ("add_months", {"date": "2024-01-31", "months": 1}, "2024-02-29"),
        ("add_months", {"date": "2023-01-31", "months": 1}, "2023-02-28"),
        ("add_months", {"date": "2024-03-31", "months": -1}, "2024-02-29"),
        ("add_months", {"date": "2024-10-31", "months": 1}, "2024-11-30"),
        ("add_months", {"date": "2024-01-15", "months": -1}, "2023-12-15"),
        ("add_months", {"date": "2024-11-30", "months": 3}, "2025-02-28"),
        ("add_months", {"date": "2024-05-15", "months": 12_000}, "3024-05-15"),
        ("add_years", {"date": "2024-02-29", "years": 1}, "2025-02-28"),
        ("add_years", {"date": "2024-02-29", "years": 4}, "2028-02-29"),
        ("add_years", {"date": "2096-02-29", "years": 4}, "2100-02-28"),
        ("add_years", {"date": "2024-07-04", "years": -224}, "1800-07-04"),
        ("weekday", {"date": "2024-03-15"}, "Friday"),
        ("weekday", {"date": "2024-03-05"}, "Tuesday"),
        ("weekday", {"date": "2000-01-01"}, "Saturday"),
        ("weekday", {"date": "0001-01-01"}, "Monday"),
        ("weekday", {"date": "9999-12-31"}, "Friday"),
        ("weekday", {"date": "2100-02-28"}, "Sunday"),
        ("days_in_month", {"year": 2024, "month": 2}, "29"),
        ("days_in_month", {"year": 2023, "month": 2}, "28"),
        ("days_in_month", {"year": 1900, "month": 2}, "28"),
        ("days_in_month", {"year": 2000, "month": 2}, "29"),
        ("days_in_month", {"year": 2023, "month": 4}, "30"),
        ("days_in_month", {"year": 2023, "month": 12}, "31"),
        ("is_leap_year", {"year": 2024}, "true"),
        ("is_leap_year", {"year": 2023}, "false"),
        ("is_leap_year", {"year": 1900}, "false"),
        ("is_leap_year", {"year": 2000}, "true"),
    ],
)
def test_tool_results(name, arguments, shown):
    result = runtime.execute(name, arguments)
    assert result.ok, result.content
    assert result.content == shown


@pytest.mark.parametrize(
    "name, arguments, category, message",
    [
        (
            "weekday",
            {"date": "2023-02-30"},
            "execution_error",
            "2023-02-30 is not a valid date: February 2023 has 28 days",
        ),
        ("weekday", {"date": "2023-02-29"}, "execution_error", "February 2023 has 28 days"),
        ("weekday", {"date": "2024-04-31"}, "execution_error", "April 2024 has 30 days"),
        ("weekday", {"date": "2024-13-01"}, "execution_error", "the month must be 01 to 12"),
        ("weekday", {"date": "2024-00-10"}, "execution_error", "the month must be 01 to 12"),
        ("weekday", {"date": "0000-01-01"}, "execution_error", "the year must be 0001 to 9999"),
        ("days_between", {"start": "2024-01-01", "end": "2024-01-32"}, "execution_error", "January 2024 has 31 days"),
        ("add_days", {"date": "9999-12-31", "days": 1}, "execution_error", "outside the supported dates"),
        ("add_days", {"date": "0001-01-01", "days": -1}, "execution_error", "outside the supported dates"),
        ("add_weeks", {"date": "9999-01-01", "weeks": 100}, "execution_error", "outside the supported dates"),
        ("add_months", {"date": "9000-01-01", "months": 12_000}, "execution_error", "gives the year 10000"),
        ("add_years", {"date": "2024-01-01", "years": -2024}, "execution_error", "gives the year 0"),
        ("add_days", {"date": "2024-01-01", "days": 1_000_001}, "invalid_args", "greater than the maximum of 1000000"),
        ("add_months", {"date": "2024-01-01", "months": -12_001}, "invalid_args", "less than the minimum of -12000"),
        ("add_days", {"date": "2024-01-01", "days": 1.5}, "invalid_args", "is not of type 'integer'"),
        ("add_days", {"date": "2024-01-01", "days": "10"}, "invalid_args", "is not of type 'integer'"),
        ("add_days", {"date": "2024-01-01"}, "invalid_args", "'days' is a required property"),
        ("weekday", {"date": "2024-03-05T10:00"}, "invalid_args", "does not match"),
        ("weekday", {"date": "March 5, 2024"}, "invalid_args", "does not match"),
        ("weekday", {"date": "2024-3-5"}, "invalid_args", "does not match"),
        ("weekday", {"date": ["2024-03-05"]}, "invalid_args", "is not of type 'string'"),
        ("weekday", {"date": "2024-03-05", "timezone": "UTC"}, "invalid_args", "Additional properties are not allowed"),
        ("days_in_month", {"year": 2024, "month": 13}, "invalid_args", "greater than the maximum of 12"),
        ("is_leap_year", {"year": 0}, "invalid_args", "less than the minimum of 1"),
        ("today", {}, "not_found", "there is no tool named 'today'"),
    ],
)
def test_tool_errors_are_messages(name, arguments, category, message):
    result = runtime.execute(name, arguments)
    assert result.error_category == category
    assert message in result.content


@pytest.mark.parametrize(
    "prediction, answer, correct",
    [
        ("2024-03-05", "2024-03-05", True),
        ("2024-3-5", "2024-03-05", True),
        ("2024/03/05", "2024-03-05", True),
        ("2024.03.05", "2024-03-05", True),
        ("March 5, 2024", "2024-03-05", True),
        ("march 5 2024", "2024-03-05", True),
        ("5 March 2024", "2024-03-05", True),
        ("Mar. 5th, 2024", "2024-03-05", True),
        ("the 5th of March, 2024", "2024-03-05", True),
        ("Tuesday, March 5, 2024", "2024-03-05", True),
        ("Tue 5 Mar 2024", "2024-03-05", True),
        ("\\text{2024-03-05}", "2024-03-05", True),
        ("2024-03-05.", "2024-03-05", True),
        ("Sept 9, 2024", "2024-09-09", True),
        ("Monday, March 5, 2024", "2024-03-05", False),  # wrong weekday stated
        ("03/05/2024", "2024-03-05", False),  # month/day order is ambiguous
        ("2024-03-06", "2024-03-05", False),
        ("2024-03-05T00:00", "2024-03-05", False),
        ("2023-02-30", "2023-03-02", False),
        ("March 32, 2024", "2024-04-01", False),
        ("2024/03-05", "2024-03-05", False),
        ("Tuesday", "Tuesday", True),
        ("tuesday", "Tuesday", True),
        ("TUE", "Tuesday", True),
        ("Tue.", "Tuesday", True),
        ("Tues", "Tuesday", True),
        ("\\text{Thursday}", "Thursday", True),
        ("Wednesday", "Tuesday", False),
        ("Tuesday, 2024-03-05", "Tuesday", False),
        ("12", "12", True),
        ("12 days", "12", True),
        ("12.0", "12", True),
        ("1,234", "1234", True),
        ("-29", "-29", True),
        ("29", "-29", False),
        ("1000001", "1000000", False),  # a relative tolerance would accept this
        ("12 Days", "12", True),
        ("\\text{12 days}", "12", True),
        ("12 weeks", "12", False),  # another unit is refused, never dropped
        ("12 months", "12", False),
        ("12 years", "12", False),
        ("12 thousand", "12", False),
        ("12 thousand", "12000", True),
        ("12", "12 days", True),  # reasoning-gym's golds carry the unit
        ("12 weeks", "12 days", False),
        ("12.5", "12", False),
        ("twelve", "12", False),
        ("yes", "yes", True),
        ("Yes.", "yes", True),
        ("true", "yes", True),
        ("False", "no", True),
        ("no", "yes", False),
        ("maybe", "no", False),
        ("", "2024-03-05", False),
        ("", "Tuesday", False),
        ("", "12", False),
        ("x" * 10_000, "2024-03-05", False),
        ("\ud800", "Tuesday", False),
        ("\\boxed{", "12", False),
    ],
)
def test_judge(prediction, answer, correct):
    assert domain.judge(prediction, answer) is correct


@settings(max_examples=300, deadline=None)
@given(
    prediction=st.text(max_size=60), answer=st.sampled_from(["2024-03-05", "Tuesday", "-29", "yes", "no", "garbage"])
)
def test_judge_never_raises(prediction: str, answer: str):
    assert domain.judge(prediction, answer) in (True, False)
    assert domain.judge(answer, prediction) in (True, False)


def test_judge_rejects_non_strings():
    assert domain.judge(None, "12") is False  # type: ignore[arg-type]
    assert domain.judge(12, "12") is False  # type: ignore[arg-type]


# --- generation -----------------------------------------------------------------


def test_generation_is_deterministic():
    for ood in (False, True):
        assert domain.generate(7, ood=ood) == domain.generate(7, ood=ood)
        assert domain.generate(7, ood=ood).to_json() == DatesDomain().generate(7, ood=ood).to_json()
        assert domain.generate(7, ood=ood) != domain.generate(8, ood=ood)
    assert domain.generate(7).id == "dates-7" and domain.generate(7, ood=True).id == "dates-ood-7"
    assert domain.generate(7).question != domain.generate(7, ood=True).question


def test_generation_is_byte_identical_in_a_fresh_process():
    code = (
        "from mentor_env.domains.dates import DatesDomain; d = DatesDomain(); "
        "print('\\n'.join(d.generate(s, ood=o).to_json() for o in (False, True) for s in range(20)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, encoding="utf-8")
    here = "\n".join(domain.generate(s, ood=o).to_json() for o in (False, True) for s in range(20))
    assert out.stdout.rstrip("\n") == here


def test_difficulty_is_checked_and_recorded():
    with pytest.raises(ValueError, match="difficulty must be one of"):
        domain.generate(1, difficulty=5)
    for ood in (False, True):
        for level in domain.difficulties:
            task = domain.generate(11, difficulty=level, ood=ood)
            assert task.domain == "dates"
            assert task.meta == {
                "difficulty": level,
                "style": task.meta["style"],
                "seed": 11,
                "ood": ood,
                "calls": len(task.teacher.calls),
            }


def test_calls_grow_with_difficulty_and_ood_needs_one_more():
    for seed in range(200):
        task = domain.generate(seed)
        assert task.meta["calls"] == task.meta["difficulty"], task.id
        ood_task = domain.generate(seed, ood=True)
        assert ood_task.meta["calls"] >= ood_task.meta["difficulty"] + 1, ood_task.id


def test_generated_tasks_cover_every_tool_difficulty_and_style():
    tasks = [domain.generate(seed) for seed in range(600)]
    assert set(Counter(call.name for task in tasks for call in task.teacher.calls)) == set(TOOL_NAMES)
    assert {task.meta["difficulty"] for task in tasks} == {1, 2, 3, 4}
    assert {task.meta["style"] for task in tasks} == {
        family.__name__ for level in TEMPLATES.values() for family in level
    }
    ood_tasks = [domain.generate(seed, ood=True) for seed in range(300)]
    assert {task.meta["difficulty"] for task in ood_tasks} == {1, 2, 3, 4}
    ood_styles = {task.meta["style"] for task in ood_tasks}
    assert ood_styles == {family.__name__ for level in OOD_TEMPLATES.values() for family in level}
    # Out-of-distribution wording never appears in distribution.
    assert ood_styles.isdisjoint(task.meta["style"] for task in tasks)
    # Every kind of answer occurs: dates, weekdays, counts, yes/no.
    answers = [task.answer for task in tasks]
    assert any(answer.count("-") == 2 and len(answer) == 10 for answer in answers)
    assert {"Monday", "Sunday", "yes", "no"} <= set(answers)
    assert any(answer.lstrip("-").isdigit() for answer in answers)


def test_ood_uses_larger_spans_and_dates_in_words():
    def first_dates(tasks: list[Any]) -> list[str]:
        arguments = [task.teacher.calls[0].arguments for task in tasks]
        return [args.get("date", args.get("start")) for args in arguments if "date" in args or "start" in args]

    in_years = [int(date[:4]) for date in first_dates([domain.generate(seed) for seed in range(200)])]
    ood_tasks = [domain.generate(seed, ood=True) for seed in range(200)]
    ood_years = [int(date[:4]) for date in first_dates(ood_tasks)]
    assert 1950 <= min(in_years) and max(in_years) <= 2070
    assert min(ood_years) < 1700 and max(ood_years) > 2300
    # In distribution the question carries ISO dates; out of distribution they are written out.
    assert all(task.teacher.calls[0].arguments.get("date", "") not in task.question for task in ood_tasks)


def test_teacher_makes_independent_calls_in_one_turn():
    task = next(t for t in (domain.generate(s, difficulty=3) for s in range(100)) if t.meta["style"] == "deadline_gap")
    turns = [m for m in task.teacher.messages if m["role"] == "assistant"]
    assert [len(m.get("tool_calls", [])) for m in turns] == [2, 1, 0]
    assert all(m["content"] == "" for m in turns[:-1])
    assert turns[-1]["content"] == f"The answer is \\boxed{{{task.answer}}}."
    assert task.teacher.source == "scripted"


def test_a_known_task_end_to_end():
    # seed 0 at difficulty 1 is a February 2000 question: a century year that is a leap year.
    task = domain.generate(0, difficulty=1)
    assert task.question == "How many days does February 2000 have?"
    assert [(c.name, dict(c.arguments)) for c in task.teacher.calls] == [("days_in_month", {"year": 2000, "month": 2})]
    assert task.answer == "29"


def test_generation_is_fast():
    started = time.perf_counter()
    for seed in range(1000):
        domain.generate(seed, ood=seed % 2 == 1)
    assert time.perf_counter() - started < 5.0


# --- the environment ------------------------------------------------------------


# --- hostile input ----------------------------------------------------------------


# id -> (action, category of info["errors"][0]); each is one turn with tool markup.
HOSTILE: dict[str, tuple[Any, str]] = {
    # impossible dates reach the tool, which says why
    "february-30": (call("weekday", date="2023-02-30"), "execution_error"),
    "february-29-common-year": (call("add_days", date="2023-02-29", days=1), "execution_error"),
    "april-31": (call("days_between", start="2024-04-31", end="2024-05-01"), "execution_error"),
    "month-13": (call("weekday", date="2024-13-01"), "execution_error"),
    "month-00": (call("add_months", date="2024-00-10", months=1), "execution_error"),
    "day-00": (call("weekday", date="2024-01-00"), "execution_error"),
    "year-0000": (call("weekday", date="0000-01-01"), "execution_error"),
    # results past the supported years
    "past-9999": (call("add_days", date="9999-12-31", days=1), "execution_error"),
    "before-year-1": (call("add_days", date="0001-01-01", days=-1), "execution_error"),
    "months-past-9999": (call("add_months", date="9000-01-01", months=12_000), "execution_error"),
    "years-past-9999": (call("add_years", date="2024-01-01", years=8_000), "execution_error"),
    "weeks-before-year-1": (call("add_weeks", date="0005-01-01", weeks=-1_000), "execution_error"),
    # shapes the schema refuses
    "date-with-time": (call("weekday", date="2024-03-05T10:00:00"), "invalid_args"),
    "date-with-zulu": (call("weekday", date="2024-03-05Z"), "invalid_args"),
    "date-with-offset": (call("add_days", date="2024-03-05+02:00", days=1), "invalid_args"),
    "us-format": (call("weekday", date="03/05/2024"), "invalid_args"),
    "words-format": (call("weekday", date="March 5, 2024"), "invalid_args"),
    "compact-format": (call("weekday", date="20240305"), "invalid_args"),
    "unpadded": (call("weekday", date="2024-3-5"), "invalid_args"),
    "five-digit-year": (call("weekday", date="12024-03-05"), "invalid_args"),
    "negative-year": (call("weekday", date="-2024-03-05"), "invalid_args"),
    "trailing-newline": (call("weekday", date="2024-03-05\n"), "invalid_args"),
    "arabic-indic-digits": (call("weekday", date="\u0662\u0660\u0662\u0664-\u0660\u0663-\u0660\u0665"), "invalid_args"),
    "empty-date": (call("weekday", date=""), "invalid_args"),
    "null-date": (call("weekday", date=None), "invalid_args"),
    "date-as-list": (call("days_between", start=["2024-01-01"], end="2024-02-01"), "invalid_args"),
    "date-as-object": (call("weekday", date={"year": 2024, "month": 3, "day": 5}), "invalid_args"),
    "sql-in-date": (call("weekday", date="2024-01-01'; DROP TABLE dates; --"), "invalid_args"),
    "shell-in-date": (call("weekday", date="$(rm -rf /)"), "invalid_args"),
    "path-in-date": (call("weekday", date="../../etc/passwd"), "invalid_args"),
    "python-in-date": (call("weekday", date="__import__('os').system('echo hacked')"), "invalid_args"),
    "very-long-date": (call("weekday", date="2024-01-01" * 1_000), "invalid_args"),
    "days-over-a-million": (call("add_days", date="2024-01-01", days=1_000_001), "invalid_args"),
    "days-1e308": (call("add_days", date="2024-01-01", days=1e308), "invalid_args"),
    "days-float": (call("add_days", date="2024-01-01", days=1.5), "invalid_args"),
    "days-string": (call("add_days", date="2024-01-01", days="10"), "invalid_args"),
    "days-bool": (call("add_days", date="2024-01-01", days=True), "invalid_args"),
    "weeks-over-limit": (call("add_weeks", date="2024-01-01", weeks=150_001), "invalid_args"),
    "months-over-limit": (call("add_months", date="2024-01-01", months=-12_001), "invalid_args"),
    "years-over-limit": (call("add_years", date="2024-01-01", years=10_001), "invalid_args"),
    "month-13-in-days-in-month": (call("days_in_month", year=2024, month=13), "invalid_args"),
    "year-0-in-is-leap-year": (call("is_leap_year", year=0), "invalid_args"),
    "year-as-string": (call("is_leap_year", year="2024"), "invalid_args"),
    "missing-days": (call("add_days", date="2024-01-01"), "invalid_args"),
    "missing-end": (call("days_between", start="2024-01-01"), "invalid_args"),
    "no-arguments-key": (raw('{"name": "weekday"}'), "invalid_args"),
    "extra-timezone-argument": (call("weekday", date="2024-03-05", timezone="UTC"), "invalid_args"),
    # tools that do not exist
    "today": (call("today"), "not_found"),
    "current-date": (call("get_current_date", timezone="UTC"), "not_found"),
    "shell-tool": (call("date; rm -rf /", date="2024-01-01"), "not_found"),
    "python-datetime": (call("datetime.date.today"), "not_found"),
    # broken structure
    "broken-json": (raw('{"name": "weekday", "arguments": {"date": }}'), "parse_error"),
    "truncated-json": (raw('{"name": "add_days", "arguments": {"date": "2024-01-01"'), "parse_error"),
    "single-quotes": (raw("{'name': 'weekday', 'arguments': {'date': '2024-03-05'}}"), "parse_error"),
    "nan-days": (raw('{"name": "add_days", "arguments": {"date": "2024-01-01", "days": NaN}}'), "parse_error"),
    "huge-int-days": (
        raw('{"name": "add_days", "arguments": {"date": "2024-01-01", "days": 1' + "0" * 80 + "}}"),
        "parse_error",
    ),
    "unclosed-call": ('<tool_call>{"name": "weekday", "arguments": {"date": "2024-03-05"}}', "parse_error"),
    # the turn itself
    "action-none": (None, "invalid_action"),
    "action-bytes": (call("weekday", date="2024-03-05").encode(), "invalid_action"),
    "too-many-calls": (call("weekday", date="2024-03-05") * 17, "invalid_action"),
}


_HOSTILE_TASK = domain.generate(0, difficulty=1)
_HOSTILE_ENV = gym.make("mentor/Dates-v0", max_turns=8)


@pytest.mark.parametrize("action, category", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_action_is_answered_with_a_typed_error(action: Any, category: str):
    env = _HOSTILE_ENV
    env.reset(seed=0, options={"task": _HOSTILE_TASK})
    started = time.perf_counter()
    observation, reward, terminated, truncated, info = env.step(action)
    assert time.perf_counter() - started < 2.0
    assert info["errors"], "a hostile turn must be recorded in info['errors']"
    assert info["errors"][0].split(":", 1)[0] == category, info["errors"][0][:300]
    assert all(error.split(":", 1)[0] in ERROR_CATEGORIES for error in info["errors"])
    assert "Error (" in observation and env.observation_space.contains(observation)
    assert not terminated and not truncated and math.isfinite(reward)
    # The env is still usable: the teacher's turns finish the episode correctly.
    for message in _HOSTILE_TASK.teacher.messages:
        if message["role"] == "assistant":
            observation, _, terminated, truncated, info = env.step(render_assistant_text(message))
    assert terminated and not truncated
    assert info["reward_components"]["correct"] == 1.0


@pytest.mark.parametrize(
    "arguments, shown",
    [
        ({"date": "2024-01-01", "days": 3.0}, "2024-01-04"),  # JSON Schema counts 3.0 as an integer
        ({"date": "2000-01-01", "days": 1_000_000}, "4737-11-28"),
        ({"date": "9999-12-31", "days": 0}, "9999-12-31"),
    ],
)
def test_schema_valid_edge_arguments_run(arguments: dict[str, Any], shown: str):
    env = _HOSTILE_ENV
    env.reset(seed=0, options={"task": _HOSTILE_TASK})
    observation, _, _, _, info = env.step(call("add_days", **arguments))
    assert info["errors"] == []
    assert observation == f"<tool_response>\n{shown}\n</tool_response>"


def test_tools_json_round_trips():
    # The specs the model sees are plain JSON (no Python objects leak into them).
    specs = json.loads(json.dumps([tool.spec for tool in TOOLS]))
    assert [spec["function"]["name"] for spec in specs] == list(TOOL_NAMES)
    for spec in specs:
        assert spec["function"]["parameters"]["additionalProperties"] is False
