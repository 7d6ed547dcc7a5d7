"""One episode of a text environment, driven by a trainer's tool loop.

Trainers with a built-in tool loop (TRL's ``environment_factory``, verl's tool
agent loop) call the tools one at a time and tell the environment where an
assistant turn starts and ends either later (TRL: the finished completion) or
never directly (verl: the turn is the last assistant message). An
:class:`EpisodeSession` bridges that to :class:`~mentor_env.core.env.ToolUseEnv`:

* :meth:`EpisodeSession.call` runs one call now, read and run as ``env.step``
  reads and runs a call block (the same parser, validation, bounds, time limit
  and error text), and remembers its result;
* :meth:`EpisodeSession.play_turn` plays a whole assistant turn through
  ``env.step``. A call already run by :meth:`call` is not run again: its
  remembered result is handed to ``step`` in its place, so the step's rewards,
  ``info`` and conversation are exactly those of ``gym.make`` for the same
  turn, and each tool still runs once;
* :meth:`EpisodeSession.finish` plays a finished completion (chat messages)
  turn by turn, its final answer included, and returns the episode's return.

Nothing a trainer or a model hands over makes these raise: a call with no
JSON form or too long for a turn, and a completion or message of any shape,
get the env's own error categories (:func:`assistant_action`,
:func:`call_block`).

The session keeps every step's rewards and a lean ``info`` (no conversation)
for logging: :attr:`EpisodeSession.steps`.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import gymnasium as gym

import mentor_env  # noqa: F401  (registers the ids)
from mentor_env.core.env import ToolUseEnv
from mentor_env.core.messages import render_assistant_text
from mentor_env.core.parsing import ToolCallParser, format_tool_call, render_turn, writes_own_format
from mentor_env.core.rewards import REWARD_MODES
from mentor_env.core.tools import (
    INVALID_ACTION,
    INVALID_ARGS,
    PARSE_ERROR,
    ToolResult,
    ToolRuntime,
    error_result,
    truncate,
)
from mentor_env.integrations.scoring import UNREADABLE_ERRORS, content_text, structured_call

__all__ = [
    "EpisodeSession",
    "StepRecord",
    "UnwritableCall",
    "assistant_action",
    "call_block",
    "completion_actions",
    "describe_argument",
    "json_text_exceeds",
    "make_text_env",
]

# info keys a step record keeps (the conversation and tool specs are left out: they grow with the episode).
LEAN_INFO_KEYS = ("rewards", "reward_components", "tool_calls", "errors", "turn", "task_id", "final_answer")


def make_text_env(env_id: str, reward_mode: str = "mentor", **env_kwargs: Any) -> ToolUseEnv:
    """``gym.make(env_id, reward_mode=..., **env_kwargs)``, unwrapped, checked to be a text env.

    Raises:
        ValueError: ``env_id`` is not a registered id, or names an env whose
            actions are not text (such as ``mentor/Calc-Structured-v0``).
    """
    if not isinstance(env_id, str) or env_id not in gym.registry:
        known = sorted(key for key in gym.registry if key.startswith("mentor/"))
        raise ValueError(f"unknown env id {env_id!r}; expected one of {known}")
    env = gym.make(env_id, reward_mode=reward_mode, **env_kwargs).unwrapped
    if not isinstance(env, ToolUseEnv):
        raise ValueError(
            f"{env_id!r} is not a text tool-use env (its actions are not text); use a mentor/<Domain>-v0 id"
        )
    return env


def describe_argument(name: str, schema: Mapping[str, Any]) -> str:
    """An argument's description with its schema's bounds in words, for tool formats that keep only the text.

    TRL (through type hints and docstrings) and verl (its pydantic tool schema)
    keep a property's type, description and enum and drop ``minimum``,
    ``maxItems`` and the like; the environment still enforces them.
    """
    units = {"minLength": " characters", "maxLength": " characters", "minItems": " items", "maxItems": " items"}
    labels = {
        "minimum": "at least",
        "maximum": "at most",
        "minLength": "at least",
        "maxLength": "at most",
        "minItems": "at least",
        "maxItems": "at most",
    }
    bounds = [f"{label} {schema[key]}{units.get(key, '')}" for key, label in labels.items() if key in schema]
    text = str(schema.get("description") or name).strip().replace("\n", " ")
    return f"{text} ({', '.join(bounds)})" if bounds else text


def json_text_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` written as JSON certainly takes more than ``limit`` characters.

    Counts a lower bound of the written length (a string's characters and
    quotes, an int's digits, brackets, separators, one character for anything
    else) and stops once it passes ``limit``: each item looked at adds at least
    one, so the cost is O(``limit``) whatever the size of ``value`` (a list
    longer than ``limit`` is answered from its length alone; a circular
    structure counts as endless).
    """
    total = _written_size(value)
    pending: list[Any] = [iter(_children(value))]
    while pending and total <= limit:
        item = next(pending[-1], _EXHAUSTED)
        if item is _EXHAUSTED:
            pending.pop()
            continue
        total += _written_size(item)
        children = _children(item)
        if children:
            pending.append(iter(children))
    return total > limit


_EXHAUSTED = object()
# 0.30102 < log10(2): a lower bound of the decimal digits per bit.
_DIGITS_PER_BIT = 0.30102


def _written_size(value: Any) -> int:
    """A lower bound of the characters ``value`` itself adds to its JSON text (its items not included)."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, int) and not isinstance(value, bool):
        return 1 + int((value.bit_length() - 1) * _DIGITS_PER_BIT) if value else 1
    if isinstance(value, (Mapping, list, tuple)):
        return 1 + 2 * len(value) if isinstance(value, Mapping) else 1 + len(value)  # brackets, ":" and ","
    return 1


def _children(value: Any) -> Any:
    """The items of a container, lazily (keys and values of a mapping); ``()`` for anything else."""
    if isinstance(value, Mapping):
        return (part for pair in value.items() for part in pair)
    if isinstance(value, (list, tuple)):
        return value
    return ()


class UnwritableCall(ValueError):
    """A call with no text that ``env.step`` would run: not JSON, or longer than a turn may be.

    Attributes:
        category: the env's error category for it (``invalid_args`` or ``invalid_action``).
    """

    def __init__(self, category: str, message: str) -> None:
        super().__init__(message)
        self.category = category

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.category, str(self)), dict(vars(self)))


def call_block(name: Any, arguments: Any, limit: int, parser: ToolCallParser | None = None) -> str:
    """One call as the text a model writes for it, checked to fit in a turn of ``limit`` characters.

    The text is a Hermes block, or with a ``parser`` that writes its own
    format (``format_turn``: the named parsers) that format's. The size is
    bounded first (:func:`json_text_exceeds`), so a huge argument costs
    O(``limit``) here and never reaches the tool's validation.

    Raises:
        UnwritableCall: the arguments alone are longer than a turn may be
            (``invalid_action``: the env refuses such a turn unread), or have no
            JSON form (``invalid_args``: complex numbers, sets, objects, ints
            with more than 4,300 digits, circular or too deeply nested data),
            or none the parser's format writes (``invalid_args``).
    """
    if writes_own_format(parser):
        return _formatted_call(name, arguments, limit, parser)
    too_long = (
        f"the call is longer than {limit:,} characters written as JSON; the environment refuses a turn longer "
        f"than {limit:,} characters unread, so the call was not run"
    )
    try:
        exceeds = json_text_exceeds(arguments, limit)
        text = (
            "" if exceeds else format_tool_call(name, dict(arguments) if isinstance(arguments, Mapping) else arguments)
        )
    except UNREADABLE_ERRORS as exc:  # a value json cannot write, a mapping whose methods raise
        reason = truncate(f"{type(exc).__name__}: {exc}", 300)
        raise UnwritableCall(
            INVALID_ARGS, f"the arguments have no JSON form, the only form a model's call takes ({reason})"
        ) from None
    if exceeds or len(text) > limit:
        raise UnwritableCall(INVALID_ACTION, too_long)
    return text


def _formatted_call(name: Any, arguments: Any, limit: int, parser: Any) -> str:
    """:func:`call_block` in the format of ``parser`` (a named parser's ``format_turn``)."""
    try:
        exceeds = json_text_exceeds(arguments, limit)
        text = (
            ""
            if exceeds
            else render_turn(parser, "", [(name, dict(arguments) if isinstance(arguments, Mapping) else arguments)])
        )
    except UNREADABLE_ERRORS as exc:
        reason = truncate(f"{type(exc).__name__}: {exc}", 300)
        raise UnwritableCall(INVALID_ARGS, f"the call has no form in the model's tool-call format ({reason})") from None
    if exceeds or len(text) > limit:
        raise UnwritableCall(
            INVALID_ACTION,
            f"the call is longer than {limit:,} characters written out; the environment refuses a turn longer than "
            f"{limit:,} characters unread, so the call was not run",
        )
    return text


def assistant_action(message: Any, parser: ToolCallParser | None = None) -> Any:
    """What the model wrote in one assistant chat message, as ``env.step`` takes it.

    A well-formed message gives :func:`~mentor_env.core.messages.render_assistant_text`'s
    text (with a ``parser`` that writes its own format, the named parsers,
    that format's: ``parser.format_turn``). Content given as blocks (``[{"type": "text", "text": ...}]``) gives
    their text, and a call whose arguments are a string that is not JSON keeps
    that string (the env's parser then says what is wrong with it). A message
    that still cannot be read as text (not a mapping, content that is neither
    text nor blocks, a call that is not a mapping or has no JSON form) is
    returned as is: ``env.step`` refuses an action that is not text with its
    ``invalid_action`` error, as it does for any such action.
    """
    if not isinstance(message, Mapping):
        return message
    if writes_own_format(parser):
        return _formatted_action(message, parser)
    try:
        return render_assistant_text(message)
    except UNREADABLE_ERRORS:
        pass
    try:
        content = content_text(message.get("content"))
        calls = message.get("tool_calls") or ()
        if content is None or not isinstance(calls, (list, tuple)):
            return message
        blocks = [_call_text(call) for call in calls]
    except UNREADABLE_ERRORS:
        return message
    if any(block is None for block in blocks):
        return message
    return "\n".join(part for part in [content, *blocks] if part)


def _formatted_action(message: Mapping[str, Any], parser: Any) -> Any:
    """:func:`assistant_action` in the format of ``parser``; the message itself when it cannot be written."""
    try:
        content = content_text(message.get("content"))
        calls = message.get("tool_calls") or ()
        if content is None or not isinstance(calls, (list, tuple)):
            return message
        if not calls:
            return content  # the text the model wrote, as it is
        return render_turn(parser, content, [structured_call(call) for call in calls])
    except UNREADABLE_ERRORS:
        return message


def _call_text(call: Any) -> str | None:
    """One structured call as a Hermes block; ``None`` when it is not a mapping or has no JSON form."""
    function = call.get("function", call) if isinstance(call, Mapping) else None
    if not isinstance(function, Mapping):
        return None
    arguments = function.get("arguments", {})
    if isinstance(arguments, str) and arguments:
        try:
            arguments = json.loads(arguments)
        except UNREADABLE_ERRORS:
            pass  # kept as the string: the env's parser reports what is wrong with it
    try:
        return format_tool_call(function.get("name"), arguments)
    except UNREADABLE_ERRORS:
        return None


def completion_actions(completion: Any, parser: ToolCallParser | None = None) -> list[Any]:
    """The model's turns in a finished completion, as ``env.step`` actions (:func:`assistant_action` with ``parser``).

    A list of chat messages gives one action per ``assistant`` message (other
    roles, and items that are not messages, are not the model's turns); a
    single message counts as a list of one; a string is one turn of text.
    Anything else is one action the env refuses (it is not text).
    """
    if isinstance(completion, str):
        return [completion]
    if isinstance(completion, Mapping):
        completion = [completion]
    if not isinstance(completion, (list, tuple)):
        return [completion]
    return [assistant_action(message, parser) for message in completion if _is_assistant(message)]


def _is_assistant(message: Any) -> bool:
    try:
        return isinstance(message, Mapping) and message.get("role") == "assistant"
    except UNREADABLE_ERRORS:
        return False


@dataclass(frozen=True)
class StepRecord:
    """One ``env.step`` as the session saw it.

    Attributes:
        reward: the step's reward in the session's reward mode.
        info: the step's ``info`` without ``messages`` and ``tools``.
        terminated, truncated: the step's flags.
    """

    reward: float
    info: dict[str, Any]
    terminated: bool
    truncated: bool


@dataclass
class _Ran:
    name: str
    arguments: dict[str, Any]
    result: ToolResult


class _ReplayRuntime:
    """Stands in for the env's runtime during one ``step``: calls already run give their result back.

    A call that matches the oldest remembered call (same name and arguments)
    returns its result; any other call runs on the real runtime.
    """

    def __init__(self, runtime: ToolRuntime, ran: deque[_Ran]) -> None:
        self._runtime = runtime
        self._ran = ran
        self.replayed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)

    def execute(
        self, name: str | None, arguments: Mapping[str, Any] | None, budget_s: float | None = None
    ) -> ToolResult:
        for index, ran in enumerate(self._ran):
            if ran.name == name and ran.arguments == arguments:
                del self._ran[index]
                self.replayed += 1
                return ran.result
        return self._runtime.execute(name, arguments, budget_s)


@dataclass
class EpisodeSession:
    """An episode of ``env`` fed call by call and turn by turn (see the module doc).

    Args:
        env: the text environment (:func:`make_text_env`).
    """

    env: ToolUseEnv
    steps: list[StepRecord] = field(default_factory=list)
    observation: str = ""
    _ran: deque[_Ran] = field(default_factory=deque, repr=False)
    _started: bool = field(default=False, repr=False)

    @property
    def reward_mode(self) -> str:
        return self.env.reward_mode

    @property
    def done(self) -> bool:
        return self._started and self.env.trajectory.done

    @property
    def episode_return(self) -> float:
        """The sum of the step rewards so far, in the env's reward mode (the return ``gym.make`` gives)."""
        return round(math.fsum(step.reward for step in self.steps), 10)

    def returns_by_mode(self) -> dict[str, float]:
        """The return so far of every reward mode."""
        return {mode: round(math.fsum(step.info["rewards"][mode] for step in self.steps), 10) for mode in REWARD_MODES}

    def reset(self, task_id: str | None = None, seed: int | None = None, **options: Any) -> str:
        """Start an episode on the task ``task_id`` (a split's id, or a generated ``"<domain>-<seed>"``).

        Without ``task_id`` the env draws a task from ``seed``. Other keyword
        arguments are ``reset`` options (``difficulty``, ``task``).

        Raises:
            ValueError, TypeError: the env's own errors (an unknown id, ...).
        """
        if task_id is not None:
            options["task_id"] = task_id
        observation, _ = self.env.reset(seed=seed, options=options or None)
        self.steps = []
        self._ran.clear()
        self._started = True
        self.observation = observation
        return observation

    def call(self, name: str, arguments: Mapping[str, Any]) -> ToolResult:
        """Run one call now as ``env.step`` runs a call block, and remember it for :meth:`play_turn`.

        The call is written out as the block a model writes (:func:`call_block`)
        and read back by the env's parser, so NaN, an int with too many digits
        or arguments that are not an object get the parse error ``env.step``
        gives for them; a call the parser reads runs through the env's runtime
        under a turn's time budget. A call too long for a turn is answered
        ``invalid_action`` after O(turn limit) work, whatever its size.

        Never raises: a bad name or bad arguments give the env's error result.
        """
        self._require_started()
        env = self.env
        shown_name = name if isinstance(name, str) else None
        if env.trajectory.done:
            return error_result(shown_name, INVALID_ACTION, "the episode is over; no more tool calls are run")
        try:
            block = call_block(name, arguments, env.max_action_chars, env.parser)
        except UnwritableCall as exc:
            return error_result(shown_name, exc.category, str(exc))
        parsed = env.parser.parse(block)
        if len(parsed.calls) != 1:
            return error_result(
                shown_name,
                PARSE_ERROR,
                "written out, the call does not read back as one tool call (a string in it holds tool-call tags)",
            )
        (result,) = env.execute_calls(parsed)  # the env's own per-block handling: parse errors, runtime, turn budget
        read = parsed.calls[0]
        if read.ok:
            self._ran.append(_Ran(str(read.name), dict(read.arguments or {}), result))
        return result

    def play_turn(self, text: Any) -> StepRecord:
        """``env.step(text)``, with the calls :meth:`call` already ran answered by their results.

        ``text`` is what the model wrote; anything that is not text is refused by
        the env (``invalid_action``), as ``env.step`` refuses it.
        """
        self._require_started()
        real = self.env.runtime
        self.env.runtime = _ReplayRuntime(real, self._ran)  # type: ignore[assignment]
        try:
            observation, reward, terminated, truncated, info = self.env.step(text)
        finally:
            self.env.runtime = real
        self.observation = observation
        lean = {key: info[key] for key in LEAN_INFO_KEYS if key in info}
        record = StepRecord(float(reward), lean, bool(terminated), bool(truncated))
        self.steps.append(record)
        return record

    def play_message(self, message: Any) -> StepRecord:
        """Play one assistant chat message (``content`` and structured ``tool_calls``) as a turn.

        A message of any shape is played: :func:`assistant_action` says what the env reads.
        """
        return self.play_turn(assistant_action(message, self.env.parser))

    def finish(self, completion: Sequence[Mapping[str, Any]] | Any) -> float:
        """Play a finished completion's assistant messages as turns and return the episode return.

        ``completion`` is the conversation after the prompt as chat messages
        (``assistant``, ``tool``, ..., ``assistant``). Each assistant message is
        one turn; ``tool`` messages are the results, which the env recomputes
        from the remembered calls. A completion whose last turn still calls a
        tool (the trainer's turn or length budget cut it) never ended: its
        return is 0.0 in every mode, as for a truncated episode.

        Any other shape is played too, never raising (:func:`completion_actions`):
        a string is one turn; what is not text is a turn the env refuses, so
        an episode that ends there never ended and scores 0.0.
        """
        self._require_started()
        for action in completion_actions(completion, self.env.parser):
            if self.env.trajectory.done:
                break
            self.play_turn(action)
        if not self.env.trajectory.done:
            self.abandon()
        return self.episode_return

    def abandon(self) -> None:
        """End an episode that never ended: it scores 0.0 in every mode, like a truncated one.

        The steps' rewards so far are kept in :attr:`steps`; one record is added
        that cancels their sum (the shaping paid so far in ``dense``).
        """
        self._require_started()
        if self.env.trajectory.done:
            return
        cancel = {mode: -value for mode, value in self.returns_by_mode().items()}
        info = {
            "rewards": cancel,
            "reward_components": {"abandoned": 1.0},
            "tool_calls": [],
            "errors": [],
            "turn": len(self.env.trajectory.turns),
            "task_id": self.env.task.id if self.env.task else None,
            "final_answer": self.env.trajectory.final_answer,
        }
        self.env.trajectory.truncated = True
        self.steps.append(StepRecord(cancel[self.reward_mode], info, False, True))

    def summary(self) -> dict[str, float]:
        """Per-episode numbers for logging: turns, tool calls, errors, correct, return of each mode."""
        components: Mapping[str, float] = next(
            (
                step.info["reward_components"]
                for step in reversed(self.steps)
                if "correct" in step.info["reward_components"]
            ),
            {},
        )
        return {
            "turns": float(len(self.env.trajectory.turns)),
            "tool_calls": float(sum(len(step.info["tool_calls"]) for step in self.steps)),
            "errors": float(sum(len(step.info["errors"]) for step in self.steps)),
            "correct": float(components.get("correct", 0.0)),
            "tool_set_match": float(components.get("tool_set_match", 0.0)),
            **{f"return/{mode}": value for mode, value in self.returns_by_mode().items()},
        }

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("call reset() before playing the episode")
