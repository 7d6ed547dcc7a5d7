"""Question templates: story families, symbolic and verbal wordings, random expressions."""

from __future__ import annotations

import random
from typing import Callable

from mentor_env.core.tools import format_value
from mentor_env.domains.calc.expressions import INFIX, Node, flatten_sums, leaf, op

_FUNCTION_SYMBOLS = {"floor": "floor", "ceil": "ceil", "sqrt": "sqrt", "abs_value": "abs"}


def render_symbolic(node: Node, top: bool = True) -> str:
    if node.is_leaf:
        return format_value(node.value)
    if node.op == "round_number":
        return f"round({render_symbolic(node.children[0])}, {node.decimals})"
    if node.op in _FUNCTION_SYMBOLS:
        inner = render_symbolic(node.children[0])
        return f"|{inner}|" if node.op == "abs_value" else f"{_FUNCTION_SYMBOLS[node.op]}({inner})"
    text = f" {INFIX[node.operation]} ".join(render_symbolic(child, top=False) for child in node.children)
    return text if top else f"({text})"


def render_verbal(node: Node, top: bool = True, ood: bool = False) -> str:
    if node.is_leaf:
        return format_value(node.value)
    parts = [render_verbal(child, top=False, ood=ood) for child in node.children]
    templates = _OOD_VERBAL if ood else _VERBAL
    text = templates[node.operation](parts, node.decimals)
    return text if top else f"({text})"


_Words = Callable[[list[str], int], str]
_VERBAL: dict[str, _Words] = {
    "add": lambda p, d: f"the sum of {p[0]} and {p[1]}",
    "sum_numbers": lambda p, d: f"the sum of {', '.join(p[:-1])} and {p[-1]}",
    "subtract": lambda p, d: f"{p[0]} minus {p[1]}",
    "multiply": lambda p, d: f"the product of {p[0]} and {p[1]}",
    "divide": lambda p, d: f"{p[0]} divided by {p[1]}",
    "power": lambda p, d: f"{p[0]} raised to the power of {p[1]}",
    "sqrt": lambda p, d: f"the square root of {p[0]}",
    "floor": lambda p, d: f"{p[0]} rounded down to a whole number",
    "ceil": lambda p, d: f"{p[0]} rounded up to a whole number",
    "round_number": lambda p, d: f"{p[0]} rounded to {d} decimal places",
    "abs_value": lambda p, d: f"the absolute value of {p[0]}",
    "modulo": lambda p, d: f"the remainder when {p[0]} is divided by {p[1]}",
}
# Wording that in-distribution tasks never use.
_OOD_VERBAL: dict[str, _Words] = {
    "add": lambda p, d: f"{p[0]} increased by {p[1]}",
    "sum_numbers": lambda p, d: f"the total of {', '.join(p[:-1])} and {p[-1]} together",
    "subtract": lambda p, d: f"{p[0]} reduced by {p[1]}",
    "multiply": lambda p, d: f"{p[0]} times {p[1]}",
    "divide": lambda p, d: f"the quotient of {p[0]} over {p[1]}",
    "power": lambda p, d: f"{p[0]} to the {p[1]}th power",
    "sqrt": lambda p, d: f"the number whose square is {p[0]}",
    "floor": lambda p, d: f"the greatest whole number not above {p[0]}",
    "ceil": lambda p, d: f"the smallest whole number not below {p[0]}",
    "round_number": lambda p, d: f"{p[0]}, given to {d} places after the decimal point",
    "abs_value": lambda p, d: f"the distance of {p[0]} from zero",
    "modulo": lambda p, d: f"what is left of {p[0]} after removing every whole multiple of {p[1]}",
}


_SYMBOLIC_PROMPTS = ("What is {e}?", "Calculate {e}.", "Evaluate {e}.", "Compute the value of {e}.")
_VERBAL_PROMPTS = ("What is {e}?", "Find {e}.", "Work out {e}.")
_OOD_SYMBOLIC_PROMPTS = ("Determine the exact value of the expression {e}.", "Simplify {e} to a single number.")
_OOD_VERBAL_PROMPTS = ("Tell me {e}.", "I need {e}; what number is it?")
_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jon", "Kemi", "Liam")
_ITEMS = ("notebooks", "pens", "apples", "tickets", "mugs", "books", "candles", "plants", "scarves", "batteries")


def _amount(rng: random.Random, low: int, high: int, decimals: bool) -> int | float:
    whole = rng.randint(low, high)
    return round(whole + rng.choice((0.25, 0.5, 0.75, 0.2, 0.4, 0.99)), 2) if decimals else whole


def _story_total(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    days = rng.randint(3, 6)
    sold = [rng.randint(12, 240) for _ in range(days)]
    listed = ", ".join(str(n) for n in sold[:-1]) + f" and {sold[-1]}"
    return (
        f"Over {days} days a bakery sold {listed} loaves of bread. How many loaves did it sell in all?",
        op("sum_numbers", *map(leaf, sold)),
    )


def _story_leftover(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    children = rng.randint(3, 12)
    marbles = rng.randint(children * 3, 500)
    return (
        f"{marbles} marbles are shared equally among {children} children, each getting as many as possible. "
        "How many marbles are left over?",
        op("modulo", leaf(marbles), leaf(children)),
    )


def _story_square_side(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    side = rng.randint(3, 60)
    return (
        f"A square garden has an area of {side * side} square meters. How long is one side, in meters?",
        op("sqrt", leaf(side * side)),
    )


def _story_buses(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    capacity = rng.randint(12, 60)
    students = rng.randint(capacity + 1, capacity * 9)
    return (
        f"A school trip has {students} students and each bus holds {capacity} students. "
        "How many buses are needed so that everyone has a seat?",
        op("ceil", op("divide", leaf(students), leaf(capacity))),
    )


def _story_temperature(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    morning, night = rng.randint(-15, 35), rng.randint(-20, 30)
    return (
        f"The temperature was {morning} degrees in the morning and {night} degrees at night. "
        "By how many degrees did it change?",
        op("abs_value", op("subtract", leaf(night), leaf(morning))),
    )


def _story_perimeter(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    side = rng.randint(3, 60)
    return (
        f"A square field has an area of {side * side} square meters. What is its perimeter, in meters?",
        op("multiply", op("sqrt", leaf(side * side)), leaf(4)),
    )


def _shopping(rng: random.Random, decimals: bool) -> tuple[str, str, Node]:
    name = rng.choice(_NAMES)
    first, second = rng.sample(_ITEMS, 2)
    a, b = rng.randint(2, 12), rng.randint(2, 12)
    p, q = _amount(rng, 1, 30, decimals), _amount(rng, 1, 30, decimals)
    text = f"{name} buys {a} {first} at ${format_value(p)} each and {b} {second} at ${format_value(q)} each."
    return name, text, op("add", op("multiply", leaf(a), leaf(p)), op("multiply", leaf(b), leaf(q)))


def _story_shopping(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    name, text, tree = _shopping(rng, decimals)
    return f"{text} How much does {name} spend in total, in dollars?", tree


def _story_average(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    count = rng.randint(3, 6)
    scores = [rng.randint(40, 100) for _ in range(count)]
    listed = ", ".join(str(s) for s in scores[:-1]) + f" and {scores[-1]}"
    return (
        f"A student scored {listed} on {count} tests. What is the average score, rounded to 2 decimal places?",
        op("round_number", op("divide", op("sum_numbers", *map(leaf, scores)), leaf(count)), decimals=2),
    )


def _story_savings(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    start = rng.randint(2, 50) * 100
    rate = rng.choice((1.02, 1.03, 1.04, 1.05, 1.06))
    years = rng.randint(2, 10)
    return (
        f"A savings account holds ${start} and grows by a factor of {rate} every year. "
        f"How much money is in it after {years} years, rounded to the cent?",
        op("round_number", op("multiply", leaf(start), op("power", leaf(rate), leaf(years))), decimals=2),
    )


def _story_coupon(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    name, text, tree = _shopping(rng, decimals)
    coupon = rng.randint(2, 10)
    return (
        f"{text} At the till {name} uses a ${coupon} coupon. How much does {name} pay, in dollars?",
        op("subtract", tree, leaf(coupon)),
    )


def _story_fuel(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    distance = rng.randint(120, 900)
    efficiency = rng.randint(8, 25)
    price = _amount(rng, 1, 2, True)
    people = rng.randint(2, 5)
    return (
        f"A car trip covers {distance} km and the car drives {efficiency} km per liter of fuel, which costs "
        f"${format_value(price)} per liter. If {people} friends share the fuel cost equally, how much does each pay, "
        "rounded to the cent?",
        op(
            "round_number",
            op("divide", op("multiply", op("divide", leaf(distance), leaf(efficiency)), leaf(price)), leaf(people)),
            decimals=2,
        ),
    )


def _story_tax(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    name, text, tree = _shopping(rng, decimals)
    coupon = rng.randint(2, 10)
    tax = rng.choice((1.05, 1.07, 1.08, 1.1))
    return (
        f"{text} {name} uses a ${coupon} coupon, then sales tax multiplies the bill by {tax}. "
        "What is the final bill, rounded to the cent?",
        op("round_number", op("multiply", op("subtract", tree, leaf(coupon)), leaf(tax)), decimals=2),
    )


# Story templates by difficulty (= operations the teacher performs).
TEMPLATES: dict[int, tuple[Callable[[random.Random, bool], tuple[str, Node]], ...]] = {
    1: (_story_total, _story_leftover, _story_square_side),
    2: (_story_buses, _story_temperature, _story_perimeter),
    3: (_story_shopping, _story_average, _story_savings),
    4: (_story_coupon, _story_fuel),
    5: (_story_tax,),
}


def _story_tiles(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    width, length = _amount(rng, 3, 40, True), _amount(rng, 3, 60, True)
    tile = rng.choice((0.25, 0.3, 0.4, 0.5, 0.6))
    return (
        f"A hall floor measures {format_value(width)} m by {format_value(length)} m and is covered with square tiles "
        f"{tile} m on a side. Tiles cannot be split, so how many must be bought?",
        op("ceil", op("divide", op("multiply", leaf(width), leaf(length)), op("multiply", leaf(tile), leaf(tile)))),
    )


def _story_overtime(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    name, rate, hours = rng.choice(_NAMES), _amount(rng, 15, 95, True), rng.randint(41, 80)
    return (
        f"{name} is paid ${format_value(rate)} an hour for the first 40 hours of a week and one and a half times "
        f"that rate for every further hour. What does {name} earn for a {hours}-hour week?",
        op(
            "add",
            op("multiply", leaf(40), leaf(rate)),
            op("multiply", op("multiply", leaf(rate), leaf(1.5)), op("subtract", leaf(hours), leaf(40))),
        ),
    )


def _story_recipe(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    serves, guests, grams = rng.randint(2, 12), rng.randint(13, 250), rng.randint(150, 2500)
    return (
        f"A recipe that feeds {serves} people calls for {grams} g of flour. A caterer cooks it for {guests} guests; "
        "how many grams of flour are needed, to the nearest gram?",
        op("round_number", op("multiply", op("divide", leaf(grams), leaf(serves)), leaf(guests)), decimals=0),
    )


def _story_unit_price(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    small, large = rng.randint(3, 24), rng.randint(25, 500)
    small_price, large_price = _amount(rng, 2, 40, True), _amount(rng, 41, 900, True)
    return (
        f"A shop sells a pack of {small} batteries for ${format_value(small_price)} and a pack of {large} for "
        f"${format_value(large_price)}. By how much does the price per battery differ between the packs, "
        "to the cent?",
        op(
            "round_number",
            op(
                "abs_value",
                op(
                    "subtract",
                    op("divide", leaf(small_price), leaf(small)),
                    op("divide", leaf(large_price), leaf(large)),
                ),
            ),
            decimals=2,
        ),
    )


def _story_loan(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    principal, rate, years = rng.randint(10, 900) * 100, rng.choice((3, 4, 5, 6, 7, 8)), rng.randint(3, 25)
    return (
        f"A loan of ${principal} accrues {rate}% interest per year, compounded yearly, and nothing is repaid. "
        f"What is owed after {years} years, to the cent?",
        op(
            "round_number",
            op(
                "multiply",
                leaf(principal),
                op("power", op("add", leaf(1), op("divide", leaf(rate), leaf(100))), leaf(years)),
            ),
            decimals=2,
        ),
    )


def _story_pace(rng: random.Random, decimals: bool) -> tuple[str, Node]:
    distance, hours, minutes = rng.choice((5, 10, 21.1, 42.2, 50, 100)), rng.randint(0, 9), rng.randint(1, 59)
    return (
        f"A runner covers {format_value(distance)} km in {hours} hours and {minutes} minutes. What is the average "
        "pace in minutes per km, to two decimals?",
        op(
            "round_number",
            op("divide", op("add", op("multiply", leaf(hours), leaf(60)), leaf(minutes)), leaf(distance)),
            decimals=2,
        ),
    )


OOD_TEMPLATES = (_story_tiles, _story_overtime, _story_recipe, _story_unit_price, _story_loan, _story_pace)
# Out-of-distribution random expressions need this many more operations than the level.
OOD_EXTRA_OPS = 2


_UNARY = ("floor", "ceil", "round_number", "abs_value")


def _random_tree_with(rng: random.Random, n_ops: int, decimals: bool, high: int | None = None) -> Node:
    """A random tree that still needs exactly ``n_ops`` calls after sums are merged."""
    tree = random_tree(rng, n_ops, decimals, high)
    while tree.count_ops() != n_ops:
        tree = random_tree(rng, n_ops, decimals, high)
    return tree


def random_tree(rng: random.Random, n_ops: int, decimals: bool, high: int | None = None) -> Node:
    """A random expression needing ``n_ops`` tool operations, leaves up to ``high``."""
    high = high or (20 if n_ops <= 2 else 99)
    return flatten_sums(_RandomTree(rng, decimals, high).build(n_ops))


_KINDS = ("add", "subtract", "multiply", "divide", "sum_numbers", "unary", "power", "modulo")


class _RandomTree:
    """Draws the nodes of :func:`random_tree` from ``rng``, in the order the draws are made."""

    def __init__(self, rng: random.Random, decimals: bool, high: int) -> None:
        self.rng, self.decimals, self.high = rng, decimals, high

    def number(self) -> int | float:
        """A leaf value: up to ``high``, with one decimal 30% of the time when ``decimals``."""
        if self.decimals and self.rng.random() < 0.3:
            return round(self.rng.randint(1, self.high * 10) / 10, 1)
        return self.rng.randint(2, self.high)

    def build(self, ops: int) -> Node:
        """A tree needing ``ops`` operations (before sums are merged)."""
        rng = self.rng
        if ops == 0:
            return leaf(self.number())
        if ops == 1 and rng.random() < 0.1:
            root = rng.randint(2, 25)
            return op("sqrt", leaf(root * root))
        kind = rng.choices(_KINDS, weights=(4, 4, 4, 3, 2, 2 if ops >= 2 else 0, 1, 1))[0]
        rest = ops - 1
        if kind == "unary":
            return self.unary(rest)
        if kind == "power":
            return op("power", self.build(rest) if rest else leaf(rng.randint(2, 12)), leaf(rng.choice((2, 2, 3))))
        if kind == "modulo":
            return op("modulo", self.build(rest), leaf(rng.randint(3, 12)))
        if kind == "sum_numbers":
            return self.sum_numbers(rest)
        left = rng.randint(0, rest)
        return op(kind, self.build(left), self.build(rest - left))

    def unary(self, rest: int) -> Node:
        """``floor``, ``ceil``, ``round_number`` or ``abs_value`` of a child needing ``rest`` operations."""
        rng = self.rng
        name = rng.choice(_UNARY)
        if name == "abs_value" and rest >= 1:
            child = op("subtract", self.build(rest - 1), leaf(self.number() + self.high))
        elif name == "abs_value":
            child = leaf(self.number())
        else:
            child = op("divide", self.build(rest - 1), leaf(rng.randint(3, 9)))
        return op(name, child, decimals=rng.choice((1, 2)) if name == "round_number" else 0)

    def sum_numbers(self, rest: int) -> Node:
        """``sum_numbers`` of 3 to 5 terms sharing ``rest`` operations at random."""
        rng = self.rng
        terms = rng.randint(3, 5)
        split = [0] * terms
        for _ in range(rest):
            split[rng.randrange(terms)] += 1
        return op("sum_numbers", *(self.build(k) for k in split))


def draw_question(rng: random.Random, level: int, ood: bool) -> tuple[str, Node, str]:
    """A question of ``level``: its text, its expression tree and its style (a story family or a wording)."""
    style = rng.choice(("story", "story", "symbolic", "verbal"))
    if ood:
        if style == "story":
            story = rng.choice(OOD_TEMPLATES)
            question, tree = story(rng, True)
            return question, tree, f"ood_{story.__name__.removeprefix('_story_')}"
        tree = _random_tree_with(rng, level + OOD_EXTRA_OPS, True, high=9999)
        if style == "symbolic":
            return rng.choice(_OOD_SYMBOLIC_PROMPTS).format(e=render_symbolic(tree)), tree, "ood_symbolic"
        return rng.choice(_OOD_VERBAL_PROMPTS).format(e=render_verbal(tree, ood=True)), tree, "ood_verbal"
    decimals = level >= 3
    if style == "story":
        question, tree = rng.choice(TEMPLATES[level])(rng, decimals)
        return question, tree, style
    tree = _random_tree_with(rng, level, decimals)
    if style == "symbolic":
        return rng.choice(_SYMBOLIC_PROMPTS).format(e=render_symbolic(tree)), tree, style
    return rng.choice(_VERBAL_PROMPTS).format(e=render_verbal(tree)), tree, style
