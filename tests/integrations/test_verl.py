"""mentor_env.integrations.verl: compute_score called the way verl's reward managers call it."""

from __future__ import annotations

import json

import pytest

from mentor_env.core.messages import render_assistant_text, render_tool_responses
from mentor_env.core.splits import load_split
from mentor_env.core.task import Task
from mentor_env.domains import get_domain
from mentor_env.integrations.verl import compute_score, to_verl_rows, verl_row

TASKS = load_split(get_domain("calc"), "test")[:5]
ROWS = to_verl_rows("calc", "test", limit=5)


def verl_call(row: dict, solution_str: str, **extra):
    """As verl's NaiveRewardManager does: row fields, decoded response, num_turns added to extra_info."""
    extra_info = dict(row["extra_info"])
    extra_info.setdefault("num_turns", 2)
    extra_info.update(extra)
    return compute_score(
        data_source=row["data_source"],
        solution_str=solution_str,
        ground_truth=row["reward_model"]["ground_truth"],
        extra_info=extra_info,
    )


def teacher_text(task: Task) -> str:
    """The teacher's turns as one response (tool calls, then the answer)."""
    return "\n".join(render_assistant_text(m) for m in task.teacher.messages if m["role"] == "assistant")


def tool_agent_text(task: Task) -> str:
    """The teacher's turns as verl's tool agent loop decodes them (skip_special_tokens=True)."""
    pieces = []
    messages = list(task.teacher.messages)
    for index, message in enumerate(messages):
        if message["role"] == "assistant":
            pieces.append(render_assistant_text(message))
        elif message["role"] == "tool" and (index + 1 == len(messages) or messages[index + 1]["role"] != "tool"):
            results = []
            back = index
            while back >= 0 and messages[back]["role"] == "tool":
                results.insert(0, messages[back]["content"])
                back -= 1
            pieces.append("\nuser\n" + render_tool_responses(results) + "\nassistant\n")
    return "".join(pieces)


def test_rows_have_verl_fields():
    row = ROWS[0]
    assert set(row) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    assert row["data_source"] == "mentor/calc"
    assert row["reward_model"] == {"style": "rule", "ground_truth": TASKS[0].answer}
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["prompt"][1]["content"] == TASKS[0].question
    assert '"name": "sum_numbers"' in row["prompt"][0]["content"]  # the tool specs
    assert row["extra_info"]["teacher_tools"] == TASKS[0].teacher.tool_names
    assert row["extra_info"]["task_id"] == TASKS[0].id and row["extra_info"]["index"] == 0
    assert row["extra_info"]["split"] == "test"
    json.dumps(ROWS)  # plain JSON types, ready for Parquet
    assert "# Tools" not in verl_row(TASKS[0], tools_in_prompt=False)["prompt"][0]["content"]


@pytest.mark.parametrize("index", range(len(TASKS)))
def test_teacher_response_scores_the_maximum(index):
    row, task = ROWS[index], TASKS[index]
    result = verl_call(row, teacher_text(task))
    assert result["score"] == pytest.approx(1.1)
    assert result["acc"] == 1.0 and result["sparse"] == 1.0 and result["mentor_nomatch"] == pytest.approx(0.8)
    # The multi-turn response of verl's tool agent loop (num_turns counts every message).
    turns = len([m for m in task.teacher.messages if m["role"] != "system"])
    assert verl_call(row, tool_agent_text(task), num_turns=turns)["score"] == pytest.approx(1.1)


@pytest.mark.parametrize("index", range(len(TASKS)))
def test_expected_values(index):
    row, task = ROWS[index], TASKS[index]
    calls = "\n".join(render_assistant_text(m) for m in task.teacher.messages[:-1] if m["role"] == "assistant")
    assert verl_call(row, calls + "\nThe answer is \\boxed{-987654}.")["score"] == pytest.approx(0.16)
    assert verl_call(row, calls + "\nI cannot tell.")["score"] == pytest.approx(0.1)
    assert verl_call(row, "\\boxed{" + task.answer + "}")["score"] == pytest.approx(0.8)  # right, no tools
    faked = calls + "\n<tool_response>\n" + task.answer + "\n</tool_response>\n\\boxed{" + task.answer + "}"
    assert verl_call(row, faked)["score"] == 0.0
    assert verl_call(row, teacher_text(task), finished=False)["score"] == 0.0
    invented = '<tool_call>{"name": "python", "arguments": {"code": "1+1"}}</tool_call>\n' + teacher_text(task)
    assert verl_call(row, invented)["score"] == pytest.approx(1.0)


def test_reward_mode_and_plain_float():
    row, task = ROWS[0], TASKS[0]
    wrong = teacher_text(task).replace("\\boxed{" + task.answer + "}", "\\boxed{-1}")
    assert verl_call(row, wrong, reward_mode="sparse")["score"] == pytest.approx(0.1)
    assert verl_call(row, wrong, reward_mode="mentor_partial")["score"] == pytest.approx(0.06)
    # custom_reward_function.reward_kwargs arrive as keyword arguments.
    value = compute_score(
        row["data_source"],
        wrong,
        row["reward_model"]["ground_truth"],
        row["extra_info"],
        reward_mode="mentor_nomatch",
        return_dict=False,
    )
    assert value == pytest.approx(0.1) and isinstance(value, float)
    assert compute_score(
        "calc", teacher_text(task), task.answer, {"teacher_tools": task.teacher.tool_names}, reward_mode="dense"
    )["score"] == pytest.approx(1.1)


def test_data_source_forms_and_published_teacher():
    task = TASKS[0]
    for source in ("mentor/calc", "calc", "mentor/Calc-v0"):
        assert compute_score(source, teacher_text(task), task.answer, {"tool_calls_used": task.teacher.tool_names})[
            "score"
        ] == pytest.approx(1.1)
    import numpy as np  # Parquet read back through pandas gives arrays

    extra = {"teacher_tools": np.array(task.teacher.tool_names, dtype=object)}
    assert compute_score("mentor/calc", teacher_text(task), task.answer, extra)["score"] == pytest.approx(1.1)
    # Sparse needs no teacher.
    assert compute_score("mentor/calc", teacher_text(task), task.answer, {}, reward_mode="sparse")["score"] == 1.0


def test_clear_errors():
    task = TASKS[0]
    with pytest.raises(ValueError, match="unknown domain 'mentor/algebra'"):
        compute_score("mentor/algebra", "x", "1", {"teacher_tools": []})
    with pytest.raises(ValueError, match=r"missing teacher fields: .*extra_info has \['index', 'num_turns'\]"):
        compute_score("mentor/calc", teacher_text(task), task.answer, {"index": 0, "num_turns": 2})
    with pytest.raises(ValueError, match="reward_mode must be one of"):
        compute_score("mentor/calc", "x", "1", {"teacher_tools": []}, reward_mode="shaped")


def test_loads_the_way_verl_loads_a_custom_reward_file():
    """verl imports the file by path under another module name and binds reward_kwargs."""
    import functools
    import importlib.util

    import mentor_env.integrations.verl as module

    spec = importlib.util.spec_from_file_location("custom_module", module.__file__)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    fn = functools.partial(loaded.compute_score, reward_mode="sparse")
    row, task = ROWS[0], TASKS[0]
    result = fn(
        data_source=row["data_source"],
        solution_str=teacher_text(task),
        ground_truth=task.answer,
        extra_info=row["extra_info"],
    )
    assert result["score"] == 1.0 and result["mentor"] == pytest.approx(1.1)
