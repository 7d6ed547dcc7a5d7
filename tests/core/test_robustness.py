"""What no caller can break: odd action objects, arguments, the turn's time budget, pickling, third-party callers.

Each test states the class of input it covers; the expected observations and
errors are written out. Time bounds here are gross ("within 5 s" for work the
env must refuse at once); speed is measured in ``benchmarks.env_throughput``.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mentor_env  # noqa: F401  (registers the ids)
from mentor_env.core.env import ToolUseEnv
from mentor_env.core.splits import load_split
from mentor_env.core.task import Task
from mentor_env.core.tools import Tool, number_param, object_schema
from mentor_env.domains import get_domain
from mentor_env.registration import ENV_IDS
from tests.conftest import SMALL_TASK, call

TEXT_IDS = [env_id for env_id in ENV_IDS if "Structured" not in env_id]


# --- any Python object as the action --------------------------------------


class RaisingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr refused")

    __str__ = __repr__


class LenRaisingStr(str):
    def __len__(self) -> int:
        raise RuntimeError("len refused")

    def __str__(self) -> str:
        raise RuntimeError("str refused")


class PretendsToBeStr:
    """``isinstance(x, str)`` is true through ``__class__``, but it is no string."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return str


def deeply_nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "action, type_name",
    [
        (deeply_nested(100_000), "list"),
        (RaisingRepr(), "RaisingRepr"),
        (PretendsToBeStr(), "PretendsToBeStr"),
        (list(range(10**7)), "list"),
        (b"<tool_call>", "bytes"),
        (None, "NoneType"),
    ],
    ids=["nested-100000", "raising-repr", "fake-str-class", "ten-million-list", "bytes", "none"],
)
def test_any_object_is_answered_as_an_invalid_action_and_the_episode_goes_on(small_env, action, type_name):
    env = small_env()
    started = time.perf_counter()
    obs, reward, terminated, truncated, info = env.step(action)
    assert time.perf_counter() - started < 5.0
    expected = f"invalid_action: the action must be the text the model generated (str), got {type_name}"
    assert info["errors"] == [expected]
    assert obs == f"<tool_response>\nError (invalid_action): {expected.split(': ', 1)[1]}\n</tool_response>"
    assert (reward, terminated, truncated, info["turn"]) == (0.0, False, False, 1)
    assert [message["role"] for message in info["messages"]] == ["system", "user", "assistant", "tool"]
    assert info["messages"][2]["content"] == ""
    # The episode is consistent: the next turn is turn 2 and runs its call.
    obs, _, _, _, info = env.step(call("add", a=2, b=3))
    assert info["turn"] == 2 and info["errors"] == [] and obs == "<tool_response>\n5\n</tool_response>"


def test_a_str_subclass_is_played_as_its_text_without_running_its_methods(small_env):
    env = small_env()
    obs, _, _, _, info = env.step(LenRaisingStr(call("add", a=2, b=3)))
    assert info["errors"] == [] and obs == "<tool_response>\n5\n</tool_response>"
    assert env.unwrapped.trajectory.turns[0].text == call("add", a=2, b=3)
    assert type(env.unwrapped.trajectory.turns[0].text) is str


# --- one time budget per turn -----------------------------------------------


def _nap(seconds: float) -> str:
    time.sleep(seconds)
    return "rested"


@dataclass
class NapDomain:
    """A one-tool domain whose tool sleeps: to see the turn's budget spent."""

    name: str = "nap"
    system_prompt: str = "Rest, then answer."
    difficulties: tuple[int, ...] = (1,)
    tools: tuple[Tool, ...] = field(
        default_factory=lambda: (
            Tool("nap", "Sleep a while.", object_schema({"seconds": number_param("How long.", 5)}), _nap),
        )
    )

    def generate(self, seed: int, difficulty: int | None = None, ood: bool = False) -> Task:
        return Task(f"nap-{seed}", "nap", "Rest, then say 1.", "1")

    def judge(self, prediction: str, answer: str) -> bool:
        return prediction.strip() == answer


def test_the_calls_of_one_turn_share_one_time_budget():
    env = ToolUseEnv(NapDomain(), tool_timeout_s=1.0, turn_timeout_s=0.5)
    env.reset(seed=0)
    started = time.perf_counter()
    _, _, _, _, info = env.step("".join(call("nap", seconds=0.3) for _ in range(16)))
    assert time.perf_counter() - started < 2.0  # 16 x 0.3 s would be 4.8 s
    # The first nap fits; the second returns past the turn's end (its limit is what was left of
    # the 0.5 s, about 0.2 s); the other 14 never run.
    assert info["messages"][3]["content"] == "rested"
    assert re.fullmatch(r"Error \(timeout\): nap did not finish within 0\.[0-9]+ s", info["messages"][4]["content"])
    assert (
        info["errors"][1:]
        == [
            "timeout: not run: this turn's 0.5 s budget for tool calls was spent by the calls before it; "
            "make fewer or cheaper calls in one turn"
        ]
        * 14
    )
    assert len(info["errors"]) == 15


# --- the caller's signals and timers ----------------------------------------


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no interval timers on this platform")
def test_a_step_leaves_the_callers_alarm_and_handler_as_they_were(small_env):
    fired: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        env = small_env()
        env.step(call("add", a=2, b=3) + call("multiply", a=5, b=4))
        remaining, interval = signal.getitimer(signal.ITIMER_REAL)
        assert 25.0 < remaining <= 30.0 and interval == 0.0
        assert signal.getsignal(signal.SIGALRM) is handler
        assert fired == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_steps_from_worker_threads_keep_their_results():
    outcomes: dict[int, list[str]] = {}

    def play(index: int) -> None:
        env = gym.make("mentor/Calc-v0", max_turns=20)
        env.reset(seed=index, options={"task": SMALL_TASK})
        observations = [env.step(call("add", a=index, b=3))[0] for _ in range(20)]
        outcomes[index] = observations

    workers = [threading.Thread(target=play, args=(index,)) for index in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30.0)
    assert sorted(outcomes) == [0, 1, 2, 3]
    for index, observations in outcomes.items():
        assert set(observations) == {f"<tool_response>\n{index + 3}\n</tool_response>"}


# --- pickling ---------------------------------------------------------------


# --- arguments: refused at make or reset, naming what was expected -----------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"tool_timeout_s": float("nan")},
            ValueError,
            "tool_timeout_s must be a positive, finite number of seconds, got nan",
        ),
        (
            {"tool_timeout_s": float("inf")},
            ValueError,
            "tool_timeout_s must be a positive, finite number of seconds, got inf",
        ),
        ({"tool_timeout_s": "2"}, TypeError, "tool_timeout_s must be a number of seconds, got str '2'"),
        ({"turn_timeout_s": 0}, ValueError, "turn_timeout_s must be a positive, finite number of seconds, got 0"),
        ({"shaping_weight": float("nan")}, ValueError, "shaping_weight must be a finite number, got nan"),
        ({"shaping_gamma": float("inf")}, ValueError, "shaping_gamma must be a finite number, got inf"),
        ({"shaping_gamma": 1.5}, ValueError, r"shaping_gamma must be a discount in \[0, 1\], got 1.5"),
        ({"max_calls_per_turn": -1}, ValueError, "max_calls_per_turn must be at least 1, got -1"),
        ({"max_turns": 1.5}, TypeError, "max_turns must be an int, got float 1.5"),
        ({"max_turns": True}, TypeError, "max_turns must be an int, got bool True"),
        ({"max_action_chars": 0}, ValueError, "max_action_chars must be at least 1, got 0"),
        ({"tasks": "abc"}, TypeError, "tasks must be a list of Task objects or task record dicts, got str"),
        ({"tasks": [SMALL_TASK, 7]}, TypeError, r"tasks\[1\] must be a Task or a task record dict, got int"),
        ({"parser": object()}, TypeError, r"parser must have a parse\(text\) -> ParsedTurn method, got object"),
        ({"difficulty": True}, ValueError, r"difficulty must be one of \[1, 2, 3, 4, 5\]"),
        ({"difficulty": [1, 9]}, ValueError, r"difficulty must be one of \[1, 2, 3, 4, 5\]"),
        ({"tasks": [SMALL_TASK], "difficulty": 2}, ValueError, r"none of the 1 tasks has difficulty 2"),
    ],
)
def test_bad_arguments_are_refused_at_make(kwargs, error, message):
    with pytest.raises(error, match=message):
        gym.make("mentor/Calc-v0", **kwargs)


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"difficulty": True}, ValueError, r"reset option difficulty must be one of \[1, 2, 3, 4, 5\]"),
        ({"difficulty": "2"}, ValueError, r"reset option difficulty must be one of"),
        ({"task_id": "calc-٣"}, ValueError, r"generated task ids look like 'calc-<seed>'.*got 'calc-٣'"),
        (
            {"task_id": "calc-" + "9" * 5000},
            ValueError,
            r"seed of ASCII digits up to 9223372036854775807, got 'calc-999",
        ),
        ({"task_id": 3}, TypeError, "task_id must be a str, got int"),
        (
            {"task": {**SMALL_TASK, "domain": "units"}},
            ValueError,
            "task 'test-small' is of domain 'units'; this env plays 'calc'",
        ),
        ({"task": 42}, TypeError, "the reset option task must be a Task or a task record dict, got int"),
        ({"seed": 1}, ValueError, r"unknown reset options \['seed'\]"),
    ],
)
def test_bad_reset_options_are_refused_and_the_episode_in_progress_is_kept(options, error, message):
    env = gym.make("mentor/Calc-v0")
    env.reset(seed=0, options={"task": SMALL_TASK})
    env.step(call("add", a=2, b=3))
    with pytest.raises(error, match=message):
        env.reset(seed=7, options=options)
    # Nothing was lost: the same episode goes on at turn 2.
    _, _, _, _, info = env.step(call("multiply", a=5, b=4))
    assert info["task_id"] == "test-small" and info["turn"] == 2 and info["errors"] == []


def test_a_failed_first_reset_does_not_break_the_next_episode():
    # Gymnasium 1.4's passive checker raised TypeError on the first step after this (see registration.py).
    env = gym.make("mentor/Calc-v0")
    with pytest.raises(ValueError, match="no task with id|generated task ids"):
        env.reset(options={"task_id": "nope"})
    env.reset(seed=0, options={"task": SMALL_TASK})
    obs, _, _, _, info = env.step(call("add", a=2, b=3))
    assert obs == "<tool_response>\n5\n</tool_response>" and info["errors"] == []


# --- difficulty filters served tasks everywhere -----------------------------


def _levels(env: gym.Env, resets: int, **options: Any) -> set[int]:
    levels = set()
    for seed in range(resets):
        env.reset(seed=seed, options=options or None)
        levels.add(env.unwrapped.task.meta["difficulty"])
    return levels


def test_difficulty_filters_a_split_at_make_and_at_reset():
    env = gym.make("mentor/Calc-v0", split="test", difficulty=1)
    assert _levels(env, 30) == {1}
    assert _levels(env, 30, difficulty=4) == {4}
    assert _levels(gym.make("mentor/Calc-v0", split="test", difficulty=[2, 3]), 40) == {2, 3}
    assert _levels(gym.make("mentor/Calc-v0", split="test"), 60) == {1, 2, 3, 4, 5}


def test_difficulty_filters_a_task_list_and_generated_tasks():
    tasks = load_split(get_domain("calc"), "test")[:40]
    env = gym.make("mentor/Calc-v0", tasks=tasks, difficulty=2)
    assert _levels(env, 20) == {2}
    generated = gym.make("mentor/Calc-v0", difficulty=(1, 5))
    assert _levels(generated, 30) == {1, 5}


# --- third-party callers: Gymnasium's checker and Stable-Baselines3 ---------


def test_the_structured_env_is_its_own_unwrapped_env_and_passes_check_env():
    env = gym.make("mentor/Calc-Structured-v0", render_mode="rgb_array")
    assert type(env.unwrapped).__name__ == "StructuredToolUse"
    check_env(env.unwrapped, skip_render_check=False)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (48, 260, 3) and frame.dtype == np.uint8 and frame.any()


def test_sb3_make_vec_env_builds_the_structured_env_as_sb3_calls_it():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_util import make_vec_env

    vec = make_vec_env("mentor/Calc-Structured-v0", n_envs=2, seed=0, env_kwargs={"difficulty": 1})
    assert vec.render_mode == "rgb_array"  # what SB3 asked for, and got
    vec.reset()
    _, rewards, dones, infos = vec.step(np.zeros((2, len(vec.action_space.nvec)), np.int64))
    assert rewards.shape == (2,) and dones.shape == (2,) and len(infos) == 2
    assert vec.get_images()[0].shape == (48, 260, 3)
    vec.close()


def test_numpy_numbers_are_accepted_where_python_numbers_are():
    env = gym.make(
        "mentor/Calc-v0",
        max_turns=np.int64(4),
        max_calls_per_turn=np.int32(3),
        tool_timeout_s=np.float32(1.0),
        shaping_weight=np.float32(0.5),
        difficulty=np.array(2),
    )
    base = env.unwrapped
    assert (base.max_turns, base.max_calls_per_turn, base.tool_timeout_s, base.difficulty) == (4, 3, 1.0, 2)
    env.reset(seed=0)
    assert env.unwrapped.task.meta["difficulty"] == 2
