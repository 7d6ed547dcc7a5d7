"""mentor_env.serve: OpenEnv's server and client drive our envs over a loopback WebSocket."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import gymnasium as gym
import pytest

pytest.importorskip("openenv.core.env_server.http_server", reason="the server needs openenv-core (make test installs it)")
import uvicorn  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from mentor_env.core.messages import render_assistant_text  # noqa: E402
from mentor_env.core.splits import load_split  # noqa: E402
from mentor_env.domains import get_domain  # noqa: E402
from mentor_env.serve import MentorAction, MentorEnvClient, make_app  # noqa: E402

HOST = "127.0.0.1"  # loopback only
TASKS = load_split(get_domain("calc"), "test")[:3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """The app in a uvicorn thread on 127.0.0.1, stopped at the end of the module."""
    port = free_port()
    app = make_app("mentor/Calc-v0", max_sessions=32, reward_mode="dense")
    config = uvicorn.Config(app, host=HOST, port=port, log_level="error", ws_max_size=4 * 1024 * 1024)
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield SimpleServer(f"http://{HOST}:{port}", f"ws://{HOST}:{port}/ws", app.state.openenv_server)
    instance.should_exit = True
    thread.join(timeout=10)


class SimpleServer:
    def __init__(self, url: str, ws_url: str, openenv_server) -> None:
        self.url, self.ws_url, self.openenv_server = url, ws_url, openenv_server

    def wait_for_sessions(self, count: int, timeout_s: float = 10.0) -> int:
        deadline = time.monotonic() + timeout_s
        while self.openenv_server.active_sessions != count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.openenv_server.active_sessions


def jsonable(value):
    return json.loads(json.dumps(value))


def test_a_client_plays_the_same_episode_as_gym_make(server):
    task = TASKS[0]
    env = gym.make("mentor/Calc-v0", reward_mode="dense")
    obs, info = env.reset(options={"task_id": task.id})
    with MentorEnvClient(base_url=server.url).sync() as client:
        result = client.reset(task_id=task.id)
        assert result.observation.text == obs and result.observation.info == jsonable(info) and not result.done
        for message in task.teacher.messages:
            if message["role"] != "assistant":
                continue
            text = render_assistant_text(message)
            obs, reward, terminated, truncated, info = env.step(text)
            result = client.step(MentorAction(text=text) if terminated else text)
            assert result.observation.text == obs and result.reward == pytest.approx(reward)
            assert result.observation.info == jsonable(info)  # rewards, components, errors, messages, ...
            assert (result.done, result.observation.terminated, result.observation.truncated) == (terminated or truncated, terminated, truncated)
        assert result.observation.info["rewards"]["mentor"] == pytest.approx(1.1)
        state = client.state()
        assert state.task_id == task.id and state.done and state.step_count == len(task.teacher.tool_names) + 1


def test_sessions_are_isolated(server):
    async def play():
        clients = [MentorEnvClient(base_url=server.url) for _ in TASKS]
        for client in clients:
            await client.connect()
        try:
            for client, task in zip(clients, TASKS):
                await client.reset(task_id=task.id)
            # Interleaved: each client answers its own task and gets its own score.
            results = await asyncio.gather(*(c.step(f"\\boxed{{{t.answer}}}") for c, t in zip(clients, TASKS)))
            states = await asyncio.gather(*(c.state() for c in clients))
        finally:
            for client in clients:
                await client.close()
        return results, states

    results, states = asyncio.run(play())
    assert [s.task_id for s in states] == [t.id for t in TASKS]
    assert all(r.done and r.observation.info["reward_components"]["correct"] == 1.0 for r in results)
    assert server.wait_for_sessions(0) == 0


def test_malformed_requests_are_refused_and_the_session_goes_on(server):
    async def probe():
        answers = []
        async with connect(server.ws_url) as ws:
            for raw in [
                "this is not json",
                "[1, 2, 3]",  # JSON, but not a message object (OpenEnv alone would end the session here)
                b"\x00\xff binary",  # a binary frame
                json.dumps({"type": "teleport"}),
                json.dumps({"type": "step", "data": {"text": "\\boxed{1}"}}),  # before any reset
                json.dumps({"type": "reset", "data": {"task_id": "calc-not-a-seed"}}),
                json.dumps({"type": "reset", "data": {"task_id": TASKS[0].id}}),
                json.dumps({"type": "step", "data": {"txt": "x"}}),  # not a MentorAction
                json.dumps({"type": "step", "data": {"text": 7}}),
                json.dumps({"type": "step", "data": {"text": "<tool_call>{broken"}}),  # the env answers with an error observation
                json.dumps({"type": "step", "data": {"text": "x" * 200_000}}),  # too long: refused by the env, not the server
                json.dumps({"type": "step", "data": {"text": f"\\boxed{{{TASKS[0].answer}}}"}}),
                json.dumps({"type": "step", "data": {"text": "again"}}),  # after the end
            ]:
                await ws.send(raw)
                answers.append(json.loads(await ws.recv()))
        return answers

    answers = asyncio.run(probe())
    kinds = [a["type"] for a in answers]
    assert kinds == ["error"] * 6 + ["observation", "error", "error", "observation", "observation", "observation", "error"]
    assert answers[0]["data"]["code"] == "INVALID_JSON" and answers[1]["data"]["code"] == "UNKNOWN_TYPE"
    assert "not a message object" in answers[1]["data"]["message"] and answers[2]["data"]["code"] == "UNKNOWN_TYPE"
    answers = answers[2:]
    assert "send a reset message first" in answers[2]["data"]["message"]
    assert "generated task ids look like" in answers[3]["data"]["message"]
    assert answers[7]["data"]["observation"]["info"]["errors"][0].startswith("parse_error")
    assert answers[8]["data"]["observation"]["info"]["errors"][0].startswith("invalid_action")
    assert answers[9]["data"]["done"] and answers[9]["data"]["observation"]["info"]["reward_components"]["correct"] == 1.0
    assert "the episode is over" in answers[10]["data"]["message"]
    assert server.wait_for_sessions(0) == 0


def test_clients_dying_mid_episode_free_their_sessions(server):
    async def die(count: int):
        sockets = []
        for index in range(count):
            ws = await connect(server.ws_url)
            await ws.send(json.dumps({"type": "reset", "data": {"seed": index}}))
            await ws.recv()
            await ws.send(json.dumps({"type": "step", "data": {"text": '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'}}))
            await ws.recv()
            sockets.append(ws)
        assert server.openenv_server.active_sessions == count
        for ws in sockets:
            ws.transport.abort()  # no close frame: the client process died

    asyncio.run(die(12))
    assert server.wait_for_sessions(0) == 0
    # Capacity: one more than max_sessions is refused with OpenEnv's error, and the server still serves.

    async def crowd():
        sockets = [await connect(server.ws_url) for _ in range(32)]
        for ws in sockets:
            await ws.send(json.dumps({"type": "reset", "data": {}}))
            assert json.loads(await ws.recv())["type"] == "observation"
        extra = await connect(server.ws_url)
        refused = json.loads(await extra.recv())
        for ws in sockets + [extra]:
            await ws.close()
        return refused

    refused = asyncio.run(crowd())
    assert refused["type"] == "error" and refused["data"]["code"] == "CAPACITY_REACHED"
    assert server.wait_for_sessions(0) == 0
    with MentorEnvClient(base_url=server.url).sync() as client:
        assert not client.reset(seed=1).done


def test_make_app_refuses_bad_envs():
    from mentor_env.serve import main

    with pytest.raises(ValueError, match="unknown env id"):
        make_app("mentor/Nope-v0")
    with pytest.raises(TypeError):
        make_app("mentor/Calc-v0", max_turns="eight")
    with pytest.raises(SystemExit):
        main(["--env-kwargs", "[1]"])
