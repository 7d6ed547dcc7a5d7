"""Crash-safe files: atomic writes, atomic folders, append-only JSON lines, one writer per folder.

Everything here is domain-free and survives ``kill -9`` (or a power cut, as far
as the file system honours ``fsync``) at any point:

* :func:`write_bytes_atomically` / :func:`write_text_atomically`: the new
  content goes to a uniquely named hidden temporary file in the target's
  folder (``.NAME.<random>.tmp``), which is flushed and fsynced, then
  ``os.replace``-d over the target, then the folder is fsynced. A reader sees
  the old file or the new one, never a partial or empty one. On an exception
  (Ctrl-C included) the temporary is removed before the exception goes on.
  After a ``kill -9`` it stays behind; the writer holds an ``flock`` on it
  while it works, so the next atomic write of the same target removes every
  temporary whose writer is gone (and leaves a live writer's alone).
* :func:`atomic_folder`: build a folder under a hidden temporary name, fsync
  it, then rename it into place (a folder already at the target is moved
  aside first and deleted afterwards). :func:`atomic_files` instead replaces
  the files one by one, each atomically, keeping the folder's other files.
* :func:`append_jsonl`: one JSON object per line, appended and fsynced; a
  kill can leave at most an incomplete last line, which
  :func:`read_jsonl_records` skips.
* :func:`lock_folder`: an exclusive, non-blocking ``flock`` on
  ``FOLDER/.lock``. A second holder, in another process or this one, gets
  :class:`FolderLockedError` naming the folder and the holder's pid. The
  kernel drops the lock when the holder's process ends, however it ends, so
  a killed run never leaves a stale lock. A forked child of the holder lets
  go of its inherited copy at once (the flock belongs to the open file, which
  a fork shares), so it neither keeps the lock after its parent is killed nor
  deletes the parent's lock file when it exits. Taking the lock also removes the
  leftovers of killed atomic writes at the top of the folder (hidden
  ``.*.tmp`` and ``.*.deleted`` entries), since the holder is then the
  folder's only writer.

Locks and the clean-up of temporaries need ``fcntl`` (Linux, macOS). Without
it atomic writes still work but leftovers are only ignored, and
:func:`lock_folder` raises :class:`NotImplementedError`. ``flock`` is not
reliable on some network file systems; keep output folders on local disks.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any, Iterator

try:
    import fcntl
except ImportError:  # Windows: atomic writes work, locks and temporary clean-up do not
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"
_TEMPORARY_SUFFIX = ".tmp"
_DISCARDED_SUFFIX = ".deleted"


class FolderLockedError(RuntimeError):
    """Another holder (another process, or another lock in this one) has the folder's lock."""

    def __init__(self, folder: Path, pid: int | None) -> None:
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(
            f"{folder} is in use by {holder} (it holds {folder / LOCK_NAME}); "
            "one process may write an output folder at a time: wait for it to finish, stop it, or use another folder"
        )
        self.folder = folder
        self.pid = pid

    def __reduce__(self) -> tuple[Any, ...]:
        # The default rebuilds the error from self.args (the message), which __init__ does not take: a worker
        # process's FolderLockedError would then fail to unpickle in its parent and break the whole pool.
        return (type(self), (self.folder, self.pid), self.__dict__)


# --- durability primitives -------------------------------------------------------------


def fsync_folder(folder: Path) -> None:
    """Make the entries of ``folder`` (creations, renames, deletions) durable."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # e.g. Windows cannot open folders; nothing more to do there
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse fsync on a folder
        pass
    finally:
        os.close(descriptor)


def fsync_tree(folder: Path) -> None:
    """fsync every file and folder under ``folder`` (and ``folder`` itself)."""
    for root, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(root, name), "rb") as handle:
                os.fsync(handle.fileno())
        fsync_folder(Path(root))


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _plain_file_mode() -> int:
    """The mode ``open(path, 'w')`` would give a new file (mkstemp makes files private)."""
    return 0o666 & ~_umask()


def _hidden_name(path: Path, suffix: str) -> Path:
    """A fresh, uniquely named hidden sibling of ``path`` (not created)."""
    return path.parent / f".{path.name}.{os.urandom(6).hex()}{suffix}"


# --- atomic files ------------------------------------------------------------------------


def _locked_temporary(path: Path) -> tuple[int, Path]:
    """A new hidden temporary next to ``path``, flock-ed by this process while it is written."""
    while True:
        descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMPORARY_SUFFIX)
        if fcntl is None:
            return descriptor, Path(name)
        # Blocking: a sweeper (remove_stale_temporaries) holds it only long enough to unlink it.
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        if os.fstat(descriptor).st_nlink:
            return descriptor, Path(name)
        os.close(descriptor)  # swept between mkstemp and flock (a dead writer's name is never reused): try again


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporaries of atomic writes of ``path`` whose writer is gone; returns them.

    A live writer holds an flock on its temporary, so only those of killed
    processes are removed.
    """
    if fcntl is None or not path.parent.is_dir():
        return []
    removed = []
    for name in glob.glob(
        os.path.join(glob.escape(str(path.parent)), f".{glob.escape(path.name)}.*{_TEMPORARY_SUFFIX}")
    ):
        try:
            descriptor = os.open(name, os.O_RDONLY)
        except OSError:  # gone already (its writer finished), or not ours to open
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # The writer may have renamed it into place before we opened it: unlink only the same file.
            if os.stat(name).st_ino == os.fstat(descriptor).st_ino:
                os.unlink(name)
                removed.append(Path(name))
        except OSError:  # locked by a live writer, or renamed away meanwhile
            pass
        finally:
            os.close(descriptor)
    return removed


def write_bytes_atomically(path: str | os.PathLike[str], data: bytes) -> Path:
    """Replace ``path`` with ``data`` so that a reader, or a kill at any point, sees the old or the new file.

    Creates missing parent folders. The new file gets the mode a plain
    ``open(path, "wb")`` would give it. See the module docstring for what a
    kill leaves behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    descriptor, temporary = _locked_temporary(path)
    try:
        with os.fdopen(descriptor, "wb") as handle:  # closing it releases the flock: after the rename
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.chmod(temporary, _plain_file_mode())
            os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return path


def write_text_atomically(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """:func:`write_bytes_atomically` of ``text`` encoded with ``encoding``."""
    return write_bytes_atomically(path, text.encode(encoding))


def write_json_atomically(path: str | os.PathLike[str], value: Any, indent: int | None = 2, **dumps: Any) -> Path:
    """:func:`write_text_atomically` of ``json.dumps(value, indent=indent, **dumps)`` plus a newline."""
    return write_text_atomically(path, json.dumps(value, indent=indent, **dumps) + "\n")


# --- atomic folders ----------------------------------------------------------------------


def discard(path: Path) -> None:
    """Delete a file or folder so that a kill midway leaves it whole or gone, never half-deleted under its name.

    The entry is first renamed to a hidden ``.NAME.<random>.deleted``, then
    deleted; a leftover of a kill is removed when the folder is next locked
    (:func:`lock_folder`).
    """
    if not os.path.lexists(path):
        return
    aside = _hidden_name(path, _DISCARDED_SUFFIX)
    os.rename(path, aside)
    fsync_folder(path.parent)
    if aside.is_dir() and not aside.is_symlink():
        shutil.rmtree(aside)
    else:
        aside.unlink()


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a hidden, empty temporary folder next to ``target``; fill it, and on success it becomes ``target``.

    Its files are fsynced before the rename, so ``target`` only ever appears
    complete. A folder already at ``target`` is moved aside, then deleted once
    the new one is in place; a kill between those two renames leaves no
    ``target`` (the old folder survives under a hidden ``.deleted`` name, the
    new one under its hidden ``.tmp`` name), so give callers that cannot
    rebuild ``target`` a fresh name per version instead. On an exception the
    temporary folder is removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=_TEMPORARY_SUFFIX))
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~_umask())  # mkdtemp makes it private; give it os.mkdir's mode
        fsync_tree(temporary)
        aside = None
        if os.path.lexists(target):
            aside = _hidden_name(target, _DISCARDED_SUFFIX)
            os.rename(target, aside)
        os.rename(temporary, target)
        fsync_folder(target.parent)
        if aside is not None:
            discard(aside)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


@contextlib.contextmanager
def atomic_files(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a hidden temporary folder inside ``folder``; on success each file written there replaces its namesake.

    For tools that write several files into a folder that holds other files
    too (``save_pretrained`` into a folder with a README): every file is
    fsynced, then ``os.replace``-d into ``folder`` (subfolders are kept as
    paths), so each file is whole, old or new; files of ``folder`` not written
    are kept. A kill partway can leave some files new and some old: write a
    file that marks completion last (with :func:`write_text_atomically`,
    after this block). On an exception nothing in ``folder`` changes and the
    temporary folder is removed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=folder, prefix=f".{folder.name}.", suffix=_TEMPORARY_SUFFIX))
    try:
        yield temporary
        fsync_tree(temporary)
        for root, _, names in os.walk(temporary):
            relative = Path(root).relative_to(temporary)
            (folder / relative).mkdir(parents=True, exist_ok=True)
            for name in names:
                os.chmod(Path(root) / name, _plain_file_mode())
                os.replace(Path(root) / name, folder / relative / name)
            fsync_folder(folder / relative)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def remove_leftovers(folder: Path) -> list[Path]:
    """Remove the hidden ``.*.tmp`` and ``.*.deleted`` entries at the top of ``folder``; returns them.

    Only safe for the holder of the folder's lock (nobody else writes there);
    :func:`lock_folder` calls it.
    """
    removed = []
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        if entry.name.startswith(".") and entry.name.endswith((_TEMPORARY_SUFFIX, _DISCARDED_SUFFIX)):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


# --- append-only JSON lines --------------------------------------------------------------


def append_jsonl(path: str | os.PathLike[str], record: Any) -> None:
    """Append ``record`` as one JSON line and fsync it: a kill leaves at most an incomplete last line."""
    line = (json.dumps(record) + "\n").encode("utf-8")
    with open(path, "ab") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl_records(path: str | os.PathLike[str]) -> list[Any]:
    """The complete lines of a JSON-lines file written by :func:`append_jsonl` (an unfinished last line is skipped).

    A missing file has no records. A bad line that is not the last one is
    an error (``ValueError`` naming the file and line): that is damage, not
    an interrupted append.
    """
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    complete, _, _ = data.rpartition(b"\n")
    records = []
    for number, line in enumerate(complete.split(b"\n") if complete else [], start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise ValueError(f"{path}, line {number}: not JSON ({exc})") from exc
    return records


# --- one writer per folder -------------------------------------------------------------


class FolderLock:
    """An exclusive ``flock`` on ``FOLDER/.lock`` (see :func:`lock_folder`); release it or use it as a context manager."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self._descriptor: int | None = None
        if fcntl is None:
            raise NotImplementedError("folder locks need fcntl (Linux or macOS)")
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.folder.mkdir(parents=True, exist_ok=True)
        self._acquire()

    def _acquire(self) -> None:
        while True:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(descriptor)
                os.close(descriptor)
                raise FolderLockedError(self.folder, pid) from None
            except BaseException:
                os.close(descriptor)
                raise
            # A releasing holder unlinks the file: make sure we locked the one that is still there.
            try:
                same = os.stat(self.path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(descriptor)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        self._descriptor = descriptor
        _HELD.add(self)

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def release(self) -> None:
        """Give the lock up (the lock file is removed); a second call does nothing."""
        if self._descriptor is None:
            return
        descriptor, self._descriptor = self._descriptor, None
        _HELD.discard(self)
        try:
            self.path.unlink(missing_ok=True)  # while still holding it, so no one locks a file about to vanish
        finally:
            os.close(descriptor)

    def _let_go_in_forked_child(self) -> None:
        """In a forked child: close the inherited descriptor, leaving the lock (and its file) to the parent."""
        if self._descriptor is not None:
            descriptor, self._descriptor = self._descriptor, None
            os.close(descriptor)

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"FolderLock({str(self.folder)!r}, held={self.held})"


# The locks this process holds. An flock belongs to the open file, which a fork shares: a forked child (a vector
# env's worker, a fork-context pool) would hold the lock on until it ends, after its parent was killed, and
# its release() would delete the parent's lock file. Each child therefore lets go of its copies at once.
_HELD: weakref.WeakSet[FolderLock] = weakref.WeakSet()


def _let_go_of_inherited_locks() -> None:
    for lock in list(_HELD):
        lock._let_go_in_forked_child()
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_let_go_of_inherited_locks)


def _read_pid(descriptor: int) -> int | None:
    try:
        return int(os.pread(descriptor, 32, 0).decode().strip())
    except (OSError, ValueError):  # written just now, or by something else
        return None


def lock_folder(folder: str | os.PathLike[str]) -> FolderLock:
    """Take ``folder``'s lock (creating the folder), or raise :class:`FolderLockedError` at once.

    Then remove the leftovers of killed atomic writes at the top of the
    folder (:func:`remove_leftovers`). Use as ``with lock_folder(out): ...``
    or keep the returned :class:`FolderLock` and ``release()`` it.
    """
    lock = FolderLock(folder)
    remove_leftovers(lock.folder)
    return lock
