"""Tasks that bring their own tools, and domains that judge the episode's calls (core, no real domain)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mentor_env.core.domain import EpisodeJudgeDomain, TaskToolsDomain
from mentor_env.core.env import ToolUseEnv
from mentor_env.core.task import Task, TeacherCall, TeacherTrajectory
from mentor_env.core.tools import Tool, object_schema
from mentor_env.domains.calc import CalcDomain
from tests.conftest import call


def _spec(name: str, parameter: str) -> dict:
    return Tool(name, f"{name} it", object_schema({parameter: {"type": "integer"}}), _noop).spec


def _noop(**arguments):
    return "noted"


class ToyDomain:
    """Each task names its tools; correct means 'called every one of its tools once'."""

    name = "toy"
    tools = ()
    system_prompt = "Toy."
    difficulties = ()

    def generate(self, seed, difficulty=None, ood=False):
        raise ValueError("not generated")

    def judge(self, prediction, answer):
        return False

    def task_tools(self, task):
        return [Tool(spec["function"]["name"], "", spec["function"]["parameters"], _noop) for spec in task.tools]

    def task_system_prompt(self, task):
        return f"Toy: {task.meta.get('extra', '')}"

    def judge_episode(self, task, trajectory):
        return sorted(name for name, _ in trajectory.successful_calls()) == sorted(json.loads(task.answer))


def _task(task_id: str, *names: str) -> Task:
    return Task(
        task_id,
        "toy",
        f"Call {', '.join(names) or 'nothing'}.",
        json.dumps(list(names)),
        teacher=TeacherTrajectory(calls=tuple(TeacherCall(name, {"n": 1}) for name in names), source="hand-written"),
        meta={"extra": task_id},
        tools=tuple(_spec(name, "n") for name in names),
    )


@pytest.fixture
def env():
    return ToolUseEnv(ToyDomain(), tasks=[_task("one", "alpha.get"), _task("two", "beta-set", "gamma"), _task("none")])


def test_the_toy_domain_has_both_extensions():
    assert isinstance(ToyDomain(), TaskToolsDomain) and isinstance(ToyDomain(), EpisodeJudgeDomain)
    assert not isinstance(CalcDomain(), TaskToolsDomain) and not isinstance(CalcDomain(), EpisodeJudgeDomain)


def test_each_episode_serves_its_tasks_tools_and_system_prompt(env):
    observation, info = env.reset(options={"task_id": "two"})
    assert [spec["function"]["name"] for spec in info["tools"]] == ["beta-set", "gamma"]
    assert '"name": "beta-set"' in observation and "alpha.get" not in observation
    assert info["messages"][0]["content"] == "Toy: two"
    observation, info = env.reset(options={"task_id": "one"})
    assert [spec["function"]["name"] for spec in info["tools"]] == ["alpha.get"]
    _, _, _, _, info = env.step(call("gamma", n=1) + call("alpha.get", n="x"))
    assert [error.split(":")[0] for error in info["errors"]] == ["not_found", "invalid_args"]


def test_the_domain_judges_the_calls_and_the_answer_is_their_json(env):
    env.reset(options={"task_id": "two"})
    env.step(call("gamma", n=1) + call("beta-set", n=2))
    _, reward, terminated, _, info = env.step("done")
    assert terminated and info["reward_components"]["correct"] == 1.0 and reward == 1.1
    outcome = env.outcome()
    assert json.loads(outcome.answer) == [
        {"name": "gamma", "arguments": {"n": 1}},
        {"name": "beta-set", "arguments": {"n": 2}},
    ]
    env.reset(options={"task_id": "two"})
    env.step(call("gamma", n=1))
    _, reward, _, _, info = env.step("done")
    assert info["reward_components"]["correct"] == 0.0 and info["reward_components"]["answered"] == 1.0


def test_no_call_is_an_answer_too(env):
    env.reset(options={"task_id": "none"})
    _, reward, terminated, _, info = env.step("Nothing to call.")
    assert terminated and info["reward_components"]["correct"] == 1.0 and info["tools"] == []


def test_a_truncated_episode_is_not_judged_correct(env):
    env = ToolUseEnv(ToyDomain(), tasks=[_task("one", "alpha.get")], max_turns=1)
    env.reset()
    _, reward, terminated, truncated, info = env.step(call("alpha.get", n=1))
    assert truncated and not terminated and reward == 0.0 and info["reward_components"]["correct"] == 0.0


def test_a_domain_without_per_task_tools_refuses_such_a_task_and_keeps_its_episode():
    env = ToolUseEnv(CalcDomain())
    env.reset(seed=0)
    before = env.task
    with pytest.raises(ValueError, match="cannot serve per-task tools"):
        env.reset(options={"task": dataclasses.replace(_task("x", "alpha"), domain="calc")})
    assert env.task is before and len(env.runtime.specs) == 12


def test_task_records_carry_tools_only_when_the_task_has_its_own():
    task = _task("two", "beta-set", "gamma")
    record = task.to_dict()
    assert [spec["function"]["name"] for spec in record["tools"]] == ["beta-set", "gamma"]
    assert Task.from_dict(json.loads(task.to_json())) == task
    plain = Task("p", "calc", "q", "1")
    assert "tools" not in plain.to_dict() and Task.from_dict(plain.to_dict()).tools == ()
    with pytest.raises(ValueError, match="'tools' must be a list of function specs"):
        Task.from_dict({**plain.to_dict(), "tools": [{"function": {}}]})
