"""Isolated tools: each call runs in the runtime's child process, killed at the call's deadline."""

from __future__ import annotations

import functools
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mentor_env.core.sandbox import Sandbox, importable_name
from mentor_env.core.tools import Tool, ToolRuntime, number_param, object_schema
from tests import sandbox_helpers as helpers

ROOT = Path(__file__).resolve().parents[2]

SLOW = Tool(
    "slow", "Sleeps.", object_schema({"seconds": number_param("Seconds to sleep.", 100)}), helpers.sleep, isolated=True
)
LEFT = Tool("left", "Seconds left.", object_schema({}), helpers.seconds_left, isolated=True)
FAIL = Tool("fail", "Fails.", object_schema({"kind": {"type": "string"}}), helpers.fail, isolated=True)
BIG = Tool("big", "A long string.", object_schema({"size": {"type": "integer"}}), helpers.big_result, isolated=True)
PID = Tool("pid", "The process id.", object_schema({}), helpers.pid, isolated=True)


def isolated_runtime(timeout_s: float = 0.5) -> ToolRuntime:
    runtime = ToolRuntime([SLOW, LEFT, FAIL, BIG, PID], timeout_s=timeout_s)
    assert runtime.execute("slow", {"seconds": 0}).content == "slept 0 s"  # the child is up
    return runtime


def test_a_runaway_call_is_killed_at_its_limit_and_the_next_call_works() -> None:
    runtime = isolated_runtime(timeout_s=0.3)
    first_pid = runtime.execute("pid", {}).content
    started = time.perf_counter()
    result = runtime.execute("slow", {"seconds": 30})
    assert time.perf_counter() - started < 1.5  # measured: 0.36 s (0.3 s, 50 ms grace, the kill)
    assert result.error == "timeout: slow did not finish within 0.3 s"
    assert runtime.execute("slow", {"seconds": 0.01}).content == "slept 0.01 s"
    assert runtime.execute("pid", {}).content != first_pid  # a fresh child
    runtime.close()


def test_start_up_is_not_charged_to_the_call() -> None:
    # A new child takes about 0.4 s to start; the 0.2 s limit counts from when it is ready.
    runtime = ToolRuntime([SLOW, LEFT], timeout_s=0.2)
    assert runtime.execute("slow", {"seconds": 0.05}).content == "slept 0.05 s"
    left = float(runtime.execute("left", {}).content)
    assert 0.1 < left <= 0.2  # call_deadline() in the child: its own clock plus the seconds left
    runtime.close()


def test_exceptions_come_back_with_their_type_and_message() -> None:
    runtime = isolated_runtime()
    errors = {
        kind: runtime.execute("fail", {"kind": kind}).error
        for kind in ("tool_error", "tool_timeout", "value_error", "custom", "exit")
    }
    assert errors == {
        "tool_error": "execution_error: fail failed: the input is wrong",
        "tool_timeout": "timeout: fail timed out: gave up after 0.1 s",
        "value_error": "execution_error: fail failed: ValueError: bad value",
        "custom": "execution_error: fail failed: CustomProblem: custom trouble",
        "exit": "execution_error: fail failed: SystemExit: 3",
    }
    runtime.close()


def test_a_child_that_dies_is_an_error_and_the_next_call_starts_another() -> None:
    runtime = isolated_runtime()
    error = runtime.execute("fail", {"kind": "crash"}).error
    assert error is not None and error.startswith(
        "execution_error: fail failed: the tool's process ended during the call"
    )
    assert "SIGKILL" in error
    assert runtime.execute("slow", {"seconds": 0}).content == "slept 0 s"
    runtime.close()


def test_a_result_over_the_cap_is_refused() -> None:
    runtime = isolated_runtime()
    assert runtime.execute("big", {"size": 1_000}).ok
    error = runtime.execute("big", {"size": 2_000_000}).error
    assert error is not None and error.startswith("execution_error: big failed: the result is 2,000,0")
    assert error.endswith("results are limited to 1,000,000 bytes")
    assert runtime.execute("big", {"size": 10}).content == "x" * 10
    runtime.close()


def _local_function(seconds: float) -> None:  # importable, but wrapped below
    time.sleep(seconds)


@pytest.mark.parametrize(
    "function, problem",
    [
        (lambda seconds: None, "is a lambda or a function defined inside another function"),
        (functools.partial(_local_function, 0.1), "has no module and qualified name"),
        (Sandbox().close, "is not"),  # a bound method
    ],
    ids=["lambda", "partial", "bound-method"],
)
def test_an_isolated_tool_needs_an_importable_function(function: Any, problem: str) -> None:
    def local(seconds: float) -> None:
        time.sleep(seconds)

    with pytest.raises(ValueError, match="is isolated, so its function must be importable by name") as raised:
        Tool("slow", "Sleeps.", object_schema({}), function, isolated=True)
    assert problem in str(raised.value)
    with pytest.raises(ValueError, match="defined inside another function"):
        Tool("slow", "Sleeps.", object_schema({}), local, isolated=True)
    assert Tool("slow", "Sleeps.", object_schema({}), local).isolated is False  # ordinary tools take anything
    assert importable_name(helpers.sleep) == ("tests.sandbox_helpers", "sleep")
    assert importable_name(time.sleep) == ("time", "sleep")


def test_the_limit_holds_from_threads_and_other_sandboxes_are_not_delayed() -> None:
    runaway, quick = isolated_runtime(timeout_s=0.4), isolated_runtime(timeout_s=0.4)
    outcome: list[Any] = []
    started = time.perf_counter()
    worker = threading.Thread(target=lambda: outcome.append(runaway.execute("slow", {"seconds": 30})))
    worker.start()
    quick_times = []
    for _ in range(20):
        call_started = time.perf_counter()
        assert quick.execute("slow", {"seconds": 0}).ok
        quick_times.append(time.perf_counter() - call_started)
    worker.join(10.0)
    assert time.perf_counter() - started < 10.0  # measured: under 1 s; the runaway call sleeps 30 s
    assert outcome[0].error == "timeout: slow did not finish within 0.4 s"
    # None waited for the other call (stopped at 0.4 s): the slowest, not the sum, so that one
    # stall of a loaded machine does not add up with 19 round trips.
    assert max(quick_times) < 0.35
    runaway.close()
    quick.close()


def test_close_kills_the_child_and_pickles_carry_no_process() -> None:
    runtime = isolated_runtime()
    pid = int(runtime.execute("pid", {}).content)
    copy = pickle.loads(pickle.dumps(runtime))
    assert copy._sandbox is None
    assert int(copy.execute("pid", {}).content) != pid  # the copy starts its own child
    runtime.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped
    assert int(runtime.execute("pid", {}).content) != pid
    sandbox = pickle.loads(pickle.dumps(runtime._sandbox))
    assert isinstance(sandbox, Sandbox) and sandbox._child is None
    runtime.close()
    copy.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_copy_starts_its_own_child() -> None:
    runtime = isolated_runtime()
    parent_child = runtime.execute("pid", {}).content
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the forked copy: never the parent's pipes
        try:
            os.write(write, runtime.execute("pid", {}).content.encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert answer.isdigit() and answer != parent_child
    assert runtime.execute("pid", {}).content == parent_child  # the parent's child is untouched
    runtime.close()


def test_the_callers_sigalrm_timer_is_untouched() -> None:
    runtime = isolated_runtime(timeout_s=0.2)
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 100.0)
        runtime.execute("slow", {"seconds": 0})
        runtime.execute("slow", {"seconds": 5})  # killed
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90.0 < remaining <= 100.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    runtime.close()


def test_the_program_exits_promptly_while_a_call_runs() -> None:
    # A non-daemon thread in a runaway call (30 s limit) and a daemon one: exit kills the children first.
    script = textwrap.dedent(
        """
        import threading, time
        from mentor_env.core.tools import Tool, ToolRuntime, number_param, object_schema
        from tests import sandbox_helpers
        slow = Tool("slow", "Sleeps.", object_schema({"seconds": number_param("s", 100)}), sandbox_helpers.sleep, isolated=True)
        runtimes = [ToolRuntime([slow], timeout_s=30.0) for _ in range(2)]
        for runtime in runtimes:
            runtime.execute("slow", {"seconds": 0})
        threading.Thread(target=runtimes[0].execute, args=("slow", {"seconds": 60})).start()
        threading.Thread(target=runtimes[1].execute, args=("slow", {"seconds": 60}), daemon=True).start()
        time.sleep(0.3)
        print("exiting", flush=True)
        """
    )
    started = time.perf_counter()
    finished = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - started
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == "exiting\n"
    # Measured: about 1.5 s, mostly two child start-ups. Waiting for the call would take 30 s (its limit).
    assert elapsed < 20.0


def test_an_exception_of_the_callers_mid_call_leaves_no_stale_answer() -> None:
    # The caller's own alarm handler raises while an isolated call waits: the child's late answer
    # must not be read as the next call's.
    runtime = ToolRuntime([SLOW, BIG], timeout_s=5.0)
    assert runtime.execute("big", {"size": 1}).content == "x"  # the child is up

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(KeyboardInterrupt):
            runtime.execute("slow", {"seconds": 0.3})
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    time.sleep(0.4)  # the old child would have answered by now
    assert [runtime.execute("big", {"size": size}).content for size in (2, 3)] == ["xx", "xxx"]
    runtime.close()


def test_the_start_of_a_calls_process_is_not_charged_to_the_call() -> None:
    runtime = ToolRuntime([SLOW, PID], timeout_s=5.0)
    # A budget of 0.2 s: less than a cold start (a new interpreter, about 0.4 s), more than the call
    # with room for a loaded machine's scheduling.
    result = runtime.execute("slow", {"seconds": 0.01}, 0.2)
    assert result.ok and result.content == "slept 0.01 s"
    assert 0.01 <= result.charged_s < 0.2
    # Past its budget, the same call is the call's doing.
    result = runtime.execute("slow", {"seconds": 0.6}, 0.2)
    assert result.error == "timeout: slow did not finish within 0.2 s"
    assert 0.2 <= result.charged_s < 0.6
    runtime.close()


def test_a_kill_reaches_the_processes_the_tool_started(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SANDBOX_TEST_PID_FILE", str(tmp_path / "pid"))
    spawner = Tool(
        "spawn",
        "Starts a sleeper.",
        object_schema({"seconds": number_param("s", 100)}),
        helpers.spawn_sleeper,
        isolated=True,
    )
    runtime = ToolRuntime([spawner], timeout_s=0.5)
    result = runtime.execute("spawn", {"seconds": 30})
    assert result.error is not None and result.error.startswith("timeout:")
    sleeper = int((tmp_path / "pid").read_text())
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        try:
            os.kill(sleeper, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the tool's own process {sleeper} outlived the kill")
    runtime.close()


def test_an_exception_that_cannot_be_printed_is_reported_and_the_child_lives() -> None:
    unprintable = Tool("unprintable", "Fails oddly.", object_schema({}), helpers.fail_unprintably, isolated=True)
    runtime = ToolRuntime([unprintable, PID], timeout_s=5.0)
    before = runtime.execute("pid", {}).content
    result = runtime.execute("unprintable", {})
    assert (
        result.error
        == "execution_error: unprintable failed: UnprintableProblem: <the exception's message could not be printed>"
    )
    assert runtime.execute("pid", {}).content == before
    runtime.close()


def test_a_child_whose_parent_died_before_it_looked_exits() -> None:
    # The parent's pid comes from the environment: a parent gone before the watchdog started is noticed too.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    env = {**os.environ, "MENTOR_ENV_SANDBOX_PARENT": str(gone.pid)}
    child = subprocess.Popen(
        [sys.executable, "-m", "mentor_env.core.sandbox"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    try:
        assert child.wait(timeout=20.0) == 3  # measured: about 0.6 s (the watchdog looks every 0.5 s)
    finally:
        child.kill()
        child.stdin.close()
        child.stdout.close()


def test_a_warm_up_runs_once_per_child_before_its_first_call_uncharged() -> None:
    warm = Tool("pid", "The process id.", object_schema({}), helpers.pid, isolated=True, warm_up=helpers.slow_warm_up)
    runtime = ToolRuntime([warm], timeout_s=0.1)  # the warm-up alone takes 0.5 s
    first = runtime.execute("pid", {})
    assert first.ok and first.charged_s < 0.1
    assert runtime.execute("pid", {}).content == first.content  # the same child, warmed once
    runtime.close()


def test_a_failed_warm_up_is_an_error_that_charges_the_call_nothing() -> None:
    broken = Tool(
        "pid", "The process id.", object_schema({}), helpers.pid, isolated=True, warm_up=helpers.failing_warm_up
    )
    result = ToolRuntime([broken]).execute("pid", {})
    assert result.error == (
        "execution_error: pid failed: the tool's process could not run the warm-up "
        "tests.sandbox_helpers.failing_warm_up: RuntimeError: no database here"
    )
    assert result.charged_s == 0.0
