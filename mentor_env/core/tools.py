"""Tools the model can call: spec, argument validation, time limit, result text.

A :class:`Tool` is a name, a description, a JSON-Schema ``parameters`` object
(OpenAI function format) and a plain Python callable. :class:`ToolRuntime`
executes calls by name: it validates the arguments with a precompiled
``jsonschema`` validator (built once per tool), runs the callable under a time
limit, and turns the result or the failure into the string the model sees.

Nothing here runs model-written code: the model only picks a registered tool
and supplies JSON arguments that the schema has already checked.
"""

from __future__ import annotations

import concurrent.futures
import math
import signal
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import jsonschema

# Error categories shown to the model and recorded in ``info["errors"]``.
PARSE_ERROR = "parse_error"
NOT_FOUND = "not_found"
INVALID_ARGS = "invalid_args"
EXECUTION_ERROR = "execution_error"
TIMEOUT = "timeout"
INVALID_ACTION = "invalid_action"
ERROR_CATEGORIES = (PARSE_ERROR, NOT_FOUND, INVALID_ARGS, EXECUTION_ERROR, TIMEOUT, INVALID_ACTION)

# Longest tool result or error text handed back to the model.
MAX_RESULT_CHARS = 4_000


class ToolError(Exception):
    """Raised by a tool for a failure the model should read (bad domain input)."""


class ToolTimeout(ToolError):
    """Raised by a tool that enforces its own time limit (reported as ``timeout``)."""


@dataclass(frozen=True)
class Tool:
    """A callable the model may use.

    Attributes:
        name: Name the model writes in ``"name"``.
        description: One or two sentences for the model.
        parameters: JSON Schema of the argument object (``type: object``).
        function: Called as ``function(**arguments)`` after validation.
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    function: Callable[..., Any] = field(repr=False, compare=False)
    validator: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"tool name must be an identifier, got {self.name!r}")
        if self.parameters.get("type") != "object":
            raise ValueError(
                f"tool {self.name!r}: parameters must be a JSON Schema with type 'object', "
                f"got type {self.parameters.get('type')!r}"
            )
        validator_class = jsonschema.validators.validator_for(self.parameters)
        validator_class.check_schema(self.parameters)
        # Compiled once here; every call reuses it.
        object.__setattr__(self, "validator", validator_class(self.parameters))

    @classmethod
    def from_function(cls, function: Callable[..., Any]) -> Tool:
        """Build a tool from type hints and a Google-style docstring.

        Uses ``transformers.utils.get_json_schema`` (install the ``lm`` extra).
        Domains that need bounds on their inputs write the schema by hand.
        """
        try:
            from transformers.utils import get_json_schema
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                "Tool.from_function needs transformers (pip install 'mentor-env[lm]'); "
                "or construct Tool(name, description, parameters, function) directly"
            ) from exc
        spec = get_json_schema(function)["function"]
        return cls(spec["name"], spec["description"], spec["parameters"], function)

    @property
    def spec(self) -> dict[str, Any]:
        """The OpenAI / Hugging Face function spec of this tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": dict(self.parameters),
            },
        }


@dataclass(frozen=True)
class ToolResult:
    """Outcome of one call: ``content`` is what the model sees."""

    name: str | None
    content: str
    error_category: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_category is None

    @property
    def error(self) -> str | None:
        """``"category: message"`` for ``info["errors"]``, ``None`` on success."""
        return None if self.ok else f"{self.error_category}: {self.content}"

    @property
    def shown(self) -> str:
        """The text the model reads for this call."""
        return self.content if self.ok else f"Error ({self.error_category}): {self.content}"


def error_result(name: str | None, category: str, message: str) -> ToolResult:
    """A failed call, with the message cut to what the model should read."""
    if category not in ERROR_CATEGORIES:
        raise ValueError(f"unknown error category {category!r}; expected one of {ERROR_CATEGORIES}")
    return ToolResult(name, truncate(message, MAX_RESULT_CHARS), category)


def truncate(text: str, limit: int, keep_end: int = 0) -> str:
    """Cut ``text`` to at most ``limit`` characters, saying how much was cut.

    The last ``keep_end`` characters are kept, for messages whose point is at
    the end (jsonschema's ``"<value> is too long"``).
    """
    if len(text) <= limit:
        return text
    # Sized with the longest possible count, so the real marker is never longer.
    room = max(0, limit - len(f" [... {len(text)} characters cut ...] "))
    keep_end = min(keep_end, room)
    head = room - keep_end
    marker = f" [... {len(text) - head - keep_end} characters cut ...] "
    return (text[:head] + marker + text[len(text) - keep_end :])[:limit]


def format_value(value: Any) -> str:
    """Render a tool's return value as the text the model sees.

    Integral floats print without a decimal point and other floats with 12
    significant digits, so results read the way a person writes them and are
    identical on every platform.
    """
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ToolError(f"the result is not a finite number ({value})")
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".12g")
    if isinstance(value, str):
        return value
    return repr(value)


def number_param(description: str, limit: float = 1e12) -> dict[str, Any]:
    """JSON Schema of a number argument bounded to ``|x| <= limit``."""
    return {"type": "number", "minimum": -int(limit), "maximum": int(limit), "description": description}


def object_schema(properties: dict[str, Any], required: Sequence[str] | None = None) -> dict[str, Any]:
    """JSON Schema of an argument object; every property is required unless ``required`` says otherwise."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
        "additionalProperties": False,
    }


class _Timeout(Exception):
    pass


def _raise_timeout(signum: int, frame: Any) -> None:
    raise _Timeout()


# Worker threads for calls made outside the main thread, where SIGALRM is not
# available. A call that overruns is reported as a timeout; its thread is left
# to finish (tools bound their inputs, so it does).
_THREAD_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="mentor-tool")


class ToolRuntime:
    """Executes tool calls by name for one environment.

    Args:
        tools: The tools the model may call (names must be unique).
        timeout_s: Wall-clock limit of one call, in seconds.
    """

    def __init__(self, tools: Sequence[Tool], timeout_s: float = 2.0) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.tools: dict[str, Tool] = {}
        for tool in tools:
            if tool.name in self.tools:
                raise ValueError(f"duplicate tool name {tool.name!r}")
            self.tools[tool.name] = tool
        self.timeout_s = timeout_s
        self.specs: list[dict[str, Any]] = [tool.spec for tool in tools]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.tools)

    def execute(self, name: str | None, arguments: Mapping[str, Any] | None) -> ToolResult:
        """Validate and run one call; never raises."""
        tool = self.tools.get(name) if isinstance(name, str) else None
        if tool is None:
            available = ", ".join(sorted(self.tools))
            return error_result(name, NOT_FOUND, f"there is no tool named {name!r}. Available tools: {available}")
        if not isinstance(arguments, Mapping):
            return error_result(name, INVALID_ARGS, f"arguments must be an object, got {type(arguments).__name__}")
        problem = self._validation_error(tool, arguments)
        if problem is not None:
            return error_result(name, INVALID_ARGS, problem)
        try:
            value = self._run_with_time_limit(tool, dict(arguments))
            return ToolResult(name, truncate(format_value(value), MAX_RESULT_CHARS))
        except _Timeout:
            return error_result(name, TIMEOUT, f"{name} did not finish within {self.timeout_s:g} s")
        except ToolTimeout as exc:
            return error_result(name, TIMEOUT, f"{name} timed out: {exc}")
        except ToolError as exc:
            return error_result(name, EXECUTION_ERROR, f"{name} failed: {exc}")
        except Exception as exc:  # a bug or an edge the tool did not bound
            return error_result(name, EXECUTION_ERROR, f"{name} failed: {type(exc).__name__}: {exc}")

    @staticmethod
    def _validation_error(tool: Tool, arguments: Mapping[str, Any]) -> str | None:
        try:
            error = jsonschema.exceptions.best_match(tool.validator.iter_errors(arguments))
        except RecursionError:
            return "the arguments are nested too deeply"
        if error is None:
            return None
        where = "/".join(str(part) for part in error.absolute_path)
        location = f" (at {where!r})" if where else ""
        expected = ", ".join(
            f"{key}: {schema.get('type', 'any')}" for key, schema in tool.parameters.get("properties", {}).items()
        )
        return f"{truncate(error.message, 300, keep_end=120)}{location}. {tool.name} expects {{{expected}}}"

    def _run_with_time_limit(self, tool: Tool, arguments: dict[str, Any]) -> Any:
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            previous = signal.signal(signal.SIGALRM, _raise_timeout)
            signal.setitimer(signal.ITIMER_REAL, self.timeout_s)
            try:
                return tool.function(**arguments)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
        future = _THREAD_POOL.submit(tool.function, **arguments)
        try:
            return future.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError:
            raise _Timeout() from None
