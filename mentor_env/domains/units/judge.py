"""Reading final answers: a number, with or without a trailing unit."""

from __future__ import annotations

import re

from mentor_env.domains.answers import numbers_match, readable

_TRAILING_UNIT = re.compile(r"\s*(?:/\s*[A-Za-z°]+|m\^?3|m³|[A-Za-z]*\s*per\s+[A-Za-z°]+)\s*\.?\s*$")


def judge_answer(prediction: str, answer: str) -> bool:
    """Numeric match within 1e-6 (relative); a trailing unit such as ``km``, ``°F`` or ``m³`` is ignored."""
    if not readable(prediction):
        return False
    return numbers_match(_TRAILING_UNIT.sub("", prediction.strip()), answer)
