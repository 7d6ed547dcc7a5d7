"""Tools the model can call: spec, argument validation, time limit, result text.

A :class:`Tool` is a name, a description, a JSON-Schema ``parameters`` object
(OpenAI function format) and a plain Python callable. :class:`ToolRuntime`
executes calls by name: it validates the arguments with a precompiled
``jsonschema`` validator (built once per tool), runs the callable under a time
limit, and turns the result or the failure into the string the model sees.

Time limits
    Every call has a limit: ``timeout_s``, a tool's own ``time_limit_s`` when
    it is shorter, and what is left of the caller's budget (the environment's
    per-turn budget) when that is shorter still. The limit covers the whole
    call, the checking of its arguments included; arguments are first bounded
    in size (:data:`MAX_ARGUMENT_ITEMS`, :data:`MAX_ARGUMENT_CHARS`), so the
    check itself is short. No signal, timer or thread pool is involved, so
    calls from any thread keep their limit and the caller's own ``SIGALRM``
    timers are left alone.

    - An ordinary tool runs in the caller's thread and must bound its own work
      (bounded inputs in its schema, and :func:`call_deadline` for anything
      that loops). A call that returns after its limit is reported as
      ``timeout`` and its result dropped.
    - A tool with ``isolated=True`` runs in a child process of its runtime
      (:mod:`mentor_env.core.sandbox`) that is killed when it overruns: for
      work that cannot be bounded from Python, such as one SQLite function
      call. The child's start-up and the tool's ``warm_up`` are not charged to
      the call, and its limit counts the child's processor time, so a busy
      machine is not charged either (see :mod:`mentor_env.core.clock`).

    Each :class:`ToolResult` says how much time the call was charged
    (``charged_s``), which is what a caller's budget is spent by.

Nothing here runs model-written code: the model only picks a registered tool
and supplies JSON arguments that the schema has already checked.
"""

from __future__ import annotations

import copy
import math
import numbers
import pickle
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar, cast

import jsonschema

from mentor_env.core.clock import MachineBusy, deadline_scope
from mentor_env.core.clock import call_deadline as call_deadline  # re-exported: tools import it from here
from mentor_env.core.errors import ToolError as ToolError  # re-exported, as call_deadline
from mentor_env.core.errors import ToolTimeout as ToolTimeout
from mentor_env.core.parsing import MAX_JSON_DEPTH
from mentor_env.core.text import valid_json, valid_text

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
# The most values (objects, arrays, strings, numbers...) one call's arguments may hold, and the most characters
# their strings may hold together: checked before the schema, so that checking stays short.
MAX_ARGUMENT_ITEMS = 10_000
MAX_ARGUMENT_CHARS = 100_000
# Integers of more digits than this are refused, as the call parser refuses them in model text.
MAX_ARGUMENT_DIGITS = 64

# What a tool name may be: a letter or underscore, then letters, digits, ``_``,
# ``.`` or ``-`` (dotted names such as ``math.factorial`` are common in
# function-calling data), at most 128 characters.
TOOL_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_.\-]{0,127}"
_TOOL_NAME = re.compile(TOOL_NAME_PATTERN)
# What a ToolSpecs caches under one key: whatever that key's compute returns.
_Value = TypeVar("_Value")


@dataclass(frozen=True)
class Tool:
    """A callable the model may use.

    Attributes:
        name: Name the model writes in ``"name"`` (:data:`TOOL_NAME_PATTERN`).
        description: One or two sentences for the model.
        parameters: JSON Schema of the argument object (``type: object``).
        function: Called as ``function(**arguments)`` after validation.
        isolated: Run each call in a child process that is killed at the
            call's deadline (see the module doc). ``function`` must then be
            importable by its module and name, as for ``multiprocessing``.
        time_limit_s: This tool's own limit per call, when it is sooner than
            the runtime's ``timeout_s`` (a call's deadline is the soonest of
            the two and the caller's deadline).
        timeout_message: What the model reads when a call is stopped at its
            deadline, instead of ``"<name> did not finish within N s"``;
            ``{limit}`` in it is replaced by the limit in seconds (a float).
        warm_up: For an isolated tool, a function of no arguments that its
            child process runs once before its first call (building an
            in-memory database, loading an index), so that this work is never
            charged to a call. It must be importable by name, as ``function``.
            A tool that runs in the caller's thread ignores it.
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    function: Callable[..., Any] = field(repr=False, compare=False)
    isolated: bool = field(default=False, kw_only=True)
    time_limit_s: float | None = field(default=None, kw_only=True)
    timeout_message: str | None = field(default=None, kw_only=True)
    warm_up: Callable[[], Any] | None = field(default=None, kw_only=True, repr=False, compare=False)
    validator: Any = field(init=False, repr=False, compare=False)
    fast_check: Callable[[Any], bool] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or _TOOL_NAME.fullmatch(self.name) is None:
            raise ValueError(
                f"tool name must match {TOOL_NAME_PATTERN} (letters, digits, '_', '.', '-'), got {self.name!r}"
            )
        if self.parameters.get("type") != "object":
            raise ValueError(
                f"tool {self.name!r}: parameters must be a JSON Schema with type 'object', "
                f"got type {self.parameters.get('type')!r}"
            )
        if self.time_limit_s is not None:
            object.__setattr__(
                self, "time_limit_s", check_time_limit(f"tool {self.name!r}: time_limit_s", self.time_limit_s)
            )
        if self.timeout_message is not None:
            try:
                self.timeout_message.format(limit=1.0)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"tool {self.name!r}: timeout_message may use only the field {{limit}}, got "
                    f"{self.timeout_message!r} ({type(exc).__name__}: {exc})"
                ) from None
        self._check_isolation()
        validator_class = jsonschema.validators.validator_for(self.parameters)
        validator_class.check_schema(self.parameters)
        # Compiled once here; every call reuses it.
        object.__setattr__(self, "validator", validator_class(self.parameters))
        object.__setattr__(self, "fast_check", compile_fast_check(self.parameters))

    def _check_isolation(self) -> None:
        """An isolated tool's function and warm-up must be importable by name."""
        if not self.isolated:
            return
        from mentor_env.core.sandbox import importable_name

        for role, function in (("function", self.function), ("warm_up", self.warm_up)):
            try:
                if function is not None:
                    importable_name(function)
            except ValueError as exc:
                raise ValueError(
                    f"tool {self.name!r} is isolated, so its {role} must be importable by name: {exc}"
                ) from None

    def __reduce__(self) -> tuple[Any, ...]:
        # jsonschema's validator classes are made at run time and do not pickle;
        # the copy compiles its own (multiprocessing spawn, Ray, SubprocVecEnv).
        options = {
            "isolated": self.isolated,
            "time_limit_s": self.time_limit_s,
            "timeout_message": self.timeout_message,
            "warm_up": self.warm_up,
        }
        return (_rebuild_tool, (self.name, self.description, dict(self.parameters), self.function, options))

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


def _rebuild_tool(
    name: str, description: str, parameters: dict[str, Any], function: Callable[..., Any], options: Any
) -> Tool:
    if isinstance(options, bool):  # pickled before the time_limit_s and timeout_message options existed
        options = {"isolated": options}
    return Tool(name, description, parameters, function, **options)


@dataclass(frozen=True)
class ToolResult:
    """Outcome of one call: ``content`` is what the model sees.

    ``charged_s`` is the time the call is charged for (see the module doc):
    what a caller's time budget is spent by.
    """

    name: str | None
    content: str
    error_category: str | None = None
    charged_s: float = field(default=0.0, compare=False)

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


def error_result(name: str | None, category: str, message: str, charged_s: float = 0.0) -> ToolResult:
    """A failed call, with the message cut to what the model should read and made valid text."""
    if category not in ERROR_CATEGORIES:
        raise ValueError(f"unknown error category {category!r}; expected one of {ERROR_CATEGORIES}")
    shown_name = valid_text(name) if isinstance(name, str) else name
    return ToolResult(shown_name, valid_text(truncate(message, MAX_RESULT_CHARS)), category, charged_s)


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


# --- the specs a runtime hands out ------------------------------------------------


class ToolSpecs(list[dict[str, Any]]):
    """A runtime's tool specs: a plain ``list`` of OpenAI function specs, with two shortcuts.

    The environment hands this same list out in ``info["tools"]`` on every
    step, and renders it into every prompt. Both shortcuts hold only while the
    list still equals (``==``) the specs it was made with, checked each time;
    a list someone has edited behaves like a plain list.

    - :meth:`cached` keeps a value computed from the specs (the rendered
      ``<tools>`` block), instead of running ``json.dumps`` on every reset.
    - Pickling (what an async vector env does with ``info`` on every step)
      writes the specs' pickle made once, and unpickling in a process that has
      already read the same bytes returns the list it made then, instead of
      rebuilding a few hundred dicts each time. That is what ``info["tools"]``
      of one env is in-process too: the same list on every step.
    """

    __slots__ = ("_snapshot", "_pickled", "_cache")

    def __init__(self, specs: Iterable[dict[str, Any]] = ()) -> None:
        super().__init__(specs)
        self._snapshot: list[dict[str, Any]] = copy.deepcopy(list(self))
        self._pickled: bytes | None = None
        self._cache: dict[str, Any] = {}

    def unchanged(self) -> bool:
        """Whether the list still equals the specs it was made with."""
        return list.__eq__(self, self._snapshot)

    def cached(self, key: str, compute: Callable[[list[dict[str, Any]]], _Value]) -> _Value:
        """``compute(self)``, computed once while the specs are unchanged."""
        if not self.unchanged():
            return compute(self)
        if key not in self._cache:
            self._cache[key] = compute(self._snapshot)
        return cast(_Value, self._cache[key])  # each key holds what its one compute returned

    def __reduce__(self) -> tuple[Any, ...]:
        if not self.unchanged():
            return (ToolSpecs, (list(self),))
        if self._pickled is None:
            self._pickled = pickle.dumps(self._snapshot, protocol=pickle.HIGHEST_PROTOCOL)
        return (_unpickle_tool_specs, (self._pickled,))

    def __copy__(self) -> ToolSpecs:
        return ToolSpecs(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> ToolSpecs:
        return ToolSpecs(copy.deepcopy(list(self), memo))


# Specs unpickled in this process, by their pickle (a few distinct lists: one per domain).
_UNPICKLED_SPECS: dict[bytes, ToolSpecs] = {}
_MAX_UNPICKLED_SPECS = 64


def _unpickle_tool_specs(pickled: bytes) -> ToolSpecs:
    specs = _UNPICKLED_SPECS.get(pickled)
    if specs is None or not specs.unchanged():
        specs = ToolSpecs(pickle.loads(pickled))
        if len(_UNPICKLED_SPECS) >= _MAX_UNPICKLED_SPECS:
            _UNPICKLED_SPECS.pop(next(iter(_UNPICKLED_SPECS)))
        _UNPICKLED_SPECS[pickled] = specs
        specs._pickled = pickled
    return specs


# --- a fast "certainly valid" check in front of jsonschema ----------------------

# Keywords that never change whether an instance is valid.
_ANNOTATIONS = frozenset({"description", "title", "examples", "default", "$comment"})
# The keywords the fast check understands, by the schema's "type".
_FAST_KEYWORDS: dict[str, frozenset[str]] = {
    "object": frozenset({"type", "properties", "required", "additionalProperties"}),
    "array": frozenset({"type", "items", "minItems", "maxItems"}),
    "number": frozenset({"type", "minimum", "maximum"}),
    "integer": frozenset({"type", "minimum", "maximum"}),
    "string": frozenset({"type", "minLength", "maxLength", "pattern", "enum"}),
    "boolean": frozenset({"type"}),
}
_FastCheck = Callable[[Any], bool]


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def compile_fast_check(schema: Any) -> _FastCheck | None:
    """A function that returns True only for instances ``schema`` accepts, or ``None``.

    It handles the schemas tools here are written with (an object of typed
    properties with bounds, lengths, patterns and string enums) and nothing
    else: for any other keyword, a ``type`` list, a ``$ref`` or a boolean
    schema it returns ``None`` and jsonschema alone decides. False means "not
    sure": the caller then asks jsonschema, which decides and words the error,
    so accept/reject decisions are jsonschema's own. It accepts only exact
    JSON types (``dict``, ``list``, ``str``, ``int``, ``float``, ``bool``), and
    applies each keyword as jsonschema does (``re.search`` for ``pattern``,
    ``len`` for lengths, ``<``/``>`` for bounds).
    """
    if not isinstance(schema, Mapping):
        return None
    kind = schema.get("type")
    if not isinstance(kind, str) or kind not in _FAST_KEYWORDS or set(schema) - _FAST_KEYWORDS[kind] - _ANNOTATIONS:
        return None
    if kind == "object":
        return _compile_object(schema)
    if kind == "array":
        return _compile_array(schema)
    if kind in ("number", "integer"):
        return _compile_number(schema, kind)
    if kind == "string":
        return _compile_string(schema)
    return lambda value: type(value) is bool


def _compile_object(schema: Mapping[str, Any]) -> _FastCheck | None:
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if not isinstance(properties, Mapping) or not isinstance(required, (list, tuple)) or extra not in (True, False):
        return None
    if type(extra) is not bool or not all(isinstance(name, str) for name in (*properties, *required)):
        return None
    checks = _compile_properties(properties)
    if checks is None:
        return None
    return _object_check(checks, tuple(required), closed=extra is False)


def _compile_properties(properties: Mapping[str, Any]) -> dict[str, _FastCheck] | None:
    """Each property's fast check, in order; ``None`` when one of them has none."""
    checks: dict[str, _FastCheck] = {}
    for name, subschema in properties.items():
        check = compile_fast_check(subschema)
        if check is None:
            return None
        checks[name] = check
    return checks


def _object_check(checks: Mapping[str, _FastCheck], required_names: tuple[str, ...], closed: bool) -> _FastCheck:
    """The fast check of an object schema.

    A value passes when it is a dict holding every name in ``required_names``,
    with string keys, each known key's item passing its check in ``checks``,
    and no unknown key when ``closed``.
    """

    def check_object(value: Any) -> bool:
        if type(value) is not dict:
            return False
        for name in required_names:
            if name not in value:
                return False
        for name, item in value.items():
            if type(name) is not str:
                return False
            check = checks.get(name)
            if check is None:
                if closed:
                    return False
            elif not check(item):
                return False
        return True

    return check_object


def _compile_array(schema: Mapping[str, Any]) -> _FastCheck | None:
    items = schema.get("items")
    item_check = compile_fast_check(items) if items is not None else (lambda value: True)
    low, high = schema.get("minItems", 0), schema.get("maxItems", math.inf)
    if item_check is None or not all(_is_number(bound) for bound in (low, high)):
        return None

    def check_array(value: Any) -> bool:
        return type(value) is list and low <= len(value) <= high and all(map(item_check, value))

    return check_array


def _compile_number(schema: Mapping[str, Any], kind: str) -> _FastCheck | None:
    low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
    if not (_is_number(low) and _is_number(high)):
        return None
    types = (int,) if kind == "integer" else (int, float)

    def check_number(value: Any) -> bool:
        # jsonschema fails ``value < minimum`` and ``value > maximum``; the same tests here.
        return type(value) in types and not value < low and not value > high

    return check_number


def _compile_string(schema: Mapping[str, Any]) -> _FastCheck | None:
    low, high = schema.get("minLength", 0), schema.get("maxLength", math.inf)
    pattern = schema.get("pattern")
    enum = schema.get("enum")
    if not (_is_number(low) and _is_number(high)) or (pattern is not None and not isinstance(pattern, str)):
        return None
    if enum is not None and not isinstance(enum, (list, tuple)):
        return None
    try:
        search = re.compile(pattern).search if pattern is not None else None
    except re.error:
        return None
    # jsonschema compares a string to the enum's strings with ==; other members never equal it.
    allowed = frozenset(member for member in enum if isinstance(member, str)) if enum is not None else None

    def check_string(value: Any) -> bool:
        if type(value) is not str or not low <= len(value) <= high:
            return False
        if allowed is not None and value not in allowed:
            return False
        return search is None or search(value) is not None

    return check_string


def _timeout_result(tool: Tool, limit_s: float) -> ToolResult:
    if tool.timeout_message is not None:
        message = f"{tool.name} timed out: {tool.timeout_message.format(limit=limit_s)}"
    else:
        message = f"{tool.name} did not finish within {round(limit_s, 2):g} s"
    return error_result(tool.name, TIMEOUT, message, charged_s=limit_s)


def argument_problem(arguments: Mapping[str, Any]) -> str | None:
    """Why ``arguments`` cannot be a call's JSON arguments, found in time bounded by the limits; ``None`` if fine.

    Refuses, before any schema check: more than :data:`MAX_ARGUMENT_ITEMS`
    values or :data:`MAX_ARGUMENT_CHARS` characters of strings, nesting deeper
    than the call parser reads (:data:`~mentor_env.core.parsing.MAX_JSON_DEPTH`), integers of
    more than :data:`MAX_ARGUMENT_DIGITS` digits, NaN and infinities, and
    complex numbers (none of which JSON holds). Other Python types are left to
    the schema, which words its own error.
    """
    stack: list[tuple[Any, int]] = [(arguments, 0)]
    items = chars = 0
    while stack:
        value, depth = stack.pop()
        items += 1
        if items > MAX_ARGUMENT_ITEMS:
            return f"the arguments hold more than {MAX_ARGUMENT_ITEMS:,} values; send less"
        if isinstance(value, str):
            chars += len(value)
            if chars > MAX_ARGUMENT_CHARS:
                return f"the arguments' strings hold more than {MAX_ARGUMENT_CHARS:,} characters; send less"
        elif isinstance(value, (Mapping, list, tuple)):
            if depth >= MAX_JSON_DEPTH:
                return f"the arguments are nested deeper than {MAX_JSON_DEPTH} levels; send a flatter value"
            children = value.values() if isinstance(value, Mapping) else value
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(value, numbers.Number) and not isinstance(value, bool):
            problem = _number_problem(value)
            if problem is not None:
                return problem
    return None


def _number_problem(value: numbers.Number) -> str | None:
    if isinstance(value, numbers.Integral):
        if abs(int(value)) >= 10**MAX_ARGUMENT_DIGITS:
            return f"an integer argument has more than {MAX_ARGUMENT_DIGITS} digits; numbers must be smaller"
        return None
    if isinstance(value, numbers.Real):
        if not math.isfinite(float(value)):
            return f"an argument is {float(value)}, which is not a JSON number; send a finite number"
        return None
    return f"an argument is a {type(value).__name__} number, which JSON does not have; send a real number"


def _failure_result(tool: Tool, exc: Exception, limit_s: float, charged_s: float) -> ToolResult:
    """The error result of a call that raised ``exc``."""
    name = tool.name
    if isinstance(exc, MachineBusy):
        return error_result(name, TIMEOUT, str(exc), charged_s)
    if isinstance(exc, TimeoutError):
        return _timeout_result(tool, limit_s)
    if isinstance(exc, ToolTimeout):
        return error_result(name, TIMEOUT, f"{name} timed out: {exc}", charged_s)
    if isinstance(exc, ToolError):
        return error_result(name, EXECUTION_ERROR, f"{name} failed: {exc}", charged_s)
    # A bug or an edge the tool did not bound.
    return error_result(
        name, EXECUTION_ERROR, f"{name} failed: {type(exc).__name__}: {_exception_text(exc)}", charged_s
    )


def _exception_text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises (a huge int in its message) is still reported
        return "<the exception's message could not be printed>"


class ToolRuntime:
    """Executes tool calls by name for one environment.

    Args:
        tools: The tools the model may call (names must be unique).
        timeout_s: Limit of one call, in seconds.
    """

    def __init__(self, tools: Sequence[Tool], timeout_s: float = 2.0) -> None:
        self.timeout_s = check_time_limit("timeout_s", timeout_s)
        self.tools: dict[str, Tool] = {}
        for tool in tools:
            if tool.name in self.tools:
                raise ValueError(f"duplicate tool name {tool.name!r}")
            self.tools[tool.name] = tool
        self.specs: list[dict[str, Any]] = ToolSpecs(tool.spec for tool in tools)
        self._sandbox: Any = None  # started on the first isolated call

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.tools)

    def execute(
        self, name: str | None, arguments: Mapping[str, Any] | None, budget_s: float | None = None
    ) -> ToolResult:
        """Check and run one call; never raises.

        Args:
            name: the tool's name.
            arguments: the call's arguments (decoded JSON).
            budget_s: the most time the call may be charged when that is less
                than its own limit (what is left of a turn's budget).
        """
        started = time.monotonic()
        tool = self.tools.get(name) if isinstance(name, str) else None
        if tool is None:
            available = ", ".join(sorted(self.tools))
            shown = valid_text(name) if isinstance(name, str) else name
            return error_result(name, NOT_FOUND, f"there is no tool named {shown!r}. Available tools: {available}")
        if not isinstance(arguments, Mapping):
            return error_result(name, INVALID_ARGS, f"arguments must be an object, got {type(arguments).__name__}")
        limit_s = self._limit_s(tool, budget_s)
        checked, problem = self._checked_arguments(tool, arguments)
        if problem is not None:
            return error_result(name, INVALID_ARGS, problem, charged_s=time.monotonic() - started)
        if time.monotonic() - started > limit_s:
            return _timeout_result(tool, limit_s)
        return self._run(tool, checked, started, limit_s)

    def _checked_arguments(self, tool: Tool, arguments: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The arguments with every string made valid text, and what is wrong with them (``None``: nothing)."""
        problem = argument_problem(arguments)
        if problem is not None:
            return dict(arguments), problem
        checked: dict[str, Any] = valid_json(dict(arguments))
        return checked, self._validation_error(tool, checked)

    def _limit_s(self, tool: Tool, budget_s: float | None) -> float:
        """The soonest of the runtime's, the tool's and the caller's limits."""
        limit_s = self.timeout_s
        if tool.time_limit_s is not None:
            limit_s = min(limit_s, tool.time_limit_s)
        if budget_s is not None and budget_s < limit_s:
            limit_s = max(0.0, budget_s)
        return limit_s

    def _run(self, tool: Tool, arguments: dict[str, Any], started: float, limit_s: float) -> ToolResult:
        """Run a checked call within ``limit_s`` of ``started``; failures become error results."""
        try:
            if tool.isolated:
                value = self._call_isolated(tool, arguments, limit_s - (time.monotonic() - started))
            else:
                with deadline_scope(started + limit_s):
                    value = tool.function(**arguments)
            charged_s = self._charged_s(tool, started)
            if not tool.isolated and charged_s > limit_s:
                return _timeout_result(tool, limit_s)
            return ToolResult(tool.name, valid_text(truncate(format_value(value), MAX_RESULT_CHARS)), None, charged_s)
        except Exception as exc:  # noqa: BLE001 - every failure becomes the model's error message
            return _failure_result(tool, exc, limit_s, self._charged_s(tool, started))

    def _charged_s(self, tool: Tool, started: float) -> float:
        """The time the last call of ``tool`` is charged: the sandbox's count for an isolated one, else wall time.

        An isolated call that never reached its child (the process could not
        start, the program is exiting) is charged nothing: none of that was the
        call's doing.
        """
        if tool.isolated:
            charged = self._sandbox.last_charged_s if self._sandbox is not None else None
            return 0.0 if charged is None else float(charged)
        return time.monotonic() - started

    def close(self) -> None:
        """Stop the child process of isolated tools, if one runs (a later call starts another)."""
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def __getstate__(self) -> dict[str, Any]:
        # A child process does not travel; the copy starts its own on first use.
        return {**self.__dict__, "_sandbox": None}

    @staticmethod
    def _validation_error(tool: Tool, arguments: Mapping[str, Any]) -> str | None:
        if tool.fast_check is not None and tool.fast_check(arguments):
            return None  # certainly valid; anything else is decided and worded by jsonschema
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

    def _call_isolated(self, tool: Tool, arguments: dict[str, Any], limit_s: float) -> Any:
        """Run an isolated call in this runtime's child process (the sandbox keeps the time it charged)."""
        if self._sandbox is None:
            from mentor_env.core.sandbox import Sandbox

            self._sandbox = Sandbox()
        return self._sandbox.call(tool.function, arguments, limit_s, warm_up=tool.warm_up, name=tool.name)


def check_time_limit(name: str, value: Any) -> float:
    """``value`` as a positive, finite number of seconds, or a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {value!r}")
    return float(value)
