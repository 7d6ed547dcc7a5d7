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
environment uses, so a teacher trajectory is exactly the conversation the
environment would record if a model wrote the teacher's turns.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generator, Iterable, Protocol, Sequence

from mentor_env.core.domain import Domain
from mentor_env.core.messages import (
    Message,
    assistant_message,
    render_assistant_text,
    system_message,
    tool_message,
    user_message,
)
from mentor_env.core.parsing import last_boxed
from mentor_env.core.files import write_text_atomically
from mentor_env.core.splits import read_jsonl, to_jsonl
from mentor_env.core.task import Task, TeacherTrajectory
from mentor_env.core.tools import ToolResult, ToolRuntime


@dataclass(frozen=True)
class TeacherTurn:
    """One teacher turn; a turn without calls is the final answer turn."""

    content: str
    calls: Sequence[tuple[str, dict[str, Any]]] = field(default=())


TeacherPlan = Generator[TeacherTurn, list[ToolResult], None]


class TeacherFailed(RuntimeError):
    """A scripted teacher's call failed: the task generator must resample."""


def record_trajectory(
    runtime: ToolRuntime,
    system_prompt: str,
    question: str,
    plan: TeacherPlan,
    source: str = "scripted",
    max_turns: int = 32,
) -> TeacherTrajectory:
    """Play ``plan`` against the tools and return the recorded trajectory.

    Raises:
        TeacherFailed: a call returned an error (the plan is wrong for this task)
            or the plan did not end within ``max_turns``.
    """
    messages: list[Message] = [system_message(system_prompt), user_message(question)]
    turn = next(plan)
    for _ in range(max_turns):
        messages.append(assistant_message(turn.content, turn.calls))
        if not turn.calls:
            return TeacherTrajectory.from_messages(messages, source)
        results = [runtime.execute(name, arguments) for name, arguments in turn.calls]
        failed = [result.error for result in results if not result.ok]
        if failed:
            raise TeacherFailed(f"teacher call failed: {failed}")
        messages.extend(tool_message(result.name, result.shown) for result in results)
        turn = plan.send(results)
    raise TeacherFailed(f"teacher did not answer within {max_turns} turns")


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
    trajectory. ``policy`` is any policy :func:`mentor_env.rollouts.run_episodes` plays, typically
    :class:`mentor_env.lm.HFChatPolicy` around a Hugging Face causal LM.
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
        import gymnasium as gym

        from mentor_env.rollouts import run_episodes

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
    return [replace(task, teacher=trajectory) for task, trajectory in zip(tasks, trajectories) if trajectory is not None]


def write_jsonl(tasks: Iterable[Task], path: str | Path) -> Path:
    """Write task records, one JSON object per line (written atomically)."""
    return write_text_atomically(Path(path), to_jsonl(tasks))


class ReplayPolicy:
    """A policy that writes the teacher's turns for known tasks (matched by question).

    The ceiling of every metric; useful to check an evaluation or training
    pipeline end to end without a model.
    """

    def __init__(self, tasks: Iterable[Task]) -> None:
        self.turns = {
            task.question: [render_assistant_text(m) for m in task.teacher.messages if m["role"] == "assistant"]
            for task in tasks
        }

    def __call__(self, messages: list[Message], tools: list[dict[str, Any]]) -> str:
        question = next(m["content"] for m in messages if m["role"] == "user")
        turns = self.turns.get(question, [])
        played = sum(1 for m in messages if m["role"] == "assistant")
        return turns[played] if played < len(turns) else "I do not know."


# --- shared by the domains' generators ------------------------------------------


def draw_level(rng: random.Random, difficulties: Sequence[int], difficulty: int | None) -> int:
    """The task's difficulty: ``difficulty`` if given, else drawn from ``rng``.

    Raises:
        ValueError: ``difficulty`` is not one of ``difficulties``.
    """
    level = difficulty if difficulty is not None else rng.choice(difficulties)
    if level not in difficulties:
        raise ValueError(f"difficulty must be one of {tuple(difficulties)}, got {level}")
    return level


def scripted_task(domain_name: str, seed: int, ood: bool, question: str, teacher: TeacherTrajectory, meta: dict[str, Any]) -> Task:
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
