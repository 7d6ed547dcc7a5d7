"""Reading tool calls and final answers out of the text a model wrote.

The format is the Hermes / Qwen one that open chat templates emit::

    <think>optional reasoning, ignored</think>
    <tool_call>{"name": "add", "arguments": {"a": 2, "b": 3}}</tool_call>
    <tool_call>{"name": "multiply", "arguments": {"a": 4, "b": 5}}</tool_call>

and the final answer is the last ``\\boxed{...}`` (balanced braces).

A parser is any object with a ``parse(text) -> ParsedTurn`` method
(:class:`ToolCallParser`); :class:`HermesParser` is the one shipped. Parsing
never raises on model text: every problem is reported on the returned
:class:`ParsedCall` / :class:`ParsedTurn` so the environment can answer it with
an error observation.

Besides this reading (the one the environment acts on), :class:`HermesParser`
reports a *literal* one (:class:`LiteralReading`, :func:`literal_reading`):
the whole text, reasoning included, read the way the published MENTOR reward
code reads it, from which the ``compat="official"`` rewards are derived.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Protocol, runtime_checkable

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
    out: list[str] = []
    position = 0
    while True:
        start = text.find(THINK_OPEN, position)
        if start < 0:
            out.append(text[position:])
            break
        out.append(text[position:start])
        end = text.find(THINK_CLOSE, start + len(THINK_OPEN))
        if end < 0:
            break
        position = end + len(THINK_CLOSE)
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


def format_tool_call(name: str, arguments: dict[str, Any]) -> str:
    """Render one call in the Hermes format (the inverse of parsing one block)."""
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
        return ParsedCall(
            name=None,
            arguments=None,
            error=f"the tool call is {len(body)} characters long; the limit is {MAX_CALL_CHARS}",
            raw=body[:200],
        )
    try:
        payload = _loads_strict(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        fallback = _NAME_IN_BROKEN_JSON.search(body)  # the name of a broken call, when it can be read
        return ParsedCall(fallback.group(1) if fallback else None, None, f"the tool call is not valid JSON ({exc})", body)
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
        return ParsedCall(
            name, None, f'"arguments" must be a JSON object, got {type(arguments).__name__}', body
        )
    return ParsedCall(name, arguments, None, body)


class HermesParser:
    """Parser for ``<tool_call>{json}</tool_call>`` blocks and ``\\boxed{}`` answers.

    Calls written inside ``<think>`` are reasoning and are ignored. A block
    whose closing tag is missing (or that is interrupted by another opening
    tag) is reported as an unbalanced call; a closing tag with no opening one
    is reported too.
    """

    def parse(self, text: str) -> ParsedTurn:
        """Read the calls, the content and the final answer of one turn, in time linear in its length."""
        visible = strip_reasoning(text)
        calls: list[ParsedCall] = []
        content_parts: list[str] = []
        position = 0
        # The first opening / closing tag at or after a position already searched
        # (-1: none after it). Each is searched again only once ``position`` has
        # passed it, so the text is scanned a bounded number of times, however
        # many tags it holds (searching from every position was quadratic).
        next_open = visible.find(TOOL_CALL_OPEN)
        next_close = visible.find(TOOL_CALL_CLOSE)
        while True:
            if 0 <= next_open < position:
                next_open = visible.find(TOOL_CALL_OPEN, position)
            if 0 <= next_close < position:
                next_close = visible.find(TOOL_CALL_CLOSE, position)
            start = next_open
            if next_close >= 0 and (start < 0 or next_close < start):
                content_parts.append(visible[position:next_close])
                calls.append(
                    ParsedCall(None, None, f"found {TOOL_CALL_CLOSE} without a matching {TOOL_CALL_OPEN}")
                )
                position = next_close + len(TOOL_CALL_CLOSE)
                continue
            if start < 0:
                content_parts.append(visible[position:])
                break
            content_parts.append(visible[position:start])
            body_start = start + len(TOOL_CALL_OPEN)
            # The tags cannot overlap, so the next closing tag is at or after body_start.
            end = next_close
            next_open = visible.find(TOOL_CALL_OPEN, body_start)
            if end < 0 or (0 <= next_open < end):
                stop = next_open if next_open >= 0 else len(visible)
                raw = visible[body_start:stop]
                fallback = _NAME_IN_BROKEN_JSON.search(raw[:MAX_CALL_CHARS])
                calls.append(
                    ParsedCall(
                        fallback.group(1) if fallback else None,
                        None,
                        f"{TOOL_CALL_OPEN} is not closed with {TOOL_CALL_CLOSE}",
                        raw.strip()[:MAX_CALL_CHARS],
                    )
                )
                position = stop
                continue
            calls.append(parse_call_block(visible[body_start:end]))
            position = end + len(TOOL_CALL_CLOSE)
        content = "".join(content_parts).strip()
        return ParsedTurn(
            content=content,
            calls=tuple(calls),
            final_answer=last_boxed(visible),
            has_tool_markup=bool(calls),
            malformed=TOOL_RESPONSE_OPEN in visible,
            literal=literal_reading(text),
        )
