r"""mentor-env episodes inside verl's multi-turn agent loop: a ``BaseTool`` and an interaction.

verl's tool agent loop (``actor_rollout_ref.rollout.multi_turn``) generates a
turn, parses its tool calls, runs each through a tool object and appends the
results, until the model stops calling tools. :class:`MentorTool` is such a
tool object for one of a domain's tools; all the tools of one trajectory share
one :class:`~mentor_env.integrations.session.EpisodeSession`, keyed by the
trajectory's request id, so the environment sees the whole episode:

* a turn is played through ``env.step`` when its first call arrives (the
  loop passes ``agent_data``, whose last message is the assistant turn with
  all its calls), so every call gets the environment's result or error text
  and the turn's step reward (the per-turn shaping in ``dense``) is the tool
  reward of its first call (0.0 for the turn's other calls);
* each turn's numbers go to ``agent_data.extra_fields["mentor_env"]``, which
  verl's reward manager merges into the ``extra_info`` that the reward
  function (:func:`mentor_env.integrations.verl.compute_score`) receives;
* the final reward is the MENTOR score of the response: ``compute_score`` reads
  the tool agent loop's response turn by turn (``num_turns`` > 2), the same
  score as the environment's for the same turns. Where verl runs
  interactions (verl 0.4 to 0.7), :class:`MentorInteraction` plays the final
  answer through ``env.step`` and returns its reward as the turn score and the
  episode's return as the interaction's score.

The task comes from the row: :func:`mentor_env.integrations.verl.verl_row`
with ``agent=True`` writes ``extra_info.tools_kwargs`` (every tool's
``create_kwargs`` holds the ``task_id``) and ``extra_info.interaction_kwargs``.
:func:`verl_tool_config` / :func:`write_verl_tool_config` write the tool
config file (``actor_rollout_ref.rollout.multi_turn.tool_config_path``) and
:func:`write_verl_interaction_config` the interaction one.

verl 0.9.1 ships ``BaseTool`` (``verl.tools.base_tool``) but no
``BaseInteraction`` (``verl.interactions`` was removed after 0.7): the tool
subclasses verl's class when verl is installed; the interaction subclasses
``verl.interactions.base.BaseInteraction`` where it exists and otherwise has
the same methods.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping

from mentor_env.core.messages import message_calls, render_assistant_text
from mentor_env.core.parsing import format_tool_call
from mentor_env.core.tools import INVALID_ACTION, ToolResult, error_result
from mentor_env.integrations.session import EpisodeSession, describe_argument, make_text_env

try:  # verl is optional: without it the classes keep verl's interface
    from verl.tools.base_tool import BaseTool as _ToolBase
    from verl.tools.schemas import OpenAIFunctionToolSchema, ToolResponse

    VERL_IMPORT_ERROR: str | None = None
except ImportError as exc:  # pragma: no cover - depends on the install
    VERL_IMPORT_ERROR = str(exc)
    _ToolBase = object  # type: ignore[assignment,misc]
    OpenAIFunctionToolSchema = None  # type: ignore[assignment,misc]
    ToolResponse = None  # type: ignore[assignment,misc]

try:
    from verl.interactions.base import BaseInteraction as _InteractionBase  # verl <= 0.7
except ImportError:
    _InteractionBase = object  # type: ignore[assignment,misc]

__all__ = [
    "MentorInteraction",
    "MentorTool",
    "episode_sessions",
    "verl_interaction_config",
    "verl_tool_config",
    "write_verl_interaction_config",
    "write_verl_tool_config",
]

EXTRA_FIELDS_KEY = "mentor_env"
# Live episodes per process; the oldest is dropped beyond this (verl releases tools per call, not per trajectory).
MAX_SESSIONS = 4096


class _Episode:
    """One trajectory's session and where its current turn stands."""

    def __init__(self, session: EpisodeSession, env_id: str) -> None:
        self.session = session
        self.env_id = env_id
        self.turn_key: Any = None  # which assistant message the current env turn is
        self.results: list[tuple[str | None, Any, ToolResult]] = []  # (name, arguments, result) of its calls
        self.claimed: list[bool] = []
        self.reward_paid = False
        self.step_reward = 0.0

    def record(self) -> dict[str, Any]:
        """The JSON-safe numbers verl carries to the reward function."""
        session = self.session
        task = session.env.task
        return {
            "env_id": self.env_id,
            "task_id": task.id if task is not None else None,
            "reward_mode": session.reward_mode,
            "step_rewards": [step.reward for step in session.steps],
            "return": session.episode_return,
            "done": session.done,
            **{key: value for key, value in session.summary().items() if not key.startswith("return/")},
        }


class _Registry:
    """Episodes by trajectory id, shared by every tool object and interaction of the process."""

    def __init__(self, capacity: int = MAX_SESSIONS) -> None:
        self.capacity = capacity
        self._episodes: OrderedDict[str, _Episode] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> _Episode | None:
        with self._lock:
            return self._episodes.get(key)

    def start(self, key: str, config: Mapping[str, Any], task_id: Any = None) -> _Episode:
        """The episode of ``key``, started on ``task_id`` if it does not exist yet."""
        with self._lock:
            episode = self._episodes.get(key)
            if episode is not None:
                self._episodes.move_to_end(key)
                return episode
        env_id, reward_mode, env_kwargs = _env_config(config)
        session = EpisodeSession(make_text_env(env_id, reward_mode, **env_kwargs))
        session.reset(task_id=None if task_id is None else str(task_id))
        episode = _Episode(session, env_id)
        with self._lock:
            self._episodes[key] = episode
            while len(self._episodes) > self.capacity:
                _, dropped = self._episodes.popitem(last=False)
                dropped.session.env.close()
        return episode

    def drop(self, key: str) -> None:
        with self._lock:
            episode = self._episodes.pop(key, None)
        if episode is not None:
            episode.session.env.close()

    def __len__(self) -> int:
        return len(self._episodes)


episode_sessions = _Registry()


def _env_config(config: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    env_id = config.get("env_id")
    if not isinstance(env_id, str):
        raise ValueError(f"the mentor-env tool/interaction config needs env_id (such as 'mentor/Calc-v0'); got {dict(config)}")
    env_kwargs = config.get("env_kwargs") or {}
    if not isinstance(env_kwargs, Mapping):
        raise TypeError(f"env_kwargs must be a mapping of gym.make arguments, got {type(env_kwargs).__name__}")
    return env_id, str(config.get("reward_mode", "mentor")), dict(env_kwargs)


def _response(text: str) -> Any:
    return ToolResponse(text=text) if ToolResponse is not None else {"text": text}


def _verl_schema(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A tool spec in verl's pydantic layout (type, description, enum per property; bounds in the description)."""
    function = spec["function"]
    parameters = function.get("parameters", {})
    properties = {}
    for name, schema in parameters.get("properties", {}).items():
        prop: dict[str, Any] = {"type": schema.get("type", "string"), "description": describe_argument(name, schema)}
        if "enum" in schema:
            prop["enum"] = list(schema["enum"])
        properties[name] = prop
    return {
        "type": "function",
        "function": {
            "name": function["name"],
            "description": function.get("description", ""),
            "parameters": {"type": "object", "properties": properties, "required": list(parameters.get("required", []))},
        },
    }


class MentorTool(_ToolBase):  # type: ignore[misc,valid-type]
    """One domain tool for verl's tool agent loop, executed by the trajectory's mentor-env episode.

    Args:
        config: the tool config's ``config``: ``env_id`` (a text env id),
            optionally ``reward_mode`` (default ``"mentor"``), ``env_kwargs``
            (``gym.make`` arguments) and ``name`` (the tool, when no
            ``tool_schema`` is given).
        tool_schema: verl's ``OpenAIFunctionToolSchema`` (from the config file);
            ``None`` builds it from the domain's spec of ``config["name"]``.
    """

    def __init__(self, config: dict[str, Any], tool_schema: Any = None) -> None:
        self.config = dict(config)
        env_id, reward_mode, env_kwargs = _env_config(self.config)
        probe = make_text_env(env_id, reward_mode, **env_kwargs)
        self._specs = {spec["function"]["name"]: spec for spec in probe.runtime.specs}
        probe.close()
        self._create_kwargs: dict[str, dict[str, Any]] = {}
        if _ToolBase is object:
            self.tool_schema = tool_schema or self.get_openai_tool_schema()
            self.name = _schema_name(self.tool_schema)
        else:
            super().__init__(self.config, tool_schema)
        if self.name not in self._specs:
            raise ValueError(f"{env_id!r} has no tool {self.name!r}; its tools: {sorted(self._specs)}")

    def get_openai_tool_schema(self) -> Any:
        name = self.config.get("name")
        if name not in self._specs:
            raise ValueError(f"config['name'] must name one of the env's tools {sorted(self._specs)}, got {name!r}")
        schema = _verl_schema(self._specs[name])
        return OpenAIFunctionToolSchema.model_validate(schema) if OpenAIFunctionToolSchema is not None else schema

    async def create(self, instance_id: str | None = None, **kwargs: Any) -> tuple[str, Any]:
        """Remember the row's ``create_kwargs`` (the ``task_id``) for this call."""
        instance_id = instance_id or uuid.uuid4().hex
        create_kwargs = kwargs.get("create_kwargs", kwargs)
        self._create_kwargs[instance_id] = dict(create_kwargs or {})
        return instance_id, _response("")

    async def execute(self, instance_id: str, parameters: dict[str, Any], **kwargs: Any) -> tuple[Any, float, dict[str, Any]]:
        """Run the call through the trajectory's episode: ``(response, step reward, metrics)``."""
        agent_data = kwargs.get("agent_data")
        key = str(getattr(agent_data, "request_id", None) or instance_id)
        create_kwargs = self._create_kwargs.get(instance_id, {})
        episode = episode_sessions.start(key, self.config, create_kwargs.get("task_id"))
        result, reward = self._run(episode, parameters, agent_data)
        record = episode.record()
        extra_fields = getattr(agent_data, "extra_fields", None)
        if isinstance(extra_fields, dict):
            extra_fields[EXTRA_FIELDS_KEY] = record
        metrics = {"turn": record["turns"], "step_reward": reward, "error": result.error_category or ""}
        return _response(result.shown), reward, metrics

    async def calc_reward(self, instance_id: str, **kwargs: Any) -> float:
        """The trajectory's return so far (the episode's step rewards summed)."""
        agent_data = kwargs.get("agent_data")
        episode = episode_sessions.get(str(getattr(agent_data, "request_id", None) or instance_id))
        return episode.session.episode_return if episode is not None else 0.0

    async def release(self, instance_id: str, **kwargs: Any) -> None:
        """Forget this call's ``create_kwargs`` (the episode lives on for the trajectory's next calls)."""
        self._create_kwargs.pop(instance_id, None)

    # --- the turn --------------------------------------------------------

    def _run(self, episode: _Episode, parameters: Any, agent_data: Any) -> tuple[ToolResult, float]:
        session = episode.session
        message, turn_key = _current_turn(agent_data, self.name, parameters)
        if message is None:  # no turn to read: this call alone is the turn
            message, turn_key = {"role": "assistant", "content": format_tool_call(self.name, dict(parameters or {}))}, object()
        if turn_key != episode.turn_key:
            if session.done:
                return error_result(self.name, INVALID_ACTION, "the episode is over (its turn budget is spent); no more tool calls are run"), 0.0
            record = session.play_message(message)
            turn = session.env.trajectory.turns[-1]
            episode.turn_key = turn_key
            episode.results = [(call.name, call.arguments, result) for call, result in zip(turn.parsed.calls, turn.results)]
            episode.claimed = [False] * len(episode.results)
            episode.reward_paid = False
            episode.step_reward = record.reward
        for index, (name, arguments, result) in enumerate(episode.results):
            if not episode.claimed[index] and name == self.name and arguments == parameters:
                episode.claimed[index] = True
                reward = 0.0 if episode.reward_paid else episode.step_reward
                episode.reward_paid = True
                return result, reward
        return error_result(self.name, INVALID_ACTION, "this call is not one of the turn's calls (or was answered already)"), 0.0


def _schema_name(schema: Any) -> str:
    if isinstance(schema, Mapping):
        return str(schema["function"]["name"])
    return str(schema.function.name)


def _current_turn(agent_data: Any, name: str, parameters: Any) -> tuple[dict[str, Any] | None, Any]:
    """The assistant message the loop is running calls for, and a key that tells turns apart.

    verl appends the turn (content and parsed ``tool_calls``; or, with
    interactions in verl <= 0.7, the decoded text) to ``agent_data.messages``
    before running its calls.
    """
    messages = getattr(agent_data, "messages", None)
    if not messages or not isinstance(messages[-1], Mapping) or messages[-1].get("role") != "assistant":
        return None, None
    message = dict(messages[-1])
    try:
        calls = message_calls(message)
    except (ValueError, KeyError, TypeError, AttributeError):
        calls = []
    text = render_assistant_text(message) if calls else str(message.get("content") or "")
    if not calls and "<tool_call>" not in text:
        return None, None
    return {"role": "assistant", "content": text}, (len(messages), id(messages[-1]))


class MentorInteraction(_InteractionBase):  # type: ignore[misc,valid-type]
    """The final turn of a mentor-env episode in verl's interaction interface (verl 0.4 to 0.7).

    ``generate_response`` plays the model's final answer through ``env.step``
    and ends the rollout; its turn score is that step's reward, and
    ``calculate_score`` is the episode's return (the MENTOR score, plus the
    per-turn shaping already paid to the tool calls in ``dense``).

    Args:
        config: ``name`` (what ``interaction_kwargs["name"]`` selects, default
            ``"mentor"``), ``env_id``, optionally ``reward_mode`` and ``env_kwargs``.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = dict(config)
        self.name = str(self.config.get("name", "mentor"))
        _env_config(self.config)  # fail early on a missing env_id

    async def start_interaction(self, instance_id: str | None = None, **kwargs: Any) -> str:
        """Start the trajectory's episode on ``kwargs["task_id"]`` (``instance_id`` is verl's request id)."""
        instance_id = instance_id or uuid.uuid4().hex
        episode_sessions.start(instance_id, self.config, kwargs.get("task_id"))
        return instance_id

    async def generate_response(
        self, instance_id: str, messages: list[dict[str, Any]], **kwargs: Any
    ) -> tuple[bool, str, float, dict[str, Any]]:
        """Play the last assistant message as the final turn: ``(terminate, "", step reward, the episode's numbers)``."""
        episode = episode_sessions.start(instance_id, self.config, kwargs.get("task_id"))
        session = episode.session
        reward = 0.0
        final = next((m for m in reversed(messages) if isinstance(m, Mapping) and m.get("role") == "assistant"), None)
        if not session.done and final is not None:
            reward = session.play_message(final).reward
        if not session.done:
            session.abandon()  # the final message still asks for tools: the rollout never ended
            reward = session.steps[-1].reward
        return True, "", reward, episode.record()

    async def calculate_score(self, instance_id: str | None = None, **kwargs: Any) -> float:
        """The episode's return (0.0 for an unknown id)."""
        episode = episode_sessions.get(instance_id) if instance_id else None
        return episode.session.episode_return if episode is not None else 0.0

    async def finalize_interaction(self, instance_id: str | None = None, **kwargs: Any) -> None:
        """Drop the trajectory's episode."""
        if instance_id:
            episode_sessions.drop(instance_id)


# --- config files ---------------------------------------------------------------


def verl_tool_config(env_id: str = "mentor/Calc-v0", reward_mode: str = "mentor", **env_kwargs: Any) -> dict[str, Any]:
    """The ``tool_config_path`` contents for ``env_id``: one :class:`MentorTool` per domain tool."""
    env = make_text_env(env_id, reward_mode, **env_kwargs)
    config = {"type": "native", "env_id": env_id, "reward_mode": reward_mode, "env_kwargs": dict(env_kwargs)}
    tools = [
        {"class_name": f"{__name__}.MentorTool", "config": {**config, "name": spec["function"]["name"]}, "tool_schema": _verl_schema(spec)}
        for spec in env.runtime.specs
    ]
    env.close()
    return {"tools": tools}


def write_verl_tool_config(path: str | Path, env_id: str = "mentor/Calc-v0", reward_mode: str = "mentor", **env_kwargs: Any) -> Path:
    """Write :func:`verl_tool_config` to ``path`` (JSON, which verl's YAML loader reads)."""
    path = Path(path)
    path.write_text(json.dumps(verl_tool_config(env_id, reward_mode, **env_kwargs), indent=2) + "\n")
    return path


def verl_interaction_config(env_id: str = "mentor/Calc-v0", reward_mode: str = "mentor", name: str = "mentor", **env_kwargs: Any) -> dict[str, Any]:
    """The ``interaction_config_path`` contents (verl 0.4 to 0.7): one :class:`MentorInteraction`."""
    make_text_env(env_id, reward_mode, **env_kwargs).close()
    return {
        "interaction": [
            {"name": name, "class_name": f"{__name__}.MentorInteraction",
             "config": {"env_id": env_id, "reward_mode": reward_mode, "env_kwargs": dict(env_kwargs)}}
        ]
    }


def write_verl_interaction_config(path: str | Path, env_id: str = "mentor/Calc-v0", reward_mode: str = "mentor", **env_kwargs: Any) -> Path:
    """Write :func:`verl_interaction_config` to ``path`` (JSON, which verl's YAML loader reads)."""
    path = Path(path)
    path.write_text(json.dumps(verl_interaction_config(env_id, reward_mode, **env_kwargs), indent=2) + "\n")
    return path
