"""One contract test over every registered env: the checks each id must pass, whatever its domain.

Gymnasium's ``check_env``, determinism, the teacher's replay at 1.1 on every
frozen task, a table of hostile turns every text env answers the same way,
sync and async vector envs, and pickling before and mid-episode. A domain
added to the suite table (or through ``register_domain``) is checked here
with no new test; the per-domain files keep only what is their own (tools,
templates, judges, domain-specific hostile inputs).
"""

from __future__ import annotations

import json
import pickle
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mentor_env  # noqa: F401  (registers the ids)
from mentor_env.core.messages import render_assistant_text
from mentor_env.core.spaces import UnicodeText
from mentor_env.core.splits import load_split
from mentor_env.domains import get_domain
from mentor_env.registration import DERIVED_ENV_IDS, DOMAIN_ENV_IDS, ENV_IDS
from tests.conftest import assert_teacher_solved, raw, replay_teacher

# The suite's domains with their text env ids (generated tasks, frozen splits).
TEXT_ENVS = sorted(DOMAIN_ENV_IDS.items())
# Every env whose action is the model's text: the domains' and the external sets' (BFCL).
TEXT_IDS = [env_id for env_id in ENV_IDS if isinstance(gym.make(env_id).observation_space, UnicodeText)]
# The rest: other spaces over a text env (the structured Calc env).
OTHER_IDS = [env_id for env_id in ENV_IDS if env_id not in TEXT_IDS]


def test_every_id_is_registered_once_and_listed():
    assert ENV_IDS == [*DOMAIN_ENV_IDS.values(), *DERIVED_ENV_IDS]
    assert len(set(ENV_IDS)) == len(ENV_IDS)
    assert all(env_id in gym.registry for env_id in ENV_IDS)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes_without_warnings(env_id):
    env = gym.make(env_id).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=False)


def _teacher_turns(env: gym.Env) -> list[str]:
    return [render_assistant_text(m) for m in env.unwrapped.task.teacher.messages if m["role"] == "assistant"]


def _episode(env_id: str, seed: int, **kwargs: Any) -> list[Any]:
    env = gym.make(env_id, **kwargs)
    obs, info = env.reset(seed=seed)
    record: list[Any] = [obs, info]
    for turn in _teacher_turns(env):
        record.extend(env.step(turn))
    env.close()
    return record


@pytest.mark.parametrize("env_id", TEXT_IDS)
@pytest.mark.parametrize("source", [{}, {"split": "test"}], ids=["generated", "split"])
def test_same_seed_same_episode(env_id, source):
    first = _episode(env_id, 11, **source)
    assert first == _episode(env_id, 11, **source)
    assert first[0] != _episode(env_id, 12, **source)[0]  # and another seed, another task


@pytest.mark.parametrize("domain, env_id", TEXT_ENVS)
@pytest.mark.parametrize("split", ["test", "ood"])
def test_the_teacher_solves_every_frozen_task_at_1_1(domain, env_id, split):
    env = gym.make(env_id, max_turns=12)
    tasks = load_split(get_domain(domain), split)
    assert len(tasks) == 500
    for task in tasks:
        assert_teacher_solved(env, *replay_teacher(env, task=task))


@pytest.mark.parametrize("domain, env_id", TEXT_ENVS)
def test_the_teacher_solves_freshly_generated_tasks_at_1_1(domain, env_id):
    env = gym.make(env_id, max_turns=12)
    generator = get_domain(domain)
    for seed in range(40):
        assert_teacher_solved(env, *replay_teacher(env, seed))
        assert_teacher_solved(env, *replay_teacher(env, task=generator.generate(seed, ood=True)))


# (action, the one error category it earns as a first turn) in every text env.
HOSTILE: dict[str, tuple[Any, str]] = {
    "none": (None, "invalid_action"),
    "int": (123, "invalid_action"),
    "bytes": (b"<tool_call>", "invalid_action"),
    "too-long": ("x" * 70_000, "invalid_action"),
    "bad-json": (raw('{"name": "x", "arguments": {'), "parse_error"),
    "not-an-object": (raw("[1, 2]"), "parse_error"),
    "no-name": (raw('{"arguments": {}}'), "parse_error"),
    "nan-literal": (raw('{"name": "x", "arguments": {"a": NaN}}'), "parse_error"),
    "deep-json": (raw('{"name": "x", "arguments": ' + "[" * 40 + "]" * 40 + "}"), "parse_error"),
    "unclosed": ("<tool_call>" + json.dumps({"name": "x", "arguments": {}}), "parse_error"),
    "stray-close": ("</tool_call>", "parse_error"),
    "invented-tool": (raw('{"name": "python", "arguments": {"code": "print(1)"}}'), "not_found"),
    "arguments-not-object": (raw('{"name": "python", "arguments": 5}'), "parse_error"),
}


@pytest.mark.parametrize("env_id", TEXT_IDS)
@pytest.mark.parametrize("action, category", list(HOSTILE.values()), ids=list(HOSTILE))
def test_every_text_env_answers_a_hostile_turn_with_one_typed_error(env_id, action, category):
    env = _HOSTILE_ENVS[env_id]
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(action)
    assert [error.split(":", 1)[0] for error in info["errors"]] == [category]
    assert f"Error ({category})" in obs
    assert (reward, terminated, truncated, info["turn"]) == (0.0, False, False, 1)
    # The episode goes on: a plain answer ends it.
    _, _, terminated, _, info = env.step("\\boxed{0}")
    assert terminated and info["turn"] == 2


_HOSTILE_ENVS = {env_id: gym.make(env_id) for env_id in TEXT_IDS}


@pytest.mark.parametrize("env_id", TEXT_IDS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs_play_the_same_episodes_as_single_envs(env_id, mode):
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode=mode)
    singles = [gym.make(env_id) for _ in range(2)]
    try:
        observations, _ = envs.reset(seed=[3, 4])
        assert list(observations) == [single.reset(seed=seed)[0] for single, seed in zip(singles, (3, 4))]
        turns = [_teacher_turns(single)[0] for single in singles]
        observations, rewards, terminated, truncated, infos = envs.step(turns)
        expected = [single.step(turn) for single, turn in zip(singles, turns)]
        assert list(observations) == [step[0] for step in expected]
        assert list(rewards) == [step[1] for step in expected]
        assert list(terminated) == [step[2] for step in expected]
        assert [list(errors) for errors in infos["errors"]] == [step[4]["errors"] for step in expected]
    finally:
        envs.close()


@pytest.mark.parametrize("env_id", TEXT_IDS)
def test_every_text_env_pickles_before_and_mid_episode_and_the_copy_plays_on_identically(env_id):
    env = gym.make(env_id, split="test")
    fresh = pickle.loads(pickle.dumps(env))
    assert fresh.reset(seed=3) == env.reset(seed=3)
    turns = _teacher_turns(env)
    env.step(turns[0])
    copy = pickle.loads(pickle.dumps(env))
    for turn in turns[1:]:
        assert env.step(turn) == copy.step(turn)
    assert copy.unwrapped.trajectory.done
    for each in (env, copy, fresh):
        each.close()


def test_the_external_sets_are_text_envs_and_structured_calc_is_not():
    assert "mentor/BFCL-v0" in TEXT_IDS and OTHER_IDS == ["mentor/Calc-Structured-v0"]


@pytest.mark.parametrize("env_id", OTHER_IDS)
def test_every_structured_env_pickles_mid_episode_and_the_copy_plays_on_identically(env_id):
    env = gym.make(env_id, split="test")
    env.reset(seed=5)
    env.step(env.unwrapped.teacher_action())
    copy = pickle.loads(pickle.dumps(env))
    while True:
        action = env.unwrapped.teacher_action()
        original_step, copied_step = env.step(action), copy.step(action)
        assert all(np.array_equal(original_step[0][key], copied_step[0][key]) for key in original_step[0])
        assert original_step[1:] == copied_step[1:]
        if original_step[2] or original_step[3]:
            break
