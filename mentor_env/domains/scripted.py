"""Scripted teachers: plans that write turns, and the call-graph solver most domains use.

A scripted teacher is a generator (:data:`TeacherPlan`) that, turn by turn,
yields what it writes (:class:`TeacherTurn`: text plus tool calls) and
receives the results of its calls; :func:`record_trajectory` plays it through
the same :class:`~mentor_env.core.tools.ToolRuntime` and message constructors
that the environment uses, so a teacher trajectory is exactly the
conversation the environment would record if a model wrote the teacher's
turns.

Most questions are answered by a fixed graph of tool calls, some of whose
arguments are earlier calls' results. Such a question is written as
:class:`Call` objects (an argument that is a :class:`Call` stands for that
call's result; a :class:`Read` for a value copied out of one or more results)
and :func:`solve_calls` is its teacher: every call whose inputs are known goes
in the same turn, so it takes the fewest turns, and the answer is the last
result as the tool printed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Iterator, Mapping, Sequence

from mentor_env.core.messages import Message, assistant_message, system_message, tool_message, user_message
from mentor_env.core.task import TeacherTrajectory
from mentor_env.core.tools import TIMEOUT, ToolResult, ToolRuntime


@dataclass(frozen=True)
class TeacherTurn:
    """One teacher turn; a turn without calls is the final answer turn."""

    content: str
    calls: Sequence[tuple[str, dict[str, Any]]] = field(default=())


TeacherPlan = Generator[TeacherTurn, list[ToolResult], None]


class TeacherFailed(RuntimeError):
    """A scripted teacher's call failed: the task generator must resample."""


class TeacherTimedOut(RuntimeError):
    """A scripted teacher's call ran out of time: the machine's speed, not the plan, decided.

    Not a :class:`TeacherFailed`: drawing again would make the generated task
    depend on how busy the machine was, so the generator starts the seed over.
    """


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
        TeacherTimedOut: a call timed out (a time limit says nothing about the plan).
    """
    messages: list[Message] = [system_message(system_prompt), user_message(question)]
    turn = next(plan)
    for _ in range(max_turns):
        messages.append(assistant_message(turn.content, turn.calls))
        if not turn.calls:
            return TeacherTrajectory.from_messages(messages, source)
        results = [runtime.execute(name, arguments) for name, arguments in turn.calls]
        failed = [result.error for result in results if not result.ok]
        if any(result.error_category == TIMEOUT for result in results):
            raise TeacherTimedOut(f"teacher call timed out: {failed}")
        if failed:
            raise TeacherFailed(f"teacher call failed: {failed}")
        messages.extend(tool_message(result.name, result.shown) for result in results)
        turn = plan.send(results)
    raise TeacherFailed(f"teacher did not answer within {max_turns} turns")


# --- call graphs ------------------------------------------------------------


def read_number(text: str) -> int | float:
    """A number as printed by a tool or written in a document, as the JSON number a model would pass on.

    ``"12"`` is the integer 12; ``"12.5"``, ``"2.50"`` and ``"1e+15"`` are floats.
    """
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


@dataclass(eq=False)
class Call:
    """One tool call of a scripted plan.

    ``arguments`` values are JSON values, or stand for earlier calls' results:
    a :class:`Call` (anywhere in the value, lists included) is that call's
    result as the solver's ``read`` reads it, a :class:`Read` a value copied
    out of one or more results. Calls compare by identity.
    """

    tool: str
    arguments: Mapping[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> tuple[Call, ...]:
        """The calls whose results this one needs, in argument order."""
        return tuple(dict.fromkeys(call for value in self.arguments.values() for call in _calls_in(value)))

    def graph(self) -> list[Call]:
        """This call and every call it depends on, each once, in pre-order (this one first)."""
        seen: dict[Call, None] = {}

        def visit(call: Call) -> None:
            if call not in seen:
                seen[call] = None
                for child in call.inputs:
                    visit(child)

        visit(self)
        return list(seen)


@dataclass(frozen=True, eq=False)
class Read:
    """An argument copied out of earlier results: ``how(*texts)``, one text per call of ``calls``.

    For example the year of a date a call returned, without any arithmetic of the teacher's own.
    """

    calls: tuple[Call, ...]
    how: Callable[..., Any]


def _calls_in(value: Any) -> Iterator[Call]:
    if isinstance(value, Call):
        yield value
    elif isinstance(value, Read):
        yield from value.calls
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _calls_in(item)


def _resolve(value: Any, results: Mapping[Call, str], read: Callable[[str], Any]) -> Any:
    if isinstance(value, Call):
        return read(results[value])
    if isinstance(value, Read):
        return value.how(*(results[call] for call in value.calls))
    if isinstance(value, (list, tuple)):
        return [_resolve(item, results, read) for item in value]
    return value


def solve_calls(
    answer: Call,
    order: Sequence[Call] = (),
    read: Callable[[str], Any] = read_number,
    write: Callable[[Call, str], str] = lambda call, text: text,
) -> TeacherPlan:
    """The scripted teacher of a call graph: every call whose inputs are known, in the same turn.

    Args:
        answer: the call whose result answers the question.
        order: every call of the plan, in the order a turn lists its calls;
            empty: ``answer.graph()`` (pre-order: callers before the calls they read).
        read: how a :class:`Call` argument reads that call's printed result.
        write: the final answer from the answer call's printed result.
    """
    pending = list(order) or answer.graph()
    results: dict[Call, str] = {}
    while pending:
        ready = [call for call in pending if all(needed in results for needed in call.inputs)]
        if not ready:  # pragma: no cover - a plan that refers to a later call
            raise ValueError(f"calls {[call.tool for call in pending]} wait on each other")
        calls = [
            (call.tool, {name: _resolve(v, results, read) for name, v in call.arguments.items()}) for call in ready
        ]
        replies: list[ToolResult] = yield TeacherTurn("", calls)
        for call, reply in zip(ready, replies):
            results[call] = reply.content
        pending = [call for call in pending if call not in results]
    yield TeacherTurn(f"The answer is \\boxed{{{write(answer, results[answer])}}}.")
