"""``convert`` and ``lookup_factor`` (exact rational arithmetic), plus six calculator tools."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from mentor_env.core.tools import Tool, ToolError, format_value, number_param, object_schema
from mentor_env.domains.calc.tools import TOOLS as CALC_TOOLS
from mentor_env.domains.units.measures import TO_KELVIN, UNITS, UNITS_BY_DIMENSION, Unit, unit_listing

# Inputs as large as the calculator tools accept, so any value can go on to them.
VALUE_LIMIT = 1e12
RESULT_LIMIT = 1e15


def _lookup_unit(symbol: Any) -> Unit:
    # The schema enum already refuses unknown units; this guards direct calls.
    unit = UNITS.get(symbol) if isinstance(symbol, str) else None
    if unit is None:
        raise ToolError(f"unknown unit {str(symbol)[:40]!r}; valid units are {unit_listing()}")
    return unit


def _same_dimension(from_unit: str, to_unit: str) -> tuple[Unit, Unit]:
    source, target = _lookup_unit(from_unit), _lookup_unit(to_unit)
    if source.dimension != target.dimension:
        raise ToolError(
            f"cannot convert {source.symbol} ({source.dimension}) to {target.symbol} ({target.dimension}); "
            f"both units must measure the same quantity. {source.dimension} units are: "
            f"{', '.join(UNITS_BY_DIMENSION[source.dimension])}"
        )
    return source, target


def _exact(value: float) -> Fraction:
    """The decimal number the model wrote (0.1 is 1/10, not the nearest binary float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ToolError(f"value must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ToolError("value must be a finite number")
    return Fraction(value) if isinstance(value, int) else Fraction(repr(value))


def _checked(result: Fraction, unit: str) -> float:
    if abs(result) > RESULT_LIMIT:
        raise ToolError(
            f"the result {float(result):.3g} {unit} is outside the supported range (|result| <= {RESULT_LIMIT:g}); "
            "convert to a larger unit"
        )
    return float(result)


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """``value`` in ``from_unit`` expressed in ``to_unit``."""
    source, target = _same_dimension(from_unit, to_unit)
    exact = _exact(value)
    if source.dimension != "temperature":
        return _checked(exact * source.factor / target.factor, target.symbol)
    offset, scale = TO_KELVIN[source.symbol]
    kelvin = (exact + offset) * scale
    if kelvin < 0:
        zero = format_value(float(-offset))
        raise ToolError(
            f"{format_value(value)} {source.symbol} is below absolute zero ({zero} {source.symbol}); "
            "no temperature is lower"
        )
    target_offset, target_scale = TO_KELVIN[target.symbol]
    return _checked(kelvin / target_scale - target_offset, target.symbol)


def lookup_factor(from_unit: str, to_unit: str) -> float:
    """How many ``to_unit`` make one ``from_unit`` (multiply a value in ``from_unit`` by it)."""
    source, target = _same_dimension(from_unit, to_unit)
    if source.dimension == "temperature":
        raise ToolError(
            f"{source.symbol} to {target.symbol} is not a multiplicative conversion (temperature scales have "
            "different zero points); call convert with the temperature instead"
        )
    return _checked(source.factor / target.factor, target.symbol)


def _unit_param(description: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(UNITS), "description": description}


CONVERT = Tool(
    "convert",
    "Convert a quantity from one unit to another of the same dimension (temperature included). "
    f"Units: {unit_listing()}. KB/MB/GB/TB are decimal, KiB/MiB/GiB/TiB binary.",
    object_schema(
        {
            "value": number_param("The quantity, in from_unit.", VALUE_LIMIT),
            "from_unit": _unit_param("The unit the value is in."),
            "to_unit": _unit_param("The unit to express the value in."),
        }
    ),
    convert,
)
LOOKUP_FACTOR = Tool(
    "lookup_factor",
    "The multiplicative conversion factor: how many to_unit make one from_unit "
    "(not available for temperatures, whose scales have different zero points).",
    object_schema(
        {
            "from_unit": _unit_param("The unit to convert from."),
            "to_unit": _unit_param("The unit to convert to."),
        }
    ),
    lookup_factor,
)

_CALC_TOOLS = {tool.name: tool for tool in CALC_TOOLS}
ARITHMETIC_TOOL_NAMES = ("add", "subtract", "multiply", "divide", "sum_numbers", "round_number")
TOOLS: tuple[Tool, ...] = (CONVERT, LOOKUP_FACTOR) + tuple(_CALC_TOOLS[name] for name in ARITHMETIC_TOOL_NAMES)
TOOL_NAMES = tuple(tool.name for tool in TOOLS)
