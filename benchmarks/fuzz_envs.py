r"""A grammar fuzzer over every text env: what a hostile or broken model can write, step after step.

    python -m benchmarks.fuzz_envs                           # 20,000 steps per domain, a few minutes
    python -m benchmarks.fuzz_envs --steps 200 --out /tmp/fuzz.json   # a smoke run

Each action is drawn from a small grammar of what models write and break:
well-formed ``<tool_call>`` blocks naming real and invented tools with
arguments of every JSON type (huge and non-finite numbers, long and odd
strings, the domain's own words, SQL fragments, deep nesting); the same with
the structure broken (unclosed and stray tags, bad JSON, ``<think>`` around
calls, faked ``<tool_response>``, unclosed ``\boxed{``); answers in
``\boxed{}``; long text near the action limit; and now and then an object
that is not text at all (``None``, numbers, bytes, deep lists, a ``str``
subclass with broken methods).

Checked after every step, and counted (the env promises all of them):
``step`` never raises; the observation is in the observation space; the
reward is finite; ``info["turn"]`` counts the turns; the conversation only
grows; every error has a known category. Reported per domain: steps,
episodes, violations (with the first few), the error categories seen, and the
step time's median, 99th percentile and maximum (wall time on a shared
machine: a guide, not a bound). The Table domain's database is checked to be
unchanged at the end.

Writes JSON with the machine and the settings to ``--out``
(default ``benchmarks/results/fuzz_envs.json``).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np

import mentor_env  # noqa: F401  (registers the ids)
from agents.config import retire_flags
from benchmarks.reporting import machine, write_bytes_atomically
from mentor_env.core.tools import ERROR_CATEGORIES
from mentor_env.registration import DOMAIN_ENV_IDS

DEFAULT_JSON = Path("benchmarks/results/fuzz_envs.json")

WORDS = [
    "metre", "km", "inch", "Fahrenheit", "2024-02-29", "1999-12-31", "Monday", "Paris", "orders", "customers",
    "salary", "population", "capital", "", " ", "\x00", "\ud800", "é" * 40, "' OR 1=1 --", "NaN",
]  # fmt: skip
SQL = [
    "SELECT 1", "SELECT * FROM customers", "SELECT COUNT(*) FROM orders, orders", "DROP TABLE orders",
    "SELECT name FROM sqlite_master", "PRAGMA query_only=OFF", "ATTACH ':memory:' AS x", "SELECT 1; SELECT 2",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r) SELECT COUNT(*) FROM r",
    "SELECT randomblob(1000000)", "SELECT replace(hex(zeroblob(4000)),'0','a')", "SELECT printf('%.*c', 9, 'x')",
    "SELECT trim(hex(zeroblob(2000)), hex(zeroblob(2000)))", "SELECT load_extension('x')",
]  # fmt: skip
NUMBERS: list[Any] = [0, 1, -1, 2.5, 1e308, -1e308, 10**30, 10**70, 3.14159, 1e-320, 7, 12, 100]
NON_TEXT: list[Callable[[], Any]] = [
    lambda: None,
    lambda: 123,
    lambda: 4.5,
    lambda: b"<tool_call>",
    lambda: ["nested"] * 3,
    lambda: {"name": "add"},
]


class BrokenStr(str):
    """A ``str`` subclass whose own methods raise: the env must play its text without calling them."""

    def __len__(self) -> int:
        raise RuntimeError("len refused")

    def find(self, *args: Any) -> int:
        raise RuntimeError("find refused")


class Grammar:
    """Random actions for one domain, from a seed."""

    def __init__(self, tool_specs: Sequence[dict[str, Any]], seed: int) -> None:
        self.rng = random.Random(seed)
        self.tools = {spec["function"]["name"]: spec["function"]["parameters"] for spec in tool_specs}
        self.names = [*self.tools, "calculator", "search", "python", "", "add ", "a.b"]

    def value(self, depth: int = 0) -> Any:
        rng = self.rng
        kind = rng.randrange(8 if depth < 3 else 5)
        if kind == 0:
            return rng.choice(NUMBERS)
        if kind == 1:
            return rng.choice(WORDS)
        if kind == 2:
            return rng.choice(SQL)
        if kind == 3:
            return rng.choice([None, True, False, "x" * rng.choice([1, 100, 5_000, 20_000])])
        if kind == 4:
            return rng.randint(-1000, 1000)
        if kind == 5:
            return [self.value(depth + 1) for _ in range(rng.randrange(5))]
        if kind == 6:
            return {
                rng.choice(["a", "b", "x", "sql", "numbers", ""]): self.value(depth + 1)
                for _ in range(rng.randrange(4))
            }
        return [[[[[[[[[[1]]]]]]]]]] * rng.randrange(1, 3)

    def arguments(self, name: str) -> Any:
        properties = list(self.tools.get(name, {}).get("properties", {}))
        if self.rng.random() < 0.1:
            return self.value()
        keys = properties + ["bogus"] if self.rng.random() < 0.2 else properties
        return {key: self.value() for key in keys if self.rng.random() < 0.9}

    def call(self) -> str:
        name = self.rng.choice(self.names)
        try:
            body = json.dumps({"name": name, "arguments": self.arguments(name)}, allow_nan=True)
        except (TypeError, ValueError):
            body = '{"name": "' + name + '", "arguments": {}}'
        return f"<tool_call>{body}</tool_call>"

    def broken(self) -> str:
        rng = self.rng
        pieces = [
            "<tool_call>", "</tool_call>", "<think>", "</think>", "<tool_response>", "\\boxed{", "}", "{",
            '{"name": ', '"arguments": {', ",,", "NaN", "Infinity", "\x00", "\n", self.call(),
        ]  # fmt: skip
        return "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30)))

    def action(self) -> Any:
        rng = self.rng
        roll = rng.random()
        if roll < 0.45:
            return "".join(self.call() for _ in range(rng.choice([1, 1, 1, 2, 3, 20])))
        if roll < 0.75:
            return self.broken()
        if roll < 0.88:
            return f"The answer is \\boxed{{{rng.choice([*map(str, NUMBERS), *WORDS])}}}."
        if roll < 0.92:
            return rng.choice(["<tool_call>", "\\boxed{", "{", "a"]) * rng.choice([1_000, 10_000, 60_000])
        if roll < 0.96:
            return BrokenStr(self.call())
        return rng.choice(NON_TEXT)()


def step_problems(
    env: gym.Env, obs: Any, reward: float, info: dict[str, Any], turn: int, messages: int, categories: dict[str, int]
) -> list[str]:
    """What is wrong with one step's output (empty: nothing); counts its error categories into ``categories``."""
    problems = []
    if not env.observation_space.contains(obs):
        problems.append("observation outside the space")
    if not math.isfinite(reward):
        problems.append(f"reward {reward}")
    if info["turn"] != turn:
        problems.append(f"info['turn'] {info['turn']}, expected {turn}")
    if len(info["messages"]) < messages:
        problems.append("the conversation shrank")
    for error in info["errors"]:
        category = error.split(":", 1)[0]
        categories[category] = categories.get(category, 0) + 1
        if category not in ERROR_CATEGORIES:
            problems.append(f"unknown error category in {error[:80]!r}")
    return problems


def fuzz_domain(env_id: str, steps: int, seed: int, max_turns: int) -> dict[str, Any]:
    """Play ``steps`` fuzzed steps on ``env_id``; returns the counts and times."""
    env = gym.make(env_id, max_turns=max_turns)
    grammar = Grammar(env.unwrapped.runtime.specs, seed)
    violations: list[str] = []
    categories: dict[str, int] = {}
    durations = np.zeros(steps)
    episodes, turn, messages = 0, 0, 0

    def violate(text: str) -> None:
        if len(violations) < 2_000:
            violations.append(text)

    env.reset(seed=seed)
    for index in range(steps):
        action = grammar.action()
        started = time.perf_counter()
        try:
            obs, reward, terminated, truncated, info = env.step(action)
        except Exception:
            durations[index] = time.perf_counter() - started
            violate(f"step {index} raised: {traceback.format_exc(limit=3)}")
            env.reset(seed=seed + index)
            episodes, turn, messages = episodes + 1, 0, 0
            continue
        durations[index] = time.perf_counter() - started
        turn += 1
        for problem in step_problems(env, obs, reward, info, turn, messages, categories):
            violate(f"step {index}: {problem}")
        messages = len(info["messages"])
        if terminated or truncated:
            env.reset(seed=seed + index + 1)
            episodes, turn, messages = episodes + 1, 0, 0
    env.close()
    return {
        "env_id": env_id,
        "steps": steps,
        "episodes": episodes,
        "violations": len(violations),
        "first_violations": violations[:5],
        "error_categories": dict(sorted(categories.items())),
        "step_ms": {
            "median": round(float(np.median(durations)) * 1e3, 3),
            "p99": round(float(np.percentile(durations, 99)) * 1e3, 3),
            "max": round(float(durations.max()) * 1e3, 3),
        },
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=20_000, help="fuzzed steps per domain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-turns", type=int, default=8)
    parser.add_argument("--domains", nargs="+", default=list(DOMAIN_ENV_IDS), choices=list(DOMAIN_ENV_IDS))
    parser.add_argument("--out", type=Path, default=DEFAULT_JSON, help="write the results here")
    retire_flags(parser, ["--json"])
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    results = []
    for domain in args.domains:
        result = fuzz_domain(DOMAIN_ENV_IDS[domain], args.steps, args.seed, args.max_turns)
        results.append(result)
        times = result["step_ms"]
        print(
            f"{result['env_id']:<18} {result['steps']:>8,} steps {result['episodes']:>7,} episodes "
            f"{result['violations']:>3} violations  step ms median {times['median']} p99 {times['p99']} max {times['max']}",
            flush=True,
        )
    report: dict[str, Any] = {
        "settings": vars(args) | {"out": str(args.out)},
        "machine": machine(),
        "domains": results,
    }
    if "table" in args.domains:
        from mentor_env.domains.table.db import database

        report["table_database_unchanged"] = database().unchanged
    write_bytes_atomically(args.out, (json.dumps(report, indent=2) + "\n").encode())
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
