"""``agents.ppo`` in a minute: the reference trainer from the committed warm start of the tiny student, on a tiny
budget (2 PPO updates of 32 episodes, held-out success on 32 validation tasks before and after), printing the
diagnostics every run prints: held-out success with its standard error, and per update whether the batch had
mixed outcomes, the credit each turn gets in successful and failed episodes, KL, entropy and tool calls.

Two updates are far too few to learn (the defaults, 40 updates of 256 episodes, take ~7 CPU-minutes); this
shows the loop and what it reports. The same run from a shell:

    python -m agents.ppo --total-updates 2 --episodes-per-update 32 --eval-episodes 32 --out runs/ppo-minute

    python examples/ppo_one_minute.py     # about 30 s on 2 CPUs, one torch thread (the trainer's default)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # agents/ ships with the clone, not with the installed package

from agents.ppo import main as ppo_main  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as output:
        history = ppo_main([
            "--total-updates", "2", "--episodes-per-update", "32", "--eval-episodes", "32",
            "--checkpoint-every", "0", "--no-progress-bar", "--out", output,
        ])  # fmt: skip
    last = history[-1]
    print(
        f"done: {len(history)} updates, {last['env_steps']} env steps, torch threads {last['torch_threads']}, "
        f"held-out success {last['eval']['success_rate']:.3f}"
    )


if __name__ == "__main__":
    main()
