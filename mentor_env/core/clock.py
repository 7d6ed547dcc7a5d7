"""How a tool call's time is counted, so that a busy machine is not charged to the model.

A call's limit is meant for what the call itself does. On a loaded machine (a
vector env of 16 Table envs on 2 cores, a trainer next to the envs) a cheap
SQL query can wait for a processor longer than its whole limit, and a wall
clock would blame the query. So:

- The start-up of an isolated tool's child process (a new interpreter, the
  tool's module, its warm-up) is never part of a call's time.
- An isolated call is stopped when its child has used its limit of
  *processor* time, or, while the child still wants a processor (it is
  runnable) and has used less, when the wall clock reaches
  :data:`LOAD_ALLOWANCE` times the limit: that stop is reported as the
  machine's doing (:data:`BUSY`), with a message that does not blame the call.
  A child that is waiting (sleeping) at its limit is stopped at its limit, as
  the waiting is the tool's own. Processor time and the run state come from
  ``/proc`` (Linux); elsewhere the wall clock decides, as it always did.
- A turn's calls share one budget of *charged* time (a call's processor time
  when it ran in a child, else its wall time), and a wall bound of
  :data:`LOAD_ALLOWANCE` times that budget, so neither slow calls nor a slow
  machine make a turn unbounded.

:func:`call_deadline` is what a tool reads to stop its own work in time.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from dataclasses import dataclass
from typing import Iterator

# A call may take this many times its limit of wall-clock time while its process waits for a processor.
LOAD_ALLOWANCE = 8.0

# What an overrun check decides (:func:`overrun_verdict`).
WAIT = "wait"  # the call is behind only because the machine is busy: give it more wall time
TIMEOUT = "timeout"  # the call used its limit: stop it, the call's doing
BUSY = "busy"  # the machine was too busy for too long: stop it, not the call's doing

_CALL = threading.local()
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") and "SC_CLK_TCK" in os.sysconf_names else 100


def call_deadline() -> float:
    """The :func:`time.monotonic` deadline of the tool call running in this thread.

    ``math.inf`` outside a call. A tool that loops or hands work to an engine
    (a progress handler, a solver's time limit) reads it to stop in time; the
    seconds left are best counted in this thread's processor time
    (:func:`time.thread_time`), which a busy machine does not eat.
    """
    return getattr(_CALL, "deadline", math.inf)


@contextlib.contextmanager
def deadline_scope(deadline: float) -> Iterator[None]:
    """Make ``deadline`` this thread's :func:`call_deadline` for the block (the runtime and the sandbox child use it)."""
    previous = call_deadline()
    _CALL.deadline = deadline
    try:
        yield
    finally:
        _CALL.deadline = previous


@dataclass(frozen=True)
class ProcessUsage:
    """A process's processor time so far (user and system, seconds) and whether it is runnable now."""

    cpu_s: float
    runnable: bool


def process_usage(pid: int) -> ProcessUsage | None:
    """``pid``'s :class:`ProcessUsage` from ``/proc/<pid>/stat``; ``None`` where there is no such file."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; the fields after its last ')' are fixed.
    fields = stat[stat.rfind(b")") + 2 :].split()
    if len(fields) < 13:
        return None
    state, user_ticks, system_ticks = fields[0], int(fields[11]), int(fields[12])
    return ProcessUsage((user_ticks + system_ticks) / _CLOCK_TICKS, state == b"R")


def overrun_verdict(limit_s: float, elapsed_s: float, cpu_s: float | None, runnable: bool) -> str:
    """What to do with a call that has not answered after ``elapsed_s`` of wall time (at least ``limit_s``).

    Args:
        limit_s: the call's limit.
        elapsed_s: wall time since the call was sent.
        cpu_s: processor time the call has used, ``None`` where it cannot be read.
        runnable: whether the call's process wants a processor now (not sleeping or waiting).

    Returns:
        :data:`TIMEOUT` when the call used its limit (or its time cannot be
        told apart from the machine's), :data:`BUSY` when the machine kept it
        waiting past :data:`LOAD_ALLOWANCE` times the limit, else :data:`WAIT`.
    """
    if cpu_s is None or cpu_s >= limit_s or not runnable:
        return TIMEOUT
    if elapsed_s >= LOAD_ALLOWANCE * limit_s:
        return BUSY
    return WAIT


def late_reply_verdict(limit_s: float, elapsed_s: float, cpu_s: float) -> str:
    """Whether a reply that came ``elapsed_s`` after the call was sent still counts.

    :data:`WAIT` (keep the result) while the call's processor time ``cpu_s``
    is within its limit and the wall time within the load allowance;
    :data:`TIMEOUT` or :data:`BUSY` otherwise, as in :func:`overrun_verdict`.
    """
    if elapsed_s <= limit_s:
        return WAIT
    if cpu_s >= limit_s:
        return TIMEOUT
    return BUSY if elapsed_s > LOAD_ALLOWANCE * limit_s else WAIT


class MachineBusy(TimeoutError):
    """A call stopped because the machine, not the call, used up its time; the message says so to the model."""

    def __init__(self, name: str, cpu_s: float, elapsed_s: float) -> None:
        super().__init__(name, cpu_s, elapsed_s)
        self.name, self.cpu_s, self.elapsed_s = name, cpu_s, elapsed_s

    def __str__(self) -> str:
        return (
            f"{self.name} was stopped because the machine is busy: the call got {self.cpu_s:.2g} s of processor time "
            f"in {self.elapsed_s:.2g} s. The call itself was not at fault; it can be made again unchanged"
        )


class TurnBudget:
    """The time budget that one turn's calls share: charged seconds, and a wall bound for a busy machine."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.charged_s = 0.0
        self._wall_end = time.monotonic() + LOAD_ALLOWANCE * budget_s

    def left_s(self) -> float:
        """The charged time the next call may use."""
        return self.budget_s - self.charged_s

    def charge(self, seconds: float) -> None:
        self.charged_s += max(0.0, seconds)

    def spent_by_calls(self) -> bool:
        """The calls so far used the whole budget."""
        return self.left_s() <= 0.0

    def spent_by_machine(self) -> bool:
        """A busy machine stretched the turn past its wall bound."""
        return time.monotonic() >= self._wall_end
