"""Where reference trajectories come from.

A scripted teacher is a generator that, turn by turn, yields what it writes
(:class:`TeacherTurn`: text plus tool calls) and receives the results of its
calls; :func:`record_trajectory` plays it through the same
:class:`~mentor_env.core.tools.ToolRuntime` and message constructors that the
environment uses, so a teacher trajectory is exactly the conversation the
environment would record if a model wrote the teacher's turns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generator, Sequence

from mentor_env.core.messages import Message, assistant_message, system_message, tool_message, user_message
from mentor_env.core.task import TeacherTrajectory
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
