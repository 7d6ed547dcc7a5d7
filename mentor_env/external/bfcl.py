r"""``mentor/BFCL-v0``: the Berkeley Function Calling Leaderboard's single-turn categories.

Data
    The test files of the ``bfcl-eval`` wheel (Apache-2.0; ``pip install
    --no-deps bfcl-eval``: its dependencies are model-provider SDKs that we
    do not use), read through :mod:`importlib.resources` from
    ``bfcl_eval/data/BFCL_v4_<category>.json`` and
    ``bfcl_eval/data/possible_answer/BFCL_v4_<category>.json`` (JSON lines).
    Only the data files are read: no module of ``bfcl_eval`` is imported
    beyond its empty package ``__init__``. Tasks keep BFCL's ids
    (``simple_python_12``, ``parallel_3``, ``live_multiple_7-3-2``).

Tools
    Every task brings its own functions (:attr:`Task.tools`). BFCL writes
    their parameters in its own type names; :func:`to_json_schema` maps them
    to JSON Schema: ``dict`` -> ``object``, ``float`` -> ``number``,
    ``tuple`` -> ``array``, ``any`` -> ``string`` (as BFCL's own OpenAPI
    conversion does; its checker expects a string), ``integer``,
    ``string``, ``boolean`` and ``array`` as they are; ``properties``,
    ``items``, ``required`` (names that are properties), ``description``,
    ``default`` and numeric and length bounds are kept; an ``enum`` moves
    into the description ("(one of: ...)"), since BFCL's checker does not
    enforce it and some possible answers lie outside it;
    BFCL's non-standard ``optional`` and ``format`` are dropped; the top-level
    argument object refuses unknown arguments (``additionalProperties:
    false``), as BFCL's checker does. Calls are validated against that schema
    and each valid call is answered with the same neutral tool response
    (nothing is executed); an invalid one gets an error the model can read.

Episode
    The model writes its call(s) (several in one turn for the parallel
    categories) and ends the episode with a turn without a call. For
    ``irrelevance`` the right answer is no call at all.

Judge
    :func:`check_calls`, our implementation of the rules of BFCL's AST check,
    over the episode's successful calls (see :func:`check_call`): the call
    count must equal the possible answer's, names must match exactly, each
    required parameter must be present, every given parameter must be known
    to the function and to the answer, types follow BFCL's Python reading
    (an ``int`` passes for a ``float``; a value of the possible answer's own
    type passes, BFCL's "variable" case), strings compare after BFCL's
    standardisation (lowercase, without spaces and ``,./-_*^``, ``'`` as
    ``"``), lists element by element, dicts key by key, numbers by value,
    and an omitted parameter is fine only when ``""`` is among its acceptable
    values. Parallel calls match in any order: we look for a complete
    one-to-one matching, where BFCL matches greedily in the answer's order
    (ours accepts the rare set of calls that only a different pairing fits).
    ``irrelevance`` is correct when the episode has no ``<tool_call>`` block.

Teacher
    The gold calls, all in one turn (first acceptable value of each
    parameter, optional ones left out when their first value is ``""``),
    then a turn without a call.
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import importlib.resources
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Iterable

from mentor_env.core.env import ToolUseEnv
from mentor_env.core.messages import assistant_message, system_message, tool_message, user_message
from mentor_env.core.task import Task, TeacherTrajectory
from mentor_env.core.tools import Tool
from mentor_env.core.trajectory import Trajectory

DOMAIN_NAME = "bfcl"
PACKAGE = "bfcl_eval"
DISTRIBUTION = "bfcl-eval"
FILE_PREFIX = "BFCL_v4_"

# The single-turn categories we serve, with their task counts in bfcl-eval 2026.3.23.
CATEGORIES: dict[str, int] = {
    "simple_python": 400,
    "multiple": 200,
    "parallel": 200,
    "parallel_multiple": 200,
    "live_simple": 258,
    "live_multiple": 1053,
    "live_parallel": 16,
    "live_parallel_multiple": 24,
    "irrelevance": 240,
}
# Categories whose right answer is no call (no possible-answer file).
NO_CALL_CATEGORIES = frozenset({"irrelevance"})

SYSTEM_PROMPT = (
    "You are a helpful assistant that fulfils requests by calling the functions provided. "
    "Make every call the request needs, with the arguments it states; independent calls can go in one turn. "
    "If none of the functions fits the request, do not call any. "
    "When your calls are made, reply without a tool call to finish."
)
NEUTRAL_RESPONSE = "Call received. (This evaluation records calls; it does not run them.)"
TEACHER_SOURCE = "bfcl-gold"

# BFCL type name -> JSON Schema type ("any" becomes a string, as in BFCL's own
# conversion to OpenAPI, and its checker expects a string value).
JSON_SCHEMA_TYPES: dict[str, str] = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "boolean": "boolean",
    "array": "array",
    "tuple": "array",
    "dict": "object",
    "any": "string",
}
# BFCL type name -> the Python type its checker expects of a value.
PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_KEPT_KEYWORDS = (
    "description",
    "enum",
    "default",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
)
_STANDARDIZE = re.compile(r"[ ,./\-_*^]")
OPTIONAL = ""  # among a parameter's acceptable values: it may be left out


def _require_bfcl() -> Any:
    try:
        return importlib.resources.files(PACKAGE) / "data"
    except ModuleNotFoundError as exc:
        raise ImportError(
            "mentor/BFCL-v0 reads the data files of the bfcl-eval wheel: "
            "pip install --no-deps bfcl-eval==2026.3.23 (or make, which installs it)"
        ) from exc


def bfcl_version() -> str:
    """The installed ``bfcl-eval`` version (``"unknown"`` if its metadata is missing)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _read_lines(resource: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in resource.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- types ---------------------------------------------------------------------


def to_json_schema(schema: Mapping[str, Any], top_level: bool = True) -> dict[str, Any]:
    """A BFCL parameter schema as JSON Schema (the mapping of the module doc).

    Raises:
        ValueError: for a BFCL type name we do not know.
    """
    bfcl_type = schema.get("type")
    if bfcl_type is not None and bfcl_type not in JSON_SCHEMA_TYPES:
        raise ValueError(f"unknown BFCL type {bfcl_type!r}; known: {sorted(JSON_SCHEMA_TYPES)}")
    out: dict[str, Any] = {}
    if bfcl_type is not None:
        out["type"] = JSON_SCHEMA_TYPES[bfcl_type]
    for keyword in _KEPT_KEYWORDS:
        if keyword in schema:
            out[keyword] = copy.deepcopy(schema[keyword])
    if "enum" in out:
        _describe_enum(out)
    _convert_children(schema, out)
    if top_level:
        out["type"] = "object"
        out.setdefault("properties", {})
        out["additionalProperties"] = False
    return out


def _describe_enum(out: dict[str, Any]) -> None:
    """Move ``out``'s ``enum`` into its description.

    BFCL's checker does not enforce enums (some possible answers lie outside
    them), so the allowed values are shown instead of refusing other values.
    """
    values = out.pop("enum")
    if isinstance(values, list) and values:
        listed = ", ".join(json.dumps(value, ensure_ascii=False) for value in values)
        out["description"] = f"{out.get('description', '')} (one of: {listed})".strip()


def _convert_children(schema: Mapping[str, Any], out: dict[str, Any]) -> None:
    """Add ``schema``'s ``properties`` (and the ``required`` names among them) and ``items``, converted, to ``out``."""
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        out["properties"] = {name: to_json_schema(sub, top_level=False) for name, sub in properties.items()}
        required = schema.get("required")
        if isinstance(required, list):
            out["required"] = [name for name in required if isinstance(name, str) and name in properties]
    if isinstance(schema.get("items"), Mapping):
        out["items"] = to_json_schema(schema["items"], top_level=False)


def tool_spec(function: Mapping[str, Any]) -> dict[str, Any]:
    """A BFCL function doc as an OpenAI function spec with a JSON-Schema ``parameters``."""
    return {
        "type": "function",
        "function": {
            "name": function["name"],
            "description": function.get("description", ""),
            "parameters": to_json_schema(function.get("parameters", {"type": "dict", "properties": {}})),
        },
    }


# --- the check -----------------------------------------------------------------


def standardize(text: str) -> str:
    """BFCL's string normalisation: no spaces or ``,./-_*^``, lowercase, ``'`` as ``"``."""
    return _STANDARDIZE.sub("", text).lower().replace("'", '"')


def _standard(value: Any) -> Any:
    return standardize(value) if isinstance(value, str) else value


def _exact_type(value: Any) -> type:
    return type(value)


def _answer_type(acceptable: Sequence[Any]) -> type | None:
    """The type of the first acceptable value that is not the optional marker."""
    for value in acceptable:
        if value != OPTIONAL:
            return _exact_type(value)
    return None


def _dict_matches(value: Mapping[str, Any], acceptable: Mapping[str, Sequence[Any]]) -> bool:
    for key, item in value.items():
        if key not in acceptable:
            return False
        if _standard(item) not in [_standard(option) for option in acceptable[key]]:
            return False
    return all(key in value or OPTIONAL in options for key, options in acceptable.items())


def _items_typed(items: Sequence[Any], item_type: type, acceptable_list: Any) -> bool:
    """Every element has the declared item type, or the type of this acceptable list's elements."""
    if not isinstance(acceptable_list, list):
        return True  # BFCL's checker skips the element check against a non-list option (the optional marker)
    fallback = _answer_type(acceptable_list)
    return all(_exact_type(item) is item_type or _exact_type(item) is fallback for item in items)


def check_call(
    function: Mapping[str, Any], arguments: Mapping[str, Any], acceptable: Mapping[str, Sequence[Any]]
) -> str | None:
    """Why ``arguments`` do not match one possible answer of ``function``; ``None`` when they do.

    ``function`` is the BFCL function doc (its parameter types are BFCL's),
    ``acceptable`` maps each parameter of the possible answer to its
    acceptable values (``""`` among them: the parameter may be left out).
    """
    parameters = function.get("parameters", {})
    properties = parameters.get("properties", {})
    for name in parameters.get("required", ()):
        if name not in arguments:
            return f"missing required parameter {name!r}"
    for name, value in arguments.items():
        if name not in properties or name not in acceptable:
            return f"unexpected parameter {name!r}"
        problem = _argument_problem(name, value, list(acceptable[name]), properties[name])
        if problem is not None:
            return problem
    for name, options in acceptable.items():
        if name not in arguments and OPTIONAL not in options:
            return f"parameter {name!r} is left out but is not optional"
    return None


def _argument_problem(name: str, value: Any, options: list[Any], schema: Mapping[str, Any]) -> str | None:
    """Why the argument ``name`` (declared by ``schema``) is not one of ``options``; ``None`` when it is."""
    declared = schema.get("type", "any")
    expected = PYTHON_TYPES.get(declared, str)
    if declared == "float" and _exact_type(value) is int:
        value = float(value)
    answer_type = _answer_type(options)
    # BFCL's "variable" case: the possible answer holds values of another type than declared.
    variable = answer_type is not None and answer_type is not expected
    if _exact_type(value) is expected:
        problem = _element_type_problem(name, value, options, schema, declared)
        if problem is not None:
            return problem
    elif answer_type is not None and _exact_type(value) is answer_type:
        variable = True
    else:
        return f"parameter {name!r}: expected type {declared}, got {type(value).__name__}"
    if variable:
        return f"parameter {name!r}: {value!r} is not one of {options!r}" if value not in options else None
    return _value_problem(name, value, options, schema, expected)


def _element_type_problem(
    name: str, value: Any, options: list[Any], schema: Mapping[str, Any], declared: str
) -> str | None:
    """For an array with a declared item type: why no option accepts the types of ``value``'s elements."""
    if declared in ("array", "tuple") and isinstance(schema.get("items"), Mapping):
        item_declared = schema["items"].get("type", "any")
        item_type = PYTHON_TYPES.get(item_declared, str)
        if not any(_items_typed(value, item_type, option) for option in options):
            return f"parameter {name!r}: an element is not of type {item_declared}"
    return None


def _value_problem(name: str, value: Any, options: list[Any], schema: Mapping[str, Any], expected: type) -> str | None:
    """Why ``value``, of the declared type ``expected``, equals no option the way BFCL compares that type."""
    if expected is dict:
        if not any(isinstance(option, Mapping) and _dict_matches(value, option) for option in options):
            return f"parameter {name!r}: the dict {value!r} matches no acceptable dict"
    elif expected is list and _item_type_name(schema) == "dict":
        if not any(_dict_list_matches(value, option) for option in options):
            return f"parameter {name!r}: the list of dicts matches no acceptable list"
    elif expected is str:
        if standardize(value) not in [standardize(option) for option in options if isinstance(option, str)]:
            return f"parameter {name!r}: {value!r} is not one of {options!r} (after standardisation)"
    elif expected is list:
        standard = [_standard(item) for item in value]
        if not any(isinstance(option, list) and standard == [_standard(item) for item in option] for option in options):
            return f"parameter {name!r}: {value!r} is not one of {options!r}"
    elif value not in options:
        return f"parameter {name!r}: {value!r} is not one of {options!r}"
    return None


def _dict_list_matches(value: list[Any], option: Any) -> bool:
    """``option`` is a list of acceptable dicts, of ``value``'s length, each matching ``value``'s dict there."""
    return (
        isinstance(option, list)
        and len(option) == len(value)
        and all(
            isinstance(item, Mapping) and isinstance(accepted, Mapping) and _dict_matches(item, accepted)
            for item, accepted in zip(value, option)
        )
    )


def _item_type_name(schema: Mapping[str, Any]) -> str | None:
    items = schema.get("items")
    return items.get("type") if isinstance(items, Mapping) else None


def check_calls(
    functions: Sequence[Mapping[str, Any]],
    calls: Sequence[tuple[str, Mapping[str, Any]]],
    ground_truth: Sequence[Mapping[str, Mapping[str, Sequence[Any]]]],
) -> str | None:
    """Why ``calls`` do not match the possible answers; ``None`` when they do (module doc).

    ``ground_truth`` is BFCL's list of ``{function name: {parameter: acceptable
    values}}``, one entry per expected call; an empty list expects no call.
    Calls match the entries in any order.
    """
    if len(calls) != len(ground_truth):
        return f"expected {len(ground_truth)} call(s), got {len(calls)}"
    docs = {function["name"]: function for function in functions}
    expected = [next(iter(entry.items())) for entry in ground_truth]
    fits = [
        [
            index
            for index, (name, arguments) in enumerate(calls)
            if name == gold_name and gold_name in docs and check_call(docs[gold_name], arguments, acceptable) is None
        ]
        for gold_name, acceptable in expected
    ]
    if _perfect_matching(fits, len(calls)):
        return None
    for (gold_name, acceptable), fitting in zip(expected, fits):
        if not fitting:
            reasons = [
                check_call(docs[gold_name], arguments, acceptable) if name == gold_name and gold_name in docs else None
                for name, arguments in calls
            ]
            detail = next((reason for reason in reasons if reason), f"no call of {gold_name!r}")
            return f"no call matches the expected call of {gold_name!r}: {detail}"
    return "the calls cannot be paired one to one with the expected calls"


def _perfect_matching(fits: Sequence[Sequence[int]], count: int) -> bool:
    """Whether every expected call can take its own fitting call (augmenting paths)."""
    owner: list[int | None] = [None] * count

    def assign(gold: int, seen: set[int]) -> bool:
        for index in fits[gold]:
            if index in seen:
                continue
            seen.add(index)
            if owner[index] is None or assign(owner[index], seen):  # type: ignore[arg-type]
                owner[index] = gold
                return True
        return False

    return all(assign(gold, set()) for gold in range(len(fits)))


# --- gold calls (the teacher) --------------------------------------------------------


def _first(options: Sequence[Any]) -> Any:
    for value in options:
        if value != OPTIONAL:
            return value
    return OPTIONAL


def gold_arguments(function: Mapping[str, Any] | None, acceptable: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """One call that the possible answer accepts: the first acceptable value of each parameter.

    Parameters whose first acceptable value is the optional marker are left out;
    dict values (and lists of dicts) are built the same way, key by key.
    """
    properties = (function or {}).get("parameters", {}).get("properties", {})
    arguments: dict[str, Any] = {}
    for name, options in acceptable.items():
        if not options or options[0] == OPTIONAL:
            continue
        value = options[0]
        declared = properties.get(name, {}).get("type")
        if declared == "dict" and isinstance(value, Mapping):
            value = _gold_dict(value)
        elif (
            declared in ("array", "tuple")
            and _item_type_name(properties.get(name, {})) == "dict"
            and isinstance(value, list)
        ):
            value = [_gold_dict(item) if isinstance(item, Mapping) else item for item in value]
        arguments[name] = copy.deepcopy(value)
    return arguments


def _gold_dict(acceptable: Mapping[str, Any]) -> dict[str, Any]:
    built = {}
    for key, options in acceptable.items():
        if isinstance(options, list):
            if options and options[0] != OPTIONAL:
                built[key] = options[0]
        else:
            built[key] = options
    return built


def gold_calls(
    functions: Sequence[Mapping[str, Any]], ground_truth: Sequence[Mapping[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    """The teacher's calls: one per possible-answer entry (:func:`gold_arguments`)."""
    docs = {function["name"]: function for function in functions}
    return [
        (name, gold_arguments(docs.get(name), acceptable))
        for entry in ground_truth
        for name, acceptable in entry.items()
    ]


# --- tasks -----------------------------------------------------------------------


def _teacher(system: str, question: str, calls: list[tuple[str, dict[str, Any]]]) -> TeacherTrajectory:
    messages = [system_message(system), user_message(question)]
    if calls:
        messages.append(assistant_message("", calls))
        messages.extend(tool_message(name, NEUTRAL_RESPONSE) for name, _ in calls)
        messages.append(assistant_message("Done: the calls above fulfil the request."))
    else:
        messages.append(assistant_message("None of the functions provided can fulfil this request, so I make no call."))
    return TeacherTrajectory.from_messages(messages, TEACHER_SOURCE)


def task_from_record(category: str, record: Mapping[str, Any], answer: Mapping[str, Any] | None) -> Task:
    """Our :class:`Task` for one BFCL record and its possible answer (``None`` for no-call categories)."""
    turns = record["question"]
    if len(turns) != 1:
        raise ValueError(f"BFCL task {record['id']!r} has {len(turns)} turns; only single-turn categories are served")
    users = [message["content"] for message in turns[0] if message["role"] == "user"]
    systems = [message["content"] for message in turns[0] if message["role"] == "system"]
    if len(users) != 1:
        raise ValueError(f"BFCL task {record['id']!r} has {len(users)} user messages; expected one")
    functions = record["function"]
    ground_truth = [] if answer is None else answer["ground_truth"]
    system = task_prompt(systems)
    return Task(
        id=record["id"],
        domain=DOMAIN_NAME,
        question=users[0],
        answer=json.dumps(ground_truth, ensure_ascii=False),
        teacher=_teacher(system, users[0], gold_calls(functions, ground_truth)),
        meta={"category": category, "source": f"bfcl-eval {bfcl_version()}", "functions": functions, "system": systems},
        tools=tuple(tool_spec(function) for function in functions),
    )


def task_prompt(systems: Sequence[str]) -> str:
    """Our system prompt, followed by the task's own system messages if it has any."""
    return "\n\n".join([SYSTEM_PROMPT, *systems])


@functools.lru_cache(maxsize=None)
def _category_tasks(category: str) -> tuple[Task, ...]:
    data = _require_bfcl()
    records = _read_lines(data / f"{FILE_PREFIX}{category}.json")
    if category in NO_CALL_CATEGORIES:
        return tuple(task_from_record(category, record, None) for record in records)
    answers = {
        answer["id"]: answer for answer in _read_lines(data / "possible_answer" / f"{FILE_PREFIX}{category}.json")
    }
    missing = [record["id"] for record in records if record["id"] not in answers]
    if missing:
        raise ValueError(f"BFCL category {category!r}: no possible answer for {missing[:5]}")
    return tuple(task_from_record(category, record, answers[record["id"]]) for record in records)


def load_tasks(categories: str | Iterable[str] | None = None) -> list[Task]:
    """The tasks of ``categories`` (a name, several, or ``None``: all of :data:`CATEGORIES`), in BFCL's order.

    Raises:
        ValueError: for a category we do not serve.
        ImportError: when ``bfcl-eval`` is not installed.
    """
    names = (
        list(CATEGORIES) if categories is None else [categories] if isinstance(categories, str) else list(categories)
    )
    unknown = [name for name in names if name not in CATEGORIES]
    if unknown or not names:
        raise ValueError(f"BFCL categories must be among {list(CATEGORIES)}, got {unknown or names!r}")
    return [task for name in names for task in _category_tasks(name)]


# --- the domain and the env ------------------------------------------------------------


def _neutral(**arguments: Any) -> str:
    """Every BFCL function: nothing runs, the call is acknowledged."""
    return NEUTRAL_RESPONSE


@functools.lru_cache(maxsize=4096)
def _tools_of(specs_json: str) -> tuple[Tool, ...]:
    specs = json.loads(specs_json)
    tools = []
    for spec in specs:
        function = spec["function"]
        tools.append(Tool(function["name"], function.get("description", ""), function["parameters"], _neutral))
    return tuple(tools)


class BFCLDomain:
    """BFCL's single-turn tasks: per-task functions, calls judged by :func:`check_calls`."""

    name = DOMAIN_NAME
    tools: Sequence[Tool] = ()  # every task brings its own
    system_prompt = SYSTEM_PROMPT
    difficulties: Sequence[int] = ()

    def generate(self, seed: int, difficulty: int | None = None, ood: bool = False) -> Task:
        raise ValueError("BFCL tasks are not generated: the env serves BFCL's own tasks (pick one with task_id)")

    def judge(self, prediction: str, answer: str) -> bool:
        """BFCL answers are calls, not text: a ``\\boxed{}`` answer is never what is judged."""
        return False

    def task_tools(self, task: Task) -> tuple[Tool, ...]:
        """The task's functions as tools that validate their arguments and run nothing."""
        return _tools_of(json.dumps(list(task.tools), sort_keys=True))

    def task_system_prompt(self, task: Task) -> str:
        return task_prompt(task.meta.get("system", ()))

    def judge_episode(self, task: Task, trajectory: Trajectory) -> bool:
        return episode_problem(task, trajectory) is None


def episode_problem(task: Task, trajectory: Trajectory) -> str | None:
    """Why the episode's calls do not solve ``task``; ``None`` when they do."""
    if task.meta.get("category") in NO_CALL_CATEGORIES:
        written = sum(len(turn.parsed.calls) for turn in trajectory.turns)
        return None if written == 0 else f"the right answer is no call; {written} call block(s) were written"
    functions = task.meta.get("functions")
    if functions is None:
        raise ValueError(f"task {task.id!r} has no meta['functions'] (BFCL's function docs), which the check needs")
    return check_calls(functions, trajectory.successful_calls(), json.loads(task.answer))


class BFCLEnv(ToolUseEnv):
    """``mentor/BFCL-v0``: BFCL's tasks with the env contract of every other id.

    Args:
        category: one category name, a list of them, or ``None`` for all of
            :data:`CATEGORIES`.
        split: an alias kept for evaluation code that passes one: a category
            name, or ``"test"`` for all categories (BFCL is test data only).
        kwargs: :class:`~mentor_env.core.env.ToolUseEnv`'s other arguments
            (``tasks=`` serves a given list of BFCL tasks instead).
    """

    def __init__(self, category: str | Sequence[str] | None = None, split: str | None = None, **kwargs: Any) -> None:
        if split is not None:
            if category is not None:
                raise ValueError("pass category or split, not both")
            if split != "test" and split not in CATEGORIES:
                raise ValueError(
                    f"mentor/BFCL-v0 split must be 'test' (all categories) or a category {list(CATEGORIES)}, got {split!r}"
                )
            category = None if split == "test" else split
        for source in ("dataset",):
            if kwargs.get(source) is not None:
                raise ValueError(f"mentor/BFCL-v0 serves BFCL's tasks; {source}= is not supported (use tasks=)")
        if kwargs.get("tasks") is None:
            kwargs["tasks"] = load_tasks(category)
        elif category is not None:
            raise ValueError("pass category or tasks, not both")
        super().__init__(BFCLDomain(), **kwargs)
