r"""mentor-env text environments behind the OpenEnv protocol (``openenv-core`` 0.3).

    python -m mentor_env.serve --env mentor/Calc-v0 --port 8000            # 127.0.0.1 unless --host says otherwise
    python -m mentor_env.serve --env mentor/Table-v0 --max-sessions 512 --env-kwargs '{"reward_mode": "dense"}'

Any OpenEnv client then resets and steps the environment over a WebSocket
(``ws://HOST:PORT/ws``), one isolated environment per connection: OpenEnv's
own server (``HTTPEnvServer``) creates a session with its own
:class:`MentorEnvironment` (and its own worker thread) when a client connects
and closes it when the client disconnects or dies. :class:`MentorEnvClient` is
the typed client (``EnvClient`` subclass; ``.sync()`` for blocking use).

Messages (OpenEnv's WebSocket protocol):

* ``{"type": "reset", "data": {"seed": 0, "task_id": "calc-42", "difficulty": 2}}``
  (every field optional) starts an episode;
* ``{"type": "step", "data": {"text": "<tool_call>...</tool_call>"}}`` plays
  one assistant turn (:class:`MentorAction`);
* answers are ``{"type": "observation", "data": {"observation": {...},
  "reward": r, "done": d}}`` with the observation's ``text`` (what
  ``env.step`` returns), ``info`` (the env's ``info``: rewards of every mode,
  reward components, tool calls, errors, messages, tools, ...),
  ``terminated`` and ``truncated`` (:class:`MentorObservation`);
* ``{"type": "state"}`` gives :class:`MentorState`.

Malformed messages (broken JSON, an unknown type, an action that is not
``{"text": str}``, a step before any reset or after the episode ended, an
unknown ``task_id``) get an ``{"type": "error", ...}`` answer and the session
goes on. The stateless HTTP ``/reset`` and ``/step`` routes of OpenEnv make a
fresh environment per request (no episode carries over); use the WebSocket.
``GET /mentor/status`` reports the open sessions and the server's memory, for
load tests.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from typing import Any, Optional

from mentor_env.integrations import require

require("openenv", extra="serve")

from fastapi import FastAPI  # noqa: E402
from openenv.core.client_types import StepResult  # noqa: E402
from openenv.core.env_client import EnvClient  # noqa: E402
from openenv.core.env_server.http_server import HTTPEnvServer  # noqa: E402
from openenv.core.env_server.interfaces import Environment  # noqa: E402
from openenv.core.env_server.types import Action, ConcurrencyConfig, EnvironmentMetadata, Observation, State  # noqa: E402
from pydantic import Field  # noqa: E402

from mentor_env.integrations.session import make_text_env  # noqa: E402

__all__ = [
    "MentorAction",
    "MentorEnvClient",
    "MentorEnvironment",
    "MentorObservation",
    "MentorState",
    "main",
    "make_app",
]

DEFAULT_HOST = "127.0.0.1"


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

    Args:
        env_id: a text env id (``mentor/Calc-v0``, ...).
        env_kwargs: ``gym.make`` arguments (``reward_mode``, ``max_turns``, ``split``, ...).
    """

    SUPPORTS_CONCURRENT_SESSIONS = True  # every session has its own env; nothing mutable is shared

    def __init__(self, env_id: str = "mentor/Calc-v0", **env_kwargs: Any) -> None:
        super().__init__()
        reward_mode = env_kwargs.pop("reward_mode", "mentor")
        self.env_id = env_id
        self.env = make_text_env(env_id, reward_mode, **env_kwargs)
        self._state = MentorState(env_id=env_id)

    def reset(
        self,
        seed: Optional[int] = None,
        episode_id: Optional[str] = None,
        task_id: Optional[str] = None,
        difficulty: Optional[int] = None,
    ) -> MentorObservation:
        """``env.reset(seed=seed, options={"task_id": ..., "difficulty": ...})``.

        Raises:
            ValueError, TypeError: the env's errors (an unknown ``task_id``, a bad level); the server answers them as errors.
        """
        options: dict[str, Any] = {}
        if task_id is not None:
            options["task_id"] = task_id
        if difficulty is not None:
            options["difficulty"] = difficulty
        text, info = self.env.reset(seed=seed, options=options or None)
        self._state = MentorState(env_id=self.env_id, episode_id=episode_id, task_id=info["task_id"])
        return MentorObservation(text=text, info=info, reward=None, done=False)

    def step(self, action: MentorAction, timeout_s: Optional[float] = None, **kwargs: Any) -> MentorObservation:
        """``env.step(action.text)``; a step before any reset or after the episode ended raises (an error answer)."""
        if self.env.task is None:
            raise RuntimeError("no episode: send a reset message first")
        if self.env.trajectory.done:
            raise RuntimeError("the episode is over: send a reset message to start a new one")
        text, reward, terminated, truncated, info = self.env.step(action.text)
        self._state.step_count += 1
        self._state.turn = info["turn"]
        self._state.done = terminated or truncated
        return MentorObservation(
            text=text, info=info, reward=float(reward), done=terminated or truncated, terminated=terminated, truncated=truncated
        )

    @property
    def state(self) -> MentorState:
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        return EnvironmentMetadata(
            name=self.env_id,
            description=f"{self.env_id}: tool-use tasks with the dense teacher-guided (MENTOR) reward (reward mode "
            f"{self.env.reward_mode!r}); actions are the model's turns as text",
            version="0.1.0",
        )

    def close(self) -> None:
        self.env.close()


def _rss_bytes() -> int:
    """This process's resident memory (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class _GuardedSockets:
    """ASGI wrapper around OpenEnv's app that keeps a session alive through any message.

    OpenEnv 0.3's WebSocket handler answers broken JSON, unknown types and bad
    actions with an error and goes on, but a frame that is valid JSON and not
    an object (``[1, 2]``, ``"hi"``, ``7``) or a binary frame raises outside
    its per-message guard and ends the session, losing its episode. This
    wrapper hands such frames to the handler as an object of an unknown type,
    so they get OpenEnv's ``UNKNOWN_TYPE`` error and the session goes on.

    It also drops the ``WebSocketDisconnect`` that Starlette raises when OpenEnv
    closes the socket of a client that died without a close frame (the
    session is already destroyed then), which would otherwise be logged as an
    "Exception in ASGI application" for every dead client.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "websocket":
            await self.app(scope, receive, send)
            return
        from starlette.websockets import WebSocketDisconnect

        async def guarded_receive() -> dict[str, Any]:
            message = await receive()
            if message.get("type") == "websocket.receive":
                message = {"type": "websocket.receive", "text": _as_object_text(message)}
            return message

        try:
            await self.app(scope, guarded_receive, send)
        except WebSocketDisconnect:
            pass


def _as_object_text(message: dict[str, Any]) -> str:
    """A frame's text, or a JSON object of an unknown type naming what came instead of an object."""
    text = message.get("text")
    if text is None:
        data = message.get("bytes") or b""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return json.dumps({"type": "<a binary frame that is not UTF-8 text>"})
    if text.lstrip()[:1] == "{":
        return text  # an object, or broken JSON that OpenEnv answers with INVALID_JSON
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return json.dumps({"type": f"<a JSON {type(value).__name__}, not a message object>"})


def make_app(
    env_id: str = "mentor/Calc-v0",
    *,
    max_sessions: int = 256,
    session_timeout_s: float | None = None,
    **env_kwargs: Any,
) -> FastAPI:
    """A FastAPI app serving ``env_id`` with OpenEnv's ``HTTPEnvServer`` (routes ``/ws``, ``/reset``, ``/step``, ``/health``, ...).

    Args:
        max_sessions: concurrent WebSocket sessions; one more is refused with
            OpenEnv's ``CAPACITY_REACHED`` error.
        session_timeout_s: close sessions idle this long (``None``: never).
        env_kwargs: ``gym.make`` arguments for every session's env.

    Raises:
        ValueError: an unknown or non-text env id, or ``gym.make`` refusing the arguments (checked now).
    """
    MentorEnvironment(env_id, **dict(env_kwargs)).close()  # fail now, not at the first connection

    def factory() -> MentorEnvironment:
        return MentorEnvironment(env_id, **dict(env_kwargs))

    factory.__name__ = f"MentorEnvironment[{env_id}]"
    server = HTTPEnvServer(
        factory,
        MentorAction,
        MentorObservation,
        concurrency_config=ConcurrencyConfig(max_concurrent_envs=max_sessions, session_timeout=session_timeout_s),
    )
    app = FastAPI(title=f"mentor-env OpenEnv server: {env_id}", version="0.1.0")
    server.register_routes(app)
    app.add_middleware(_GuardedSockets)
    app.state.openenv_server = server

    @app.get("/mentor/status")
    def status() -> dict[str, Any]:
        """Open sessions, the session limit, the server's resident memory and threads."""
        return {
            "env_id": env_id,
            "active_sessions": server.active_sessions,
            "max_sessions": server.max_concurrent_envs,
            "rss_bytes": _rss_bytes(),
            "threads": threading.active_count(),
        }

    return app


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
        observation = MentorObservation(**payload.get("observation", {}), reward=payload.get("reward"), done=payload.get("done", False))
        return StepResult(observation=observation, reward=payload.get("reward"), done=bool(payload.get("done", False)))

    def _parse_state(self, payload: dict[str, Any]) -> MentorState:
        return MentorState(**payload)


def main(argv: list[str] | None = None) -> None:
    """Serve one env id with uvicorn (``python -m mentor_env.serve --help``)."""
    parser = argparse.ArgumentParser(prog="python -m mentor_env.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="mentor/Calc-v0", help="text env id (default mentor/Calc-v0)")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-sessions", type=int, default=256, help="concurrent WebSocket sessions (default 256)")
    parser.add_argument("--session-timeout", type=float, default=None, help="close sessions idle this many seconds")
    parser.add_argument("--env-kwargs", default="{}", help='gym.make arguments as JSON, e.g. \'{"reward_mode": "dense"}\'')
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    try:
        env_kwargs = json.loads(args.env_kwargs)
    except json.JSONDecodeError as exc:
        parser.error(f"--env-kwargs is not JSON: {exc}")
    if not isinstance(env_kwargs, dict):
        parser.error("--env-kwargs must be a JSON object")
    import uvicorn

    app = make_app(args.env, max_sessions=args.max_sessions, session_timeout_s=args.session_timeout, **env_kwargs)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, ws_max_size=4 * 1024 * 1024)


if __name__ == "__main__":
    main()
