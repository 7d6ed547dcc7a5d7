"""Frozen task splits: ``tasks/<domain>/{train,test,ood}.jsonl``, rebuilt byte for byte from seeds.

Each split is a fixed range of generator seeds: ``train`` and ``test`` draw
in-distribution tasks from disjoint seed ranges, ``ood`` draws the domain's
out-of-distribution variant. A test or ood task whose question also appears in
an earlier split is skipped (the next seed is used), so the splits never share
a question. Loading prefers the committed JSONL files (found in the
repository's ``tasks/`` folder, or the folder named by ``MENTOR_ENV_TASKS``)
and otherwise regenerates the same records in memory, so ``split=`` works from
an installed wheel too.

    python -m mentor_env.tasks build            # write every domain's splits
    python -m mentor_env.tasks check            # compare the files with the generator

A domain may declare its own split sizes (``split_sizes``: split name -> number
of tasks, for every split of :data:`SPLITS`); without it each split has
:data:`DEFAULT_SIZES`. A domain may also offer extra splits built by something other than its own
generator (``extra_splits``: split name -> ``"module:function"`` returning the
tasks, e.g. Calc's ``ood-reasoning-gym``). They are served the same way: the
committed ``tasks/<domain>/<split>.jsonl`` when present, else the function's
tasks; the module that builds them also builds and checks their files.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
from pathlib import Path
from typing import Callable, Iterable, Mapping

from mentor_env.core.domain import Domain
from mentor_env.core.files import write_text_atomically
from mentor_env.core.task import Task

SPLITS = ("train", "test", "ood")
# First generator seed of each split; the ranges never overlap.
SPLIT_SEED_START = {"train": 0, "test": 1_000_000, "ood": 2_000_000}
# Tasks per split of a domain that declares no ``split_sizes`` of its own.
DEFAULT_SIZES = {"train": 1_000, "test": 500, "ood": 500}


def tasks_dir() -> Path:
    """Where the frozen splits live: ``$MENTOR_ENV_TASKS`` or the repository's ``tasks/``."""
    configured = os.environ.get("MENTOR_ENV_TASKS")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "tasks"


def split_sizes(domain: Domain) -> dict[str, int]:
    """The number of tasks in each split of ``domain``: its ``split_sizes``, else :data:`DEFAULT_SIZES`.

    Raises:
        ValueError: the domain's ``split_sizes`` does not give every split of :data:`SPLITS` a positive count.
    """
    declared = getattr(domain, "split_sizes", None)
    if declared is None:
        return dict(DEFAULT_SIZES)
    sizes = dict(declared)
    counts = all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes.values())
    if sorted(sizes) != sorted(SPLITS) or not counts:
        raise ValueError(
            f"domain {domain.name!r}: split_sizes must give each of {SPLITS} a positive whole number, got {declared!r}"
        )
    return sizes


def generate_splits(domain: Domain, sizes: dict[str, int] | None = None) -> dict[str, list[Task]]:
    """Every split of ``domain`` from its seeds, with no question shared across splits."""
    sizes = sizes or split_sizes(domain)
    seen: set[str] = set()
    splits: dict[str, list[Task]] = {}
    for split in SPLITS:
        tasks: list[Task] = []
        seed = SPLIT_SEED_START[split]
        while len(tasks) < sizes[split]:
            task = domain.generate(seed, ood=split == "ood")
            seed += 1
            if task.question not in seen:
                seen.add(task.question)
                tasks.append(task)
        splits[split] = tasks
    return splits


def to_jsonl(tasks: Iterable[Task]) -> str:
    return "".join(task.to_json() + "\n" for task in tasks)


def read_jsonl(path: str | Path, default_domain: str | None = None) -> list[Task]:
    """Tasks from a JSONL file (our record layout or the published MENTOR one).

    Raises:
        ValueError: naming the file and line of the first bad record.
    """
    tasks = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                tasks.append(Task.from_dict(json.loads(line), default_domain=default_domain))
            except ValueError as exc:  # JSONDecodeError included
                raise ValueError(f"{path}:{number}: {exc}") from None
    if not tasks:
        raise ValueError(f"{path} holds no task records")
    return tasks


# Splits regenerated in this process, by domain name (envs each hold their own domain object).
_GENERATED: dict[str, dict[str, list[Task]]] = {}
_GENERATED_EXTRA: dict[str, list[Task]] = {}


@functools.lru_cache(maxsize=32)
def _read_cached(path: str, modified_ns: int, domain_name: str) -> tuple[Task, ...]:
    return tuple(read_jsonl(path, default_domain=domain_name))


def extra_splits(domain: Domain) -> Mapping[str, str]:
    """The domain's extra splits: name -> ``"module:function"`` that builds their tasks (none by default)."""
    return getattr(domain, "extra_splits", None) or {}


def _extra_split_builder(domain: Domain, split: str) -> Callable[[], list[Task]]:
    module_name, _, function_name = extra_splits(domain)[split].partition(":")
    builder: Callable[[], list[Task]] = getattr(importlib.import_module(module_name), function_name)
    return builder


def load_split(domain: Domain, split: str) -> list[Task]:
    """The frozen ``split`` of ``domain``: the committed file, else regenerated (from seeds, or by an extra split's builder).

    Both are cached per process, so a vector of envs reads a split once.
    """
    extras = extra_splits(domain)
    if split not in SPLITS and split not in extras:
        raise ValueError(f"split must be one of {SPLITS + tuple(extras)}, got {split!r}")
    path = tasks_dir() / domain.name / f"{split}.jsonl"
    if path.exists():
        return list(_read_cached(str(path), path.stat().st_mtime_ns, domain.name))
    if split in extras:
        key = f"{domain.name}/{split}"
        if key not in _GENERATED_EXTRA:
            _GENERATED_EXTRA[key] = list(_extra_split_builder(domain, split)())
        return _GENERATED_EXTRA[key]
    if domain.name not in _GENERATED:
        _GENERATED[domain.name] = generate_splits(domain)
    return _GENERATED[domain.name][split]


def tools_json(domain: Domain) -> str:
    """The domain's ``tools.json``: its tool specs in OpenAI function format."""
    return json.dumps([tool.spec for tool in domain.tools], indent=2, ensure_ascii=False) + "\n"


def write_splits(domain: Domain, out_dir: Path) -> dict[str, Path]:
    """Write ``<out_dir>/<domain>/{train,test,ood}.jsonl`` and ``tools.json``."""
    folder = out_dir / domain.name
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, tasks in generate_splits(domain).items():
        written[split] = write_text_atomically(folder / f"{split}.jsonl", to_jsonl(tasks))
    written["tools"] = write_text_atomically(folder / "tools.json", tools_json(domain))
    return written


def check_splits(domain: Domain, out_dir: Path) -> list[str]:
    """The files under ``out_dir`` that differ from what the generator builds."""
    folder = out_dir / domain.name
    expected = {f"{split}.jsonl": to_jsonl(tasks) for split, tasks in generate_splits(domain).items()}
    expected["tools.json"] = tools_json(domain)
    return [
        str(folder / name)
        for name, text in expected.items()
        if not (folder / name).exists() or (folder / name).read_text(encoding="utf-8") != text
    ]
