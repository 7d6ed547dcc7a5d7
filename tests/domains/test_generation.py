"""GeneratedDomain's generate loop: a plan that fails draws again; a call that times out starts the seed over."""

from __future__ import annotations

import dataclasses
import random
import time
from typing import Any

import pytest

from mentor_env.core.errors import ToolError, ToolTimeout
from mentor_env.core.splits import tasks_dir
from mentor_env.core.tools import Tool, object_schema
from mentor_env.domains.base import GENERATION_ATTEMPTS, GENERATION_TIMEOUT_S, Draw, GeneratedDomain
from mentor_env.domains.scripted import TeacherPlan, TeacherTurn
from mentor_env.domains.table import TableDomain


class Hiccups:
    """A ``double`` tool whose calls fail as told, in order, then succeed."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = list(failures)
        self.calls: list[int] = []

    def __call__(self, n: int) -> int:
        self.calls.append(n)
        if self.failures:
            raise self.failures.pop(0)
        return 2 * n


class DoublingDomain(GeneratedDomain):
    """Questions 'What is n doubled?' for n drawn from the seed's stream, solved by one ``double`` call."""

    name = "doubling"
    system_prompt = "Double numbers with the tool."
    difficulties = (1,)

    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.double = Hiccups(failures or [])
        schema = object_schema({"n": {"type": "integer"}})
        self.tools = (Tool("double", "Double an integer.", schema, self.double, time_limit_s=0.5),)
        super().__init__()

    def draw(self, rng: random.Random, level: int, ood: bool) -> Draw:
        n = rng.randint(1, 1000)
        return Draw(f"What is {n} doubled?", self._plan(n), {"difficulty": level})

    @staticmethod
    def _plan(n: int) -> TeacherPlan:
        results = yield TeacherTurn("", [("double", {"n": n})])
        yield TeacherTurn(f"\\boxed{{{results[0].content}}}")

    def judge(self, prediction: str, answer: str) -> bool:
        return prediction == answer


def test_a_seed_gives_its_task():
    assert DoublingDomain().generate(3).question == "What is 607 doubled?"
    assert DoublingDomain().generate(3).answer == "1214"


def test_a_call_that_times_out_starts_the_seed_over_instead_of_drawing_again():
    stalled = DoublingDomain([ToolTimeout("the machine was busy")])
    task = stalled.generate(3)
    assert (task.question, task.answer) == ("What is 607 doubled?", "1214")
    assert stalled.double.calls == [607, 607]


def test_a_failing_plan_draws_again_from_the_same_stream():
    failing = DoublingDomain([ToolError("no rows")])
    task = failing.generate(3)
    assert (task.question, task.answer) == ("What is 558 doubled?", "1116")
    assert failing.double.calls == [607, 558]


def test_calls_that_keep_timing_out_fail_loudly_rather_than_change_the_task():
    always = DoublingDomain([ToolTimeout("busy")] * GENERATION_ATTEMPTS)
    with pytest.raises(RuntimeError, match=r"doubling seed 3: the teacher's calls timed out 3 times .*too busy"):
        always.generate(3)
    assert always.double.calls == [607, 607, 607]


def test_the_teachers_calls_are_not_held_to_the_models_time_limits():
    assert GENERATION_TIMEOUT_S == 60.0
    doubling = DoublingDomain()
    assert doubling.tools[0].time_limit_s == 0.5  # the model's limit
    assert doubling._runtime.timeout_s == GENERATION_TIMEOUT_S
    assert doubling._runtime.tools["double"].time_limit_s is None
    assert [(tool.name, tool.isolated, tool.time_limit_s) for tool in TableDomain()._runtime.tools.values()] == [
        ("list_tables", False, None),
        ("describe_table", False, None),
        ("query", False, None),
    ]


def test_a_table_query_stalled_past_the_models_limit_still_gives_the_committed_task():
    # The model's query tool is stopped at 0.7 s; a loaded CI machine once stalled a 1 ms generation
    # query that long, and the seed silently drew another task, so the committed ood split no longer matched.
    domain = TableDomain()
    query = domain._runtime.tools["query"]

    def slow_query(**arguments: Any) -> Any:
        time.sleep(0.8)
        return query.function(**arguments)

    domain._runtime.tools["query"] = dataclasses.replace(query, function=slow_query)
    task = domain.generate(2_000_000, ood=True)
    committed = (tasks_dir() / "table" / "ood.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert task.id == "table-ood-2000000"
    assert task.to_json() == committed
