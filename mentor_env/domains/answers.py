"""Reading and comparing final answers, shared by the domains' judges."""

from __future__ import annotations

import math
import re
from typing import Callable

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_FRACTION = re.compile(r"(-?)\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}")
_LATEX_TEXT = re.compile(r"\\(?:text|mathrm|textbf|mbox)\{[^{}]*\}")
_UNIT_SUFFIX = re.compile(r"(?:\s*(?:[A-Za-z°][A-Za-z°./ ]*|%))$")

# Judges refuse longer predictions outright (no reading of megabyte answers).
MAX_ANSWER_CHARS = 200


def readable(prediction: object, max_chars: int = MAX_ANSWER_CHARS) -> bool:
    """Whether ``prediction`` is text of at most ``max_chars`` characters, which a judge reads at all."""
    return isinstance(prediction, str) and len(prediction) <= max_chars


def parse_number(text: str) -> float | None:
    """Read a final answer as a number; ``None`` if it is not one. Never raises."""
    if not isinstance(text, str) or len(text) > 200:
        return None
    s = text.strip().replace("−", "-").replace("\u2009", "")
    s = _LATEX_TEXT.sub("", s)
    for token in ("\\$", "$", "\\!", "\\,", "\\;", "\\ ", "\\left", "\\right", "\\%"):
        s = s.replace(token, "")
    s = s.strip().rstrip(".").strip()
    if s.startswith("="):
        s = s[1:].strip()
    fraction = _FRACTION.fullmatch(s)
    if fraction:
        numerator, denominator = parse_number(fraction.group(2)), parse_number(fraction.group(3))
        if numerator is None or not denominator:
            return None
        return -numerator / denominator if fraction.group(1) else numerator / denominator
    s = _UNIT_SUFFIX.sub("", s).strip()
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    if "/" in s:
        parts = s.split("/")
        if len(parts) == 2 and all(_NUMBER.fullmatch(part.strip()) for part in parts):
            denominator = float(parts[1])
            return float(parts[0]) / denominator if denominator else None
        return None
    if not _NUMBER.fullmatch(s):
        return None
    value = float(s)
    return value if math.isfinite(value) else None


def numbers_match(prediction: str, answer: str) -> bool:
    """Numeric equality within a relative tolerance of 1e-6 (absolute 1e-9 near zero)."""
    predicted, gold = parse_number(prediction), parse_number(answer)
    if predicted is None or gold is None:
        return False
    return math.isclose(predicted, gold, rel_tol=1e-6, abs_tol=1e-9)


def number_or_name_match(
    prediction: str, answer: str, same_name: Callable[[str, str], bool], max_chars: int = MAX_ANSWER_CHARS
) -> bool:
    """Numbers (a gold answer :func:`parse_number` reads) by :func:`numbers_match`, names by ``same_name``.

    ``same_name(prediction, answer)`` is the domain's comparison of names. Never raises.
    """
    if not readable(prediction, max_chars):
        return False
    if parse_number(answer) is not None:
        return numbers_match(prediction, answer)
    return same_name(prediction, answer)
