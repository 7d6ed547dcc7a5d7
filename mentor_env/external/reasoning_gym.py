r"""reasoning-gym tasks that our tools can solve, as the ``ood-reasoning-gym`` split of Calc and Dates.

`reasoning-gym <https://github.com/open-thought/reasoning-gym>`_ (Apache-2.0)
has procedural generators written by others. The ones whose questions the
Calc and Dates tools can answer become an extra out-of-domain split of those
envs::

    gym.make("mentor/Calc-v0", split="ood-reasoning-gym")   # 600 tasks
    gym.make("mentor/Dates-v0", split="ood-reasoning-gym")  # 200 tasks

=========  ==========================================================================
env        reasoning-gym datasets (100 tasks each, seed 0, default settings unless said)
=========  ==========================================================================
Calc       ``basic_arithmetic``, ``chain_sum``, ``decimal_arithmetic``, ``products``,
           ``gsm_symbolic``, ``leg_counting``
Dates      ``calendar_arithmetic``, ``time_intervals`` (its ``date`` task type only:
           day counts between two dates; the others ask for clock durations, which
           the date tools do not compute)
=========  ==========================================================================

The tasks interleave the datasets (the first six Calc tasks are one of each),
so the first ``n`` of the split sample every dataset. Each keeps the question
and gold answer reasoning-gym wrote; our domain's judge decides correctness
(the model answers in ``\boxed{}`` as everywhere). There is no teacher
trajectory (``teacher.source == "none"``), so the tool-matching metrics of
:func:`mentor_env.evaluate` are reported as not applicable.

The split is frozen in ``tasks/<domain>/ood-reasoning-gym.jsonl`` (so the
env does not need reasoning-gym); without that file it is regenerated from
reasoning-gym, which must then be installed. Rebuild or compare::

    python -m mentor_env.external.reasoning_gym build
    python -m mentor_env.external.reasoning_gym check
"""

from __future__ import annotations

import argparse
import contextlib
import decimal
import importlib.metadata
import sys
from pathlib import Path
from typing import Any, Iterator, Mapping

from mentor_env.core.files import write_text_atomically
from mentor_env.core.splits import tasks_dir, to_jsonl
from mentor_env.core.task import Task, TeacherTrajectory

SPLIT = "ood-reasoning-gym"
TASKS_PER_DATASET = 100
SEED = 0
# domain -> reasoning-gym dataset -> the settings we change from its defaults.
DATASETS: dict[str, dict[str, dict[str, Any]]] = {
    "calc": {
        "basic_arithmetic": {},
        "chain_sum": {},
        "decimal_arithmetic": {},
        "products": {},
        "gsm_symbolic": {},
        "leg_counting": {},
    },
    "dates": {
        "calendar_arithmetic": {},
        "time_intervals": {"task_types": ["date"]},
    },
}


def _reasoning_gym() -> Any:
    try:
        import reasoning_gym
    except ImportError as exc:
        raise ImportError(
            f"the {SPLIT!r} split is regenerated with reasoning-gym when tasks/<domain>/{SPLIT}.jsonl is absent: "
            "pip install reasoning-gym==0.1.25 (make installs it)"
        ) from exc
    return reasoning_gym


def reasoning_gym_version() -> str:
    try:
        return importlib.metadata.version("reasoning-gym")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@contextlib.contextmanager
def _isolated() -> Iterator[None]:
    """Run reasoning-gym code in a private decimal context.

    Its ``decimal_arithmetic`` sets the process-wide decimal precision to 12
    digits, which would change what our Calc tools (``round_number``) compute
    for the rest of the process.
    """
    with decimal.localcontext():
        yield


def dataset(
    name: str, settings: Mapping[str, Any] | None = None, size: int = TASKS_PER_DATASET, seed: int = SEED
) -> Any:
    """The reasoning-gym dataset ``name`` with our settings (needs reasoning-gym)."""
    with _isolated():
        return _reasoning_gym().create_dataset(name, size=size, seed=seed, **dict(settings or {}))


def _entries(data: Any, count: int) -> list[dict[str, Any]]:
    with _isolated():
        return [data[index] for index in range(count)]


def _task(domain: str, name: str, index: int, entry: Mapping[str, Any], settings: Mapping[str, Any]) -> Task:
    return Task(
        id=f"{domain}-rg-{name}-{index}",
        domain=domain,
        question=str(entry["question"]),
        answer=str(entry["answer"]),
        teacher=TeacherTrajectory(source="none"),
        meta={
            "ood": True,
            "source": f"reasoning-gym {reasoning_gym_version()}",
            "dataset": name,
            "index": index,
            "seed": SEED,
            "settings": dict(settings),
        },
    )


def generate_tasks(domain: str) -> list[Task]:
    """The split of ``domain`` (``"calc"`` or ``"dates"``), generated with reasoning-gym, datasets interleaved."""
    if domain not in DATASETS:
        raise ValueError(f"the {SPLIT!r} split exists for {sorted(DATASETS)}, not {domain!r}")
    columns = []
    for name, settings in DATASETS[domain].items():
        entries = _entries(dataset(name, settings), TASKS_PER_DATASET)
        columns.append([_task(domain, name, index, entry, settings) for index, entry in enumerate(entries)])
    return [column[index] for index in range(TASKS_PER_DATASET) for column in columns]


def calc_tasks() -> list[Task]:
    """Calc's ``ood-reasoning-gym`` split, regenerated (the domain's ``extra_splits`` entry)."""
    return generate_tasks("calc")


def dates_tasks() -> list[Task]:
    """Dates' ``ood-reasoning-gym`` split, regenerated (the domain's ``extra_splits`` entry)."""
    return generate_tasks("dates")


def entry_of(task: Task) -> dict[str, Any]:
    """The reasoning-gym entry a task came from (for its ``score_answer``); needs reasoning-gym."""
    data = dataset(task.meta["dataset"], task.meta.get("settings"), seed=task.meta.get("seed", SEED))
    with _isolated():
        return data[int(task.meta["index"])]


def score_answer(task: Task, answer: str) -> float:
    """reasoning-gym's own score (0 to 1) of ``answer`` for ``task``."""
    data = dataset(task.meta["dataset"], task.meta.get("settings"), seed=task.meta.get("seed", SEED))
    with _isolated():
        return float(data.score_answer(answer, data[int(task.meta["index"])]))


def _path(domain: str, out_dir: Path | None = None) -> Path:
    return (out_dir or tasks_dir()) / domain / f"{SPLIT}.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=f"Build or check the frozen {SPLIT} splits.")
    parser.add_argument("command", choices=("build", "check"))
    parser.add_argument("--out", type=Path, default=None, help="tasks folder (default: the repository's tasks/)")
    args = parser.parse_args(argv)
    stale = False
    for domain in DATASETS:
        text = to_jsonl(generate_tasks(domain))
        path = _path(domain, args.out)
        if args.command == "build":
            write_text_atomically(path, text)
            print(f"{domain}: wrote {path}")
        else:
            same = path.exists() and path.read_text(encoding="utf-8") == text
            stale |= not same
            print(f"{domain}: {'matches reasoning-gym' if same else 'differs: ' + str(path)}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
