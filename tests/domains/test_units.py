"""The Units domain: conversion tools, judge, generator, scripted teacher and hostile inputs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from typing import Any

import gymnasium as gym
import pytest

from mentor_env.core.task import Task
from mentor_env.core.tools import ToolRuntime
from mentor_env.domains.units import UnitsDomain
from mentor_env.domains.units.measures import OOD_UNITS, UNITS, is_ood_pair
from mentor_env.domains.units.tools import TOOL_NAMES, TOOLS
from tests.conftest import call, finish_with_teacher, raw

runtime = ToolRuntime(TOOLS)
domain = UnitsDomain()


def test_tool_names_and_unit_enum():
    assert TOOL_NAMES == (
        "convert", "lookup_factor", "add", "subtract", "multiply", "divide", "sum_numbers", "round_number",
    )  # fmt: skip
    assert list(UNITS) == [
        "mm", "cm", "m", "km", "in", "ft", "yd", "mile",
        "mg", "g", "kg", "t", "oz", "lb",
        "ms", "s", "min", "h", "day", "week",
        "C", "F", "K",
        "ml", "l", "m3", "cup", "gal",
        "bit", "Mbit", "Gbit", "B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB",
    ]  # fmt: skip
    convert_schema = TOOLS[0].parameters
    assert convert_schema["additionalProperties"] is False
    assert convert_schema["properties"]["from_unit"]["enum"] == list(UNITS)
    assert convert_schema["properties"]["value"]["maximum"] == 10**12


@pytest.mark.parametrize(
    "name, arguments, shown",
    [
        ("convert", {"value": 3.5, "from_unit": "km", "to_unit": "mile"}, "2.17479917283"),
        ("convert", {"value": 1, "from_unit": "mile", "to_unit": "km"}, "1.609344"),
        ("convert", {"value": 1, "from_unit": "ft", "to_unit": "in"}, "12"),
        ("convert", {"value": 2, "from_unit": "yd", "to_unit": "ft"}, "6"),
        # Decimal inputs are taken as written: 0.1 m is exactly 10 cm.
        ("convert", {"value": 0.1, "from_unit": "m", "to_unit": "cm"}, "10"),
        ("convert", {"value": 0.3, "from_unit": "l", "to_unit": "ml"}, "300"),
        ("convert", {"value": 2500, "from_unit": "mg", "to_unit": "g"}, "2.5"),
        ("convert", {"value": 250, "from_unit": "g", "to_unit": "oz"}, "8.8184904874"),
        ("convert", {"value": 1, "from_unit": "lb", "to_unit": "oz"}, "16"),
        ("convert", {"value": 90, "from_unit": "min", "to_unit": "h"}, "1.5"),
        ("convert", {"value": 1.5, "from_unit": "day", "to_unit": "s"}, "129600"),
        ("convert", {"value": 1, "from_unit": "week", "to_unit": "h"}, "168"),
        ("convert", {"value": 100, "from_unit": "C", "to_unit": "F"}, "212"),
        ("convert", {"value": 37, "from_unit": "C", "to_unit": "F"}, "98.6"),
        ("convert", {"value": 212, "from_unit": "F", "to_unit": "C"}, "100"),
        ("convert", {"value": -40, "from_unit": "F", "to_unit": "C"}, "-40"),
        ("convert", {"value": 0, "from_unit": "C", "to_unit": "K"}, "273.15"),
        ("convert", {"value": 98.6, "from_unit": "F", "to_unit": "K"}, "310.15"),
        ("convert", {"value": 0, "from_unit": "K", "to_unit": "F"}, "-459.67"),
        ("convert", {"value": -459.67, "from_unit": "F", "to_unit": "K"}, "0"),  # absolute zero itself is allowed
        ("convert", {"value": 1, "from_unit": "m3", "to_unit": "l"}, "1000"),
        ("convert", {"value": 1, "from_unit": "gal", "to_unit": "cup"}, "16"),
        ("convert", {"value": 500, "from_unit": "ml", "to_unit": "cup"}, "2.11337641887"),
        # SI prefixes are decimal, binary prefixes are powers of 1024.
        ("convert", {"value": 2.5, "from_unit": "GB", "to_unit": "MB"}, "2500"),
        ("convert", {"value": 1, "from_unit": "GiB", "to_unit": "MB"}, "1073.741824"),
        ("convert", {"value": 1024, "from_unit": "KiB", "to_unit": "MiB"}, "1"),
        ("convert", {"value": 1, "from_unit": "TiB", "to_unit": "GB"}, "1099.51162778"),
        ("convert", {"value": 100, "from_unit": "Mbit", "to_unit": "MB"}, "12.5"),
        ("convert", {"value": 1, "from_unit": "Gbit", "to_unit": "MiB"}, "119.209289551"),
        ("convert", {"value": 8, "from_unit": "bit", "to_unit": "B"}, "1"),
        ("convert", {"value": 1, "from_unit": "bit", "to_unit": "TiB"}, "1.13686837722e-13"),
        ("convert", {"value": 5, "from_unit": "km", "to_unit": "km"}, "5"),
        ("convert", {"value": 1e12, "from_unit": "km", "to_unit": "m"}, "1e+15"),  # the largest result allowed
        ("lookup_factor", {"from_unit": "mile", "to_unit": "ft"}, "5280"),
        ("lookup_factor", {"from_unit": "kg", "to_unit": "lb"}, "2.20462262185"),
        ("lookup_factor", {"from_unit": "m", "to_unit": "ft"}, "3.28083989501"),
        ("lookup_factor", {"from_unit": "t", "to_unit": "lb"}, "2204.62262185"),
        ("lookup_factor", {"from_unit": "cup", "to_unit": "ml"}, "236.5882365"),
        ("lookup_factor", {"from_unit": "km", "to_unit": "km"}, "1"),
        ("round_number", {"x": 2.17479917283, "decimals": 2}, "2.17"),
        ("sum_numbers", {"numbers": [1.5, 2.25, 3]}, "6.75"),
        ("divide", {"a": 2500, "b": 40}, "62.5"),
    ],
)
def test_tool_results(name: str, arguments: dict[str, Any], shown: str) -> None:
    result = runtime.execute(name, arguments)
    assert result.ok, result.content
    assert result.content == shown


ALL_UNITS_LISTED = (
    "['mm', 'cm', 'm', 'km', 'in', 'ft', 'yd', 'mile', 'mg', 'g', 'kg', 't', 'oz', 'lb', 'ms', 's', 'min', 'h', "
    "'day', 'week', 'C', 'F', 'K', 'ml', 'l', 'm3', 'cup', 'gal', 'bit', 'Mbit', 'Gbit', 'B', 'KB', 'MB', 'GB', "
    "'TB', 'KiB', 'MiB', 'GiB', 'TiB']"
)


@pytest.mark.parametrize(
    "name, arguments, category, message",
    [
        (
            "convert",
            {"value": 1, "from_unit": "kg", "to_unit": "km"},
            "execution_error",
            "convert failed: cannot convert kg (mass) to km (length); both units must measure the same quantity. "
            "mass units are: mg, g, kg, t, oz, lb",
        ),
        (
            "lookup_factor",
            {"from_unit": "GB", "to_unit": "h"},
            "execution_error",
            "data units are: bit, Mbit, Gbit, B, KB, MB, GB, TB, KiB, MiB, GiB, TiB",
        ),
        (
            "lookup_factor",
            {"from_unit": "C", "to_unit": "F"},
            "execution_error",
            "C to F is not a multiplicative conversion (temperature scales have different zero points); "
            "call convert with the temperature instead",
        ),
        (
            "convert",
            {"value": -300, "from_unit": "C", "to_unit": "K"},
            "execution_error",
            "-300 C is below absolute zero (-273.15 C)",
        ),
        ("convert", {"value": -1, "from_unit": "K", "to_unit": "C"}, "execution_error", "below absolute zero (0 K)"),
        ("convert", {"value": -500, "from_unit": "F", "to_unit": "C"}, "execution_error", "(-459.67 F)"),
        (
            "convert",
            {"value": 1e12, "from_unit": "km", "to_unit": "mm"},
            "execution_error",
            "the result 1e+18 mm is outside the supported range (|result| <= 1e+15); convert to a larger unit",
        ),
        # NaN cannot arrive through the parser, but a direct runtime call is answered too.
        ("convert", {"value": math.nan, "from_unit": "km", "to_unit": "m"}, "invalid_args", "not a JSON number"),
        (
            "convert",
            {"value": 1, "from_unit": "furlong", "to_unit": "m"},
            "invalid_args",
            f"'furlong' is not one of {ALL_UNITS_LISTED} (at 'from_unit')",
        ),
        ("convert", {"value": 1, "from_unit": "km", "to_unit": "KM"}, "invalid_args", "'KM' is not one of"),
        (
            "convert",
            {"value": 1e300, "from_unit": "km", "to_unit": "m"},
            "invalid_args",
            "1e+300 is greater than the maximum of 1000000000000 (at 'value')",
        ),
        ("convert", {"value": "3", "from_unit": "km", "to_unit": "m"}, "invalid_args", "'3' is not of type 'number'"),
        ("convert", {"value": 3, "from": "km", "to": "m"}, "invalid_args", "'from_unit' is a required property"),
        ("lookup_factor", {"from_unit": "km"}, "invalid_args", "'to_unit' is a required property"),
        ("convert_units", {"value": 3}, "not_found", "there is no tool named 'convert_units'"),
    ],
)
def test_tool_errors_are_messages(name: str, arguments: dict[str, Any], category: str, message: str) -> None:
    result = runtime.execute(name, arguments)
    assert result.error_category == category
    assert message in result.content


@pytest.mark.parametrize(
    "prediction, answer, correct",
    [
        ("21", "21", True),
        ("21.0", "21", True),
        ("21.", "21", True),
        ("\\text{21}", "21", True),
        ("$13.12", "13.12", True),
        ("1,073.741824", "1073.741824", True),
        ("2.17479917283", "2.17479917283", True),
        ("2.174799", "2.17479917283", True),  # a rounded real (12 digits): within a relative 1e-6
        ("2.17", "2.17479917283", False),  # rounded when the question did not ask for it
        ("27.47", "27.47", True),
        ("27.468688", "27.47", False),  # not rounded when the question asked for 2 decimals
        ("2.18", "2.17", False),
        ("2170", "2.17", False),  # a number in another unit is wrong
        ("44.96063", "44.9606299213", True),
        ("44.96", "44.9606299213", False),
        ("3.218688", "3.218688", True),
        ("3.21869", "3.218688", False),  # an exact product wants all its digits
        ("$254.42", "254.42", True),
        ("5868", "5868", True),
        ("5869", "5868", False),  # a whole number is exact
        # The judge sees a bare gold number, not the unit asked for: a unit is refused, never ignored.
        ("21 min", "21", False),
        ("21 h", "21", False),
        ("-3.5 °F", "-3.5", False),
        ("310.15 K", "310.15", False),
        ("2.5 m³", "2.5", False),
        ("$13.12/kg", "13.12", False),
        ("13.12 dollars per kg", "13.12", False),
        ("12.5\\text{ MB}", "12.5", False),
        ("32.963 thousand", "32963", True),  # a scale word converts
        ("32963k", "32963", False),
        ("twelve", "12", False),
        ("3 or 4", "3", False),
        ("5 km and 3 m", "5", False),
        ("", "0", False),
        ("9" * 300, "9", False),
    ],
)
def test_judge(prediction: str, answer: str, correct: bool) -> None:
    assert domain.judge(prediction, answer) is correct


# --- generation ---------------------------------------------------------------


def test_generation_is_deterministic():
    assert domain.generate(7) == domain.generate(7)
    assert domain.generate(7).to_json() == UnitsDomain().generate(7).to_json()
    assert domain.generate(7, ood=True).to_json() == UnitsDomain().generate(7, ood=True).to_json()
    assert domain.generate(7) != domain.generate(8)
    assert domain.generate(7).question != domain.generate(7, ood=True).question
    assert domain.generate(7).id == "units-7" and domain.generate(7, ood=True).id == "units-ood-7"
    with pytest.raises(ValueError, match="difficulty must be one of"):
        domain.generate(1, difficulty=5)


def test_generation_is_byte_identical_in_a_fresh_process():
    seeds = [0, 1, 2, 99, 12345]
    code = (
        "import json; from mentor_env.domains.units import UnitsDomain; d = UnitsDomain(); "
        f"print(json.dumps([d.generate(s, ood=o).to_json() for s in {seeds} for o in (False, True)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [domain.generate(s, ood=o).to_json() for s in seeds for o in (False, True)]


def test_task_round_trips_through_its_record():
    task = domain.generate(3, difficulty=4, ood=True)
    assert Task.from_dict(json.loads(task.to_json())) == task
    assert set(task.meta) == {"difficulty", "style", "operations", "seed", "ood"}
    assert (task.meta["difficulty"], task.meta["seed"], task.meta["ood"]) == (4, 3, True)
    assert task.meta["operations"] == len(task.teacher.calls)


def _pairs_of(task: Task) -> list[tuple[str, str]]:
    return [
        (call.arguments["from_unit"], call.arguments["to_unit"])
        for call in task.teacher.calls
        if call.name in ("convert", "lookup_factor")
    ]


def test_tasks_cover_every_tool_and_difficulty_and_hold_out_ood_units():
    in_dist = [domain.generate(seed) for seed in range(600)]
    ood = [domain.generate(seed, ood=True) for seed in range(600)]
    assert set(Counter(call.name for task in in_dist for call in task.teacher.calls)) == set(TOOL_NAMES)
    assert {task.meta["difficulty"] for task in in_dist} == {1, 2, 3, 4}
    assert {task.meta["difficulty"] for task in ood} == {1, 2, 3, 4}
    # Held-out units and pairs never appear in distribution; every ood task uses one.
    assert not any(is_ood_pair(*pair) for task in in_dist for pair in _pairs_of(task))
    assert all(any(is_ood_pair(*pair) for pair in _pairs_of(task)) for task in ood)
    assert not any(unit in task.question.split() for task in in_dist for unit in ("KiB", "MiB", "GiB", "TiB", "Mbit"))
    assert {"gal", "KiB", "week", "yd", "t", "cup", "Mbit", "GiB"} <= OOD_UNITS
    # Wording families are disjoint, and ood takes one more call at every level.
    assert not {task.meta["style"] for task in in_dist} & {task.meta["style"] for task in ood}

    def operations(tasks: list[Task]) -> dict[int, set[int]]:
        found: dict[int, set[int]] = {}
        for task in tasks:
            found.setdefault(task.meta["difficulty"], set()).add(task.meta["operations"])
        return found

    assert operations(in_dist) == {1: {1}, 2: {2}, 3: {3}, 4: {4, 5}}
    assert operations(ood) == {1: {2}, 2: {3}, 3: {4}, 4: {5, 6}}
    assert all(task.meta["ood"] for task in ood) and not any(task.meta["ood"] for task in in_dist)
    # Frozen splits need many distinct questions.
    assert len({task.question for task in in_dist}) >= 570


def test_teacher_calls_independent_conversions_in_one_turn():
    task = next(t for t in (domain.generate(s, difficulty=3) for s in range(200)) if t.meta["style"] == "combined")
    assistant_turns = [m for m in task.teacher.messages if m["role"] == "assistant"]
    assert [len(m.get("tool_calls", [])) for m in assistant_turns] == [2, 1, 0]
    assert all(m["content"] == "" for m in assistant_turns[:-1])
    assert assistant_turns[-1]["content"] == f"The answer is \\boxed{{{task.answer}}}."
    priced = next(t for t in (domain.generate(s, difficulty=3) for s in range(200)) if t.meta["style"] == "unit_price")
    assert [c.name for c in priced.teacher.calls] == ["lookup_factor", "multiply", "round_number"]


# --- the environment ------------------------------------------------------------


def convert_call(value: Any = 3.5, from_unit: Any = "km", to_unit: Any = "m") -> str:
    return call("convert", value=value, from_unit=from_unit, to_unit=to_unit)


# A call written by hand, for number literals that json.dumps would not write.
CONVERT_WITH_VALUE = '{"name": "convert", "arguments": {"value": %s, "from_unit": "km", "to_unit": "m"}}'

# id -> (action, category of info["errors"][0]).
HOSTILE: dict[str, tuple[Any, str]] = {
    # --- units that are not in the enum ----------------------------------------
    "unknown-unit-furlong": (convert_call(from_unit="furlong"), "invalid_args"),
    "unknown-target-parsec": (convert_call(to_unit="parsec"), "invalid_args"),
    "unit-wrong-case": (convert_call(from_unit="KM"), "invalid_args"),
    "unit-spelled-out": (convert_call(from_unit="kilometers"), "invalid_args"),
    "unit-with-degree-sign": (convert_call(20, "°C", "F"), "invalid_args"),
    "unit-with-space": (convert_call(from_unit=" km"), "invalid_args"),
    "unit-empty": (convert_call(from_unit=""), "invalid_args"),
    "unit-path": (convert_call(from_unit="../../../etc/passwd"), "invalid_args"),
    "unit-sql": (convert_call(to_unit="m'; DROP TABLE units; --"), "invalid_args"),
    "unit-shell-substitution": (convert_call(from_unit="$(rm -rf /)"), "invalid_args"),
    "unit-backticks": (convert_call(to_unit="`touch /tmp/pwned`"), "invalid_args"),
    "unit-python-code": (call("lookup_factor", from_unit="__import__('os').system('id')", to_unit="m"), "invalid_args"),
    "unit-nul-byte": (convert_call(from_unit="km\x00"), "invalid_args"),
    "unit-10000-chars": (convert_call(from_unit="k" * 10_000), "invalid_args"),
    "unit-20000-chars-call-too-long": (convert_call(from_unit="k" * 20_000), "parse_error"),
    "unit-as-list": (convert_call(from_unit=["km"]), "invalid_args"),
    "unit-as-number": (convert_call(from_unit=5), "invalid_args"),
    "unit-null": (convert_call(to_unit=None), "invalid_args"),
    # --- units that exist but do not fit together ------------------------------
    "mass-to-length": (convert_call(1, "kg", "km"), "execution_error"),
    "temperature-to-volume": (convert_call(20, "C", "l"), "execution_error"),
    "data-to-time": (convert_call(2.5, "GB", "s"), "execution_error"),
    "factor-data-to-time": (call("lookup_factor", from_unit="MB", to_unit="h"), "execution_error"),
    "factor-for-temperature": (call("lookup_factor", from_unit="C", to_unit="F"), "execution_error"),
    "factor-kelvin-to-kelvin": (call("lookup_factor", from_unit="K", to_unit="K"), "execution_error"),
    "below-absolute-zero-celsius": (convert_call(-300, "C", "K"), "execution_error"),
    "below-absolute-zero-kelvin": (convert_call(-1, "K", "C"), "execution_error"),
    "below-absolute-zero-fahrenheit": (convert_call(-459.68, "F", "C"), "execution_error"),
    "result-too-large": (convert_call(1e12, "km", "mm"), "execution_error"),
    "result-too-large-bits": (convert_call(1e12, "TB", "bit"), "execution_error"),
    # --- values the schema refuses ---------------------------------------------
    "value-1e300": (convert_call(1e300), "invalid_args"),
    "value-minus-1e13": (convert_call(-1e13), "invalid_args"),
    "value-string-number": (convert_call("3.5"), "invalid_args"),
    "value-string-with-unit": (convert_call("3.5 km"), "invalid_args"),
    "value-bool": (convert_call(True), "invalid_args"),
    "value-list": (convert_call([3.5]), "invalid_args"),
    "value-null": (convert_call(None), "invalid_args"),
    "value-nan-literal": (raw(CONVERT_WITH_VALUE % "NaN"), "parse_error"),
    "value-infinity-literal": (raw(CONVERT_WITH_VALUE % "Infinity"), "parse_error"),
    "value-1e999-literal": (raw(CONVERT_WITH_VALUE % "1e999"), "parse_error"),
    # --- argument names -----------------------------------------------------------
    "wrong-argument-names": (call("convert", value=3.5, **{"from": "km", "to": "m"}), "invalid_args"),
    "missing-value": (call("convert", from_unit="km", to_unit="m"), "invalid_args"),
    "extra-argument": (call("convert", value=3.5, from_unit="km", to_unit="m", precision=2), "invalid_args"),
    "factor-with-value": (call("lookup_factor", value=2, from_unit="km", to_unit="m"), "invalid_args"),
    "arguments-as-list": (raw('{"name": "convert", "arguments": [3.5, "km", "m"]}'), "parse_error"),
    "round-decimals-99": (call("round_number", x=2.5, decimals=99), "invalid_args"),
    # --- broken calls and unknown tools ----------------------------------------
    "broken-json": (raw('{"name": "convert", "arguments": {"value": 3.5, "from_unit": }}'), "parse_error"),
    "unclosed-call": ('<tool_call>{"name": "convert", "arguments": {"value": 1}}', "parse_error"),
    "unknown-tool": (call("convert_units", value=3.5, unit="km"), "not_found"),
    "eval-tool": (call("eval", expression="3.5 * 1000"), "not_found"),
    "divide-by-zero": (call("divide", a=1, b=0), "execution_error"),
    "action-not-text": (None, "invalid_action"),
    "too-many-calls": (convert_call() * 17, "invalid_action"),
}


@pytest.fixture(scope="module")
def hostile_env() -> gym.Env:
    return gym.make("mentor/Units-v0")


# A two-call task (convert, then one arithmetic step) that the teacher finishes in three turns.
HOSTILE_TASK = domain.generate(5, difficulty=2)


@pytest.mark.parametrize("action, category", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_action_is_an_error_observation(hostile_env: gym.Env, action: Any, category: str) -> None:
    observation, info = hostile_env.reset(seed=0, options={"task": HOSTILE_TASK})
    observation, reward, terminated, truncated, info = hostile_env.step(action)
    assert info["errors"], "a hostile turn must be recorded in info['errors']"
    assert info["errors"][0].split(":", 1)[0] == category, info["errors"][0][:300]
    assert isinstance(observation, str) and "Error (" in observation
    assert hostile_env.observation_space.contains(observation)
    assert not terminated and not truncated and math.isfinite(reward)
    # Still usable: the teacher's turns solve the task after the hostile one.
    terminated, truncated, info = finish_with_teacher(hostile_env, observation, info)
    assert terminated and not truncated
    assert info["reward_components"]["correct"] == 1.0
