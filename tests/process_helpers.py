"""For tests that kill processes: who runs (from ``/proc``, Linux), and tasks a spawned worker imports by name.

A killed parent's children are re-parented and reaped by whoever is PID 1,
which in a container may never reap them: a zombie counts as gone here. A
process is known by its pid and its start time, so a new process that got a
reused pid is not mistaken for the old one.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from typing import IO, Any


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name ([0]: state, [1]: parent pid, [19]: start time)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    return text.rpartition(")")[2].split()  # the command name, in parentheses, may hold spaces and parentheses


def _running(stat: list[str] | None) -> bool:
    return stat is not None and stat[0] not in ("Z", "X")


def identity(pid: int) -> tuple[int, str] | None:
    """``(pid, start time)`` of a running process (None: gone)."""
    stat = _stat(pid)
    return (pid, stat[19]) if _running(stat) else None


def alive(process: tuple[int, str]) -> bool:
    """Whether the process :func:`identity` gave still runs (not a zombie, not another one with its pid)."""
    stat = _stat(process[0])
    return _running(stat) and stat[19] == process[1]


def children(pid: int) -> list[tuple[int, str]]:
    """The running children of ``pid``, as :func:`identity` gives them."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if _running(stat) and int(stat[1]) == pid:
                found.append((int(entry), stat[19]))
    return sorted(found)


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_until_gone(processes: list[tuple[int, str]], timeout_s: float) -> tuple[list[tuple[int, str]], float]:
    """Wait up to ``timeout_s`` for ``processes`` to end; (those still running, seconds waited)."""
    started = time.monotonic()
    while True:
        left = [process for process in processes if alive(process)]
        waited = time.monotonic() - started
        if not left or waited > timeout_s:
            return left, waited
        time.sleep(0.02)


def kill_all(processes: list[tuple[int, str]]) -> None:
    """Clean-up after a failed test: SIGKILL those of ``processes`` still running."""
    for process in processes:
        if alive(process):
            os.kill(process[0], 9)


def wait_for(condition, timeout_s: float, what: str) -> None:
    """Poll ``condition()`` until it is true; AssertionError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s:g} s for {what}")
        time.sleep(0.05)


def read_json_lines(stream: IO[bytes], count: int, timeout_s: float) -> list[dict[str, Any]]:
    """The first ``count`` lines of ``stream`` that are JSON objects (others are skipped), within ``timeout_s``.

    ``stream``: an unbuffered pipe (``Popen(..., stdout=PIPE, bufsize=0)``), so
    that ``select`` sees every line that has not been read.
    """
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(found) < count:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"waited {timeout_s:g} s for {count} JSON lines; got {found}")
        line = stream.readline()
        if not line:
            raise AssertionError(f"the stream ended after {found}")
        if line.startswith(b"{"):
            found.append(json.loads(line))
    return found


def report_and_hold(seconds: float = 600.0) -> None:
    """A worker's task: print this worker's pid as a JSON line, then hold it busy."""
    os.write(
        1, (json.dumps({"worker": os.getpid()}) + "\n").encode()
    )  # one write: whole among the other workers' lines
    time.sleep(seconds)


if __name__ == "__main__":  # what python_command's ``-m`` children see
    print(json.dumps({"argv": sys.argv, "name": __name__}), flush=True)
