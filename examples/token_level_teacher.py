"""A teacher model's guidance, token by token: ``agents.ppo`` with ``--reward-mode mentor+opd`` from the committed
warm start of the tiny student, scored by the committed teacher (``agents/checkpoints/tiny-calc-teacher``, the same
tokenizer, after a longer SFT). Each sampled token's advantage gets the teacher's log-probability of it minus the
student's, on top of MENTOR's reward; every update prints the mean per-token teacher reward and its share of the
return (2 PPO updates of 32 episodes: far too few to learn, enough to see the signal). The same run from a shell:

    python -m agents.ppo --reward-mode mentor+opd --teacher-model agents/checkpoints/tiny-calc-teacher \\
        --total-updates 2 --episodes-per-update 32 --eval-episodes 32 --out runs/opd-minute

    python examples/token_level_teacher.py     # about 10 s on 2 CPUs, one torch thread (the trainer's default)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # agents/ ships with the clone, not with the installed package

from agents.ppo import TINY_TEACHER  # noqa: E402
from agents.ppo import main as ppo_main  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as output:
        history = ppo_main([
            "--reward-mode", "mentor+opd", "--teacher-model", str(TINY_TEACHER),
            "--total-updates", "2", "--episodes-per-update", "32", "--eval-episodes", "32",
            "--checkpoint-every", "0", "--no-progress-bar", "--out", output,
        ])  # fmt: skip
    for row in history:
        teacher = row["teacher"]
        print(
            f"update {row['update']}: teacher reward per token {teacher['token_reward']:+.3f} nats, "
            f"{teacher['share_of_return']:.0%} of the return, teacher's pass {row['time']['teacher']:.2f} s "
            f"of {row['seconds']:.2f} s, torch threads {row['torch_threads']}"
        )


if __name__ == "__main__":
    main()
