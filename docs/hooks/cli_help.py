"""MkDocs hook: a command's ``--help``, as the command prints it when the site is built.

A page writes ``<!-- cli-help: agents.ppo -->`` on a line of its own; the site shows the output of
``python -m agents.ppo --help`` there, run from the repository root, in a text block. The flags, their defaults
and their help therefore never drift from the code (on GitHub the marker is an invisible comment). The
repository's absolute path in a default is written as ``.``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- cli-help: ([\w.]+) -->$", re.MULTILINE)
HELP_TIMEOUT_S = 120


def cli_help(module: str) -> str:
    """``python -m <module> --help`` from the repository root, 100 columns wide, one torch thread."""
    env = {**os.environ, "COLUMNS": "100", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HELP_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise RuntimeError(f"python -m {module} --help exited with {done.returncode}: {done.stderr[-2000:]}")
    text = done.stdout.replace(str(ROOT) + os.sep, "./").replace(str(ROOT), ".")
    return re.sub(r"(\./[\w./-]*?)-\n\s+", r"\1-", text)  # a path argparse broke at a hyphen, joined again


def with_help(markdown: str) -> str:
    """The page with each marker followed by its command's ``--help`` in a text block."""
    return MARKER.sub(lambda match: f"{match.group(0)}\n\n```text\n{cli_help(match.group(1)).rstrip()}\n```", markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return with_help(markdown)
