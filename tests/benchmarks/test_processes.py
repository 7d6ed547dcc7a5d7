"""benchmarks.processes: the processes the benchmarks start die with their parent, however it ends.

Each test starts a parent program in a subprocess, lets it start its children
the way a benchmark does, kills the parent with SIGKILL (no clean-up of its
own runs) and checks in ``/proc`` that every child it had is gone. The bound
is gross (10 s); the measured time is milliseconds (``prctl``) or up to one
poll period (the watcher).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks.processes import POLL_S, die_with_parent, python_command
from tests.process_helpers import children, command_line, kill_all, read_json_lines, wait_until_gone

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the children")
GONE_WITHIN_S = 10.0

# Starts two children the way ``kind`` says, reports its pid, then sleeps until killed.
PARENT = """
import json, os, subprocess, sys, time
from benchmarks.processes import multiprocessing_pool, python_command, worker_pool
from tests.process_helpers import report_and_hold

HOLD = "import json, os, time; os.write(1, (json.dumps({'worker': os.getpid()}) + chr(10)).encode()); time.sleep(600)"


def main(kind):
    if kind == "executor":
        pool = worker_pool(2)
        holding = [pool.submit(report_and_hold) for _ in range(2)]
    elif kind == "pool":
        pool = multiprocessing_pool(2, maxtasksperchild=1)
        holding = [pool.apply_async(report_and_hold) for _ in range(2)]
    elif kind == "python_command":
        holding = [subprocess.Popen(python_command(["-c", HOLD])) for _ in range(2)]
    else:  # a plain child that calls die_with_parent with the mechanism ``kind`` itself
        guard = f"from benchmarks.processes import die_with_parent; die_with_parent({os.getpid()}, {kind!r}); "
        holding = [subprocess.Popen([sys.executable, "-c", guard + HOLD]) for _ in range(2)]
    print(json.dumps({"parent": os.getpid()}), flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main(sys.argv[1])
"""


def _environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


@pytest.mark.parametrize("kind", ["executor", "pool", "python_command", "prctl", "watcher"])
def test_children_die_with_a_parent_killed_with_sigkill(kind):
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PARENT), kind],
        cwd=REPO,
        env=_environment(),
        stdout=subprocess.PIPE,
        bufsize=0,
    )
    started = []
    try:
        lines = read_json_lines(parent.stdout, 3, timeout_s=60)  # two workers busy, and the parent
        workers = {line["worker"] for line in lines if "worker" in line}
        started = children(parent.pid)  # the workers, and a pool's resource tracker
        assert len(workers) == 2 and workers <= {pid for pid, _ in started}, (workers, started)
        parent.kill()
        parent.wait()
        left, waited = wait_until_gone(started, GONE_WITHIN_S)
        assert left == [], [command_line(pid) for pid, _ in left]
        if kind == "watcher":
            assert waited < GONE_WITHIN_S  # the watcher notices within POLL_S, the rest is scheduling
    finally:
        parent.kill()
        kill_all(started)
        parent.stdout.close()


@pytest.mark.parametrize("mechanism", ["prctl", "watcher"])
def test_a_child_whose_parent_died_before_the_call_ends_at_once(mechanism):
    # The test's own parent is the child's grandparent, not its parent: what die_with_parent sees when
    # the real parent died (and the child was re-parented) before it was called.
    code = f"from benchmarks.processes import die_with_parent; die_with_parent({os.getppid()}, {mechanism!r}); print('survived')"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=_environment(), capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout) == (-signal.SIGKILL, "")


def test_the_mechanism_is_prctl_on_linux_and_the_watcher_when_asked():
    code = "import os; from benchmarks.processes import die_with_parent; print(die_with_parent(os.getppid()), die_with_parent(os.getppid(), 'watcher'))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=_environment(), capture_output=True, text=True, timeout=60
    )
    assert result.stdout == "prctl watcher\n", result.stderr
    assert 0 < POLL_S <= 0.5


def test_bad_calls_say_what_was_expected():
    with pytest.raises(ValueError, match=r"mechanism must be one of \('auto', 'prctl', 'watcher'\), got 'fast'"):
        die_with_parent(os.getppid(), "fast")
    with pytest.raises(ValueError, match="needs parent_pid outside a multiprocessing child"):
        die_with_parent()
    with pytest.raises(ValueError, match=r"expected \['-m', MODULE, ...\] or \['-c', CODE, ...\], got \['script.py'\]"):
        python_command(["script.py"])


def test_a_python_command_child_sees_the_argv_and_name_python_would_give_it():
    code = "import json, sys; print(json.dumps({'argv': sys.argv, 'name': __name__, 'names': sorted(k for k in globals() if k[0] != '_')}))"
    ran = subprocess.run(
        python_command(["-c", code, "one", "two words"]),
        cwd=REPO,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(ran.stdout) == {
        "argv": ["-c", "one", "two words"],
        "name": "__main__",
        "names": ["json", "sys"],
    }, ran.stderr
    ran = subprocess.run(
        python_command(["-m", "tests.process_helpers", "--flag", "x"]),
        cwd=REPO,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(ran.stdout) == {
        "argv": [str(REPO / "tests" / "process_helpers.py"), "--flag", "x"],
        "name": "__main__",
    }, ran.stderr
    failing = subprocess.run(
        python_command(["-c", "import sys; sys.exit(7)"]), cwd=REPO, env=_environment(), timeout=60
    )
    assert failing.returncode == 7
