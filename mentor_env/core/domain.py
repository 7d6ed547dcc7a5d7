"""What a task domain provides to the environment (domains implement this)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

from mentor_env.core.task import Task
from mentor_env.core.tools import Tool

if TYPE_CHECKING:
    from mentor_env.core.trajectory import Trajectory


@runtime_checkable
class Domain(Protocol):
    """A family of tool-use tasks.

    Attributes:
        name: Short lowercase name, also the ``domain`` field of its tasks.
        tools: The tools a model may call in this domain.
        system_prompt: Instructions shown to the model in the system turn.
        difficulties: The difficulty levels :meth:`generate` accepts.

    Optional extensions, used by the environment when a domain has them:
    :class:`TaskToolsDomain` (tasks that bring their own tools and system
    prompt) and :class:`EpisodeJudgeDomain` (a judge that reads the episode's
    calls instead of a ``\\boxed{}`` answer). Optional attributes, read by
    :mod:`mentor_env.core.splits`: ``split_sizes`` (split name -> number of
    tasks in its frozen file) and ``extra_splits`` (split name ->
    ``"module:function"`` that builds its tasks).

    Generation must be deterministic from its arguments alone (``random.Random(seed)``,
    no set-iteration or hash order), so that frozen splits rebuild byte for byte.
    """

    name: str
    tools: Sequence[Tool]
    system_prompt: str
    difficulties: Sequence[int]

    def generate(self, seed: int, difficulty: int | None = None, ood: bool = False) -> Task:
        """A task (with the scripted teacher's trajectory) determined by the arguments.

        ``ood=True`` draws from the out-of-distribution variant: more steps,
        wording templates that in-distribution tasks never use, larger numbers.
        ``difficulty=None`` draws a level from the seed.
        """
        ...

    def judge(self, prediction: str, answer: str) -> bool:
        """Whether the model's final answer matches the gold answer."""
        ...


@runtime_checkable
class TaskToolsDomain(Protocol):
    """A domain whose tasks carry their own tools (:attr:`Task.tools`).

    The environment serves a task with non-empty ``tools`` only through a
    domain with :meth:`task_tools`: the episode's prompt, ``info["tools"]``
    and the validation of calls then use the task's tools, and every other
    task keeps the domain's.
    """

    def task_tools(self, task: Task) -> Sequence[Tool]:
        """The callable tools of ``task``, built from its specs."""
        ...

    def task_system_prompt(self, task: Task) -> str:
        """The system turn of ``task``'s episode (the domain's prompt plus whatever the task adds)."""
        ...


@runtime_checkable
class EpisodeJudgeDomain(Protocol):
    """A domain whose answer is the calls themselves (function-calling benchmarks).

    The environment then takes correctness from :meth:`judge_episode` instead
    of :meth:`Domain.judge` on the ``\\boxed{}`` answer, and the outcome's
    answer is the JSON list of the episode's successful calls (an empty list
    is an answer too: "no call is needed").
    """

    def judge_episode(self, task: Task, trajectory: Trajectory) -> bool:
        """Whether the finished episode's calls solve ``task``."""
        ...
