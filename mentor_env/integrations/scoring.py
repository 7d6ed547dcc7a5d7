r"""Score a whole completion, as trainers hand it over, with the MENTOR rewards.

Trainers that generate a rollout in one go (TRL's ``GRPOTrainer``, verl) give
the reward function the model's completion, not an environment trajectory:
a string, or (TRL's conversational format) a list of chat messages, holding
one or several assistant turns with ``<tool_call>`` blocks and, where the
trainer ran the tools, the tool responses in between. This module turns such a
completion and a task's teacher fields into a :class:`mentor_env.core.rewards.Outcome`
and returns :func:`mentor_env.core.rewards.episode_rewards` of it: the same numbers,
mode for mode, as the environment's last-step ``info["rewards"]`` for the same
turns.

How the completion is read (with the environment's parser: by default
:class:`~mentor_env.core.parsing.HermesParser`, whose format the rules below
name; ``tool_parser="llama3_json"`` and the other names of
:func:`~mentor_env.core.parsing.get_tool_parser` read the same things in their
family's format):

* **Tool names**: every ``<tool_call>`` block of every model turn, including
  blocks whose JSON is broken but whose ``"name"`` can be read, and the
  structured ``tool_calls`` of assistant messages (TRL parses the calls out of
  the text when it runs the tools). Calls inside ``<think>`` are reasoning.
* **Final answer**: the last non-empty ``\boxed{}`` outside ``<think>``.
* **Correct**: the domain's judge (``get_domain(name).judge``) accepts the
  answer, and the rollout ended.
* **Finished**: the ``finished`` argument, True by default: pass False for a
  completion cut at the length limit (TRL: its last token is not
  end-of-sequence). In multi-turn completions (below) the rollout has also
  ended only if its last model turn made no tool call, the environment's rule:
  a turn that still asks for tools was cut off by the trainer's turn or length
  budget.
* **Malformed**: the final model turn writes a ``<tool_response>`` itself
  (a hallucinated tool result).

Single- and multi-turn completions (``multi_turn``):

* Single-turn (the default for strings, and for a message list with
  assistant messages only): everything is text the model wrote, as one turn.
  Its tool calls are counted but were never run, and any ``<tool_response>``
  in it is the model's own invention. The environment's episode over the same
  turns scores the same when they are concatenated (only a non-final turn
  that fakes a response differs: the environment overlooks it, a single
  turn cannot).
* Multi-turn (the default for a message list with ``tool`` or ``user``
  messages after the first assistant message; pass ``multi_turn=True`` for a
  string from a trainer that ran the tools, such as verl's tool agent loop):
  in a list, assistant messages are the model's turns and every other message
  is the environment's. In a string, a run of ``<tool_response>`` blocks that
  follows a turn with a tool call is the environment's answer and starts a new
  model turn (only whitespace, ``<|...|>`` chat markers and role names other
  than ``assistant`` may stand between the blocks of a run); a
  ``<tool_response>`` in a turn without a tool call is the model's. There is
  no telling a response the model faked right after its own call from the
  environment's: score such text as a message list, where roles tell. A
  trailing piece holding only chat scaffolding (``<|im_start|>assistant``,
  ``assistant``) is no turn, so a final turn left empty reads as none.

Two settings (``compat``, see :mod:`mentor_env.core.rewards`): ``"ours"`` (the
default) reads the completion by the rules above. ``"official"`` gives the
numbers of the published MENTOR reward files, for every mode: it reads each
model turn literally (:class:`~mentor_env.core.parsing.LiteralReading`:
``<think>`` included, no name read from broken JSON, the last ``\boxed``
anywhere), takes ``finished`` alone for "ended" (the published code scores
any text that ends with the end-of-sequence token), and never calls a turn
malformed. The published code reads the decoded prompt and the whole
response, environment turns included; this setting reads the model's turns
only, which gives the same numbers as long as the prompt and the tool
responses hold no ``\boxed`` and no ``<tool_call>`` span with a JSON name
(the Hermes template's example call, ``{"name": <function-name>, ...}``, is
not JSON), and no model turn leaves a ``<tool_call>`` or ``\boxed{`` open
for a later turn to close (each turn is read on its own). The answer judge is
the domain's in both settings.

Teacher fields: ``teacher_tools`` (the published MENTOR layout's
``tool_calls_used``: a list of tool names) or ``teacher`` (our record
``{"messages", "tool_calls", "source"}``, a
:class:`~mentor_env.core.task.TeacherTrajectory`, a list of teacher messages,
or any of these JSON-encoded, as dataset columns often are). ``score_task``
reads them from a task record or :class:`~mentor_env.core.task.Task`.

Example::

    from mentor_env.integrations.scoring import score_completion

    text = ('<tool_call>{"name": "add", "arguments": {"a": 2, "b": 3}}</tool_call>\n'
            'So the total is \\boxed{5}.')
    score_completion(text, domain="calc", answer="5", teacher_tools=["add"])
    # {'sparse': 1.0, 'mentor': 1.1, 'mentor_partial': 1.0, 'mentor_nomatch': 0.8, 'mentor_f1': 1.1, 'dense': 1.1}
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping, Sequence, Union

from mentor_env.core.domain import Domain
from mentor_env.core.parsing import (
    TOOL_CALL_CLOSE,
    TOOL_CALL_OPEN,
    TOOL_RESPONSE_OPEN,
    HermesParser,
    ParsedTurn,
    ToolCallParser,
    pick_tool_parser,
    render_turn,
    writes_own_format,
)
from mentor_env.core.rewards import Outcome, check_compat, episode_rewards, outcome_components, outcome_from_turns
from mentor_env.core.task import Task, TeacherTrajectory
from mentor_env.domains import DOMAINS, get_domain

__all__ = [
    "Completion",
    "completion_outcome",
    "completion_turns",
    "content_text",
    "resolve_domain",
    "score_completion",
    "score_details",
    "score_task",
    "structured_call",
    "teacher_tool_names",
]

Completion = Union[str, Sequence[Mapping[str, Any]]]

TOOL_RESPONSE_CLOSE = "</tool_response>"

_PARSER = HermesParser()
# What reading a malformed message or writing out odd arguments may raise: a missing key, a wrong
# type, a string that is not JSON, an int too long to write, nesting too deep, a circular reference.
UNREADABLE_ERRORS = (AttributeError, KeyError, IndexError, TypeError, ValueError, RecursionError)
# A model "turn" that is only the chat template's scaffolding: whitespace,
# <|...|> markers and role names (special tokens vanish when decoding with
# skip_special_tokens, leaving "user\n" or "assistant\n").
_SCAFFOLDING = re.compile(r"(?:\s|<\|[^<>|]{0,40}\|>|\b(?:user|tool|assistant|ipython|function)\b)*")
# What may stand between two tool responses of one environment turn: the same,
# less anything that hands the turn back to the assistant.
_BETWEEN_RESPONSES = re.compile(r"(?:\s|<\|(?![^<>|]*assistant)[^<>|]{0,40}\|>|\b(?:user|tool|ipython|function)\b)*")


# --- domains and teachers -----------------------------------------------------


def resolve_domain(domain: str | Domain) -> Domain:
    """The domain named by ``domain``.

    Accepts a domain object, a domain name (``"calc"``), a data-source style
    name (``"mentor/calc"``) or an environment id (``"mentor/Calc-v0"``).

    Raises:
        ValueError: for a name that is none of the suite's domains.
    """
    if not isinstance(domain, str):
        if hasattr(domain, "judge") and hasattr(domain, "tools"):
            return domain
        raise TypeError(f"domain must be a domain name or a Domain object, got {type(domain).__name__}")
    key = domain.strip()
    by_env_id = {entry.env_id: name for name, entry in DOMAINS.items()}
    if key.removeprefix("mentor_env:") in by_env_id:
        return get_domain(by_env_id[key.removeprefix("mentor_env:")])
    for prefix in ("mentor_env:", "mentor/", "mentor-"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    versioned = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)-v\d+", key)
    if versioned:
        key = versioned.group(1)
    key = key.lower()
    if key not in DOMAINS:
        raise ValueError(
            f"unknown domain {domain!r}: expected one of {sorted(DOMAINS)}, also written "
            "'mentor/<name>' or as an environment id such as 'mentor/Calc-v0' "
            "(a domain of your own joins them through mentor_env.register_domain)"
        )
    return get_domain(key)


def _decode_json(value: Any, what: str) -> Any:
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()  # numpy arrays: list columns read back from Parquet through pandas
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError(f"{what} is a string that is not valid JSON: {value[:120]!r}") from None
    return value


def _names_from_calls(calls: Iterable[Any], what: str) -> tuple[str, ...]:
    names = []
    for call in calls:
        if isinstance(call, str):
            names.append(call)
        elif isinstance(call, Mapping) and isinstance(call.get("name"), str):
            names.append(call["name"])
        elif isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
            names.append(str(call["function"].get("name")))
        else:
            raise ValueError(f"{what}: expected tool calls {{'name': ...}} or tool names, got {call!r}")
    return tuple(names)


def teacher_tool_names(teacher: Any = None, teacher_tools: Any = None) -> tuple[str, ...]:
    """The teacher's tool names, in order, from whichever teacher field is given.

    Args:
        teacher: our teacher record ``{"messages", "tool_calls", "source"}``, a
            :class:`TeacherTrajectory`, the teacher's message list, or one of
            these JSON-encoded.
        teacher_tools: a list of tool names (the published ``tool_calls_used``),
            or its JSON encoding. Used when given, else ``teacher``.

    Raises:
        ValueError: when neither is given, or a field has the wrong shape (the
            message says what was expected and what came).
    """
    if teacher_tools is not None:
        return _listed_tool_names(teacher_tools)
    if teacher is None:
        raise ValueError(
            "missing teacher fields: expected `teacher_tools` (a list of tool names, the published "
            "`tool_calls_used`) or `teacher` (a record {'messages', 'tool_calls', 'source'} or the "
            "teacher's messages); got neither"
        )
    return _teacher_record_tool_names(teacher)


def _listed_tool_names(teacher_tools: Any) -> tuple[str, ...]:
    """The names of a ``teacher_tools`` field: a list of tool names or its JSON encoding."""
    try:
        names = _decode_json(teacher_tools, "teacher_tools")
    except ValueError:
        names = teacher_tools
    if isinstance(names, (list, tuple)) and all(isinstance(name, str) for name in names):
        return tuple(names)
    raise ValueError(f"teacher_tools must be a list of tool names (or its JSON), got {str(names)[:120]!r}")


def _teacher_record_tool_names(teacher: Any) -> tuple[str, ...]:
    """The tool names of a ``teacher`` field (the shapes :func:`teacher_tool_names` takes)."""
    if isinstance(teacher, TeacherTrajectory):
        return tuple(teacher.tool_names)
    record = _decode_json(teacher, "teacher")
    if isinstance(record, Mapping):
        if "tool_calls" in record:
            return _names_from_calls(record["tool_calls"] or (), "teacher['tool_calls']")
        if "messages" in record:
            record = record["messages"]
        else:
            raise ValueError(f"teacher record must have 'tool_calls' or 'messages'; it has {sorted(record)}")
    if isinstance(record, (list, tuple)):
        if all(isinstance(item, str) for item in record):
            return tuple(record)
        if all(isinstance(item, Mapping) and "role" in item for item in record):
            trajectory = TeacherTrajectory.from_messages(list(record), source="dataset")
            return tuple(trajectory.tool_names)
    raise ValueError(
        "teacher must be a record {'messages', 'tool_calls'}, a TeacherTrajectory, a list of teacher "
        f"messages or tool names (or their JSON); got {type(record).__name__}: {str(record)[:120]}"
    )


# --- reading the completion ---------------------------------------------------


def content_text(content: Any) -> str | None:
    """A chat message's ``content`` as text: a string, the text of its blocks, ``""`` for none; else ``None``.

    Blocks are OpenAI's ``[{"type": "text", "text": ...}, ...]`` (plain strings
    in the list count as text too); blocks without text add nothing.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        texts = [block.get("text") if isinstance(block, Mapping) else block for block in content]
        return "".join(text for text in texts if isinstance(text, str))
    return None


def _message_text(message: Mapping[str, Any], parser: ToolCallParser) -> str | None:
    """The raw text of an assistant message: its content, then its structured calls in the parser's format.

    ``None`` for a message that cannot be read as text (content that is neither
    text nor blocks, ``tool_calls`` that is not a list of mappings, a call with
    no JSON form or none the format can write): the env refuses such a turn unread.
    """
    try:
        content = content_text(message.get("content"))
        calls = message.get("tool_calls") or ()
    except UNREADABLE_ERRORS:
        return None
    if content is None or not isinstance(calls, (list, tuple)):
        return None
    if writes_own_format(parser):
        return _formatted_text(content, calls, parser)
    parts = [content]
    for call in calls:
        function = call.get("function", call) if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping):
            return None
        payload = {"name": function.get("name"), "arguments": function.get("arguments", {})}
        try:
            parts.append(f"{TOOL_CALL_OPEN}\n{json.dumps(payload, ensure_ascii=False, default=str)}\n{TOOL_CALL_CLOSE}")
        except UNREADABLE_ERRORS:
            return None
    return "\n".join(part for part in parts if part)


def _formatted_text(content: str, calls: Sequence[Any], parser: ToolCallParser) -> str | None:
    """``content`` and structured ``calls`` written by ``parser.format_turn`` (``None``: a call it cannot write).

    Arguments given as a string that is not JSON stay that string, so a JSON
    format writes it as one and the parser reports it, as for Hermes blocks.
    """
    if not calls:
        return content  # the text the model wrote, as it is
    try:
        return render_turn(parser, content, [structured_call(call) for call in calls])
    except UNREADABLE_ERRORS:
        return None


def structured_call(call: Any) -> tuple[Any, Any]:
    """``(name, arguments)`` of one structured call (``{"function": {...}}`` or the function itself).

    Arguments sent as a JSON string are decoded; a string that is not JSON is kept as it is.

    Raises:
        AttributeError, KeyError, TypeError: ``call`` is not a call mapping.
    """
    function = call.get("function", call)
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            pass
    return function["name"], arguments


def _only_scaffolding(text: str) -> bool:
    return _SCAFFOLDING.fullmatch(text) is not None


def _split_string_turns(text: str, parser: ToolCallParser) -> list[str]:
    """Model turns of a multi-turn string; environment response runs are cut out."""
    turns: list[str] = []
    start = 0
    search = 0
    while True:
        opening = text.find(TOOL_RESPONSE_OPEN, search)
        if opening < 0:
            break
        segment = text[start:opening]
        if not parser.parse(segment).has_tool_markup:
            # No call to answer: the model wrote this response itself.
            search = opening + len(TOOL_RESPONSE_OPEN)
            continue
        turns.append(segment)
        # The environment's run of responses: blocks separated by scaffolding only.
        end = len(text)
        position = opening
        while True:
            closing = text.find(TOOL_RESPONSE_CLOSE, position)
            if closing < 0:
                end = len(text)
                break
            end = closing + len(TOOL_RESPONSE_CLOSE)
            following = text.find(TOOL_RESPONSE_OPEN, end)
            if following < 0 or _BETWEEN_RESPONSES.fullmatch(text[end:following]) is None:
                break
            position = following
        start = search = end
    rest = text[start:]
    if not turns or not _only_scaffolding(rest):
        turns.append(rest)
    return turns


def completion_turns(
    completion: Completion,
    multi_turn: bool | None = None,
    parser: ToolCallParser | str | None = None,
    tool_parser: ToolCallParser | str | None = None,
) -> tuple[list[str], bool]:
    """The model's turns in ``completion`` and whether it was read as multi-turn.

    See the module doc for the rules. A single-turn completion gives one turn.
    Never raises on the completion: a turn that cannot be read as text (see
    :func:`completion_outcome`) is given as ``""`` here.
    """
    chosen = _PARSER if parser is None and tool_parser is None else pick_tool_parser(parser, tool_parser)
    turns, multi = _model_turns(completion, multi_turn, chosen)
    return ["" if turn is None else turn for turn in turns], multi


def _model_turns(completion: Any, multi_turn: bool | None, parser: ToolCallParser) -> tuple[list[str | None], bool]:
    """:func:`completion_turns`, with ``None`` for each turn that is not text."""
    if isinstance(completion, str):
        multi = bool(multi_turn)
        turns: list[str | None] = list(_split_string_turns(completion, parser)) if multi else [completion]
        return turns, multi
    if isinstance(completion, Mapping):
        completion = [completion]  # one message
    if not isinstance(completion, Sequence) or isinstance(completion, (bytes, bytearray)):
        return [None], bool(multi_turn)
    messages = [message for message in completion if isinstance(message, Mapping)]
    roles = [_role(message) for message in messages]
    first_assistant = roles.index("assistant") if "assistant" in roles else len(roles)
    if multi_turn is None:
        multi_turn = any(role != "assistant" for role in roles[first_assistant:])
    texts = [_message_text(message, parser) for message, role in zip(messages, roles) if role == "assistant"]
    if not texts:
        return [""], bool(multi_turn)
    if not multi_turn:
        readable = [text for text in texts if text is not None]
        return (["\n".join(readable)] if readable else [None]), False
    return texts, True


def _role(message: Mapping[str, Any]) -> Any:
    try:
        return message.get("role")
    except UNREADABLE_ERRORS:
        return None


def completion_outcome(
    completion: Completion,
    *,
    domain: str | Domain,
    answer: str,
    teacher: Any = None,
    teacher_tools: Any = None,
    finished: bool = True,
    multi_turn: bool | None = None,
    parser: ToolCallParser | str | None = None,
    compat: str = "ours",
    tool_parser: ToolCallParser | str | None = None,
    chat_template: Any = None,
) -> Outcome:
    """The :class:`~mentor_env.core.rewards.Outcome` of a completion (see the module doc).

    Args:
        completion: the generated text, or a list of chat messages (TRL's
            conversational format; assistant messages are the model's).
        domain: the task's domain (name, ``"mentor/<name>"``, env id or object):
            its tools tell invented names apart and its judge checks the answer.
        answer: the gold answer.
        teacher: the teacher record or messages (:func:`teacher_tool_names`).
        teacher_tools: the teacher's tool names; used when given, else ``teacher``.
        finished: the generation ended by itself (False: cut at the length limit).
        multi_turn: how to read the completion; ``None`` decides from its shape.
        parser: the tool-call parser (default: :class:`HermesParser`); the
            older name of ``tool_parser``, which takes the same values.
        compat: ``"ours"`` (default) or ``"official"``, the published reward
            files' numbers (module doc; ``hermes`` only).
        tool_parser: a parser name (``"llama3_json"``, ... :func:`~mentor_env.core.parsing.get_tool_parser`),
            ``"auto"`` (picked from ``chat_template``) or a parser object.
        chat_template: the model's tokenizer or chat-template string, for ``tool_parser="auto"``.

    Raises:
        ValueError: unknown domain, ``compat`` or parser name, or missing or
            malformed teacher fields (the dataset's columns, not the model's output).

    Whatever the completion holds, it is scored, never refused: a message list
    may hold items that are not messages (skipped) and assistant messages
    that cannot be read as text (content that is neither text nor blocks,
    calls that are not mappings or have no JSON form); a single message counts
    as a list of one, and anything else (``None``, a number, bytes) is one
    turn that is not text. As the env does with an action that is not text,
    such a turn counts as a turn with nothing in it, and one that is last
    leaves the episode unended (0.0 in every mode with ``compat="ours"``).
    """
    parser = _PARSER if parser is None and tool_parser is None else pick_tool_parser(parser, tool_parser, chat_template)
    check_compat(compat, parser)
    resolved = resolve_domain(domain)
    teacher_names = teacher_tool_names(teacher, teacher_tools)
    if not isinstance(answer, str):
        if answer is None:
            raise ValueError("missing gold answer: expected `answer` (a string), got None")
        answer = str(answer)
    turns, multi = _model_turns(completion, multi_turn, parser)
    # A turn that is not text is one the env refuses unread: nothing in it counts, and the episode goes on.
    parsed: list[ParsedTurn] = [parser.parse("" if turn is None else turn) for turn in turns]
    ended = bool(finished)
    if compat == "ours":
        ended = ended and turns[-1] is not None and not (multi and parsed[-1].has_tool_markup)
    return outcome_from_turns(
        parsed,
        ended=ended,
        is_correct=lambda final_answer: resolved.judge(final_answer, answer),
        teacher_tools=teacher_names,
        available_tools=(tool.name for tool in resolved.tools),
        compat=compat,
    )


def score_completion(completion: Completion, **kwargs: Any) -> dict[str, float]:
    """Every reward mode's score of ``completion``: ``episode_rewards(completion_outcome(...))``.

    Takes the arguments of :func:`completion_outcome`. ``dense`` equals
    ``mentor`` here: a whole completion is a whole episode, over which the
    potential-based shaping of ``dense`` sums to zero.
    """
    return episode_rewards(completion_outcome(completion, **kwargs))


def score_details(completion: Completion, **kwargs: Any) -> dict[str, float]:
    """Every mode's score plus the named parts of the outcome (``correct``, ``tool_set_match``, ...)."""
    outcome = completion_outcome(completion, **kwargs)
    return {**episode_rewards(outcome), **outcome_components(outcome)}


def score_task(completion: Completion, task: Task | Mapping[str, Any], **kwargs: Any) -> dict[str, float]:
    """Score ``completion`` against a :class:`Task` or a task record (ours or the published layout).

    Keyword arguments (``finished``, ``multi_turn``, ``tool_parser``, ``compat``, ...) go to
    :func:`completion_outcome`.

    Raises:
        ValueError: the record lacks its id, question, answer or domain, or has no teacher.
    """
    if not isinstance(task, Task):
        task = Task.from_dict(task)
    if task.teacher.source == "none" and not task.teacher.calls:
        raise ValueError(
            f"task {task.id!r} has no teacher fields: expected 'teacher' (our record) or "
            "'teacher_tools' / 'tool_calls_used' (a list of tool names)"
        )
    return score_completion(
        completion, domain=task.domain, answer=task.answer, teacher_tools=task.teacher.tool_names, **kwargs
    )
