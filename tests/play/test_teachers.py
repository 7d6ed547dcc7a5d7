"""Teachers: scripted, dataset (ours and the published layout), LM (plumbing, with the tiny student)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from mentor_env.core.splits import load_split, read_jsonl
from mentor_env.domains import get_domain
from mentor_env.play.teachers import (
    DatasetTeacher,
    LMTeacher,
    ReplayPolicy,
    ScriptedTeacher,
    annotate,
    write_jsonl,
)
from tests.conftest import call

calc = get_domain("calc")


def test_scripted_teacher_reproduces_the_split_trajectories():
    teacher = ScriptedTeacher(calc)
    for split in ("test", "ood"):
        for task in load_split(calc, split)[:50]:
            assert teacher.teach(task) == task.teacher
    explicit = calc.generate(12, difficulty=2)
    assert teacher.teach(explicit) == explicit.teacher
    assert teacher.teach(explicit.__class__(id="x", domain="calc", question="?", answer="1")) is None


def test_dataset_teacher_reads_both_layouts(tmp_path):
    path = tmp_path / "teachers.jsonl"
    task = calc.generate(3)
    published = {"id": "pub-1", "question": "What is 2 + 2?", "answer": "4", "teacher_tools": ["add"]}
    path.write_text(task.to_json() + "\n" + json.dumps(published) + "\n")
    teacher = DatasetTeacher(path, default_domain="calc")
    assert teacher.teach(task) == task.teacher
    other = calc.generate(4)
    assert teacher.teach(other) is None
    (pub,) = [t for t in read_jsonl(path, "calc") if t.id == "pub-1"]
    assert teacher.teach(pub).tool_names == ["add"]


ROLLOUTS = {
    1: ["\\boxed{21}"],  # wrong
    2: [call("add", a=2, b=3), call("add", a=2, b=3), call("multiply", a=5, b=4), "\\boxed{20}"],  # 3 calls
    3: [call("add", a=2, b=3) + call("multiply", a=5, b=4), "So \\boxed{20}"],  # correct, 2 calls
    4: ["\\boxed{20}"],  # correct, no tool at all: fewest calls
}


class ScriptedAttempts:
    """A fake batched 'model': the k-th attempt started on a task plays ROLLOUTS[k]."""

    batched = True

    def __init__(self) -> None:
        self.started = Counter()
        # Rollouts told apart by the tools of their first turn.
        self.by_opening = {("add",): ROLLOUTS[2], ("add", "multiply"): ROLLOUTS[3]}

    def __call__(self, conversations, tools):
        texts = []
        for messages in conversations:
            assistant = [m for m in messages if m["role"] == "assistant"]
            if not assistant:
                self.started[messages[1]["content"]] += 1
                texts.append(ROLLOUTS[self.started[messages[1]["content"]]][0])
                continue
            opening = tuple(call["function"]["name"] for call in assistant[0]["tool_calls"])
            texts.append(self.by_opening[opening][len(assistant)])
        return texts


def test_lm_teacher_keeps_the_correct_attempt_with_fewest_calls():
    from mentor_env.core.task import Task
    from tests.conftest import SMALL_TASK

    task = Task.from_dict(SMALL_TASK)
    teacher = LMTeacher(ScriptedAttempts(), "mentor/Calc-v0", attempts=4, batch_size=2, source="lm:fake")
    (trajectory,) = teacher.teach_all([task])
    assert trajectory.source == "lm:fake"
    assert trajectory.tool_names == []
    assert trajectory.messages[-1] == {"role": "assistant", "content": "\\boxed{20}"}

    teacher = LMTeacher(ScriptedAttempts(), "mentor/Calc-v0", attempts=3, batch_size=3)
    (trajectory,) = teacher.teach_all([task])
    assert trajectory.tool_names == ["add", "multiply"]  # attempt 3 beats attempt 2 (three calls)

    teacher = LMTeacher(ScriptedAttempts(), "mentor/Calc-v0", attempts=1)
    assert annotate([task], teacher) == []  # its only attempt is wrong: the task is dropped


def test_annotate_and_write_jsonl_round_trip(tmp_path):
    tasks = load_split(calc, "test")[:5]
    annotated = annotate(tasks, ScriptedTeacher(calc))
    path = write_jsonl(annotated, tmp_path / "out" / "calc.jsonl")
    assert read_jsonl(path) == annotated


@pytest.fixture(scope="module")
def tiny_student(tiny_student_path):
    from agents.students import load_student

    return load_student(str(tiny_student_path))


def test_lm_teacher_runs_a_real_model_end_to_end(tiny_student, tmp_path):
    from mentor_env.play.lm import HFChatPolicy

    model, tokenizer = tiny_student
    tasks = load_split(calc, "test")[:3]
    policy = HFChatPolicy(model, tokenizer, max_new_tokens=16, seed=0)
    teacher = LMTeacher(policy, "mentor/Calc-v0", attempts=2, batch_size=6, env_kwargs={"max_turns": 2})
    trajectories = teacher.teach_all(tasks)
    assert len(trajectories) == 3
    # An untrained model is (almost surely) wrong; whatever it got right is a full, correct record.
    for task, trajectory in zip(tasks, trajectories):
        if trajectory is not None:
            assert trajectory.messages[1]["content"] == task.question
    path = write_jsonl(annotate(tasks, ScriptedTeacher(calc)), tmp_path / "x.jsonl")
    assert len(read_jsonl(path)) == 3


def test_replay_policy_plays_the_teacher():
    task = calc.generate(8)
    policy = ReplayPolicy([task])
    messages = list(task.teacher.messages[:2])
    first = policy(messages, [])
    assert first.startswith("<tool_call>")
    assert policy([{"role": "user", "content": "unknown"}], []) == "I do not know."
