"""Run a tool's function in a child process that is killed at the call's deadline.

Some work cannot be stopped from Python once it has started: one SQLite
function call (``instr`` or ``trim`` on long strings, a sort) runs to its end
whatever a progress handler or a signal says. A :class:`Sandbox` runs such a
call in a child process of its own and kills that process when the call's
deadline passes, so the caller gets its answer on time, and the next call
starts a fresh child.

One :class:`Sandbox` belongs to one :class:`~mentor_env.core.tools.ToolRuntime`
(one environment), so a runaway call of one environment never delays another.

The child
    Started lazily with ``subprocess.Popen([sys.executable, "-m",
    "mentor_env.core.sandbox"])``: a fresh interpreter, never a fork, so it is
    safe to start from a multi-threaded parent (torch threads, a vector env's
    workers). It ignores ``SIGINT`` (the parent decides when it stops), exits
    when its stdin closes, and exits by itself if a call overruns its deadline
    by :data:`WATCHDOG_S` (the parent has died or hangs). What a tool prints
    goes to the parent's stderr, never into the protocol.

Protocol
    Messages are pickles, each preceded by its length (8 bytes, big-endian),
    over the child's stdin and stdout. The function travels as its importable
    name (module and qualified name, see :func:`importable_name`), the
    arguments and the result as pickles. A result larger than
    :data:`MAX_RESULT_BYTES` pickled is refused with a :class:`ToolError`.

Time
    The child's start-up (about 0.4 s: a new interpreter that imports this
    package and the tool's module, then runs the tool's ``warm_up``) is not
    the model's doing, so it is not charged to the call: the parent waits for
    the child's "ready" message, the module's import and the warm-up (each
    bounded by :data:`STARTUP_TIMEOUT_S`), and only then sends the call and
    starts its clock. The parent waits with ``poll`` on the child's stdout
    until the call's limit plus :data:`GRACE_S`; on overrun it reads the
    child's processor time and run state (:mod:`mentor_env.core.clock`) and
    either waits longer (the child is runnable and has used less than its
    limit: the machine is busy) or kills (``SIGKILL``) and reaps the child and
    raises the builtin :class:`TimeoutError` (the call used its limit), or
    :class:`~mentor_env.core.clock.MachineBusy` (the machine kept it waiting
    past the load allowance). The child reports the processor time of each
    call with its reply; :attr:`Sandbox.last_charged_s` keeps what the call
    is charged. The child sets :func:`~mentor_env.core.tools.call_deadline`
    to its own clock plus the call's limit, so a tool reads its deadline there
    as it would in the parent.

Errors
    :class:`ToolError` and :class:`ToolTimeout` raised in the child are raised
    again in the parent with the same class and message. Another exception is
    raised again as the builtin type of the same name (``ValueError``,
    ``ZeroDivisionError``) or, for other types, as a :class:`ChildError`
    subclass carrying the original type's name, so the runtime's rendering
    ``TypeName: message`` reads the same. A child that dies during a call (a
    crash, the OOM killer) gives a :class:`ToolError` that says so.

Processes
    A call from any thread works; a lock serialises calls of one Sandbox. A
    forked copy of the parent (an async vector env's worker) never uses the
    pipes it inherited: it starts a child of its own. Pickling a Sandbox
    carries no state. :meth:`Sandbox.close`, garbage collection of the
    Sandbox, and interpreter exit (before non-daemon threads are joined, so a
    thread waiting on a runaway call returns at once) kill the child.

POSIX only (Linux, macOS): the parent waits on pipes with ``poll``.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import math
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from typing import Any, Callable

from mentor_env.core.clock import (
    BUSY,
    LOAD_ALLOWANCE,
    WAIT,
    MachineBusy,
    deadline_scope,
    late_reply_verdict,
    overrun_verdict,
    process_usage,
)
from mentor_env.core.errors import ToolError, ToolTimeout

# Extra time past the deadline for the child's reply to arrive before it is killed.
GRACE_S = 0.05
# The longest wait for a new child to start, or to import a tool's module.
STARTUP_TIMEOUT_S = 30.0
# The largest result (pickled) a child may send back.
MAX_RESULT_BYTES = 1_000_000
# A child whose call runs this long past its wall-clock bound (its limit times the load allowance) exits by itself.
WATCHDOG_S = 5.0
# The shortest wait between two looks at an overrunning child's processor time.
_RECHECK_S = 0.02

_HEADER = struct.Struct("!Q")
# The environment variable that tells the child its parent's pid.
_PARENT_VARIABLE = "MENTOR_ENV_SANDBOX_PARENT"
# Replies and requests larger than this are refused before they are read.
_MAX_MESSAGE_BYTES = MAX_RESULT_BYTES + 65_536
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ChildError(Exception):
    """An exception of a non-builtin type raised by a tool in the child; subclasses carry its type's name."""

    def __reduce__(self) -> str | tuple[Any, ...]:
        # Its subclasses are made at run time, one per type name, so pickle cannot find them by reference:
        # they travel by name and are made again on the other side.
        if type(self) is ChildError:
            return super().__reduce__()
        return (_rebuild_child_error, (type(self).__name__, self.args), self.__dict__)


class _Overrun(Exception):
    """The child did not answer before the wait's deadline."""


class _ChildGone(Exception):
    """The child closed its pipes: it exited or was killed."""


# --- function names -------------------------------------------------------


def importable_name(function: Callable[..., Any]) -> tuple[str, str]:
    """The ``(module, qualified name)`` by which a fresh interpreter imports ``function``.

    Raises:
        ValueError: ``function`` is a lambda, a local function, a bound method,
            a ``functools.partial``, defined in ``__main__``, or its name does
            not lead back to this very object.
    """
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    what = f"{function!r}"
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise ValueError(
            f"{what} has no module and qualified name; an isolated tool needs a function defined at the top level "
            "of an importable module (not a functools.partial or a callable object)"
        )
    if "<lambda>" in qualname or "<locals>" in qualname:
        raise ValueError(
            f"{what} is a lambda or a function defined inside another function; an isolated tool needs a function "
            f"defined at the top level of an importable module, got {module}.{qualname}"
        )
    if module == "__main__":
        raise ValueError(
            f"{what} is defined in __main__, which the tool's child process does not run; "
            "move it into an importable module"
        )
    try:
        found: Any = sys.modules.get(module) or importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"{what} cannot be imported as {module}.{qualname}: {type(exc).__name__}: {exc}") from None
    if found is not function:
        raise ValueError(
            f"{module}.{qualname} is not {what} (a bound method, or a name that now holds another object); "
            "an isolated tool needs a function defined at the top level of an importable module"
        )
    return module, qualname


@functools.lru_cache(maxsize=256)
def _cached_name(function: Callable[..., Any]) -> tuple[str, str]:
    return importable_name(function)


def _resolve(module: str, qualname: str) -> Callable[..., Any]:
    found: object = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    if not callable(found):
        raise TypeError(f"{module}.{qualname} names a {type(found).__name__}; expected a function")
    return found


# --- errors across the pipe -----------------------------------------------


def _describe_exception(exc: BaseException) -> tuple[str, str, str]:
    """``(kind, type name, message)`` of an exception raised in the child."""
    kind = "ToolTimeout" if isinstance(exc, ToolTimeout) else "ToolError" if isinstance(exc, ToolError) else "other"
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises still gets reported
        message = "<the exception's message could not be printed>"
    return kind, type(exc).__name__, message


@functools.lru_cache(maxsize=128)
def _child_error_class(type_name: str) -> type[ChildError]:
    name = type_name if type_name.isidentifier() else "ChildError"
    return type(name, (ChildError,), {"__module__": __name__, "__doc__": f"{name} raised in a tool's child process."})


def _rebuild_child_error(type_name: str, args: tuple[Any, ...]) -> ChildError:
    """Unpickle a :class:`ChildError` subclass (see :meth:`ChildError.__reduce__`)."""
    return _child_error_class(type_name)(*args)


def _rebuild_exception(kind: str, type_name: str, message: str) -> Exception:
    """The parent's exception for one the child reported."""
    if kind == "ToolTimeout":
        return ToolTimeout(message)
    if kind == "ToolError":
        return ToolError(message)
    builtin = getattr(builtins, type_name, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        try:
            return builtin(message)
        except Exception:  # a constructor that wants other arguments (UnicodeDecodeError)
            pass
    return _child_error_class(type_name)(message)


# --- pipes ------------------------------------------------------------------


def _frame(message: Any) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


def _wait(fd: int, events: int, deadline: float) -> bool:
    """Whether ``fd`` is ready for ``events`` before ``deadline`` (looks once even when it has passed)."""
    poller = select.poll()
    poller.register(fd, events)
    timeout_ms = max(0, math.ceil((deadline - time.monotonic()) * 1000))
    return bool(poller.poll(timeout_ms))


class _Child:
    """One child process and the parent's ends of its pipes."""

    def __init__(self) -> None:
        env = dict(os.environ)
        # The child imports this package from the same place as the parent did.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (_PACKAGE_ROOT, env.get("PYTHONPATH"))))
        # The child compares its parent with this pid: one that died before the child looked is noticed too.
        env[_PARENT_VARIABLE] = str(os.getpid())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mentor_env.core.sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
            env=env,
            # Its own process group, so that a kill also reaches processes a tool started.
            start_new_session=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.owner = os.getpid()
        self.ready = False  # its "ready" message has been read
        self.prepared: set[tuple[str, ...]] = set()  # requests ("import", module) / ("warm", module, name) answered
        self.pending: list[tuple[str, ...]] = []  # requests sent ahead, replies not read yet
        self._to_child = self.process.stdin.fileno()
        self._from_child = self.process.stdout.fileno()
        os.set_blocking(self._to_child, False)
        self._buffer = bytearray()
        self.cpu_at_send = 0.0  # the child's processor time when the current call was sent
        self._finalizer = weakref.finalize(self, _kill, self.process, self.owner)

    def send(self, message: Any, deadline: float) -> None:
        data = memoryview(_frame(message))
        while data:
            if not _wait(self._to_child, select.POLLOUT, deadline):
                raise _Overrun
            try:
                written = os.write(self._to_child, data)
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                raise _ChildGone from None
            data = data[written:]

    def receive(self, deadline: float) -> Any:
        buffer = self._buffer
        while True:
            if len(buffer) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(buffer)
                if size > _MAX_MESSAGE_BYTES:
                    raise ToolError(
                        f"the tool's reply is {size:,} bytes; replies are limited to {MAX_RESULT_BYTES:,} bytes"
                    )
                end = _HEADER.size + size
                if len(buffer) >= end:
                    payload = bytes(buffer[_HEADER.size : end])
                    del buffer[:end]
                    return pickle.loads(payload)
            if not _wait(self._from_child, select.POLLIN, deadline):
                raise _Overrun
            try:
                chunk = os.read(self._from_child, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                raise _ChildGone
            buffer += chunk

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def exit_status(self, wait_s: float = 1.0) -> str:
        """How the child ended, waiting up to ``wait_s`` for it to be reaped (its pipes close first)."""
        try:
            code: int | None = self.process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            return "still running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    def kill(self) -> None:
        """Kill and reap the child, close the pipes (no-op in a forked copy of the parent)."""
        self._finalizer()

    def abandon(self) -> None:
        """In a forked copy of the parent: close the inherited pipes, leave the process to its owner."""
        self._finalizer.detach()
        _ABANDONED.append(self.process)  # its owner reaps it; no ResourceWarning from here
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass


# The reply each preparation request is answered with.
_REPLY_TO = {"import": "imported", "warm": "warmed"}


def _doing(request: tuple[str, ...]) -> str:
    """What a preparation request does, for messages."""
    return f"import {request[1]}" if request[0] == "import" else f"run the warm-up {request[1]}.{request[2]}"


def _function_name(function: Callable[..., Any]) -> tuple[str, str]:
    try:
        return _cached_name(function)
    except TypeError:  # an unhashable callable: not cached
        return importable_name(function)


def _kill(process: subprocess.Popen[bytes], owner: int) -> None:
    if os.getpid() != owner:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the child's group: it and what its tool started
    except OSError:
        try:
            process.kill()
        except OSError:
            pass
    try:
        process.wait(timeout=5.0)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process stuck in the kernel
        pass
    for pipe in (process.stdin, process.stdout):
        try:
            if pipe is not None:
                pipe.close()
        except OSError:
            pass


# --- the parent's side ------------------------------------------------------

_SANDBOXES: weakref.WeakSet[Sandbox] = weakref.WeakSet()
_ABANDONED: list[subprocess.Popen[bytes]] = []
_EXITING = False


class Sandbox:
    """Runs functions in a child process of its own, stopped when a call overruns (see the module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self.startup_s: float | None = None  # how long the last child took to start, for reports
        self.last_charged_s: float | None = None  # the time the last call was charged (None: it was not run)
        _SANDBOXES.add(self)

    def call(
        self,
        function: Callable[..., Any],
        arguments: dict[str, Any],
        limit_s: float,
        warm_up: Callable[[], Any] | None = None,
        name: str | None = None,
    ) -> Any:
        """``function(**arguments)`` run in the child, within ``limit_s`` of charged time.

        A new child first imports the function's module and runs ``warm_up``
        (once per child); that time is not the call's. ``name`` is the tool's
        name for messages.

        Raises:
            TimeoutError: the call used its limit; the child was killed.
            MachineBusy: the machine kept the call waiting past the load allowance; the child was killed.
            ToolError: the tool raised it, the child died, or the result is too large.
            Exception: what the tool raised (see the module doc).
        """
        self.last_charged_s = None
        targets = [_function_name(function)]
        if warm_up is not None:
            targets.append(_function_name(warm_up))
        # Waiting for another thread's call of this sandbox is not this call's doing: bounded like a start-up.
        if not self._lock.acquire(timeout=LOAD_ALLOWANCE * limit_s + STARTUP_TIMEOUT_S):
            raise MachineBusy(name or targets[0][1], 0.0, LOAD_ALLOWANCE * limit_s)
        try:
            child = self._prepared_child(targets[0][0], targets[1] if warm_up is not None else None)
            return self._call(child, targets[0], arguments, limit_s, name or targets[0][1])
        finally:
            self._lock.release()

    def _call(
        self, child: _Child, target: tuple[str, str], arguments: dict[str, Any], limit_s: float, name: str
    ) -> Any:
        sent_at = time.monotonic()
        try:
            child.send(("call", *target, arguments, limit_s), sent_at + LOAD_ALLOWANCE * limit_s)
            reply = self._await_reply(child, sent_at, limit_s, name)
        except _Overrun:
            self._stop(child, sent_at, limit_s)
            raise TimeoutError("the call did not finish within its limit; its process was killed") from None
        except _ChildGone:
            self.last_charged_s = time.monotonic() - sent_at
            status = child.exit_status()
            self._discard()
            if _EXITING:
                raise ToolError("the call was stopped because the program is exiting") from None
            raise ToolError(
                f"the tool's process ended during the call ({status}: a crash, or out of memory); "
                "the call did not complete, the next call starts a new process"
            ) from None
        except MachineBusy:
            self._stop(child, sent_at, limit_s)
            raise
        except BaseException:
            # An oversized reply, or the caller's own exception (Ctrl-C, its alarm) mid-call: the child's
            # answer would arrive as the next call's. Start afresh.
            self._discard()
            raise
        return self._answer(reply, time.monotonic() - sent_at, limit_s, name)

    def _await_reply(self, child: _Child, sent_at: float, limit_s: float, name: str) -> Any:
        """The child's reply; waits past ``limit_s`` only while the machine, not the call, is behind.

        Raises:
            _Overrun: the call used its limit.
            MachineBusy: the machine kept it waiting past the load allowance.
        """
        check_at = sent_at + limit_s + GRACE_S
        while True:
            try:
                return child.receive(check_at)
            except _Overrun:
                pass
            usage = process_usage(child.process.pid)
            elapsed_s = time.monotonic() - sent_at
            cpu_s = None if usage is None else max(0.0, usage.cpu_s - child.cpu_at_send)
            verdict = overrun_verdict(limit_s, elapsed_s, cpu_s, usage is not None and usage.runnable)
            if verdict == BUSY:
                raise MachineBusy(name, cpu_s or 0.0, elapsed_s)
            if verdict != WAIT:
                raise _Overrun
            assert cpu_s is not None
            # The child needs at least its unused processor time; look again then, or at the load allowance's end.
            check_at = min(time.monotonic() + max(_RECHECK_S, limit_s - cpu_s), sent_at + LOAD_ALLOWANCE * limit_s)

    def _answer(self, reply: tuple[Any, ...], elapsed_s: float, limit_s: float, name: str) -> Any:
        """The call's value from the child's reply, judged by the processor time it reports."""
        cpu_s = float(reply[-1])
        self.last_charged_s = min(elapsed_s, cpu_s) if elapsed_s > limit_s else elapsed_s
        verdict = late_reply_verdict(limit_s, elapsed_s, cpu_s)
        if verdict == BUSY:
            raise MachineBusy(name, cpu_s, elapsed_s)
        if verdict != WAIT:
            raise TimeoutError("the call returned after its limit")
        if reply[0] == "ok":
            return reply[1]
        _, kind, type_name, message, _ = reply
        raise _rebuild_exception(kind, type_name, message)

    def _stop(self, child: _Child, sent_at: float, limit_s: float) -> None:
        """Kill an overrunning child, start its successor ahead, and record the time charged."""
        usage = process_usage(child.process.pid)
        elapsed_s = time.monotonic() - sent_at
        self.last_charged_s = (
            elapsed_s if usage is None else min(elapsed_s, max(limit_s, usage.cpu_s - child.cpu_at_send))
        )
        prepared = set(child.prepared)
        self._discard()
        self._start_ahead(prepared)

    def _prepared_child(self, module: str, warm_up: tuple[str, str] | None) -> _Child:
        """A running child of this process that has imported ``module`` and run ``warm_up``."""
        if _EXITING:
            raise ToolError("the program is exiting; no new tool process is started")
        child = self._child
        if child is not None and not child.alive():
            if child.owner == os.getpid():
                child.kill()
            else:
                child.abandon()
            child = self._child = None
        if child is None:
            child = self._child = _Child()
        if not child.ready:
            started = time.monotonic()
            self._expect(child, "ready", "start", started)
            child.ready = True
            self.startup_s = time.monotonic() - started
        while child.pending:
            request = child.pending[0]
            self._expect(child, _REPLY_TO[request[0]], _doing(request), time.monotonic())
            child.prepared.add(child.pending.pop(0))
        requests = [("import", module)] + ([("warm", *warm_up)] if warm_up is not None else [])
        for request in requests:
            if request not in child.prepared:
                self._prepare(child, request)
        usage = process_usage(child.process.pid)
        child.cpu_at_send = 0.0 if usage is None else usage.cpu_s
        return child

    def _prepare(self, child: _Child, request: tuple[str, ...]) -> None:
        """Send one preparation request (an import or a warm-up) and wait for its reply."""
        started = time.monotonic()
        try:
            child.send((*request, list(sys.path)), started + STARTUP_TIMEOUT_S)
        except (_Overrun, _ChildGone):
            self._discard()
            raise ToolError(f"the tool's process did not accept the request to {_doing(request)}") from None
        self._expect(child, _REPLY_TO[request[0]], _doing(request), started)
        child.prepared.add(request)

    def _expect(self, child: _Child, kind: str, doing: str, started: float) -> None:
        try:
            reply = child.receive(started + STARTUP_TIMEOUT_S)
        except _Overrun:
            self._discard()
            raise ToolError(f"the tool's process did not {doing} within {STARTUP_TIMEOUT_S:g} s") from None
        except _ChildGone:
            status = child.exit_status()
            self._discard()
            raise ToolError(f"the tool's process ended before it could {doing} ({status}); see its stderr") from None
        if reply[0] != kind:
            self._discard()
            if reply[0] == "raise":
                raise ToolError(f"the tool's process could not {doing}: {reply[2]}: {reply[3]}")
            raise ToolError(f"the tool's process sent {reply[0]!r} where {kind!r} was expected")

    def _start_ahead(self, prepared: set[tuple[str, ...]]) -> None:
        """Start the next child now, with the imports and warm-ups of the last one, so the next call waits less."""
        if _EXITING:
            return
        try:
            child = _Child()
            # Imports before warm-ups, as the last child did them.
            for request in sorted(prepared, key=lambda request: (request[0] != "import", request)):
                child.send((*request, list(sys.path)), time.monotonic() + 1.0)
                child.pending.append(request)
        except (OSError, _Overrun, _ChildGone):
            return  # the next call starts one the usual way
        self._child = child

    def _discard(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child = None

    def close(self) -> None:
        """Kill the child, if one runs; a later call starts a new one."""
        with self._lock:
            self._discard()

    def _after_fork(self) -> None:
        # The lock may have been held by a thread that does not exist in the fork.
        self._lock = threading.Lock()
        if self._child is not None:
            self._child.abandon()
            self._child = None

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]


def _after_fork_in_child() -> None:
    for sandbox in list(_SANDBOXES):
        sandbox._after_fork()


def _kill_all_children() -> None:
    global _EXITING
    _EXITING = True
    for sandbox in list(_SANDBOXES):
        child = sandbox._child
        if child is not None:
            child.kill()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
# Runs before the interpreter joins non-daemon threads, so a thread waiting on a
# child's answer sees it die and returns; plain atexit would run after that join.
_register = getattr(threading, "_register_atexit", None)
try:
    if _register is None:
        raise RuntimeError
    _register(_kill_all_children)
except RuntimeError:  # pragma: no cover - an older Python, or already shutting down
    import atexit

    atexit.register(_kill_all_children)


# --- the child's side -------------------------------------------------------


def _read_exact(fd: int, size: int) -> bytes | None:
    """``size`` bytes from ``fd``, or None at end of file."""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = os.read(fd, size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


class _Watchdog:
    """Ends the child if a call runs :data:`WATCHDOG_S` past its deadline or the parent is gone."""

    def __init__(self) -> None:
        self.deadline = math.inf
        given = os.environ.get(_PARENT_VARIABLE, "")
        self.parent = int(given) if given.isdigit() else os.getppid()
        threading.Thread(target=self._watch, name="sandbox-watchdog", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != self.parent or time.monotonic() > self.deadline + WATCHDOG_S:
                os._exit(3)


def _child_main() -> int:
    """Serve calls on stdin/stdout until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.dup(1)
    os.dup2(2, 1)  # print() in a tool goes to stderr, not into the protocol
    requests = 0

    def send_bytes(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(replies, view) :]

    watchdog = _Watchdog()
    send_bytes(_frame(("ready", os.getpid())))
    functions: dict[tuple[str, str], Callable[..., Any]] = {}
    while True:
        header = _read_exact(requests, _HEADER.size)
        if header is None:
            return 0
        (size,) = _HEADER.unpack(header)
        if size > _MAX_MESSAGE_BYTES:
            return 2
        payload = _read_exact(requests, size)
        if payload is None:
            return 0
        message = pickle.loads(payload)
        if message[0] == "import":
            send_bytes(_frame(_child_import(message[1], message[2])))
        elif message[0] == "warm":
            send_bytes(_frame(_child_warm_up(message[1], message[2], message[3])))
        else:
            send_bytes(_child_call(message, functions, watchdog))


def _child_import(module: str, path: list[str]) -> tuple[Any, ...]:
    """Import a tool's module in the child (its reply message)."""
    sys.path.extend(entry for entry in path if entry not in sys.path)
    try:
        importlib.import_module(module)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        return ("raise", *_describe_exception(exc))
    return ("imported",)


def _child_warm_up(module: str, qualname: str, path: list[str]) -> tuple[Any, ...]:
    """Run a tool's warm-up in the child (its reply message)."""
    sys.path.extend(entry for entry in path if entry not in sys.path)
    try:
        _resolve(module, qualname)()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        return ("raise", *_describe_exception(exc))
    return ("warmed",)


def _child_call(
    message: tuple[Any, ...], functions: dict[tuple[str, str], Callable[..., Any]], watchdog: _Watchdog
) -> bytes:
    """Run one call in the child within its limit; the framed reply, which ends with the call's processor time."""
    _, module, qualname, arguments, limit_s = message
    started, cpu_started = time.monotonic(), time.process_time()
    # The parent stops the call; the watchdog only catches a parent that is gone or hangs.
    watchdog.deadline = started + LOAD_ALLOWANCE * limit_s
    try:
        function = functions.get((module, qualname))
        if function is None:
            function = functions[(module, qualname)] = _resolve(module, qualname)
        with deadline_scope(started + limit_s):
            value = function(**arguments)
        data = pickle.dumps(("ok", value, time.process_time() - cpu_started), protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > MAX_RESULT_BYTES:
            raise ToolError(
                f"the result is {len(data):,} bytes (pickled); results are limited to {MAX_RESULT_BYTES:,} bytes"
            )
    except BaseException as exc:  # noqa: BLE001 - reported to the parent (SystemExit included)
        reply = ("raise", *_describe_exception(exc), time.process_time() - cpu_started)
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        watchdog.deadline = math.inf
    return _HEADER.pack(len(data)) + data


if __name__ == "__main__":
    sys.exit(_child_main())
