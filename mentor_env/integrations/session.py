"""One episode of a text environment, driven by a trainer's tool loop.

Trainers with a built-in tool loop (TRL's ``environment_factory``, verl's tool
agent loop) call the tools one at a time and tell the environment where an
assistant turn starts and ends either later (TRL: the finished completion) or
never directly (verl: the turn is the last assistant message). An
:class:`EpisodeSession` bridges that to :class:`~mentor_env.core.env.ToolUseEnv`:

* :meth:`EpisodeSession.call` runs one call now, through the environment's own
  :class:`~mentor_env.core.tools.ToolRuntime` (the same validation, bounds,
  time limit and error text as ``env.step``), and remembers its result;
* :meth:`EpisodeSession.play_turn` plays a whole assistant turn through
  ``env.step``. A call already run by :meth:`call` is not run again: its
  remembered result is handed to ``step`` in its place, so the step's rewards,
  ``info`` and conversation are exactly those of ``gym.make`` for the same
  turn, and each tool still runs once;
* :meth:`EpisodeSession.finish` plays a finished completion (chat messages)
  turn by turn, its final answer included, and returns the episode's return.

The session keeps every step's rewards and a lean ``info`` (no conversation)
for logging: :attr:`EpisodeSession.steps`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import gymnasium as gym

import mentor_env  # noqa: F401  (registers the ids)
from mentor_env.core.env import ToolUseEnv
from mentor_env.core.messages import render_assistant_text
from mentor_env.core.rewards import REWARD_MODES
from mentor_env.core.tools import INVALID_ACTION, ToolResult, ToolRuntime, error_result

__all__ = ["EpisodeSession", "StepRecord", "describe_argument", "make_text_env"]

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
        raise ValueError(f"{env_id!r} is not a text tool-use env (its actions are not text); use a mentor/<Domain>-v0 id")
    return env


def describe_argument(name: str, schema: Mapping[str, Any]) -> str:
    """An argument's description with its schema's bounds in words, for tool formats that keep only the text.

    TRL (through type hints and docstrings) and verl (its pydantic tool schema)
    keep a property's type, description and enum and drop ``minimum``,
    ``maxItems`` and the like; the environment still enforces them.
    """
    units = {"minLength": " characters", "maxLength": " characters", "minItems": " items", "maxItems": " items"}
    labels = {"minimum": "at least", "maximum": "at most", "minLength": "at least", "maxLength": "at most",
              "minItems": "at least", "maxItems": "at most"}
    bounds = [f"{label} {schema[key]}{units.get(key, '')}" for key, label in labels.items() if key in schema]
    text = str(schema.get("description") or name).strip().replace("\n", " ")
    return f"{text} ({', '.join(bounds)})" if bounds else text


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

    def execute(self, name: str | None, arguments: Mapping[str, Any] | None, budget_s: float | None = None) -> ToolResult:
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
        """Run one call now through the env's runtime and remember it for :meth:`play_turn`.

        Never raises: a bad name or bad arguments give the env's error result.
        """
        self._require_started()
        if self.env.trajectory.done:
            return error_result(name, INVALID_ACTION, "the episode is over; no more tool calls are run")
        plain = dict(arguments) if isinstance(arguments, Mapping) else arguments
        result = self.env.runtime.execute(name, plain)
        if isinstance(plain, dict):
            self._ran.append(_Ran(name, plain, result))
        return result

    def play_turn(self, text: str) -> StepRecord:
        """``env.step(text)``, with the calls :meth:`call` already ran answered by their results."""
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

    def play_message(self, message: Mapping[str, Any]) -> StepRecord:
        """Play one assistant chat message (``content`` and structured ``tool_calls``) as a turn."""
        return self.play_turn(render_assistant_text(message))

    def finish(self, completion: Sequence[Mapping[str, Any]]) -> float:
        """Play a finished completion's assistant messages as turns and return the episode return.

        ``completion`` is the conversation after the prompt as chat messages
        (``assistant``, ``tool``, ..., ``assistant``). Each assistant message is
        one turn; ``tool`` messages are the results, which the env recomputes
        from the remembered calls. A completion whose last turn still calls a
        tool (the trainer's turn or length budget cut it) never ended: its
        return is 0.0 in every mode, as for a truncated episode.

        Raises:
            TypeError: ``completion`` is not a list of chat messages.
        """
        self._require_started()
        if isinstance(completion, (str, bytes)) or not all(isinstance(message, Mapping) for message in completion):
            raise TypeError(
                "a completion must be the list of chat messages after the prompt "
                f"([{{'role': 'assistant', ...}}, {{'role': 'tool', ...}}, ...]), got {type(completion).__name__}"
            )
        for message in completion:
            if self.env.trajectory.done:
                break
            if message.get("role") == "assistant":
                self.play_message(message)
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
        info = {"rewards": cancel, "reward_components": {"abandoned": 1.0}, "tool_calls": [], "errors": [],
                "turn": len(self.env.trajectory.turns), "task_id": self.env.task.id if self.env.task else None,
                "final_answer": self.env.trajectory.final_answer}
        self.env.trajectory.truncated = True
        self.steps.append(StepRecord(cancel[self.reward_mode], info, False, True))

    def summary(self) -> dict[str, float]:
        """Per-episode numbers for logging: turns, tool calls, errors, correct, return of each mode."""
        components = next((step.info["reward_components"] for step in reversed(self.steps) if "correct" in step.info["reward_components"]), {})
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
