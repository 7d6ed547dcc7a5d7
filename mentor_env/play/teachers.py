"""Where reference trajectories come from.

Teachers (:class:`Teacher`: ``teach(task) -> TeacherTrajectory | None``):
:class:`ScriptedTeacher` (each domain's exact solver), :class:`DatasetTeacher`
(trajectories stored in JSONL, including the published MENTOR layout) and
:class:`LMTeacher` (samples attempts with any language model through the env
and keeps the best correct one). :func:`annotate` and :func:`write_jsonl` turn
their output into task files.

A scripted teacher is a generator that, turn by turn, yields what it writes
(:class:`TeacherTurn`: text plus tool calls) and receives the results of its
calls; :func:`record_trajectory` plays it through the same
:class:`~mentor_env.core.tools.ToolRuntime` and message constructors that the
environment uses. Those live with the domains
(:mod:`mentor_env.domains.scripted`, :mod:`mentor_env.domains.base`) and are
importable from here too. :class:`ReplayPolicy` replays teacher trajectories,
as a policy or as an env agent.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

import gymnasium as gym

from mentor_env.core.domain import Domain
from mentor_env.core.env import current_task
from mentor_env.core.files import write_text_atomically
from mentor_env.core.messages import Message, render_assistant_text
from mentor_env.core.splits import read_jsonl, to_jsonl
from mentor_env.core.task import Task, TeacherTrajectory
from mentor_env.domains.base import draw_level, scripted_task
from mentor_env.domains.scripted import TeacherFailed, TeacherPlan, TeacherTimedOut, TeacherTurn, record_trajectory
from mentor_env.play.rollouts import run_episodes

__all__ = [
    # Where reference trajectories come from.
    "Teacher", "ScriptedTeacher", "DatasetTeacher", "LMTeacher", "annotate", "write_jsonl", "ReplayPolicy",
    # The scripted-teacher protocol, defined in mentor_env.domains.scripted and .base (importable here too).
    "TeacherTurn", "TeacherPlan", "TeacherFailed", "TeacherTimedOut", "record_trajectory", "draw_level", "scripted_task",
]  # fmt: skip


# --- teachers: where a task's reference trajectory comes from ----------------


class Teacher(Protocol):
    """Gives a task its reference trajectory, or ``None`` when it cannot solve it."""

    def teach(self, task: Task) -> TeacherTrajectory | None: ...


class ScriptedTeacher:
    """The domain's exact solver (the trajectory its generator recorded for the task's seed)."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain

    def teach(self, task: Task) -> TeacherTrajectory | None:
        meta = task.meta
        if task.domain != self.domain.name or "seed" not in meta:
            return None
        ood = bool(meta.get("ood", False))
        # The level was either drawn from the seed or given explicitly; try both.
        for difficulty in (None, meta.get("difficulty")):
            generated = self.domain.generate(meta["seed"], difficulty, ood)
            if generated.question == task.question:
                return generated.teacher
        return None


class DatasetTeacher:
    """Trajectories stored in JSONL (e.g. produced by a large model elsewhere), matched by task id.

    Reads our task records and the published MENTOR layout, where the teacher
    is only a list of tool names (``teacher_tools`` / ``tool_calls_used``).
    """

    def __init__(self, path: str | Path, default_domain: str | None = None) -> None:
        self.path = Path(path)
        self.by_id = {task.id: task.teacher for task in read_jsonl(self.path, default_domain)}

    def teach(self, task: Task) -> TeacherTrajectory | None:
        return self.by_id.get(task.id)


class LMTeacher:
    """Samples ``attempts`` episodes per task with a language model through the env.

    Keeps the correct attempt with the fewest tool calls (ties: fewest turns,
    then the first), as the MENTOR recipe keeps a strong model's best
    trajectory. ``policy`` is any policy :func:`mentor_env.play.rollouts.run_episodes` plays, typically
    :class:`mentor_env.play.lm.HFChatPolicy` around a Hugging Face causal LM.
    """

    def __init__(
        self,
        policy: Any,
        env_id: str,
        attempts: int = 4,
        batch_size: int = 16,
        source: str = "lm",
        env_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        self.policy = policy
        self.env_id = env_id
        self.attempts = attempts
        self.batch_size = batch_size
        self.source = source
        self.env_kwargs = env_kwargs or {}

    def teach_all(self, tasks: Sequence[Task], seed: int = 0) -> list[TeacherTrajectory | None]:
        """One trajectory (or ``None``) per task, all attempts batched together."""
        blank = [replace(task, teacher=TeacherTrajectory(source="none")) for task in tasks]
        resets = [
            {"seed": seed + index * self.attempts + attempt, "options": {"task": task}}
            for index, task in enumerate(blank)
            for attempt in range(self.attempts)
        ]
        episodes = run_episodes(self.policy, lambda: gym.make(self.env_id, **self.env_kwargs), resets, self.batch_size)
        best: list[TeacherTrajectory | None] = []
        for index in range(len(tasks)):
            attempts = episodes[index * self.attempts : (index + 1) * self.attempts]
            correct = [episode for episode in attempts if episode.correct]
            if not correct:
                best.append(None)
                continue
            chosen = min(correct, key=lambda episode: (len(episode.tool_names), episode.turns))
            best.append(TeacherTrajectory.from_messages(chosen.messages, self.source))
        return best

    def teach(self, task: Task) -> TeacherTrajectory | None:
        return self.teach_all([task])[0]


def annotate(tasks: Iterable[Task], teacher: Teacher) -> list[Task]:
    """The tasks with ``teacher``'s trajectories; tasks it could not solve are dropped."""
    if isinstance(teacher, LMTeacher):
        tasks = list(tasks)
        trajectories = teacher.teach_all(tasks)
    else:
        tasks = list(tasks)
        trajectories = [teacher.teach(task) for task in tasks]
    return [
        replace(task, teacher=trajectory) for task, trajectory in zip(tasks, trajectories) if trajectory is not None
    ]


def write_jsonl(tasks: Iterable[Task], path: str | Path) -> Path:
    """Write task records, one JSON object per line (written atomically)."""
    return write_text_atomically(Path(path), to_jsonl(tasks))


def teacher_turns(task: Task) -> list[str]:
    """The teacher's assistant turns of ``task``, as the text a model would write them."""
    return [render_assistant_text(message) for message in task.teacher.messages if message["role"] == "assistant"]


class ReplayPolicy:
    """Writes the teacher's turns: the ceiling of every metric.

    Useful to check an evaluation or training pipeline end to end without a
    model. It plays in two ways:

    * as a policy, ``policy(messages, tools)``, over the ``tasks`` it was given
      (matched by question): the teacher turn after the assistant turns
      already in ``messages``;
    * as an agent of one env (the protocol of ``agents.baselines``):
      :meth:`reset` takes the env's current task, whatever it is, and each
      :meth:`act` writes its next teacher turn, from the first, whatever was
      written before the reset.

    When the teacher has no turn left it writes :attr:`fallback`.
    """

    fallback = "I do not know."

    def __init__(self, tasks: Iterable[Task] = ()) -> None:
        self.turns = {task.question: teacher_turns(task) for task in tasks}
        self._queue: list[str] = []

    def __call__(self, messages: list[Message], tools: list[dict[str, Any]]) -> str:
        question = next(m["content"] for m in messages if m["role"] == "user")
        turns = self.turns.get(question, [])
        played = sum(1 for m in messages if m["role"] == "assistant")
        return turns[played] if played < len(turns) else self.fallback

    def reset(self, env: gym.Env, observation: str, info: dict[str, Any]) -> None:
        """Replay the teacher of ``env``'s current task from its first turn."""
        self._queue = teacher_turns(current_task(env))

    def act(self, observation: str, info: dict[str, Any]) -> str:
        """The next teacher turn of the task taken at :meth:`reset`."""
        return self._queue.pop(0) if self._queue else self.fallback
