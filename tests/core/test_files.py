"""mentor_env.core.files: atomic writes and folders, append-only JSON lines, one writer per folder.

Kill points are simulated two ways: an exception raised from inside the write
path (what Ctrl-C or a full disk does: clean-up code runs), and a real
``SIGKILL`` of a subprocess at an instrumented step (no clean-up runs).
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

from mentor_env.core import files
from mentor_env.core.files import (
    FolderLockedError,
    append_jsonl,
    atomic_files,
    atomic_folder,
    discard,
    lock_folder,
    read_jsonl_records,
    write_bytes_atomically,
    write_text_atomically,
)

REPO = Path(__file__).resolve().parents[2]


def run_python(code: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=REPO, **kwargs
    )


# --- atomic files ---------------------------------------------------------------------


def test_write_replaces_the_file_with_a_plain_mode_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "deep" / "result.bin"
    write_bytes_atomically(target, b"first")
    write_bytes_atomically(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["result.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert write_text_atomically(tmp_path / "t.txt", "é").read_bytes() == "é".encode()


@pytest.mark.parametrize("step", ["write", "fsync", "chmod", "replace"])
@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_old_content_and_removes_its_temporary(tmp_path, monkeypatch, step, error):
    target = tmp_path / "result.json"
    target.write_text("old")

    def fail(*args, **kwargs):
        raise error

    if step == "write":
        monkeypatch.setattr(files.os, "fdopen", lambda descriptor, *a, **k: _FailingFile(descriptor, error))
    else:
        monkeypatch.setattr(files.os, step, fail)
    with pytest.raises(type(error)):
        write_text_atomically(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


class _FailingFile:
    """An os.fdopen stand-in whose write fails (and which still closes the descriptor)."""

    def __init__(self, descriptor: int, error: BaseException) -> None:
        self.descriptor = descriptor
        self.error = error

    def __enter__(self) -> "_FailingFile":
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.descriptor)

    def write(self, data: bytes) -> None:
        raise self.error


KILL_AT_REPLACE = """
    import os, signal, sys
    from mentor_env.core import files
    files.os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
    files.write_text_atomically(sys.argv[1], "new content")
"""


def test_a_kill_9_mid_write_leaves_the_old_file_and_a_hidden_temporary_the_next_write_removes(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(KILL_AT_REPLACE), str(target)], cwd=REPO)
    assert killed.returncode == -signal.SIGKILL
    assert target.read_text() == "old"
    leftovers = [p for p in tmp_path.iterdir() if p != target]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".result.json.") and leftovers[0].name.endswith(".tmp")
    assert leftovers[0].read_text() == "new content"  # complete, but never renamed: not the result
    write_text_atomically(target, "newer")
    assert target.read_text() == "newer"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_the_temporary_of_a_live_writer_is_not_swept(tmp_path):
    target = tmp_path / "result.json"
    descriptor, temporary = files._locked_temporary(target)  # a writer in the middle of its write
    try:
        write_text_atomically(target, "other writer")
        assert temporary.exists()
    finally:
        os.close(descriptor)
    write_text_atomically(target, "again")  # its writer is gone now
    assert not temporary.exists() and target.read_text() == "again"


# --- atomic folders -------------------------------------------------------------------


def test_atomic_folder_appears_complete_and_replaces_the_old_one(tmp_path):
    target = tmp_path / "model"
    with atomic_folder(target) as building:
        (building / "a.txt").write_text("1")
        assert not target.exists() and building.name.startswith(".model.")
    assert [p.name for p in target.iterdir()] == ["a.txt"]
    with atomic_folder(target) as building:
        (building / "b.txt").write_text("2")
    assert [p.name for p in target.iterdir()] == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask


def test_a_failed_atomic_folder_keeps_the_old_folder_and_removes_the_temporary(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(target) as building:
            (building / "half.txt").write_text("ha")
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert (target / "old.txt").read_text() == "old" and not (target / "half.txt").exists()


def test_discard_removes_files_and_folders(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "x").write_text("x")
    (tmp_path / "file").write_text("y")
    discard(tmp_path / "folder")
    discard(tmp_path / "file")
    discard(tmp_path / "missing")
    assert list(tmp_path.iterdir()) == []


# --- JSON lines -----------------------------------------------------------------------


def test_an_interrupted_append_loses_only_its_own_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    assert read_jsonl_records(path) == []
    append_jsonl(path, {"update": 1})
    append_jsonl(path, {"update": 2})
    with path.open("a") as handle:
        handle.write('{"update": 3, "los')  # what a kill in the middle of the third append leaves
    assert read_jsonl_records(path) == [{"update": 1}, {"update": 2}]
    path.write_text('{"update": 1}\nnot json\n{"update": 3}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl, line 2: not JSON"):
        read_jsonl_records(path)


# --- folder locks ---------------------------------------------------------------------


def test_a_second_lock_in_the_same_process_is_refused_until_the_first_is_released(tmp_path):
    folder = tmp_path / "run"
    with lock_folder(folder) as lock:
        assert lock.held and (folder / ".lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(FolderLockedError, match=rf"{folder} is in use by process {os.getpid()}") as refused:
            lock_folder(folder)
        assert refused.value.folder == folder and refused.value.pid == os.getpid()
    assert not lock.held and not (folder / ".lock").exists()
    lock_folder(folder).release()  # free again


def test_another_process_is_refused_while_we_hold_the_lock(tmp_path):
    with lock_folder(tmp_path):
        other = run_python(
            f"""
            from mentor_env.core.files import lock_folder
            lock_folder({str(tmp_path)!r})
            """
        )
    assert other.returncode == 1
    assert f"FolderLockedError: {tmp_path} is in use by process {os.getpid()}" in other.stderr


HOLD_THE_LOCK = """
    import sys, time
    from mentor_env.core.files import lock_folder
    lock = lock_folder(sys.argv[1])
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_killed_holder_never_leaves_a_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD_THE_LOCK), str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(FolderLockedError, match=f"in use by process {holder.pid}"):
            lock_folder(tmp_path)
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert (tmp_path / ".lock").exists()  # the file stays behind, the lock does not
    with lock_folder(tmp_path) as lock:
        assert lock.held


HOLD_THE_LOCK_AND_FORK = """
    import os, sys, time
    from mentor_env.core.files import lock_folder
    lock = lock_folder(sys.argv[1])
    ready, done = os.pipe()
    child = os.fork()
    if child == 0:  # a forked worker that lets its copy of the lock go, as its exit or garbage collection would
        lock.release()
        os.write(done, b"x")
        time.sleep(60)
        os._exit(0)
    os.read(ready, 1)
    print(child, flush=True)
    time.sleep(60)
"""


def test_a_forked_child_neither_keeps_nor_deletes_its_parents_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD_THE_LOCK_AND_FORK), str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    child = None
    try:
        child = int(holder.stdout.readline())
        assert (
            tmp_path / ".lock"
        ).read_text() == f"{holder.pid}\n"  # the child's release() left the parent's lock file
        with pytest.raises(FolderLockedError, match=f"in use by process {holder.pid}"):
            lock_folder(tmp_path)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        os.kill(child, 0)  # the forked child lives on ...
        with lock_folder(tmp_path) as lock:  # ... without the lock of its dead parent
            assert lock.held and (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"
    finally:
        holder.kill()
        if child is not None:
            os.kill(child, signal.SIGKILL)


def test_taking_the_lock_removes_the_leftovers_of_killed_writes(tmp_path):
    (tmp_path / ".result.json.abc123.tmp").write_text("half")
    (tmp_path / ".checkpoint-4.x1y2.tmp").mkdir()
    (tmp_path / ".checkpoint-2.q9.deleted").mkdir()
    (tmp_path / "result.json").write_text("kept")
    (tmp_path / ".hidden-but-ours").write_text("kept")
    with lock_folder(tmp_path):
        assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden-but-ours", ".lock", "result.json"]


# --- callers --------------------------------------------------------------------------


def test_baselines_json_is_written_atomically(tmp_path, monkeypatch, capsys):
    from agents import baselines

    path = tmp_path / "baselines.json"
    results = baselines.main(["--episodes", "2", "--out", str(path)])
    assert json.loads(path.read_text())["results"] == json.loads(json.dumps(results))
    before = path.read_text()

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        baselines.main(["--episodes", "2", "--seed", "5", "--out", str(path)])
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["baselines.json"]


def test_atomic_files_replace_each_file_and_keep_the_others(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "README.md").write_text("kept")
    (folder / "config.json").write_text("old")
    with atomic_files(folder) as building:
        (building / "config.json").write_text("new")
        (building / "sub").mkdir()
        (building / "sub" / "weights.bin").write_bytes(b"w")
    assert (folder / "README.md").read_text() == "kept" and (folder / "config.json").read_text() == "new"
    assert (folder / "sub" / "weights.bin").read_bytes() == b"w"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "sub"]
    with pytest.raises(KeyboardInterrupt):
        with atomic_files(folder) as building:
            (building / "config.json").write_text("half")
            raise KeyboardInterrupt
    assert (folder / "config.json").read_text() == "new"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "sub"]
