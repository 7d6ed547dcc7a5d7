"""environment_factory: TRL's GRPOTrainer drives mentor-env episodes, and its reward is gym.make's."""

from __future__ import annotations

import inspect

import gymnasium as gym
import pytest

from mentor_env.core.messages import render_assistant_text
from mentor_env.integrations.trl import EnvReward, MentorToolEnv, environment_factory
from tests.conftest import call, nested_list, self_containing_list
from tests.timing import cpu_time_bound

try:
    import datasets  # noqa: F401
    import trl  # noqa: F401

    MISSING = ""
except ImportError as exc:
    MISSING = f"the TRL integration needs the trl and datasets packages: pip install 'mentor-env[trl]' ({exc})"
needs_trl = pytest.mark.skipif(bool(MISSING), reason=MISSING)


def gym_return(env_id: str, task_id: str, completion: list[dict], **kwargs) -> tuple[float, list[str]]:
    """Play the completion's assistant turns through gym.make; the return and the tool results it gave.

    The results leave out parse errors: TRL does not run (or answer) a call block it could not parse.
    """
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0, options={"task_id": task_id})
    total, results, done = 0.0, [], False
    for message in completion:
        if message["role"] != "assistant" or done:
            continue
        _, reward, terminated, truncated, info = env.step(render_assistant_text(message))
        total += reward
        # A block TRL's parser could not read stays in the message text: TRL ran nothing for it, the env says why.
        results += [r.shown for r in env.unwrapped.trajectory.turns[-1].results if r.error_category != "parse_error"]
        done = terminated or truncated
    env.close()
    return (round(total, 10) if done else 0.0), results


def test_tools_are_methods_with_real_signatures_and_docstrings():
    from transformers.utils import get_json_schema

    factory = environment_factory("mentor/Calc-v0")
    env = factory()
    assert isinstance(env, MentorToolEnv) and type(env).__name__ == "CalcToolEnv"
    public = sorted(
        name for name, _ in inspect.getmembers(type(env), predicate=inspect.isfunction) if not name.startswith("_")
    )
    tools = {spec["function"]["name"]: spec["function"] for spec in env.session.env.runtime.specs}
    assert public == sorted([*tools, "reset", "get_reward"])  # what TRL turns into tools: the domain's, nothing else
    schema = get_json_schema(env.round_number)["function"]
    assert schema["name"] == "round_number" and schema["description"] == tools["round_number"]["description"]
    assert schema["parameters"]["required"] == ["x"]
    assert schema["parameters"]["properties"]["decimals"]["type"] == "integer"
    assert "at most 10" in schema["parameters"]["properties"]["decimals"]["description"]
    assert str(inspect.signature(env.add)) == "(*, a: float, b: float) -> str"
    units = environment_factory("mentor/Units-v0")()
    unit = get_json_schema(units.convert)["function"]["parameters"]["properties"]["from_unit"]
    assert unit["type"] == "string" and "km" in unit["enum"]


def test_calls_run_through_the_env_and_the_reward_equals_gym_make():
    factory = environment_factory("mentor/Calc-v0", reward_mode="dense", max_turns=4)
    env = factory()
    assert env.reset(task_id="calc-0", prompt=[{"role": "user", "content": "..."}]) is None
    task = env.session.env.task
    # The env's errors, not Python's: a missing argument, an unknown one, a bad type.
    assert env.add(a=2).startswith("Error (invalid_args): 'b' is a required property")
    assert "'c' was unexpected" in env.add(a=1, b=2, c=3)
    assert env.divide(a=1, b=0).startswith("Error (execution_error)")
    completion = []
    for message in task.teacher.messages[2:]:
        if message["role"] == "assistant":
            for tool_call in message.get("tool_calls", []):
                getattr(env, tool_call["function"]["name"])(**tool_call["function"]["arguments"])
        completion.append(dict(message))
    reward = factory.reward(completions=[completion], environments=[env])
    expected, _ = gym_return("mentor/Calc-v0", "calc-0", completion, reward_mode="dense", max_turns=4)
    assert reward == [pytest.approx(expected)] and expected == pytest.approx(1.1)
    assert len(env.step_rewards) == len(task.teacher.tool_names)  # one reward per turn, the shaping per turn
    assert env.step_rewards[0] > 0 and sum(env.step_rewards) == pytest.approx(1.1)
    assert env.get_reward() is None  # already paid through factory.reward


def test_reset_and_rewards_edge_cases():
    factory = environment_factory("mentor/Calc-v0", reward_mode="mentor", max_turns=2)
    env = factory()
    question = env.reset()  # TRL without a dataset: the env draws the task and returns its question
    assert question == env.session.env.task.question
    with pytest.raises(ValueError, match="has a prompt but no task_id"):
        env.reset(prompt=[])
    with pytest.raises(ValueError, match="this 'mentor/Calc-v0' environment plays 'calc'"):
        env.reset(task_id="units-1", domain="units")
    env.reset(task_id="calc-1", prompt=[])
    cut = [{"role": "assistant", "content": call("add", a=1, b=2)}, {"role": "tool", "content": "3"}] * 3
    assert factory.reward(completions=[cut], environments=[env]) == [0.0]  # the turn budget ran out: truncated
    env.reset(task_id="calc-1", prompt=[])
    still_calling = [{"role": "assistant", "content": call("add", a=1, b=2)}]  # TRL's tool budget cut it
    assert factory.reward(completions=[still_calling], environments=[env]) == [0.0]
    alone = factory()
    alone.reset(task_id="calc-1", prompt=[])
    alone.add(a=1, b=2)
    assert alone.get_reward() == pytest.approx(0.1)  # get_reward alone never sees an answer
    with pytest.raises(ValueError, match="needs TRL's environments"):
        EnvReward()(completions=[still_calling])
    with pytest.raises(ValueError, match="unknown env id"):
        environment_factory("mentor/Algebra-v0")
    with pytest.raises(ValueError, match="not a text tool-use env"):
        environment_factory("mentor/Calc-Structured-v0")


@needs_trl
def test_grpo_trainer_with_environment_factory_gets_gym_makes_reward(tmp_path):
    """A real GRPOTrainer, the committed warm start sampling, two steps on CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from agents.sft import warm_start_path
    from mentor_env.integrations.trl import add_hermes_response_template, to_hf_dataset

    torch.set_num_threads(1)
    factory = environment_factory("mentor/Calc-v0", reward_mode="mentor")
    seen = []

    def spy(completions, environments, **kwargs):
        rewards = factory.reward(completions=completions, environments=environments, **kwargs)
        seen.append((completions, kwargs["task_id"], rewards, [list(env.step_rewards) for env in environments]))
        return rewards

    spy.__name__ = "mentor"
    path = warm_start_path()
    tokenizer = add_hermes_response_template(AutoTokenizer.from_pretrained(path))
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(path),
        reward_funcs=[spy],
        args=GRPOConfig(
            output_dir=str(tmp_path / "grpo"),
            max_steps=2,
            num_generations=2,
            per_device_train_batch_size=4,
            max_completion_length=96,
            max_tool_calling_iterations=4,
            use_cpu=True,
            bf16=False,
            report_to="none",
            logging_steps=1,
            save_strategy="no",
            seed=0,
        ),
        train_dataset=to_hf_dataset("calc", "train", limit=8, tools_in_prompt=False),
        processing_class=tokenizer,
        environment_factory=factory,
    )
    trainer.train()

    assert trainer.state.global_step == 2
    logs = [entry for entry in trainer.state.log_history if "rewards/mentor/mean" in entry]
    assert len(logs) == 2 and all(entry["tools/call_frequency"] > 0 for entry in logs)
    assert all("mentor_env/turns" in entry for entry in logs)
    calls = 0
    for completions, task_ids, rewards, step_rewards in seen:
        for completion, task_id, reward, steps in zip(completions, task_ids, rewards, step_rewards):
            expected, env_results = gym_return("mentor/Calc-v0", task_id, completion, reward_mode="mentor")
            assert reward == pytest.approx(expected), (task_id, completion)
            assert sum(steps) == pytest.approx(reward)
            # What the model read after each call is what gym.make's env answers.
            # (TRL drops the results of a last turn that would overrun max_completion_length; the env ran them.)
            trl_results = [m["content"] for m in completion if m["role"] == "tool"]
            assert trl_results == env_results[: len(trl_results)]
            if not completion[-1].get("tool_calls"):
                assert trl_results == env_results
            calls += len(trl_results)
    assert calls > 0


NOT_JSON_NUMBER = (
    'Error (parse_error): the tool call is not valid JSON (NaN is not a valid JSON number). Write {"name": ..., '
    '"arguments": {...}} inside <tool_call></tool_call>'
)
TOO_LONG_FOR_A_TURN = (
    "Error (invalid_action): the call is longer than 65,536 characters written as JSON; the environment refuses a "
    "turn longer than 65,536 characters unread, so the call was not run"
)


def test_tool_calls_are_read_as_env_step_reads_them_and_bounded_by_the_turn_limit():
    env = environment_factory("mentor/Calc-v0")()
    env.reset(task_id="calc-1", prompt=[])
    # NaN: the env's parser refuses it, as gym.make's env does for the same block (no execution_error from the tool).
    assert env.add(a=float("nan"), b=1) == NOT_JSON_NUMBER
    gym_env = gym.make("mentor/Calc-v0")
    gym_env.reset(options={"task_id": "calc-1"})
    gym_env.step(call("add", a=float("nan"), b=1))
    assert gym_env.unwrapped.trajectory.turns[-1].results[0].shown == NOT_JSON_NUMBER
    # A million items: refused from a size bound that stops after ~65,536 characters, before any validation.
    with cpu_time_bound(1.0):  # measured: 0.1 ms (the runtime's schema check alone took 4.7 s)
        assert env.sum_numbers(numbers=list(range(1_000_000))) == TOO_LONG_FOR_A_TURN
    # Under the turn limit but over the parser's 16,384 characters per call block: the parser's own error.
    assert env.sum_numbers(numbers=[1] * 20_000).startswith(
        "Error (parse_error): the tool call is 60051 characters long; the limit is 16384."
    )
    # Values with no JSON form never reach a tool.
    assert env.add(a=complex(1, 2), b=1) == (
        "Error (invalid_args): the arguments have no JSON form, the only form a model's call takes "
        "(TypeError: Object of type complex is not JSON serializable)"
    )
    assert env.add(a=10**5000, b=1).startswith(
        "Error (invalid_args): the arguments have no JSON form, the only form a model's call takes (ValueError: "
        "Exceeds the limit (4300 digits) for integer string conversion"
    )
    assert env.add(a=2, b=3) == "5"
    completion = [
        {"role": "assistant", "content": call("add", a=2, b=3)},
        {"role": "tool", "content": "5"},
        {"role": "assistant", "content": "\\boxed{5}"},
    ]
    environment = environment_factory("mentor/Calc-v0")()
    environment.reset(task_id="calc-1", prompt=[])
    assert environment.add(a=2, b=3) == "5"
    # Wrong answer, a tool the teacher did not use, none invented: 0.1. The call ran once (replayed, not rerun).
    assert environment_factory("mentor/Calc-v0").reward(completions=[completion], environments=[environment]) == [0.1]
    assert environment.session.summary()["tool_calls"] == 1.0


CYCLE = self_containing_list()
DEEP = nested_list(5_000)
ANSWER = {"role": "assistant", "content": "\\boxed{19}"}  # calc-1's answer, without the teacher's tools: 0.8
REFUSED = "invalid_action: the action must be the text the model generated (str), got "
# completion -> (the reward, the errors of the env's first step)
MALFORMED_COMPLETIONS = {
    "none": (None, 0.0, [REFUSED + "NoneType"]),
    "int": (5, 0.0, [REFUSED + "int"]),
    "bytes": (b"\\boxed{19}", 0.0, [REFUSED + "bytes"]),
    "a string": ("\\boxed{19}", 0.8, []),
    "one message, not in a list": (ANSWER, 0.8, []),
    "no message at all": ([None, 5, "x"], 0.0, None),
    "no content": ([{"role": "assistant"}], 0.1, []),
    "content blocks": ([{"role": "assistant", "content": [{"type": "text", "text": "\\boxed{19}"}]}], 0.8, []),
    "content an int": ([{"role": "assistant", "content": 5}], 0.0, [REFUSED + "dict"]),
    "a call not a mapping": ([{"role": "assistant", "content": "", "tool_calls": [5]}], 0.0, [REFUSED + "dict"]),
    "tool_calls a string": ([{"role": "assistant", "content": "", "tool_calls": "add"}], 0.0, [REFUSED + "dict"]),
    "circular arguments": (
        [{"role": "assistant", "tool_calls": [{"function": {"name": "add", "arguments": {"a": CYCLE}}}]}],
        0.0,
        [REFUSED + "dict"],
    ),
    "5,000 levels deep": (
        [{"role": "assistant", "tool_calls": [{"function": {"name": "add", "arguments": {"a": DEEP}}}]}],
        0.0,
        [REFUSED + "dict"],
    ),
    "arguments not JSON": (
        [
            {"role": "assistant", "tool_calls": [{"function": {"name": "add", "arguments": "{bad"}}]},
            {"role": "tool"},
            ANSWER,
        ],
        0.8,
        [
            'parse_error: "arguments" is a string that is not valid JSON (Expecting property name enclosed in double quotes: '
            'line 1 column 2 (char 1)). Write {"name": ..., "arguments": {...}} inside <tool_call></tool_call>'
        ],
    ),
    "a call without a name": (
        [{"role": "assistant", "tool_calls": [{"function": {"arguments": {"a": 1}}}]}, {"role": "tool"}, ANSWER],
        0.8,
        [
            'parse_error: the tool call has no "name" string. Write {"name": ..., "arguments": {...}} inside <tool_call></tool_call>'
        ],
    ),
}


@pytest.mark.parametrize(
    "completion, reward, errors", list(MALFORMED_COMPLETIONS.values()), ids=list(MALFORMED_COMPLETIONS)
)
def test_factory_reward_scores_any_completion(completion, reward, errors):
    factory = environment_factory("mentor/Calc-v0", reward_mode="mentor")
    env = factory()
    env.reset(task_id="calc-1", prompt=[])
    assert factory.reward(completions=[completion], environments=[env]) == [pytest.approx(reward)]
    if errors is None:  # no turn was played: the episode never ended
        assert [step.info["reward_components"] for step in env.session.steps] == [{"abandoned": 1.0}]
    else:
        assert env.session.steps[0].info["errors"] == errors


def test_the_size_bound_is_a_lower_bound_that_stops_early():
    from mentor_env.integrations.session import json_text_exceeds

    assert not json_text_exceeds("x" * 10, 12) and json_text_exceeds("x" * 10, 11)  # '"xxxxxxxxxx"': 12 characters
    assert not json_text_exceeds([1, 2, 3], 9)  # "[1, 2, 3]" is 9 characters; the bound counts 7 ("[1,2,3]")
    assert json_text_exceeds([1, 2, 3], 6)
    # '{"key": 10**30}' is 40 characters; the bound counts 38: "{", ":", "}", '"key"' and 30 of the 31 digits
    # (an int's digits are bounded from its bits: 100 bits give at least 30).
    assert json_text_exceeds({"key": 10**30}, 37) and not json_text_exceeds({"key": 10**30}, 38)
    assert json_text_exceeds(CYCLE, 1_000)  # circular: endless
    with cpu_time_bound(0.5):  # measured: about 3 ms (it stops after ~65,536 characters)
        assert json_text_exceeds([[0] * 10] * 1_000_000, 65_536)
