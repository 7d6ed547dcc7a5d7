"""Throughput of the reference PPO agent: env steps/s, generated tokens/s, seconds per update.

    python -m benchmarks.agent_throughput --model tiny --updates 4 --episodes 32
    python -m benchmarks.agent_throughput --model smollm2-135m --updates 3   # on a GPU

Runs a few PPO updates (the first one, which warms caches up, is left out of
the means) and prints a table; ``--json`` writes the numbers with the machine
and package versions. Numbers only: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from agents.ppo import PPOConfig, PPOTrainer
from benchmarks.reporting import machine
from mentor_env.core.files import write_text_atomically


def measure(model: str, updates: int, episodes: int, advantage: str, init_from: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        config = PPOConfig(
            model=model,
            init_from=init_from,
            advantage=advantage,
            group_size=4 if advantage == "grpo" else 1,
            total_updates=updates,
            episodes_per_update=episodes,
            eval_every=0,
            eval_episodes=8,
            checkpoint_every=0,
            output_dir=str(Path(folder) / "run"),
        )
        history = PPOTrainer(config).train()
    measured = history[1:] or history
    return {
        "model": model,
        "advantage": advantage,
        "episodes_per_update": episodes,
        "updates_measured": len(measured),
        "env_steps_per_s": float(np.mean([row["env_steps_per_s"] for row in measured])),
        "generated_tokens_per_s": float(np.mean([row["generated_tokens_per_s"] for row in measured])),
        "seconds_per_update": float(np.mean([row["seconds"] for row in measured])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--init-from", default=None)
    parser.add_argument("--updates", type=int, default=4)
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--advantage", nargs="+", default=["gae", "grpo"])
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    rows = [measure(args.model, args.updates, args.episodes, advantage, args.init_from) for advantage in args.advantage]
    info = machine()
    print(f"{info['device']}, torch {info['torch']}, {info['cpus']} CPUs")
    print("| model | advantage | episodes/update | env steps/s | generated tokens/s | s/update |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['model']} | {row['advantage']} | {row['episodes_per_update']} | {row['env_steps_per_s']:.1f} | "
            f"{row['generated_tokens_per_s']:.0f} | {row['seconds_per_update']:.2f} |"
        )
    if args.json:
        write_text_atomically(args.json, json.dumps({"machine": info, "settings": vars(args) | {"json": str(args.json)}, "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
