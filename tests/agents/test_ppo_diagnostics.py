"""What a PPO run prints and logs to tell whether it learns, and the step-size and advantage options."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch  # noqa: E402

from agents.ppo import (  # noqa: E402
    PPOConfig,
    PPOTrainer,
    evaluation_line,
    group_advantages,
    lr_factor,
    mixed_share,
    standard_error,
    update_line,
)
from tests.agents.test_agents import small_config  # noqa: E402


def test_group_advantages_by_group_and_by_batch() -> None:
    returns = torch.tensor([0.70, 0.71, 1.0, 0.1, 0.5, 0.5])
    groups = torch.tensor([0, 0, 1, 1, 2, 2])
    by_group = group_advantages(returns, groups, scale="group")
    # Each group's own std: a 0.01 difference is as large as right against wrong; equal returns give 0.
    assert by_group.tolist() == pytest.approx([-1.0, 1.0, 1.0, -1.0, 0.0, 0.0], abs=1e-3)
    by_batch = group_advantages(returns, groups, scale="batch")
    # Centred returns -0.005, 0.005, 0.45, -0.45, 0, 0; their std over the batch is 0.2599.
    assert by_batch.tolist() == pytest.approx([-0.0192, 0.0192, 1.7313, -1.7313, 0.0, 0.0], abs=1e-3)
    with pytest.raises(ValueError, match="scale must be 'group' or 'batch', got 'episode'"):
        group_advantages(returns, groups, scale="episode")


def test_lr_factor_warms_up_then_holds_or_anneals_to_its_floor() -> None:
    config = PPOConfig(total_updates=10, warmup_updates=3, anneal_lr=False)
    assert [lr_factor(config, update) for update in (0, 1, 2, 3, 9)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    config = PPOConfig(total_updates=10, warmup_updates=0, anneal_lr=True, final_lr_fraction=0.1)
    assert [lr_factor(config, update) for update in (0, 5, 9)] == pytest.approx([1.0, 0.55, 0.19])
    # The defaults (40 updates): warm up over 3, then decay linearly towards a tenth of the rate.
    assert [lr_factor(PPOConfig(), update) for update in (0, 1, 2, 3, 39)] == pytest.approx(
        [0.25, 0.5, 0.75, 0.9325, 0.1225]
    )
    config = PPOConfig(total_updates=4, warmup_updates=0, final_lr_fraction=0.0)
    assert [lr_factor(config, update) for update in range(4)] == [1.0, 0.75, 0.5, 0.25]


def test_mixed_share() -> None:
    assert mixed_share([1.0, 0.1, 1.0, 1.0, 0.1, 0.1], [0, 0, 1, 1, 2, 2]) == pytest.approx(1 / 3)
    assert mixed_share([1.0, 0.1, 0.1], [0, 1, 2]) == 1.0  # one rollout per task: whether the batch is mixed
    assert mixed_share([0.1, 0.1], [0, 1]) == 0.0


def test_evaluation_line_warns_when_success_fell_by_more_than_its_standard_error() -> None:
    start = {"success_rate": 0.375, "episodes": 96, "mean_tool_calls": 1.71}
    assert standard_error(0.375, 96) == pytest.approx(0.0494, abs=1e-4)
    assert evaluation_line(0, start, None, "validation") == (
        "update 0: validation success 0.375 (36/96, standard error 0.049), tool calls 1.71"
    )
    within = {"success_rate": 0.34375, "episodes": 96, "mean_tool_calls": 1.5}
    assert "WARNING" not in evaluation_line(10, within, start, "validation")
    fell = {"success_rate": 0.15625, "episodes": 96, "mean_tool_calls": 1.82}
    assert evaluation_line(10, fell, start, "validation") == (
        "update 10: validation success 0.156 (15/96, standard error 0.037), tool calls 1.82, -0.219 since update 0\n"
        "WARNING: validation success fell from 0.375 to 0.156, more than its standard error: the model got worse "
        "(a smaller --learning-rate or --target-kl keeps it closer to where it started)"
    )


def test_update_line() -> None:
    row = {
        "update": 3,
        "success_rate": 0.25,
        "mean_return": {"sparse": 0.325},
        "mixed_groups": {"return": 0.5, "success": 0.375},
        "advantage_by_turn": {"success": [2.0, 1.5], "failure": [-0.5]},
        "kl_to_reference": 0.0123,
        "approx_kl": 0.004,
        "stopped_early": True,
        "entropy": 0.2,
        "mean_tool_calls": 1.75,
        "learning_rate": 1e-4,
    }
    assert update_line(row, "sparse") == (
        "update 3: train success 0.250, sparse return 0.325, mixed groups 0.50 (by success 0.38), advantage by "
        "turn success +2.00/+1.50 failure -0.50, KL 0.0123, approx_kl 0.0040 (stopped early), entropy 0.200, "
        "tool calls 1.75, lr 1.00e-04"
    )


def test_a_run_prints_its_start_and_each_update_and_logs_the_diagnostics(tmp_path, tiny_student_path, capsys) -> None:
    config = small_config(tmp_path, tiny_student_path, total_updates=2, progress_bar=False, warmup_updates=1)
    history = PPOTrainer(config).train()
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("update 0: test success ")
    assert [line.split(":")[0] for line in printed[1:]] == ["update 1", "update 2", "update 2"]
    assert printed[3].startswith("update 2: test success ") and "since update 0" in printed[3]
    first = history[0]
    assert first["learning_rate"] == pytest.approx(5e-4)  # half the rate in the one warm-up update
    assert history[1]["learning_rate"] == pytest.approx(5e-4)  # then annealed: 1e-3 x (1 - 1/2)
    assert set(first["mixed_groups"]) == {"return", "success"}
    assert set(first["advantage_by_turn"]) == {"success", "failure"}
    assert first["optimizer_steps"] == 4 and first["stopped_early"] is False  # 4 episodes, minibatch 2, 2 epochs


def test_target_kl_stops_an_update_that_left_the_trust_region(tmp_path, tiny_student_path) -> None:
    # A huge step on an untrained student: the first minibatch step moves the policy far past 1.5 x 1e-9.
    config = small_config(
        tmp_path,
        tiny_student_path,
        total_updates=1,
        learning_rate=1e-2,
        target_kl=1e-9,
        entropy_coef=0.01,
        verbose=False,
    )
    row = PPOTrainer(config).train()[0]
    assert row["stopped_early"] is True and row["optimizer_steps"] == 1
