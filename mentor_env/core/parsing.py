"""Reading tool calls and final answers out of the text a model wrote.

The default format is the Hermes / Qwen one that open chat templates emit::

    <think>optional reasoning, ignored</think>
    <tool_call>{"name": "add", "arguments": {"a": 2, "b": 3}}</tool_call>
    <tool_call>{"name": "multiply", "arguments": {"a": 4, "b": 5}}</tool_call>

and the final answer is the last ``\\boxed{...}`` (balanced braces).

A parser is any object with a ``parse(text) -> ParsedTurn`` method
(:class:`ToolCallParser`). Parsing never raises on model text: every problem
is reported on the returned :class:`ParsedCall` / :class:`ParsedTurn` so the
environment can answer it with an error observation.

The shipped parsers are registered by the names inference servers give the
formats (vLLM's ``--tool-call-parser``): ``hermes`` (:class:`HermesParser`,
the default), ``qwen3_coder``, ``llama3_json``, ``pythonic``, ``mistral``,
``deepseek_v3`` and ``openai`` (gpt-oss harmony); :func:`get_tool_parser`
makes one by name, :func:`resolve_tool_parser` takes a name, ``"auto"`` (the
format read from the model's chat template, :func:`detect_tool_parser`) or a
parser object, and :func:`register_tool_parser` adds a format of your own.
Each named parser also writes its format (``format_turn``), which the
adapters use to play structured calls through the environment.

Besides this reading (the one the environment acts on), :class:`HermesParser`
reports a *literal* one (:class:`LiteralReading`, :func:`literal_reading`):
the whole text, reasoning included, read the way the published MENTOR reward
code reads it, from which the ``compat="official"`` rewards are derived.
"""

from __future__ import annotations

import ast
import functools
import json
import logging
import math
import re
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from mentor_env.core.text import valid_json

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
TOOL_RESPONSE_OPEN = "<tool_response>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
BOXED = "\\boxed{"
BOXED_BARE = "\\boxed"
BOXED_SPACED = "\\boxed "

# A call block longer than this is not a call a model should write; refusing it
# early keeps json parsing and error messages cheap on hostile input.
MAX_CALL_CHARS = 16_384
# JSON nesting deeper than this is refused before json.loads would recurse.
MAX_JSON_DEPTH = 32
# Integer literals with more digits than this are refused (Python would happily
# build a 4,000-digit int and the tools would then spend time on it).
MAX_INT_DIGITS = 64

_BRACE = re.compile(r"[{}]")
_NAME_IN_BROKEN_JSON = re.compile(r'"name"\s*:\s*"([^"\\]{1,128})"')
# A JSON string: backslash escapes of any character, ended by a quote or by the
# end of the text (an unclosed string, possibly ending in a lone backslash).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\[\s\S][^"\\]*)*(?:"|\\?\Z)')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


@dataclass(frozen=True)
class ParsedCall:
    """One ``<tool_call>`` block.

    Attributes:
        name: The tool name, when it could be read (also from broken JSON).
        arguments: The argument object, or ``None`` when the block is broken.
        error: Why the block is not a valid call (``None`` when it is).
        raw: The text between the tags, for error messages and debugging.
    """

    name: str | None
    arguments: dict[str, Any] | None
    error: str | None = None
    raw: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class LiteralReading:
    """One turn read literally, as the published MENTOR reward code reads text.

    Nothing is skipped: ``<think>`` blocks, tool responses and broken markup
    are read like the rest.

    Attributes:
        call_names: One entry per ``<tool_call>`` ... ``</tool_call>`` span,
            in order. A span runs from an opening tag to the first closing tag
            after it (opening tags in between are part of it), so an opening
            tag never closed makes no span. The entry is the value of the
            span's ``"name"`` key when the span is a JSON object that has one,
            of whatever JSON type it is (a string, a number, an object...),
            else ``None`` (broken JSON gives ``None``: no name is guessed).
        last_boxed: The raw text (not stripped) of the last ``\\boxed`` in the
            turn, or with :attr:`spaced_boxed` the text after the last
            ``\\boxed `` up to the next ``$``; ``""`` when that last ``\\boxed``
            cannot be read (not followed by ``{``, or its brace never closes);
            ``None`` when the turn has no ``\\boxed`` at all.
        spaced_boxed: The turn contains ``\\boxed`` followed by a space (``\\boxed 5``), which
            the published extraction prefers to any ``\\boxed{}``.
    """

    call_names: tuple[Any, ...] = ()
    last_boxed: str | None = None
    spaced_boxed: bool = False


@dataclass(frozen=True)
class ParsedTurn:
    """Everything the environment needs to know about one assistant turn.

    Attributes:
        content: The text with reasoning and tool-call blocks removed (what
            goes in the assistant message's ``content``; the calls go in its
            ``tool_calls``).
        calls: The tool-call blocks in order, valid or not.
        final_answer: Content of the last ``\\boxed{}`` outside reasoning,
            ``None`` if there is none or it is empty.
        has_tool_markup: The turn contains tool-call tags (opening or closing),
            so it is a tool turn even when every block is broken.
        malformed: The turn structure is not one a well-behaved model writes
            (it fakes a ``<tool_response>``); a final turn like this scores 0.
        literal: The same text read literally (:class:`LiteralReading`), for
            the ``compat="official"`` rewards; ``None`` from a parser that
            does not report it.
    """

    content: str
    calls: tuple[ParsedCall, ...] = ()
    final_answer: str | None = None
    has_tool_markup: bool = False
    malformed: bool = False
    literal: LiteralReading | None = None


@runtime_checkable
class ToolCallParser(Protocol):
    """What the environment asks of a parser: one method, never raising."""

    def parse(self, text: str) -> ParsedTurn: ...


def strip_reasoning(text: str) -> str:
    """Remove ``<think>...</think>`` blocks; an unclosed one runs to the end."""
    return strip_spans(text, THINK_OPEN, THINK_CLOSE)


def strip_spans(text: str, open_tag: str, close_tag: str) -> str:
    """Remove ``open_tag ... close_tag`` spans in one pass; an unclosed one runs to the end."""
    out: list[str] = []
    position = 0
    while True:
        start = text.find(open_tag, position)
        if start < 0:
            out.append(text[position:])
            break
        out.append(text[position:start])
        end = text.find(close_tag, start + len(open_tag))
        if end < 0:
            break
        position = end + len(close_tag)
    return "".join(out)


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` with balanced braces, else ``None``.

    An unclosed last box is skipped in favour of an earlier complete one, and
    an empty or blank box counts as no answer. One pass over the braces, so a
    flood of unclosed boxes costs linear time.
    """
    if BOXED not in text:
        return None
    closing: dict[int, int] = {}
    open_positions: list[int] = []
    for match in _BRACE.finditer(text):
        if match.group() == "{":
            open_positions.append(match.start())
        elif open_positions:
            closing[open_positions.pop()] = match.start()
    position = len(text)
    while (start := text.rfind(BOXED, 0, position)) >= 0:
        brace = start + len(BOXED) - 1
        if brace in closing:
            return text[brace + 1 : closing[brace]].strip() or None
        position = start
    return None


def _literal_call_name(body: str) -> Any:
    """The ``"name"`` value of a span that is a JSON object, else ``None`` (never raises)."""
    try:
        payload = json.loads(body.strip())
    except Exception:  # broken JSON, nesting too deep, numbers too long: no name
        return None
    return payload.get("name") if isinstance(payload, dict) else None


def _literal_last_boxed(text: str) -> tuple[str | None, bool]:
    """``(last_boxed, spaced_boxed)`` of :class:`LiteralReading` for ``text``; linear time."""
    spaced = BOXED_SPACED in text
    if spaced:
        return text.rpartition(BOXED_SPACED)[2].partition("$")[0], True
    start = text.rfind(BOXED_BARE)
    if start < 0:
        return None, False
    if not text.startswith(BOXED, start):
        return "", False
    depth = 0
    for match in _BRACE.finditer(text, start + len(BOXED) - 1):
        if match.group() == "{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return text[start + len(BOXED) : match.start()], False
    return "", False


def literal_reading(text: str) -> LiteralReading:
    """Read ``text`` literally (see :class:`LiteralReading`); linear time, never raises."""
    names: list[Any] = []
    position = 0
    while (start := text.find(TOOL_CALL_OPEN, position)) >= 0:
        body_start = start + len(TOOL_CALL_OPEN)
        end = text.find(TOOL_CALL_CLOSE, body_start)
        if end < 0:
            break  # no closing tag after this opening, so none after any later one
        names.append(_literal_call_name(text[body_start:end]))
        position = end + len(TOOL_CALL_CLOSE)
    last_boxed, spaced = _literal_last_boxed(text)
    return LiteralReading(call_names=tuple(names), last_boxed=last_boxed, spaced_boxed=spaced)


def format_tool_call(name: str | None, arguments: Any) -> str:
    """Render one call in the Hermes format (the inverse of parsing one block).

    A missing name or arguments that are not an object (a caller's malformed
    structured call) are written as they are, for the parser to report.
    """
    payload = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return f"{TOOL_CALL_OPEN}\n{payload}\n{TOOL_CALL_CLOSE}"


class _RejectedLiteral(ValueError):
    pass


def _reject_constant(token: str) -> Any:
    raise _RejectedLiteral(f"{token} is not a valid JSON number")


def _parse_int(token: str) -> int:
    if len(token.lstrip("-")) > MAX_INT_DIGITS:
        raise _RejectedLiteral(f"an integer of {len(token)} digits is too large")
    return int(token)


def _parse_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _RejectedLiteral(f"{token[:40]} overflows a float")
    return value


def _json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether brackets outside JSON strings nest deeper than ``limit`` anywhere in ``text``.

    The depth is the running count of ``[``/``{`` minus ``]``/``}`` (never
    clamped at zero), strings and their escapes skipped, as a JSON scanner
    reads them (an unclosed string runs to the end). Done with ``str`` methods
    and regular expressions, not a Python loop per character.
    """
    if text.count("[") + text.count("{") <= limit:
        return False  # even counting the brackets inside strings, the depth cannot exceed the limit
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0) > limit


# Made once: ``json.loads`` with hooks builds a new decoder on every call.
_STRICT_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_parse_int, parse_float=_parse_float)


def _loads_strict(text: str) -> Any:
    """``json.loads`` that refuses NaN/Infinity, huge ints and deep nesting, and yields valid text only.

    A lone surrogate escape (``"\\ud800"``, pure ASCII in the model's text)
    decodes to a string that no UTF-8 encoder takes; it becomes U+FFFD.
    """
    if _json_depth_exceeds(text, MAX_JSON_DEPTH):
        raise _RejectedLiteral(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if text.startswith("\ufeff"):  # what json.loads says about a str that starts with a BOM
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return valid_json(_STRICT_DECODER.decode(text))


def parse_call_block(raw: str) -> ParsedCall:
    """Parse the text between ``<tool_call>`` tags into a :class:`ParsedCall`."""
    body = raw.strip()
    if len(body) > MAX_CALL_CHARS:
        return _too_long(body)
    try:
        payload = _loads_strict(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        fallback = _NAME_IN_BROKEN_JSON.search(body)  # the name of a broken call, when it can be read
        return ParsedCall(
            fallback.group(1) if fallback else None, None, f"the tool call is not valid JSON ({exc})", body
        )
    return call_from_payload(payload, body)


def _too_long(body: str) -> ParsedCall:
    return ParsedCall(
        name=None,
        arguments=None,
        error=f"the tool call is {len(body)} characters long; the limit is {MAX_CALL_CHARS}",
        raw=body[:200],
    )


def call_from_payload(payload: Any, body: str) -> ParsedCall:
    """The :class:`ParsedCall` of a decoded ``{"name": ..., "arguments": {...}}`` object (``parameters`` is read too).

    ``body`` is the text the object was read from (kept as :attr:`ParsedCall.raw`).
    Arguments sent as a JSON string are decoded; missing or ``null`` ones are ``{}``.
    """
    if not isinstance(payload, dict):
        return ParsedCall(
            None,
            None,
            f'expected a JSON object {{"name": ..., "arguments": {{...}}}}, got {type(payload).__name__}',
            body,
        )
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        return ParsedCall(None, None, 'the tool call has no "name" string', body)
    arguments: Any = payload.get("arguments", payload.get("parameters", {}))
    if isinstance(arguments, str):
        # OpenAI-style models send the arguments as a JSON string.
        try:
            arguments = _loads_strict(arguments) if arguments.strip() else {}
        except (ValueError, RecursionError) as exc:
            return ParsedCall(name, None, f'"arguments" is a string that is not valid JSON ({exc})', body)
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        return ParsedCall(name, None, f'"arguments" must be a JSON object, got {type(arguments).__name__}', body)
    return ParsedCall(name, arguments, None, body)


# Kinds of the pieces :func:`tagged_pieces` cuts a text into.
TEXT, BLOCK, UNCLOSED, STRAY = "text", "block", "unclosed", "stray"


def tagged_pieces(text: str, open_tag: str, close_tag: str) -> list[tuple[str, str]]:
    """Cut ``text`` into ``(kind, text)`` pieces around ``open_tag ... close_tag`` blocks, in linear time.

    Kinds: ``TEXT`` (outside any block), ``BLOCK`` (the text between an
    opening tag and its closing tag), ``UNCLOSED`` (an opening tag with no
    closing tag before the next opening tag or the end: the text up to
    there) and ``STRAY`` (a closing tag with no opening tag; its text is
    ``""``). The first opening and closing tag after a position are searched
    again only once the position has passed them, so the text is scanned a
    bounded number of times however many tags it holds.
    """
    pieces: list[tuple[str, str]] = []
    position = 0
    next_open = text.find(open_tag)
    next_close = text.find(close_tag)
    while True:
        if 0 <= next_open < position:
            next_open = text.find(open_tag, position)
        if 0 <= next_close < position:
            next_close = text.find(close_tag, position)
        start = next_open
        if next_close >= 0 and (start < 0 or next_close < start):
            pieces.append((TEXT, text[position:next_close]))
            pieces.append((STRAY, ""))
            position = next_close + len(close_tag)
            continue
        if start < 0:
            pieces.append((TEXT, text[position:]))
            return pieces
        pieces.append((TEXT, text[position:start]))
        body_start = start + len(open_tag)
        # The tags cannot overlap, so the next closing tag is at or after body_start.
        end = next_close
        next_open = text.find(open_tag, body_start)
        if end < 0 or (0 <= next_open < end):
            stop = next_open if next_open >= 0 else len(text)
            pieces.append((UNCLOSED, text[body_start:stop]))
            position = stop
            continue
        pieces.append((BLOCK, text[body_start:end]))
        position = end + len(close_tag)


def _stray_call(open_tag: str, close_tag: str) -> ParsedCall:
    return ParsedCall(None, None, f"found {close_tag} without a matching {open_tag}")


# What the environment appends to a parse error of the Hermes format: how to write a call.
HERMES_CALL_HINT = 'Write {"name": ..., "arguments": {...}} inside <tool_call></tool_call>'


class HermesParser:
    """Parser for ``<tool_call>{json}</tool_call>`` blocks and ``\\boxed{}`` answers (name: ``hermes``).

    Calls written inside ``<think>`` are reasoning and are ignored. A block
    whose closing tag is missing (or that is interrupted by another opening
    tag) is reported as an unbalanced call; a closing tag with no opening one
    is reported too.
    """

    name = "hermes"
    call_hint = HERMES_CALL_HINT

    def parse(self, text: str) -> ParsedTurn:
        """Read the calls, the content and the final answer of one turn, in time linear in its length."""
        visible = strip_reasoning(text)
        calls: list[ParsedCall] = []
        content_parts: list[str] = []
        for kind, piece in tagged_pieces(visible, TOOL_CALL_OPEN, TOOL_CALL_CLOSE):
            if kind == TEXT:
                content_parts.append(piece)
            elif kind == BLOCK:
                calls.append(parse_call_block(piece))
            elif kind == UNCLOSED:
                fallback = _NAME_IN_BROKEN_JSON.search(piece[:MAX_CALL_CHARS])
                calls.append(
                    ParsedCall(
                        fallback.group(1) if fallback else None,
                        None,
                        f"{TOOL_CALL_OPEN} is not closed with {TOOL_CALL_CLOSE}",
                        piece.strip()[:MAX_CALL_CHARS],
                    )
                )
            else:
                calls.append(_stray_call(TOOL_CALL_OPEN, TOOL_CALL_CLOSE))
        content = "".join(content_parts).strip()
        return ParsedTurn(
            content=content,
            calls=tuple(calls),
            final_answer=last_boxed(visible),
            has_tool_markup=bool(calls),
            malformed=TOOL_RESPONSE_OPEN in visible,
            literal=literal_reading(text),
        )

    def format_turn(self, content: str, calls: Sequence[tuple[str, Any]]) -> str:
        """The text a Hermes model writes for an assistant turn: the content, then one block per call."""
        parts = [content or ""]
        parts.extend(format_tool_call(name, arguments) for name, arguments in calls)
        return "\n".join(part for part in parts if part)


# --- the named parsers: the tool-call formats of model families ------------------------------------------
#
# Each reads one family's published format, with HermesParser's guarantees: time linear in the text's
# length, every broken call reported on its ParsedCall (never an exception), calls inside reasoning
# ignored, model text never evaluated. Each also writes its format (``format_turn``), the inverse of
# ``parse``. Their turns carry no literal reading (``ParsedTurn.literal``), which is the published
# MENTOR code's reading of the Hermes format: ``compat="official"`` is for ``hermes`` only.

# A block that holds several calls (a JSON array, a Python list, ``;``-separated objects) may be this long.
MAX_CALLS_CHARS = 4 * MAX_CALL_CHARS

_SPACES = re.compile(r"\s*")


def _named_turn(content_parts: Sequence[str], calls: Sequence[ParsedCall], malformed: bool) -> ParsedTurn:
    """The :class:`ParsedTurn` of a named parser: the answer is the last ``\\boxed{}`` of the content."""
    content = "".join(content_parts).strip()
    return ParsedTurn(
        content=content,
        calls=tuple(calls),
        final_answer=last_boxed(content),
        has_tool_markup=bool(calls),
        malformed=malformed,
    )


def _broken(name: str | None, error: str, raw: str) -> ParsedCall:
    return ParsedCall(name, None, error, raw.strip()[:MAX_CALL_CHARS])


def _json_at(text: str, position: int) -> tuple[Any, int]:
    """The JSON value that starts at ``position`` and where it ends (the caller bounded the nesting).

    Raises:
        ValueError: broken JSON, NaN, infinities, overlong integers.
    """
    value, end = _STRICT_DECODER.raw_decode(text, position)
    return valid_json(value), end


def _json_arguments(name: str, text: str, raw: str) -> ParsedCall:
    """The call ``name`` whose arguments are the JSON object ``text`` (a JSON string holding one is read too)."""
    if len(raw.strip()) > MAX_CALL_CHARS:
        return _too_long(raw.strip())
    try:
        payload = _loads_strict(text.strip())
    except (ValueError, RecursionError) as exc:
        return _broken(name, f"the arguments of {name} are not valid JSON ({exc})", raw)
    return call_from_payload({"name": name, "arguments": payload}, raw.strip())


def _write_json(value: Any) -> str:
    """``value`` as JSON (non-ASCII kept), as the chat templates' ``tojson`` writes it."""
    return json.dumps(value, ensure_ascii=False)


def _check_name(name: Any, forbidden: Sequence[str]) -> str:
    """``name`` if this format can write it as a tool name, else ``ValueError`` saying why."""
    if not isinstance(name, str) or not name or any(mark in name for mark in forbidden) or name != name.strip():
        raise ValueError(f"a tool name in this format is a non-empty string without {list(forbidden)}, got {name!r}")
    return name


# --- qwen3_coder: <tool_call><function=NAME><parameter=ARG>value</parameter></function></tool_call> --------

FUNCTION_OPEN = "<function="
FUNCTION_CLOSE = "</function>"
PARAMETER_OPEN = "<parameter="
PARAMETER_CLOSE = "</parameter>"
# Scalars the Qwen3-Coder template writes with Jinja's ``string`` filter: Python's spellings.
_PYTHON_CONSTANTS: dict[str, Any] = {"True": True, "False": False, "None": None}
_FUNCTION_NAME = re.compile(r"<function=([^<>\n]{1,128})>")


def _xml_value(text: str) -> tuple[Any, str | None]:
    """A ``<parameter>`` value and why it is refused (``None``: it is not).

    The template writes one newline around the value: one is taken off each
    side. A value that is JSON (a number, ``true``, an object, a quoted
    string) is that value, ``True``/``False``/``None`` are Python's, anything
    else is the text itself. So a string that reads as JSON (``"42"``)
    arrives as the number: vLLM settles that from the tool's schema, which a
    parser does not see; :meth:`Qwen3CoderParser.format_turn` quotes such
    strings.
    """
    if text.startswith("\n"):
        text = text[1:]
    if text.endswith("\n"):
        text = text[:-1]
    stripped = text.strip()
    if stripped in _PYTHON_CONSTANTS:
        return _PYTHON_CONSTANTS[stripped], None
    try:
        return _loads_strict(stripped), None
    except _RejectedLiteral as exc:
        return None, str(exc)
    except (ValueError, RecursionError):
        return text, None


def _xml_parameters(inner: str) -> tuple[dict[str, Any] | None, str | None]:
    """The arguments written between ``<function=NAME>`` and ``</function>``, or why they cannot be read."""
    arguments: dict[str, Any] = {}
    position = 0
    while True:
        position = _SPACES.match(inner, position).end()  # type: ignore[union-attr]  # \s* always matches
        if position == len(inner):
            return arguments, None
        if not inner.startswith(PARAMETER_OPEN, position):
            return None, f"expected {PARAMETER_OPEN}NAME> or {FUNCTION_CLOSE}, got {inner[position : position + 40]!r}"
        key_end = inner.find(">", position + len(PARAMETER_OPEN))
        if key_end < 0:
            return None, f"a {PARAMETER_OPEN} tag is not closed with >"
        key = inner[position + len(PARAMETER_OPEN) : key_end].strip()
        close = inner.find(PARAMETER_CLOSE, key_end + 1)
        if close < 0:
            return None, f"{PARAMETER_OPEN}{key}> is not closed with {PARAMETER_CLOSE}"
        value_text = inner[key_end + 1 : close]
        if PARAMETER_OPEN in value_text:
            return None, f"{PARAMETER_OPEN}{key}> is not closed with {PARAMETER_CLOSE} before the next {PARAMETER_OPEN}"
        if not key or key in arguments:
            return None, f"a parameter name is empty or repeated: {key!r}"
        value, problem = _xml_value(value_text)
        if problem is not None:
            return None, f"parameter {key!r}: {problem}"
        arguments[key] = value
        position = close + len(PARAMETER_CLOSE)


def parse_xml_call(raw: str) -> ParsedCall:
    """One Qwen3-Coder ``<tool_call>`` body: ``<function=NAME>`` parameters ``</function>``."""
    body = raw.strip()
    if len(body) > MAX_CALL_CHARS:
        return _too_long(body)
    if not body.startswith(FUNCTION_OPEN):
        return _broken(None, f"expected {FUNCTION_OPEN}NAME> right inside {TOOL_CALL_OPEN}, got {body[:40]!r}", body)
    name_end = body.find(">", len(FUNCTION_OPEN))
    name = body[len(FUNCTION_OPEN) : name_end].strip() if name_end >= 0 else ""
    if not name or "\n" in name:
        return _broken(None, f"the {FUNCTION_OPEN} tag has no name closed with >", body)
    if not body.endswith(FUNCTION_CLOSE):
        return _broken(name, f"{FUNCTION_OPEN}{name}> is not closed with {FUNCTION_CLOSE}", body)
    inner = body[name_end + 1 : len(body) - len(FUNCTION_CLOSE)]
    if FUNCTION_OPEN in inner or FUNCTION_CLOSE in inner:
        return _broken(name, f"one {FUNCTION_OPEN}...> per {TOOL_CALL_OPEN} block", body)
    arguments, problem = _xml_parameters(inner)
    if problem is not None:
        return _broken(name, problem, body)
    return ParsedCall(name, valid_json(arguments), None, body)


def _xml_value_text(value: Any) -> str:
    """How :meth:`Qwen3CoderParser.format_turn` writes a value so that it reads back the same."""
    if isinstance(value, str):
        read, problem = _xml_value(f"\n{value}\n")
        if problem is None and type(read) is str and read == value and PARAMETER_CLOSE not in value:
            return value
    # JSON has "<" only inside strings, where \u003c is the same character.
    return _write_json(value).replace("<", "\\u003c")


class Qwen3CoderParser:
    """Qwen3-Coder's XML calls (name: ``qwen3_coder``, as vLLM's ``--tool-call-parser``)::

        <tool_call>
        <function=add>
        <parameter=a>
        2
        </parameter>
        </function>
        </tool_call>

    One function per ``<tool_call>`` block. A ``<function=`` outside a block,
    a block or parameter left open and anything else between the tags are
    parse errors. Values: :func:`_xml_value`. Faked tool responses are
    ``<tool_response>``, as in the Hermes format.
    """

    name = "qwen3_coder"
    call_hint = "Write <tool_call><function=NAME><parameter=ARG>value</parameter></function></tool_call>"

    def parse(self, text: str) -> ParsedTurn:
        """Read one turn in time linear in its length; never raises."""
        visible = strip_reasoning(text)
        calls: list[ParsedCall] = []
        content_parts: list[str] = []
        for kind, piece in tagged_pieces(visible, TOOL_CALL_OPEN, TOOL_CALL_CLOSE):
            if kind == TEXT:
                content_parts.append(piece)
                if FUNCTION_OPEN in piece:
                    calls.append(
                        _broken(_xml_name(piece), f"{FUNCTION_OPEN}...> must be inside {TOOL_CALL_OPEN}", piece)
                    )
            elif kind == BLOCK:
                calls.append(parse_xml_call(piece))
            elif kind == UNCLOSED:
                calls.append(_broken(_xml_name(piece), f"{TOOL_CALL_OPEN} is not closed with {TOOL_CALL_CLOSE}", piece))
            else:
                calls.append(_stray_call(TOOL_CALL_OPEN, TOOL_CALL_CLOSE))
        return _named_turn(content_parts, calls, TOOL_RESPONSE_OPEN in visible)

    def format_turn(self, content: str, calls: Sequence[tuple[str, Any]]) -> str:
        """The content, then one ``<tool_call>`` block per call, as the Qwen3-Coder template writes them."""
        parts = [content or ""]
        for name, arguments in calls:
            _check_name(name, (">", "\n", "<"))
            if not isinstance(arguments, Mapping):
                raise TypeError(f"the arguments of a call are an object, got {type(arguments).__name__}")
            lines = [f"{TOOL_CALL_OPEN}\n{FUNCTION_OPEN}{name}>"]
            for key, value in arguments.items():
                _check_name(key, (">", "\n", "<"))
                lines.append(f"{PARAMETER_OPEN}{key}>\n{_xml_value_text(value)}\n{PARAMETER_CLOSE}")
            lines.append(f"{FUNCTION_CLOSE}\n{TOOL_CALL_CLOSE}")
            parts.append("\n".join(lines))
        return "\n".join(part for part in parts if part)


def _xml_name(text: str) -> str | None:
    match = _FUNCTION_NAME.search(text[:MAX_CALL_CHARS])
    return match.group(1).strip() if match else None


# --- llama3_json: {"name": ..., "parameters": {...}}, optionally after <|python_tag|>, several joined by ";" ---

PYTHON_TAG = "<|python_tag|>"
# Where a Llama turn ends (kept in the text when special tokens are decoded).
LLAMA_END_TOKENS = ("<|eom_id|>", "<|eot_id|>", "<|eom|>", "<|eot|>")
_LLAMA_END = re.compile("|".join(re.escape(token) for token in LLAMA_END_TOKENS))
LLAMA_TOOL_RESPONSE = "ipython<|end_header_id|>"
LLAMA4_TOOL_RESPONSE = "ipython<|header_end|>"


def _until_turn_end(region: str) -> tuple[str, str]:
    """``region`` cut at the first Llama end-of-turn token: ``(before, from the token on)``."""
    end = _LLAMA_END.search(region)
    return (region, "") if end is None else (region[: end.start()], region[end.start() :])


def parse_json_calls(region: str) -> tuple[list[ParsedCall], str]:
    """The JSON call objects at the start of ``region``, separated by ``;``, and the text after them.

    A region that does not start with an object, or one whose objects are
    broken, gives one call with the error; nothing after a broken object is read.
    """
    stripped = region.strip()
    if len(stripped) > MAX_CALLS_CHARS:
        return [
            _broken(
                None,
                f"the tool calls are {len(stripped)} characters long; the limit is {MAX_CALLS_CHARS}",
                stripped[:200],
            )
        ], ""
    if _json_depth_exceeds(stripped, MAX_JSON_DEPTH):
        return [
            _broken(
                _name_in(stripped),
                f"the tool call is not valid JSON (JSON nested deeper than {MAX_JSON_DEPTH} levels)",
                stripped,
            )
        ], ""
    calls: list[ParsedCall] = []
    position = 0
    while position < len(stripped) and stripped[position] == "{":
        try:
            payload, end = _json_at(stripped, position)
        except (ValueError, RecursionError) as exc:
            rest = stripped[position:]
            return [*calls, _broken(_name_in(rest), f"the tool call is not valid JSON ({exc})", rest)], ""
        body = stripped[position:end]
        calls.append(_too_long(body) if len(body) > MAX_CALL_CHARS else call_from_payload(payload, body))
        position = _SPACES.match(stripped, end).end()  # type: ignore[union-attr]
        if not stripped.startswith(";", position):
            break
        position = _SPACES.match(stripped, position + 1).end()  # type: ignore[union-attr]
    if not calls:
        expected = '{"name": ..., "parameters": {...}}'
        return [_broken(None, f"expected a JSON object {expected}, got {stripped[:40]!r}", stripped)], ""
    return calls, stripped[position:]


def _name_in(text: str) -> str | None:
    match = _NAME_IN_BROKEN_JSON.search(text[:MAX_CALL_CHARS])
    return match.group(1) if match else None


class Llama3JsonParser:
    """Llama 3.1-3.3's JSON calls (name: ``llama3_json``)::

        {"name": "add", "parameters": {"a": 2, "b": 3}}
        <|python_tag|>{"name": "add", "parameters": {"a": 2}}; {"name": "sqrt", "parameters": {"x": 4}}

    A turn is a call turn when it starts with ``{`` (after reasoning) or holds
    ``<|python_tag|>`` (the text before the tag is the content). The objects
    follow, separated by ``;``; ``"arguments"`` is read like ``"parameters"``.
    Text after the last object, or after an end-of-turn token, is content.
    A faked tool response is an ``ipython`` header.
    """

    name = "llama3_json"
    call_hint = 'Write {"name": ..., "parameters": {...}}, several calls separated by ";"'

    def parse(self, text: str) -> ParsedTurn:
        """Read one turn in time linear in its length; never raises."""
        visible = strip_reasoning(text)
        malformed = LLAMA_TOOL_RESPONSE in visible or LLAMA4_TOOL_RESPONSE in visible
        tag = visible.find(PYTHON_TAG)
        if tag >= 0:
            content_parts, regions = [visible[:tag]], visible[tag:].split(PYTHON_TAG)[1:]
        elif visible.lstrip().startswith("{"):
            content_parts, regions = [], [visible]
        else:
            return _named_turn([visible], [], malformed)
        calls: list[ParsedCall] = []
        for region in regions:
            region, after = _until_turn_end(region)
            region_calls, rest = parse_json_calls(region)
            calls.extend(region_calls)
            content_parts.extend([rest, after])
        return _named_turn(content_parts, calls, malformed)

    def format_turn(self, content: str, calls: Sequence[tuple[str, Any]]) -> str:
        """The calls as ``;``-separated objects, after ``<|python_tag|>`` when the turn has content."""
        if not calls:
            return content or ""
        written = "; ".join(_write_json({"name": name, "parameters": arguments}) for name, arguments in calls)
        return f"{content}{PYTHON_TAG}{written}" if content else written


# --- pythonic: [f(a=1), g(b="x")], Llama 3.2 / 4 style, optionally in <|python_start|>...<|python_end|> -------

PYTHON_START = "<|python_start|>"
PYTHON_END = "<|python_end|>"
_CALL_LIST_START = re.compile(r"\[[\s\[]*[A-Za-z_][A-Za-z0-9_.]*\s*\(")
# ast.parse reports invalid escapes in string literals as warnings; the filter swap is process-wide.
_AST_LOCK = threading.Lock()
_LITERAL_TYPES = (str, int, float, bool, type(None), list, dict)


def _dotted_name(node: ast.expr) -> str | None:
    """``add`` or ``math.factorial`` for a call's function node; ``None`` for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _literal_problem(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` (from ``ast.literal_eval``) is not a JSON value within the parser's limits, else ``None``."""
    if depth > MAX_JSON_DEPTH:
        return f"nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, int):
        return (
            f"an integer of more than {MAX_INT_DIGITS} digits is too large"
            if abs(value) >= 10**MAX_INT_DIGITS
            else None
        )
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value} is not a JSON number"
    if isinstance(value, list):
        return next(filter(None, (_literal_problem(item, depth + 1) for item in value)), None)
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            return "a dict's keys must be strings"
        return next(filter(None, (_literal_problem(item, depth + 1) for item in value.values())), None)
    return f"a {type(value).__name__} is not a JSON value (write numbers, strings, True/False/None, lists and dicts)"


def _pythonic_call(node: ast.expr) -> ParsedCall:
    """One element of the call list: ``name(arg=literal, ...)``; anything else is an error, nothing is run."""
    if not isinstance(node, ast.Call):
        return ParsedCall(None, None, f"expected a call name(arg=value), got a {type(node).__name__}")
    name = _dotted_name(node.func)
    raw = ast.unparse(node)[:MAX_CALL_CHARS]
    if name is None:
        return ParsedCall(None, None, "a call must name a tool: name(arg=value)", raw)
    if node.args:
        return ParsedCall(name, None, f"{name} has positional arguments; write them as name=value", raw)
    arguments: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            return ParsedCall(name, None, f"{name} unpacks **arguments; write each as name=value", raw)
        try:
            value = ast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            shown = ast.unparse(keyword.value)[:80]
            return ParsedCall(name, None, f"argument {keyword.arg!r} of {name} is not a literal: {shown}", raw)
        problem = _literal_problem(value)
        if problem is not None:
            return ParsedCall(name, None, f"argument {keyword.arg!r} of {name}: {problem}", raw)
        arguments[keyword.arg] = value
    return ParsedCall(name, valid_json(arguments), None, raw)


def parse_pythonic_calls(source: str) -> list[ParsedCall]:
    """The calls of a Python list of calls, read with ``ast`` (literal arguments only, never evaluated)."""
    source = source.strip()
    if len(source) > MAX_CALLS_CHARS:
        return [
            _broken(
                None, f"the tool calls are {len(source)} characters long; the limit is {MAX_CALLS_CHARS}", source[:200]
            )
        ]
    start = _CALL_LIST_START.match(source)
    name = start.group()[1:-1].strip("[ \t\r\n") if start else None
    try:
        with _AST_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        reason = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        return [_broken(name, f"the tool calls are not a Python list of calls ({reason})", source)]
    if not isinstance(tree.body, ast.List) or not tree.body.elts:
        return [_broken(name, 'expected a non-empty list of calls [f(a=1), g(b="x")]', source)]
    return [_pythonic_call(node) for node in tree.body.elts]


def _python_literal(value: Any) -> str:
    """``value`` as a Python literal (``repr`` of JSON values); ``ValueError`` for other types."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_python_literal(key)}: {_python_literal(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_python_literal(item) for item in value) + "]"
    if not isinstance(value, _LITERAL_TYPES):
        raise ValueError(f"a {type(value).__name__} has no literal form in a call")
    return repr(value)


class PythonicParser:
    """Calls as a Python list (name: ``pythonic``; Llama 3.2 and Llama 4 style)::

        [add(a=2, b=3), lookup(name="Zürich", fields=["area"])]
        <|python_start|>[add(a=2, b=3)]<|python_end|>

    A turn is a call turn when it starts (after reasoning) with ``[name(`` or
    holds ``<|python_start|>``. The list is read with :func:`ast.parse` and
    each argument with :func:`ast.literal_eval`: literals only (strings,
    numbers, ``True``/``False``/``None``, lists, dicts), keyword arguments
    only; anything else is a parse error. Text after an end-of-turn token is
    content; a faked tool response is an ``ipython`` header.
    """

    name = "pythonic"
    call_hint = 'Write a list of calls with literal arguments: [name(arg=1, other="text")]'

    def parse(self, text: str) -> ParsedTurn:
        """Read one turn in time linear in its length; never raises, never evaluates the text."""
        visible = strip_reasoning(text)
        malformed = LLAMA_TOOL_RESPONSE in visible or LLAMA4_TOOL_RESPONSE in visible
        start = visible.find(PYTHON_START)
        if start >= 0:
            end = visible.find(PYTHON_END, start)
            if end < 0:
                error = f"{PYTHON_START} is not closed with {PYTHON_END}"
                return _named_turn(
                    [visible[:start]], [_broken(None, error, visible[start + len(PYTHON_START) :])], malformed
                )
            calls = parse_pythonic_calls(visible[start + len(PYTHON_START) : end])
            return _named_turn([visible[:start], visible[end + len(PYTHON_END) :]], calls, malformed)
        region, after = _until_turn_end(visible)
        if _CALL_LIST_START.match(region.lstrip()) is None:
            return _named_turn([visible], [], malformed)
        return _named_turn([after], parse_pythonic_calls(region), malformed)

    def format_turn(self, content: str, calls: Sequence[tuple[str, Any]]) -> str:
        """The calls as one Python list; with content, the list goes in ``<|python_start|>...<|python_end|>``."""
        if not calls:
            return content or ""
        written = []
        for name, arguments in calls:
            if not isinstance(name, str) or not all(part.isidentifier() for part in name.split(".")):
                raise ValueError(f"a pythonic call names its tool with a (dotted) Python identifier, got {name!r}")
            if not isinstance(arguments, Mapping) or not all(
                isinstance(key, str) and key.isidentifier() for key in arguments
            ):
                raise ValueError(f"the arguments of {name} must be an object whose keys are Python identifiers")
            written.append(
                f"{name}({', '.join(f'{key}={_python_literal(value)}' for key, value in arguments.items())})"
            )
        listed = f"[{', '.join(written)}]"
        return f"{content}\n{PYTHON_START}{listed}{PYTHON_END}" if content else listed


# --- mistral: [TOOL_CALLS]name[ARGS]{...} (tokenizer v11+) or [TOOL_CALLS][{"name": ..., "arguments": ...}] ---

TOOL_CALLS = "[TOOL_CALLS]"
MISTRAL_ARGS = "[ARGS]"
MISTRAL_CALL_ID = "[CALL_ID]"
MISTRAL_THINK_OPEN = "[THINK]"
MISTRAL_THINK_CLOSE = "[/THINK]"
MISTRAL_TOOL_RESULTS = "[TOOL_RESULTS]"
_MISTRAL_NAME_BREAKS = (MISTRAL_ARGS, TOOL_CALLS, " ", "\n")


def _mistral_array(body: str) -> tuple[list[ParsedCall], str]:
    """``[{"name": ..., "arguments": {...}}, ...]`` (tokenizers before v11) and the text after it."""
    if len(body) > MAX_CALLS_CHARS:
        return [
            _broken(None, f"the tool calls are {len(body)} characters long; the limit is {MAX_CALLS_CHARS}", body[:200])
        ], ""
    if _json_depth_exceeds(body, MAX_JSON_DEPTH):
        return [
            _broken(
                _name_in(body), f"the tool calls are not valid JSON (nested deeper than {MAX_JSON_DEPTH} levels)", body
            )
        ], ""
    try:
        payload, end = _json_at(body, 0)
    except (ValueError, RecursionError) as exc:
        return [_broken(_name_in(body), f"the tool calls after {TOOL_CALLS} are not valid JSON ({exc})", body)], ""
    if not payload:
        return [_broken(None, f"{TOOL_CALLS} is followed by an empty list", body)], body[end:]
    return [call_from_payload(item, _write_json(item)[:MAX_CALL_CHARS]) for item in payload], body[end:]


def _mistral_named(body: str) -> tuple[list[ParsedCall], str]:
    """``name[ARGS]{...}`` (``[CALL_ID]id`` may follow the name) and the text after the object."""
    args_at = body.find(MISTRAL_ARGS)
    if args_at < 0:
        return [
            _broken(
                None, f"expected NAME{MISTRAL_ARGS}{{...}} or a JSON list after {TOOL_CALLS}, got {body[:40]!r}", body
            )
        ], ""
    name = body[:args_at].partition(MISTRAL_CALL_ID)[0].strip()
    rest = body[args_at + len(MISTRAL_ARGS) :]
    start = _SPACES.match(rest).end()  # type: ignore[union-attr]
    if not name or len(name.split()) != 1:
        return [_broken(None, f"the tool name before {MISTRAL_ARGS} is empty or has spaces: {name[:40]!r}", body)], ""
    # Arguments longer than a call may be are refused after decoding; only that much needs the depth check.
    if _json_depth_exceeds(rest[start : start + MAX_CALL_CHARS + 1], MAX_JSON_DEPTH):
        return [
            _broken(
                name, f"the arguments of {name} are not valid JSON (nested deeper than {MAX_JSON_DEPTH} levels)", body
            )
        ], ""
    try:
        payload, end = _json_at(rest, start)
    except (ValueError, RecursionError) as exc:
        return [_broken(name, f"the arguments of {name} are not valid JSON ({exc})", body)], ""
    written = body[: args_at + len(MISTRAL_ARGS) + end]
    if end - start > MAX_CALL_CHARS:
        return [_too_long(written)], rest[end:]
    return [call_from_payload({"name": name, "arguments": payload}, written.strip())], rest[end:]


class MistralParser:
    """Mistral's calls after the ``[TOOL_CALLS]`` token (name: ``mistral``)::

        [TOOL_CALLS]add[ARGS]{"a": 2, "b": 3}[TOOL_CALLS]sqrt[ARGS]{"x": 4}      (tokenizer v11 and later)
        [TOOL_CALLS][{"name": "add", "arguments": {"a": 2, "b": 3}}]            (v3: Mistral 7B v0.3, Nemo)

    The text before the first ``[TOOL_CALLS]`` and after each call is content.
    Reasoning is ``<think>`` or Magistral's ``[THINK]...[/THINK]``; a faked
    tool response is ``[TOOL_RESULTS]``. The token is special: decode with
    ``skip_special_tokens=False`` or the calls are lost.
    """

    name = "mistral"
    call_hint = "Write [TOOL_CALLS]NAME[ARGS]{...} for each call"

    def parse(self, text: str) -> ParsedTurn:
        """Read one turn in time linear in its length; never raises."""
        visible = strip_spans(strip_reasoning(text), MISTRAL_THINK_OPEN, MISTRAL_THINK_CLOSE)
        segments = visible.split(TOOL_CALLS)
        content_parts, calls = [segments[0]], []
        for segment in segments[1:]:
            body = segment.lstrip()
            segment_calls, rest = (_mistral_array if body.startswith("[") else _mistral_named)(body)
            calls.extend(segment_calls)
            content_parts.append(rest)
        return _named_turn(content_parts, calls, MISTRAL_TOOL_RESULTS in visible)

    def format_turn(self, content: str, calls: Sequence[tuple[str, Any]]) -> str:
        """The content, then ``[TOOL_CALLS]name[ARGS]{...}`` per call (the v11 layout)."""
        written = "".join(
            f"{TOOL_CALLS}{_check_name(name, _MISTRAL_NAME_BREAKS)}{MISTRAL_ARGS}{_write_json(arguments)}"
            for name, arguments in calls
        )
        return f"{content or ''}{written}"


# --- deepseek_v3: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{...}\n```... ---

DEEPSEEK_CALLS_BEGIN = "<｜tool▁calls▁begin｜>"
DEEPSEEK_CALLS_END = "<｜tool▁calls▁end｜>"
DEEPSEEK_CALL_BEGIN = "<｜tool▁call▁begin｜>"
DEEPSEEK_CALL_END = "<｜tool▁call▁end｜>"
DEEPSEEK_SEP = "<｜tool▁sep｜>"
DEEPSEEK_OUTPUT_BEGIN = "<｜tool▁output▁begin｜>"
JSON_FENCE = "```json"
FENCE = "```"
_DEEPSEEK_NAME_BREAKS = ("\n", DEEPSEEK_CALL_END)


def parse_deepseek_call(raw: str) -> ParsedCall:
    """One DeepSeek-V3 call body: ``function<｜tool▁sep｜>NAME`` then the arguments in a ```json fence."""
    body = raw.strip()
    if len(body) > MAX_CALL_CHARS:
        return _too_long(body)
    kind, separator, rest = body.partition(DEEPSEEK_SEP)
    if not separator:
        return _broken(None, f"expected function{DEEPSEEK_SEP}NAME, then the arguments in a {JSON_FENCE} block", body)
    name, _, arguments = rest.partition("\n")
    name = name.strip()
    if kind.strip() != "function" or not name:
        return _broken(name or None, f"expected function{DEEPSEEK_SEP}NAME, got {body[:60]!r}", body)
    arguments = arguments.strip()
    if (
        len(arguments) < len(JSON_FENCE) + len(FENCE)
        or not arguments.startswith(JSON_FENCE)
        or not arguments.endswith(FENCE)
    ):
        return _broken(name, f"the arguments of {name} are not in a {JSON_FENCE} ... {FENCE} block", body)
    return _json_arguments(name, arguments[len(JSON_FENCE) : -len(FENCE)], body)


def _deepseek_block(region: str) -> list[ParsedCall]:
    """The calls between ``<｜tool▁calls▁begin｜>`` and ``<｜tool▁calls▁end｜>`` (only whitespace may separate them)."""
    calls: list[ParsedCall] = []
    for kind, piece in tagged_pieces(region, DEEPSEEK_CALL_BEGIN, DEEPSEEK_CALL_END):
        if kind == TEXT and piece.strip():
            calls.append(
                _broken(None, f"text between the calls, outside {DEEPSEEK_CALL_BEGIN}: {piece.strip()[:40]!r}", piece)
            )
        elif kind == BLOCK:
            calls.append(parse_deepseek_call(piece))
        elif kind == UNCLOSED:
            name = piece.partition(DEEPSEEK_SEP)[2].partition("\n")[0].strip()[:128] or None
            calls.append(_broken(name, f"{DEEPSEEK_CALL_BEGIN} is not closed with {DEEPSEEK_CALL_END}", piece))
        elif kind == STRAY:
            calls.append(_stray_call(DEEPSEEK_CALL_BEGIN, DEEPSEEK_CALL_END))
    return calls


class DeepSeekV3Parser:
    """DeepSeek-V3's (and R1's) special-token calls (name: ``deepseek_v3``)::

        <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>add
        ```json
        {"a": 2, "b": 3}
        ```<｜tool▁call▁end｜><｜tool▁calls▁end｜>

    Calls sit in one ``<｜tool▁calls▁begin｜>`` ... ``<｜tool▁calls▁end｜>``
    block; the text before and after it is content. A call outside the block,
    a block or call left open and text between the calls are parse errors
    (the complete calls of an unclosed block are still read). A faked tool
    response is ``<｜tool▁output▁begin｜>``. DeepSeek-V3.1's layout (no type,
    no fence) is another format, not read here.
    """

    name = "deepseek_v3"
    call_hint = (
        f"Write {DEEPSEEK_CALLS_BEGIN}{DEEPSEEK_CALL_BEGIN}function{DEEPSEEK_SEP}NAME\n{JSON_FENCE}\n{{...}}\n{FENCE}"
        f"{DEEPSEEK_CALL_END}{DEEPSEEK_CALLS_END}"
    )

    def parse(self, text: str) -> ParsedTurn:
        """Read one turn in time linear in its length; never raises."""
        visible = strip_reasoning(text)
        calls: list[ParsedCall] = []
        content_parts: list[str] = []
        for kind, piece in tagged_pieces(visible, DEEPSEEK_CALLS_BEGIN, DEEPSEEK_CALLS_END):
            if kind == TEXT:
                content_parts.append(piece)
                if DEEPSEEK_CALL_BEGIN in piece:
                    calls.append(_broken(None, f"{DEEPSEEK_CALL_BEGIN} must be inside {DEEPSEEK_CALLS_BEGIN}", piece))
            elif kind == STRAY:
                calls.append(_stray_call(DEEPSEEK_CALLS_BEGIN, DEEPSEEK_CALLS_END))
            else:
                calls.extend(_deepseek_block(piece))
                if kind == UNCLOSED:
                    calls.append(_broken(None, f"{DEEPSEEK_CALLS_BEGIN} is not closed with {DEEPSEEK_CALLS_END}", ""))
        return _named_turn(content_parts, calls, DEEPSEEK_OUTPUT_BEGIN in visible)

    def format_turn(self, content: str, calls: Sequence[tuple[str, Any]]) -> str:
        """The content, then the calls in one block, as DeepSeek-V3's template writes them."""
        if not calls:
            return content or ""
        written = "\n".join(
            f"{DEEPSEEK_CALL_BEGIN}function{DEEPSEEK_SEP}{_check_name(name, _DEEPSEEK_NAME_BREAKS)}\n"
            f"{JSON_FENCE}\n{_write_json(arguments)}\n{FENCE}{DEEPSEEK_CALL_END}"
            for name, arguments in calls
        )
        return f"{content or ''}{DEEPSEEK_CALLS_BEGIN}{written}{DEEPSEEK_CALLS_END}"


# --- openai: gpt-oss's harmony messages, <|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{...}<|call|>

HARMONY_START = "<|start|>"
HARMONY_CHANNEL = "<|channel|>"
HARMONY_MESSAGE = "<|message|>"
HARMONY_END = "<|end|>"
HARMONY_CALL = "<|call|>"
HARMONY_RETURN = "<|return|>"
HARMONY_CONSTRAIN = "<|constrain|>"
FUNCTIONS_PREFIX = "functions."
# Where a message's body ends: its end token, or the next message's start when the end token is missing.
_HARMONY_BODY_END = re.compile(r"<\|(?:end|call|return|start)\|>")
_HARMONY_ROLE = re.compile(r"<\|start\|>\s*([^\s<]+)")
_HARMONY_CHANNEL_NAME = re.compile(r"<\|channel\|>\s*([^\s<]+)")
_HARMONY_RECIPIENT = re.compile(r"(?:^|\s)to=([^\s<]+)")


@dataclass(frozen=True)
class HarmonyMessage:
    """One harmony message: its header's fields, its body and the token that ended it (``""``: the text's end)."""

    role: str
    channel: str
    recipient: str | None
    body: str
    ended_by: str


def harmony_messages(text: str) -> list[HarmonyMessage | str]:
    """The messages of ``text`` in order, with the text between them that is no message (strings), in linear time.

    A message runs from its header (from ``<|start|>``, or from where the
    previous message ended) through ``<|message|>`` to ``<|end|>``,
    ``<|call|>`` or ``<|return|>``. The generation loop usually cuts the
    last stop token, so a body may run to the end of the text.
    """
    items: list[HarmonyMessage | str] = []
    position = 0
    while position < len(text):
        marker = text.find(HARMONY_MESSAGE, position)
        if marker < 0:
            items.append(text[position:])
            break
        start = text.rfind(HARMONY_START, position, marker)
        if start > position:
            items.append(text[position:start])
        header = text[max(start, position) : marker]
        body_start = marker + len(HARMONY_MESSAGE)
        stop = _HARMONY_BODY_END.search(text, body_start)
        body_end = stop.start() if stop else len(text)
        ended_by = stop.group() if stop else ""
        position = body_end if ended_by in ("", HARMONY_START) else stop.end()  # type: ignore[union-attr]
        items.append(_harmony_message(header, text[body_start:body_end], ended_by))
    return items


def _harmony_message(header: str, body: str, ended_by: str) -> HarmonyMessage:
    role = _HARMONY_ROLE.search(header)
    channel = _HARMONY_CHANNEL_NAME.search(header)
    recipient = _HARMONY_RECIPIENT.search(header)
    return HarmonyMessage(
        role.group(1) if role else "assistant",
        channel.group(1) if channel else "",
        recipient.group(1) if recipient else None,
        body,
        ended_by,
    )


def _harmony_call(message: HarmonyMessage) -> ParsedCall:
    recipient = message.recipient or ""
    name = recipient[len(FUNCTIONS_PREFIX) :] if recipient.startswith(FUNCTIONS_PREFIX) else recipient
    if not name:
        return _broken(None, f"the call's recipient names no tool: {recipient!r}", message.body)
    if message.ended_by == HARMONY_START:
        return _broken(name, f"the call to {recipient} is not ended with {HARMONY_CALL}", message.body)
    return _json_arguments(name, message.body, message.body)


class HarmonyParser:
    """gpt-oss's harmony format (name: ``openai``, as vLLM's ``--tool-call-parser``)::

        <|channel|>analysis<|message|>Need to add.<|end|><|start|>assistant<|channel|>commentary to=functions.add <|constrain|>json<|message|>{"a": 2, "b": 3}<|call|>
        <|channel|>final<|message|>The sum is \\boxed{5}.<|return|>

    A message with a recipient (``to=functions.NAME``, in the role or the
    channel part of its header) is a call, its body the JSON arguments; the
    ``analysis`` channel is reasoning (calls there are ignored, as inside
    ``<think>``); the other messages' bodies are the content. A call header
    never followed by ``<|message|>``, or cut by the next ``<|start|>``, is a
    parse error; a body at the text's end is complete (the loop cut its
    ``<|call|>``). A message from another role than ``assistant`` is a faked
    one (``malformed``). Decode with ``skip_special_tokens=False``: the
    markers are special tokens.
    """

    name = "openai"
    call_hint = (
        "Write <|start|>assistant<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{...}<|call|>"
    )

    def parse(self, text: str) -> ParsedTurn:
        """Read one turn in time linear in its length; never raises."""
        calls: list[ParsedCall] = []
        content_parts: list[str] = []
        malformed = False
        for item in harmony_messages(strip_reasoning(text)):
            if isinstance(item, str):
                opened = _HARMONY_RECIPIENT.search(item)
                if opened is not None and (HARMONY_CHANNEL in item or HARMONY_START in item):
                    calls.append(
                        _broken(opened.group(1), f"the call's header is not followed by {HARMONY_MESSAGE}", item)
                    )
                else:
                    content_parts.append(item)
            elif item.role != "assistant":
                malformed = True
            elif item.recipient is not None and item.recipient != "assistant":
                if item.channel != "analysis":
                    calls.append(_harmony_call(item))
            elif item.channel != "analysis":
                content_parts.append(item.body)
        return _named_turn(content_parts, calls, malformed)

    def format_turn(self, content: str, calls: Sequence[tuple[str, Any]]) -> str:
        """A final message, or a commentary preamble (the content) and one message per call."""
        if not calls:
            return f"{HARMONY_CHANNEL}final{HARMONY_MESSAGE}{content}{HARMONY_RETURN}" if content else ""
        parts = [f"{HARMONY_CHANNEL}commentary{HARMONY_MESSAGE}{content}{HARMONY_END}"] if content else []
        for name, arguments in calls:
            prefix = f"{HARMONY_START}assistant" if parts else ""
            recipient = FUNCTIONS_PREFIX + _check_name(name, (" ", "\n", "<"))
            parts.append(
                f"{prefix}{HARMONY_CHANNEL}commentary to={recipient} {HARMONY_CONSTRAIN}json"
                f"{HARMONY_MESSAGE}{_write_json(arguments)}{HARMONY_CALL}"
            )
        return "".join(parts)


# --- the registry of parsers by name ----------------------------------------------------------------------

LOG = logging.getLogger("mentor_env.parsing")

_PARSERS: dict[str, Callable[[], ToolCallParser]] = {}
SHIPPED_PARSERS = ("hermes", "qwen3_coder", "llama3_json", "pythonic", "mistral", "deepseek_v3", "openai")
# What ``tool_parser`` takes to pick a parser from the model's chat template.
AUTO = "auto"


def register_tool_parser(name: str, factory: Callable[[], ToolCallParser]) -> Callable[[], ToolCallParser]:
    """Add a parser under ``name``: every ``tool_parser=`` argument takes the name from then on.

    ``factory()`` makes one parser (a class with a ``parse`` method is one).

    Raises:
        ValueError: a name that is not an identifier, ``"auto"``, or one already registered.
    """
    if not isinstance(name, str) or not name.isidentifier() or name == AUTO:
        raise ValueError(
            f"a tool parser's name is a Python identifier other than 'auto', e.g. 'my_format'; got {name!r}"
        )
    if name in _PARSERS:
        raise ValueError(f"tool parser {name!r} is already registered; unregister_tool_parser() it first")
    _PARSERS[name] = factory
    return factory


def unregister_tool_parser(name: str) -> Callable[[], ToolCallParser]:
    """Remove a parser registered with :func:`register_tool_parser` (the shipped ones stay)."""
    if name in SHIPPED_PARSERS:
        raise ValueError(f"{name!r} ships with mentor_env and cannot be unregistered")
    if name not in _PARSERS:
        raise ValueError(f"no tool parser {name!r} is registered; registered: {tool_parser_names()}")
    return _PARSERS.pop(name)


def tool_parser_names() -> tuple[str, ...]:
    """The registered parser names, in registration order."""
    return tuple(_PARSERS)


def get_tool_parser(name: str) -> ToolCallParser:
    """A new parser of the format called ``name`` (the names inference servers give them).

    Raises:
        ValueError: naming the registered parsers.
    """
    try:
        factory = _PARSERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"tool_parser must be one of {tool_parser_names()} or 'auto', got {name!r}") from None
    return factory()


_SHIPPED_FACTORIES: tuple[Callable[[], ToolCallParser], ...] = (
    HermesParser,
    Qwen3CoderParser,
    Llama3JsonParser,
    PythonicParser,
    MistralParser,
    DeepSeekV3Parser,
    HarmonyParser,
)
for _name, _factory in zip(SHIPPED_PARSERS, _SHIPPED_FACTORIES):
    register_tool_parser(_name, _factory)


# Markers of each format in a chat template, tried in order (a later format's markers may appear in an
# earlier one's template: Qwen3-Coder's has <tool_call>, Llama's pythonic ones have Llama headers).
# Each entry: the parser name, then alternatives, each a tuple of strings that must all appear.
TEMPLATE_MARKERS: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = (
    ("deepseek_v3", ((DEEPSEEK_CALLS_BEGIN,),)),
    ("openai", ((HARMONY_CHANNEL, HARMONY_CALL),)),
    ("mistral", ((TOOL_CALLS,),)),
    ("qwen3_coder", ((FUNCTION_OPEN, PARAMETER_OPEN),)),
    ("pythonic", (("[func_name1(",),)),
    ("llama3_json", ((PYTHON_TAG,), ("<|start_header_id|>", '"parameters"'), ("<|header_start|>", '"parameters"'))),
    ("hermes", ((TOOL_CALL_OPEN,),)),
)


def chat_template_text(source: Any) -> str:
    """The chat template of ``source``: a template string, or a tokenizer (its ``chat_template``).

    A tokenizer whose ``chat_template`` is a dict of named templates gives
    them all, joined (the ``tool_use`` one is among them).

    Raises:
        ValueError: ``source`` has no chat template.
    """
    template = source if isinstance(source, str) else getattr(source, "chat_template", None)
    if isinstance(template, Mapping):
        template = "\n".join(str(value) for value in template.values())
    if not isinstance(template, str) or not template:
        raise ValueError(
            f"tool_parser='auto' reads the model's chat template: pass the tokenizer or the template string, "
            f"got {type(source).__name__} without one"
        )
    return template


def detect_tool_parser(source: Any) -> str:
    """The name of the parser whose format ``source``'s chat template writes (see :data:`TEMPLATE_MARKERS`).

    Raises:
        ValueError: no template, or none of the known markers in it (the message lists them).
    """
    return _detect_in_template(chat_template_text(source))


def match_tool_parser(source: Any) -> str | None:
    """:func:`detect_tool_parser` without a word: the parser's name, or None when the template shows no markers."""
    return _match_template(chat_template_text(source))


@functools.lru_cache(maxsize=64)
def _match_template(template: str) -> str | None:
    for name, alternatives in TEMPLATE_MARKERS:
        if any(all(marker in template for marker in markers) for markers in alternatives):
            return name
    return None


@functools.lru_cache(maxsize=64)
def _detect_in_template(template: str) -> str:
    """:func:`detect_tool_parser` of one template, logged once (trainers resolve ``"auto"`` per completion)."""
    name = _match_template(template)
    if name is not None:
        LOG.warning("tool_parser='auto' chose the %r tool-call parser from the chat template's markers", name)
        return name
    known = "; ".join(
        f"{name}: {' or '.join(' + '.join(m) for m in alternatives)}" for name, alternatives in TEMPLATE_MARKERS
    )
    raise ValueError(
        f"tool_parser='auto' found no tool-call markers in the chat template ({known}); "
        f"name the format instead: one of {tool_parser_names()}"
    )


def resolve_tool_parser(
    tool_parser: str | ToolCallParser | None = None, chat_template: Any = None, argument: str = "tool_parser"
) -> ToolCallParser:
    """The parser that ``tool_parser`` names: ``None`` (Hermes), a registered name, ``"auto"`` or a parser object.

    ``"auto"`` picks the format from ``chat_template`` (a tokenizer or a
    template string, :func:`detect_tool_parser`) and logs its choice on the
    ``mentor_env.parsing`` logger, once per template (at WARNING, so that it
    shows without any logging set up).

    Raises:
        ValueError: an unknown name, or ``"auto"`` without a template that says.
        TypeError: an object without a ``parse`` method.
    """
    if tool_parser is None:
        return HermesParser()
    if isinstance(tool_parser, str):
        if tool_parser != AUTO:
            return get_tool_parser(tool_parser)
        return get_tool_parser(detect_tool_parser(chat_template))
    if not callable(getattr(tool_parser, "parse", None)):
        raise TypeError(
            f"{argument} must have a parse(text) -> ParsedTurn method, got {type(tool_parser).__name__} "
            f"(or pass a parser name: one of {tool_parser_names()} or 'auto')"
        )
    return tool_parser


def pick_tool_parser(parser: Any = None, tool_parser: Any = None, chat_template: Any = None) -> ToolCallParser:
    """:func:`resolve_tool_parser` for functions that take ``parser=`` (the older name) and ``tool_parser=``.

    Raises:
        ValueError: both are given.
    """
    if parser is not None and tool_parser is not None:
        raise ValueError("pass the tool-call parser as tool_parser= or parser=, not both")
    if parser is not None:
        return resolve_tool_parser(parser, chat_template, argument="parser")
    return resolve_tool_parser(tool_parser, chat_template)


def writes_own_format(parser: Any) -> bool:
    """Whether ``parser`` writes calls in a format other than Hermes' (a named parser's ``format_turn``).

    Callers keep their Hermes path, byte for byte, for every other parser.
    """
    return (
        parser is not None and not isinstance(parser, HermesParser) and callable(getattr(parser, "format_turn", None))
    )


def render_turn(parser: ToolCallParser, content: str, calls: Sequence[tuple[str, Any]]) -> str:
    """The text a model that ``parser`` reads writes for this turn (``parser.format_turn``; else the Hermes form).

    Raises:
        TypeError, ValueError: a call this format cannot write (a name it has no room for, arguments with no JSON form).
    """
    format_turn = getattr(parser, "format_turn", None)
    if callable(format_turn):
        written: str = format_turn(content, calls)
        return written
    return HermesParser().format_turn(content, calls)
