r"""How a change of judge moves success: one policy's greedy answers, judged by this checkout and another.

    python -m benchmarks.judge_change --against DIR                  # DIR: a checkout with the other judges
    python -m benchmarks.judge_change --against DIR --episodes 100 --out benchmarks/results/judge_change-tiny.json

Plays the committed warm start (``agents/checkpoints/tiny-multi-sft``, the starting point of every arm of
``benchmarks.sparse_vs_dense``; ``--model`` another) greedily, as that benchmark evaluates (48 new tokens
per turn, at most 6 turns, one torch thread), on the first ``--episodes`` tasks of each set (``--sets``):
the ``test`` split of every domain and the ``ood-reasoning-gym`` split of Calc and Dates. Each episode's final ``\boxed{}`` answer
is judged by this checkout's judges (the env's verdict) and then, in a child process with ``DIR`` first
on the Python path, by the judges of the checkout at ``DIR`` (for example a ``git worktree`` of the commit
before a judge change). Greedy episodes do not depend on the judge, so the two verdicts are about the same
answers; the report counts, per set, the verdicts each judge gives and every answer whose verdict
changed. Writes JSON atomically to ``--out`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

WARM_START = Path("agents/checkpoints/tiny-multi-sft")
# (set name, env id, split): the test split of every domain, then the reasoning-gym splits.
SETS = (
    ("calc/test", "mentor/Calc-v0", "test"),
    ("units/test", "mentor/Units-v0", "test"),
    ("dates/test", "mentor/Dates-v0", "test"),
    ("lookup/test", "mentor/Lookup-v0", "test"),
    ("table/test", "mentor/Table-v0", "test"),
    ("calc/ood-reasoning-gym", "mentor/Calc-v0", "ood-reasoning-gym"),
    ("dates/ood-reasoning-gym", "mentor/Dates-v0", "ood-reasoning-gym"),
)
MAX_NEW_TOKENS = 48  # benchmarks.sparse_vs_dense's tiny profiles
MAX_TURNS = 6
CHILD_FLAG = "--verdicts"  # the command line of the child process that judges with another checkout


def play(
    model_path: Path, sets: Sequence[str], episodes: int, max_new_tokens: int, threads: int
) -> list[dict[str, Any]]:
    """Every set's greedy episodes: the task, the gold, the final answer, whether it ended, the env's verdict."""
    import gymnasium as gym
    import torch

    import mentor_env  # noqa: F401  (registers the ids)
    from agents.students import load_student
    from mentor_env.play.generation import GenerationSettings
    from mentor_env.play.lm import ChatLayout, ChatPolicy
    from mentor_env.play.rollouts import run_episodes

    torch.set_num_threads(threads)
    model, tokenizer = load_student(str(model_path))
    policy = ChatPolicy(
        model, ChatLayout(tokenizer), GenerationSettings(max_new_tokens=max_new_tokens, temperature=0.0)
    )
    records = []
    for name, env_id, split in SETS:
        if name not in sets:
            continue
        probe = gym.make(env_id, split=split)
        tasks = list(probe.unwrapped.tasks)[:episodes]
        probe.close()
        resets = [{"seed": i, "options": {"task_id": task.id}} for i, task in enumerate(tasks)]
        started = time.perf_counter()

        def make_env(env_id: str = env_id, tasks: list[Any] = tasks) -> Any:
            return gym.make(env_id, tasks=tasks, max_turns=MAX_TURNS)

        played = run_episodes(policy, make_env, resets, 32)
        print(f"{name}: {len(played)} episodes in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        records += [
            {
                "set": name,
                "domain": episode.task.domain,
                "task_id": episode.task.id,
                "gold": episode.task.answer,
                "answer": episode.final_answer,
                "ended": episode.terminated,
                "correct": episode.correct,
            }
            for episode in played
        ]
    return records


def verdicts(records: Sequence[dict[str, Any]]) -> list[bool]:
    """The verdicts of the importing checkout's judges on ``records`` (as the env gives them: an answer, ended)."""
    from mentor_env.domains import get_domain

    return [
        bool(
            record["answer"] is not None
            and record["ended"]
            and get_domain(record["domain"]).judge(record["answer"], record["gold"])
        )
        for record in records
    ]


def verdicts_of(checkout: Path, records: Sequence[dict[str, Any]]) -> list[bool]:
    """:func:`verdicts` in a child process that imports ``mentor_env`` from ``checkout``."""
    if not (checkout / "mentor_env" / "__init__.py").is_file():
        raise FileNotFoundError(f"--against must be a checkout of this project (with mentor_env/); got {checkout}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "records.json"
        path.write_text(json.dumps(list(records)), encoding="utf-8")
        environment = {**os.environ, "PYTHONPATH": str(checkout.resolve())}
        # Run as a file (not -m) from the other checkout, so that its mentor_env is the one imported.
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), CHILD_FLAG, str(path)],
            cwd=checkout, env=environment, capture_output=True, text=True, check=True,
        )  # fmt: skip
    return json.loads(done.stdout)


def compare(records: Sequence[dict[str, Any]], ours: Sequence[bool], theirs: Sequence[bool]) -> dict[str, Any]:
    """Per set: episodes, correct under each judge, and the answers whose verdict changed."""
    report: dict[str, Any] = {}
    for name in dict.fromkeys(record["set"] for record in records):
        rows = [(record, new, old) for record, new, old in zip(records, ours, theirs) if record["set"] == name]
        report[name] = {
            "episodes": len(rows),
            "correct_here": sum(new for _, new, _ in rows),
            "correct_against": sum(old for _, _, old in rows),
            "changed": [
                {
                    "task_id": record["task_id"],
                    "gold": record["gold"],
                    "answer": record["answer"],
                    "here": new,
                    "against": old,
                }
                for record, new, old in rows
                if new != old
            ],
        }
    return report


def format_table(report: dict[str, Any]) -> str:
    lines = [
        "| set | episodes | correct here | correct against | verdicts changed |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, row in report["sets"].items():
        lines.append(
            f"| {name} | {row['episodes']} | {row['correct_here']} | {row['correct_against']} | {len(row['changed'])} |"
        )
    return "\n".join(lines)


def print_verdicts(argv: Sequence[str]) -> None:
    """The child process's mode (``--verdicts RECORDS``): this checkout's verdicts on the records file, as JSON."""
    if len(argv) != 2:
        raise SystemExit(f"expected {CHILD_FLAG} RECORDS, got {' '.join(argv)}")
    print(json.dumps(verdicts(json.loads(Path(argv[1]).read_text(encoding="utf-8")))))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    argv = sys.argv[1:] if argv is None else list(argv)
    # Before the parser: the child runs with another checkout's packages first on the path, and the parser's
    # agents.config may be missing there or older.
    if argv[:1] == [CHILD_FLAG]:
        print_verdicts(argv)
        return {}
    from agents.config import retire_flags

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="a checkout whose judges give the other verdicts")
    parser.add_argument("--model", type=Path, default=WARM_START)
    parser.add_argument("--episodes", type=int, default=100, help="the first n tasks of each set")
    parser.add_argument(
        "--sets", nargs="+", default=[name for name, _, _ in SETS], choices=[name for name, _, _ in SETS]
    )
    parser.add_argument("--max-new-tokens", type=int, default=MAX_NEW_TOKENS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="write the results here")
    retire_flags(parser, ["--json"])
    args = parser.parse_args(argv)
    if args.against is None:
        parser.error("--against DIR is required: the checkout whose judges to compare with")
    from benchmarks.reporting import machine
    from mentor_env.core.files import write_text_atomically

    records = play(args.model, args.sets, args.episodes, args.max_new_tokens, args.threads)
    ours = verdicts(records)
    if ours != [record["correct"] for record in records]:
        raise RuntimeError("this checkout's judges disagree with the env's verdicts on the same answers")
    report = {
        "model": str(args.model),
        "episodes_per_set": args.episodes,
        "max_new_tokens": args.max_new_tokens,
        "max_turns": MAX_TURNS,
        "threads": args.threads,
        "machine": machine(),
        "sets": compare(records, ours, verdicts_of(args.against, records)),
    }
    if args.out is not None:
        write_text_atomically(args.out, json.dumps(report, indent=1) + "\n")
    print(format_table(report))
    return report


if __name__ == "__main__":
    main()
