from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import pytest

import mentor_env  # noqa: F401  (registers the ids)
from mentor_env.play.teachers import ReplayPolicy

# (2 + 3) * 4 = 20: the teacher adds, then multiplies.
SMALL_TASK: dict[str, Any] = {
    "id": "test-small",
    "domain": "calc",
    "question": "What is (2 + 3) × 4?",
    "answer": "20",
    "teacher": {
        "messages": [],
        "tool_calls": [
            {"name": "add", "arguments": {"a": 2, "b": 3}},
            {"name": "multiply", "arguments": {"a": 5, "b": 4}},
        ],
        "source": "hand-written",
    },
    "meta": {},
}


def call(name: str, **arguments: Any) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def raw(body: str) -> str:
    """One call block with ``body`` written verbatim between the tags."""
    return f"<tool_call>{body}</tool_call>"


def finish_with_teacher(env, observation: str, info: dict[str, Any]) -> tuple[bool, bool, dict[str, Any]]:
    """Play the teacher's turns from the current state until the episode ends."""
    agent = ReplayPolicy()
    agent.reset(env, observation, info)
    terminated = truncated = False
    while not (terminated or truncated):
        observation, _, terminated, truncated, info = env.step(agent.act(observation, info))
    return terminated, truncated, info


def replay_teacher(env, seed: int = 0, task=None) -> tuple[bool, bool, dict[str, Any]]:
    """Reset (to ``task`` if given) and play the teacher's whole trajectory."""
    observation, info = env.reset(seed=seed, options={"task": task} if task is not None else None)
    return finish_with_teacher(env, observation, info)


def assert_teacher_solved(env, terminated: bool, truncated: bool, info: dict[str, Any]) -> None:
    """The episode ended by itself, correct, scoring 1.1, and recorded the teacher's conversation."""
    task = env.unwrapped.task
    assert terminated and not truncated, task.id
    assert info["reward_components"]["correct"] == 1.0, task.id
    assert info["rewards"]["mentor"] == pytest.approx(1.1), task.id
    assert info["errors"] == [], task.id
    assert info["messages"] == list(task.teacher.messages), task.id


@pytest.fixture
def small_env():
    def make(**kwargs: Any):
        env = gym.make("mentor/Calc-v0", **kwargs)
        env.reset(seed=0, options={"task": SMALL_TASK})
        return env

    return make


def play(env, actions: list[Any]) -> tuple[list[float], list[dict[str, Any]], bool, bool]:
    """Step through ``actions``; returns per-step rewards, infos and the final flags."""
    rewards, infos = [], []
    terminated = truncated = False
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        infos.append(info)
        if terminated or truncated:
            break
    return rewards, infos, terminated, truncated


@pytest.fixture(scope="session")
def tiny_student_path(tmp_path_factory):
    """A small tiny student (random weights), built once per test session."""
    pytest.importorskip("transformers")
    from agents.students import build_tiny_student, teacher_corpus

    path = tmp_path_factory.mktemp("tiny-student")
    build_tiny_student(
        path, seed=0, vocab_size=1024, hidden_size=64, layers=2, corpus=list(teacher_corpus(tasks_per_domain=60))
    )
    return path


def self_containing_list() -> list:
    """A list that holds itself: what a careless caller can hand a reward function as arguments."""
    cycle: list = []
    cycle.append(cycle)
    return cycle


def nested_list(depth: int) -> list:
    """``[[[...]]]`` nested ``depth`` deep, built without recursion."""
    outer: list = []
    level = outer
    for _ in range(depth):
        level.append([])
        level = level[0]
    return outer
