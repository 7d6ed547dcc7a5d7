"""Two reference policies without a language model, and a run that compares them.

* :class:`mentor_env.play.teachers.ReplayPolicy` writes the teacher's turns (read
  from ``env.unwrapped.task``): the ceiling of every reward mode.
* :class:`RandomAgent` calls random tools on numbers taken from the question
  and answers a random one of the numbers it saw: the floor.

``python -m agents.baselines --episodes 200`` plays both over ``mentor/Calc-v0``
and prints success rate, tool calls and the mean episode return per reward mode.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
from typing import Any, Protocol, Sequence

import gymnasium as gym
import numpy as np

import mentor_env
from agents.config import retire_flags
from mentor_env.core.files import write_json_atomically
from mentor_env.core.parsing import format_tool_call
from mentor_env.core.rewards import REWARD_MODES
from mentor_env.play.rollouts import run_episodes
from mentor_env.play.teachers import ReplayPolicy

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class Agent(Protocol):
    def reset(self, env: gym.Env, observation: str, info: dict[str, Any]) -> None: ...

    def act(self, observation: str, info: dict[str, Any]) -> str: ...


class RandomAgent:
    """Random tool calls on the numbers in play, then a random number as the answer."""

    def __init__(self, seed: int, stop_probability: float = 0.3) -> None:
        self.rng = np.random.default_rng(seed)
        self.stop_probability = stop_probability

    def reset(self, env: gym.Env, observation: str, info: dict[str, Any]) -> None:
        self._numbers = [float(n) for n in _NUMBER.findall(info["messages"][-1]["content"])] or [1.0]

    def act(self, observation: str, info: dict[str, Any]) -> str:
        self._numbers += [float(n) for n in _NUMBER.findall(observation)]
        if self.rng.random() < self.stop_probability:
            return f"The answer is \\boxed{{{self.rng.choice(self._numbers):g}}}."
        spec = info["tools"][self.rng.integers(len(info["tools"]))]["function"]
        arguments: dict[str, Any] = {}
        for name, schema in spec["parameters"]["properties"].items():
            if schema.get("type") == "array":
                arguments[name] = [float(x) for x in self.rng.choice(self._numbers, size=3)]
            elif schema.get("type") == "integer":
                arguments[name] = int(self.rng.integers(0, 3))
            else:
                arguments[name] = float(self.rng.choice(self._numbers))
        return format_tool_call(spec["name"], arguments)


class _AgentSlots:
    """An :class:`Agent` (one episode at a time) as a slot policy of :func:`mentor_env.play.rollouts.run_episodes`."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def start(self, slot: int, env: gym.Env, observation: str, info: dict[str, Any]) -> None:
        self.agent.reset(env, observation, info)

    def act(self, slots: Sequence[int], observations: Sequence[str], infos: Sequence[dict[str, Any]]) -> list[str]:
        return [self.agent.act(observation, info) for observation, info in zip(observations, infos)]

    def observe(self, slot: int, action: str, observation: str, info: dict[str, Any], done: bool) -> None:
        pass

    def finish(self, slot: int) -> None:
        return None


def play(env: gym.Env, agent: Agent, episodes: int, seed: int) -> dict[str, Any]:
    """Run ``episodes`` episodes; returns success rate, mean calls and mean return per mode."""
    played = run_episodes(
        _AgentSlots(agent), [env], [{"seed": seed + episode} for episode in range(episodes)], batch_size=1
    )
    return {
        "episodes": episodes,
        "success_rate": float(np.mean([e.components["correct"] for e in played])),
        "mean_tool_calls": float(np.mean([e.components["tool_calls"] for e in played])),
        "mean_return": {mode: float(np.mean([e.returns[mode] for e in played])) for mode in REWARD_MODES},
    }


def format_table(results: dict[str, dict[str, Any]]) -> str:
    header = ["agent", "success", "calls"] + list(REWARD_MODES)
    rows = [header, ["---"] * len(header)]
    for name, result in results.items():
        rows.append(
            [name, f"{result['success_rate']:.3f}", f"{result['mean_tool_calls']:.2f}"]
            + [f"{result['mean_return'][mode]:.3f}" for mode in REWARD_MODES]
        )
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-id", default="mentor/Calc-v0", choices=sorted(mentor_env.ENV_IDS))
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the results to this JSON file (atomically)")
    retire_flags(parser, ["--json"])
    args = parser.parse_args(argv)

    env = gym.make(args.env_id)
    results = {
        "teacher replay": play(env, ReplayPolicy(), args.episodes, args.seed),
        "random": play(env, RandomAgent(args.seed), args.episodes, args.seed),
    }
    print(f"{args.env_id}, {args.episodes} episodes per agent, seeds {args.seed}..{args.seed + args.episodes - 1}")
    print(format_table(results))
    if args.out:
        machine = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
        write_json_atomically(
            args.out, {"env_id": args.env_id, "seed": args.seed, "machine": machine, "results": results}
        )
    return results


if __name__ == "__main__":
    main()
