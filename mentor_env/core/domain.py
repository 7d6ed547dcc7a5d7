"""What a task domain provides to the environment (domains implement this)."""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from mentor_env.core.task import Task
from mentor_env.core.tools import Tool


@runtime_checkable
class Domain(Protocol):
    """A family of tool-use tasks.

    Attributes:
        name: Short lowercase name, also the ``domain`` field of its tasks.
        tools: The tools a model may call in this domain.
        system_prompt: Instructions shown to the model in the system turn.
        difficulties: The difficulty levels :meth:`generate` accepts.

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
