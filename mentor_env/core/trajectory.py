"""What happened in one episode: the messages, each turn's parse and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mentor_env.core.messages import Message
from mentor_env.core.parsing import ParsedTurn
from mentor_env.core.tools import ToolResult


@dataclass(frozen=True)
class Turn:
    """One assistant turn: the text written, how it parsed, what the tools said."""

    text: str
    parsed: ParsedTurn
    results: tuple[ToolResult, ...] = ()
    errors: tuple[str, ...] = ()

    def successful_calls(self) -> list[tuple[str, dict[str, Any]]]:
        """``(name, arguments)`` of this turn's calls that ran without error, in order."""
        return [
            (call.name, call.arguments)
            for result, call in zip(self.results, self.parsed.calls)
            if result.ok and call.name is not None and call.arguments is not None
        ]


@dataclass
class Trajectory:
    """The episode so far.

    Attributes:
        messages: The whole conversation in OpenAI chat format.
        turns: Assistant turns in order.
        ended: The model wrote a turn without a tool call, which ends the
            episode (the analogue of generating end-of-sequence).
        truncated: The episode hit ``max_turns`` before the model ended it.
    """

    messages: list[Message] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    ended: bool = False
    truncated: bool = False

    @property
    def done(self) -> bool:
        return self.ended or self.truncated

    @property
    def final_turn(self) -> Turn | None:
        """The turn that ended the episode (``None`` while running or if truncated)."""
        return self.turns[-1] if self.ended and self.turns else None

    @property
    def final_answer(self) -> str | None:
        """The last ``\\boxed{}`` answer written in any turn."""
        for turn in reversed(self.turns):
            if turn.parsed.final_answer is not None:
                return turn.parsed.final_answer
        return None

    def called_tool_names(self) -> list[str]:
        """Every tool name written in a ``<tool_call>`` block, broken JSON included."""
        return [call.name for turn in self.turns for call in turn.parsed.calls if call.name is not None]

    def successful_calls(self) -> list[tuple[str, dict[str, Any]]]:
        """``(name, arguments)`` of the calls that ran without error, in order."""
        return [call for turn in self.turns for call in turn.successful_calls()]

    @property
    def errors(self) -> list[str]:
        return [error for turn in self.turns for error in turn.errors]
