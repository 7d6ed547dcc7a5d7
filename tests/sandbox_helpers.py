"""Module-level functions for isolated-tool tests: a sandbox child imports them by name."""

from __future__ import annotations

import os
import signal
import time

from mentor_env.core.tools import ToolError, ToolTimeout, call_deadline


def sleep(seconds: float) -> str:
    """Sleep, then say so (``time.sleep`` itself takes no keyword arguments)."""
    time.sleep(seconds)
    return f"slept {seconds:g} s"


def seconds_left() -> float:
    """Seconds until this call's deadline, as the tool sees it."""
    return call_deadline() - time.monotonic()


def fail(kind: str) -> None:
    """Raise the exception named by ``kind``."""
    if kind == "tool_error":
        raise ToolError("the input is wrong")
    if kind == "tool_timeout":
        raise ToolTimeout("gave up after 0.1 s")
    if kind == "value_error":
        raise ValueError("bad value")
    if kind == "custom":
        raise CustomProblem("custom trouble")
    if kind == "exit":
        raise SystemExit(3)
    if kind == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError(f"unknown kind {kind!r}")


class CustomProblem(Exception):
    """An exception type the parent cannot know by its builtin name."""


def big_result(size: int) -> str:
    """A string of ``size`` characters."""
    return "x" * size


def pid() -> int:
    """The process id of the process that runs the tool."""
    return os.getpid()


def spawn_sleeper(seconds: float) -> int:
    """Start a process that sleeps ``seconds``, then sleep past any short deadline; returns the sleeper's pid."""
    import subprocess
    import sys

    sleeper = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])
    with open(os.environ["SANDBOX_TEST_PID_FILE"], "w") as file:
        file.write(str(sleeper.pid))
    time.sleep(seconds)
    return sleeper.pid


class UnprintableProblem(Exception):
    """An exception whose message cannot be printed."""

    def __str__(self) -> str:
        raise RuntimeError("no message")


def fail_unprintably() -> None:
    """Raise an exception whose ``__str__`` raises."""
    raise UnprintableProblem()


def slow_warm_up() -> None:
    """A warm-up longer than the calls' limits (building an index, say)."""
    time.sleep(0.5)


def failing_warm_up() -> None:
    raise RuntimeError("no database here")
