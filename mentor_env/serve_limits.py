"""Connection limits, request deadlines and bounded logs for the OpenEnv server's transport (uvicorn).

uvicorn 0.54 reads HTTP/1.1 with h11 and has no deadline for a request's
headers: a connection that sends nothing, or its headers a byte at a time,
keeps its file descriptor as long as the client likes. Enough of them reach
the open-file limit, and then asyncio's accept loop logs a traceback for every
connection it cannot accept, up to the listen backlog per event-loop tick
("Too many open files"), while no new client gets in. :func:`server_config`
builds a ``uvicorn.Config`` that closes both holes:

* :class:`GuardedH11Protocol` gives every request ``request_timeout_s`` for its
  headers, from the connection's start or the end of the previous response
  (a connection that misses it is closed), and caps the open connections: all
  of them (``max_connections``, HTTP and WebSocket together, chosen below the
  open-file limit by :func:`plan_capacity`) and those of one client address
  that are still in HTTP (``max_connections_per_client``). A connection over
  a cap is answered ``503`` and closed in the tick it was accepted, so its
  descriptor is free again at once; the refusals are logged as one line per
  ``REFUSAL_LOG_INTERVAL_S``, not one per connection.
* :class:`RateLimitFilter`, on every handler of the logging configuration,
  lets through at most ``per_message`` records of one message template and
  ``total`` records in all per window, each cut to ``max_chars`` (traceback
  included), and says how many it held back.

:class:`StoppableServer` stops on a first SIGINT or SIGTERM within about a
second (connections get ``SHUTDOWN_GRACE_S`` to close; uvicorn alone waits for
every client to hang up, and re-raises the signal after it: a
``KeyboardInterrupt`` traceback on Ctrl-C) and says where it listens once it
does.

Keep-alive connections idle for ``KEEP_ALIVE_S`` are closed by uvicorn itself.
A WebSocket connection leaves the per-client HTTP count when it is upgraded;
from then on the app's per-client session limit and idle timeout
(:func:`mentor_env.serve.make_app`) bound it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "ConnectionGuard",
    "ConnectionLimits",
    "GuardedH11Protocol",
    "RateLimitFilter",
    "StoppableServer",
    "log_config",
    "open_file_limit",
    "plan_capacity",
    "server_config",
]

FD_RESERVE = 64  # descriptors kept for the process itself: imports, logs, the event loop, pipes of child processes
# asyncio accepts up to `backlog` connections in one event-loop tick before any of them is seen (and refused, and
# closed), so that many descriptors must be free on top of the open connections.
BACKLOG = 128
ENV_FDS_PER_SESSION = 2  # the most a text env keeps open (Table's isolated query worker: two pipes)
DEFAULT_MAX_SESSIONS = 256
DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 64
DEFAULT_REQUEST_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5
REFUSAL_LOG_INTERVAL_S = 10.0
SHUTDOWN_GRACE_S = 0.5  # after a stop signal, open connections get this long to close before their tasks are cancelled
LOG = logging.getLogger("mentor_env.serve")


def open_file_limit() -> Optional[int]:
    """This process's soft limit on open files (``ulimit -n``); ``None`` where there is none or no ``resource`` module."""
    try:
        import resource
    except ImportError:  # not Unix
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def plan_capacity(
    max_sessions: Optional[int], max_connections: Optional[int], open_files: Optional[int]
) -> tuple[int, int]:
    """Session and connection caps that keep the server's descriptors under ``open_files``.

    A session holds its socket and up to ``ENV_FDS_PER_SESSION`` files of its
    env; every other connection holds its socket; ``BACKLOG`` stay free for the
    connections asyncio accepts in one tick before they are refused, and
    ``FD_RESERVE`` for the process. A cap left ``None`` gets its default: 256
    sessions, or as many as fit with 8 connections to spare; connections
    ``2 * sessions + 64``, or as many as fit.

    Raises:
        ValueError: a cap below 1, or caps given that do not fit the limit (the message says what would).
    """
    for name, value in (("max_sessions", max_sessions), ("max_connections", max_connections)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    room = None if open_files is None else open_files - FD_RESERVE - BACKLOG
    most_sessions = None if room is None else max(0, (room - 8) // (1 + ENV_FDS_PER_SESSION))
    if max_sessions is None:
        max_sessions = (
            DEFAULT_MAX_SESSIONS if most_sessions is None else max(1, min(DEFAULT_MAX_SESSIONS, most_sessions))
        )
    fit = None if room is None else room - ENV_FDS_PER_SESSION * max_sessions  # descriptors left for connections
    if fit is not None and fit < max_sessions:
        raise ValueError(
            f"{max_sessions} sessions do not fit the open-file limit {open_files}: a session takes "
            f"{1 + ENV_FDS_PER_SESSION} descriptors and {FD_RESERVE + BACKLOG} stay free for the process and new "
            f"connections, so at most {most_sessions} sessions fit (raise ulimit -n or lower the sessions)"
        )
    if max_connections is None:
        max_connections = 2 * max_sessions + 64 if fit is None else min(2 * max_sessions + 64, fit)
    if max_connections < max_sessions:
        raise ValueError(f"max_connections ({max_connections}) must be at least max_sessions ({max_sessions})")
    if fit is not None and max_connections > fit:
        need = max_connections + ENV_FDS_PER_SESSION * max_sessions + FD_RESERVE + BACKLOG
        raise ValueError(
            f"{max_sessions} sessions and {max_connections} connections need up to {need} descriptors, more than the "
            f"open-file limit {open_files} (at most {fit} connections fit with these sessions)"
        )
    return max_sessions, max_connections


@dataclass(frozen=True)
class ConnectionLimits:
    """The transport's caps.

    Attributes:
        max_connections: open connections, HTTP and WebSocket together.
        max_connections_per_client: connections of one client address still in HTTP (not yet WebSockets).
        request_timeout_s: seconds a request's headers may take to arrive.
    """

    max_connections: int
    max_connections_per_client: int = DEFAULT_MAX_CONNECTIONS_PER_CLIENT
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_connections_per_client"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        timeout = self.request_timeout_s
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
            raise ValueError(f"request_timeout_s must be a finite number of seconds > 0, got {timeout!r}")


class ConnectionGuard:
    """Counts open connections per client address, admits or refuses new ones, and logs refusals in batches.

    At the cap on all connections, a new connection may take the place of a
    connection that waits for a request's headers (a slow or idle client; it is
    closed): the one waiting longest at the address with the most
    connections, if that address still has at least as many as the newcomer's
    after the swap. Slow clients from many addresses cannot keep out a client
    from another one, and the newcomer is refused (503) only when the
    connections are fairly shared or all busy.
    """

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.by_client: Counter[str] = Counter()
        self.waiting: dict[str, dict[GuardedH11Protocol, None]] = {}  # per address, longest waiting first
        self.refused = 0  # since the server started
        self.evicted = 0
        self.timed_out = 0
        self._unlogged = 0
        self._last_reason = ""
        self._logged_at = -math.inf

    def admit(self, client: str, open_connections: int) -> Optional[str]:
        """Count a new connection of ``client``, or say why it is refused (it is then not counted).

        ``open_connections`` includes the new one.
        """
        if self.by_client[client] >= self.limits.max_connections_per_client:
            return f"{client} has {self.by_client[client]} HTTP connections open (the limit per client)"
        if open_connections > self.limits.max_connections:
            victim = self._victim_for(client)
            if victim is None:
                return f"the server has its {self.limits.max_connections} connections open (its limit), fairly shared"
            victim.evict()
            self.evicted += 1
        self.by_client[client] += 1
        return None

    def _victim_for(self, client: str) -> Optional[GuardedH11Protocol]:
        """The connection to close for a newcomer from ``client``, if any (see the class)."""
        newcomer = self.by_client[client] + 1
        best = None
        for address, waiting in self.waiting.items():
            if (
                waiting
                and self.by_client[address] > newcomer
                and (best is None or self.by_client[address] > self.by_client[best])
            ):
                best = address
        return None if best is None else next(iter(self.waiting[best]))

    def wait(self, connection: GuardedH11Protocol, client: str) -> None:
        """``connection`` of ``client`` waits for a request's headers."""
        self.waiting.setdefault(client, {})[connection] = None

    def stop_waiting(self, connection: GuardedH11Protocol, client: str) -> None:
        waiting = self.waiting.get(client)
        if waiting is not None:
            waiting.pop(connection, None)
            if not waiting:
                del self.waiting[client]

    def release(self, client: str) -> None:
        """A counted connection of ``client`` closed or became a WebSocket."""
        self.by_client[client] -= 1
        if self.by_client[client] <= 0:
            del self.by_client[client]

    def note_refusal(self, reason: str) -> None:
        """Log refusals: the first one, then one line per ``REFUSAL_LOG_INTERVAL_S`` with the count."""
        self.refused += 1
        self._unlogged += 1
        self._last_reason = reason
        now = time.monotonic()
        if now - self._logged_at >= REFUSAL_LOG_INTERVAL_S:
            LOG.warning(
                "refused %d connection(s) with 503 (latest: %s); %d closed to make room since the start",
                self._unlogged,
                self._last_reason,
                self.evicted,
            )
            self._unlogged = 0
            self._logged_at = now


_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"retry-after: 1\r\ncontent-length: %d\r\n\r\n%s"
)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers and the caps of a :class:`ConnectionGuard`."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: Any = None,
        *,
        guard: ConnectionGuard,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.guard = guard
        self._counted_as: Optional[str] = None
        self._deadline: Optional[Any] = None
        self._deadline_cycle: Any = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        client = self.client[0] if self.client else "local"
        refusal = self.guard.admit(client, len(self.connections))
        if refusal is not None:
            self.connections.discard(self)  # not one of the open connections that the next admission counts
            self.guard.note_refusal(refusal)
            body = f"refused: {refusal}; retry later\n".encode()
            transport.write(_REFUSAL % (len(body), body))
            transport.close()
            return
        self._counted_as = client
        self._arm_deadline()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._cancel_deadline()
        self._release()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._deadline is not None and self.cycle is not self._deadline_cycle:
            self._cancel_deadline()  # a request's headers are complete: the app has it now

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm_deadline()  # the next request's headers get the same time

    def handle_websocket_upgrade(self, event: Any) -> None:
        # From here the app's per-client session limit and idle timeout bound this connection.
        self._cancel_deadline()
        self._release()
        super().handle_websocket_upgrade(event)

    def evict(self) -> None:
        """Close this connection, which waits for a request's headers, to make room for a new one."""
        self._cancel_deadline()
        self._release()
        self.connections.discard(self)
        self.transport.close()

    def _arm_deadline(self) -> None:
        self._cancel_deadline()
        self._deadline_cycle = self.cycle
        self._deadline = self.loop.call_later(self.guard.limits.request_timeout_s, self._on_deadline)
        if self._counted_as is not None:
            self.guard.wait(self, self._counted_as)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
            if self._counted_as is not None:
                self.guard.stop_waiting(self, self._counted_as)

    def _on_deadline(self) -> None:
        self._deadline = None
        if self._counted_as is not None:
            self.guard.stop_waiting(self, self._counted_as)
        if self.cycle is self._deadline_cycle and not self.transport.is_closing():
            self.guard.timed_out += 1
            self.transport.close()

    def _release(self) -> None:
        if self._counted_as is not None:
            self.guard.release(self._counted_as)
            self._counted_as = None


class RateLimitFilter(logging.Filter):
    """Bounds log volume: per window, ``per_message`` records of one template and ``total`` in all, each cut short.

    A record held back is counted; the first record let through in a later
    window says how many were held back before it. Records are cut to
    ``max_chars`` (message) plus ``max_chars`` (traceback), so a window logs at
    most about ``total * 2 * max_chars`` characters whatever happens.
    """

    def __init__(
        self,
        window_s: float = 60.0,
        per_message: int = 10,
        total: int = 60,
        max_chars: int = 2000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.window_s, self.per_message, self.total, self.max_chars = window_s, per_message, total, max_chars
        self.clock = clock
        self._lock = threading.Lock()
        self._window_start = -math.inf
        self._counts: Counter[tuple[str, str]] = Counter()
        self._passed = 0
        self._held = 0  # in this window
        self._held_before = 0  # in earlier windows, not yet reported

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            now = self.clock()
            if now - self._window_start >= self.window_s:
                self._window_start, self._held_before = now, self._held_before + self._held
                self._counts.clear()
                self._passed = self._held = 0
            key = (record.name, str(record.msg)[:200])
            self._counts[key] += 1
            if self._counts[key] > self.per_message or self._passed >= self.total:
                self._held += 1
                return False
            self._passed += 1
            note = (
                f" [{self._held_before} earlier log records held back by the rate limit]" if self._held_before else ""
            )
            self._held_before = 0
        self._cut(record, note)
        return True

    def _cut(self, record: logging.LogRecord, note: str) -> None:
        message = record.getMessage()
        if len(message) > self.max_chars:
            message = f"{message[: self.max_chars]}... ({len(message)} characters in all)"
        record.msg, record.args = message + note, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = (
                text
                if len(text) <= self.max_chars
                else f"{text[: self.max_chars // 2]}\n...\n{text[-self.max_chars // 2 :]}"
            )


def log_config(level: str = "warning") -> dict[str, Any]:
    """uvicorn's logging configuration with a shared :class:`RateLimitFilter` on every handler, the root logger's included.

    The root logger (asyncio's accept errors, OpenEnv's and this package's
    messages) writes to the same stderr handler as uvicorn, at ``level``.
    """
    config: dict[str, Any] = {
        **LOGGING_CONFIG,
        "filters": {"rate_limit": {"()": RateLimitFilter}},
        "handlers": {
            name: {**handler, "filters": ["rate_limit"]} for name, handler in LOGGING_CONFIG["handlers"].items()
        },
        "root": {"handlers": ["default"], "level": level.upper()},
    }
    return config


def server_config(
    app: Any,
    *,
    host: str,
    port: int,
    guard: ConnectionGuard,
    ws_max_size: int,
    log_level: str = "warning",
    configure_logging: bool = True,
) -> uvicorn.Config:
    """A ``uvicorn.Config`` for ``app`` with the guarded h11 protocol, ``guard``'s limits and (unless told not to) bounded logs.

    ``ws_max_size`` is the largest WebSocket message the protocol reads; a
    larger one closes its connection with code 1009 (the app's own frame limit
    should be lower, so that a frame between the two gets an error answer).
    ``configure_logging=False`` leaves the process's logging as it is (tests,
    embedding).
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=functools.partial(GuardedH11Protocol, guard=guard),  # type: ignore[arg-type]
        ws="websockets-sansio",
        ws_max_size=ws_max_size,
        timeout_keep_alive=KEEP_ALIVE_S,
        backlog=BACKLOG,
        log_level=log_level,
        log_config=log_config(log_level) if configure_logging else None,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,  # type: ignore[arg-type]  # seconds; uvicorn's hint says int
    )


class StoppableServer(uvicorn.Server):
    """uvicorn's server, stopped by a first SIGINT or SIGTERM within about a second, with exit status 0.

    The signal is not raised again after the shutdown, as uvicorn does (a ``KeyboardInterrupt`` traceback on
    Ctrl-C, death by SIGTERM); :attr:`stop_signal` says which one stopped it. A second signal forces the exit
    at once. ``on_started(host, port)`` is called once the server listens, with the port it got (``port=0``:
    a free one).
    """

    def __init__(self, config: uvicorn.Config, on_started: Optional[Callable[[str, int], None]] = None) -> None:
        super().__init__(config)
        self.on_started = on_started
        self.stop_signal: Optional[int] = None

    async def startup(self, sockets: Optional[list[Any]] = None) -> None:
        await super().startup(sockets)
        if self.started and self.on_started is not None and self.servers:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            self.on_started(host, port)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
            yield
            return
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, sig: int, frame: Any) -> None:
        if self.stop_signal is not None:
            self.force_exit = True
        self.stop_signal = sig
        self.should_exit = True
