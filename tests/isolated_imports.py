"""Import each named module on its own, in a forked copy of a process that has imported none of them.

    python -m tests.isolated_imports --preload numpy torch -- mentor_env.core.tools mentor_env.serve ...

A fresh interpreter per module would pay for torch, transformers and the
other heavy libraries once per module. This process imports the libraries
named after ``--preload`` (those that are installed), then forks one child per
module: the child starts with the libraries in memory and none of the
project's modules, imports its module and exits. An import that works only
when another project module was imported first fails in its child.

It prints one JSON object: ``failed`` (module -> the error's last line) and
``missing`` (module -> the third-party package that is not installed).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import select
import sys
import traceback

# The packages whose modules the children import: none of them may be in memory before the fork.
PROJECT = ("mentor_env", "agents", "benchmarks")
# A missing one of these is a failure, never a "missing" third-party package.
FIRST_PARTY = (*PROJECT, "tests")
# How long one child may take to import its module before it counts as hanging.
CHILD_TIMEOUT_S = 120.0
# Exit statuses of a child.
IMPORTED, FAILED, MISSING = 0, 1, 2


def preload(names: list[str]) -> None:
    """Import the installed ones of ``names`` (a library that is not installed is the children's business)."""
    for name in names:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def missing_package(exc: BaseException) -> str | None:
    """The third-party package whose absence caused ``exc`` (following its causes), or None."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ModuleNotFoundError) and seen.name:
            top = seen.name.partition(".")[0]
            if top not in FIRST_PARTY and importlib.util.find_spec(top) is None:
                return top
        seen = seen.__cause__ or seen.__context__
    return None


def _import_in_child(module: str, write_fd: int) -> None:
    """The child's whole life: import ``module``, write what happened, exit without running exit handlers."""
    status, text = IMPORTED, ""
    try:
        importlib.import_module(module)
    except BaseException as exc:  # noqa: BLE001 - whatever the import raised is the report
        package = missing_package(exc)
        status, text = (MISSING, package) if package else (FAILED, traceback.format_exc(limit=-3).strip())
    os.write(write_fd, json.dumps([status, text]).encode())
    os.close(write_fd)
    os._exit(0)


def _collect(pid: int, read_fd: int) -> tuple[int, str]:
    """The child's report (a hanging child is killed and reported as failed)."""
    ready, _, _ = select.select([read_fd], [], [], CHILD_TIMEOUT_S)
    chunks = []
    while ready:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    if not ready:
        os.kill(pid, 9)
    os.waitpid(pid, 0)
    if not chunks:
        return FAILED, f"no report within {CHILD_TIMEOUT_S:g} s (the import hangs or the child died)"
    status, text = json.loads(b"".join(chunks))
    return status, text


def import_alone(module: str) -> tuple[int, str]:
    """Import ``module`` in a forked child; its status and report."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _import_in_child(module, write_fd)
    os.close(write_fd)
    return _collect(pid, read_fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preload", nargs="*", default=[], help="libraries to import before forking")
    parser.add_argument("modules", nargs="+", help="the modules to import, each on its own")
    args = parser.parse_args(argv)
    preload(args.preload)
    loaded = sorted(name for name in sys.modules if name.partition(".")[0] in PROJECT)
    if loaded:
        raise SystemExit(f"the children would not start fresh: {loaded} were imported before the fork")
    report: dict[str, dict[str, str]] = {"failed": {}, "missing": {}}
    for module in args.modules:
        status, text = import_alone(module)
        if status != IMPORTED:
            report["failed" if status == FAILED else "missing"][module] = text
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
