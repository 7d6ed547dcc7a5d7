"""mentor_env.serve: OpenEnv's server and client drive our envs over a loopback WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import socket
import threading
import time
import urllib.parse
import urllib.request

import gymnasium as gym
import pytest

pytest.importorskip(
    "openenv.core.env_server.http_server", reason="the server needs openenv-core (make test installs it)"
)
import uvicorn  # noqa: E402
import websockets  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from mentor_env.core.messages import render_assistant_text  # noqa: E402
from mentor_env.core.splits import load_split  # noqa: E402
from mentor_env.domains import get_domain  # noqa: E402
from mentor_env.serve import MentorAction, MentorEnvClient, make_app  # noqa: E402
from mentor_env.serve_limits import ConnectionGuard, ConnectionLimits, server_config  # noqa: E402

HOST = "127.0.0.1"  # loopback only
TASKS = load_split(get_domain("calc"), "test")[:3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running(app, guard=None):
    """``app`` in a uvicorn thread on 127.0.0.1 with the transport's guards (``server_config``), stopped at the end."""
    port = free_port()
    guard = guard or ConnectionGuard(ConnectionLimits(max_connections=256))
    config = server_config(
        app, host=HOST, port=port, guard=guard, ws_max_size=4 * 1024 * 1024, log_level="error", configure_logging=False
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield SimpleServer(f"http://{HOST}:{port}", f"ws://{HOST}:{port}/ws", app.state.openenv_server, guard, port)
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server():
    """The app (32 sessions, the other limits at their defaults) in a uvicorn thread, for the whole module."""
    with running(make_app("mentor/Calc-v0", max_sessions=32, reward_mode="dense")) as instance:
        yield instance


class SimpleServer:
    def __init__(self, url: str, ws_url: str, openenv_server, guard, port: int) -> None:
        self.url, self.ws_url, self.openenv_server, self.guard, self.port = url, ws_url, openenv_server, guard, port

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
            assert (result.done, result.observation.terminated, result.observation.truncated) == (
                terminated or truncated,
                terminated,
                truncated,
            )
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
                json.dumps(
                    {"type": "step", "data": {"text": "<tool_call>{broken"}}
                ),  # the env answers with an error observation
                json.dumps(
                    {"type": "step", "data": {"text": "x" * 200_000}}
                ),  # too long: refused by the env, not the server
                json.dumps({"type": "step", "data": {"text": f"\\boxed{{{TASKS[0].answer}}}"}}),
                json.dumps({"type": "step", "data": {"text": "again"}}),  # after the end
            ]:
                await ws.send(raw)
                answers.append(json.loads(await ws.recv()))
        return answers

    answers = asyncio.run(probe())
    kinds = [a["type"] for a in answers]
    assert kinds == ["error"] * 6 + [
        "observation",
        "error",
        "error",
        "observation",
        "observation",
        "observation",
        "error",
    ]
    assert answers[0]["data"]["code"] == "INVALID_JSON" and answers[1]["data"]["code"] == "UNKNOWN_TYPE"
    assert "not a message object" in answers[1]["data"]["message"] and answers[2]["data"]["code"] == "UNKNOWN_TYPE"
    answers = answers[2:]
    assert "send a reset message first" in answers[2]["data"]["message"]
    assert "generated task ids look like" in answers[3]["data"]["message"]
    assert answers[7]["data"]["observation"]["info"]["errors"][0].startswith("parse_error")
    assert answers[8]["data"]["observation"]["info"]["errors"][0].startswith("invalid_action")
    assert (
        answers[9]["data"]["done"] and answers[9]["data"]["observation"]["info"]["reward_components"]["correct"] == 1.0
    )
    assert "the episode is over" in answers[10]["data"]["message"]
    assert server.wait_for_sessions(0) == 0


def test_clients_dying_mid_episode_free_their_sessions(server):
    async def die(count: int):
        sockets = []
        for index in range(count):
            ws = await connect(server.ws_url)
            await ws.send(json.dumps({"type": "reset", "data": {"seed": index}}))
            await ws.recv()
            await ws.send(
                json.dumps(
                    {
                        "type": "step",
                        "data": {"text": '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'},
                    }
                )
            )
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


# ---------------------------------------------------------------------------------------------------------------------
# Issue 21: nothing a client sends loses an episode, and no client can exhaust or confuse the server.

CALL_ADD = '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'
SURROGATE_TURN = r'<tool_call>{"name": "add", "arguments": {"a": "\ud800", "b": 2}}</tool_call>'  # pure ASCII text


def teacher_turns(task) -> list[str]:
    return [render_assistant_text(m) for m in task.teacher.messages if m["role"] == "assistant"]


async def exchange(ws, frame) -> dict:
    await ws.send(frame)
    return json.loads(await asyncio.wait_for(ws.recv(), 30))


MALFORMED_FRAMES = [  # (frame, the answer's type, its code) between the turns of one episode
    (
        '{"type": "step", "data": {"text": ' + "[" * 1000 + "]" * 1000 + "}}",
        "error",
        "INVALID_JSON",
    ),  # 2 KB, 1,000 deep
    ("[" * 1000 + "]" * 1000, "error", "INVALID_JSON"),
    (
        '{"type": "step", "data": {"text": ' + "[" * 500 + "]" * 500 + "}}",
        "error",
        "VALIDATION_ERROR",
    ),  # readable, wrong
    ('{"type": "reset", "data": {"seed": ' + "7" * 4301 + "}}", "error", "INVALID_JSON"),  # a 4,301-digit integer
    ("hello", "error", "INVALID_JSON"),
    ("", "error", "INVALID_JSON"),
    ("null", "error", "UNKNOWN_TYPE"),
    ('"step"', "error", "UNKNOWN_TYPE"),
    (b"\xff\xfe\x00 not utf-8", "error", "UNKNOWN_TYPE"),
    ('{"type": 7}', "error", "UNKNOWN_TYPE"),
    ('{"type": ["step"]}', "error", "UNKNOWN_TYPE"),
    ('{"data": {"text": "x"}}', "error", "UNKNOWN_TYPE"),
    ('{"type": "step", "data": "\\\\boxed{1}"}', "error", "VALIDATION_ERROR"),
    ('{"type": "step", "data": {"text": ["x"]}}', "error", "VALIDATION_ERROR"),
    ('{"type": "step", "data": {"text": "x", "sudo": true}}', "error", "VALIDATION_ERROR"),
    ('{"type": "step", "data": {"text": "x"}, "priority": 1}', "error", "VALIDATION_ERROR"),
    ('{"type": "state", "data": {}}', "error", "VALIDATION_ERROR"),
    (
        '{"type": "reset", "data": {"taskid": "calc-3"}}',
        "error",
        "VALIDATION_ERROR",
    ),  # an unknown field: no new episode
    ('{"type": "reset", "data": {"task_id": {"nested": 1}}}', "error", "VALIDATION_ERROR"),
    ('{"type": "reset", "data": {"seed": -1}}', "error", "EXECUTION_ERROR"),  # the env refuses; its episode goes on
    ('{"type": "reset", "data": {"task_id": "' + "x" * 400_000 + '"}}', "error", "EXECUTION_ERROR"),
    (json.dumps({"type": "step", "data": {"text": ["x" * 400_000]}}), "error", "VALIDATION_ERROR"),  # no 400 KB echo
    (json.dumps({"type": "step", "data": {"text": "x" * (1 << 20)}}), "error", "FRAME_TOO_LARGE"),
    (json.dumps({"type": "mcp", "data": {"jsonrpc": "2.0", "method": "tools/list", "id": 3}}), "mcp", None),
]


def test_malformed_frames_get_an_error_and_the_episode_goes_on(server):
    """Each malformed frame of the issue (and its variants) between the turns of one episode: a short error each time,
    and the episode ends with the teacher's score, its step count untouched by the refused frames."""
    task = TASKS[0]

    async def play():
        answers = []
        async with connect(server.ws_url, max_size=None) as ws:
            assert (await exchange(ws, json.dumps({"type": "reset", "data": {"task_id": task.id}})))[
                "type"
            ] == "observation"
            turns = teacher_turns(task)
            for index, (frame, _, _) in enumerate(MALFORMED_FRAMES):
                answers.append(await exchange(ws, frame))
                if index == 10:  # a turn in the middle: the episode is where it was
                    middle = await exchange(ws, json.dumps({"type": "step", "data": {"text": turns[0]}}))
            for turn in turns[1:]:
                final = await exchange(ws, json.dumps({"type": "step", "data": {"text": turn}}))
            state = await exchange(ws, json.dumps({"type": "state"}))
        return answers, middle, final, state

    answers, middle, final, state = asyncio.run(play())
    assert [(a["type"], a["data"].get("code")) for a in answers] == [(kind, code) for _, kind, code in MALFORMED_FRAMES]
    assert [len(json.dumps(a)) < 1000 for a in answers] == [True] * len(answers)  # short: no echo of what came
    assert "nested too deeply" in answers[0]["data"]["message"] and "4300 digits" in answers[3]["data"]["message"]
    assert "unknown reset field(s) 'taskid'" in answers[17]["data"]["message"]
    assert answers[-2]["data"]["message"].startswith(
        f"a frame of {len(MALFORMED_FRAMES[-2][0])} bytes is over the limit"
    )
    assert answers[-1]["data"]["error"]["code"] == -32601 and "no MCP tools" in answers[-1]["data"]["error"]["message"]
    assert middle["type"] == "observation" and middle["data"]["observation"]["info"]["turn"] == 1
    assert final["data"]["done"] and final["data"]["observation"]["info"]["reward_components"]["correct"] == 1.0
    assert final["data"]["observation"]["info"]["rewards"]["mentor"] == pytest.approx(1.1)
    assert state["data"]["task_id"] == task.id and state["data"]["step_count"] == len(teacher_turns(task))
    assert server.wait_for_sessions(0) == 0


def test_a_lone_surrogate_in_model_text_reaches_the_client_as_valid_utf8(server):
    """The issue's turn ``"a": "\\ud800"`` puts a lone surrogate into the env's info; every later answer still arrives
    (as UTF-8, the surrogate as U+FFFD), and the episode ends with the reward the env itself gives."""
    task = TASKS[1]
    turns = [SURROGATE_TURN, *teacher_turns(task)]
    env = gym.make("mentor/Calc-v0", reward_mode="dense")
    env.reset(options={"task_id": task.id})
    expected = [env.step(turn)[1:3] for turn in turns]  # (reward, terminated) of the env played directly

    async def play():
        raw = []
        async with connect(server.ws_url, max_size=None) as ws:
            await exchange(ws, json.dumps({"type": "reset", "data": {"task_id": task.id}}))
            for turn in turns:
                await ws.send(json.dumps({"type": "step", "data": {"text": turn}}))
                raw.append(await asyncio.wait_for(ws.recv(), 30))
        return raw

    raw = asyncio.run(play())
    answers = [json.loads(text) for text in raw]
    assert [a["type"] for a in answers] == ["observation"] * len(turns)
    assert [(a["data"]["reward"], a["data"]["observation"]["terminated"]) for a in answers] == [
        (pytest.approx(reward), terminated) for reward, terminated in expected
    ]
    assert answers[0]["data"]["observation"]["info"]["errors"][0].startswith("invalid_args")
    assert "\ufffd" in json.dumps(answers[-1]["data"]["observation"]["info"]["messages"], ensure_ascii=False)
    assert all(text.encode("utf-8").decode("utf-8") == text for text in raw)  # no surrogate went out
    assert answers[-1]["data"]["observation"]["info"]["reward_components"]["correct"] == 1.0


def test_utf8_safe_replaces_lone_surrogates_and_leaves_clean_values_alone():
    from mentor_env.serve import utf8_safe

    clean = {"messages": [{"role": "user", "content": "3 + 4 ≈ 7 🙂"}], "turn": 2, "tools": ("add",)}
    assert utf8_safe(clean) is clean  # nothing to replace: not even copied
    dirty = {"a\udc80": ["ok", {"b": "x\ud800y"}], "n": 1.5, "t": ("\udfff",)}
    assert utf8_safe(dirty) == {"a\ufffd": ["ok", {"b": "x\ufffdy"}], "n": 1.5, "t": ("\ufffd",)}
    deep: list = ["bottom"]
    for _ in range(100):
        deep = [deep]
    assert utf8_safe(deep) is deep  # clean: whatever its depth
    cut = utf8_safe([deep, "\ud800"])  # to be rebuilt: parts deeper than 64 levels are left out
    assert cut[1] == "\ufffd"
    cut = cut[0]
    for _ in range(63):
        cut = cut[0]
    assert cut == "<a list nested deeper than 64 levels, left out>"


def _post(url: str, path: str, body: bytes, headers: dict | None = None) -> tuple[int, bytes]:
    """POST ``body`` and return (status, answer).

    A body over the server's 1 MiB limit is declared but not sent: the server answers 413 from the declared length
    and closes, and a client still writing then gets a broken pipe (or a reset that eats the answer), a race the
    test would lose now and then."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest("POST", path)
        for name, value in {"content-type": "application/json", **(headers or {}), "content-length": len(body)}.items():
            connection.putheader(name, str(value))
        connection.endheaders()
        if len(body) <= 1 << 20:
            connection.send(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_sessions_are_opened_and_closed_only_by_their_own_connection(server):
    """256 ``openenv/session/create`` calls make no session; ``openenv/session/close`` with another client's id, over
    HTTP or a WebSocket, is refused and the victim plays on, counted."""
    connection = http.client.HTTPConnection(HOST, server.port, timeout=30)
    create = json.dumps({"jsonrpc": "2.0", "method": "openenv/session/create", "params": {}, "id": 1})
    started, statuses = time.monotonic(), []
    for _ in range(256):
        connection.request("POST", "/mcp", body=create, headers={"content-type": "application/json"})
        response = connection.getresponse()
        statuses.append((response.status, json.loads(response.read())["error"]["code"]))
    connection.close()
    assert statuses == [(403, -32600)] * 256 and time.monotonic() - started < 60
    assert server.openenv_server.active_sessions == 0

    async def attack():
        async with connect(server.ws_url) as victim:
            await exchange(victim, json.dumps({"type": "reset", "data": {"task_id": TASKS[0].id}}))
            (victim_id,) = list(server.openenv_server._sessions)  # as if leaked
            async with connect(server.ws_url) as attacker:
                close = {
                    "jsonrpc": "2.0",
                    "method": "openenv/session/close",
                    "params": {"session_id": victim_id},
                    "id": 9,
                }
                over_ws = await exchange(attacker, json.dumps({"type": "mcp", "data": close}))
                over_http = await asyncio.to_thread(_post, server.url, "/mcp", json.dumps(close).encode())
                counted = server.openenv_server.active_sessions
            results = [
                await exchange(victim, json.dumps({"type": "step", "data": {"text": turn}}))
                for turn in teacher_turns(TASKS[0])
            ]
            still = server.openenv_server.active_sessions
        return over_ws, over_http, counted, results, still

    over_ws, (status, body), counted, results, still = asyncio.run(attack())
    assert over_ws["type"] == "mcp" and over_ws["data"]["id"] == 9 and over_ws["data"]["error"]["code"] == -32600
    assert "closed only by its own connection" in over_ws["data"]["error"]["message"]
    assert status == 403 and json.loads(body)["error"]["code"] == -32600
    assert counted == 2 and still == 1  # the attacker left; the victim's session was never unregistered
    assert (
        results[-1]["data"]["done"]
        and results[-1]["data"]["observation"]["info"]["reward_components"]["correct"] == 1.0
    )

    async def mcp_socket():
        async with connect(server.ws_url.replace("/ws", "/mcp")):
            pass

    with pytest.raises(websockets.exceptions.InvalidStatus, match="403"):
        asyncio.run(mcp_socket())
    assert server.wait_for_sessions(0) == 0


def test_one_client_address_cannot_take_every_session():
    """6 sessions, 3 per client address: the 4th from 127.0.0.1 is refused (CAPACITY_REACHED, close 1013) while
    127.0.0.2 still gets sessions; when one closes, its client may open another."""
    app = make_app("mentor/Calc-v0", max_sessions=6, max_sessions_per_client=3)

    async def crowd(srv):
        mine = [await connect(srv.ws_url) for _ in range(3)]
        for ws in mine:
            assert (await exchange(ws, json.dumps({"type": "reset", "data": {}})))["type"] == "observation"
        extra = await connect(srv.ws_url)
        refused = json.loads(await asyncio.wait_for(extra.recv(), 30))
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            await asyncio.wait_for(extra.recv(), 30)
        other = await connect(srv.ws_url, local_addr=("127.0.0.2", 0))
        other_answer = await exchange(other, json.dumps({"type": "reset", "data": {"seed": 4}}))
        await mine[0].close()
        deadline = time.monotonic() + 10
        while app.state.sessions_by_client["127.0.0.1"] != 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        again = await connect(srv.ws_url)
        again_answer = await exchange(again, json.dumps({"type": "reset", "data": {"seed": 5}}))
        for ws in (*mine[1:], other, again):
            await ws.close()
        return refused, extra.close_code, other_answer, again_answer

    with running(app) as srv:
        refused, code, other_answer, again_answer = asyncio.run(crowd(srv))
        assert srv.wait_for_sessions(0) == 0
    assert refused["type"] == "error" and refused["data"]["code"] == "CAPACITY_REACHED" and code == 1013
    assert refused["data"]["message"].startswith("127.0.0.1 has 3 sessions open, the limit per client")
    assert other_answer["type"] == "observation" and again_answer["type"] == "observation"


def test_idle_sessions_expire_and_free_their_slot():
    """With a 1.5 s idle limit and 2 sessions: a client that keeps talking keeps its session; a silent one gets
    SESSION_EXPIRED and a close (1001) and its slot goes to a new client.

    The talking client's pauses (0.2 s) stay far under the limit, so that a loaded machine's late event loop
    does not expire it."""
    app = make_app("mentor/Calc-v0", max_sessions=2, session_timeout_s=1.5)

    async def scenario(srv):
        busy, silent = await connect(srv.ws_url), await connect(srv.ws_url)
        for ws in (busy, silent):
            await exchange(ws, json.dumps({"type": "reset", "data": {"task_id": TASKS[0].id}}))
        started = time.monotonic()
        for _ in range(12):  # 2.4 s of activity, more than one idle limit
            assert (await exchange(busy, json.dumps({"type": "state"})))["type"] == "state"
            await asyncio.sleep(0.2)
        expired = json.loads(await asyncio.wait_for(silent.recv(), 10))
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            await asyncio.wait_for(silent.recv(), 10)
        waited = time.monotonic() - started
        deadline = time.monotonic() + 10
        while srv.openenv_server.active_sessions != 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        newcomer = await connect(srv.ws_url)
        welcome = await exchange(newcomer, json.dumps({"type": "reset", "data": {}}))
        step = await exchange(busy, json.dumps({"type": "step", "data": {"text": CALL_ADD}}))
        await newcomer.close()
        await busy.close()
        return expired, silent.close_code, waited, welcome, step

    with running(app) as srv:
        expired, code, waited, welcome, step = asyncio.run(scenario(srv))
        assert srv.wait_for_sessions(0) == 0
    assert expired["data"]["code"] == "SESSION_EXPIRED" and code == 1001 and waited < 10
    assert welcome["type"] == "observation" and step["type"] == "observation"


HTTP_CASES = [  # (path, body, status, words of the answer)
    ("/step", json.dumps({"action": {"text": "\\boxed{1}"}}), 409, "no episode to step"),
    ("/step", "garbage", 409, "no episode to step"),
    ("/reset", json.dumps({"taskid": "calc-3"}), 422, "unknown reset field(s) 'taskid'"),
    ("/reset", json.dumps({"task_id": "calc-banana"}), 422, "generated task ids look like"),
    ("/reset", json.dumps({"task_id": "x" * 400_000}), 422, "reset refused"),
    ("/reset", json.dumps({"seed": "seven"}), 422, "Seed must be a python integer"),
    ("/reset", "[1, 2]", 400, "must be a JSON object"),
    ("/reset", "{not json", 400, "Invalid JSON"),
    ("/reset", "[" * 5000 + "]" * 5000, 400, "nested too deeply"),
    ("/reset", '{"seed": ' + "1" * 4301 + "}", 400, "4300 digits"),
    ("/reset", "x" * ((1 << 20) + 1), 413, "at most 1048576 bytes"),
    ("/mcp", "{", 400, "Invalid JSON"),
    ("/mcp", json.dumps({"jsonrpc": "2.0", "method": "tools/list", "id": 1}), 404, "no MCP tools"),
    (
        "/mcp",
        json.dumps({"jsonrpc": "2.0", "method": "openenv/session/close", "params": {"session_id": "x"}}),
        403,
        "closed only by its own connection",
    ),
]


def test_bad_http_requests_get_a_short_4xx_and_no_traceback(server, caplog):
    caplog.set_level(logging.WARNING)
    answers = [_post(server.url, path, body.encode()) for path, body, _, _ in HTTP_CASES]
    assert [status for status, _ in answers] == [status for _, _, status, _ in HTTP_CASES]
    for (_, _, _, words), (_, body) in zip(HTTP_CASES, answers):
        assert words in body.decode() and len(body) < 1000, body[:300]
    status, body = _post(server.url, "/reset", json.dumps({"task_id": "calc-3", "difficulty": None}).encode())
    assert status == 200 and json.loads(body)["observation"]["info"]["task_id"] == "calc-3"
    # The log flood: 1,000 POST /step wrote 4.5 MB of tracebacks. Now: 409s, and nothing logged.
    connection = http.client.HTTPConnection(HOST, server.port, timeout=30)
    sizes = []
    for _ in range(1000):
        connection.request(
            "POST", "/step", body=b'{"action": {"text": "x"}}', headers={"content-type": "application/json"}
        )
        response = connection.getresponse()
        sizes.append((response.status, len(response.read())))
    connection.close()
    assert set(sizes) == {(409, sizes[0][1])} and sizes[0][1] < 300
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []


def test_an_undeclared_body_over_the_limit_is_cut_off_at_the_limit(server):
    """A chunked body declares no length: the server counts what arrives and answers 413 past 1 MiB."""
    connection = http.client.HTTPConnection(HOST, server.port, timeout=30)
    connection.putrequest("POST", "/reset")
    connection.putheader("content-type", "application/json")
    connection.putheader("transfer-encoding", "chunked")
    connection.endheaders()
    chunk = b"x" * ((1 << 20) + 1)
    connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))  # no last chunk: the answer must not wait for one
    response = connection.getresponse()
    assert (response.status, response.read()) == (413, b'{"detail":"a request body is at most 1048576 bytes"}')
    connection.close()


def test_http_state_and_metadata_build_no_env(server, monkeypatch):
    """OpenEnv built an env per GET /state or /metadata on the event loop (milliseconds with every session waiting)."""
    import mentor_env.serve as serve

    built = []
    real_init = serve.MentorEnvironment.__init__

    def counting_init(self, *args, **kwargs):
        built.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(serve.MentorEnvironment, "__init__", counting_init)
    answers = []
    for path in ["/state", "/metadata"] * 50:
        with urllib.request.urlopen(server.url + path, timeout=30) as response:
            answers.append(json.loads(response.read()))
    assert len(built) == 0
    assert answers[0] == {
        "episode_id": None,
        "step_count": 0,
        "env_id": "mentor/Calc-v0",
        "task_id": None,
        "turn": 0,
        "done": False,
    }
    assert answers[1]["name"] == "mentor/Calc-v0" and "reward mode 'dense'" in answers[1]["description"]
    assert _post(server.url, "/reset", b'{"task_id": "calc-3"}')[0] == 200 and len(built) == 1  # a stateless reset does


def _slow_socket(port: int, source: str, start: bytes = b"GET /health HTTP/1.1\r\nHost: x\r\n") -> socket.socket:
    """A connection from ``source`` that sends ``start`` (half a request's headers) and then nothing."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect((HOST, port))
    if start:
        sock.sendall(start)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks)


def test_slow_connections_are_cut_off_and_cannot_lock_clients_out():
    """Headers must arrive within 2 s; one address gets 4 connections in HTTP (more get 503 at once); at the cap
    of 12 connections a client from a new address takes the place of a slow one, so slow clients from many
    addresses cannot keep it out; a body sent too slowly gets 408.

    The 2 s window must outlast 18 connects and a request (well under 0.1 s unloaded), with room for a loaded
    machine: the slow connections must still be open when the test looks at them."""
    app = make_app("mentor/Calc-v0", max_sessions=4, request_timeout_s=2.0)
    guard = ConnectionGuard(ConnectionLimits(max_connections=12, max_connections_per_client=4, request_timeout_s=2.0))
    with running(app, guard) as srv:
        started = time.monotonic()
        # Silent: a refused connection that had sent data may see a reset instead of its 503 (the data was not read).
        one_address = [_slow_socket(srv.port, "127.0.0.2", start=b"") for _ in range(10)]
        answers = [_read_all(sock) for sock in one_address]  # refused at once, or cut off at the deadline
        elapsed = time.monotonic() - started
        assert [answer[:12] for answer in answers] == [b""] * 4 + [b"HTTP/1.1 503"] * 6 and elapsed < 10
        assert b"127.0.0.2 has 4 HTTP connections open (the limit per client)" in answers[4]
        assert (guard.timed_out, guard.refused, dict(guard.by_client)) == (4, 6, {})

        # 6 addresses, 3 slow connections each, in turn: 12 fill the cap (2 per address); the 13th to 18th would make
        # 3 at their address, more than any other has: refused. A client from a 7th address takes the place of the
        # slow connection waiting longest at an address with 2.
        many = [_slow_socket(srv.port, f"127.0.0.{3 + index % 6}") for index in range(18)]
        deadline = time.monotonic() + 5
        while guard.refused < 12 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (guard.evicted, guard.refused) == (0, 12)
        with urllib.request.urlopen(srv.url + "/health", timeout=10) as response:  # from 127.0.0.1
            assert response.status == 200
        assert (guard.evicted, guard.refused) == (1, 12)
        assert many[0].recv(100) == b""  # the one it replaced: the first of 127.0.0.3
        for sock in many:
            sock.close()

        sock = socket.create_connection((HOST, srv.port), timeout=10)
        sock.sendall(
            b"POST /reset HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        slow_body = _read_all(sock)
        sock.close()
        assert slow_body.startswith(b"HTTP/1.1 408") and b"did not arrive within 2 s" in slow_body
        deadline = time.monotonic() + 5
        while (guard.by_client or guard.waiting) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (dict(guard.by_client), guard.waiting) == ({}, {})


def test_log_volume_is_bounded():
    """A flood of one message and of 1,000 different ones: per minute 10 of a kind and 60 in all pass, each cut."""
    from mentor_env.serve_limits import RateLimitFilter

    now = [0.0]
    limiter = RateLimitFilter(window_s=60, per_message=10, total=60, max_chars=100, clock=lambda: now[0])

    def record(msg: str, *args) -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, msg, args, None)

    same = [limiter.filter(record("socket.accept() out of system resource")) for _ in range(1000)]
    different = [limiter.filter(record(f"client {index} " + "y" * 500)) for index in range(1000)]
    assert (sum(same), sum(different)) == (10, 50)
    cut = record("z" * 500)
    now[0] = 30.0
    assert not limiter.filter(cut)  # still the first window: its 60 are spent
    now[0] = 61.0
    late = record("back to normal %d", 7)
    assert limiter.filter(late)
    assert late.getMessage() == "back to normal 7 [1941 earlier log records held back by the rate limit]"
    long = record("w" * 500)
    assert limiter.filter(long) and long.getMessage() == "w" * 100 + "... (500 characters in all)"


def test_capacity_plan_keeps_descriptors_under_the_open_file_limit():
    from mentor_env.serve_limits import plan_capacity

    assert plan_capacity(None, None, None) == (256, 576)
    assert plan_capacity(None, None, 20000) == (256, 576)
    assert plan_capacity(None, None, 1024) == (256, 320)  # 1024 - 64 - 128 - 2 x 256
    assert plan_capacity(None, None, 512) == (104, 112)  # 512 - 192 = 320 for sessions (3 each) and connections
    assert plan_capacity(16, None, 512) == (16, 96)
    with pytest.raises(ValueError, match="so at most 33 sessions fit"):
        plan_capacity(64, None, 300)  # 300 - 192 = 108: (108 - 8) // 3
    with pytest.raises(ValueError, match="so at most 33 sessions fit"):
        plan_capacity(64, 1000, 300)
    with pytest.raises(
        ValueError, match=r"need up to 1256 descriptors, more than the open-file limit 1024 \(at most 768"
    ):
        plan_capacity(32, 1000, 1024)  # 1000 + 2 x 32 + 192; 1024 - 192 - 2 x 32 = 768 for connections
    with pytest.raises(ValueError, match=r"max_connections \(10\) must be at least max_sessions \(64\)"):
        plan_capacity(64, 10, None)
    with pytest.raises(ValueError, match="max_sessions must be an integer >= 1, got 0"):
        plan_capacity(0, None, None)


def test_the_command_line_states_its_limits(capsys):
    from mentor_env.serve import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())  # as wrapped for any terminal width
    for words in [
        "--max-sessions",
        "default 256",
        "--max-sessions-per-client",
        "default 32",
        "--session-timeout",
        "default 600",
        "--max-frame-bytes",
        "default 1048576",
        "--max-connections",
        "2 x sessions + 64",
        "--max-connections-per-client",
        "default 64",
        "--request-timeout",
        "default 10",
        "FRAME_TOO_LARGE error, the session goes on",
        "60 in all per minute",
    ]:
        assert words in text, words
    with pytest.raises(SystemExit):
        main(["--max-sessions", "64", "--max-connections", "10"])
    assert "max_connections (10) must be at least max_sessions (64)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--session-timeout", "-1"])
    assert "session_timeout_s must be a finite number of seconds > 0" in capsys.readouterr().err


def test_a_frame_over_the_websocket_layers_limit_closes_only_its_connection(server):
    """Over 4 x max_frame_bytes the WebSocket layer itself closes the connection (1009, RFC 6455); the server serves on."""

    async def oversize():
        async with connect(server.ws_url, max_size=None) as ws:
            await exchange(ws, json.dumps({"type": "reset", "data": {}}))
            await ws.send(json.dumps({"type": "step", "data": {"text": "x" * (4 * 1024 * 1024)}}))
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 30)
            return ws.close_code

    assert asyncio.run(oversize()) == 1009
    with MentorEnvClient(base_url=server.url).sync() as client:
        assert not client.reset(seed=3).done
    assert server.wait_for_sessions(0) == 0


def test_the_command_line_server_delivers_every_answer_of_a_surrogate_episode():
    """``python -m mentor_env.serve`` (the limits, logging and protocol of the CLI): the issue's turn, then the
    teacher's, each answered, the reward the env gives, and nothing on stderr."""
    import subprocess
    import sys

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mentor_env.serve",
        "--port",
        str(port),
        "--env-kwargs",
        '{"reward_mode": "dense"}',
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        task = TASKS[2]
        turns = [SURROGATE_TURN, *teacher_turns(task)]
        env = gym.make("mentor/Calc-v0", reward_mode="dense")
        env.reset(options={"task_id": task.id})
        expected = [env.step(turn)[1] for turn in turns]
        with MentorEnvClient(base_url=f"http://{HOST}:{port}").sync() as client:
            client.reset(task_id=task.id)
            results = [client.step(turn) for turn in turns]
        assert [result.reward for result in results] == [pytest.approx(reward) for reward in expected]
        assert results[-1].done and results[-1].observation.info["reward_components"]["correct"] == 1.0
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert stderr.decode() == ""


# ---------------------------------------------------------------------------------------------------------------------
# Issue 23: several env ids from one process, a line saying where the server listens, every default in --help, and a
# stop within about a second on SIGINT or SIGTERM.

UNITS_TASK = load_split(get_domain("units"), "test")[0]
SERVED = ["mentor/Calc-v0", "mentor/Units-v0"]


def test_a_reset_picks_one_of_the_served_env_ids():
    task = TASKS[1]
    with running(make_app(SERVED, max_sessions=4, reward_mode="dense")) as server:
        with MentorEnvClient(base_url=server.url).sync() as client:
            assert client.reset(task_id=task.id).observation.info["task_id"] == task.id  # the first id by default
            assert client.state().env_id == "mentor/Calc-v0"
            env = gym.make("mentor/Units-v0", reward_mode="dense")
            obs, _ = env.reset(options={"task_id": UNITS_TASK.id})
            result = client.reset(env_id="mentor/Units-v0", task_id=UNITS_TASK.id)
            assert result.observation.text == obs and client.state().env_id == "mentor/Units-v0"
            for turn in teacher_turns(UNITS_TASK):
                expected = env.step(turn)[1]
                result = client.step(turn)
                assert result.reward == pytest.approx(expected)
            assert result.done and result.observation.info["reward_components"]["correct"] == 1.0
            assert client.reset(env_id="mentor/Calc-v0", task_id=task.id).observation.info["task_id"] == task.id
        status, body = _post(
            server.url, "/reset", json.dumps({"env_id": "mentor/Units-v0", "task_id": UNITS_TASK.id}).encode()
        )
        assert status == 200 and json.loads(body)["observation"]["text"] == obs
        with urllib.request.urlopen(f"{server.url}/mentor/status", timeout=30) as response:
            assert json.loads(response.read())["env_ids"] == SERVED


def test_an_env_id_not_served_is_refused_and_the_episode_goes_on():
    refusal = "env_id 'mentor/Table-v0' is not served here: this server serves mentor/Calc-v0, mentor/Units-v0"
    task = TASKS[0]
    with running(make_app(SERVED, max_sessions=4)) as server:

        async def play():
            async with connect(server.ws_url) as ws:
                first = await exchange(ws, json.dumps({"type": "reset", "data": {"task_id": task.id}}))
                answers = [
                    await exchange(ws, json.dumps({"type": "reset", "data": data}))
                    for data in ({"env_id": "mentor/Table-v0"}, {"env_id": 7})
                ]
                last = None
                for turn in teacher_turns(task):  # the refused resets left the Calc episode as it was
                    last = await exchange(ws, json.dumps({"type": "step", "data": {"text": turn}}))
                return first, answers, last

        first, answers, last = asyncio.run(play())
        status, body = _post(server.url, "/reset", json.dumps({"env_id": "mentor/Table-v0"}).encode())
    assert first["type"] == "observation"
    assert answers[0]["type"] == "error" and answers[0]["data"]["message"] == refusal
    assert answers[1]["data"] == {
        "code": "VALIDATION_ERROR",
        "message": "env_id must be a string of at most 255 characters, got int 7",
    }
    assert last["data"]["done"] and last["data"]["observation"]["info"]["reward_components"]["correct"] == 1.0
    assert status == 422 and json.loads(body) == {"detail": refusal}


def test_make_app_refuses_bad_lists_of_env_ids():
    with pytest.raises(ValueError, match="env_id must be an env id or a non-empty list of them, got list"):
        make_app([])
    with pytest.raises(ValueError, match="env ids are served once each; repeated: mentor/Calc-v0"):
        make_app(["mentor/Calc-v0", "mentor/Units-v0", "mentor/Calc-v0"])
    with pytest.raises(ValueError, match="unknown env id"):
        make_app(["mentor/Calc-v0", "mentor/Nope-v0"])


def test_every_option_of_the_command_line_shows_its_default():
    from mentor_env.serve import _parser

    parser = _parser(1024)
    options = [action for action in parser._actions if action.dest != "help"]
    assert len(options) == 12
    assert [action.option_strings[0] for action in options if "default" not in (action.help or "")] == []
    assert parser.parse_args(["--env-ids", *SERVED]).env == SERVED
    assert parser.parse_args([]).env == ["mentor/Calc-v0"]


def _start_cli(*args: str):
    """``python -m mentor_env.serve --port 0 ARGS``, and the first line it prints (where it listens)."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "mentor_env.serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    return process, line


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_the_command_line_says_where_it_listens_and_stops_at_once_on_a_signal(stop):
    import re
    import signal

    process, line = _start_cli("--env", *SERVED)
    try:
        match = re.fullmatch(
            r"mentor_env\.serve: serving mentor/Calc-v0 \(a reset's env_id picks one of mentor/Calc-v0, "
            r"mentor/Units-v0\) on http://127\.0\.0\.1:(\d+), WebSocket ws://127\.0\.0\.1:(\d+)/ws; "
            r"Ctrl-C or SIGTERM stops it\n",
            line,
        )
        assert match and match.group(1) == match.group(2), line
        with MentorEnvClient(base_url=f"http://{HOST}:{match.group(1)}").sync() as client:
            client.reset(env_id="mentor/Units-v0", task_id=UNITS_TASK.id)
            assert client.state().env_id == "mentor/Units-v0"  # the session stays open through the signal
            started = time.monotonic()
            process.send_signal(getattr(signal, stop))
            out, err = process.communicate(timeout=30)
            seconds = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert (process.returncode, out, err) == (0, f"mentor_env.serve: stopped by {stop}\n", "")  # no traceback
    assert (
        seconds < 15.0
    )  # a gross bound against a hang or a full graceful wait: 0.4-0.5 s measured, 4.8 s with the CPUs saturated
