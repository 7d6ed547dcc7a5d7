"""A ``Text`` space for model text: any Unicode string up to a length.

Gymnasium's :class:`~gymnasium.spaces.Text` only holds characters of a fixed
charset, and its async vector env moves observations through shared memory as
indexes into that charset, so model text (any Unicode) would be rejected or
garbled (the async env also reads a ``Text`` buffer only once, at start-up).
:class:`UnicodeText` is a ``Text`` whose ``contains`` accepts every character
and which flattens to Unicode code points. Its shared-memory reader returns a
live view (:class:`SharedTextBatch`) that decodes the buffer when read and
deep-copies to a plain tuple, so ``gym.make_vec(..., vectorization_mode="async")``
returns the real strings on every step. Each env's row in that buffer starts
with the string's length, so a step copies the characters written, not the
whole ``max_length``.
Sampling draws from printable ASCII, which is what ``check_env`` needs.
"""

from __future__ import annotations

import multiprocessing as mp
import string
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
from gymnasium.spaces import Text
from gymnasium.spaces.utils import flatten, unflatten
from gymnasium.vector.utils.shared_memory import create_shared_memory, read_from_shared_memory, write_to_shared_memory

# Code point used to pad flattened strings; real text never contains it.
_PAD = -1
_SAMPLE_CHARSET = string.printable


class UnicodeText(Text):
    """Any Unicode string of ``min_length`` to ``max_length`` characters."""

    def __init__(self, max_length: int, *, min_length: int = 0, seed: Any = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=_SAMPLE_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"

    def __eq__(self, other: object, /) -> bool:
        return (
            isinstance(other, UnicodeText)
            and self.min_length == other.min_length
            and self.max_length == other.max_length
        )

    __hash__ = None  # type: ignore[assignment]  # mutable seedable space, like its parent


def _code_points(space: UnicodeText, text: str) -> np.ndarray:
    points = np.full(space.max_length, _PAD, dtype=np.int32)
    encoded = _encode(space, text)
    points[: encoded.size] = encoded
    return points


def _from_code_points(points: np.ndarray) -> str:
    points = np.asarray(points, dtype=np.int32)
    kept: np.ndarray = points[points != _PAD]
    return kept.astype("<i4").tobytes().decode("utf-32-le", "surrogatepass")


# mypy's singledispatch check cannot match a subclass against gymnasium's generic fallback (``space: Space[T]``):
# it reports UnicodeText, a Space[str], as no subtype of it.
@flatten.register(UnicodeText)
def _flatten_unicode_text(space: UnicodeText, x: str) -> np.ndarray:  # type: ignore[misc]
    return _code_points(space, x)


@unflatten.register(UnicodeText)
def _unflatten_unicode_text(space: UnicodeText, x: np.ndarray) -> str:  # type: ignore[misc]  # as above
    return _from_code_points(x)


# Shared memory (async vector envs): one row of ``max_length + 1`` int32 per env,
# the string's length first, then its code points. Writing and reading cost the
# length of the string, not of the buffer (32,768 code points per env by default).


@create_shared_memory.register(UnicodeText)
def _create_unicode_text_shared_memory(space: UnicodeText, n: int = 1, ctx: ModuleType = mp) -> Any:
    return ctx.Array(np.dtype(np.int32).char, n * (space.max_length + 1))


def _encode(space: UnicodeText, text: str) -> np.ndarray:
    if len(text) > space.max_length:
        raise ValueError(f"text of {len(text)} characters does not fit {space!r}")
    # UTF-32 gives every character as one 32-bit code point, without a Python loop.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.int32)


@write_to_shared_memory.register(UnicodeText)
def _write_unicode_text(space: UnicodeText, index: int, values: str, shared_memory: Any) -> None:
    encoded = _encode(space, values)
    start = index * (space.max_length + 1)
    destination = np.frombuffer(shared_memory.get_obj(), dtype=np.int32)
    destination[start] = encoded.size
    destination[start + 1 : start + 1 + encoded.size] = encoded


def _decode_row(row: np.ndarray) -> str:
    return row[1 : 1 + int(row[0])].tobytes().decode("utf-32-le", "surrogatepass")


class SharedTextBatch(Sequence[str]):
    """The strings in a shared-memory buffer, decoded each time they are read.

    Gymnasium's ``AsyncVectorEnv`` reads its observation buffer once and then
    returns ``deepcopy`` of that object after every step; being a live view
    whose deep copy is a plain tuple, this object gives the current strings.
    """

    def __init__(self, space: UnicodeText, shared_memory: Any, n: int) -> None:
        self._rows = np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape((n, space.max_length + 1))

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(_decode_row(row) for row in self._rows[index])
        return _decode_row(self._rows[index])

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return f"SharedTextBatch({tuple(self)!r})"


@read_from_shared_memory.register(UnicodeText)
def _read_unicode_text(space: UnicodeText, shared_memory: Any, n: int = 1) -> SharedTextBatch:
    return SharedTextBatch(space, shared_memory, n)
