r"""How much learning signal each candidate RL setting gives a warm start, measured before any run.

    python -m benchmarks.task_signal --model DIR --candidates calc:1 calc:2 calc:3 calc:1-2
    python -m benchmarks.task_signal --model DIR --out benchmarks/results/task_signal-tiny.json

RL learns from the differences between rollouts of the same task. For each candidate (a domain and its
difficulty levels) the warm start plays ``--samples`` episodes of each of the first ``--tasks`` training
tasks of those levels, sampled at ``--temperature`` as the reference agent's rollouts are, and the report
gives, per candidate:

- ``sampled_success``: the share of episodes judged correct (what sparse RL sees on average);
- ``pass_at_k``: the share of tasks with at least one correct episode of the ``k = --samples``;
- ``greedy_success``: one greedy episode per task (what the evaluations measure);
- ``mixed_success``: the share of tasks with some episodes right and some wrong;
- ``mixed_groups``: per reward mode, the share of tasks whose ``k`` episodes did not all get the same
  return. A GRPO group whose returns are all equal has zero advantage everywhere: it teaches nothing.
  Under ``sparse`` a group is mixed only when some episodes are right and some wrong; the
  teacher-guided modes also separate episodes by the tools they called.

Tasks come from the ``train`` split, the first ones after ``--offset`` (the committed warm start
``tiny-multi-sft`` was fine-tuned on the first 700 of each Calc level: ``--offset 700`` measures tasks it
has not seen). The validation carve of ``agents.ppo`` is taken from the end of the training tasks, and
``test`` and ``ood`` are never read. Writes JSON atomically to ``--out``
and prints a Markdown table. One torch thread unless ``--threads`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from agents.config import retire_flags
from benchmarks.reporting import machine
from mentor_env.core.files import write_text_atomically

MODES = ("sparse", "mentor", "dense")
DEFAULT_CANDIDATES = ("calc:1", "calc:2", "calc:3", "calc:4", "calc:5")


@dataclass(frozen=True)
class Candidate:
    """A domain and difficulty levels RL could train on."""

    domain: str
    levels: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"{self.domain}:{'-'.join(map(str, self.levels))}"

    @property
    def env_id(self) -> str:
        return f"mentor/{self.domain.capitalize()}-v0"


def parse_candidate(text: str) -> Candidate:
    """``"calc:3"`` or ``"calc:1-2"`` (levels 1 to 2) into a :class:`Candidate`."""
    domain, _, levels = text.partition(":")
    if not domain or not levels:
        raise argparse.ArgumentTypeError(
            f"a candidate is DOMAIN:LEVEL or DOMAIN:FIRST-LAST, e.g. calc:3 or calc:1-2; got {text!r}"
        )
    first, _, last = levels.partition("-")
    if not first.isdigit() or (last and not last.isdigit()):
        raise argparse.ArgumentTypeError(f"levels must be whole numbers, e.g. calc:3 or calc:1-2; got {text!r}")
    low, high = int(first), int(last or first)
    if high < low:
        raise argparse.ArgumentTypeError(f"the last level comes after the first, e.g. calc:1-2; got {text!r}")
    return Candidate(domain, tuple(range(low, high + 1)))


def _count(minimum: int) -> Any:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        if not text.strip().lstrip("-").isdigit() or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return int(text)

    return parse


def group_statistics(returns: Sequence[Sequence[float]], correct: Sequence[Sequence[bool]]) -> dict[str, float]:
    """Per task a list of episode returns and verdicts: sampled success, pass@k and the share of mixed groups."""
    if not returns or any(len(group) == 0 for group in returns):
        raise ValueError("every task needs at least one episode")
    episodes = sum(len(group) for group in correct)
    return {
        "sampled_success": sum(sum(group) for group in correct) / episodes,
        "pass_at_k": sum(any(group) for group in correct) / len(correct),
        "mixed_success": sum(len(set(group)) > 1 for group in correct) / len(correct),
        "mixed_groups": sum(len(set(group)) > 1 for group in returns) / len(returns),
    }


def measure(
    policy: Any, greedy: Any, candidate: Candidate, tasks: int, samples: int, max_turns: int, offset: int = 0
) -> dict[str, Any]:
    """The candidate's statistics: ``samples`` sampled episodes and one greedy episode per task (the ``tasks``
    training tasks of its levels after the first ``offset``)."""
    import gymnasium as gym

    from mentor_env.play.rollouts import run_episodes

    env = gym.make(candidate.env_id, split="train")
    pool = [t for t in env.unwrapped.tasks if t.meta.get("difficulty") in candidate.levels][offset : offset + tasks]
    env.close()
    if len(pool) < tasks:
        raise ValueError(
            f"{candidate.name} has {len(pool)} train tasks after the first {offset}; --tasks asks for {tasks}"
        )

    def make_env() -> gym.Env:
        return gym.make(candidate.env_id, tasks=pool, max_turns=max_turns)

    resets = [
        {"seed": i * samples + j, "options": {"task_id": t.id}} for i, t in enumerate(pool) for j in range(samples)
    ]
    episodes = run_episodes(policy, make_env, resets, 32)
    greedy_episodes = run_episodes(
        greedy, make_env, [{"seed": i, "options": {"task_id": t.id}} for i, t in enumerate(pool)], 32
    )
    grouped = [episodes[i * samples : (i + 1) * samples] for i in range(len(pool))]
    correct = [[e.correct for e in group] for group in grouped]
    result: dict[str, Any] = {"candidate": candidate.name, "tasks": len(pool), "offset": offset, "samples": samples}
    for mode in MODES:
        stats = group_statistics([[round(e.returns[mode], 6) for e in group] for group in grouped], correct)
        result.setdefault("sampled_success", stats["sampled_success"])
        result.setdefault("pass_at_k", stats["pass_at_k"])
        result.setdefault("mixed_success", stats["mixed_success"])
        result.setdefault("mixed_groups", {})[mode] = stats["mixed_groups"]
    result["greedy_success"] = sum(e.correct for e in greedy_episodes) / len(greedy_episodes)
    result["tool_calls_per_episode"] = sum(e.tool_calls for e in episodes) / len(episodes)
    return result


def markdown(results: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| candidate | tasks x samples | greedy | sampled | pass@k | right and wrong | mixed: sparse | mixed: mentor | mixed: dense |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        mixed = r["mixed_groups"]
        lines.append(
            f"| {r['candidate']} | {r['tasks']} x {r['samples']} | {r['greedy_success']:.3f} | {r['sampled_success']:.3f} | "
            f"{r['pass_at_k']:.3f} | {r['mixed_success']:.2f} | {mixed['sparse']:.2f} | {mixed['mentor']:.2f} | {mixed['dense']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="the warm start: a local model directory")
    parser.add_argument("--candidates", nargs="+", type=parse_candidate, default=[parse_candidate(c) for c in DEFAULT_CANDIDATES],
                        help="DOMAIN:LEVEL or DOMAIN:FIRST-LAST (default: %(default)s)")  # fmt: skip
    parser.add_argument(
        "--tasks", type=_count(1), default=48, help="training tasks per candidate (default: %(default)s)"
    )
    parser.add_argument("--offset", type=_count(0), default=0,
                        help="skip this many tasks of each candidate, e.g. those the warm start was fine-tuned on (default: %(default)s)")  # fmt: skip
    parser.add_argument(
        "--samples", type=_count(1), default=8, help="sampled episodes per task: the k of pass@k (default: %(default)s)"
    )
    parser.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (default: %(default)s)")
    parser.add_argument("--max-new-tokens", type=_count(1), default=48, help="tokens per turn (default: %(default)s)")
    parser.add_argument("--max-turns", type=_count(1), default=6, help="turns per episode (default: %(default)s)")
    parser.add_argument("--threads", type=_count(1), default=1, help="torch threads (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="torch seed of the sampling (default: %(default)s)")
    parser.add_argument("--out", type=Path, help="write the results here")
    retire_flags(parser, ["--json"])
    args = parser.parse_args(argv)

    import torch

    import mentor_env  # noqa: F401  (registers the ids)
    from agents.students import load_student
    from mentor_env.play.generation import GenerationSettings
    from mentor_env.play.lm import ChatLayout, ChatPolicy

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model, tokenizer = load_student(args.model)
    layout = ChatLayout(tokenizer)
    sampled = ChatPolicy(
        model, layout, GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=args.temperature)
    )
    greedy = ChatPolicy(model, layout, GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=0.0))
    started = time.perf_counter()
    results = []
    for candidate in args.candidates:
        results.append(measure(sampled, greedy, candidate, args.tasks, args.samples, args.max_turns, args.offset))
        print(
            f"{candidate.name}: sampled {results[-1]['sampled_success']:.3f}, mixed groups {results[-1]['mixed_groups']}",
            flush=True,
        )
    print(markdown(results))
    if args.out:
        report = {
            "benchmark": "task_signal",
            "model": args.model,
            "settings": {key: value for key, value in vars(args).items() if key not in ("out", "candidates", "model")},
            "machine": machine(),
            "threads": torch.get_num_threads(),
            "seconds": time.perf_counter() - started,
            "results": results,
        }
        write_text_atomically(args.out, json.dumps(report, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
