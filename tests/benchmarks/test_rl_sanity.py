"""benchmarks.rl_sanity: which runs the ladder makes, and how it judges each rung (on hand-built results)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.rl_sanity import jobs, summarize, summary_markdown


def test_jobs_of_each_rung() -> None:
    made = jobs(["a", "b", "c"], [0, 1], Path("out"))
    assert [job.name for job in made] == [
        "a-grpo-seed0", "a-grpo-seed1",
        "b-gae-seed0", "b-gae-seed1", "b-grpo-seed0", "b-grpo-seed1",
        "c-trl-grpo-seed0", "c-trl-grpo-seed1",
    ]  # fmt: skip
    fit, gae, grpo, trl = made[0], made[2], made[4], made[-1]
    assert (fit.settings["train_tasks"], fit.settings["group_size"], fit.updates) == (8, 8, 200)
    assert "anneal_lr" not in fit.settings  # decays, as agents.ppo does by default
    assert (grpo.settings["advantage"], grpo.settings["group_size"], grpo.settings["episodes_per_update"]) == (
        "grpo",
        2,
        256,
    )
    assert (gae.settings["group_size"], gae.settings["eval_split"], gae.settings["validation_tasks"]) == (
        1,
        "validation",
        96,
    )
    assert (gae.updates, grpo.updates) == (40, 40)
    # TRL: rung b's budget and rate, 40 batches of 256 completions in 4 optimizer steps of 64
    assert (trl.updates, trl.settings["episodes_per_update"], trl.settings["minibatch_size"]) == (40, 256, 64)
    assert (trl.settings["learning_rate"], trl.settings["warmup_updates"]) == (1e-4, 3)
    assert fit.fingerprint() == jobs(["a"], [0], Path("elsewhere"))[0].fingerprint()  # the folder is not a setting


def _run(rung: str, algorithm: str, seed: int, before: float, after: float, training: list[float]) -> dict:
    return {
        "name": f"{rung}-{algorithm}-seed{seed}",
        "job": {"rung": rung, "algorithm": algorithm, "seed": seed},
        "before": before,
        "after": after,
        "training_success": training,
        "cpu_seconds": 1800.0,
        "episodes": 1920,
    }


def test_summarize_judges_each_rung() -> None:
    results = [
        _run("a", "grpo", 0, 0.375, 0.2, [0.3] * 5 + [0.95] * 5),
        _run("a", "grpo", 1, 0.375, 0.2, [0.2] * 5 + [0.85] * 5),
        _run("b", "gae", 0, 0.375, 0.50, [0.3] * 10),
        _run("b", "gae", 1, 0.375, 0.47, [0.3] * 10),
        _run("b", "gae", 2, 0.375, 0.48, [0.3] * 10),
        _run("b", "grpo", 0, 0.375, 0.40, [0.3] * 10),
        _run("b", "grpo", 1, 0.375, 0.35, [0.3] * 10),
    ]
    summary = summarize(results)
    assert summary["a/grpo"]["last_updates"] == pytest.approx([0.95, 0.85])
    assert summary["a/grpo"]["mean_fit"] == pytest.approx(0.9) and summary["a/grpo"]["met"] is True
    gae = summary["b/gae"]
    # Gains 0.125, 0.095, 0.105: mean 0.10833, sd 0.01528, 95% half-width 4.303 x 0.01528 / sqrt(3) = 0.03795.
    assert gae["gain"]["mean"] == pytest.approx(0.108333, abs=1e-5)
    assert gae["gain"]["low"] == pytest.approx(0.070385, abs=1e-4)
    assert gae["gain_per_1000_episodes"] == pytest.approx(0.108333 * 1000 / 1920, abs=1e-5)
    assert gae["gain_per_cpu_hour"] == pytest.approx(0.216667, abs=1e-5)
    assert gae["met"] is True
    assert summary["b/grpo"]["gain"]["mean"] == pytest.approx(0.0) and summary["b/grpo"]["met"] is False
    table = summary_markdown(summary)
    assert "| a | grpo | 2 | training success 0.250 -> 0.900 (last 5 updates) | >= 0.9 | yes |" in table
    assert "| b | gae | 3 | validation 0.375 -> 0.483, gain +10.8 points [+7.0, +14.6]" in table
    assert table.splitlines()[-1].endswith("| >= +8 points, interval above 0 | no |")
