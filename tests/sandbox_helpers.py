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
