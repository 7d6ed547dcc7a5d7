"""What every generated domain shares: drawing a level, the generate-with-retries loop, the task record.

A domain built on :class:`GeneratedDomain` gives its tools, system prompt and
difficulty levels, and one method, :meth:`GeneratedDomain.draw`, that draws a
question and the scripted teacher's plan for it (a
:data:`~mentor_env.domains.scripted.TeacherPlan`) from a random stream.
:meth:`GeneratedDomain.generate` plays the plan through the tools, draws again
when it fails (a division by zero deep in a random expression, an empty query
result) and turns the trajectory into a :class:`~mentor_env.core.task.Task`
whose gold answer is what the teacher boxed, so the teacher is right by
construction.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from mentor_env.core.parsing import last_boxed
from mentor_env.core.task import Task, TeacherTrajectory
from mentor_env.core.tools import Tool, ToolRuntime
from mentor_env.domains.scripted import TeacherFailed, TeacherPlan, TeacherTimedOut, record_trajectory

# How many draws generate tries before giving up on a seed.
MAX_DRAWS = 100
# Limit of one teacher call while generating, in place of the tools' own (model-facing) limits. The
# teacher's calls take milliseconds; the limit is far above that because a call that times out says
# nothing about the task, only about a busy machine (a loaded test run once stalled a 1 ms query past
# the Table query's 0.7 s model-facing limit).
GENERATION_TIMEOUT_S = 60.0
# How many times generate starts a seed over after a teacher call timed out.
GENERATION_ATTEMPTS = 3


def draw_level(rng: random.Random, difficulties: Sequence[int], difficulty: int | None) -> int:
    """The task's difficulty: ``difficulty`` if given, else drawn from ``rng``.

    Raises:
        ValueError: ``difficulty`` is not one of ``difficulties``.
    """
    level = difficulty if difficulty is not None else rng.choice(difficulties)
    if level not in difficulties:
        raise ValueError(f"difficulty must be one of {tuple(difficulties)}, got {level}")
    return level


def scripted_task(
    domain_name: str, seed: int, ood: bool, question: str, teacher: TeacherTrajectory, meta: dict[str, Any]
) -> Task:
    """A generated task whose gold answer is the one the scripted teacher boxed."""
    answer = last_boxed(teacher.messages[-1]["content"])
    if answer is None:
        raise TeacherFailed(f"the teacher's last turn has no \\boxed{{}} answer: {teacher.messages[-1]['content']!r}")
    return Task(
        id=f"{domain_name}-ood-{seed}" if ood else f"{domain_name}-{seed}",
        domain=domain_name,
        question=question,
        answer=answer,
        teacher=teacher,
        meta={**meta, "seed": seed, "ood": ood},
    )


@dataclass(frozen=True)
class Draw:
    """One drawn question: its text, the teacher's plan for it, and the task's metadata (before seed and ood)."""

    question: str
    plan: TeacherPlan
    meta: Mapping[str, Any]
    source: Any = None  # what the question was drawn from, for :meth:`GeneratedDomain.finish`


class GeneratedDomain:
    """A domain whose tasks are drawn from a seed and solved by a scripted teacher.

    Subclasses set :attr:`name`, :attr:`tools`, :attr:`system_prompt` and
    :attr:`difficulties`, and implement :meth:`draw` and :meth:`judge`.
    """

    name: str
    tools: Sequence[Tool]
    system_prompt: str
    difficulties: Sequence[int]

    def __init__(self) -> None:
        # The tools' own limits are for the model's calls; the teacher's get GENERATION_TIMEOUT_S.
        tools = [dataclasses.replace(tool, time_limit_s=None) for tool in self.generation_tools()]
        self._runtime = ToolRuntime(tools, timeout_s=GENERATION_TIMEOUT_S)

    def generation_tools(self) -> Sequence[Tool]:
        """The tools the teacher's plans run against while generating (by default :attr:`tools`).

        They run with a limit of :data:`GENERATION_TIMEOUT_S` per call in place of each
        tool's own ``time_limit_s``, which is the model's.
        """
        return self.tools

    def random_stream(self, seed: int, ood: bool) -> random.Random:
        """The random stream a task is drawn from (by default ``random.Random(seed)``)."""
        return random.Random(seed)

    def levels(self, ood: bool) -> Sequence[int]:
        """The levels a task's difficulty is drawn from when none is given (repeats weigh a level)."""
        return self.difficulties

    def draw(self, rng: random.Random, level: int, ood: bool) -> Draw | None:
        """A question of ``level`` and the teacher's plan for it; ``None`` to draw again."""
        raise NotImplementedError

    def finish(self, task: Task, drawn: Draw) -> Task:
        """The task as generated, after the teacher answered (a hook for checks and more metadata)."""
        return task

    def generate(self, seed: int, difficulty: int | None = None, ood: bool = False) -> Task:
        """The task of ``seed`` (same arguments, same task, on every platform).

        ``ood=True`` draws from the out-of-distribution variant of the domain.

        The task depends on the seed only, never on the machine's speed: a
        teacher call that times out starts the seed over from its first draw.

        Raises:
            ValueError: ``difficulty`` is not one of :attr:`difficulties`.
            RuntimeError: the teacher's calls timed out :data:`GENERATION_ATTEMPTS` times.
        """
        for _ in range(GENERATION_ATTEMPTS):
            try:
                return self._generate_from_seed(seed, difficulty, ood)
            except TeacherTimedOut as exc:
                timed_out = exc
        raise RuntimeError(
            f"{self.name} seed {seed}: the teacher's calls timed out {GENERATION_ATTEMPTS} times ({timed_out}); "
            "the machine is too busy to generate tasks"
        )

    def _generate_from_seed(self, seed: int, difficulty: int | None, ood: bool) -> Task:
        """One try at :meth:`generate`, from a fresh random stream of ``seed``."""
        rng = self.random_stream(seed, ood)
        level = draw_level(rng, self.levels(ood), difficulty)
        for _ in range(MAX_DRAWS):
            drawn = self.draw(rng, level, ood)
            if drawn is None:
                continue
            try:
                teacher = record_trajectory(self._runtime, self.system_prompt, drawn.question, drawn.plan)
            except TeacherFailed:
                continue  # the plan fails for these values (out of range, no rows): draw again
            return self.finish(scripted_task(self.name, seed, ood, drawn.question, teacher, dict(drawn.meta)), drawn)
        raise RuntimeError(f"could not generate a valid task for seed {seed}")  # pragma: no cover

    def judge(self, prediction: str, answer: str) -> bool:
        """Whether the model's final answer matches the gold answer."""
        raise NotImplementedError
