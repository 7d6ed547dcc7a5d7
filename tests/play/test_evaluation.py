"""The cross-domain evaluation helper."""

from __future__ import annotations

from collections import Counter
from math import log2

import pytest

import mentor_env
from mentor_env.core.splits import load_split
from mentor_env.domains import get_domain
from mentor_env.play.evaluation import jensen_shannon_divergence
from mentor_env.play.teachers import ReplayPolicy


def test_jsd_values():
    assert jensen_shannon_divergence(Counter(add=2), Counter(add=5)) == 0.0
    assert jensen_shannon_divergence(Counter(add=1), Counter(multiply=1)) == 1.0
    assert jensen_shannon_divergence(Counter(), Counter()) == 0.0
    assert jensen_shannon_divergence(Counter(), Counter(add=1)) == 1.0
    # p = (1/2, 1/2), q = (1, 0): m = (3/4, 1/4)
    expected = 0.5 * (0.5 * log2(0.5 / 0.75) + 0.5 * log2(0.5 / 0.25)) + 0.5 * log2(1 / 0.75)
    assert jensen_shannon_divergence(Counter(add=1, sqrt=1), Counter(add=3)) == pytest.approx(expected)
    assert expected == pytest.approx(0.311278, abs=1e-6)


def test_teacher_replay_is_the_ceiling(capsys):
    tasks = load_split(get_domain("calc"), "test")[:40] + load_split(get_domain("calc"), "ood")[:40]
    results = mentor_env.evaluate(ReplayPolicy(tasks), ["mentor/Calc-v0"], n=40, split="test", batch_size=7)
    calc = results["mentor/Calc-v0"]
    assert calc["episodes"] == 40
    assert calc["success_rate"] == 1.0 and calc["tool_set_match_rate"] == 1.0
    assert calc["invented_tool_rate"] == 0.0 and calc["format_error_rate"] == 0.0 and calc["tool_use_jsd"] == 0.0
    assert calc["mean_tool_calls"] == calc["mean_teacher_tool_calls"]
    assert calc["mean_return"]["mentor"] == pytest.approx(1.1)
    assert "| mentor/Calc-v0 | 40 | 1.000 |" in capsys.readouterr().out


def test_a_bad_policy_shows_in_every_metric():
    def guesser(messages, tools):
        turn = sum(1 for m in messages if m["role"] == "assistant")
        if turn == 0:
            return '<tool_call>{"name": "calculator", "arguments": {}}</tool_call><tool_call>{"name": "add", "arguments": {</tool_call>'
        return "\\boxed{0.123456}"

    result = mentor_env.evaluate(guesser, ["mentor/Calc-v0"], n=20, split="ood", verbose=False)["mentor/Calc-v0"]
    assert result["success_rate"] == 0.0
    assert result["invented_tool_rate"] == 1.0
    assert result["format_error_rate"] == 1.0
    assert result["mean_tool_calls"] == 2.0
    assert 0.0 < result["tool_use_jsd"] < 1.0
    assert result["mean_return"]["mentor"] == pytest.approx(0.0)
    assert result["mean_return"]["sparse"] == pytest.approx(0.1)


def test_generated_tasks_without_a_split_and_bad_arguments():
    result = mentor_env.evaluate(lambda m, t: "\\boxed{1}", ["mentor/Calc-v0"], n=5, split=None, verbose=False)
    assert result["mentor/Calc-v0"]["episodes"] == 5
    with pytest.raises(ValueError, match="n must be at least 1"):
        mentor_env.evaluate(lambda m, t: "", n=0)
    with pytest.raises(ValueError, match="n=501 is more than the 500 tasks"):
        mentor_env.evaluate(lambda m, t: "", n=501, verbose=False)


def test_progress_bar_and_transcripts_one_line_per_episode(tmp_path, capsys):
    import json

    tasks = load_split(get_domain("calc"), "test")[:6]
    path = tmp_path / "transcripts.jsonl"
    results = mentor_env.evaluate(
        ReplayPolicy(tasks),
        ["mentor/Calc-v0"],
        n=6,
        split="test",
        batch_size=4,
        verbose=False,
        progress=True,
        transcripts=path,
    )
    assert results["mentor/Calc-v0"]["success_rate"] == 1.0
    assert "mentor/Calc-v0" in capsys.readouterr().err  # the bar, on stderr
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["task_id"] for line in lines] == [task.id for task in tasks]
    first = lines[0]
    assert first["env_id"] == "mentor/Calc-v0" and first["correct"] is True and first["answer"] == tasks[0].answer
    assert first["messages"][0]["role"] == "system" and first["messages"][-1]["role"] == "assistant"
    assert first["returns"]["mentor"] == pytest.approx(1.1) and first["errors"] == []


def test_run_episodes_reports_each_episode_as_it_finishes():
    import gymnasium as gym

    from mentor_env.play.rollouts import run_episodes

    tasks = load_split(get_domain("calc"), "test")[:5]
    seen = []
    episodes = run_episodes(
        ReplayPolicy(tasks), lambda: gym.make("mentor/Calc-v0", split="test"),
        [{"seed": i, "options": {"task_id": t.id}} for i, t in enumerate(tasks)], batch_size=2, on_episode=seen.append,
    )  # fmt: skip
    assert sorted(e.task.id for e in seen) == sorted(t.id for t in tasks) and len(seen) == 5
    assert all(any(e is s for s in seen) for e in episodes)
