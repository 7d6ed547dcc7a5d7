"""benchmarks.judge_change: the same answers judged here and by another checkout's judges (no model run here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import judge_change

ROOT = Path(__file__).resolve().parents[2]

RECORDS = [
    {
        "set": "lookup/test",
        "domain": "lookup",
        "task_id": "lookup-1000044",
        "gold": "2521162",
        "answer": "2521164",
        "ended": True,
    },
    {
        "set": "lookup/test",
        "domain": "lookup",
        "task_id": "lookup-1",
        "gold": "Thoror",
        "answer": "thoror",
        "ended": True,
    },
    {
        "set": "calc/test",
        "domain": "calc",
        "task_id": "calc-1",
        "gold": "284.78",
        "answer": "\\text{284.78}",
        "ended": True,
    },
    {"set": "calc/test", "domain": "calc", "task_id": "calc-2", "gold": "12", "answer": "12", "ended": False},
    {"set": "calc/test", "domain": "calc", "task_id": "calc-3", "gold": "12", "answer": None, "ended": True},
    {"set": "dates/test", "domain": "dates", "task_id": "dates-1", "gold": "5", "answer": "5 weeks", "ended": True},
]


def test_verdicts_are_the_judges_on_ended_answers():
    assert judge_change.verdicts(RECORDS) == [False, True, True, False, False, False]


def test_another_checkout_judges_in_a_child_process():
    # This checkout against itself: the child imports the same judges, so nothing changes.
    assert judge_change.verdicts_of(ROOT, RECORDS) == [False, True, True, False, False, False]
    with pytest.raises(FileNotFoundError, match="must be a checkout"):
        judge_change.verdicts_of(ROOT / "tasks", RECORDS)


def test_compare_counts_the_changed_verdicts_per_set():
    ours = [False, True, True, False, False, False]
    theirs = [True, True, False, False, False, True]  # the old judges: 1e-6, no \text{}, "5 weeks" read as 5
    report = judge_change.compare(RECORDS, ours, theirs)
    assert list(report) == ["lookup/test", "calc/test", "dates/test"]
    assert report["lookup/test"]["episodes"] == 2
    assert (report["lookup/test"]["correct_here"], report["lookup/test"]["correct_against"]) == (1, 2)
    assert report["lookup/test"]["changed"] == [
        {"task_id": "lookup-1000044", "gold": "2521162", "answer": "2521164", "here": False, "against": True}
    ]
    assert [row["task_id"] for row in report["calc/test"]["changed"]] == ["calc-1"]
    assert [row["task_id"] for row in report["dates/test"]["changed"]] == ["dates-1"]
    table = judge_change.format_table({"sets": report})
    assert "| calc/test | 3 | 1 | 0 | 1 |" in table
