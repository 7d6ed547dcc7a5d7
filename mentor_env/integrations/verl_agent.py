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

Resources (verl 0.9.1 never calls ``calc_reward`` and calls ``release`` only
for the per-call instance ids it gets from ``create``)
    An episode of the Table domain holds a sandbox child process (~46 MB), so
    what keeps an episode matters:

    * the episode of a trajectory lives as long as verl's ``agent_data`` for
      it: when verl drops that object at the end of the rollout, the episode
      is dropped and its env closed, by a reaper thread, whatever verl calls;
    * an episode that ended (its turn budget spent, or an interaction's final
      turn), or whose ``calc_reward`` / ``release`` was called, closes its
      env's processes at once and keeps only its numbers;
    * any episode unused for :data:`IDLE_RELEASE_S` closes its processes (a
      later call starts another, a start-up the call is not charged for); an
      episode without a live ``agent_data`` is dropped after
      :data:`IDLE_DROP_S` unused, or beyond :data:`MAX_SESSIONS` of them.

    So the sandbox children of a process are at most its live, unfinished,
    recently used episodes.

Event loop
    verl runs every tool call of a worker on one asyncio event loop. The env
    work of a call (starting the episode, ``env.step`` with its tools, a
    Table query in its sandbox child) runs in a thread pool of
    :data:`MAX_WORKERS` threads, so a slow or runaway call never stalls the
    other trajectories' coroutines; the calls of one trajectory run one at a time.

Bad input
    ``execute`` never raises on what the model wrote: arguments that are not
    an object, NaN, huge ints, a turn longer than the env takes, calls the
    env could not read, all get the env's own error result for that call (the
    ``parse_error`` / ``invalid_args`` / ``invalid_action`` of ``env.step``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import queue
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from mentor_env.core.env import ToolUseEnv
from mentor_env.core.parsing import TOOL_CALL_OPEN, ParsedCall, ToolCallParser, writes_own_format
from mentor_env.core.tools import INVALID_ACTION, ToolResult, error_result
from mentor_env.integrations.scoring import UNREADABLE_ERRORS
from mentor_env.integrations.session import (
    EpisodeSession,
    UnwritableCall,
    assistant_action,
    call_block,
    describe_argument,
    make_text_env,
)

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
# Episodes per process without a live agent_data (callers that pass none); the least recently used
# beyond this are dropped. Episodes of live trajectories are never dropped for room.
MAX_SESSIONS = 4096
# An episode unused this long closes its env's processes (the Table sandbox child); its next call starts one.
IDLE_RELEASE_S = 60.0
# An episode without a live agent_data, unused this long, is dropped (its trajectory is long over).
IDLE_DROP_S = 600.0
# The registry looks for idle episodes at most this often (on its next use).
SWEEP_EVERY_S = 1.0
# Threads that run env work off verl's event loop, per process.
MAX_WORKERS = 32

_T = TypeVar("_T")


class _Background:
    """The process's thread pool for env work and its reaper thread, both remade in a forked child.

    The reaper runs the work that weakref callbacks hand it: such a callback
    runs wherever a garbage collection happens (verl's event loop, inside any
    lock), so it only puts the work on a ``SimpleQueue``, whose ``put`` is
    safe there.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._pool: ThreadPoolExecutor | None = None
        self._reaped: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def pool(self) -> ThreadPoolExecutor:
        self._ensure_started()
        assert self._pool is not None
        return self._pool

    def reap(self, work: Callable[[], None]) -> None:
        """Run ``work`` on the reaper thread (safe in a weakref callback)."""
        self._reaped.put(work)

    def _ensure_started(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pool = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="mentor-env-verl")
            threading.Thread(target=self._reap_forever, name="mentor-env-verl-reaper", daemon=True).start()
            self._pid = os.getpid()

    def _reap_forever(self) -> None:
        while True:
            work = self._reaped.get()
            try:
                work()
            except Exception:  # a failed close must not stop the reaper
                pass

    def after_fork(self) -> None:
        # The parent's threads do not exist here, and its lock may have been held by one of them.
        self._lock = threading.Lock()
        self._pid = 0
        self._pool = None
        self._reaped = queue.SimpleQueue()


_background = _Background()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_background.after_fork)


async def _off_loop(function: Callable[..., _T], *args: Any) -> _T:
    """``function(*args)`` in the env thread pool, awaited without blocking the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_background.pool(), functools.partial(function, *args))


class _TurnAnswers:
    """The env's results for one assistant turn, handed out to verl's calls of that turn.

    Args:
        key: which assistant message the turn is.
        env: the env right after it played the turn.
        reward: the turn's step reward, paid to the first call answered.
    """

    def __init__(self, key: Any, env: ToolUseEnv, reward: float) -> None:
        turn = env.trajectory.turns[-1]
        paired = min(len(turn.parsed.calls), env.max_calls_per_turn, len(turn.results))
        self.key = key
        self.calls: list[tuple[ParsedCall, ToolResult]] = list(zip(turn.parsed.calls[:paired], turn.results[:paired]))
        # Results for the turn as a whole: a turn refused unread, calls past the per-turn limit.
        self.turn_wide: list[ToolResult] = list(turn.results[paired:])
        self.claimed = [False] * len(self.calls)
        self.reward = reward
        self.limit = env.max_action_chars
        self.paid = False

    def claim(self, name: str, arguments: Any) -> tuple[ToolResult, float] | None:
        """The result of the call ``name(arguments)`` in this turn and its reward; ``None`` if the env read no such call.

        In order: an unanswered call the env read with these arguments; an
        unanswered block whose text is this call's (NaN and arguments that are
        not an object, which the env could not read; ``null``, which it reads
        as ``{}``); the turn's own result (a turn refused unread, calls past
        the limit); an unanswered unreadable block of this tool (the two
        parsers split the text differently).
        """
        index = self._find(lambda call: call.ok and call.name == name and _same(call.arguments, arguments))
        if index is None:
            written = _written(name, arguments, self.limit)
            index = self._find(lambda call: written is not None and call.raw.strip() == written)
        if index is None and self.turn_wide:
            return self._pay(self.turn_wide[0])
        if index is None:
            index = self._find(lambda call: not call.ok and call.name == name)
        if index is None:
            return None
        self.claimed[index] = True
        return self._pay(self.calls[index][1])

    def _find(self, matches: Callable[[ParsedCall], bool]) -> int | None:
        return next((i for i, (call, _) in enumerate(self.calls) if not self.claimed[i] and matches(call)), None)

    def _pay(self, result: ToolResult) -> tuple[ToolResult, float]:
        reward = 0.0 if self.paid else self.reward
        self.paid = True
        return result, reward


def _same(left: Any, right: Any) -> bool:
    try:
        return bool(left == right)
    except UNREADABLE_ERRORS:
        return False


def _written(name: str, arguments: Any, limit: int) -> str | None:
    """The JSON a call block holds for ``name(arguments)`` (``None``: longer than a turn, or not JSON)."""
    try:
        return call_block(name, arguments, limit).split("\n", 2)[1]
    except UnwritableCall:
        return None


class _Episode:
    """One trajectory's session, its owner (verl's ``agent_data``) and where its current turn stands."""

    def __init__(self, session: EpisodeSession, env_id: str) -> None:
        self.session = session
        self.env_id = env_id
        self.lock = threading.Lock()  # one call at a time: verl runs a turn's calls concurrently
        self.turn: _TurnAnswers | None = None
        self.last_used = time.monotonic()
        self.released = True  # no process runs before the first call
        self.owner_id: int | None = None
        self.finalizer: weakref.finalize | None = None

    @property
    def owned(self) -> bool:
        """Whether a live ``agent_data`` owns the episode."""
        return self.finalizer is not None and self.finalizer.alive

    def serves(self, owner: Any) -> bool:
        """Whether a call from ``owner`` (an ``agent_data`` or ``None``) belongs to this episode."""
        if owner is None or self.finalizer is None:
            return True
        return self.finalizer.alive and self.owner_id == id(owner)

    def release(self) -> None:
        """Close the env's processes (the caller holds :attr:`lock`); the episode keeps its numbers."""
        self.session.env.close()
        self.released = True

    def close(self) -> None:
        """Close the env's processes, waiting for a call in progress to end."""
        with self.lock:
            self.release()

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
    """Episodes by trajectory id, shared by every tool object and interaction of the process (rules: module doc)."""

    def __init__(
        self, capacity: int = MAX_SESSIONS, idle_release_s: float = IDLE_RELEASE_S, idle_drop_s: float = IDLE_DROP_S
    ) -> None:
        self.capacity = capacity
        self.idle_release_s = idle_release_s
        self.idle_drop_s = idle_drop_s
        self._episodes: OrderedDict[str, _Episode] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()
        self._swept = -float("inf")

    def get(self, key: str) -> _Episode | None:
        with self._lock:
            episode = self._episodes.get(key)
            if episode is not None:
                self._touch(key, episode)
            return episode

    def start(self, key: str, config: Mapping[str, Any], task_id: Any = None, owner: Any = None) -> _Episode:
        """The episode of ``key``, started on ``task_id`` if it does not exist yet (or belongs to another owner).

        ``owner`` is the trajectory's ``agent_data``: the episode is dropped when it is garbage-collected.
        """
        self.sweep()
        with self._lock:
            episode = self._episodes.get(key)
            if episode is not None and episode.serves(owner):
                self._touch(key, episode)
                self._adopt(key, episode, owner)
                return episode
        env_id, reward_mode, env_kwargs = _env_config(config)
        session = EpisodeSession(make_text_env(env_id, reward_mode, **env_kwargs))
        session.reset(task_id=None if task_id is None else str(task_id))
        started = _Episode(session, env_id)
        unused: _Episode | None
        with self._lock:
            current = self._episodes.get(key)
            if current is not None and current.serves(owner):  # another thread started it meanwhile
                started, unused = current, started
            else:
                unused = current
                self._episodes[key] = started
            self._touch(key, started)
            self._adopt(key, started, owner)
            evicted = self._over_capacity()
        for episode in [unused, *evicted]:
            if episode is not None and episode is not started:
                episode.close()
        return started

    def drop(self, key: str) -> None:
        """Forget ``key``'s episode and close its env."""
        with self._lock:
            episode = self._episodes.pop(key, None)
        if episode is not None:
            if episode.finalizer is not None:
                episode.finalizer.detach()
            episode.close()

    def sweep(self) -> None:
        """Close idle episodes' processes and drop stale unowned episodes (at most once per :data:`SWEEP_EVERY_S`)."""
        now = time.monotonic()
        with self._lock:
            if now - self._swept < SWEEP_EVERY_S:
                return
            self._swept = now
            idle, stale = [], []
            for key, episode in self._episodes.items():  # least recently used first
                unused = now - episode.last_used
                if unused < self.idle_release_s:
                    break
                if not episode.owned and unused >= self.idle_drop_s:
                    stale.append(key)
                elif not episode.released:
                    idle.append(episode)
            dropped = [self._episodes.pop(key) for key in stale]
        for episode in dropped:
            episode.close()
        for episode in idle:
            if episode.lock.acquire(blocking=False):  # a call in progress is not idle
                try:
                    episode.release()
                finally:
                    episode.lock.release()

    def __len__(self) -> int:
        return len(self._episodes)

    def _touch(self, key: str, episode: _Episode) -> None:
        episode.last_used = time.monotonic()
        self._episodes.move_to_end(key)

    def _adopt(self, key: str, episode: _Episode, owner: Any) -> None:
        """Drop the episode when ``owner`` is garbage-collected (owners that take no weak reference: never)."""
        if owner is None or episode.finalizer is not None:
            return
        try:
            finalizer = weakref.finalize(owner, _background.reap, functools.partial(self._forget, key, episode))
        except TypeError:
            return
        finalizer.atexit = False  # the sandbox kills its children at exit
        episode.owner_id = id(owner)
        episode.finalizer = finalizer
        _background.pool()  # the reaper runs from now on

    def _forget(self, key: str, episode: _Episode) -> None:
        with self._lock:
            if self._episodes.get(key) is episode:
                del self._episodes[key]
        episode.close()

    def _over_capacity(self) -> list[_Episode]:
        """Pop the least recently used unowned episodes beyond :attr:`capacity` (the caller holds the lock)."""
        excess = len(self._episodes) - self.capacity
        if excess <= 0:
            return []
        keys = [key for key, episode in self._episodes.items() if not episode.owned][:excess]
        return [self._episodes.pop(key) for key in keys]


episode_sessions = _Registry()


def _env_config(config: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    env_id = config.get("env_id")
    if not isinstance(env_id, str):
        raise ValueError(
            f"the mentor-env tool/interaction config needs env_id (such as 'mentor/Calc-v0'); got {dict(config)}"
        )
    env_kwargs = config.get("env_kwargs") or {}
    if not isinstance(env_kwargs, Mapping):
        raise TypeError(f"env_kwargs must be a mapping of gym.make arguments, got {type(env_kwargs).__name__}")
    return env_id, str(config.get("reward_mode", "mentor")), dict(env_kwargs)


def _response(text: str) -> Any:
    return ToolResponse(text=text) if ToolResponse is not None else {"text": text}


def _episode_key(agent_data: Any, instance_id: str) -> str:
    return str(getattr(agent_data, "request_id", None) or instance_id)


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
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(parameters.get("required", [])),
            },
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
        self._create_kwargs: OrderedDict[str, dict[str, Any]] = OrderedDict()  # bounded: MAX_SESSIONS
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
        self._create_kwargs[instance_id] = dict(create_kwargs) if isinstance(create_kwargs, Mapping) else {}
        self._create_kwargs.move_to_end(instance_id)
        while len(self._create_kwargs) > MAX_SESSIONS:  # a caller that never releases
            self._create_kwargs.popitem(last=False)
        return instance_id, _response("")

    async def execute(
        self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
    ) -> tuple[Any, float, dict[str, Any]]:
        """Run the call through the trajectory's episode: ``(response, step reward, metrics)``.

        The env work runs in the thread pool, off the event loop. Never raises
        on what the model wrote (module doc); an unknown ``task_id`` or a bad
        config raises the env's ``ValueError``.
        """
        agent_data = kwargs.get("agent_data")
        key = _episode_key(agent_data, instance_id)
        task_id = self._create_kwargs.get(instance_id, {}).get("task_id")
        result, reward, record = await _off_loop(self._execute_now, key, task_id, parameters, agent_data)
        extra_fields = getattr(agent_data, "extra_fields", None)
        if isinstance(extra_fields, dict):
            extra_fields[EXTRA_FIELDS_KEY] = record
        metrics = {"turn": record["turns"], "step_reward": reward, "error": result.error_category or ""}
        return _response(result.shown), reward, metrics

    async def calc_reward(self, instance_id: str, **kwargs: Any) -> float:
        """The trajectory's return so far (the episode's step rewards summed); closes the env's processes.

        verl <= 0.4 calls it when the trajectory ends; a later call would start a new process.
        """
        return await _off_loop(_settle, _episode_key(kwargs.get("agent_data"), instance_id))

    async def release(self, instance_id: str, **kwargs: Any) -> None:
        """Forget this call's ``create_kwargs``; an episode keyed by ``instance_id`` closes its env's processes.

        verl 0.9.1 releases each call's own instance id (no episode has it);
        verl <= 0.4 releases the trajectory's request id when it ends.
        """
        self._create_kwargs.pop(instance_id, None)
        if episode_sessions.get(instance_id) is not None:
            await _off_loop(_settle, instance_id)

    # --- the turn --------------------------------------------------------

    def _execute_now(
        self, key: str, task_id: Any, parameters: Any, agent_data: Any
    ) -> tuple[ToolResult, float, dict[str, Any]]:
        """:meth:`execute`'s env work (in the thread pool): the result, the reward and the episode's numbers."""
        episode = episode_sessions.start(key, self.config, task_id, owner=agent_data)
        with episode.lock:
            result, reward = self._answer(episode, parameters, agent_data)
            if episode.session.done:
                episode.release()
            return result, reward, episode.record()

    def _answer(self, episode: _Episode, parameters: Any, agent_data: Any) -> tuple[ToolResult, float]:
        """Play the call's turn if it is a new one, and hand out this call's result (the caller holds the lock)."""
        session = episode.session
        turn_key, action = _current_turn(agent_data, session.env.parser)
        if turn_key is None:  # no turn to read: this call alone is the turn
            try:
                action = call_block(self.name, parameters, session.env.max_action_chars, session.env.parser)
            except UnwritableCall as exc:
                return error_result(self.name, exc.category, str(exc)), 0.0
            turn_key = object()
        if episode.turn is None or turn_key != episode.turn.key:
            if session.done:
                return error_result(
                    self.name,
                    INVALID_ACTION,
                    "the episode is over (its turn budget is spent); no more tool calls are run",
                ), 0.0
            record = session.play_turn(action)
            episode.released = False
            episode.turn = _TurnAnswers(turn_key, session.env, record.reward)
        answer = episode.turn.claim(self.name, parameters)
        if answer is None:
            return error_result(
                self.name, INVALID_ACTION, "the environment read no such call in this turn (or answered it already)"
            ), 0.0
        return answer


def _settle(key: str) -> float:
    """The return of ``key``'s episode (0.0 for none), its env's processes closed."""
    episode = episode_sessions.get(key)
    if episode is None:
        return 0.0
    episode.close()
    return episode.session.episode_return


def _schema_name(schema: Any) -> str:
    if isinstance(schema, Mapping):
        return str(schema["function"]["name"])
    return str(schema.function.name)


def _current_turn(agent_data: Any, parser: ToolCallParser | None = None) -> tuple[Any, Any]:
    """A key that tells the loop's current assistant turn apart, and the action it is; ``(None, None)`` for none.

    verl appends the turn (content and parsed ``tool_calls``; or, with
    interactions in verl <= 0.7, the decoded text) to ``agent_data.messages``
    before running its calls. A message that cannot be read as text is the
    action as is: the env refuses it, and every call of the turn gets that answer.
    """
    try:
        messages = getattr(agent_data, "messages", None)
        if not isinstance(messages, list) or not messages:
            return None, None
        last = messages[-1]
        if not isinstance(last, Mapping) or last.get("role") != "assistant":
            return None, None
        structured = bool(last.get("tool_calls"))
    except UNREADABLE_ERRORS:
        return None, None
    action = assistant_action(last, parser)
    if not structured and not _holds_calls(action, parser):
        return None, None
    return (len(messages), id(last)), action


def _holds_calls(action: Any, parser: ToolCallParser | None) -> bool:
    """Whether a turn of text holds tool-call markup (a Hermes ``<tool_call>``, or what ``parser`` reads as a call)."""
    if not isinstance(action, str):
        return False
    if writes_own_format(parser):
        return parser.parse(action).has_tool_markup  # type: ignore[union-attr]
    return TOOL_CALL_OPEN in action


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
        await _off_loop(episode_sessions.start, instance_id, self.config, kwargs.get("task_id"))
        return instance_id

    async def generate_response(
        self, instance_id: str, messages: list[dict[str, Any]], **kwargs: Any
    ) -> tuple[bool, str, float, dict[str, Any]]:
        """Play the last assistant message as the final turn: ``(terminate, "", step reward, the episode's numbers)``."""
        return await _off_loop(self._respond, instance_id, messages, kwargs.get("task_id"))

    async def calculate_score(self, instance_id: str | None = None, **kwargs: Any) -> float:
        """The episode's return (0.0 for an unknown id)."""
        episode = episode_sessions.get(instance_id) if instance_id else None
        return episode.session.episode_return if episode is not None else 0.0

    async def finalize_interaction(self, instance_id: str | None = None, **kwargs: Any) -> None:
        """Drop the trajectory's episode."""
        if instance_id:
            await _off_loop(episode_sessions.drop, instance_id)

    def _respond(self, instance_id: str, messages: Any, task_id: Any) -> tuple[bool, str, float, dict[str, Any]]:
        """:meth:`generate_response`'s env work (in the thread pool); the episode ends and closes its processes."""
        episode = episode_sessions.start(instance_id, self.config, task_id)
        with episode.lock:
            session = episode.session
            reward = 0.0
            final = _last_assistant(messages)
            if not session.done and final is not None:
                reward = session.play_message(final).reward
            if not session.done:
                session.abandon()  # the final message still asks for tools: the rollout never ended
                reward = session.steps[-1].reward
            episode.release()
            return True, "", reward, episode.record()


def _last_assistant(messages: Any) -> Any:
    """The last assistant message of ``messages`` (``None`` when there is none, or ``messages`` is not a list)."""
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        try:
            if isinstance(message, Mapping) and message.get("role") == "assistant":
                return message
        except UNREADABLE_ERRORS:
            continue
    return None


# --- config files ---------------------------------------------------------------


def verl_tool_config(env_id: str = "mentor/Calc-v0", reward_mode: str = "mentor", **env_kwargs: Any) -> dict[str, Any]:
    """The ``tool_config_path`` contents for ``env_id``: one :class:`MentorTool` per domain tool."""
    env = make_text_env(env_id, reward_mode, **env_kwargs)
    config = {"type": "native", "env_id": env_id, "reward_mode": reward_mode, "env_kwargs": dict(env_kwargs)}
    tools = [
        {
            "class_name": f"{__name__}.MentorTool",
            "config": {**config, "name": spec["function"]["name"]},
            "tool_schema": _verl_schema(spec),
        }
        for spec in env.runtime.specs
    ]
    env.close()
    return {"tools": tools}


def write_verl_tool_config(
    path: str | Path, env_id: str = "mentor/Calc-v0", reward_mode: str = "mentor", **env_kwargs: Any
) -> Path:
    """Write :func:`verl_tool_config` to ``path`` (JSON, which verl's YAML loader reads)."""
    path = Path(path)
    path.write_text(json.dumps(verl_tool_config(env_id, reward_mode, **env_kwargs), indent=2) + "\n")
    return path


def verl_interaction_config(
    env_id: str = "mentor/Calc-v0", reward_mode: str = "mentor", name: str = "mentor", **env_kwargs: Any
) -> dict[str, Any]:
    """The ``interaction_config_path`` contents (verl 0.4 to 0.7): one :class:`MentorInteraction`."""
    make_text_env(env_id, reward_mode, **env_kwargs).close()
    return {
        "interaction": [
            {
                "name": name,
                "class_name": f"{__name__}.MentorInteraction",
                "config": {"env_id": env_id, "reward_mode": reward_mode, "env_kwargs": dict(env_kwargs)},
            }
        ]
    }


def write_verl_interaction_config(
    path: str | Path, env_id: str = "mentor/Calc-v0", reward_mode: str = "mentor", **env_kwargs: Any
) -> Path:
    """Write :func:`verl_interaction_config` to ``path`` (JSON, which verl's YAML loader reads)."""
    path = Path(path)
    path.write_text(json.dumps(verl_interaction_config(env_id, reward_mode, **env_kwargs), indent=2) + "\n")
    return path
