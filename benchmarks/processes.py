"""Child processes that die with the process that started them, however it ends (``kill -9`` included).

A benchmark's workers must not outlive the run that started them. An orphan
goes on computing and holding its memory, finishes its stage, then waits
forever for work that never comes; worse, it keeps the locks of the folders it
writes, so the rerun that should resume the killed run is refused. Every
process the benchmarks start therefore calls :func:`die_with_parent` before
anything else:

* Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, so the kernel kills the child the
  moment its parent ends; no signal handler, cleanup or busy C call of the
  child can delay it.
* Elsewhere (no ``prctl``): a daemon thread polls ``os.getppid()`` every
  :data:`POLL_S` seconds and kills the process when it changes (an orphan is
  re-parented). A call that holds the GIL delays it until the call returns.

Either way the child then checks ``os.getppid()`` once: a parent that died
before the watch began would otherwise go unnoticed.

The parent side: :func:`worker_pool` (a ``ProcessPoolExecutor``),
:func:`multiprocessing_pool` (a ``multiprocessing.Pool``), both with ``spawn``
workers that call :func:`die_with_parent` as their initializer, and
:func:`python_command` (the command line of ``python -m module ...`` or
``python -c code ...`` for ``subprocess``, with the same guard).

Caveat: Linux sends the parent-death signal when the *thread* that started the
child ends, not only the process. Create pools and children from a thread that
outlives them (the main thread). Replacement workers are started by the pools'
own threads, which live as long as the pool.

POSIX only (Linux, macOS); this module imports nothing outside the standard
library, so a child whose ``sys.path`` holds another checkout (the baseline of
``benchmarks.agent_throughput``) can load it by its file path.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.pool
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, NoReturn, Sequence

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_S = 0.2  # the fallback watcher's period: how late an orphan may notice its parent is gone
MECHANISMS = ("auto", "prctl", "watcher")


def _linux_prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, or None where there is none (not Linux, or a libc without it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


def _end_this_process() -> NoReturn:
    """End as the kernel's parent-death signal would: SIGKILL, so no cleanup of this process runs on."""
    os.kill(os.getpid(), signal.SIGKILL)
    os._exit(128 + signal.SIGKILL)  # not reached: SIGKILL cannot be caught


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(POLL_S)
        if os.getppid() != parent_pid:
            _end_this_process()


def _multiprocessing_parent() -> int:
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        raise ValueError(
            "die_with_parent() needs parent_pid outside a multiprocessing child "
            "(pass the os.getpid() of the process that starts this one)"
        )
    return parent.pid


def die_with_parent(parent_pid: int | None = None, mechanism: str = "auto") -> str:
    """Make this process end when ``parent_pid`` (its parent) ends; returns the mechanism used.

    ``parent_pid``: the pid of the process that started this one (default: the
    ``multiprocessing`` parent, in a ``multiprocessing`` child). If it is no
    longer this process's parent, the parent has died already and this
    process ends at once. ``mechanism``: ``"auto"`` (``"prctl"`` where there
    is one, else ``"watcher"``), or either one forced (the tests use both).
    """
    if mechanism not in MECHANISMS:
        raise ValueError(f"mechanism must be one of {MECHANISMS}, got {mechanism!r}")
    if parent_pid is None:
        parent_pid = _multiprocessing_parent()
    prctl = None if mechanism == "watcher" else _linux_prctl()
    if prctl is None and mechanism == "prctl":
        raise OSError(f"prctl(PR_SET_PDEATHSIG) is not available on {sys.platform}")
    if prctl is not None:
        if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"prctl(PR_SET_PDEATHSIG, SIGKILL) failed: {os.strerror(error)}")
        used = "prctl"
    else:
        threading.Thread(target=_watch_parent, args=(parent_pid,), name="die-with-parent", daemon=True).start()
        used = "watcher"
    if os.getppid() != parent_pid:  # the parent died between starting us and the watch above
        _end_this_process()
    return used


# --- the parent's side ---------------------------------------------------------------------


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` of ``workers`` spawned processes that die with this one.

    ``spawn``, not ``fork``: the parent may hold torch threads, which do not
    survive a fork.
    """
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )


def multiprocessing_pool(processes: int, maxtasksperchild: int | None = None) -> multiprocessing.pool.Pool:
    """A ``multiprocessing.Pool`` of ``processes`` spawned workers that die with this one."""
    return multiprocessing.get_context("spawn").Pool(
        processes, initializer=die_with_parent, initargs=(os.getpid(),), maxtasksperchild=maxtasksperchild
    )


# Runs in the child before its real program: loads this file by its path (the child's sys.path may hold
# another checkout, or none), calls die_with_parent, then runs ``-m module`` or ``-c code`` as python would.
_BOOT = """\
import importlib.util, runpy, sys
_, helper, parent, option, target, *rest = sys.argv
spec = importlib.util.spec_from_file_location("_die_with_parent", helper)
guard = importlib.util.module_from_spec(spec)
spec.loader.exec_module(guard)
guard.die_with_parent(int(parent))
if option == "-m":
    sys.argv = [target, *rest]
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    sys.argv = ["-c", *rest]
    del importlib, runpy, sys, spec, guard, helper, parent, option, rest, _
    # In __main__'s own namespace, emptied of these names first, as python -c would run it.
    exec(compile(globals().pop("target"), "<string>", "exec"), globals())
"""


def python_command(arguments: Sequence[str], parent_pid: int | None = None) -> list[str]:
    """The command line of ``python *arguments`` as a child that dies with ``parent_pid`` (default: this process).

    ``arguments`` start with ``-m MODULE`` or ``-c CODE``, followed by the
    program's own arguments, as they would on python's command line; the
    program sees the same ``sys.argv`` and ``__name__ == "__main__"``. Start
    it with ``subprocess`` from this process (``parent_pid`` must be the
    child's parent).
    """
    if len(arguments) < 2 or arguments[0] not in ("-m", "-c"):
        raise ValueError(f"expected ['-m', MODULE, ...] or ['-c', CODE, ...], got {list(arguments)[:2]!r}")
    pid = os.getpid() if parent_pid is None else parent_pid
    return [sys.executable, "-c", _BOOT, os.path.abspath(__file__), str(pid), *arguments]
