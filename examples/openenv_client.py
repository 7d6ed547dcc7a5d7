"""The OpenEnv server and its client: one server process for two env ids, one episode of each over a WebSocket.

Starts ``python -m mentor_env.serve --port 0 --env mentor/Calc-v0 mentor/Units-v0`` (a free port; the server
prints where it listens), plays the scripted teacher's Calc episode, then a Units one picked with
``reset(env_id=...)`` in the same session, and stops the server with Ctrl-C's signal.

    python examples/openenv_client.py     # about 5 s on 2 CPUs, one thread
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys

from mentor_env.core.messages import render_assistant_text
from mentor_env.core.splits import load_split
from mentor_env.domains import get_domain
from mentor_env.serve import MentorEnvClient

SERVED = ["mentor/Calc-v0", "mentor/Units-v0"]


def start_server() -> tuple[subprocess.Popen, int]:
    """The server in a child process, and the port it printed."""
    command = [
        sys.executable,
        "-m",
        "mentor_env.serve",
        "--port",
        "0",
        "--env",
        *SERVED,
        "--env-kwargs",
        '{"reward_mode": "dense"}',
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()  # "mentor_env.serve: serving ... on http://127.0.0.1:PORT, ..."
    print(line, end="")
    found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if found is None:
        server.kill()
        raise RuntimeError(f"the server did not say where it listens; it printed {line!r}")
    return server, int(found.group(1))


def play(client, env_id: str, domain: str) -> None:
    """The teacher's episode of the domain's first test task, through the client."""
    task = load_split(get_domain(domain), "test")[0]
    client.reset(env_id=env_id, task_id=task.id)
    for message in task.teacher.messages:
        if message["role"] == "assistant":
            result = client.step(render_assistant_text(message))
            print(f"  {env_id} step: reward {result.reward:+.3f}, done {result.done}")
    print(
        f"{env_id}: correct {result.observation.info['reward_components']['correct']:.0f}, "
        f"session on {client.state().env_id}"
    )


def main() -> None:
    server, port = start_server()
    try:
        with MentorEnvClient(base_url=f"http://127.0.0.1:{port}").sync() as client:
            play(client, "mentor/Calc-v0", "calc")
            play(client, "mentor/Units-v0", "units")
    finally:
        server.send_signal(signal.SIGINT)  # what Ctrl-C sends; the server stops within about a second
        print(server.communicate(timeout=30)[0], end="")


if __name__ == "__main__":
    main()
