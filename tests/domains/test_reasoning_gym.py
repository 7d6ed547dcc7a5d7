"""The ood-reasoning-gym splits of Calc and Dates: served, frozen, judged like reasoning-gym, teacher-less metrics."""

from __future__ import annotations

import re

import gymnasium as gym
import pytest

import mentor_env
from mentor_env.core import splits
from mentor_env.domains import get_domain
from mentor_env.domains.answers import read_quantity
from mentor_env.external import reasoning_gym as rg

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _wrong(answer: str) -> str:
    """A wrong answer of the gold's kind: the next weekday, the other of yes/no, one more, 1% more."""
    if answer in WEEKDAYS:
        return WEEKDAYS[(WEEKDAYS.index(answer) + 1) % 7]
    if answer in ("Yes", "No"):
        return "No" if answer == "Yes" else "Yes"
    days = re.fullmatch(r"(-?\d+) days", answer)
    if days:
        return f"{int(days.group(1)) + 1} days"
    quantity = read_quantity(answer)
    assert quantity is not None, answer
    value = quantity.value
    return str(int(value) + 1) if "." not in answer else repr(round(float(value) * 1.01 + 0.01, 6))


@pytest.mark.parametrize(("name", "size"), [("calc", 600), ("dates", 200)])
def test_the_split_is_served_interleaved_and_without_a_teacher(name, size):
    env = gym.make(mentor_env.registration.DOMAIN_ENV_IDS[name], split=rg.SPLIT)
    tasks = env.unwrapped.tasks
    assert len(tasks) == size and len({task.id for task in tasks}) == size
    datasets = list(rg.DATASETS[name])
    assert [task.meta["dataset"] for task in tasks[: len(datasets)]] == datasets
    assert all(task.teacher.source == "none" and not task.teacher.calls for task in tasks)
    _, info = env.reset(options={"task_id": f"{name}-rg-{datasets[0]}-7"})
    assert len(info["tools"]) == len(get_domain(name).tools)


def test_an_unknown_split_names_the_extra_one():
    with pytest.raises(ValueError, match="ood-reasoning-gym"):
        gym.make("mentor/Calc-v0", split="ood-other")
    with pytest.raises(ValueError, match="split must be one of"):
        gym.make("mentor/Units-v0", split=rg.SPLIT)


def test_an_oracle_scores_one_and_the_tool_metrics_are_not_applicable():
    tasks = {task.id: task for task in splits.load_split(get_domain("dates"), rg.SPLIT)}

    def oracle(messages, tools):
        task = next(task for task in tasks.values() if task.question == messages[1]["content"])
        return f"\\boxed{{{task.answer}}}"

    result = mentor_env.evaluate(oracle, ["mentor/Dates-v0"], n=8, split=rg.SPLIT, verbose=False)["mentor/Dates-v0"]
    assert result["success_rate"] == 1.0 and result["teacher_episodes"] == 0
    assert (
        result["tool_set_match_rate"] is None
        and result["tool_use_jsd"] is None
        and result["mean_teacher_tool_calls"] is None
    )
    table = mentor_env.play.evaluation.format_results({"mentor/Dates-v0": result})
    assert "| 0.00 (n/a) | n/a |" in table


# --- with reasoning-gym installed ------------------------------------------------------------


def test_the_committed_files_match_reasoning_gym():
    pytest.importorskip("reasoning_gym")
    assert rg.main(["check"]) == 0, "run: python -m mentor_env.external.reasoning_gym build"


def test_without_the_file_the_split_is_regenerated(tmp_path, monkeypatch):
    pytest.importorskip("reasoning_gym")
    committed = splits.load_split(get_domain("dates"), rg.SPLIT)
    monkeypatch.setenv("MENTOR_ENV_TASKS", str(tmp_path))
    splits._GENERATED_EXTRA.clear()
    assert splits.load_split(get_domain("dates"), rg.SPLIT) == committed


@pytest.mark.parametrize("name", ["calc", "dates"])
def test_our_judges_agree_with_reasoning_gyms_score_on_right_and_wrong_answers(name):
    pytest.importorskip("reasoning_gym")
    domain = get_domain(name)
    lenient = []
    for task in splits.load_split(domain, rg.SPLIT):
        assert domain.judge(task.answer, task.answer) and rg.score_answer(task, task.answer) == 1.0, task.id
        wrong = _wrong(task.answer)
        assert rg.score_answer(task, wrong) < 1.0, task.id
        if domain.judge(wrong, task.answer):
            lenient.append(task.id)
    # Integers compare exactly: a large integer off by one (793546073 for 793546072) is refused, as
    # reasoning-gym refuses it.
    assert lenient == []


def test_a_unit_other_than_the_golds_is_wrong_here_though_reasoning_gym_reads_only_the_number():
    pytest.importorskip("reasoning_gym")
    domain = get_domain("dates")
    task = next(task for task in splits.load_split(domain, rg.SPLIT) if task.answer == "46 days")
    assert domain.judge("46", task.answer) and rg.score_answer(task, "46") == 1.0
    assert not domain.judge("46 weeks", task.answer) and rg.score_answer(task, "46 weeks") == 1.0


def test_reasoning_gym_leaves_the_process_decimal_context_alone():
    pytest.importorskip("reasoning_gym")
    import decimal

    before = decimal.getcontext().prec
    rg.generate_tasks("calc")
    rg.score_answer(splits.load_split(get_domain("calc"), rg.SPLIT)[2], "1.5")  # a decimal_arithmetic task
    assert decimal.getcontext().prec == before
