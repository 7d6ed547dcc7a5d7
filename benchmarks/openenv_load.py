r"""Load test of the OpenEnv server (``python -m mentor_env.serve``) on loopback: sessions, requests/s, robustness.

    python -m benchmarks.openenv_load                       # about 2 minutes on 2 CPUs
    python -m benchmarks.openenv_load --quick               # a few seconds: checks that it runs
    python -m benchmarks.openenv_load --sessions 1 64 512 --seconds 5 --json /tmp/load.json

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
   belongs to their own episode (task id, turn count).

Every phase is bounded in count and time, and the server is stopped at the
end (also on failure). Writes JSON (machine, settings, results) to ``--json``,
atomically. On the same 2 CPUs the client and the server compete, so the
numbers are a floor for a server with its own cores.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import socket
import subprocess
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.processes import python_command
from benchmarks.reporting import machine
from mentor_env.core.splits import write_text_atomically

RESULTS = Path(__file__).resolve().parent / "results" / "openenv_load.json"
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


def _loopback(host: str) -> str:
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"--host must be a loopback address (127.0.0.1); got {host!r}")
    return "127.0.0.1" if host == "localhost" else host


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Server:
    """``python -m mentor_env.serve`` in a child process, on loopback."""

    def __init__(self, settings: Settings) -> None:
        self.host = _loopback(settings.host)
        self.port = _free_port(self.host)
        self.url = f"http://{self.host}:{self.port}"
        limit = max(max(settings.sessions), settings.churn_sessions + settings.isolation_clients) + 8
        # A server that dies with this process: an orphaned one would serve its port until someone kills it.
        command = python_command(["-m", "mentor_env.serve", "--env", settings.env_id, "--host", self.host,
                                  "--port", str(self.port), "--max-sessions", str(limit), "--log-level", "error"])
        environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.process.stderr.read().decode()[-2000:] if self.process.stderr else ''}")
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
                for request in (partial(client.reset, seed=seed), partial(client.step, CALL), partial(client.step, "\\boxed{5}")):
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
    players = [asyncio.create_task(isolated_player(server.url, task_ids[i:] + task_ids[:i], stop)) for i in range(settings.isolation_clients)]
    rounds = []
    try:
        for round_index in range(settings.churn_rounds):
            started = time.monotonic()
            failures = await _die(server.url, settings.churn_sessions, round_index)
            # The isolation players keep their sessions: idle means back to their count.
            deadline = time.monotonic() + 30
            while (await server.astatus())["active_sessions"] > settings.isolation_clients and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            status = await server.astatus()
            rounds.append({
                "round": round_index,
                "failures": failures,
                "seconds": round(time.monotonic() - started, 3),
                "sessions_left": status["active_sessions"] - settings.isolation_clients,
                "rss_mb": round(status["rss_bytes"] / 2**20, 1),
                "threads": status["threads"],
            })
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
            env_errors.append(answer["data"]["observation"]["info"]["errors"][0].split(":")[0] if answer["type"] == "observation" else "no observation")
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


async def run(settings: Settings) -> dict[str, Any]:
    server = Server(settings)
    try:
        results: dict[str, Any] = {"server_start": await server.astatus()}
        results["throughput"] = []
        for count in settings.sessions:
            row = await throughput(server, count, settings.seconds)
            results["throughput"].append(row)
            print(f"{count:>5} sessions: {row['requests_per_s']:>8.1f} requests/s, p50 {row['p50_ms']} ms, "
                  f"p99 {row['p99_ms']} ms, errors {row['errors']}, server {row['server_rss_mb_open']} MB open, "
                  f"{row['server_sessions_after']} sessions left", flush=True)
        results["dying_clients"] = await churn(server, settings)
        print(f"dying clients: {json.dumps(results['dying_clients']['rounds'])}", flush=True)
        print(f"isolation: {results['dying_clients']['isolation']}", flush=True)
        results["malformed"] = await malformed(server, settings.malformed_repeats)
        print(f"malformed: all refused {results['malformed']['all_refused']}, server alive {results['malformed']['server_alive']}", flush=True)
        results["server_end"] = await server.astatus()
        results["server_alive_at_end"] = server.alive()
        return results
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--churn-rounds", type=int, default=None)
    parser.add_argument("--churn-sessions", type=int, default=None)
    parser.add_argument("--host", default="127.0.0.1", help="loopback only")
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks that it runs")
    parser.add_argument("--json", type=Path, default=None, help=f"where to write the results (default {RESULTS}; --quick: none)")
    args = parser.parse_args(argv)
    settings = Settings(host=_loopback(args.host))
    if args.quick:
        settings = Settings(sessions=[1, 8], seconds=1.0, churn_rounds=2, churn_sessions=8, isolation_clients=2, malformed_repeats=2, host=settings.host)
    for name in ("sessions", "seconds", "churn_rounds", "churn_sessions"):
        if getattr(args, name) is not None:
            setattr(settings, name, getattr(args, name))
    if any(count < 1 for count in settings.sessions) or settings.seconds <= 0 or settings.seconds > 60:
        parser.error("--sessions must be positive and --seconds in (0, 60]")
    if max(settings.sessions) > 4096 or settings.churn_sessions > 4096 or settings.churn_rounds > 50:
        parser.error("at most 4096 sessions and 50 churn rounds (a bounded test)")
    started = time.monotonic()
    results = asyncio.run(asyncio.wait_for(run(settings), HARD_LIMIT_S))
    report = {
        "benchmark": "openenv_load",
        "machine": machine(),
        "settings": asdict(settings),
        "wall_s": round(time.monotonic() - started, 1),
        "anchor": "OpenEnv's scaling tutorial: 932 requests/s at 2,048 sessions on 8 cores (its own echo-style env)",
        **results,
    }
    path = args.json if args.json is not None else (None if args.quick else RESULTS)
    if path is not None:
        write_text_atomically(path, json.dumps(report, indent=2, allow_nan=False) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
