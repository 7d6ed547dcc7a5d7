r"""``mentor/Units-v0``: unit-conversion word problems solved with conversion and calculator tools.

Tools
    ``convert(value, from_unit, to_unit)`` converts a quantity between two
    units of the same dimension (temperature is affine: ``C``, ``F``, ``K``);
    ``lookup_factor(from_unit, to_unit)`` gives the multiplicative factor
    (how many ``to_unit`` make one ``from_unit``; refused for temperature);
    ``add``, ``subtract``, ``multiply``, ``divide``, ``sum_numbers`` and
    ``round_number`` are the Calc domain's tool objects, reused unchanged.
    Units are a fixed string enum in the schema (:data:`UNITS`), grouped by
    dimension: length, mass, time, temperature, volume, data. Data prefixes
    are explicit: ``KB``/``MB``/``GB``/``TB`` are decimal (1000**n bytes, as
    disk and network vendors use them), ``KiB``/``MiB``/``GiB``/``TiB`` binary
    (1024**n bytes); ``bit`` is 1/8 byte, ``Mbit``/``Gbit`` are 10**6/10**9 bits.
    ``gal`` and ``cup`` are US customary (3.785411784 l, 1/16 gal), ``t`` the
    metric tonne, ``lb``/``oz`` avoirdupois. Conversions are exact (rational
    factors) and rounded once to a float. Values are bounded to
    ``|x| <= 1e12`` and results to ``|r| <= 1e15``; an unknown unit is refused
    by the schema (the message lists the valid units), and mismatched
    dimensions, temperatures below absolute zero and oversized results are
    error messages that say what to do instead.

Tasks
    :meth:`UnitsDomain.generate` draws a word problem from a seed at
    difficulty 1-4: 1 = one conversion (or one factor lookup); 2 = a
    conversion and one arithmetic step (rounding included); 3 = two
    conversions and a step, or a conversion and two steps; 4 = chained
    problems of four or five calls (trip times, fuel bills, storage, recipe
    scaling). ``ood=True`` uses wording templates, story families and units
    that in-distribution tasks never use (``yd``, ``t``, ``week``, ``cup``,
    ``gal``, the binary data units and bits, and the F<->K pair), larger
    values, and one more call at every level. The gold answer is what the
    tools produce, formatted by :func:`~mentor_env.core.tools.format_value`.

Teacher
    Evaluates the problem's call tree bottom-up, making every call whose
    inputs are known in the same turn (independent conversions in parallel):
    the fewest calls and turns. Per-unit prices and rates are converted with
    ``lookup_factor``; quantities with ``convert``.

Judge
    :func:`~mentor_env.domains.answers.numbers_match`: exact, except a rounded
    real (12 significant digits) within a relative 1e-6. The number is written
    without its unit: the judge cannot check ``21 min`` against the question,
    so a unit is refused rather than ignored (a dollar sign is accepted).

Modules
    :mod:`.measures` (the unit table), :mod:`.tools`, :mod:`.templates`
    (values, wording, question templates), :mod:`.teacher` (a problem as a
    :class:`~mentor_env.domains.scripted.Call` graph for
    :func:`~mentor_env.domains.scripted.solve_calls`), :mod:`.judge`.

Spaces, rewards, termination and arguments are those of
:class:`~mentor_env.core.env.ToolUseEnv`.
"""

from __future__ import annotations

import random

from mentor_env.domains.base import Draw, GeneratedDomain
from mentor_env.domains.units.judge import judge_answer
from mentor_env.domains.units.teacher import solve
from mentor_env.domains.units.templates import OOD_TEMPLATES, TEMPLATES
from mentor_env.domains.units.tools import TOOLS

__all__ = ["UnitsDomain"]

SYSTEM_PROMPT = (
    "You are a careful assistant that answers unit-conversion questions with the tools provided. "
    "Use convert for every change of unit of a quantity, lookup_factor for the factor between two units "
    "(for example to turn a price per pound into a price per kilogram), and the calculator tools for every "
    "other arithmetic step; you may make several independent calls in one turn. "
    "Data sizes: KB, MB, GB and TB are decimal (1000, 1000^2, ... bytes); KiB, MiB, GiB and TiB are binary "
    "(1024, 1024^2, ... bytes). Gallons and cups are US customary units and t is the metric ton. "
    "Give the answer in the unit the question asks for, exactly as the tools printed it unless the question "
    "asks for rounding, and reply without a tool call with the final answer in \\boxed{}."
)


class UnitsDomain(GeneratedDomain):
    """Unit-conversion word problems with ``convert``, ``lookup_factor`` and six calculator tools."""

    name = "units"
    tools = TOOLS
    system_prompt = SYSTEM_PROMPT
    difficulties = (1, 2, 3, 4)

    def draw(self, rng: random.Random, level: int, ood: bool) -> Draw:
        # A plan whose values push a call out of range is drawn again.
        template = rng.choice(OOD_TEMPLATES[level] if ood else TEMPLATES[level])
        question, root = template(rng)
        meta = {
            "difficulty": level,
            "style": template.__name__.removeprefix("family_"),
            "operations": len(root.graph()),
        }
        return Draw(question, solve(root), meta)

    def judge(self, prediction: str, answer: str) -> bool:
        """:func:`~mentor_env.domains.units.judge.judge_answer`: the number, exact or a rounded real's 1e-6."""
        return judge_answer(prediction, answer)
