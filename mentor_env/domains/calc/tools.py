"""The twelve calculator tools (bounded inputs and results; failures are error messages)."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from mentor_env.core.tools import Tool, ToolError, number_param, object_schema

RESULT_LIMIT = 1e15
MAX_EXPONENT = 64
MAX_LIST = 100


def _checked(value: float | int) -> float | int:
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the result is not a finite number")
    if abs(value) > RESULT_LIMIT:
        raise ToolError(f"the result {value:.3g} is outside the supported range (|result| <= {RESULT_LIMIT:g})")
    return value


def add(a: float, b: float) -> float:
    return _checked(a + b)


def subtract(a: float, b: float) -> float:
    return _checked(a - b)


def multiply(a: float, b: float) -> float:
    return _checked(a * b)


def divide(a: float, b: float) -> float:
    if b == 0:
        raise ToolError("division by zero")
    if isinstance(a, int) and isinstance(b, int) and a % b == 0:
        return _checked(a // b)
    return _checked(a / b)


def sum_numbers(numbers: list[float]) -> float:
    if all(isinstance(number, int) for number in numbers):
        return _checked(sum(numbers))
    return _checked(math.fsum(numbers))


def floor(x: float) -> int:
    return math.floor(x)


def ceil(x: float) -> int:
    return math.ceil(x)


def round_number(x: float, decimals: int = 0) -> float:
    # Half away from zero, as people round; Python's round() rounds half to even.
    quantum = Decimal(1).scaleb(-int(decimals))  # JSON Schema counts 2.0 as an integer
    rounded = Decimal(repr(x)).quantize(quantum, rounding=ROUND_HALF_UP)
    return int(rounded) if decimals == 0 else float(rounded)


def power(base: float, exponent: float) -> float:
    if base == 0 and exponent < 0:
        raise ToolError("zero cannot be raised to a negative power")
    if base < 0 and not float(exponent).is_integer():
        raise ToolError("a negative base needs a whole-number exponent")
    if base != 0 and exponent * math.log10(abs(base)) > math.log10(RESULT_LIMIT):
        raise ToolError(f"the result is outside the supported range (|result| <= {RESULT_LIMIT:g})")
    if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0:
        return _checked(base**exponent)
    return _checked(float(base) ** float(exponent))


def sqrt(x: float) -> float:
    if x < 0:
        raise ToolError("the square root of a negative number is not real")
    if isinstance(x, int) and math.isqrt(x) ** 2 == x:
        return math.isqrt(x)
    return math.sqrt(x)


def abs_value(x: float) -> float:
    return abs(x)


def modulo(a: float, b: float) -> float:
    if b == 0:
        raise ToolError("modulo by zero")
    return _checked(a % b)


_PAIR = object_schema({"a": number_param("The first number."), "b": number_param("The second number.")})
_ONE = object_schema({"x": number_param("The number.")})

TOOLS: tuple[Tool, ...] = (
    Tool("add", "Add two numbers: a + b.", _PAIR, add),
    Tool("subtract", "Subtract the second number from the first: a - b.", _PAIR, subtract),
    Tool("multiply", "Multiply two numbers: a * b.", _PAIR, multiply),
    Tool("divide", "Divide the first number by the second: a / b.", _PAIR, divide),
    Tool(
        "sum_numbers",
        "Add up a list of numbers.",
        object_schema(
            {
                "numbers": {
                    "type": "array",
                    "items": number_param("A number."),
                    "minItems": 1,
                    "maxItems": MAX_LIST,
                    "description": "The numbers to add.",
                }
            }
        ),
        sum_numbers,
    ),
    Tool("floor", "Round a number down to the nearest integer.", _ONE, floor),
    Tool("ceil", "Round a number up to the nearest integer.", _ONE, ceil),
    Tool(
        "round_number",
        "Round a number to a given number of decimal places (halves round away from zero).",
        object_schema(
            {
                "x": number_param("The number to round."),
                "decimals": {"type": "integer", "minimum": 0, "maximum": 10, "description": "Decimal places to keep."},
            },
            required=["x"],
        ),
        round_number,
    ),
    Tool(
        "power",
        "Raise a base to an exponent: base ** exponent.",
        object_schema({"base": number_param("The base."), "exponent": number_param("The exponent.", MAX_EXPONENT)}),
        power,
    ),
    Tool("sqrt", "The square root of a non-negative number.", _ONE, sqrt),
    Tool("abs_value", "The absolute value of a number.", _ONE, abs_value),
    Tool("modulo", "The remainder of a divided by b (a mod b).", _PAIR, modulo),
)

TOOL_NAMES = tuple(tool.name for tool in TOOLS)
