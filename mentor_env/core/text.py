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


def valid_json(value: Any) -> Any:
    """``value`` (decoded JSON: dicts, lists, strings, numbers) with every string key and value made valid text.

    Containers are rebuilt only where a string in them changed; everything
    else is returned as it is. Recursion follows the value's nesting, which
    the parsers bound before they decode.
    """
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, dict):
        pairs = [(valid_json(key), valid_json(item)) for key, item in value.items()]
        if all(new_key is key and new_item is item for (new_key, new_item), (key, item) in zip(pairs, value.items())):
            return value
        return dict(pairs)
    if isinstance(value, list):
        items = [valid_json(item) for item in value]
        return value if all(new is old for new, old in zip(items, value)) else items
    return value
