"""Valid text out of whatever a model or a caller sends.

A Python ``str`` may hold surrogate code points (U+D800-U+DFFF) that are not
characters: a caller can pass one directly, and JSON produces one from a pure
ASCII escape such as ``"\\ud800"``. Such a string cannot be encoded as UTF-8,
so it breaks every JSON encoder, tokenizer and socket it reaches. The
environment runs everything the model wrote through :func:`valid_text` or
:func:`valid_json` on the way in (the action text, the decoded call
arguments, tool results), so the conversation, ``info`` and ``render()`` hold
valid text only.

A high surrogate followed by a low one (two code points where one astral
character was meant) becomes that character; any other surrogate becomes
U+FFFD, the Unicode replacement character. Strings without surrogates are
returned as they are (the same object), after one regular-expression scan.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT_CHARACTER = "\ufffd"

_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """``text`` with its surrogate code points repaired (see the module doc); ``text`` itself when it has none."""
    if _SURROGATE.search(text) is None:
        return text
    # UTF-16 pairs adjacent high/low surrogates into one character; "replace" turns lone ones into U+FFFD.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def valid_json(value: Any, max_depth: int | None = None) -> Any:
    """``value`` (decoded JSON: dicts, lists, tuples, strings, numbers) with every string key and value made valid text.

    Containers are rebuilt only where a string in them changed; everything
    else is returned as it is. With ``max_depth``, a container nested deeper
    than that is replaced by a short note, so a value of any depth is safe;
    without it, the caller bounds the nesting (the call parser and the tool
    runtime refuse JSON deeper than :data:`mentor_env.core.parsing.MAX_JSON_DEPTH`).
    """
    return _valid(value, 0, max_depth)


def _valid(value: Any, depth: int, max_depth: int | None) -> Any:
    if isinstance(value, str):
        return valid_text(value)
    if not isinstance(value, (dict, list, tuple)):
        return value
    if max_depth is not None and depth >= max_depth:
        return f"<a {type(value).__name__} nested deeper than {max_depth} levels, left out>"
    if isinstance(value, dict):
        pairs = [(_valid(key, depth + 1, max_depth), _valid(item, depth + 1, max_depth)) for key, item in value.items()]
        if all(new_key is key and new_item is item for (new_key, new_item), (key, item) in zip(pairs, value.items())):
            return value
        return dict(pairs)
    items = [_valid(item, depth + 1, max_depth) for item in value]
    return value if all(new is old for new, old in zip(items, value)) else type(value)(items)
