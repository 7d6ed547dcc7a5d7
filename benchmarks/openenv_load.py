r"""Load test of the OpenEnv server (``python -m mentor_env.serve``) on loopback: sessions, requests/s, robustness.

    python -m benchmarks.openenv_load                       # about 2 minutes on 2 CPUs
    python -m benchmarks.openenv_load --quick               # a few seconds: checks that it runs
    python -m benchmarks.openenv_load --sessions 1 64 512 --seconds 5 --out /tmp/load.json

Starts the server in a child process bound to 127.0.0.1 (nothing else is ever
contacted; ``--host`` accepts loopback addresses only), then, from this
process, with OpenEnv's own async client (:class:`mentor_env.serve.MentorEnvClient`):

1. **throughput**: for each count in ``--sessions``, that many clients connect
   at once and each plays Calc episodes for ``--seconds`` (reset, one tool
   call, the answer: three requests per episode); reports requests/s and
   episodes/s over the wall time, request latency percentiles, and the
   server's sessions, threads and memory while they are open and after they close;
2. **dying clients**: ``--churn-rounds`` rounds of ``--churn-sessions``
   clients that reset, call a tool and then drop the connection without a
   close frame (a killed process); after each round the server must be back
   to 0 sessions, and its memory after the last round is compared with the
   first (a leak grows it round after round);
3. **malformed requests**: broken JSON, unknown message types, bad actions,
   steps before reset and after the end, oversized turns; every one must get
   an error answer (or the env's error observation) and the server must keep
   serving;
4. **isolation under load**: while the churn runs, a set of long-lived
   clients play whole episodes on fixed tasks and check that every answer
   belongs to their own episode (task id, turn count);
5. **abuse** (issue 21; ``--abuse-only`` runs just this and writes
   ``results/openenv_abuse.json``): ``--session-creates`` MCP
   ``openenv/session/create`` calls over ``POST /mcp`` (they must all be
   refused and leave no session), ``--flood-requests`` ``POST /step`` (each a
   short 4xx, and the server's log bytes over them), and, for each count in
   ``--slow-addresses``, a second server started as ``python -m
   mentor_env.serve`` with its defaults under an open-file limit of
   ``--open-files`` (512) while ``--slow-connections`` (600) connections from
   that many loopback source addresses (127.0.0.2, ...) send half a request's
   headers and then nothing, each reopened 0.1 s after the server closes it,
   for ``--abuse-seconds`` (24): a client from another address, in its own
   thread, asks ``GET /health`` every 0.5 s (answers and latency are
   reported, and the latency of 3 s of asking before the attack), plays one
   WebSocket episode at the end, and the server's log bytes (at the CLI's
   log level) and "Too many open files" lines are counted.

Every phase is bounded in count and time, and the server is stopped at the
end (also on failure). Writes JSON (machine, settings, results) to ``--out``,
atomically. On the same 2 CPUs the client and the server compete, so the
numbers are a floor for a server with its own cores.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import ipaddress
import json
import os
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from agents.config import retire_flags
from benchmarks.processes import python_command
from benchmarks.reporting import machine
from mentor_env.core.splits import write_text_atomically

RESULTS = Path(__file__).resolve().parent / "results" / "openenv_load.json"
ABUSE_RESULTS = Path(__file__).resolve().parent / "results" / "openenv_abuse.json"
CALL = '<tool_call>{"name": "add", "arguments": {"a": 2, "b": 3}}</tool_call>'
HARD_LIMIT_S = 900  # the whole run, whatever the settings


@dataclass
class Settings:
    sessions: list[int] = field(default_factory=lambda: [1, 16, 128, 512, 2048])
    seconds: float = 6.0
    churn_rounds: int = 5
    churn_sessions: int = 256
    isolation_clients: int = 16
    malformed_repeats: int = 50
    host: str = "127.0.0.1"
    env_id: str = "mentor/Calc-v0"
    session_creates: int = 256
    flood_requests: int = 1000
    slow_connections: int = 600
    slow_addresses: list[int] = field(default_factory=lambda: [1, 100])
    open_files: int = 512
    abuse_seconds: float = 24.0


def _limit_open_files(count: int) -> None:
    """In the child, before it runs: at most ``count`` open files."""
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))


def _loopback(host: str) -> str:
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"--host must be a loopback address (127.0.0.1); got {host!r}")
    return "127.0.0.1" if host == "localhost" else host


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServerLog:
    """Reads a child's stderr as it comes (so that a flood cannot block it): bytes, lines naming EMFILE, the tail."""

    MARK = b"Too many open files"

    def __init__(self, stream: Any) -> None:
        self.bytes = 0
        self.emfile_lines = 0
        self.tail = b""
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        carry = b""
        for chunk in iter(lambda: stream.read1(1 << 16), b""):
            self.bytes += len(chunk)
            data = carry + chunk
            self.emfile_lines += data.count(self.MARK)
            carry = data[-(len(self.MARK) - 1) :]
            self.tail = (self.tail + chunk)[-4000:]


class Server:
    """``python -m mentor_env.serve`` in a child process, on loopback.

    ``limit_args`` replace the session and connection limits sized for this
    load test (``[]``: the CLI's defaults); ``open_files`` sets the child's
    open-file limit; ``log_level=None`` keeps the CLI's (warning).
    """

    def __init__(
        self,
        settings: Settings,
        limit_args: list[str] | None = None,
        open_files: int | None = None,
        log_level: str | None = "error",
    ) -> None:
        self.host = _loopback(settings.host)
        self.port = _free_port(self.host)
        self.url = f"http://{self.host}:{self.port}"
        limit = max(max(settings.sessions), settings.churn_sessions + settings.isolation_clients) + 8
        if limit_args is None:  # one client address opens every session here
            limit_args = [
                "--max-sessions",
                str(limit),
                "--max-sessions-per-client",
                str(limit),
                "--max-connections-per-client",
                "256",
            ]
        # A server that dies with this process: an orphaned one would serve its port until someone kills it.
        command = python_command(
            [
                "-m",
                "mentor_env.serve",
                "--env",
                settings.env_id,
                "--host",
                self.host,
                "--port",
                str(self.port),
                *limit_args,
                *(["--log-level", log_level] if log_level else []),
            ]
        )
        environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            command,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=None if open_files is None else partial(_limit_open_files, open_files),
        )
        self.log = ServerLog(self.process.stderr)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                time.sleep(0.2)
                raise RuntimeError(f"the server exited: {self.log.tail.decode(errors='replace')[-2000:]}")
            try:
                self.status()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the server did not start within 60 s") from None
                time.sleep(0.2)

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/mentor/status", timeout=10) as response:
            return json.loads(response.read())

    def wait_idle(self, timeout_s: float = 30.0) -> tuple[int, float]:
        """Wait until no session is open; (sessions left, seconds waited)."""
        started = time.monotonic()
        while True:
            active = self.status()["active_sessions"]
            if active == 0 or time.monotonic() - started > timeout_s:
                return active, time.monotonic() - started
            time.sleep(0.1)

    async def astatus(self) -> dict[str, Any]:
        """:meth:`status` off the event loop (a blocking call there would stall this process's clients)."""
        return await asyncio.to_thread(self.status)

    async def await_idle(self, timeout_s: float = 30.0) -> tuple[int, float]:
        return await asyncio.to_thread(self.wait_idle, timeout_s)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50_ms": at(0.5), "p90_ms": at(0.9), "p99_ms": at(0.99), "max_ms": round(1000 * ordered[-1], 3)}


async def _connect_all(url: str, count: int) -> list[Any]:
    from mentor_env.serve import MentorEnvClient

    clients = [MentorEnvClient(base_url=url, connect_timeout_s=60, message_timeout_s=120) for _ in range(count)]
    batch = 64  # connect in batches: thousands at once overrun the listen backlog
    for start in range(0, count, batch):
        await asyncio.gather(*(client.connect() for client in clients[start : start + batch]))
    return clients


async def throughput(server: Server, count: int, seconds: float) -> dict[str, Any]:
    """``count`` clients playing three-request episodes for ``seconds``."""
    connect_started = time.monotonic()
    clients = await _connect_all(server.url, count)
    connect_s = time.monotonic() - connect_started
    latencies: list[float] = []
    episodes = 0
    errors = 0
    stop_at = time.monotonic() + seconds

    async def play(client: Any, index: int) -> None:
        nonlocal episodes, errors
        seed = index * 100_000
        while time.monotonic() < stop_at:
            try:
                for request in (
                    partial(client.reset, seed=seed),
                    partial(client.step, CALL),
                    partial(client.step, "\\boxed{5}"),
                ):
                    started = time.monotonic()
                    await request()
                    latencies.append(time.monotonic() - started)
                episodes += 1
            except Exception:  # counted: a load test reports failures, it does not stop at the first
                errors += 1
            seed += 1

    started = time.monotonic()
    await asyncio.gather(*(play(client, index) for index, client in enumerate(clients)))
    wall = time.monotonic() - started
    during = await server.astatus()
    await asyncio.gather(*(client.close() for client in clients))
    left, drain_s = await server.await_idle()
    after = await server.astatus()
    return {
        "sessions": count,
        "seconds": round(wall, 3),
        "connect_s": round(connect_s, 3),
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / wall, 1),
        "episodes_per_s": round(episodes / wall, 1),
        "errors": errors,
        **_percentiles(latencies),
        "server_sessions_open": during["active_sessions"],
        "server_threads_open": during["threads"],
        "server_rss_mb_open": round(during["rss_bytes"] / 2**20, 1),
        "server_sessions_after": left,
        "server_rss_mb_after": round(after["rss_bytes"] / 2**20, 1),
        "drain_s": round(drain_s, 3),
    }


async def _die(url: str, count: int, round_index: int) -> int:
    """``count`` raw WebSocket clients reset, call a tool, then drop without a close frame. Returns failures."""
    from websockets.asyncio.client import connect

    ws_url = url.replace("http://", "ws://") + "/ws"
    sockets = []
    failures = 0
    for start in range(0, count, 64):
        sockets += await asyncio.gather(*(connect(ws_url, open_timeout=60) for _ in range(min(64, count - start))))

    async def half_episode(ws: Any, index: int) -> None:
        nonlocal failures
        await ws.send(json.dumps({"type": "reset", "data": {"seed": round_index * 10_000 + index}}))
        failures += json.loads(await ws.recv())["type"] != "observation"
        await ws.send(json.dumps({"type": "step", "data": {"text": CALL}}))
        failures += json.loads(await ws.recv())["type"] != "observation"

    await asyncio.gather(*(half_episode(ws, index) for index, ws in enumerate(sockets)))
    for ws in sockets:
        ws.transport.abort()
    return failures


async def isolated_player(url: str, task_ids: list[str], stop: asyncio.Event) -> dict[str, int]:
    """Play whole episodes on fixed tasks while other clients churn; count answers that are not ours."""
    from mentor_env.serve import MentorEnvClient

    client = MentorEnvClient(base_url=url, connect_timeout_s=60, message_timeout_s=120)
    await client.connect()
    counts = {"episodes": 0, "foreign_answers": 0}
    try:
        index = 0
        while not stop.is_set():
            task_id = task_ids[index % len(task_ids)]
            index += 1
            result = await client.reset(task_id=task_id)
            wrong = result.observation.info["task_id"] != task_id
            for turn in range(1, 3):
                result = await client.step(CALL if turn == 1 else "\\boxed{0}")
                info = result.observation.info
                wrong = wrong or info["task_id"] != task_id or info["turn"] != turn
            counts["foreign_answers"] += int(wrong or not result.done)
            counts["episodes"] += 1
    finally:
        await client.close()
    return counts


async def churn(server: Server, settings: Settings) -> dict[str, Any]:
    stop = asyncio.Event()
    task_ids = [f"calc-{seed}" for seed in range(settings.isolation_clients)]
    players = [
        asyncio.create_task(isolated_player(server.url, task_ids[i:] + task_ids[:i], stop))
        for i in range(settings.isolation_clients)
    ]
    rounds = []
    try:
        for round_index in range(settings.churn_rounds):
            started = time.monotonic()
            failures = await _die(server.url, settings.churn_sessions, round_index)
            # The isolation players keep their sessions: idle means back to their count.
            deadline = time.monotonic() + 30
            while (await server.astatus())[
                "active_sessions"
            ] > settings.isolation_clients and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            status = await server.astatus()
            rounds.append(
                {
                    "round": round_index,
                    "failures": failures,
                    "seconds": round(time.monotonic() - started, 3),
                    "sessions_left": status["active_sessions"] - settings.isolation_clients,
                    "rss_mb": round(status["rss_bytes"] / 2**20, 1),
                    "threads": status["threads"],
                }
            )
    finally:
        stop.set()
        isolation = await asyncio.gather(*players, return_exceptions=True)
    left, _ = await server.await_idle()
    failed_players = [repr(result) for result in isolation if isinstance(result, BaseException)]
    played = [result for result in isolation if isinstance(result, dict)]
    return {
        "rounds": rounds,
        "sessions_per_round": settings.churn_sessions,
        "rss_growth_mb_after_first_round": round(rounds[-1]["rss_mb"] - rounds[0]["rss_mb"], 1) if rounds else 0.0,
        "sessions_left_at_end": left,
        "isolation": {
            "clients": settings.isolation_clients,
            "episodes": sum(result["episodes"] for result in played),
            "foreign_answers": sum(result["foreign_answers"] for result in played),
            "client_failures": failed_players,
        },
    }


MALFORMED: list[tuple[str, str]] = [
    ("broken_json", "{not json"),
    ("not_an_object", "[1, 2, 3]"),
    ("unknown_type", json.dumps({"type": "teleport", "data": {}})),
    ("step_before_reset", json.dumps({"type": "step", "data": {"text": "\\boxed{1}"}})),
    ("bad_reset_task", json.dumps({"type": "reset", "data": {"task_id": "calc-banana"}})),
    ("bad_reset_seed", json.dumps({"type": "reset", "data": {"seed": "seven"}})),
    ("action_wrong_field", json.dumps({"type": "step", "data": {"txt": "x"}})),
    ("action_not_text", json.dumps({"type": "step", "data": {"text": {"nested": [1, 2]}}})),
    ("action_extra_field", json.dumps({"type": "step", "data": {"text": "x", "sudo": True}})),
    ("step_without_data", json.dumps({"type": "step"})),
]


async def malformed(server: Server, repeats: int) -> dict[str, Any]:
    """Every malformed message must get an error answer; a session must survive all of them."""
    from websockets.asyncio.client import connect

    ws_url = server.url.replace("http://", "ws://") + "/ws"
    answered: dict[str, dict[str, int]] = {name: {"error": 0, "other": 0} for name, _ in MALFORMED}
    async with connect(ws_url, open_timeout=60) as ws:
        for _ in range(repeats):
            for name, raw in MALFORMED:
                await ws.send(raw)
                kind = json.loads(await asyncio.wait_for(ws.recv(), 30))["type"]
                answered[name]["error" if kind == "error" else "other"] += 1
        # Oversized and broken turns inside an episode are the env's business: error observations.
        await ws.send(json.dumps({"type": "reset", "data": {"seed": 1}}))
        reset_ok = json.loads(await ws.recv())["type"] == "observation"
        env_errors = []
        for text in ("x" * 100_000, "<tool_call>{broken", '<tool_call>{"name": "rm", "arguments": {}}</tool_call>'):
            await ws.send(json.dumps({"type": "step", "data": {"text": text}}))
            answer = json.loads(await ws.recv())
            env_errors.append(
                answer["data"]["observation"]["info"]["errors"][0].split(":")[0]
                if answer["type"] == "observation"
                else "no observation"
            )
    left, _ = await server.await_idle()
    return {
        "messages_sent": repeats * len(MALFORMED),
        "answers": answered,
        "all_refused": all(counts["other"] == 0 for counts in answered.values()),
        "session_survived": reset_ok,
        "env_error_observations": env_errors,
        "server_alive": server.alive(),
        "sessions_left": left,
    }


def _post_many(server: Server, path: str, body: bytes, count: int) -> dict[str, Any]:
    """``count`` POSTs on one keep-alive connection: the statuses and the largest answer."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    statuses: Counter[int] = Counter()
    largest = 0
    started = time.monotonic()
    for _ in range(count):
        connection.request("POST", path, body=body, headers={"content-type": "application/json"})
        response = connection.getresponse()
        largest = max(largest, len(response.read()))
        statuses[response.status] += 1
    connection.close()
    return {
        "requests": count,
        "statuses": dict(statuses),
        "largest_answer_bytes": largest,
        "seconds": round(time.monotonic() - started, 3),
    }


async def floods(server: Server, settings: Settings) -> dict[str, Any]:
    """MCP session creates (none may open a session) and POST /step (short 4xx, no log)."""
    create = json.dumps({"jsonrpc": "2.0", "method": "openenv/session/create", "params": {}, "id": 1}).encode()
    creates = await asyncio.to_thread(_post_many, server, "/mcp", create, settings.session_creates)
    creates["sessions_after"] = (await server.astatus())["active_sessions"]
    before = server.log.bytes
    steps = await asyncio.to_thread(_post_many, server, "/step", b'{"action": {"text": "x"}}', settings.flood_requests)
    await asyncio.sleep(1.0)  # what the server would log has reached its stderr
    steps["server_log_bytes"] = server.log.bytes - before
    return {"mcp_session_creates": creates, "http_step": steps}


async def _hold_slow(server: Server, index: int, addresses: int, stop: asyncio.Event, counts: Counter[str]) -> None:
    """One slot of the slow-connection attack: half a request's headers, then nothing; reopened 0.1 s after a close."""
    source = f"127.0.0.{2 + index % addresses}"
    while not stop.is_set():
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(server.host, server.port, local_addr=(source, 0)), 5
            )
        except (OSError, asyncio.TimeoutError):
            counts["connect_failed"] += 1
            await asyncio.sleep(0.1)
            continue
        counts["opened"] += 1
        try:
            writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            ended = asyncio.ensure_future(reader.read(100))
            waiting = asyncio.ensure_future(stop.wait())
            await asyncio.wait({ended, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if ended.done():
                counts["refused_503" if ended.result().startswith(b"HTTP/1.1 503") else "closed_by_server"] += 1
            else:
                ended.cancel()
        except OSError:
            counts["reset_by_server"] += 1
        writer.close()
        await asyncio.sleep(0.1)


def _probe(server: Server, stop: threading.Event, answers: list[tuple[bool, float]]) -> None:
    """A client that is not one of the slow ones, in its own thread: ``GET /health`` every 0.5 s from 127.0.0.250."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            with socket.socket() as sock:
                sock.settimeout(5)
                sock.bind(("127.0.0.250", 0))
                sock.connect((server.host, server.port))
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                ok = sock.recv(12) == b"HTTP/1.1 200"
        except OSError:
            ok = False
        answers.append((ok, time.monotonic() - started))
        stop.wait(0.5)


def _probing(server: Server, seconds: float) -> list[tuple[bool, float]]:
    """:func:`_probe` for ``seconds``, with nothing else going on."""
    stop, answers = threading.Event(), []
    thread = threading.Thread(target=_probe, args=(server, stop, answers))
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join()
    return answers


async def _episode_from(server: Server, source: str) -> list[str]:
    """One three-request episode over the WebSocket from ``source``: the answers' types (and whether it ended)."""
    from websockets.asyncio.client import connect

    kinds = []
    try:
        async with connect(
            server.url.replace("http://", "ws://") + "/ws", open_timeout=10, local_addr=(source, 0)
        ) as ws:
            for message in (
                {"type": "reset", "data": {"seed": 1}},
                {"type": "step", "data": {"text": CALL}},
                {"type": "step", "data": {"text": "\\boxed{5}"}},
            ):
                await ws.send(json.dumps(message))
                answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
                kinds.append(answer["type"] + (" (done)" if answer.get("data", {}).get("done") else ""))
    except (OSError, asyncio.TimeoutError) as exc:
        kinds.append(f"failed: {type(exc).__name__}")
    return kinds


async def slow_connections(settings: Settings, addresses: int) -> dict[str, Any]:
    """The CLI server, with its defaults, at an open-file limit, under slow connections from ``addresses`` addresses."""
    server = Server(settings, limit_args=[], open_files=settings.open_files, log_level=None)
    try:
        limits = (await server.astatus()).get("limits")
        quiet = await asyncio.to_thread(_probing, server, 3.0)
        stop, counts, probes, probe_stop = asyncio.Event(), Counter(), [], threading.Event()
        holders = [
            asyncio.create_task(_hold_slow(server, index, addresses, stop, counts))
            for index in range(settings.slow_connections)
        ]
        prober = threading.Thread(target=_probe, args=(server, probe_stop, probes))
        prober.start()
        await asyncio.sleep(settings.abuse_seconds)
        episode = await _episode_from(server, "127.0.0.251")  # while the slow connections still hold
        stop.set()
        probe_stop.set()
        await asyncio.gather(*holders)
        await asyncio.to_thread(prober.join)
        await asyncio.sleep(1.0)
        return {
            "slow_addresses": addresses,
            "slow_connections": settings.slow_connections,
            "seconds": settings.abuse_seconds,
            "open_files": settings.open_files,
            "server_limits": limits,
            "slow_side": dict(counts),
            "quiet_probes": len(quiet),
            "quiet_probe_latency": _percentiles([latency for _, latency in quiet]),
            "probes": len(probes),
            "probes_answered_200": sum(ok for ok, _ in probes),
            "probe_latency": _percentiles([latency for _, latency in probes]),
            "episode_at_the_end": episode,
            "server_log_bytes": server.log.bytes,
            "server_emfile_lines": server.log.emfile_lines,
            "server_alive": server.alive(),
        }
    finally:
        server.stop()


async def abuse(settings: Settings, server: Server) -> dict[str, Any]:
    results: dict[str, Any] = await floods(server, settings)
    print(f"floods: {json.dumps(results)}", flush=True)
    results["slow_connections"] = []
    for addresses in settings.slow_addresses:
        row = await slow_connections(settings, addresses)
        results["slow_connections"].append(row)
        print(
            f"slow connections from {addresses} address(es): {row['probes_answered_200']}/{row['probes']} probes "
            f"answered, p50 {row['probe_latency']['p50_ms']} ms, episode {row['episode_at_the_end']}, "
            f"server log {row['server_log_bytes']} bytes, {row['server_emfile_lines']} EMFILE lines",
            flush=True,
        )
    return results


async def run(settings: Settings, abuse_only: bool = False) -> dict[str, Any]:
    server = Server(settings)
    try:
        results: dict[str, Any] = {"server_start": await server.astatus()}
        if abuse_only:
            results["abuse"] = await abuse(settings, server)
            results["server_alive_at_end"] = server.alive()
            return results
        results["throughput"] = []
        for count in settings.sessions:
            row = await throughput(server, count, settings.seconds)
            results["throughput"].append(row)
            print(
                f"{count:>5} sessions: {row['requests_per_s']:>8.1f} requests/s, p50 {row['p50_ms']} ms, "
                f"p99 {row['p99_ms']} ms, errors {row['errors']}, server {row['server_rss_mb_open']} MB open, "
                f"{row['server_sessions_after']} sessions left",
                flush=True,
            )
        results["dying_clients"] = await churn(server, settings)
        print(f"dying clients: {json.dumps(results['dying_clients']['rounds'])}", flush=True)
        print(f"isolation: {results['dying_clients']['isolation']}", flush=True)
        results["malformed"] = await malformed(server, settings.malformed_repeats)
        print(
            f"malformed: all refused {results['malformed']['all_refused']}, server alive {results['malformed']['server_alive']}",
            flush=True,
        )
        results["abuse"] = await abuse(settings, server)
        results["server_end"] = await server.astatus()
        results["server_alive_at_end"] = server.alive()
        return results
    finally:
        server.stop()


QUICK = {
    "sessions": [1, 8],
    "seconds": 1.0,
    "churn_rounds": 2,
    "churn_sessions": 8,
    "isolation_clients": 2,
    "malformed_repeats": 2,
    "session_creates": 16,
    "flood_requests": 50,
    "slow_connections": 60,
    "slow_addresses": [1, 10],
    "abuse_seconds": 2.0,
}
OPTIONS = (
    "sessions",
    "seconds",
    "churn_rounds",
    "churn_sessions",
    "session_creates",
    "flood_requests",
    "slow_connections",
    "slow_addresses",
    "open_files",
    "abuse_seconds",
)


def _settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Settings:
    """The settings the arguments ask for, checked to be bounded."""
    settings = Settings(host=_loopback(args.host), **(QUICK if args.quick else {}))
    for name in OPTIONS:
        if getattr(args, name) is not None:
            setattr(settings, name, getattr(args, name))
    if any(count < 1 for count in settings.sessions) or settings.seconds <= 0 or settings.seconds > 60:
        parser.error("--sessions must be positive and --seconds in (0, 60]")
    if max(settings.sessions) > 4096 or settings.churn_sessions > 4096 or settings.churn_rounds > 50:
        parser.error("at most 4096 sessions and 50 churn rounds (a bounded test)")
    if not (
        0 < settings.abuse_seconds <= 60
        and 1 <= settings.slow_connections <= 2000
        and all(1 <= count <= 200 for count in settings.slow_addresses)
        and 256 <= settings.open_files <= 65536
        and 1 <= settings.session_creates <= 10_000
        and 1 <= settings.flood_requests <= 10_000
    ):
        parser.error(
            "--abuse-seconds in (0, 60], --slow-connections in [1, 2000], --slow-addresses in [1, 200], "
            "--open-files in [256, 65536], --session-creates and --flood-requests in [1, 10000]"
        )
    return settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--churn-rounds", type=int, default=None)
    parser.add_argument("--churn-sessions", type=int, default=None)
    parser.add_argument("--session-creates", type=int, default=None, help="MCP session creates over POST /mcp (256)")
    parser.add_argument("--flood-requests", type=int, default=None, help="POST /step requests (1000)")
    parser.add_argument("--slow-connections", type=int, default=None, help="slow connections held (600)")
    parser.add_argument(
        "--slow-addresses",
        type=int,
        nargs="+",
        default=None,
        help="source addresses they come from, one run each (1 100)",
    )
    parser.add_argument(
        "--open-files", type=int, default=None, help="the slow-connection server's open-file limit (512)"
    )
    parser.add_argument("--abuse-seconds", type=float, default=None, help="how long the slow connections hold (24)")
    parser.add_argument(
        "--abuse-only", action="store_true", help=f"only the abuse phase (default output {ABUSE_RESULTS})"
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback only")
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks that it runs")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"where to write the results (default {RESULTS}; --quick: none)"
    )
    retire_flags(parser, ["--json"])
    args = parser.parse_args(argv)
    settings = _settings(parser, args)
    started, load_at_start = time.monotonic(), round(os.getloadavg()[0], 2)  # the machine may be shared
    results = asyncio.run(asyncio.wait_for(run(settings, abuse_only=args.abuse_only), HARD_LIMIT_S))
    report = {
        "benchmark": "openenv_abuse" if args.abuse_only else "openenv_load",
        "machine": machine(),
        "settings": asdict(settings),
        "wall_s": round(time.monotonic() - started, 1),
        "load_average_1min_at_start": load_at_start,
        "anchor": "OpenEnv's scaling tutorial: 932 requests/s at 2,048 sessions on 8 cores (its own echo-style env)",
        **results,
    }
    default = ABUSE_RESULTS if args.abuse_only else RESULTS
    path = args.out if args.out is not None else (None if args.quick else default)
    if path is not None:
        write_text_atomically(path, json.dumps(report, indent=2, allow_nan=False) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
