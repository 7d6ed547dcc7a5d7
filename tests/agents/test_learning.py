"""The learning test: ``python -m agents.ppo`` at its defaults raises held-out success.

The defaults are the tiny student's recipe (``agents.ppo.PPOConfig``): from the committed SFT warm start
``agents/checkpoints/tiny-multi-sft``, 40 PPO updates (value head, GAE at lambda 1) of 256 episodes on Calc
levels 1-2 with the sparse reward, evaluated greedily on the 96 validation tasks carved from the end of the
training tasks (never trained on). Seed 0. Two assertions:

- held out: greedy validation success after the run exceeds the warm start's by at least 3 tasks of 96;
  measured 36 -> 43 of 96 (+7.3 points) on the 2-CPU development machine, one torch thread;
- training: the sampled success of the last 10 updates exceeds that of the first 10 by at least 3 points,
  2,560 episodes against 2,560 (a standard error of about 1.4 points); measured 0.414 -> 0.459.

One seed is one draw: ``benchmarks.rl_sanity`` (rung b) measures the recipe over 10 seeds with its interval
(+10.1 points [+8.9, +11.3]; seed 0 is the lowest, +7.3); seed 0 is asserted because it is the run a new user
gets. Greedy decoding is exact on a given machine, thread count and package versions; another CPU rounds floats
differently, which moves a few tasks. About seven CPU-minutes; deselect with ``-m "not slow"``.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.ppo import PPOConfig, PPOTrainer  # noqa: E402

WARM_START_VALIDATION = 36 / 96  # greedy, measured when the warm start was committed
REQUIRED_HELD_OUT_GAIN = 3 / 96
WINDOW = 10
REQUIRED_ROLLOUT_GAIN = 0.03


@pytest.mark.slow
def test_the_default_recipe_raises_held_out_success_from_the_warm_start(tmp_path):
    config = PPOConfig(seed=0, out=str(tmp_path), checkpoint_every=0, progress_bar=False, verbose=False)
    trainer = PPOTrainer(config)
    assert len(trainer.eval_tasks) == 96 and not {t.id for t in trainer.eval_tasks} & {t.id for t in trainer.tasks}
    before = trainer.evaluate(0)
    assert before["success_rate"] == pytest.approx(WARM_START_VALIDATION, abs=2 / 96)

    history = trainer.train()
    after = history[-1]["eval"]
    rollout = [row["success_rate"] for row in history]
    first, last = sum(rollout[:WINDOW]) / WINDOW, sum(rollout[-WINDOW:]) / WINDOW
    report = (
        f"validation success {before['success_rate']:.3f} -> {after['success_rate']:.3f}; "
        f"rollout success, first {WINDOW} updates {first:.3f}, last {WINDOW} {last:.3f}"
    )
    assert len(history) == 40 and after["episodes"] == 96
    assert after["success_rate"] - before["success_rate"] >= REQUIRED_HELD_OUT_GAIN, report
    assert last - first >= REQUIRED_ROLLOUT_GAIN, report
