r"""``mentor/Calc-v0``: arithmetic word problems solved with calculator tools.

The math setting of MENTOR: the model has the twelve calculator tools of the
published runs and must answer a word problem with ``\boxed{}``.

Tools
    ``add(a, b)``, ``subtract(a, b)``, ``multiply(a, b)``, ``divide(a, b)``,
    ``sum_numbers(numbers)``, ``floor(x)``, ``ceil(x)``,
    ``round_number(x, decimals)``, ``power(base, exponent)``, ``sqrt(x)``,
    ``abs_value(x)``, ``modulo(a, b)``. Inputs are bounded to
    ``|x| <= 1e12`` (exponents to ``|e| <= 64``, lists to 100 numbers) and
    results to ``|r| <= 1e15``; division by zero, roots of negatives and
    oversized results are error messages, never exceptions or hangs.

Tasks
    :meth:`CalcDomain.generate` builds a problem from a seed at difficulty
    1-5 (the number of tool operations the teacher needs, with nesting),
    worded as a story, a symbolic expression or a verbal expression, with
    integers and, from difficulty 3, decimals. The gold answer is what the
    tools produce, formatted as :func:`~mentor_env.core.tools.format_value`
    does.

Teacher
    Solves the expression tree bottom-up, calling every operation whose inputs
    are known in the same turn (independent calls in parallel), using
    ``sum_numbers`` for sums of three or more terms: the fewest calls and turns.

Judge
    :func:`~mentor_env.domains.answers.numbers_match`: integers and the
    decimals the tools print exactly compare exactly; a rounded real (12
    significant digits, as :func:`~mentor_env.core.tools.format_value` prints
    a rounded result) within a relative 1e-6. Forms of one value match
    (``12.0``, ``1,200``, ``\frac{24}{2}``, ``$12``, ``\text{12}``); scale
    words convert (``12 thousand``); other words after the number (``12
    apples``) are refused. The card, ``tasks/calc/README.md``, has the rules.

Modules
    :mod:`.tools` (the calculator tools), :mod:`.expressions` (expression
    trees), :mod:`.templates` (story templates, symbolic and verbal wordings,
    random expressions), :mod:`.teacher` (the tree as a
    :class:`~mentor_env.domains.scripted.Call` graph for
    :func:`~mentor_env.domains.scripted.solve_calls`); the judge is
    :func:`~mentor_env.domains.answers.numbers_match`.

Spaces, rewards, termination and arguments are those of
:class:`~mentor_env.core.env.ToolUseEnv`.
"""

from __future__ import annotations

import random

from mentor_env.domains.answers import MONEY_UNITS, numbers_match
from mentor_env.domains.base import Draw, GeneratedDomain
from mentor_env.domains.calc.teacher import solve
from mentor_env.domains.calc.templates import draw_question
from mentor_env.domains.calc.tools import TOOLS

__all__ = ["CalcDomain"]

SYSTEM_PROMPT = (
    "You are a careful assistant that solves math word problems with the calculator tools provided. "
    "Do every arithmetic step with a tool call; you may make several independent calls in one turn. "
    "When you know the result, reply without a tool call and put the final answer in \\boxed{}."
)


class CalcDomain(GeneratedDomain):
    """Arithmetic word problems with the twelve MENTOR calculator tools.

    ``ood=True``: story families, wordings and magnitudes that in-distribution
    tasks never use, and random expressions with two more operations.
    """

    name = "calc"
    tools = TOOLS
    system_prompt = SYSTEM_PROMPT
    difficulties = (1, 2, 3, 4, 5)
    # The paper's training domain: five times the other domains' training tasks.
    split_sizes = {"train": 5_000, "test": 500, "ood": 500}
    # reasoning-gym's tasks that these tools solve (mentor_env.external.reasoning_gym).
    extra_splits = {"ood-reasoning-gym": "mentor_env.external.reasoning_gym:calc_tasks"}

    def draw(self, rng: random.Random, level: int, ood: bool) -> Draw:
        # A plan that fails (a division by zero deep in a random tree) is drawn again.
        question, tree, style = draw_question(rng, level, ood)
        return Draw(question, solve(tree), {"difficulty": level, "style": style, "operations": tree.count_ops()})

    def judge(self, prediction: str, answer: str) -> bool:
        return numbers_match(prediction, answer, MONEY_UNITS)
