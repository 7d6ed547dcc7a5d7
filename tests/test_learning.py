"""The learning test: PPO with the dense reward raises the tiny student's success on held-out tasks.

From the committed SFT warm start (``agents/checkpoints/tiny-calc-sft``), 30
PPO updates of 64 episodes on Calc level-1 ``train`` tasks, with the settings
of ``agents.ppo.TINY_WARM_START_SETTINGS``; success is greedy, on all 109
level-1 tasks of Calc ``test`` (tasks the run never trains on).

Measured by ``python -m benchmarks.ppo_learning`` over six seeds
(``benchmarks/results/ppo_learning-tiny.json``, 2-CPU development machine):
held-out success 0.303 (33 of 109) -> 0.376, 0.330, 0.495, 0.440, 0.376, 0.385,
gains of +7.3, +2.8, +19.3, +13.8, +7.3 and +8.3 points: +9.8 on average,
4 standard errors above zero, against a seed-to-seed standard deviation of the
final success of 5.8 points. Every seed improved. Those six runs sampled with
``model.generate`` (``torch.multinomial``); the rollouts now sample with the
generation stack's inverse-CDF sampler from the same distributions but another
random stream, and seed 0 re-measured with it goes from 33 to 39 of 109
(0.303 -> 0.358, +5.5 points; deterministic on one machine and torch build).
This test runs seed 0 and asserts at least 4 points, leaving room below 5.5
for another CPU's float rounding. About four to seven minutes on 2 CPUs;
deselect with ``-m "not slow"``.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.ppo import PPOTrainer  # noqa: E402
from benchmarks.ppo_learning import LEVEL_1_TEST_TASKS, learning_config  # noqa: E402

WARM_START_SUCCESS = 33 / LEVEL_1_TEST_TASKS  # 0.303, greedy, measured when the warm start was committed
REQUIRED_GAIN = 0.04


@pytest.mark.slow
def test_ppo_with_the_dense_reward_raises_held_out_success_from_the_sft_warm_start(tmp_path):
    config = learning_config(seed=0, output_dir=tmp_path)
    trainer = PPOTrainer(config)
    assert len(trainer.eval_tasks) == LEVEL_1_TEST_TASKS
    assert not {t.id for t in trainer.eval_tasks} & {t.id for t in trainer.tasks}
    before = trainer.evaluate(0)
    # Greedy decoding of fixed weights: the same on any CPU up to a task or two flipped by float rounding.
    assert before["success_rate"] == pytest.approx(WARM_START_SUCCESS, abs=2 / LEVEL_1_TEST_TASKS)

    history = trainer.train()
    after = history[-1]["eval"]
    gain = after["success_rate"] - before["success_rate"]
    assert after["episodes"] == LEVEL_1_TEST_TASKS
    assert gain >= REQUIRED_GAIN, f"held-out success {before['success_rate']:.3f} -> {after['success_rate']:.3f}"
