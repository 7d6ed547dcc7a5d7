"""Comparing final answers: numbers exactly (the module doc of :mod:`~mentor_env.domains.answers`), names after
normalisation."""

from __future__ import annotations

import re
import unicodedata

from mentor_env.domains.answers import MONEY_UNITS, clean_answer, number_or_name_match

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_NON_WORD = re.compile(r"[\W_]+")


def normalize_name(text: str) -> str:
    """A name reduced for comparison: no accents, case, punctuation, ``\\text{}`` or articles."""
    text = clean_answer(text)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = _ARTICLES.sub(" ", _NON_WORD.sub(" ", text.casefold()))
    return " ".join(text.split())


def same_name(prediction: str, answer: str) -> bool:
    """Equal after :func:`normalize_name`, and not empty."""
    gold = normalize_name(answer)
    return bool(gold) and normalize_name(prediction) == gold


def judge_answer(prediction: str, answer: str) -> bool:
    """Numbers as :func:`~mentor_env.domains.answers.numbers_match` reads them (``$`` allowed); names by
    :func:`same_name`. Never raises."""
    return number_or_name_match(prediction, answer, same_name, MONEY_UNITS, max_chars=1_000)
