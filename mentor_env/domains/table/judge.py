"""Comparing final answers: numbers exactly (the module doc of :mod:`~mentor_env.domains.answers`), names as stored."""

from __future__ import annotations

from mentor_env.domains.answers import MONEY_UNITS, clean_answer, number_or_name_match

_QUOTES = "\"'`“”‘’"


def normalize_name(text: str) -> str:
    """A name as the judge compares it: no LaTeX wrapper (NFKC), no quotes, single spaces, case-folded."""
    value = clean_answer(text).strip(_QUOTES).strip()  # clean_answer applies NFKC
    value = value.rstrip(".").strip().strip(_QUOTES).strip()
    return " ".join(value.split()).casefold()


def same_name(prediction: str, answer: str) -> bool:
    """Equal after :func:`normalize_name`."""
    return normalize_name(prediction) == normalize_name(answer)


def judge_answer(prediction: str, answer: str) -> bool:
    """Numbers as :func:`~mentor_env.domains.answers.numbers_match` reads them (``$`` allowed); names by
    :func:`same_name`. Never raises."""
    return number_or_name_match(prediction, answer, same_name, MONEY_UNITS)
