"""benchmarks.task_signal: its statistics by hand, its candidate syntax, and one small measurement."""

from __future__ import annotations

import argparse

import pytest

from benchmarks.task_signal import Candidate, group_statistics, main, parse_candidate


def test_group_statistics_count_right_wrong_and_mixed_groups_by_hand():
    returns = [[1.0, 1.0, 1.0], [1.0, 0.1, 0.0], [0.1, 0.1, 0.1], [0.1, 0.0, 0.0]]
    correct = [[True, True, True], [True, False, False], [False, False, False], [False, False, False]]
    assert group_statistics(returns, correct) == {
        "sampled_success": 4 / 12,
        "pass_at_k": 2 / 4,
        "mixed_success": 1 / 4,  # only task 2 has right and wrong episodes
        "mixed_groups": 2 / 4,  # task 4's 0.1 against 0.0 (an answer against none) is a difference too
    }
    with pytest.raises(ValueError, match="at least one episode"):
        group_statistics([[1.0], []], [[True], []])


def test_candidates_are_a_domain_and_a_level_or_a_range():
    assert parse_candidate("calc:3") == Candidate("calc", (3,))
    assert parse_candidate("units:1-3") == Candidate("units", (1, 2, 3))
    assert parse_candidate("calc:1-2").name == "calc:1-2" and parse_candidate("calc:1-2").env_id == "mentor/Calc-v0"
    for bad, words in [("calc", "DOMAIN:LEVEL"), ("calc:x", "whole numbers"), ("calc:3-1", "last level comes after")]:
        with pytest.raises(argparse.ArgumentTypeError, match=words):
            parse_candidate(bad)


def test_counts_on_the_command_line_are_checked(capsys):
    for argv, words in [(["--tasks", "0"], "--tasks: expected a whole number >= 1, got '0'"),
                        (["--offset", "-5"], "--offset: expected a whole number >= 0, got '-5'"),
                        (["--samples", "two"], "--samples: expected a whole number >= 1, got 'two'")]:  # fmt: skip
        with pytest.raises(SystemExit):
            main(["--model", "unused", *argv])
        assert words in capsys.readouterr().err


def test_a_small_measurement_reports_every_statistic(tiny_student_path, tmp_path, capsys):
    import json

    results = main(["--model", str(tiny_student_path), "--candidates", "calc:1", "--tasks", "2", "--samples", "2",
                    "--max-new-tokens", "4", "--max-turns", "1", "--out", str(tmp_path / "signal.json")])  # fmt: skip
    (result,) = results
    assert result["candidate"] == "calc:1" and result["tasks"] == 2 and result["samples"] == 2
    assert set(result["mixed_groups"]) == {"sparse", "mentor", "dense"}
    # An untrained student writes no answer in 4 tokens: every episode fails, no group is mixed by success.
    assert result["sampled_success"] == 0.0 and result["pass_at_k"] == 0.0 and result["mixed_success"] == 0.0
    saved = json.loads((tmp_path / "signal.json").read_text())
    assert saved["results"] == results and saved["threads"] == 1
    assert "| calc:1 | 2 x 2 |" in capsys.readouterr().out
