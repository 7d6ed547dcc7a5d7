r"""mentor-env text environments behind the OpenEnv protocol (``openenv-core`` 0.3).

    python -m mentor_env.serve --env mentor/Calc-v0 --port 8000            # 127.0.0.1 unless --host says otherwise
    python -m mentor_env.serve --env mentor/Calc-v0 mentor/Units-v0        # several ids; a reset picks one (env_id)
    python -m mentor_env.serve --env mentor/Table-v0 --max-sessions 512 --env-kwargs '{"reward_mode": "dense"}'
    python -m mentor_env.serve --help                                       # every limit and its default

Any OpenEnv client then resets and steps the environment over a WebSocket
(``ws://HOST:PORT/ws``), one isolated environment per connection: OpenEnv's
own server (``HTTPEnvServer``) creates a session with its own
:class:`MentorEnvironment` (and its own worker thread) when a client connects
and closes it when the client disconnects or dies. :class:`MentorEnvClient` is
the typed client (``EnvClient`` subclass; ``.sync()`` for blocking use).

Messages (OpenEnv's WebSocket protocol):

* ``{"type": "reset", "data": {"seed": 0, "task_id": "calc-42", "difficulty": 2}}``
  (every field optional; ``episode_id`` too; any other field is refused)
  starts an episode; ``"env_id": "mentor/Units-v0"`` picks one of the ids the
  server serves (the first is the default; the session's env becomes one of
  that id; an id not served is refused);
* ``{"type": "step", "data": {"text": "<tool_call>...</tool_call>"}}`` plays
  one assistant turn (:class:`MentorAction`);
* answers are ``{"type": "observation", "data": {"observation": {...},
  "reward": r, "done": d}}`` with the observation's ``text`` (what
  ``env.step`` returns), ``info`` (the env's ``info``: rewards of every mode,
  reward components, tool calls, errors, messages, tools, ...),
  ``terminated`` and ``truncated`` (:class:`MentorObservation`);
* ``{"type": "state"}`` gives :class:`MentorState`; ``{"type": "close"}`` ends
  the session.

No message ends a session but a close: every frame is read by
:func:`screen_frame` before OpenEnv sees it, and one that is too large, not
UTF-8, not JSON (broken, nested deeper than the parser goes, an integer of
more than 4,300 digits), not a message object, of an unknown type, with
fields a message does not have or data of the wrong shape gets an ``{"type":
"error", "data": {"code": ..., "message": ...}}`` answer (OpenEnv's codes,
plus ``FRAME_TOO_LARGE``) and the session goes on, as it does after an env's
refusal (a step before any reset or after the end, an unknown ``task_id``).
Error messages are short (values shown by type and a cut ``repr``), and
every answer encodes as UTF-8 (lone surrogates become U+FFFD). Below the
messages, the WebSocket layer closes a connection as RFC 6455 says: for a
frame over ``4 x max_frame_bytes`` (code 1009) or a text frame that is not
UTF-8 (1007).

Limits (``make_app``'s arguments; the CLI's in ``--help``): at most
``max_sessions`` sessions (256) and ``max_sessions_per_client`` (32) per client
address, refused with ``CAPACITY_REACHED``; a session whose client sends
nothing for ``session_timeout_s`` (600 s) gets a ``SESSION_EXPIRED`` error and
its connection is closed (code 1001); frames up to ``max_frame_bytes`` (1 MiB)
are read. Sessions exist only with a connection behind them, and only that
connection ends its session: the MCP session methods (``openenv/session/create``
and ``/close``, over ``POST /mcp`` or a ``{"type": "mcp"}`` message) are
refused, as mentor envs offer no MCP tools (a model's tool calls are part of
its turn). OpenEnv's stateless HTTP ``POST /reset`` makes a fresh env per
request (the same fields as the WebSocket; a bad one gets 422) and ``POST
/step`` always answers 409 (an HTTP request has no episode to step); bad
bodies get 400, 408 or 413 with a one-line reason, never a traceback.
:func:`mentor_env.serve_limits.server_config` adds the transport's limits
(connections, header deadlines, bounded logs) that ``python -m
mentor_env.serve`` runs with. ``GET /mentor/status`` reports the open sessions,
the limits and the server's memory, for load tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import reprlib
import signal
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Awaitable, Callable, Literal, Optional, Union, overload

from mentor_env.integrations import require

require("openenv", extra="serve")

from fastapi import FastAPI, HTTPException, Request  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from openenv.core.client_types import StepResult  # noqa: E402
from openenv.core.env_client import EnvClient  # noqa: E402
from openenv.core.env_server.http_server import HTTPEnvServer  # noqa: E402
from openenv.core.env_server.interfaces import Environment  # noqa: E402
from openenv.core.env_server.mcp_types import JsonRpcErrorCode, JsonRpcResponse  # noqa: E402
from openenv.core.env_server.serialization import serialize_observation  # noqa: E402
from openenv.core.env_server.types import (  # noqa: E402
    Action,
    ConcurrencyConfig,
    EnvironmentMetadata,
    Observation,
    ResetResponse,
    State,
)
from pydantic import Field  # noqa: E402

from mentor_env.core.text import valid_json, valid_text  # noqa: E402
from mentor_env.integrations.session import make_text_env  # noqa: E402

__all__ = [
    "MentorAction",
    "MentorEnvClient",
    "MentorEnvironment",
    "MentorObservation",
    "MentorState",
    "RequestError",
    "main",
    "make_app",
    "screen_frame",
    "served_ids",
    "utf8_safe",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_MAX_SESSIONS = 256
DEFAULT_MAX_SESSIONS_PER_CLIENT = 32
DEFAULT_SESSION_TIMEOUT_S = 600.0
DEFAULT_MAX_FRAME_BYTES = 1 << 20
DEFAULT_REQUEST_TIMEOUT_S = 10.0
WS_HARD_LIMIT_FACTOR = 4  # the WebSocket layer reads frames up to 4x max_frame_bytes; larger ones close the connection
ERROR_CHARS = 500  # the longest message an error answer carries
MAX_INFO_DEPTH = 64  # deeper parts of an observation are replaced by a note (no answer needs them)
RESET_FIELDS = ("seed", "task_id", "difficulty", "episode_id", "env_id")
MESSAGE_TYPES = ("reset", "step", "state", "close")
LOG = logging.getLogger("mentor_env.serve")


class RequestError(ValueError):
    """A client's request was refused; the message (short, valid UTF-8) says why. The session goes on."""


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 2, 4, 4


def utf8_safe(value: Any) -> Any:
    """``value`` with every surrogate in its strings (dict keys too) repaired (:func:`mentor_env.core.text.valid_json`).

    The env already returns valid text; this is the server's own guarantee for
    whatever an env gives it. The common case, nothing to repair, costs one
    ``json.dumps`` (in C) and one regex scan, and returns ``value`` itself.
    Otherwise containers are rebuilt where something changed, and parts nested
    deeper than ``MAX_INFO_DEPTH`` are replaced by a note.
    """
    try:
        dumped = json.dumps(value, ensure_ascii=False)
        if valid_text(dumped) is dumped:
            return value
    except (TypeError, ValueError, RecursionError):  # not plain JSON data, or too deep for the encoder
        pass
    return valid_json(value, max_depth=MAX_INFO_DEPTH)


def shorten(text: str, limit: int = ERROR_CHARS) -> str:
    """``text``, valid UTF-8, cut to ``limit`` characters with a note of its length."""
    text = utf8_safe(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters in all)"


def describe(value: Any) -> str:
    """A value for an error message: its type and a ``repr`` cut short (a huge or deep value costs nothing)."""
    try:
        shown = _REPR.repr(value)
    except ValueError:  # an int too long for str()
        shown = "<too many digits to show>"
    return f"{type(value).__name__} {shown}"


def check_reset_fields(fields: Mapping[str, Any]) -> None:
    """Refuse reset fields the env does not take, and values that are not a number, a string or a flat list of them.

    Raises:
        RequestError: naming the field, what was expected and what came.
    """
    unknown = [name for name in fields if name not in RESET_FIELDS]
    if unknown:
        names = ", ".join(describe(name).split(" ", 1)[1] for name in unknown[:5])
        raise RequestError(f"unknown reset field(s) {names}: a reset takes {', '.join(RESET_FIELDS)}")
    for name, value in fields.items():
        flat = isinstance(value, list) and len(value) <= 64 and all(_is_scalar(item) for item in value)
        if not (_is_scalar(value) or flat):
            raise RequestError(
                f"reset field {name!r} must be a number, a string or a list of them, got {describe(value)}"
            )
    for name in ("episode_id", "env_id"):
        value = fields.get(name)
        if value is not None and not (isinstance(value, str) and len(value) <= 255):
            raise RequestError(f"{name} must be a string of at most 255 characters, got {describe(value)}")


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


class MentorAction(Action):
    """One assistant turn: the raw text the model generated (tool calls in ``<tool_call>`` blocks, the answer in ``\\boxed{}``)."""

    text: str = Field(..., description="the model's turn, as for env.step(text)")


class MentorObservation(Observation):
    """What ``env.reset`` / ``env.step`` returned (``reward`` and ``done`` are OpenEnv's own fields)."""

    text: str = Field(default="", description="the observation text: the prompt on reset, then tool responses")
    info: dict[str, Any] = Field(default_factory=dict, description="the env's info dict")
    terminated: bool = Field(default=False, description="the model ended the episode (a turn without a tool call)")
    truncated: bool = Field(default=False, description="the episode hit max_turns")


class MentorState(State):
    """The session's episode: OpenEnv's ``episode_id`` and ``step_count``, plus the env's task and progress."""

    env_id: str = ""
    task_id: Optional[str] = None
    turn: int = 0
    done: bool = False


class MentorEnvironment(Environment[MentorAction, MentorObservation, MentorState]):
    """One session's mentor-env text environment, in OpenEnv's ``Environment`` interface.

    What it returns always encodes as UTF-8 (:func:`utf8_safe`), and what it
    refuses raises :class:`RequestError` with a short message, so that OpenEnv
    can always send the answer and the session goes on.

    Args:
        env_id: a text env id (``mentor/Calc-v0``, ...): the session's env until a reset picks another.
        env_ids: the ids a reset may pick with ``env_id=`` (default: ``env_id`` only).
        env_kwargs: ``gym.make`` arguments for every id (``reward_mode``, ``max_turns``, ``split``, ...).
    """

    SUPPORTS_CONCURRENT_SESSIONS = True  # every session has its own env; nothing mutable is shared

    def __init__(
        self, env_id: str = "mentor/Calc-v0", *, env_ids: Optional[Sequence[str]] = None, **env_kwargs: Any
    ) -> None:
        super().__init__()
        self.env_ids = tuple(env_ids) if env_ids else (env_id,)
        if env_id not in self.env_ids:
            raise ValueError(f"the default env id {env_id!r} is not among the served ids {list(self.env_ids)}")
        self._reward_mode = env_kwargs.pop("reward_mode", "mentor")
        self._env_kwargs = env_kwargs
        self.env_id = env_id
        self.env = make_text_env(env_id, self._reward_mode, **env_kwargs)
        self._state = MentorState(env_id=env_id)
        self._clean_tools: Any = None  # the env's tool specs once checked (see _encodable_info)

    def reset(
        self,
        seed: Optional[int] = None,
        episode_id: Optional[str] = None,
        task_id: Optional[str] = None,
        difficulty: Optional[int] = None,
        env_id: Optional[str] = None,
        **unknown: Any,
    ) -> MentorObservation:
        """``env.reset(seed=seed, options={"task_id": ..., "difficulty": ...})``, on ``env_id``'s env when given.

        Raises:
            RequestError: a field the env does not take (OpenEnv passes every
                field of the message here, so none is dropped unseen), an
                ``env_id`` this server does not serve, or the env's refusal
                (an unknown ``task_id``, a bad level or seed).
        """
        given = {
            "seed": seed,
            "episode_id": episode_id,
            "task_id": task_id,
            "difficulty": difficulty,
            "env_id": env_id,
            **unknown,
        }
        check_reset_fields({name: value for name, value in given.items() if value is not None})
        if env_id is not None and env_id != self.env_id:
            self._switch_to(env_id)
        options: dict[str, Any] = {}
        if task_id is not None:
            options["task_id"] = task_id
        if difficulty is not None:
            options["difficulty"] = difficulty
        text, info = self._call("reset", self.env.reset, seed=seed, options=options or None)
        self._state = MentorState(env_id=self.env_id, episode_id=episode_id, task_id=utf8_safe(info["task_id"]))
        return MentorObservation(text=utf8_safe(text), info=self._encodable_info(info), reward=None, done=False)

    def _switch_to(self, env_id: str) -> None:
        """Make the session's env one of ``env_id`` (one of :attr:`env_ids`; the old env is closed once the new one exists)."""
        if env_id not in self.env_ids:
            raise RequestError(
                f"env_id {shorten(env_id, 80)!r} is not served here: this server serves {', '.join(self.env_ids)}"
            )
        env = self._call("reset", make_text_env, env_id, self._reward_mode, **self._env_kwargs)
        self.env.close()
        self.env, self.env_id, self._clean_tools = env, env_id, None

    def step(self, action: MentorAction, timeout_s: Optional[float] = None, **kwargs: Any) -> MentorObservation:
        """``env.step(action.text)``; a step before any reset or after the episode ended is refused (:class:`RequestError`)."""
        if self.env.task is None:
            raise RequestError("no episode: send a reset message first")
        if self.env.trajectory.done:
            raise RequestError("the episode is over: send a reset message to start a new one")
        text, reward, terminated, truncated, info = self._call("step", self.env.step, action.text)
        self._state.step_count += 1
        self._state.turn = info["turn"]
        self._state.done = terminated or truncated
        return MentorObservation(
            text=utf8_safe(text),
            info=self._encodable_info(info),
            reward=float(reward),
            done=terminated or truncated,
            terminated=terminated,
            truncated=truncated,
        )

    def _call(self, name: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``method(*args, **kwargs)``, its errors turned into :class:`RequestError` (an unexpected one logged)."""
        try:
            return method(*args, **kwargs)
        except (ValueError, TypeError) as exc:  # the env's documented refusals
            raise RequestError(f"{name} refused: {shorten(str(exc))}") from None
        except Exception as exc:  # gymnasium's seed errors, or an env bug: the session must still get an answer
            if type(exc).__module__.split(".")[0] != "gymnasium":
                LOG.exception("%s: %s raised %s", self.env_id, name, type(exc).__name__)
            raise RequestError(f"{name} refused: {type(exc).__name__}: {shorten(str(exc))}") from None

    def _encodable_info(self, info: dict[str, Any]) -> dict[str, Any]:
        """``utf8_safe(info)``, checking the env's tool specs only once.

        ``info["tools"]`` is the env's own list of tool specs, the same object
        at every step and most of the info's bytes; nothing a model sends
        reaches it, so once it has been found clean it is not searched again.
        """
        tools = info.get("tools")
        if tools is None or tools is not self._clean_tools:
            info = utf8_safe(info)
            self._clean_tools = info.get("tools")
            return info
        rest = utf8_safe({key: value for key, value in info.items() if key != "tools"})
        return {key: tools if key == "tools" else rest[key] for key in info}

    @property
    def state(self) -> MentorState:
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        return EnvironmentMetadata(
            name=self.env_id,
            description=f"{self.env_id}: tool-use tasks with the dense teacher-guided (MENTOR) reward (reward mode "
            f"{self.env.reward_mode!r}); actions are the model's turns as text"
            + (f"; a reset's env_id picks one of {', '.join(self.env_ids)}" if len(self.env_ids) > 1 else ""),
            version="0.1.0",
        )

    def close(self) -> None:
        self.env.close()


# ---------------------------------------------------------------------------------------------------------------------
# WebSocket frames: read safely, answered here when malformed, passed to OpenEnv only when well formed.

Answer = dict[str, Any]


def _error(code: str, message: str, **extra: Any) -> Answer:
    return {"type": "error", "data": {"message": message, "code": code, **extra}}


def _json_kind(value: Any) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def parse_json(text: Union[str, bytes]) -> tuple[Any, Optional[str]]:
    """``(value, None)``, or ``(None, why)`` for text that is not JSON, too deeply nested or with too long a number."""
    try:
        return json.loads(text), None
    except RecursionError:
        return None, "Invalid JSON: nested too deeply to read (a message is at most three levels deep)"
    except ValueError as exc:  # JSONDecodeError, not UTF-8, or an integer of more than 4,300 digits
        return None, f"Invalid JSON: {shorten(str(exc), 200)}"


def screen_frame(message: Mapping[str, Any], max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Union[str, Answer]:
    """One received WebSocket message: its text when it is a well-formed OpenEnv message, else the answer to send back.

    Well formed: at most ``max_frame_bytes`` (characters of a text frame,
    bytes of a binary one), UTF-8, JSON, an object with a known ``type``
    and only ``type`` and ``data``, with data of that type's shape
    (:func:`check_message`). A ``{"type": "mcp"}`` message is answered here
    too (:func:`mcp_refusal`).
    """
    text = message.get("text")
    size = len(text) if text is not None else len(message.get("bytes") or b"")
    if size > max_frame_bytes:
        return _error(
            "FRAME_TOO_LARGE", f"a frame of {size} bytes is over the limit of {max_frame_bytes}; none of it was read"
        )
    if text is None:
        try:
            text = (message.get("bytes") or b"").decode("utf-8")
        except UnicodeDecodeError:
            return _error("UNKNOWN_TYPE", "<a binary frame that is not UTF-8 text>: send JSON messages as text")
    value, problem = parse_json(text)
    if problem is not None:
        return _error("INVALID_JSON", problem)
    if not isinstance(value, dict):
        return _error(
            "UNKNOWN_TYPE",
            f"a JSON {_json_kind(value)} is not a message object: send "
            '{"type": "reset" | "step" | "state" | "close", "data": {...}}',
        )
    answer = check_message(value)
    if answer is not None:
        return answer
    if value["type"] == "mcp":
        return {"type": "mcp", "data": mcp_refusal(value.get("data"))[1]}
    return text


def check_message(message: Mapping[str, Any]) -> Optional[Answer]:
    """The error answer for a message object of an unknown type, with other fields, or with data of the wrong shape."""
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in (*MESSAGE_TYPES, "mcp"):
        return _error(
            "UNKNOWN_TYPE", f"unknown message type {describe(kind)}: expected one of {', '.join(MESSAGE_TYPES)}"
        )
    extra = [name for name in message if name not in ("type", "data")]
    if extra:
        names = ", ".join(describe(name).split(" ", 1)[1] for name in extra[:5])
        return _error(
            "VALIDATION_ERROR", f"unexpected field(s) {names} in a {kind} message: a message has a type and data"
        )
    checks = {"reset": _reset_data_problem, "step": _step_data_problem, "mcp": _mcp_data_problem}
    problem = checks.get(kind, _no_data_problem)(kind, message)
    return None if problem is None else _error("VALIDATION_ERROR", problem)


def _reset_data_problem(kind: str, message: Mapping[str, Any]) -> Optional[str]:
    data = message.get("data", {})
    if not isinstance(data, dict):
        return f"a reset's data must be an object of {', '.join(RESET_FIELDS)}, got {describe(data)}"
    try:
        check_reset_fields(data)
    except RequestError as exc:
        return str(exc)
    return None


def _step_data_problem(kind: str, message: Mapping[str, Any]) -> Optional[str]:
    data = message.get("data")
    if not isinstance(data, dict) or list(data) != ["text"]:
        shown = describe(data) if not isinstance(data, dict) else f"an object with fields {describe(list(data))}"
        return f"a step's data must be {{\"text\": <the model's turn>}}, got {shown}"
    if not isinstance(data["text"], str):
        return f"a step's text must be a string, got {describe(data['text'])}"
    return None


def _mcp_data_problem(kind: str, message: Mapping[str, Any]) -> Optional[str]:
    data = message.get("data")
    return (
        None
        if isinstance(data, dict)
        else f"an mcp message's data must be a JSON-RPC request object, got {describe(data)}"
    )


def _no_data_problem(kind: str, message: Mapping[str, Any]) -> Optional[str]:
    return f"a {kind} message carries no data" if "data" in message else None


def mcp_refusal(request: Any) -> tuple[int, dict[str, Any]]:
    """``(HTTP status, JSON-RPC error response)`` for an MCP request, over ``POST /mcp`` or a ``{"type": "mcp"}`` message.

    Mentor envs offer no MCP tools (a model's tool calls are part of its turn),
    and a session lives and dies with its WebSocket connection: creating a
    session without one (it would hold a slot for ever) or closing another
    connection's session is refused.
    """
    if not isinstance(request, dict):
        return 400, _rpc_error(
            JsonRpcErrorCode.INVALID_REQUEST, f"a JSON-RPC request is an object, got {describe(request)}"
        )
    request_id = request.get("id")
    if not (
        isinstance(request_id, str) and len(request_id) <= 128 or type(request_id) is int and abs(request_id) < 2**63
    ):
        request_id = None
    method = request.get("method")
    if method == "openenv/session/create":
        return 403, _rpc_error(
            JsonRpcErrorCode.INVALID_REQUEST,
            "sessions are opened only by connecting to the WebSocket /ws (one per connection, ended with it)",
            request_id,
        )
    if method == "openenv/session/close":
        return 403, _rpc_error(
            JsonRpcErrorCode.INVALID_REQUEST,
            'a session is closed only by its own connection: send {"type": "close"} on it, or close the WebSocket',
            request_id,
        )
    if isinstance(method, str) and method.startswith("tools/"):
        return 404, _rpc_error(
            JsonRpcErrorCode.METHOD_NOT_FOUND,
            "mentor envs offer no MCP tools: the model's tool calls are part of its turn, a step's text on /ws",
            request_id,
        )
    return 404, _rpc_error(JsonRpcErrorCode.METHOD_NOT_FOUND, f"unknown method {describe(method)}", request_id)


def _rpc_error(code: JsonRpcErrorCode, message: str, request_id: Union[str, int, None] = None) -> dict[str, Any]:
    return JsonRpcResponse.error_response(code, message, request_id=request_id).model_dump()


def _shorten_error_frame(message: dict[str, Any]) -> dict[str, Any]:
    """An outgoing OpenEnv error frame, its message cut short and its validation details counted, not repeated."""
    text = message.get("text")
    if text is None or len(text) <= 4 * ERROR_CHARS or not text.startswith('{"type":"error"'):
        return message
    frame, problem = parse_json(text)
    if problem is not None or not isinstance(frame.get("data"), dict):
        return message
    data = frame["data"]
    short = {"message": shorten(str(data.get("message", ""))), "code": str(data.get("code", "ERROR"))}
    if isinstance(data.get("errors"), list):
        short["errors"] = f"{len(data['errors'])} validation error(s), not repeated"
    return {**message, "text": json.dumps({"type": "error", "data": short})}


class _Connection:
    """One WebSocket connection's ``receive`` and ``send``, as the app sees them.

    ``receive`` answers malformed frames itself and hands the app only
    well-formed ones; once the app has accepted the connection, a client that
    sends nothing for ``idle_timeout_s`` gets ``SESSION_EXPIRED`` and the
    connection is closed (code 1001), which ends the session as a disconnect
    does. ``send`` shortens long error frames and drops what the app sends
    after that close.
    """

    def __init__(
        self,
        receive: Callable[[], Awaitable[dict]],
        send: Callable[[dict], Awaitable[None]],
        idle_timeout_s: Optional[float],
        max_frame_bytes: int,
    ) -> None:
        self._receive, self._send = receive, send
        self.idle_timeout_s, self.max_frame_bytes = idle_timeout_s, max_frame_bytes
        self.accepted = False
        self.closed = False
        # One timer per idle period, not one per message: it looks at when the app began waiting for the client.
        self._task: Optional[asyncio.Task] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._waiting_since: Optional[float] = None  # loop time; None while the app is busy with a message
        self._expiring = False

    async def receive(self) -> dict[str, Any]:
        while True:
            message = await self._next()
            if message.get("type") != "websocket.receive":
                return message
            screened = screen_frame(message, self.max_frame_bytes)
            if isinstance(screened, str):
                return {"type": "websocket.receive", "text": screened}
            if not await self._answer(screened):
                return {"type": "websocket.disconnect", "code": 1006}

    async def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return  # the session expired: its close went out already
        if message.get("type") == "websocket.accept":
            self.accepted = True
        elif message.get("type") == "websocket.send":
            message = _shorten_error_frame(message)
        await self._send(message)

    def stop(self) -> None:
        """The connection is over: drop the idle timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _next(self) -> dict[str, Any]:
        if not self.accepted or self.idle_timeout_s is None:
            return await self._receive()
        loop = asyncio.get_running_loop()
        self._waiting_since = loop.time()
        if self._timer is None:
            self._task = asyncio.current_task()
            self._timer = loop.call_later(self.idle_timeout_s, self._check_idle)
        try:
            return await self._receive()
        except asyncio.CancelledError:
            if not self._expiring:
                raise
            uncancel = getattr(self._task, "uncancel", None)  # Python 3.11+: the cancellation was ours, and is handled
            if uncancel is not None:
                uncancel()
            return await self._expire()
        finally:
            self._waiting_since = None

    def _check_idle(self) -> None:
        """The timer: end the wait if the app has waited the whole idle limit for this client, else look again later."""
        self._timer = None
        if self._waiting_since is None or self._task is None or self.idle_timeout_s is None:
            return  # the app is busy with a message; its next wait arms the timer again
        loop = asyncio.get_running_loop()
        remaining = self._waiting_since + self.idle_timeout_s - loop.time()
        if remaining > 0:
            self._timer = loop.call_later(remaining, self._check_idle)
            return
        self._expiring = True
        self._task.cancel()  # the task is waiting in _next, which turns this into SESSION_EXPIRED

    async def _expire(self) -> dict[str, Any]:
        await self._answer(
            _error(
                "SESSION_EXPIRED",
                f"no message for {self.idle_timeout_s:g} s (the idle limit): the "
                "session is closed; connect again for a new one",
            )
        )
        try:
            await self._send({"type": "websocket.close", "code": 1001, "reason": "idle limit"})
        except OSError:  # the client went away meanwhile
            pass
        self.closed = True
        return {"type": "websocket.disconnect", "code": 1001}

    async def _answer(self, frame: Answer) -> bool:
        try:
            await self._send({"type": "websocket.send", "text": json.dumps(frame)})
        except OSError:  # uvicorn's ClientDisconnected: the client is gone
            return False
        return True


class _SocketGuard:
    """ASGI middleware for WebSocket connections: per-client session limit, frame screening and idle expiry.

    Every WebSocket route of the app is ``/ws`` (OpenEnv's ``/mcp`` socket is
    not served), so every connection here is a session. It also drops the
    ``WebSocketDisconnect`` that Starlette raises when OpenEnv closes the
    socket of a client that died without a close frame (the session is
    destroyed then), which would otherwise be logged for every dead client.
    """

    def __init__(
        self,
        app: Any,
        max_sessions_per_client: int,
        idle_timeout_s: Optional[float],
        max_frame_bytes: int,
        sessions_by_client: Counter[str],
    ) -> None:
        self.app = app
        self.max_sessions_per_client = max_sessions_per_client
        self.idle_timeout_s, self.max_frame_bytes = idle_timeout_s, max_frame_bytes
        self.sessions_by_client = sessions_by_client  # the app's (app.state), counted here

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "websocket":
            await self.app(scope, receive, send)
            return
        from starlette.websockets import WebSocketDisconnect

        client = scope["client"][0] if scope.get("client") else "local"
        if self.sessions_by_client[client] >= self.max_sessions_per_client:
            await self._refuse(receive, send, client)
            return
        self.sessions_by_client[client] += 1
        connection = _Connection(receive, send, self.idle_timeout_s, self.max_frame_bytes)
        try:
            await self.app(scope, connection.receive, connection.send)
        except WebSocketDisconnect:
            pass
        finally:
            connection.stop()
            self.sessions_by_client[client] -= 1
            if self.sessions_by_client[client] <= 0:
                del self.sessions_by_client[client]

    async def _refuse(self, receive: Any, send: Any, client: str) -> None:
        """Accept, answer ``CAPACITY_REACHED`` as OpenEnv does at its own limit, and close (1013: try again later)."""
        if (await receive()).get("type") != "websocket.connect":
            return
        error = _error(
            "CAPACITY_REACHED",
            f"{client} has {self.max_sessions_per_client} sessions open, the limit per client: close one first",
            active_sessions=self.sessions_by_client[client],
            max_sessions=self.max_sessions_per_client,
        )
        try:
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": json.dumps(error)})
            await send({"type": "websocket.close", "code": 1013, "reason": "too many sessions from this client"})
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------------------------------
# HTTP routes that replace OpenEnv's /reset, /step and /mcp.


async def read_body(request: Request, max_bytes: int, timeout_s: float) -> bytes:
    """The request's body, at most ``max_bytes`` (413) and within ``timeout_s`` (408)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and (len(declared) > 15 or int(declared) > max_bytes):
        raise HTTPException(
            413, f"a request body is at most {max_bytes} bytes; this one declares {shorten(declared, 20)}"
        )

    async def collect() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise HTTPException(413, f"a request body is at most {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(collect(), timeout_s)
    except asyncio.TimeoutError:
        raise HTTPException(408, f"the request body did not arrive within {timeout_s:g} s") from None


def _reset_fields(body: bytes) -> dict[str, Any]:
    """A ``POST /reset`` body's fields (none for an empty body), or 400 naming what is wrong with it."""
    fields, problem = parse_json(body) if body.strip() else ({}, None)
    if problem is not None:
        raise HTTPException(400, problem)
    if not isinstance(fields, dict):
        raise HTTPException(
            400, f"a reset's body must be a JSON object of {', '.join(RESET_FIELDS)}, got a JSON {_json_kind(fields)}"
        )
    return fields


def _register_http_routes(
    app: FastAPI,
    factory: Callable[[], MentorEnvironment],
    metadata: EnvironmentMetadata,
    max_bytes: int,
    timeout_s: float,
) -> None:
    """``POST /reset`` (a fresh env per request, strict fields), ``POST /step`` (always 409), ``POST /mcp``
    (refusals), and ``GET /state`` and ``/metadata`` answered without building an env (OpenEnv's build one per
    request on the event loop, some milliseconds in which no session is served)."""

    def reset_once(fields: dict[str, Any]) -> MentorObservation:
        env = factory()
        try:
            return env.reset(**fields)
        finally:
            env.close()

    @app.post(
        "/reset",
        response_model=ResetResponse,
        tags=["Environment Control"],
        summary="A fresh env's first observation (each request has its own env; play episodes on /ws)",
    )
    async def reset(request: Request) -> ResetResponse:
        fields = _reset_fields(await read_body(request, max_bytes, timeout_s))
        try:
            check_reset_fields(fields)
            observation = await asyncio.to_thread(reset_once, fields)
        except RequestError as exc:
            raise HTTPException(422, str(exc)) from None
        return ResetResponse(**serialize_observation(observation))

    @app.post(
        "/step",
        status_code=409,
        tags=["Environment Control"],
        summary="Refused: an HTTP request has no episode to step (play episodes on the WebSocket /ws)",
    )
    async def step() -> None:
        raise HTTPException(
            409,
            "POST /step has no episode to step: each HTTP request gets a fresh env, so play "
            "episodes over the WebSocket /ws (a reset message, then step messages)",
        )

    @app.get(
        "/state",
        response_model=MentorState,
        tags=["State Management"],
        summary="A fresh env's state (HTTP requests have no episode; a session's state is a state message on /ws)",
    )
    async def state() -> MentorState:
        return MentorState(env_id=metadata.name)

    @app.get("/metadata", response_model=EnvironmentMetadata, tags=["Environment Info"], summary="The env's metadata")
    async def get_metadata() -> EnvironmentMetadata:
        return metadata

    @app.post("/mcp", tags=["MCP"], summary="Refused: mentor envs offer no MCP tools, and sessions live on /ws")
    async def mcp(request: Request) -> JSONResponse:
        payload, problem = parse_json(await read_body(request, max_bytes, timeout_s))
        if problem is not None:
            return JSONResponse(_rpc_error(JsonRpcErrorCode.PARSE_ERROR, problem), status_code=400)
        status, answer = mcp_refusal(payload)
        return JSONResponse(answer, status_code=status)


def _count(name: str, value: Any) -> int:
    """``value`` when it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


@overload
def _seconds(name: str, value: Any, *, never_ok: Literal[False] = False) -> float: ...


@overload
def _seconds(name: str, value: Any, *, never_ok: Literal[True]) -> Optional[float]: ...


def _seconds(name: str, value: Any, *, never_ok: bool = False) -> Optional[float]:
    """``value`` when it is a number of seconds > 0; with ``never_ok``, ``None`` or ``math.inf`` give ``None`` (never)."""
    if never_ok and (value is None or value == math.inf):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        never = ", None or math.inf (never)" if never_ok else ""
        raise ValueError(f"{name} must be a finite number of seconds > 0{never}, got {value!r}")
    return float(value)


def served_ids(env_id: Union[str, Sequence[str]]) -> tuple[str, ...]:
    """The env ids a server serves, the default first, from one id or a list of them (no repeats, at least one)."""
    ids = (env_id,) if isinstance(env_id, str) else tuple(env_id)
    if not ids or not all(isinstance(one, str) for one in ids):
        raise ValueError(f"env_id must be an env id or a non-empty list of them, got {describe(env_id)}")
    repeated = sorted({one for one in ids if ids.count(one) > 1})
    if repeated:
        raise ValueError(f"env ids are served once each; repeated: {', '.join(repeated)}")
    return ids


def make_app(
    env_id: Union[str, Sequence[str]] = "mentor/Calc-v0",
    *,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
    max_sessions_per_client: int = DEFAULT_MAX_SESSIONS_PER_CLIENT,
    session_timeout_s: Optional[float] = DEFAULT_SESSION_TIMEOUT_S,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    **env_kwargs: Any,
) -> FastAPI:
    """A FastAPI app serving ``env_id`` with OpenEnv's ``HTTPEnvServer`` (routes ``/ws``, ``/reset``, ``/step``, ``/health``, ...).

    Args:
        env_id: a text env id, or a list of them: every session starts on the
            first, and a reset's ``env_id`` field picks any of them (another
            id is refused: an error answer on ``/ws``, 422 on ``POST /reset``).
        max_sessions: concurrent WebSocket sessions; one more is refused with
            OpenEnv's ``CAPACITY_REACHED`` error.
        max_sessions_per_client: concurrent sessions of one client address
            (``CAPACITY_REACHED`` too, closed with code 1013).
        session_timeout_s: close a session whose client sent nothing this
            long (``SESSION_EXPIRED``, code 1001); ``None`` or ``math.inf``: never.
        max_frame_bytes: the largest WebSocket frame or HTTP body read; a
            larger frame gets ``FRAME_TOO_LARGE`` (the session goes on), a
            larger body 413.
        request_timeout_s: seconds an HTTP body may take to arrive (408).
        env_kwargs: ``gym.make`` arguments for every session's env.

    Raises:
        ValueError: a limit that is not a positive number, an unknown or
            non-text env id, or ``gym.make`` refusing the arguments (checked now).
    """
    max_sessions = _count("max_sessions", max_sessions)
    max_sessions_per_client = _count("max_sessions_per_client", max_sessions_per_client)
    session_timeout_s = _seconds("session_timeout_s", session_timeout_s, never_ok=True)
    max_frame_bytes = _count("max_frame_bytes", max_frame_bytes)
    request_timeout_s = _seconds("request_timeout_s", request_timeout_s)
    env_ids = served_ids(env_id)
    default_id = env_ids[0]
    metadata = _probe(env_ids, env_kwargs)  # fail now, not at the first connection

    def factory() -> MentorEnvironment:
        return MentorEnvironment(default_id, env_ids=env_ids, **dict(env_kwargs))

    factory.__name__ = f"MentorEnvironment[{', '.join(env_ids)}]"
    # OpenEnv's own idle reaper is left off: it destroys a session under a live socket, which then steps a closed
    # env uncounted. _SocketGuard expires idle sessions by closing their connections instead.
    server = HTTPEnvServer(
        factory,
        MentorAction,
        MentorObservation,
        concurrency_config=ConcurrencyConfig(max_concurrent_envs=max_sessions, session_timeout=None),
    )
    app = FastAPI(title=f"mentor-env OpenEnv server: {', '.join(env_ids)}", version="0.1.0")
    server.register_routes(app)
    # OpenEnv's: 500s with tracebacks, dropped fields, sessions without owners, an env built per GET on the event loop
    replaced = {"/reset", "/step", "/mcp", "/state", "/metadata"}
    app.router.routes[:] = [route for route in app.router.routes if getattr(route, "path", None) not in replaced]
    _register_http_routes(app, factory, metadata, max_frame_bytes, request_timeout_s)
    app.state.sessions_by_client = Counter()  # open sessions per client address
    app.add_middleware(
        _SocketGuard,
        max_sessions_per_client=max_sessions_per_client,
        idle_timeout_s=session_timeout_s,
        max_frame_bytes=max_frame_bytes,
        sessions_by_client=app.state.sessions_by_client,
    )
    app.state.openenv_server = server
    limits = {
        "max_sessions": max_sessions,
        "max_sessions_per_client": max_sessions_per_client,
        "session_timeout_s": session_timeout_s,
        "max_frame_bytes": max_frame_bytes,
        "request_timeout_s": request_timeout_s,
    }
    app.state.limits = limits

    @app.get("/mentor/status")
    def status() -> dict[str, Any]:
        """Open sessions, the limits, the server's resident memory and threads."""
        return {
            "env_id": default_id,
            "env_ids": list(env_ids),
            "active_sessions": server.active_sessions,
            "max_sessions": server.max_concurrent_envs,
            "clients": len(app.state.sessions_by_client),
            "limits": limits,
            "rss_bytes": _rss_bytes(),
            "threads": threading.active_count(),
        }

    return app


def _probe(env_ids: Sequence[str], env_kwargs: Mapping[str, Any]) -> EnvironmentMetadata:
    """Build (and close) an env of every id with ``env_kwargs``, so that a bad id or argument fails at start;
    returns the default id's metadata."""
    metadata = None
    for one in env_ids:
        probe = MentorEnvironment(one, env_ids=env_ids, **dict(env_kwargs))
        metadata = metadata or probe.get_metadata()
        probe.close()
    assert metadata is not None  # served_ids gives at least one id
    return metadata


def _rss_bytes() -> int:
    """This process's resident memory (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class MentorEnvClient(EnvClient[MentorAction, MentorObservation, MentorState]):
    """OpenEnv's WebSocket client for a mentor-env server (async; ``.sync()`` for blocking calls).

    ``step`` takes a :class:`MentorAction` or the turn's text.

    Example::

        with MentorEnvClient(base_url="http://127.0.0.1:8000").sync() as env:
            result = env.reset(task_id="calc-0")
            result = env.step("\\\\boxed{42}")
            print(result.reward, result.done, result.observation.info["rewards"])
    """

    def _step_payload(self, action: MentorAction | str) -> dict[str, Any]:
        if isinstance(action, str):
            return {"text": action}
        if isinstance(action, MentorAction):
            return {"text": action.text}
        raise TypeError(f"a step takes a MentorAction or the turn's text (str), got {type(action).__name__}")

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[MentorObservation]:
        observation = MentorObservation(
            **payload.get("observation", {}), reward=payload.get("reward"), done=payload.get("done", False)
        )
        return StepResult(observation=observation, reward=payload.get("reward"), done=bool(payload.get("done", False)))

    def _parse_state(self, payload: dict[str, Any]) -> MentorState:
        return MentorState(**payload)


_EPILOG = """\
what happens at a limit:
  a session over --max-sessions or --max-sessions-per-client     CAPACITY_REACHED error, connection closed
  a client silent for --session-timeout                          SESSION_EXPIRED error, connection closed (1001)
  a frame over --max-frame-bytes                                 FRAME_TOO_LARGE error, the session goes on
  a frame over 4 x --max-frame-bytes                             the WebSocket layer closes the connection (1009)
  any other malformed message                                    an error answer, the session goes on
  a connection over --max-connections[-per-client]               HTTP 503, closed at once (its descriptor freed)
  headers not in within --request-timeout                        connection closed
  an HTTP body over --max-frame-bytes or late                    413 / 408
logs: at most 10 records of one kind and 60 in all per minute, each cut to 2,000 characters
(plus 2,000 of traceback); the first record after a held-back one says how many were held back.
"""


def _parser(open_files: Optional[int]) -> argparse.ArgumentParser:
    from mentor_env.serve_limits import DEFAULT_MAX_CONNECTIONS_PER_CLIENT, plan_capacity

    sessions, connections = plan_capacity(None, None, open_files)
    here = f"here, with {open_files} open files allowed" if open_files else "here"
    parser = argparse.ArgumentParser(
        prog="python -m mentor_env.serve",
        description=__doc__.split("\n\n")[0],
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--env",
        "--env-id",
        "--env-ids",
        nargs="+",
        metavar="ENV_ID",
        default=["mentor/Calc-v0"],
        help="text env id(s) to serve; every session starts on the first, and a reset's env_id field "
        "picks any of them (default mentor/Calc-v0)",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    parser.add_argument(
        "--max-sessions",
        type=int,
        metavar="N",
        default=None,
        help=f"WebSocket sessions at once (default {DEFAULT_MAX_SESSIONS}, fewer if the open-file limit "
        f"is low: {sessions} {here})",
    )
    parser.add_argument(
        "--max-sessions-per-client",
        type=int,
        metavar="N",
        default=None,
        help=f"sessions of one client address at once (default {DEFAULT_MAX_SESSIONS_PER_CLIENT}, "
        "at most --max-sessions)",
    )
    parser.add_argument(
        "--session-timeout",
        type=float,
        metavar="S",
        default=DEFAULT_SESSION_TIMEOUT_S,
        help=f"close a session whose client sent nothing this many seconds (default "
        f"{DEFAULT_SESSION_TIMEOUT_S:g}; inf: never)",
    )
    parser.add_argument(
        "--max-frame-bytes",
        type=int,
        metavar="N",
        default=DEFAULT_MAX_FRAME_BYTES,
        help=f"largest WebSocket frame or HTTP body read (default {DEFAULT_MAX_FRAME_BYTES})",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        metavar="N",
        default=None,
        help="open connections, HTTP and WebSocket (default 2 x sessions + 64, fewer if the open-file "
        f"limit needs: {connections} {here})",
    )
    parser.add_argument(
        "--max-connections-per-client",
        type=int,
        metavar="N",
        default=DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
        help=f"connections of one client address still in HTTP (default {DEFAULT_MAX_CONNECTIONS_PER_CLIENT})",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        metavar="S",
        default=DEFAULT_REQUEST_TIMEOUT_S,
        help=f"seconds a request's headers, or an HTTP body, may take (default {DEFAULT_REQUEST_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--env-kwargs",
        default="{}",
        help="gym.make arguments as JSON for every env id, e.g. "
        '\'{"reward_mode": "dense"}\' (default {}: the envs\' own defaults, reward_mode mentor)',
    )
    parser.add_argument(
        "--log-level", default="warning", help="uvicorn's log level (default warning; logs are rate-limited)"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Serve the env ids with uvicorn and the transport's limits (``python -m mentor_env.serve --help``) until a
    SIGINT or SIGTERM; prints where it listens once it does, and a line when it stops."""
    from mentor_env.serve_limits import (
        ConnectionGuard,
        ConnectionLimits,
        StoppableServer,
        open_file_limit,
        plan_capacity,
        server_config,
    )

    open_files = open_file_limit()
    parser = _parser(open_files)
    args = parser.parse_args(argv)
    try:
        env_kwargs = json.loads(args.env_kwargs)
    except json.JSONDecodeError as exc:
        parser.error(f"--env-kwargs is not JSON: {exc}")
    if not isinstance(env_kwargs, dict):
        parser.error("--env-kwargs must be a JSON object")
    try:
        sessions, connections = plan_capacity(args.max_sessions, args.max_connections, open_files)
        limits = ConnectionLimits(connections, args.max_connections_per_client, args.request_timeout)
        per_client = args.max_sessions_per_client or min(DEFAULT_MAX_SESSIONS_PER_CLIENT, sessions)
        app = make_app(
            args.env,
            max_sessions=sessions,
            max_sessions_per_client=per_client,
            session_timeout_s=args.session_timeout,
            max_frame_bytes=args.max_frame_bytes,
            request_timeout_s=args.request_timeout,
            **env_kwargs,
        )
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    config = server_config(
        app,
        host=args.host,
        port=args.port,
        guard=ConnectionGuard(limits),
        ws_max_size=WS_HARD_LIMIT_FACTOR * args.max_frame_bytes,
        log_level=args.log_level,
    )
    if args.max_sessions is None and sessions < DEFAULT_MAX_SESSIONS:
        LOG.warning(
            "serving at most %d sessions: the open-file limit %s leaves no room for %d",
            sessions,
            open_files,
            DEFAULT_MAX_SESSIONS,
        )
    env_ids = served_ids(args.env)
    server = StoppableServer(
        config, on_started=lambda host, port: print(listening_line(env_ids, host, port), flush=True)
    )
    server.run()
    if server.stop_signal is not None:
        print(f"mentor_env.serve: stopped by {signal.Signals(server.stop_signal).name}", flush=True)


def listening_line(env_ids: Sequence[str], host: str, port: int) -> str:
    """The line the command line prints once it listens: the address, the WebSocket, the ids and the default."""
    shown = f"[{host}]" if ":" in host else host
    others = f" (a reset's env_id picks one of {', '.join(env_ids)})" if len(env_ids) > 1 else ""
    return (
        f"mentor_env.serve: serving {env_ids[0]}{others} on http://{shown}:{port}, WebSocket ws://{shown}:{port}/ws; "
        "Ctrl-C or SIGTERM stops it"
    )


if __name__ == "__main__":
    main()
