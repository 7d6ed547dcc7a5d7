"""Does PPO learn? The learning test's run over several seeds, to measure its gain and its noise.

    python -m benchmarks.ppo_learning --seeds 0 1 2          # about 5 minutes per seed on 2 CPUs
    python -m benchmarks.ppo_learning --seeds 0 1 2 3 --keep # run seed 3 only, keep 0-2 from --out
    python -m benchmarks.ppo_learning --reward-mode sparse   # the same budget with another reward

From the committed SFT warm start of the tiny student (``agents.sft.WARM_START``),
PPO with ``agents.ppo.TINY_WARM_START_SETTINGS`` for 30 updates of 64 episodes
on Calc level-1 ``train`` tasks; greedy success on all 109 level-1 Calc
``test`` tasks before and after. ``tests/agents/test_learning.py`` runs seed 0 of the
same configuration (:func:`learning_config`) and asserts a margin this
benchmark measured. Prints a table and writes JSON (atomically) to ``--out``.
One torch thread unless ``--threads`` says otherwise (recorded in the JSON).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from agents.config import retire_flags
from agents.ppo import TINY_WARM_START_SETTINGS, PPOConfig, PPOTrainer
from agents.sft import WARM_START
from benchmarks.reporting import machine
from mentor_env.core.files import write_text_atomically

LEVEL_1_TEST_TASKS = 109
UPDATES = 30
DEFAULT_JSON = Path("benchmarks/results/ppo_learning-tiny.json")


def learning_config(
    seed: int, out: str | Path, reward_mode: str = "dense", updates: int = UPDATES, threads: int = 1
) -> PPOConfig:
    """The learning test's PPO run: the warm start, Calc level 1, greedy evaluation on every level-1 test task."""
    return PPOConfig(
        model=str(WARM_START),
        reward_mode=reward_mode,
        seed=seed,
        total_updates=updates,
        eval_every=0,
        eval_episodes=LEVEL_1_TEST_TASKS,
        checkpoint_every=0,
        out=str(out),
        threads=threads,
        **TINY_WARM_START_SETTINGS,
    )


def measure(seed: int, reward_mode: str, updates: int, threads: int = 1) -> dict[str, Any]:
    """One run: held-out success before and after, and the training curve."""
    with tempfile.TemporaryDirectory() as folder:
        trainer = PPOTrainer(learning_config(seed, folder, reward_mode, updates, threads))
        started = time.perf_counter()
        before = trainer.evaluate(0)
        history = trainer.train()
    after = history[-1]["eval"]
    return {
        "seed": seed,
        "before": before["success_rate"],
        "after": after["success_rate"],
        "gain": after["success_rate"] - before["success_rate"],
        "tool_set_match": [before["tool_set_match_rate"], after["tool_set_match_rate"]],
        "rollout_success": [row["success_rate"] for row in history],
        "kl_to_reference": [row["kl_to_reference"] for row in history],
        "minutes": (time.perf_counter() - started) / 60,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--reward-mode", default="dense")
    parser.add_argument("--updates", type=int, default=UPDATES)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: torch's default, one per "
        "core, ran PPO 21x slower on a busy 2-core machine)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_JSON, help="write the results here")
    parser.add_argument(
        "--keep", action="store_true", help="keep the runs already in --out (same settings), run only the other seeds"
    )
    retire_flags(parser, ["--json"])
    args = parser.parse_args(argv)
    settings = {"reward_mode": args.reward_mode, "updates": args.updates, **TINY_WARM_START_SETTINGS}
    done: dict[int, dict[str, Any]] = {}
    if args.keep and args.out.exists():
        previous = json.loads(args.out.read_text())
        if previous["settings"] != settings:
            parser.error(f"--keep: {args.out} holds runs with other settings: {previous['settings']}")
        done = {run["seed"]: run for run in previous["runs"]}
    runs = [
        done[seed] if seed in done else measure(seed, args.reward_mode, args.updates, args.threads)
        for seed in args.seeds
    ]
    after = [run["after"] for run in runs]
    report = {
        "machine": machine(),
        "threads": args.threads,
        "settings": settings,
        "runs": runs,
        "mean_gain": float(np.mean([run["gain"] for run in runs])),
        "min_gain": float(min(run["gain"] for run in runs)),
        "after_std": float(np.std(after, ddof=1)) if len(after) > 1 else 0.0,
    }
    print("| seed | before | after | gain |\n|---|---|---|---|")
    for run in runs:
        print(f"| {run['seed']} | {run['before']:.3f} | {run['after']:.3f} | {run['gain']:+.3f} |")
    print(
        f"mean gain {report['mean_gain']:+.3f}, smallest {report['min_gain']:+.3f}, std of final success {report['after_std']:.3f}"
    )
    write_text_atomically(args.out, json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
