r"""The out-of-domain sets others wrote: a gold policy (the ceiling), a random one and the tiny warm start.

    python -m benchmarks.external_sets                 # a sample of each set (a few minutes on 2 CPUs)
    python -m benchmarks.external_sets --bfcl-n 40 --rg-n 120

Sets: every category of ``mentor/BFCL-v0`` (the first ``--bfcl-n`` tasks of
each, in BFCL's order) and the ``ood-reasoning-gym`` split of Calc and Dates
(the first ``--rg-n`` tasks, which interleave the datasets). Policies:

* ``gold``: writes the teacher's turns (BFCL: the gold calls) or, for a task
  without a teacher (reasoning-gym), answers ``\boxed{<gold answer>}``;
* ``random``: per turn, stops with probability 0.3 (writing a number of the
  question in ``\boxed{}``), else calls a random tool of the task with
  arguments drawn from its schema and the question's words and numbers;
* ``tiny``: the committed SFT warm start (``agents/checkpoints/tiny-calc-sft``),
  greedy, 64 new tokens per turn, one CPU thread (``torch.set_num_threads(1)``).

Every episode has at most ``--max-turns`` turns (6, as the warm start was
trained). Metrics are :func:`mentor_env.play.evaluation.summarize`'s; tool-matching
metrics are ``None`` for the teacher-less reasoning-gym sets. Writes JSON
atomically to ``--out`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym

import mentor_env  # noqa: F401  (registers the ids)
from agents.config import retire_flags
from benchmarks.reporting import machine
from mentor_env.core.messages import Message, render_assistant_text
from mentor_env.core.parsing import format_tool_call
from mentor_env.core.splits import write_text_atomically
from mentor_env.core.task import Task
from mentor_env.external.bfcl import CATEGORIES
from mentor_env.external.reasoning_gym import SPLIT as RG_SPLIT
from mentor_env.play.evaluation import evaluate

DEFAULT_JSON = Path("benchmarks/results/external_sets-tiny.json")
WARM_START = Path("agents/checkpoints/tiny-calc-sft")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")


def sets(bfcl_n: int, rg_n: int) -> list[dict[str, Any]]:
    """The evaluation sets: a name, the env id, its keyword arguments and the sample size."""
    chosen = [
        {"name": f"bfcl/{category}", "env_id": "mentor/BFCL-v0", "split": category, "n": min(bfcl_n, count)}
        for category, count in CATEGORIES.items()
    ]
    chosen += [
        {"name": f"calc/{RG_SPLIT}", "env_id": "mentor/Calc-v0", "split": RG_SPLIT, "n": rg_n},
        {"name": f"dates/{RG_SPLIT}", "env_id": "mentor/Dates-v0", "split": RG_SPLIT, "n": rg_n},
    ]
    return chosen


def _key(messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> tuple[str, tuple[str, ...]]:
    question = next(message["content"] for message in messages if message["role"] == "user")
    return question, tuple(spec["function"]["name"] for spec in tools)


class GoldPolicy:
    """The teacher's turns, or the gold answer in ``\\boxed{}`` for a task without a teacher."""

    def __init__(self, tasks: Sequence[Task], tools_of: dict[str, list[dict[str, Any]]]) -> None:
        self.tasks = {
            (task.question, tuple(spec["function"]["name"] for spec in tools_of[task.id])): task for task in tasks
        }

    def __call__(self, messages: list[Message], tools: list[dict[str, Any]]) -> str:
        task = self.tasks[_key(messages, tools)]
        turns = [render_assistant_text(m) for m in task.teacher.messages if m["role"] == "assistant"]
        if not turns:
            return f"The answer is \\boxed{{{task.answer}}}."
        played = sum(1 for message in messages if message["role"] == "assistant")
        return turns[played] if played < len(turns) else "Done."


class RandomPolicy:
    """Random calls with schema-shaped arguments from the question's words and numbers (module doc)."""

    def __init__(self, seed: int, stop_probability: float = 0.3) -> None:
        self.rng = random.Random(seed)
        self.stop_probability = stop_probability

    def __call__(self, messages: list[Message], tools: list[dict[str, Any]]) -> str:
        text = " ".join(
            str(message.get("content") or "") for message in messages if message["role"] in ("user", "tool")
        )
        numbers = _NUMBER.findall(text) or ["1"]
        words = _WORD.findall(text) or ["x"]
        if not tools or self.rng.random() < self.stop_probability:
            return f"The answer is \\boxed{{{self.rng.choice(numbers)}}}."
        spec = self.rng.choice(tools)["function"]
        parameters = spec["parameters"]
        required = set(parameters.get("required", ()))
        arguments = {
            name: self._value(schema, numbers, words)
            for name, schema in parameters.get("properties", {}).items()
            if name in required or self.rng.random() < 0.5
        }
        return format_tool_call(spec["name"], arguments)

    def _value(self, schema: dict[str, Any], numbers: list[str], words: list[str]) -> Any:
        kind = schema.get("type")
        if kind == "integer":
            return int(float(self.rng.choice(numbers)))
        if kind == "number":
            return float(self.rng.choice(numbers))
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "array":
            return [self._value(schema.get("items", {"type": "number"}), numbers, words)]
        if kind == "object":
            return {}
        if schema.get("pattern") == r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$":
            return f"{self.rng.randint(1900, 2100)}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}"
        return self.rng.choice(words)


def _tasks_and_tools(entry: dict[str, Any]) -> tuple[list[Task], dict[str, list[dict[str, Any]]]]:
    env = gym.make(entry["env_id"], split=entry["split"])
    tasks = list(env.unwrapped.tasks[: entry["n"]])
    tools_of = {}
    for task in tasks:
        _, info = env.reset(options={"task_id": task.id})
        tools_of[task.id] = info["tools"]
    env.close()
    return tasks, tools_of


def tiny_policy() -> Any:
    """The committed warm start as a greedy batched policy on one CPU thread."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mentor_env.play.lm import HFChatPolicy

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(WARM_START)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(WARM_START)
    return HFChatPolicy(model, tokenizer, max_new_tokens=64, temperature=0.0, stop_at_tool_call=False)


def make_policy(
    name: str, tasks: Sequence[Task], tools_of: dict[str, list[dict[str, Any]]], seed: int, tiny: Any
) -> Any:
    """The policy ``name`` (``gold``, ``random`` or ``tiny``) for one set's tasks; the caller builds ``tiny`` once."""
    if name == "gold":
        return GoldPolicy(tasks, tools_of)
    if name == "random":
        return RandomPolicy(seed)
    if name == "tiny":
        return tiny
    raise KeyError(name)


def run(bfcl_n: int, rg_n: int, max_turns: int, policies: Sequence[str], seed: int = 0) -> dict[str, Any]:
    chosen = sets(bfcl_n, rg_n)
    results: dict[str, dict[str, Any]] = {name: {} for name in policies}
    seconds: dict[str, float] = {}
    tiny = tiny_policy() if "tiny" in policies else None
    for entry in chosen:
        tasks, tools_of = _tasks_and_tools(entry)
        for name in policies:
            policy = make_policy(name, tasks, tools_of, seed, tiny)
            started = time.perf_counter()
            metrics = evaluate(
                policy,
                [entry["env_id"]],
                n=entry["n"],
                seed=seed,
                split=entry["split"],
                batch_size=16,
                env_kwargs={"max_turns": max_turns},
                verbose=False,
            )[entry["env_id"]]
            seconds[f"{name}/{entry['name']}"] = round(time.perf_counter() - started, 2)
            results[name][entry["name"]] = metrics
            print(f"{name:>6} {entry['name']:<32} n={entry['n']:<4} success {metrics['success_rate']:.3f}", flush=True)
    import sys

    return {
        "settings": {
            "bfcl_n": bfcl_n,
            "rg_n": rg_n,
            "max_turns": max_turns,
            "seed": seed,
            "sample": "the first n tasks of each set (BFCL: in BFCL's order; reasoning-gym: datasets interleaved)",
            "tiny": {"checkpoint": str(WARM_START), "greedy": True, "max_new_tokens": 64, "torch_threads": 1}
            if "tiny" in policies
            else None,
        },
        "sets": [{k: entry[k] for k in ("name", "env_id", "split", "n")} for entry in chosen],
        "machine": {**machine(), "external": _external_versions()},
        "seconds": seconds,
        "results": results,
        "argv": sys.argv[1:],
    }


def _external_versions() -> dict[str, str]:
    from mentor_env.external.bfcl import bfcl_version
    from mentor_env.external.reasoning_gym import reasoning_gym_version

    return {"bfcl-eval": bfcl_version(), "reasoning-gym": reasoning_gym_version()}


def format_table(report: dict[str, Any]) -> str:
    """Success per set (rows) and policy (columns), with the sample size."""
    policies = list(report["results"])
    header = ["set", "n"] + policies
    rows = [header, ["---"] * len(header)]
    for entry in report["sets"]:
        rows.append(
            [entry["name"], str(entry["n"])]
            + [f"{report['results'][policy][entry['name']]['success_rate']:.3f}" for policy in policies]
        )
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bfcl-n", type=int, default=20, help="tasks per BFCL category (the first n)")
    parser.add_argument("--rg-n", type=int, default=60, help="tasks per reasoning-gym split (the first n)")
    parser.add_argument("--max-turns", type=int, default=6)
    parser.add_argument("--policies", nargs="+", default=["gold", "random", "tiny"], choices=["gold", "random", "tiny"])
    parser.add_argument("--out", type=Path, default=DEFAULT_JSON, help="write the results here")
    retire_flags(parser, ["--json"])
    args = parser.parse_args(argv)
    report = run(args.bfcl_n, args.rg_n, args.max_turns, args.policies)
    write_text_atomically(args.out, json.dumps(report, indent=1, sort_keys=False) + "\n")
    print(format_table(report))
    return report


if __name__ == "__main__":
    main()
