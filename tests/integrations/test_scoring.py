"""mentor_env.integrations.scoring: whole completions scored as the environment scores the same turns."""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mentor_env  # noqa: F401  (registers the ids)
from mentor_env.core.messages import render_assistant_text
from mentor_env.core.rewards import REWARD_MODES, TERMINAL_MODES
from mentor_env.core.splits import load_split
from mentor_env.core.task import Task
from mentor_env.domains import get_domain
from mentor_env.integrations.scoring import (
    completion_outcome,
    completion_turns,
    resolve_domain,
    score_completion,
    score_details,
    score_task,
    teacher_tool_names,
)
from tests.conftest import SMALL_TASK, call, nested_list, self_containing_list

TEACHER = ["add", "multiply"]  # (2 + 3) × 4 = 20
RIGHT = call("add", a=2, b=3) + "\n" + call("multiply", a=5, b=4) + "\nSo the answer is \\boxed{20}."
WRONG = RIGHT.replace("\\boxed{20}", "\\boxed{19}")


def scores(completion: Any, answer: str = "20", teacher_tools: Any = TEACHER, **kwargs: Any) -> dict[str, float]:
    return score_completion(completion, domain="calc", answer=answer, teacher_tools=teacher_tools, **kwargs)


def table(sparse, mentor, partial, nomatch, f1) -> dict[str, float]:
    return {
        "sparse": sparse,
        "mentor": mentor,
        "mentor_partial": partial,
        "mentor_nomatch": nomatch,
        "mentor_f1": f1,
        "dense": mentor,
    }


# --- expected numbers, written out -------------------------------------------------


def test_teacher_tools_and_right_answer_score_the_maximum():
    assert scores(RIGHT) == table(1.0, 1.1, 1.0, 0.8, 1.1)


def test_wrong_answer_with_the_teacher_tools():
    assert scores(WRONG) == table(0.1, 0.16, 0.06, 0.1, 0.16)


def test_no_answer_scores_point_one_in_every_mode():
    assert scores(RIGHT.replace("\\boxed{20}", "20")) == table(0.1, 0.1, 0.1, 0.1, 0.1)
    assert scores(RIGHT.replace("\\boxed{20}", "\\boxed{ }")) == table(0.1, 0.1, 0.1, 0.1, 0.1)


def test_a_cut_off_completion_scores_zero():
    assert scores(RIGHT, finished=False) == table(0.0, 0.0, 0.0, 0.0, 0.0)


def test_a_faked_tool_response_is_malformed():
    faked = call("add", a=2, b=3) + "\n<tool_response>\n5\n</tool_response>\n\\boxed{20}"
    assert scores(faked) == table(0.0, 0.0, 0.0, 0.0, 0.0)


def test_an_invented_tool_loses_the_hallucination_term():
    text = call("calculator", expression="(2+3)*4") + "\n" + RIGHT
    assert scores(text) == table(1.0, 1.0, 1.0, 0.7, 1.0)


def test_broken_json_with_a_readable_name_counts_as_a_call():
    broken = '<tool_call>{"name": "multiply", "arguments": {"a": 5,}}</tool_call>'
    text = call("add", a=2, b=3) + "\n" + broken + "\n\\boxed{20}"
    assert scores(text)["mentor"] == 1.1
    without = call("add", a=2, b=3) + "\n\\boxed{20}"
    assert scores(without) == table(1.0, 0.8, 1.0, 0.8, round(0.7 + 0.3 * 2 / 3 + 0.1, 10))


def test_reasoning_is_ignored():
    thought = "<think>" + call("add", a=2, b=3) + " maybe \\boxed{21}</think>"
    assert scores(thought + "\\boxed{20}") == table(1.0, 0.8, 0.7, 0.8, 0.8)
    assert scores(thought) == table(0.1, 0.1, 0.1, 0.1, 0.1)


def test_f1_counts_repeated_calls():
    teacher = ["subtract", "subtract", "multiply", "add"]
    text = "".join(call(name, a=1, b=1) for name in ("subtract", "multiply", "add")) + "\\boxed{20}"
    result = scores(text, teacher_tools=teacher)
    assert result["mentor"] == 1.1  # same set
    assert result["mentor_f1"] == pytest.approx(0.7 + 0.3 * (2 * 0.75 / 1.75) + 0.1)


def test_no_teacher_tools_and_no_calls_match():
    # An empty teacher list: the teacher used no tool, and a student that used none matches in every mode.
    assert scores("It is \\boxed{20}.", teacher_tools=[]) == table(1.0, 1.1, 1.0, 0.8, 1.1)
    assert scores(call("add", a=2, b=3) + "\\boxed{20}", teacher_tools=[]) == table(1.0, 0.8, 0.7, 0.8, 0.8)
    assert scores("It is \\boxed{20}.")["mentor"] == 0.8  # the student used no tool: no match bonus


def test_details_name_the_parts():
    details = score_details(WRONG, domain="calc", answer="20", teacher_tools=TEACHER)
    assert details["mentor"] == 0.16
    assert details["correct"] == 0.0 and details["answered"] == 1.0 and details["tool_set_match"] == 1.0
    assert details["tool_calls"] == 2.0 and details["invented_tool_calls"] == 0.0


# --- completion shapes -------------------------------------------------------------


def test_a_single_assistant_message_scores_as_its_text():
    assert scores([{"role": "assistant", "content": RIGHT}]) == scores(RIGHT)
    assert scores([{"role": "assistant", "content": WRONG}]) == scores(WRONG)


def test_trl_tool_loop_messages_score_as_a_multi_turn_episode():
    messages = [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3}}}],
        },
        {"role": "tool", "name": "add", "content": "5"},
        {
            "role": "assistant",
            "content": "",
            # OpenAI style: the arguments as a JSON string.
            "tool_calls": [{"type": "function", "function": {"name": "multiply", "arguments": '{"a": 5, "b": 4}'}}],
        },
        {"role": "tool", "name": "multiply", "content": "20"},
        {"role": "assistant", "content": "The answer is \\boxed{20}."},
    ]
    assert completion_turns(messages)[1] is True
    assert scores(messages) == table(1.0, 1.1, 1.0, 0.8, 1.1)
    # The trainer stopped the loop while the model still asked for a tool: never ended.
    assert scores(messages[:3]) == table(0.0, 0.0, 0.0, 0.0, 0.0)
    # Content blocks instead of a string.
    blocks = messages[:4] + [{"role": "assistant", "content": [{"type": "text", "text": "\\boxed{20}"}]}]
    assert scores(blocks)["mentor"] == 1.1


QWEN_TURNS = (
    call("add", a=2, b=3)
    + "<|im_end|>\n<|im_start|>user\n<tool_response>\n5\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
    + call("multiply", a=5, b=4)
    + "<|im_end|>\n<|im_start|>user\n<tool_response>\n20\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
    + "The answer is \\boxed{20}."
)


def test_multi_turn_strings_cut_out_the_environment_responses():
    skipped = QWEN_TURNS.replace("<|im_end|>", "").replace("<|im_start|>", "")  # skip_special_tokens=True
    for text in (QWEN_TURNS, skipped):
        turns, multi = completion_turns(text, multi_turn=True)
        assert multi and len(turns) == 3
        assert scores(text, multi_turn=True) == table(1.0, 1.1, 1.0, 0.8, 1.1)
        # Read as one turn the model wrote, the responses are fakes.
        assert scores(text) == table(0.0, 0.0, 0.0, 0.0, 0.0)


def test_multi_turn_string_rules():
    # Several responses in one environment turn.
    two = call("add", a=2, b=3) + call("multiply", a=5, b=4) + "\n<tool_response>\n5\n</tool_response>\n"
    two += "<tool_response>\n20\n</tool_response>\nassistant\n\\boxed{20}"
    assert len(completion_turns(two, multi_turn=True)[0]) == 2
    assert scores(two, multi_turn=True)["mentor"] == 1.1
    # Ending on the environment's response: the model never ended the episode.
    assert scores(QWEN_TURNS.split("The answer")[0], multi_turn=True)["mentor"] == 0.0
    # A response after a turn without a call is the model's own: malformed.
    fake = "Let me see.\n<tool_response>\n20\n</tool_response>\n\\boxed{20}"
    assert scores(fake, multi_turn=True)["mentor"] == 0.0


# --- teacher fields and errors -----------------------------------------------------------


def test_teacher_field_forms_agree():
    record = SMALL_TASK["teacher"]
    messages = [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"type": "function", "function": {"name": "add", "arguments": {}}}],
        },
        {"role": "tool", "content": "5"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"type": "function", "function": {"name": "multiply", "arguments": "{}"}}],
        },
    ]
    forms = [
        {"teacher_tools": TEACHER},
        {"teacher_tools": json.dumps(TEACHER)},
        {"teacher": record},
        {"teacher": json.dumps(record)},
        {"teacher": Task.from_dict(SMALL_TASK).teacher},
        {"teacher": messages},
        {"teacher": json.dumps(messages)},
        {"teacher": {"messages": messages}},
    ]
    for form in forms:
        assert teacher_tool_names(**form) == ("add", "multiply"), form


def test_score_task_reads_our_records_and_the_published_layout():
    assert score_task(RIGHT, SMALL_TASK) == table(1.0, 1.1, 1.0, 0.8, 1.1)
    published = {"id": "p-1", "domain": "calc", "question": "q", "answer": "20", "tool_calls_used": TEACHER}
    assert score_task(WRONG, published)["mentor"] == 0.16
    assert score_task(RIGHT, Task.from_dict(SMALL_TASK))["mentor"] == 1.1
    with pytest.raises(ValueError, match="no teacher fields"):
        score_task(RIGHT, {"id": "x", "domain": "calc", "question": "q", "answer": "20"})


def test_clear_errors():
    with pytest.raises(ValueError, match=r"unknown domain 'algebra': expected one of \['calc'"):
        score_completion(RIGHT, domain="algebra", answer="20", teacher_tools=TEACHER)
    with pytest.raises(ValueError, match="missing teacher fields: expected `teacher_tools`.*got neither"):
        score_completion(RIGHT, domain="calc", answer="20")
    with pytest.raises(ValueError, match=r"teacher_tools must be a list of tool names \(or its JSON\), got 'add'"):
        score_completion(RIGHT, domain="calc", answer="20", teacher_tools="add")
    with pytest.raises(ValueError, match=r"teacher record must have 'tool_calls' or 'messages'; it has \['source'\]"):
        score_completion(RIGHT, domain="calc", answer="20", teacher={"source": "x"})
    with pytest.raises(ValueError, match="missing gold answer"):
        score_completion(RIGHT, domain="calc", answer=None, teacher_tools=TEACHER)
    # Dataset columns are checked; what the model produced is scored whatever it is (test_malformed_completions_score).
    assert score_completion(42, domain="calc", answer="20", teacher_tools=TEACHER) == table(0.0, 0.0, 0.0, 0.0, 0.0)


CYCLE = self_containing_list()
DEEP = nested_list(5_000)
RIGHT_MESSAGE = {"role": "assistant", "content": RIGHT}
CALLS_THEN_JUNK = [{"role": "assistant", "content": call("add", a=2, b=3)}, {"role": "tool", "content": "5"}]
# A turn that is not text is one the env refuses unread: nothing in it counts, and a last one leaves the episode unended.
MALFORMED = {
    "None": (None, table(0.0, 0.0, 0.0, 0.0, 0.0)),
    "bytes": (RIGHT.encode(), table(0.0, 0.0, 0.0, 0.0, 0.0)),
    "one message, not in a list": (RIGHT_MESSAGE, table(1.0, 1.1, 1.0, 0.8, 1.1)),
    "content blocks": (
        [{"role": "assistant", "content": [{"type": "text", "text": RIGHT}, {"type": "image"}]}],
        table(1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    "items that are not messages": ([None, 5, "x", RIGHT_MESSAGE], table(1.0, 1.1, 1.0, 0.8, 1.1)),
    "last turn's content an int": (
        [*CALLS_THEN_JUNK, {"role": "assistant", "content": 5}],
        table(0.0, 0.0, 0.0, 0.0, 0.0),
    ),
    "last turn's call not a mapping": (
        [*CALLS_THEN_JUNK, {"role": "assistant", "content": "x", "tool_calls": [7]}],
        table(0.0, 0.0, 0.0, 0.0, 0.0),
    ),
    "circular arguments": (
        [{"role": "assistant", "content": RIGHT, "tool_calls": [{"function": {"name": "add", "arguments": CYCLE}}]}],
        table(0.0, 0.0, 0.0, 0.0, 0.0),
    ),
    "5,000 levels deep": (
        [{"role": "assistant", "content": RIGHT, "tool_calls": [{"function": {"name": "add", "arguments": DEEP}}]}],
        table(0.0, 0.0, 0.0, 0.0, 0.0),
    ),
    # The unreadable first turn counts for nothing; the answer is right, no tool was called: 0.7 + 0.1 (none invented).
    "a middle turn not text": (
        [
            {"role": "assistant", "content": {"x": 1}},
            {"role": "tool", "content": "?"},
            {"role": "assistant", "content": "\\boxed{20}"},
        ],
        table(1.0, 0.8, 0.7, 0.8, 0.8),
    ),
}


@pytest.mark.parametrize("completion, expected", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_completions_score(completion, expected):
    assert scores(completion) == expected


def test_malformed_completions_score_with_the_published_rules_too():
    # The published code reads text only: a turn that is not text adds nothing, and it scores any ended text.
    assert scores(None, compat="official") == table(0.1, 0.1, 0.1, 0.1, 0.1)
    assert scores([*CALLS_THEN_JUNK, {"role": "assistant", "content": 5}], compat="official")["mentor_partial"] == 0.1


def test_domain_names():
    calc = get_domain("calc")
    for name in ("calc", "mentor/calc", "mentor/Calc-v0", "mentor_env:mentor/Calc-v0", "CALC", calc):
        assert resolve_domain(name) is calc
    assert resolve_domain("mentor/Dates-v0").name == "dates"


def test_other_domains_use_their_own_judge_and_tools():
    task = load_split(get_domain("dates"), "test")[0]
    text = "\n".join(render_assistant_text(m) for m in task.teacher.messages if m["role"] == "assistant")
    assert score_task(text, task)["mentor"] == 1.1
    outcome = completion_outcome(text, domain="dates", answer=task.answer, teacher=task.teacher)
    assert outcome.available_tools == frozenset(tool.name for tool in get_domain("dates").tools)


# --- parity with the environment -----------------------------------------------------------


def play(task: Task, actions: list[str], max_turns: int = 8) -> tuple[list[str], list[str], dict[str, float], bool]:
    """Play ``actions``; returns the actions taken, the observations, the summed rewards and ``terminated``."""
    env = gym.make("mentor/Calc-v0", max_turns=max_turns)
    env.reset(seed=0, options={"task": task})
    taken, observations = [], []
    totals = {mode: 0.0 for mode in REWARD_MODES}
    terminated = truncated = False
    for action in actions:
        observation, _, terminated, truncated, info = env.step(action)
        taken.append(action)
        observations.append(observation)
        for mode in REWARD_MODES:
            totals[mode] += info["rewards"][mode]
        if terminated or truncated:
            break
    assert terminated or truncated, "the scripted episode must end"
    final = info["rewards"]
    for mode in TERMINAL_MODES:  # terminal modes pay on the last step only
        assert totals[mode] == pytest.approx(final[mode])
    env.close()
    return taken, observations, totals, terminated


def multi_turn_string(actions: list[str], observations: list[str]) -> str:
    pieces = []
    for action, observation in zip(actions, observations):
        pieces.append(action)
        if observation:
            pieces.append(f"<|im_end|>\n<|im_start|>user\n{observation}<|im_end|>\n<|im_start|>assistant\n")
    return "".join(pieces)


def message_list(actions: list[str], observations: list[str]) -> list[dict[str, str]]:
    messages = []
    for action, observation in zip(actions, observations):
        messages.append({"role": "assistant", "content": action})
        if observation:
            messages.append({"role": "tool", "content": observation})
    return messages


def assert_parity(task: Task, actions: list[str], max_turns: int = 8, concatenated: bool = True) -> dict[str, float]:
    taken, observations, env_totals, terminated = play(task, actions, max_turns)
    fields = {"domain": task.domain, "answer": task.answer, "teacher": task.teacher}
    expected = {mode: pytest.approx(value, abs=1e-9) for mode, value in env_totals.items()}
    assert score_completion(message_list(taken, observations), **fields) == expected
    assert score_completion(multi_turn_string(taken, observations), multi_turn=True, **fields) == expected
    if concatenated:
        assert score_completion("\n".join(taken), finished=terminated, **fields) == expected
    return env_totals


def teacher_actions(task: Task) -> list[str]:
    return [render_assistant_text(message) for message in task.teacher.messages if message["role"] == "assistant"]


TASKS = load_split(get_domain("calc"), "test")[:6]


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.id)
def test_env_parity_on_scripted_episodes(task):
    teacher = teacher_actions(task)
    calls, final = teacher[:-1], teacher[-1]
    assert assert_parity(task, teacher)["mentor"] == pytest.approx(1.1)
    assert assert_parity(task, calls + ["The answer is \\boxed{-123456}."])["mentor"] == pytest.approx(0.16)
    assert assert_parity(task, calls + ["I do not know."])["mentor"] == pytest.approx(0.1)
    invented = [call("calculator", expression=task.question)] + teacher
    assert assert_parity(task, invented)["mentor"] == pytest.approx(1.0)
    broken = ['<tool_call>{"name": "' + task.teacher.tool_names[0] + '", "arguments": {"a": }}</tool_call>'] + [final]
    assert_parity(task, broken)
    fake = calls + ["<tool_response>\n" + task.answer + "\n</tool_response>\n" + final]
    assert assert_parity(task, fake)["mentor"] == 0.0
    thinking = ["<think>" + (calls[0] if calls else "") + "</think>" + action for action in teacher]
    assert_parity(task, thinking)
    # Truncated at max_turns while still calling tools.
    looping = [call("add", a=1, b=1)] * 3
    assert assert_parity(task, looping, max_turns=3)["mentor"] == 0.0
    # Only the final answer, no tools at all.
    assert_parity(task, [final])


FRAGMENTS = [
    call("add", a=2, b=3),
    call("multiply", a=5, b=4),
    call("sum_numbers", numbers=[1, 2, 3]),
    call("divide", a=1, b=0),
    call("calculator", expression="2+3"),
    '<tool_call>{"name": "subtract", "arguments": {"a": 1,}}</tool_call>',
    '<tool_call>{"name": "add", "arguments"',
    "</tool_call>",
    "<think>" + call("add", a=1, b=1) + "</think>",
    "<think>\\boxed{7}</think>",
    "<think>unfinished",
    "\\boxed{20}",
    "\\boxed{19}",
    "\\boxed{}",
    "Let me compute.",
    "<tool_response>\n20\n</tool_response>",
]
FAKE = FRAGMENTS[-1]

turn_text = st.lists(st.sampled_from(FRAGMENTS), min_size=0, max_size=4).map("\n".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(turn_text, min_size=1, max_size=5), max_turns=st.integers(1, 4))
def test_env_parity_on_random_turns(actions, max_turns):
    task = Task.from_dict(SMALL_TASK)
    taken, observations, env_totals, terminated = play(task, actions + ["\\boxed{20}"], max_turns)
    fields = {"domain": "calc", "answer": task.answer, "teacher": task.teacher}
    expected = {mode: pytest.approx(value, abs=1e-9) for mode, value in env_totals.items()}
    # Message lists tell the model's text apart exactly.
    assert score_completion(message_list(taken, observations), **fields) == expected
    # A string can be cut at the environment's responses when the model fakes none after a call
    # and does not end on an empty turn.
    faked_after_call = any(FAKE in action and "tool_call>" in action for action in taken)
    if not faked_after_call and taken[-1].strip():
        assert score_completion(multi_turn_string(taken, observations), multi_turn=True, **fields) == expected
