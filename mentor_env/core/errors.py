"""The exceptions a tool raises for the model to read.

Both the tool runtime (:mod:`mentor_env.core.tools`) and
:mod:`mentor_env.core.sandbox` (which raises them again in the parent when a
tool raised them in its child process) need them, and the runtime uses the
sandbox; kept here, below both, they spare the sandbox an import of the
runtime, so the two modules do not import each other. Tool authors import
them from :mod:`mentor_env.core.tools`, which re-exports them.
"""

from __future__ import annotations


class ToolError(Exception):
    """Raised by a tool for a failure the model should read (bad domain input)."""


class ToolTimeout(ToolError):
    """Raised by a tool that enforces its own time limit (reported as ``timeout``)."""
