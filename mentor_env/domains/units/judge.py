"""Reading final answers: a number in the unit the question asks for, written without a unit."""

from __future__ import annotations

from mentor_env.domains.answers import MONEY_UNITS, numbers_match


def judge_answer(prediction: str, answer: str) -> bool:
    """The gold number, exact or, for a rounded real, within a relative 1e-6; a dollar sign but no other unit.

    The gold is a bare number in the unit the question asks for, which the judge
    does not see: ``21 h`` could not be told from the ``21 min`` asked for, so a
    unit after the number is refused rather than ignored (the system prompt asks
    for the value as the tools print it). Never raises.
    """
    return numbers_match(prediction, answer, MONEY_UNITS)
