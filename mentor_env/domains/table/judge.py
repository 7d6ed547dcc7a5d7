"""Comparing final answers: numbers numerically, names as stored."""

from __future__ import annotations

import re
import unicodedata

from mentor_env.domains.answers import number_or_name_match

_TEXT_WRAPPER = re.compile(r"^\\(?:text|textbf|mathrm|mbox)\{(.*)\}$", re.DOTALL)
_QUOTES = "\"'`“”‘’"


def normalize_name(text: str) -> str:
    """A name as the judge compares it: NFKC, no wrapper or quotes, single spaces, case-folded."""
    value = unicodedata.normalize("NFKC", text).strip()
    wrapped = _TEXT_WRAPPER.match(value)
    if wrapped:
        value = wrapped.group(1).strip()
    value = value.rstrip(".").strip().strip(_QUOTES).strip()
    return " ".join(value.split()).casefold()


def same_name(prediction: str, answer: str) -> bool:
    """Equal after :func:`normalize_name`."""
    return normalize_name(prediction) == normalize_name(answer)


def judge_answer(prediction: str, answer: str) -> bool:
    """Numbers within a relative 1e-6; names equal after :func:`normalize_name`. Never raises."""
    return number_or_name_match(prediction, answer, same_name)
