r"""SmolLM2-135M zero-shot against its SFT warm start: greedy success on every domain's test split and on BFCL.

    make smollm2 && make warm-start-smollm2                  # the weights, then the warm start (about 15 minutes)
    python -m benchmarks.smollm2_warm_start                  # both models (see docs/benchmarks/smollm2.md)
    python -m benchmarks.smollm2_warm_start --models smollm2-135m --episodes 8 --out runs/smollm2

Each model plays the first ``--episodes`` tasks of the ``test`` split of every
RL domain (Calc, Units, Dates, Lookup, Table; every level, in the split's
order) and of ``mentor/BFCL-v0`` (its categories taken in turn, as the main
job's ``bfcl`` column: :func:`benchmarks.sparse_vs_dense.column_tasks`),
greedily, through the suite's LM policy (:class:`mentor_env.play.lm.ChatPolicy`,
prefix-cache backend) with at most ``--max-turns`` turns of
``--max-new-tokens`` tokens. Metrics are
:func:`mentor_env.play.evaluation.summarize`'s, with the mean prompt and
generated tokens and the seconds each column took. Writes ``results.json``
and ``summary.md`` (the table, the machine and the thread count) into ``--out``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from agents.config import parse_declared
from agents.sft import SMOLLM2_WARM_START, smollm2_warm_start_path
from agents.students import require_student
from benchmarks.reporting import machine
from benchmarks.sparse_vs_dense import EXTERNAL_BFCL, Column, column_tasks, repo_path
from mentor_env.core.files import lock_folder, write_text_atomically
from mentor_env.domains import DOMAINS

DEFAULT_OUT = Path("benchmarks/results/smollm2_warm_start")
# What the summary reports of each model on each column, with the digits it shows.
TABLE_METRICS = (("success_rate", 3), ("mean_tool_calls", 2), ("format_error_rate", 3))


@dataclass
class Settings:
    """What one run evaluates; each field's help is its metadata."""

    models: list[str] = field(
        default_factory=lambda: ["smollm2-135m", str(SMOLLM2_WARM_START)],
        metadata={"help": "models to evaluate, in table order: 'smollm2-135m' (zero-shot) or a model directory"},
    )
    episodes: int = field(default=32, metadata={"help": "the first n tasks of each column"})
    max_turns: int = field(default=6, metadata={"help": "turns per episode (the main job's columns play 6)"})
    max_new_tokens: int = field(default=160, metadata={"help": "token budget of one assistant turn"})
    batch_size: int = field(default=32, metadata={"help": "episodes played at once"})
    threads: int = field(default=1, metadata={"help": "torch CPU threads (recorded with the result)"})
    out: str = field(default=str(DEFAULT_OUT), metadata={"help": "folder of results.json and summary.md"})

    def __post_init__(self) -> None:
        for name in ("episodes", "max_turns", "max_new_tokens", "batch_size", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not self.models:
            raise ValueError("models must name at least one model")


def benchmark_columns(episodes: int) -> list[Column]:
    """The ``test`` split of every RL domain, then BFCL's categories interleaved: ``episodes`` tasks each."""
    tests = [Column(f"{name}/test", "RL domain", entry.env_id, "test", episodes) for name, entry in DOMAINS.items()]
    return [*tests, Column("bfcl", "external", "mentor/BFCL-v0", EXTERNAL_BFCL, episodes)]


def prompt_length(trace: Any) -> int:
    """The tokens before the first sampled one: the prompt the episode started from."""
    return trace.action_mask.index(True) if True in trace.action_mask else len(trace.action_mask)


def evaluate_model(model: Any, tokenizer: Any, settings: Settings, columns: Sequence[Column]) -> dict[str, Any]:
    """Greedy episodes of ``model`` on each column: summarize's metrics, token counts and seconds."""
    import gymnasium as gym

    from mentor_env.play.evaluation import summarize
    from mentor_env.play.generation import GenerationSettings
    from mentor_env.play.lm import ChatLayout, ChatPolicy
    from mentor_env.play.rollouts import run_episodes

    layout = ChatLayout(tokenizer)
    generation = GenerationSettings(max_new_tokens=settings.max_new_tokens, temperature=0.0)
    results = {}
    for column in columns:
        policy = ChatPolicy(model, layout, generation, backend="prefix-cache")
        tasks = column_tasks(column)
        resets = [{"seed": i, "options": {"task_id": task.id}} for i, task in enumerate(tasks)]

        def make_env(column: Column = column, tasks: list[Any] = tasks) -> gym.Env:
            return gym.make(column.env_id, tasks=tasks, max_turns=settings.max_turns, tool_parser=layout.tool_parser)

        started = time.perf_counter()
        episodes = run_episodes(policy, make_env, resets, settings.batch_size)
        seconds = time.perf_counter() - started
        results[column.name] = {
            **summarize(episodes),
            "mean_prompt_tokens": sum(prompt_length(e.trace) for e in episodes) / len(episodes),
            "mean_generated_tokens": sum(e.trace.generated_tokens for e in episodes) / len(episodes),
            "seconds": round(seconds, 1),
        }
        print(f"{column.name:<12} success {results[column.name]['success_rate']:.3f} ({seconds:.0f} s)", flush=True)
    return results


def require_model(name: str) -> None:
    """FileNotFoundError unless ``name`` is a built-in student or a model directory (SmolLM2's SFT: how to build it)."""
    if Path(name).resolve() == SMOLLM2_WARM_START:
        smollm2_warm_start_path()
    require_student(name, "--models")


def run(settings: Settings) -> dict[str, Any]:
    """Every model on every column (module doc): the report ``results.json`` holds."""
    import torch

    from agents.students import load_student

    for name in settings.models:  # before the first model plays: a missing one fails at once
        require_model(name)
    torch.set_num_threads(settings.threads)
    columns = benchmark_columns(settings.episodes)
    results = {}
    for name in settings.models:
        label = repo_path(name) or name  # the same in every checkout
        print(f"[smollm2_warm_start] {label}", flush=True)
        model, tokenizer = load_student(name)
        model.eval()
        with torch.no_grad():
            results[label] = evaluate_model(model, tokenizer, settings, columns)
    return {
        "settings": {**asdict(settings), "greedy": True, "backend": "prefix-cache"},
        "columns": [{"name": c.name, "env_id": c.env_id, "split": c.split, "episodes": c.episodes} for c in columns],
        "results": results,
        "machine": {**machine(), "torch_threads": settings.threads},
        "argv": sys.argv[1:],
    }


def format_table(report: dict[str, Any]) -> str:
    """Success, mean tool calls and format-error rate per column (rows) and model (column groups)."""
    models = list(report["results"])
    header = ["column", "n"] + [f"{model}: {metric}" for model in models for metric, _ in TABLE_METRICS]
    rows = [header, ["---"] * len(header)]
    for column in report["columns"]:
        cells = [column["name"], str(column["episodes"])]
        for model in models:
            metrics = report["results"][model][column["name"]]
            cells += [f"{metrics[metric]:.{digits}f}" for metric, digits in TABLE_METRICS]
        rows.append(cells)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def format_summary(report: dict[str, Any]) -> str:
    """``summary.md``: the table, then the machine, the threads and each model's minutes."""
    info = report["machine"]
    minutes = ", ".join(
        f"{model} {sum(column['seconds'] for column in columns.values()) / 60:.1f} min"
        for model, columns in report["results"].items()
    )
    return (
        f"{format_table(report)}\n\n"
        f"Greedy, at most {report['settings']['max_turns']} turns of {report['settings']['max_new_tokens']} tokens. "
        f"Machine: {info['device']}, {info['processor']}, {info['cpus']} CPUs, torch {info.get('torch', '?')}, "
        f"{info['torch_threads']} torch thread(s). Time: {minutes}.\n"
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    (settings,) = parse_declared([Settings], argv, __doc__)
    out = Path(settings.out)
    with lock_folder(out):  # one run per results folder
        report = run(settings)
        write_text_atomically(out / "results.json", json.dumps(report, indent=1) + "\n")
        text = format_summary(report)
        write_text_atomically(out / "summary.md", text)
    print(text)
    return report


if __name__ == "__main__":
    main()
