"""The learning test: PPO with the dense reward raises the tiny student's success.

From the committed SFT warm start (``agents/checkpoints/tiny-calc-sft``), 30
PPO updates of 64 episodes on Calc level-1 ``train`` tasks, with the settings
of ``agents.ppo.TINY_WARM_START_SETTINGS``, seed 0. Two assertions:

- the success of the episodes training samples (temperature 0.7) rises by at
  least 5 points from the first 10 updates to the last 10, 640 episodes
  against 640 (a standard error of about 2.5 points): measured 0.243 -> 0.336
  (+9.3 points, about 3.7 standard errors) on the 2-CPU development machine;
- greedy success on all 109 level-1 tasks of Calc ``test`` (tasks the run
  never trains on) ends above where it started: measured 33 -> 36 of 109.

Why not a held-out gain of several points, as this test asserted before: 109
greedy episodes are a coarse measure and one seed's gain moves with any change
of the float path. ``python -m benchmarks.ppo_learning`` measured six seeds at
+2.8 to +19.3 points (``benchmarks/results/ppo_learning-tiny.json``, with the
earlier ``model.generate`` sampler); the same seed 0 gave +5.5 points on the
generation stack alone and +2.75 once the environment speed-ups and refactors
were merged with it (identical rewards, other float rounding). The training
curve's 1,280 episodes carry the signal the 109 greedy ones cannot. About three
to seven minutes on 2 CPUs; deselect with ``-m "not slow"``.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.ppo import PPOTrainer  # noqa: E402
from benchmarks.ppo_learning import LEVEL_1_TEST_TASKS, learning_config  # noqa: E402

WARM_START_SUCCESS = 33 / LEVEL_1_TEST_TASKS  # 0.303, greedy, measured when the warm start was committed
# Rollout success (64 episodes an update, temperature 0.7) of the first and the last updates compared.
WINDOW = 10
REQUIRED_ROLLOUT_GAIN = 0.05


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
    assert after["episodes"] == LEVEL_1_TEST_TASKS
    rollout = [row["success_rate"] for row in history]
    first, last = sum(rollout[:WINDOW]) / WINDOW, sum(rollout[-WINDOW:]) / WINDOW
    report = (
        f"held-out success {before['success_rate']:.3f} -> {after['success_rate']:.3f}; "
        f"rollout success, first {WINDOW} updates {first:.3f}, last {WINDOW} {last:.3f}"
    )
    # Training raises the success of what it samples (640 episodes against 640) ...
    assert last - first >= REQUIRED_ROLLOUT_GAIN, report
    # ... and the greedy policy on the held-out tasks ends above where it started.
    assert after["success_rate"] > before["success_rate"], report
