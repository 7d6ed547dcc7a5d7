"""Frozen splits: committed files match the generators; split= and dataset= serve them."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

from mentor_env.core import splits
from mentor_env.core.task import Task
from mentor_env.domains import DOMAINS, get_domain
from mentor_env.domains.units import UnitsDomain


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_committed_splits_match_the_generator(name):
    domain = get_domain(name)
    assert splits.check_splits(domain, splits.tasks_dir()) == [], "run: python -m mentor_env.tasks build"


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_split_sizes_ids_and_no_shared_questions(name):
    domain = get_domain(name)
    loaded = {split: splits.load_split(domain, split) for split in splits.SPLITS}
    sizes = {split: len(tasks) for split, tasks in loaded.items()}
    assert sizes == (
        {"train": 5000, "test": 500, "ood": 500} if name == "calc" else {"train": 1000, "test": 500, "ood": 500}
    )
    questions = [{task.question for task in tasks} for tasks in loaded.values()]
    assert not (questions[0] & questions[1]) and not (questions[0] & questions[2]) and not (questions[1] & questions[2])
    assert all(task.meta["ood"] for task in loaded["ood"]) and not any(task.meta["ood"] for task in loaded["test"])
    assert all(task.id.startswith(f"{name}-ood-") for task in loaded["ood"])
    tools = json.loads((splits.tasks_dir() / name / "tools.json").read_text())
    assert [tool["function"]["name"] for tool in tools] == [tool.name for tool in domain.tools]
    assert (splits.tasks_dir() / name / "README.md").exists()


class FewUnitsDomain(UnitsDomain):
    """Units with small splits of its own."""

    split_sizes = {"train": 4, "test": 3, "ood": 2}


def test_a_domain_declares_its_own_split_sizes():
    built = splits.generate_splits(FewUnitsDomain())
    assert {split: [task.id for task in tasks] for split, tasks in built.items()} == {
        "train": ["units-0", "units-1", "units-2", "units-3"],
        "test": ["units-1000000", "units-1000001", "units-1000002"],
        "ood": ["units-ood-2000000", "units-ood-2000001"],
    }
    assert splits.split_sizes(get_domain("calc")) == {"train": 5000, "test": 500, "ood": 500}
    assert splits.split_sizes(get_domain("dates")) == {"train": 1000, "test": 500, "ood": 500}  # the default


@pytest.mark.parametrize(
    "sizes", [{"train": 4, "test": 0, "ood": 2}, {"train": 4, "test": 3}, {"train": 4, "test": 3, "ood": 2.5}]
)
def test_split_sizes_that_miss_a_split_or_a_count_are_refused(sizes):
    domain = FewUnitsDomain()
    domain.split_sizes = sizes
    expected = r"domain 'units': split_sizes must give each of \('train', 'test', 'ood'\) a positive whole number"
    with pytest.raises(ValueError, match=expected):
        splits.split_sizes(domain)


def test_split_kwarg_serves_the_frozen_tasks():
    env = gym.make("mentor/Calc-v0", split="test")
    test_ids = {task.id for task in splits.load_split(get_domain("calc"), "test")}
    assert {env.reset(seed=seed)[1]["task_id"] for seed in range(30)} <= test_ids
    with pytest.raises(ValueError, match="split must be one of"):
        gym.make("mentor/Calc-v0", split="validation")
    with pytest.raises(ValueError, match="at most one of split, dataset and tasks"):
        gym.make("mentor/Calc-v0", split="test", tasks=[])


def test_missing_files_are_regenerated_from_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("MENTOR_ENV_TASKS", str(tmp_path))
    splits._GENERATED.clear()
    regenerated = splits.load_split(get_domain("calc"), "ood")
    monkeypatch.delenv("MENTOR_ENV_TASKS")
    assert regenerated == splits.load_split(get_domain("calc"), "ood")


def test_dataset_kwarg_reads_our_layout_and_the_published_one(tmp_path):
    ours = tmp_path / "ours.jsonl"
    ours.write_text(get_domain("calc").generate(4).to_json() + "\n")
    env = gym.make("mentor/Calc-v0", dataset=ours)
    assert env.reset(seed=0)[1]["task_id"] == "calc-4"

    published = tmp_path / "published.jsonl"
    record = {"id": "p1", "question": "What is 2 + 2?", "answer": "4", "tool_calls_used": ["add"]}
    published.write_text(json.dumps(record) + "\n")
    env = gym.make("mentor/Calc-v0", dataset=published)
    env.reset(seed=0)
    assert env.unwrapped.task.teacher.tool_names == ["add"]
    *_, info = env.step('<tool_call>{"name": "add", "arguments": {"a": 2, "b": 2}}</tool_call>')
    *_, info = env.step("\\boxed{4}")
    assert info["rewards"]["mentor"] == pytest.approx(1.1)


def test_bad_dataset_files_name_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q", "answer": "1"}\n{"id": "b"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:2: task record is missing"):
        gym.make("mentor/Calc-v0", dataset=bad)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="holds no task records"):
        gym.make("mentor/Calc-v0", dataset=empty)
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text(json.dumps({"id": "x", "domain": "dates", "question": "q", "answer": "1"}) + "\n")
    with pytest.raises(ValueError, match="tasks of domain\\(s\\) \\['dates'\\] cannot be played"):
        gym.make("mentor/Calc-v0", dataset=foreign)


def test_ood_calc_tasks_use_unseen_wording_and_more_operations():
    test = splits.load_split(get_domain("calc"), "test")
    ood = splits.load_split(get_domain("calc"), "ood")
    assert {t.meta["style"] for t in test} == {"story", "symbolic", "verbal"}
    assert all(t.meta["style"].startswith("ood_") for t in ood)
    mean_calls = lambda tasks: sum(len(t.teacher.calls) for t in tasks) / len(tasks)  # noqa: E731
    assert mean_calls(ood) > mean_calls(test) + 1
    assert Task.from_dict(ood[0].to_dict()) == ood[0]
