"""Task records: a question, its gold answer and the teacher's reference trajectory.

One JSON object per line in ``tasks/<domain>/<split>.jsonl``::

    {"id": "calc-17", "domain": "calc", "question": "...", "answer": "35",
     "teacher": {"messages": [...], "tool_calls": [{"name": "add", "arguments": {...}}],
                 "source": "scripted"},
     "meta": {"difficulty": 2}}

A task whose tools are its own (each task of an external function-calling set
declares its functions) also carries ``"tools"``: their specs in OpenAI
function format; without it the task uses its domain's tools.

:meth:`Task.from_dict` also reads the published MENTOR layout, where the teacher
is only a list of tool names (``teacher_tools`` or ``tool_calls_used``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from mentor_env.core.messages import Message, message_calls


@dataclass(frozen=True)
class TeacherCall:
    """One call of the reference trajectory; ``arguments`` is ``None`` when unknown."""

    name: str
    arguments: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": None if self.arguments is None else dict(self.arguments)}


@dataclass(frozen=True)
class TeacherTrajectory:
    """The reference solution the MENTOR rewards compare a rollout against."""

    messages: tuple[Message, ...] = ()
    calls: tuple[TeacherCall, ...] = ()
    source: str = "unknown"

    @property
    def tool_names(self) -> list[str]:
        return [call.name for call in self.calls]

    @classmethod
    def from_messages(cls, messages: list[Message], source: str) -> TeacherTrajectory:
        calls = [
            TeacherCall(name, arguments)
            for message in messages
            if message["role"] == "assistant"
            for name, arguments in message_calls(message)
        ]
        return cls(tuple(messages), tuple(calls), source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "messages": list(self.messages),
            "tool_calls": [call.to_dict() for call in self.calls],
            "source": self.source,
        }


@dataclass(frozen=True)
class Task:
    """One episode's problem. ``answer`` is the gold answer as text.

    ``tools``: the task's own tool specs (OpenAI function format,
    ``{"type": "function", "function": {"name", "description", "parameters"}}``);
    empty (the default) means the domain's tools. A domain that serves tasks
    with their own tools turns these specs into callable tools
    (:class:`~mentor_env.core.domain.TaskToolsDomain`).
    """

    id: str
    domain: str
    question: str
    answer: str
    teacher: TeacherTrajectory = field(default_factory=TeacherTrajectory)
    meta: Mapping[str, Any] = field(default_factory=dict)
    tools: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": self.id,
            "domain": self.domain,
            "question": self.question,
            "answer": self.answer,
            "teacher": self.teacher.to_dict(),
            "meta": dict(self.meta),
        }
        if self.tools:  # only then, so records of tasks with the domain's tools are unchanged
            record["tools"] = [dict(spec) for spec in self.tools]
        return record

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_dict(cls, record: Mapping[str, Any], default_domain: str | None = None) -> Task:
        """Read a task record (ours or the published MENTOR layout).

        Raises:
            ValueError: naming the missing or mistyped field.
        """
        if not isinstance(record, Mapping):
            raise ValueError(f"a task record must be a JSON object, got {type(record).__name__}")
        missing = [key for key in ("id", "question", "answer") if key not in record]
        if missing:
            raise ValueError(f"task record is missing {missing}; it has {sorted(record)}")
        domain = record.get("domain", default_domain)
        if not isinstance(domain, str):
            raise ValueError(f"task {record['id']!r} has no 'domain' and no default domain was given")
        teacher_record = record.get("teacher")
        if isinstance(teacher_record, Mapping):
            calls = tuple(
                TeacherCall(call["name"], call.get("arguments")) for call in teacher_record.get("tool_calls", ())
            )
            teacher = TeacherTrajectory(
                tuple(teacher_record.get("messages", ())), calls, teacher_record.get("source", "dataset")
            )
        else:
            names = record.get("teacher_tools", record.get("tool_calls_used"))
            if names is None:
                teacher = TeacherTrajectory(source="none")
            elif isinstance(names, list) and all(isinstance(name, str) for name in names):
                teacher = TeacherTrajectory(calls=tuple(TeacherCall(name) for name in names), source="dataset")
            else:
                raise ValueError(f"task {record['id']!r}: teacher tools must be a list of names, got {names!r}")
        tools = record.get("tools", ())
        if not isinstance(tools, (list, tuple)) or not all(
            isinstance(spec, Mapping) and isinstance(spec.get("function", spec).get("name"), str) for spec in tools
        ):
            raise ValueError(f"task {record['id']!r}: 'tools' must be a list of function specs with a 'name'")
        return cls(
            id=str(record["id"]),
            domain=domain,
            question=str(record["question"]),
            answer=str(record["answer"]),
            teacher=teacher,
            meta=dict(record.get("meta", {})),
            tools=tuple(dict(spec) for spec in tools),
        )
