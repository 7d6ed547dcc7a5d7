"""The structured (numeric-space) wrapper for agents without a language model, and Stable-Baselines3 on it."""

from __future__ import annotations

import importlib.util

import gymnasium as gym
import numpy as np
import pytest

import mentor_env  # noqa: F401  (registers the ids)
from mentor_env.core.splits import load_split
from mentor_env.domains import get_domain
from mentor_env.structured import StructuredToolUse, make_structured_calc, parse_result, question_numbers

HAS_SB3 = importlib.util.find_spec("stable_baselines3") is not None
needs_sb3 = pytest.mark.skipif(
    not HAS_SB3,
    reason="stable_baselines3 is not installed (pip install 'mentor-env[sb3]'); the wrapper itself does not need it",
)

STRUCTURED_ID = "mentor/Calc-Structured-v0"


@pytest.fixture(scope="module")
def calc_test_split():
    return load_split(get_domain("calc"), "test")


def play_teacher(env: StructuredToolUse, task) -> tuple[list[float], list[dict], bool, bool]:
    env.reset(seed=0, options={"task": task})
    rewards, infos = [], []
    terminated = truncated = False
    while not (terminated or truncated):
        action = env.teacher_action()
        assert action is not None, f"{task.id}: teacher call not expressible: {task.teacher.calls}"
        assert env.action_space.contains(action)
        _, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        infos.append(info)
    return rewards, infos, terminated, truncated


def replay_text(task, texts: list[str], reward_mode: str = "mentor", max_turns: int = 8) -> list[dict]:
    """The same turns as text through the plain text env."""
    text_env = gym.make("mentor/Calc-v0", reward_mode=reward_mode, max_turns=max_turns)
    text_env.reset(seed=0, options={"task": task})
    infos = []
    for text in texts:
        infos.append(text_env.step(text)[4])
    return infos


# --- parsing -------------------------------------------------------------------


def test_question_numbers_in_reading_order():
    assert question_numbers("What is (3 ÷ 12) ÷ 3?") == [3, 12, 3]
    assert question_numbers("Calculate 12 - 5 + 2.5.") == [12, 5, 2.5]
    assert question_numbers("The temperature was -5 degrees in the morning and 12 degrees at night.") == [-5, 12]
    assert question_numbers("Over 4 days a bakery sold 101, 185, 17 and 94 loaves.") == [4, 101, 185, 17, 94]
    assert question_numbers("Evaluate round(7 ÷ 3, 2) at $4.25 each for a 52-hour week") == [7, 3, 2, 4.25, 52]
    assert all(isinstance(n, int) for n in question_numbers("12 and 7"))


def test_parse_result_matches_what_a_model_would_copy():
    assert parse_result("397") == 397 and isinstance(parse_result("397"), int)
    assert parse_result("0.0833333333333") == 0.0833333333333
    assert parse_result("-4") == -4
    assert parse_result("1e+15") == 1e15
    for text in ("Error (invalid_args): x", "nan", "inf", "", "1" * 100):
        assert parse_result(text) is None


# --- spaces and encoding --------------------------------------------------------


def test_spaces_are_fixed_size_numeric():
    env = make_structured_calc()
    assert env.action_space == gym.spaces.MultiDiscrete([13, 31, 31, 31, 31, 31, 31, 5, 31])
    assert set(env.observation_space.spaces) == {"words", "numbers", "mask", "turn", "last_error"}
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    assert info["text_action"] is None
    flat = make_structured_calc(flatten=True)
    assert isinstance(flat.observation_space, gym.spaces.Box)
    assert flat.observation_space.contains(flat.reset(seed=3)[0])


def test_actions_become_the_text_a_model_would_write():
    env = make_structured_calc()
    env.reset(seed=0, options={"task": {"id": "t", "domain": "calc", "question": "What is 8 + 2.5?", "answer": "10.5"}})
    r, none = env.result_slots, env.none_pointer  # results come first (newest first), then the question's numbers
    assert env.slot_values[: r + 3] == [None] * r + [8, 2.5, None]
    add = env.tool_names.index("add")
    obs, _, terminated, _, info = env.step([add, r, r + 1, none, none, none, none, 0, none])
    assert info["text_action"] == '<tool_call>\n{"name": "add", "arguments": {"a": 8, "b": 2.5}}\n</tool_call>'
    assert not terminated and info["errors"] == []
    assert env.slot_values[0] == 10.5 and obs["mask"][0] == 1
    assert obs["numbers"][0] == pytest.approx(np.log1p(10.5))
    assert obs["turn"][0] == pytest.approx(1 / env.max_turns)
    total = env.tool_names.index("sum_numbers")
    constant_4 = env.n_slots + env.constants.index(4)
    _, _, _, _, info = env.step([total, 0, none, r, constant_4, none, none, 0, 0])
    assert '"numbers": [10.5, 8, 4]' in info["text_action"]
    assert env.slot_values[:2] == [22.5, 10.5]  # the newest result in slot 0
    _, reward, terminated, _, info = env.step([env.answer_kind, 1, 1, 1, 1, 1, 1, 1, 0])
    assert info["text_action"] == "The answer is \\boxed{22.5}." and terminated


def test_round_number_takes_the_integer_entry():
    env = make_structured_calc()
    env.reset(seed=0, options={"task": {"id": "t", "domain": "calc", "question": "Round 3.14159", "answer": "3.14"}})
    action = env.encode_call("round_number", {"x": 3.14159, "decimals": 2})
    assert action is not None and action[-2] == 2
    _, _, _, _, info = env.step(action)
    assert info["text_action"].endswith('{"x": 3.14159, "decimals": 2}}\n</tool_call>')
    assert env.slot_values[0] == 3.14
    assert env.encode_call("round_number", {"x": 3.14159, "decimals": 9}) is None  # above max_integer
    assert env.encode_call("add", {"a": 3.14159, "b": 7}) is None  # 7 is in no slot
    assert list(env.encode_answer("3.14")) == [env.answer_kind] + [env.none_pointer] * 6 + [0, 0]


def test_invalid_structured_actions_are_answered_by_the_env_with_an_error():
    env = make_structured_calc(difficulty=1)
    env.reset(seed=0)
    empty_slot = env.n_slots - 1  # no level-1 question has 16 numbers
    none = env.none_pointer
    obs, reward, terminated, truncated, info = env.step([env.tool_names.index("add"), empty_slot, 0, 0, 0, 0, 0, 0, 0])
    assert '"a": null, "b": null' in info["text_action"]  # slot 0 is empty too: no result yet
    assert info["errors"] and info["errors"][0].startswith("invalid_args")
    assert obs["last_error"][0] == 1 and not terminated and reward == 0.0
    _, _, _, _, info = env.step([env.tool_names.index("sum_numbers")] + [none] * 6 + [0, 0])
    assert info["errors"][0].startswith("invalid_args")  # an empty list
    _, reward, terminated, _, info = env.step([env.answer_kind, 0, 0, 0, 0, 0, 0, 0, none])
    assert info["text_action"] == "The answer is \\boxed{}." and terminated
    assert info["rewards"]["sparse"] == 0.1  # ended without an answer


def test_random_and_malformed_actions_never_raise():
    env = make_structured_calc(max_turns=4)
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    episodes = 0
    for _ in range(500):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs) and isinstance(reward, float)
        if terminated or truncated:
            episodes += 1
            obs, _ = env.reset()
    assert episodes > 50
    for action in ([], [99] * 20, [-3, -1, 1e30, float("nan")], "add", None, np.ones((2, 9)), {"kind": 1}):
        env.reset(seed=1)
        obs, _, _, _, info = env.step(action)
        assert env.observation_space.contains(obs) and isinstance(info["text_action"], str)


def test_episode_is_bounded_by_max_turns():
    env = make_structured_calc(max_turns=3)
    env.reset(seed=0)
    add = env.tool_names.index("add")
    flags = [env.step([add, 0, 0, 0, 0, 0, 0, 0, 0])[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]


# --- the teacher's solutions are expressible, and rewards are the text env's ---------


def test_teacher_solutions_play_through_the_wrapper_and_score_like_text(calc_test_split):
    """Every test-split task (levels 1-5): the teacher's calls as actions solve it with mentor 1.1,
    and every step's info["rewards"] equals the text env's for the same text."""
    env = make_structured_calc(reward_mode="mentor")
    levels = set()
    for task in calc_test_split:
        rewards, infos, terminated, truncated = play_teacher(env, task)
        assert terminated and not truncated
        assert sum(rewards) == pytest.approx(1.1), task.id
        assert infos[-1]["reward_components"]["correct"] == 1.0
        assert infos[-1]["rewards"]["dense"] == pytest.approx(
            1.1 - 0.5
        )  # full progress: the potential 0.5 is given back
        assert sum(info["rewards"]["dense"] for info in infos) == pytest.approx(1.1)
        levels.add(task.meta["difficulty"])
        text_infos = replay_text(task, [info["text_action"] for info in infos])
        for structured, text in zip(infos, text_infos):
            assert structured["rewards"] == text["rewards"]
            assert structured["errors"] == text["errors"] and structured["messages"] == text["messages"]
    assert levels == {1, 2, 3, 4, 5}


@pytest.mark.parametrize("reward_mode", ["sparse", "dense"])
def test_random_episodes_score_like_text(reward_mode):
    env = make_structured_calc(reward_mode=reward_mode, difficulty=2, max_turns=4)
    env.action_space.seed(1)
    for seed in range(20):
        env.reset(seed=seed)
        task = env.unwrapped.task
        infos, returns, done = [], [], False
        while not done:
            _, reward, terminated, truncated, info = env.step(env.action_space.sample())
            infos.append(info)
            returns.append(reward)
            done = terminated or truncated
        text_infos = replay_text(task, [info["text_action"] for info in infos], reward_mode, max_turns=4)
        assert [info["rewards"] for info in infos] == [info["rewards"] for info in text_infos]
        assert returns == [info["rewards"][reward_mode] for info in text_infos]


def test_same_seed_same_episode():
    def rollout(seed: int) -> list:
        env = make_structured_calc(reward_mode="dense")
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        trace = [obs]
        for _ in range(30):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            trace.append((obs, reward, info["text_action"], info["task_id"]))
            if terminated or truncated:
                trace.append(env.reset()[0])
        return trace

    def same(a, b) -> bool:
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, (tuple, list)):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        if isinstance(a, np.ndarray):
            return np.array_equal(a, b)
        return a == b

    assert same(rollout(7), rollout(7))
    assert not same(rollout(7), rollout(8))


def test_registered_id_and_vector_env():
    if STRUCTURED_ID not in gym.registry:  # until mentor_env.registration lists it
        gym.register(id=STRUCTURED_ID, entry_point="mentor_env.structured:make_structured_calc")
    env = gym.make(STRUCTURED_ID, reward_mode="dense", split="test", difficulty=None)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and info["task_id"].startswith("calc-")
    assert info["messages"] and info["tools"]
    action = env.get_wrapper_attr("teacher_action")()
    assert env.step(action)[4]["errors"] == []
    lean = gym.make(STRUCTURED_ID, lean_info=True)
    assert "messages" not in lean.reset(seed=0)[1] and "tools" not in lean.step(lean.action_space.sample())[4]
    envs = gym.make_vec(STRUCTURED_ID, num_envs=2, vectorization_mode="async", difficulty=1)
    try:
        obs, _ = envs.reset(seed=0)
        assert obs["numbers"].shape == (2, 24)
        obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
        assert obs["mask"].shape == (2, 24) and rewards.shape == (2,)
    finally:
        envs.close()


def test_other_domains_need_numeric_tools():
    with pytest.raises(ValueError, match="cannot fill"):
        StructuredToolUse(gym.make("mentor/Units-v0"))
    env = StructuredToolUse(gym.make("mentor/Units-v0"), tools=["add", "multiply", "divide", "round_number"])
    assert env.action_space.nvec[0] == 5


# --- Stable-Baselines3 -------------------------------------------------------------


@needs_sb3
@pytest.mark.parametrize("flatten", [False, True])
def test_sb3_check_env(flatten):
    from stable_baselines3.common.env_checker import check_env

    check_env(make_structured_calc(difficulty=2, flatten=flatten), warn=True)


@needs_sb3
@pytest.mark.parametrize("policy, flatten", [("MultiInputPolicy", False), ("MlpPolicy", True)])
def test_sb3_ppo_learns_a_few_steps(policy, flatten):
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    env = make_structured_calc(reward_mode="dense", difficulty=1, max_turns=4, flatten=flatten)
    model = PPO(policy, env, n_steps=64, batch_size=64, n_epochs=2, seed=0, device="cpu")
    model.learn(256)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action)


def test_a_non_text_env_is_refused_with_what_was_expected():
    with pytest.raises(TypeError, match="env must be a text tool-use env .* got CartPoleEnv"):
        StructuredToolUse(gym.make("CartPole-v1"))
