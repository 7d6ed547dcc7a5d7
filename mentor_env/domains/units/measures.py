"""The unit table: dimensions, exact factors, temperature scales, the units held out of distribution."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Unit:
    """One unit: its dimension, its size in the dimension's base unit, and its English names."""

    symbol: str
    dimension: str
    factor: Fraction  # size in the base unit (m, kg, s, l, B); unused for temperature
    singular: str
    plural: str


def _unit(symbol: str, dimension: str, factor: Fraction | int, singular: str, plural: str) -> Unit:
    return Unit(symbol, dimension, Fraction(factor), singular, plural)


_POUND = Fraction(45_359_237, 100_000_000)  # kg, exact by the 1959 international agreement
_US_GALLON = Fraction(3_785_411_784, 1_000_000_000)  # l, exact (231 cubic inches)

# Dimension order and unit order are the order of the schema enum and of error messages.
UNIT_TABLE: tuple[Unit, ...] = (
    _unit("mm", "length", Fraction(1, 1000), "millimeter", "millimeters"),
    _unit("cm", "length", Fraction(1, 100), "centimeter", "centimeters"),
    _unit("m", "length", 1, "meter", "meters"),
    _unit("km", "length", 1000, "kilometer", "kilometers"),
    _unit("in", "length", Fraction(254, 10_000), "inch", "inches"),
    _unit("ft", "length", Fraction(3048, 10_000), "foot", "feet"),
    _unit("yd", "length", Fraction(9144, 10_000), "yard", "yards"),
    _unit("mile", "length", Fraction(1_609_344, 1000), "mile", "miles"),
    _unit("mg", "mass", Fraction(1, 1_000_000), "milligram", "milligrams"),
    _unit("g", "mass", Fraction(1, 1000), "gram", "grams"),
    _unit("kg", "mass", 1, "kilogram", "kilograms"),
    _unit("t", "mass", 1000, "metric ton", "metric tons"),
    _unit("oz", "mass", _POUND / 16, "ounce", "ounces"),
    _unit("lb", "mass", _POUND, "pound", "pounds"),
    _unit("ms", "time", Fraction(1, 1000), "millisecond", "milliseconds"),
    _unit("s", "time", 1, "second", "seconds"),
    _unit("min", "time", 60, "minute", "minutes"),
    _unit("h", "time", 3600, "hour", "hours"),
    _unit("day", "time", 86_400, "day", "days"),
    _unit("week", "time", 604_800, "week", "weeks"),
    _unit("C", "temperature", 1, "degree Celsius", "degrees Celsius"),
    _unit("F", "temperature", 1, "degree Fahrenheit", "degrees Fahrenheit"),
    _unit("K", "temperature", 1, "kelvin", "kelvins"),
    _unit("ml", "volume", Fraction(1, 1000), "milliliter", "milliliters"),
    _unit("l", "volume", 1, "liter", "liters"),
    _unit("m3", "volume", 1000, "cubic meter", "cubic meters"),
    _unit("cup", "volume", _US_GALLON / 16, "cup", "cups"),
    _unit("gal", "volume", _US_GALLON, "US gallon", "US gallons"),
    _unit("bit", "data", Fraction(1, 8), "bit", "bits"),
    _unit("Mbit", "data", 125_000, "megabit", "megabits"),
    _unit("Gbit", "data", 125_000_000, "gigabit", "gigabits"),
    _unit("B", "data", 1, "byte", "bytes"),
    _unit("KB", "data", 10**3, "kilobyte", "kilobytes"),
    _unit("MB", "data", 10**6, "megabyte", "megabytes"),
    _unit("GB", "data", 10**9, "gigabyte", "gigabytes"),
    _unit("TB", "data", 10**12, "terabyte", "terabytes"),
    _unit("KiB", "data", 2**10, "kibibyte", "kibibytes"),
    _unit("MiB", "data", 2**20, "mebibyte", "mebibytes"),
    _unit("GiB", "data", 2**30, "gibibyte", "gibibytes"),
    _unit("TiB", "data", 2**40, "tebibyte", "tebibytes"),
)
UNITS: dict[str, Unit] = {unit.symbol: unit for unit in UNIT_TABLE}
DIMENSIONS: tuple[str, ...] = ("length", "mass", "time", "temperature", "volume", "data")
UNITS_BY_DIMENSION: dict[str, tuple[str, ...]] = {
    dimension: tuple(unit.symbol for unit in UNIT_TABLE if unit.dimension == dimension) for dimension in DIMENSIONS
}

# Kelvin = (value + offset) * scale, exactly.
TO_KELVIN: dict[str, tuple[Fraction, Fraction]] = {
    "C": (Fraction(27315, 100), Fraction(1)),
    "F": (Fraction(45967, 100), Fraction(5, 9)),
    "K": (Fraction(0), Fraction(1)),
}

# Held out of in-distribution tasks: any task that touches one of these units
# (or converts between F and K) is out of distribution.
OOD_UNITS: frozenset[str] = frozenset(
    {"yd", "t", "week", "cup", "gal", "bit", "Mbit", "Gbit", "KiB", "MiB", "GiB", "TiB"}
)
OOD_PAIRS: frozenset[tuple[str, str]] = frozenset({("F", "K"), ("K", "F")})


def is_ood_pair(from_unit: str, to_unit: str) -> bool:
    """Whether a conversion between these units only ever appears in ood tasks."""
    return from_unit in OOD_UNITS or to_unit in OOD_UNITS or (from_unit, to_unit) in OOD_PAIRS


def unit_listing() -> str:
    return "; ".join(f"{dimension}: {', '.join(UNITS_BY_DIMENSION[dimension])}" for dimension in DIMENSIONS)
