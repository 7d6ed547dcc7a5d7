"""The environment contract: spaces, info, seeding, options, rendering, vectors."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

import gymnasium as gym
import pytest

import mentor_env
from mentor_env.core.env import ToolUseEnv, current_task
from mentor_env.core.spaces import UnicodeText
from mentor_env.core.task import Task
from mentor_env.domains.calc import CalcDomain
from tests.conftest import SMALL_TASK, call, play

INFO_KEYS = {
    "teacher_reward", "reward_components", "sparse_reward", "rewards", "tool_calls",
    "errors", "messages", "tools", "turn", "task_id", "final_answer",
}  # fmt: skip


def test_make_without_importing_uses_the_module_prefix():
    # Gymnasium 1.x dropped entry-point plugins; "module:id" imports and registers.
    code = "import gymnasium as gym; env = gym.make('mentor_env:mentor/Calc-v0'); print(env.unwrapped.domain.name)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "calc"


def test_each_domain_has_one_text_env_id():
    from mentor_env.domains import DOMAINS
    from mentor_env.registration import DOMAIN_ENV_IDS

    assert DOMAIN_ENV_IDS == {
        "calc": "mentor/Calc-v0",
        "units": "mentor/Units-v0",
        "dates": "mentor/Dates-v0",
        "lookup": "mentor/Lookup-v0",
        "table": "mentor/Table-v0",
    }
    assert set(DOMAIN_ENV_IDS) == set(DOMAINS)


def test_spaces_are_unicode_text():
    env = gym.make("mentor/Calc-v0")
    assert isinstance(env.observation_space, UnicodeText) and isinstance(env.action_space, UnicodeText)
    assert env.observation_space.contains("√ ünïcode ✓")


def test_reset_observation_is_the_rendered_prompt_and_info_has_every_key():
    env = gym.make("mentor/Calc-v0")
    observation, info = env.reset(seed=3)
    task = env.unwrapped.task
    assert observation.startswith("<|im_start|>system\n")
    assert task.question in observation and '"name": "sum_numbers"' in observation
    assert observation.endswith("<|im_start|>assistant\n")
    assert INFO_KEYS <= set(info)
    assert [m["role"] for m in info["messages"]] == ["system", "user"]
    assert len(info["tools"]) == 12 and info["task_id"] == task.id
    assert "answer" not in info and task.answer not in str(info)


def test_every_step_carries_the_info_contract(small_env):
    env = small_env()
    observation, reward, terminated, truncated, info = env.step(call("add", a=2, b=3) + call("nope"))
    assert INFO_KEYS <= set(info)
    assert observation == (
        "<tool_response>\n5\n</tool_response>\n<tool_response>\nError (not_found): there is no tool named 'nope'. "
        "Available tools: abs_value, add, ceil, divide, floor, modulo, multiply, power, round_number, sqrt, "
        "subtract, sum_numbers\n</tool_response>"
    )
    assert info["tool_calls"] == [
        {"name": "add", "arguments": {"a": 2, "b": 3}, "error": None},
        {"name": "nope", "arguments": {}, "error": None},
    ]
    assert info["errors"] == [info["messages"][-1]["content"].replace("Error (not_found): ", "not_found: ")]
    assert info["turn"] == 1 and not terminated and not truncated
    assert [m["role"] for m in info["messages"]] == ["system", "user", "assistant", "tool", "tool"]
    assert info["messages"][2]["tool_calls"] == [
        {"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3}}},
        {"type": "function", "function": {"name": "nope", "arguments": {}}},
    ]
    _, _, terminated, _, info = env.step("\\boxed{20}")
    assert terminated and info["final_answer"] == "20"
    assert info["reward_components"]["correct"] == 1.0
    assert info["reward_components"]["invented_tool_calls"] == 1.0


def test_same_seed_same_task_same_observations():
    def rollout(seed):
        env = gym.make("mentor/Calc-v0")
        observation, _ = env.reset(seed=seed)
        steps = [observation]
        for action in [call("add", a=1, b=2), call("sqrt", x=-1), "\\boxed{3}"]:
            observation, reward, *_ = env.step(action)
            steps.append((observation, reward))
        return env.unwrapped.task, steps

    assert rollout(5) == rollout(5)
    assert rollout(5)[0] != rollout(6)[0]


def test_reset_without_seed_continues_the_seeded_stream():
    env = gym.make("mentor/Calc-v0")
    env.reset(seed=1)
    ids = [env.reset()[1]["task_id"] for _ in range(3)]
    env.reset(seed=1)
    assert [env.reset()[1]["task_id"] for _ in range(3)] == ids
    assert len(set(ids)) == 3


def test_reset_options_pick_a_task():
    env = gym.make("mentor/Calc-v0")
    _, info = env.reset(options={"task_id": "calc-42"})
    assert env.unwrapped.task == CalcDomain().generate(42)
    _, info = env.reset(options={"task": SMALL_TASK})
    assert env.unwrapped.task.question == "What is (2 + 3) × 4?"
    _, info = env.reset(options={"difficulty": 1})
    assert env.unwrapped.task.meta["difficulty"] == 1
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"tsk": 1})
    env.reset(options={"task_id": "calc-ood-7"})
    assert env.unwrapped.task == CalcDomain().generate(7, ood=True)
    with pytest.raises(ValueError, match="generated task ids look like 'calc-<seed>' or 'calc-ood-<seed>'"):
        env.reset(options={"task_id": "abc"})


def test_a_fixed_task_list_is_served():
    tasks = [Task.from_dict(SMALL_TASK), CalcDomain().generate(1)]
    env = gym.make("mentor/Calc-v0", tasks=tasks)
    seen = {env.reset(seed=seed)[1]["task_id"] for seed in range(20)}
    assert seen == {"test-small", "calc-1"}
    env.reset(options={"task_id": "test-small"})
    assert env.unwrapped.task.answer == "20"
    with pytest.raises(ValueError, match="no task with id 'x'"):
        env.reset(options={"task_id": "x"})


def test_published_layout_task_records_load():
    task = Task.from_dict({"id": 7, "question": "q", "answer": "3", "tool_calls_used": ["add", "add"]}, "calc")
    assert task.teacher.tool_names == ["add", "add"] and task.teacher.source == "dataset"
    with pytest.raises(ValueError, match="missing \\['answer'\\]"):
        Task.from_dict({"id": 1, "question": "q"}, "calc")
    with pytest.raises(ValueError, match="teacher tools must be a list of names"):
        Task.from_dict({"id": 1, "question": "q", "answer": "1", "teacher_tools": "add"}, "calc")


def test_task_records_round_trip():
    task = CalcDomain().generate(9)
    assert Task.from_dict(task.to_dict()) == task


@pytest.mark.filterwarnings("ignore:.*render_mode='human'")
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"reward_mode": "dense2"}, "reward_mode must be one of"),
        ({"max_turns": 0}, "max_turns must be at least 1"),
        ({"difficulty": 6}, "difficulty must be one of"),
        ({"render_mode": "human"}, "render_mode must be one of"),
        ({"tasks": []}, "tasks is empty"),
    ],
)
def test_bad_constructor_arguments_say_what_was_expected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make("mentor/Calc-v0", **kwargs)


def test_step_outside_an_episode_is_a_clear_error(small_env):
    env = gym.make("mentor/Calc-v0", disable_env_checker=True).unwrapped
    with pytest.raises(RuntimeError, match="call reset"):
        env.step("hi")
    env = small_env()
    play(env, ["\\boxed{20}"])
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step("again")


def test_render_ansi_shows_the_conversation(small_env):
    env = small_env(render_mode="ansi")
    env.step(call("add", a=2, b=3))
    text = env.render()
    assert text.endswith(
        '<|im_start|>assistant\n<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\n5\n</tool_response><|im_end|>"
    )
    quiet = gym.make("mentor/Calc-v0")
    quiet.reset(seed=0)
    assert quiet.render() is None


def test_the_teacher_is_reachable_but_not_in_info():
    env = gym.make("mentor/Calc-v0")
    _, info = env.reset(seed=0)
    teacher = env.unwrapped.task.teacher
    assert teacher.source == "scripted" and teacher.calls
    assert "teacher" not in info


def test_reward_modes_are_exported():
    assert mentor_env.REWARD_MODES == ("sparse", "mentor", "mentor_partial", "mentor_nomatch", "mentor_f1", "dense")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs_return_the_real_strings(mode):
    actions = [call("add", a=2, b=3) + "ü✓", "\\boxed{½}"]
    envs = gym.make_vec("mentor/Calc-v0", num_envs=2, vectorization_mode=mode)
    try:
        observations, infos = envs.reset(seed=[10, 11])
        singles = [gym.make("mentor/Calc-v0").reset(seed=seed)[0] for seed in (10, 11)]
        assert list(observations) == singles
        observations, rewards, terminated, truncated, infos = envs.step(actions)
        assert observations[0] == "<tool_response>\n5\n</tool_response>"
        assert observations[1] == ""
        assert list(terminated) == [False, True]
        assert infos["messages"][0][-2]["content"] == "ü✓"
        assert infos["final_answer"][1] == "½"
    finally:
        envs.close()


def test_async_vector_env_carries_unicode_observations():
    envs = gym.make_vec("mentor/Calc-v0", num_envs=2, vectorization_mode="async")
    try:
        envs.reset(seed=0)
        observations, *_ = envs.step([call("add", a="ü✓😀", b=1)] * 2)
        assert "'ü✓😀' is not of type 'number'" in observations[0]
        assert observations[0] == observations[1]
    finally:
        envs.close()


def test_tool_from_function_uses_transformers_schema():
    pytest.importorskip("transformers")
    from mentor_env.core.tools import Tool

    def scale(x: float, factor: int = 2) -> float:
        """Scale a number.

        Args:
            x: The number.
            factor: The multiplier.
        """
        return x * factor

    tool = Tool.from_function(scale)
    assert tool.spec == {
        "type": "function",
        "function": {
            "name": "scale",
            "description": "Scale a number.",
            "parameters": {
                "type": "object",
                "properties": {
                    "x": {"type": "number", "description": "The number."},
                    "factor": {"type": "integer", "description": "The multiplier."},
                },
                "required": ["x"],
            },
        },
    }


def test_the_class_docstring_documents_the_spaces_the_episode_and_every_constructor_argument():
    doc = inspect.getdoc(ToolUseEnv)
    sections = re.findall(r"^(\w[\w ()]*):$", doc, re.MULTILINE)
    assert sections == [
        "Action space", "Observation space", "Starting state", "Rewards", "Episode end", "Info (every step)", "Args",
        "Raises",
    ]  # fmt: skip
    arguments = doc.split("\nArgs:\n", 1)[1].split("\nRaises:\n", 1)[0]
    documented = re.findall(r"^    (\w+): ", arguments, re.MULTILINE)
    assert documented == [
        "domain", "reward_mode", "max_turns", "difficulty", "split", "dataset", "tasks", "parser", "shaping_weight",
        "shaping_gamma", "max_calls_per_turn", "max_action_chars", "tool_timeout_s", "turn_timeout_s", "render_mode",
        "reward_compat", "tool_parser", "chat_template",
    ]  # fmt: skip
    assert documented == list(inspect.signature(ToolUseEnv).parameters)  # a new argument needs its line here


def test_current_task_is_the_episodes_task_under_the_wrappers():
    env = gym.make("mentor/Calc-v0")  # gym.make's wrappers around the ToolUseEnv
    with pytest.raises(TypeError, match=r"expected a mentor-env env after reset .* got ToolUseEnv whose task is None"):
        current_task(env)
    env.reset(seed=0, options={"task": SMALL_TASK})
    assert current_task(env).id == "test-small"
    assert current_task(env).answer == "20"


def test_current_task_refuses_an_env_of_another_suite():
    with pytest.raises(TypeError, match="got CartPoleEnv whose task is None"):
        current_task(gym.make("CartPole-v1"))
