"""Question templates: values and wording, in-distribution and out-of-distribution families."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import Callable

from mentor_env.core.tools import format_value
from mentor_env.domains.scripted import Call
from mentor_env.domains.units.measures import UNITS, UNITS_BY_DIMENSION, is_ood_pair
from mentor_env.domains.units.teacher import Number, arith, conv, factor, rounded
from mentor_env.domains.units.tools import convert

# A typical range of quantities written in each unit, so that questions read naturally.
TYPICAL_RANGE: dict[str, tuple[float, float]] = {
    "mm": (1, 2000), "cm": (1, 500), "m": (1, 5000), "km": (1, 500), "in": (1, 200), "ft": (1, 2000),
    "yd": (1, 1000), "mile": (1, 300), "mg": (1, 5000), "g": (1, 5000), "kg": (1, 500), "t": (1, 100),
    "oz": (1, 200), "lb": (1, 500), "ms": (1, 10000), "s": (1, 10000), "min": (1, 1000), "h": (1, 500),
    "day": (1, 365), "week": (1, 104), "C": (-40, 250), "F": (-40, 480), "K": (0, 600), "ml": (1, 5000),
    "l": (1, 500), "m3": (1, 100), "cup": (1, 50), "gal": (1, 500), "bit": (1, 100000), "Mbit": (1, 10000),
    "Gbit": (1, 1000), "B": (1, 100000), "KB": (1, 100000), "MB": (1, 100000), "GB": (1, 5000), "TB": (1, 100),
    "KiB": (1, 100000), "MiB": (1, 100000), "GiB": (1, 5000), "TiB": (1, 100),
}  # fmt: skip

# Symbols people write after a number; the others are spelled out.
_TEMPERATURE_SIGNS = {"C": "°C", "F": "°F", "K": "K"}
_DATA_UNITS = frozenset(UNITS_BY_DIMENSION["data"]) - {"bit"}


def quantity(value: Number, unit: str, spelled: bool = False) -> str:
    """``3.5 km`` / ``3.5 kilometers`` / ``20 °C`` / ``1 foot``, as a person writes it."""
    text = format_value(value)
    if unit in _TEMPERATURE_SIGNS and not spelled:
        return f"{text} {_TEMPERATURE_SIGNS[unit]}"
    if unit in _DATA_UNITS and not spelled:
        return f"{text} {unit}"
    if unit in ("mm", "cm", "m", "km", "kg", "g", "mg", "ml", "l", "ms") and not spelled:
        return f"{text} {unit}"
    names = UNITS[unit]
    return f"{text} {names.singular if value == 1 else names.plural}"


def unit_name(unit: str, plural: bool = True, spelled: bool = False) -> str:
    """How a question names a unit it asks for (data units by symbol, which is how people write them)."""
    if unit in _DATA_UNITS and not spelled:
        return unit
    return UNITS[unit].plural if plural else UNITS[unit].singular


def nice_number(rng: random.Random, low: float, high: float, decimals: int = 0) -> Number:
    """A number in [low, high] with at most ``decimals`` decimal places (an int when whole)."""
    scale = 10**decimals
    value = rng.randint(math.ceil(low * scale), math.floor(high * scale)) / scale
    value = round(value, decimals)
    return int(value) if value.is_integer() else value


def exact_result(value: Number, from_unit: str, to_unit: str) -> float:
    """The conversion computed here, to choose sensible rounding while wording a question."""
    return convert(value, from_unit, to_unit)


def decimals_for(magnitude: float, rng: random.Random) -> int:
    """Decimal places that keep three or four significant digits of ``magnitude``."""
    if magnitude == 0:
        return 2
    places = 2 - math.floor(math.log10(abs(magnitude)))
    return max(0, min(4, places + rng.choice((0, 1))))


def place_words(decimals: int, whole: str = "the nearest whole number") -> str:
    if decimals == 0:
        return whole
    return "1 decimal place" if decimals == 1 else f"{decimals} decimal places"


def _pairs(ood: bool, dimensions: tuple[str, ...]) -> list[tuple[str, str]]:
    """Unit pairs of these dimensions within a factor of 10**4, in or out of distribution."""
    pairs = []
    for dimension in dimensions:
        for from_unit in UNITS_BY_DIMENSION[dimension]:
            for to_unit in UNITS_BY_DIMENSION[dimension]:
                if from_unit == to_unit or is_ood_pair(from_unit, to_unit) != ood:
                    continue
                if dimension != "temperature":
                    ratio = UNITS[from_unit].factor / UNITS[to_unit].factor
                    if not Fraction(1, 10**4) <= ratio <= 10**4:
                        continue
                pairs.append((from_unit, to_unit))
    return pairs


_NON_TEMPERATURE = ("length", "mass", "time", "volume", "data")
ID_QUANTITY_PAIRS = _pairs(False, _NON_TEMPERATURE)
ID_TEMPERATURE_PAIRS = _pairs(False, ("temperature",))
ID_ALL_PAIRS = ID_QUANTITY_PAIRS + ID_TEMPERATURE_PAIRS
OOD_ALL_PAIRS = _pairs(True, _NON_TEMPERATURE + ("temperature",))

_NAMES = ("Maya", "Tom", "Aisha", "Lukas", "Sofia", "Kenji", "Nadia", "Omar", "Priya", "Ravi", "Elena", "Sam")

Template = Callable[[random.Random], tuple[str, Call]]


def _draw_value(rng: random.Random, unit: str, scale: float = 1.0) -> Number:
    low, high = TYPICAL_RANGE[unit]
    return nice_number(rng, low * scale if low > 0 else low, high * scale, rng.choice((0, 0, 1, 2)))


def family_convert(rng: random.Random) -> tuple[str, Call]:
    from_unit, to_unit = rng.choice(ID_QUANTITY_PAIRS)
    value = _draw_value(rng, from_unit)
    spelled = rng.random() < 0.5
    template = rng.choice(
        (
            "Convert {q} to {to}.",
            "How many {to} is {q}?",
            "What is {q} expressed in {to}?",
        )
    )
    question = template.format(q=quantity(value, from_unit, spelled), to=unit_name(to_unit))
    return question, conv(value, from_unit, to_unit)


def family_temperature(rng: random.Random) -> tuple[str, Call]:
    from_unit, to_unit = rng.choice(ID_TEMPERATURE_PAIRS)
    value = _draw_value(rng, from_unit)
    template = rng.choice(
        (
            "A thermometer shows {q}. What temperature is that in {to}?",
            "The forecast high is {q}. What is it in {to}?",
            "Convert a temperature of {q} to {to}.",
        )
    )
    return template.format(q=quantity(value, from_unit), to=unit_name(to_unit)), conv(value, from_unit, to_unit)


def family_unit_factor(rng: random.Random) -> tuple[str, Call]:
    from_unit, to_unit = rng.choice(ID_QUANTITY_PAIRS)
    template = rng.choice(
        (
            "How many {to} are there in one {one}?",
            "By what number do you multiply a {dimension} in {from_plural} to get it in {to}?",
        )
    )
    question = template.format(
        to=unit_name(to_unit, spelled=True),
        one=unit_name(from_unit, plural=False, spelled=True),
        from_plural=unit_name(from_unit, spelled=True),
        dimension=UNITS[from_unit].dimension.replace("data", "data size").replace("time", "duration"),
    )
    return question, factor(from_unit, to_unit)


def family_pace(rng: random.Random) -> tuple[str, Call]:
    distance_unit, pace_unit = rng.choice((("mile", "km"), ("km", "mile"), ("m", "km"), ("m", "mile")))
    distance = nice_number(rng, 2, 30, 1) if distance_unit != "m" else rng.randint(8, 200) * 50
    pace = nice_number(rng, 3.5, 12, 1)
    name = rng.choice(_NAMES)
    question = (
        f"{name} runs {quantity(distance, distance_unit)} at a steady pace of {format_value(pace)} minutes per "
        f"{unit_name(pace_unit, plural=False)}. How many minutes does the run take?"
    )
    return question, arith("multiply", conv(distance, distance_unit, pace_unit), pace)


# (file unit, link unit, link speeds): a link speed is written in the next smaller unit.
_TRANSFERS = (
    ("GB", "MB", (20, 25, 40, 50, 80, 100, 125, 200, 250, 400, 500)),
    ("MB", "KB", (100, 125, 200, 250, 400, 500, 800)),
    ("TB", "GB", (1, 2, 4, 5, 10)),
)


def _transfer(rng: random.Random, rounding: str) -> tuple[str, Call]:
    size_unit, rate_unit, rates = rng.choice(_TRANSFERS)
    size = nice_number(rng, 1, 50, 1) if size_unit == "TB" else nice_number(rng, 1, 900, 1)
    rate = rng.choice(rates)
    question = (
        f"A {quantity(size, size_unit)} file is copied over a link that moves {rate} {rate_unit} per second. "
        f"How many seconds does the copy take{rounding}?"
    )
    return question, arith("divide", conv(size, size_unit, rate_unit), rate)


def family_transfer(rng: random.Random) -> tuple[str, Call]:
    return _transfer(rng, "")


_PER_SERVING = (
    ("ml", "l", "stock"), ("ml", "l", "milk"), ("g", "kg", "flour"), ("g", "kg", "rice"), ("oz", "lb", "cheese"),
)  # fmt: skip


def family_per_serving(rng: random.Random) -> tuple[str, Call]:
    small, large, ingredient = rng.choice(_PER_SERVING)
    amount = rng.randint(2, 60) * 5 if small != "oz" else nice_number(rng, 1, 12, 1)
    servings = rng.randint(3, 60)
    question = (
        f"A recipe needs {quantity(amount, small)} of {ingredient} per serving. "
        f"How many {unit_name(large)} of {ingredient} do {servings} servings need?"
    )
    return question, arith("multiply", conv(amount, small, large), servings)


def family_convert_rounded(rng: random.Random) -> tuple[str, Call]:
    from_unit, to_unit = rng.choice(ID_ALL_PAIRS)
    value = _draw_value(rng, from_unit)
    places = decimals_for(exact_result(value, from_unit, to_unit), rng)
    template = rng.choice(
        (
            "Convert {q} to {to}, rounded to {places}.",
            "What is {q} in {to}? Round to {places}.",
        )
    )
    question = template.format(q=quantity(value, from_unit), to=unit_name(to_unit), places=place_words(places))
    return question, rounded(conv(value, from_unit, to_unit), places)


def family_oven(rng: random.Random) -> tuple[str, Call]:
    setting = rng.randint(60, 96) * 5  # 300-480 °F, 149-249 °C
    reference = rng.randint(10, 14) * 10
    question = (
        f"An oven is preheated to {quantity(setting, 'F')}. "
        f"How many degrees Celsius above {quantity(reference, 'C')} is that?"
    )
    return question, arith("subtract", conv(setting, "F", "C"), reference)


_COMBINED = {
    "length": (
        ("m", "ft", "cm"), ("ft", "in", "cm"), ("km", "mile", "m"), ("m", "cm", "in"), ("ft", "in", "m"),
    ),
    "mass": (("lb", "oz", "kg"), ("kg", "g", "lb"), ("lb", "oz", "g"), ("kg", "lb", "g")),
    "time": (("h", "min", "s"), ("day", "h", "min"), ("min", "s", "h"), ("h", "s", "min")),
    "volume": (("l", "ml", "m3"), ("m3", "l", "ml"), ("ml", "l", "m3")),
}  # fmt: skip
_COMBINED_WORDING = {
    "length": "A route has two sections, {a} and {b} long. What is its total length in {to}?",
    "mass": "A parcel holds {a} of books and {b} of packing material. What is its total mass in {to}?",
    "time": "A job takes {a} of setup and {b} of work. How long is that in total, in {to}?",
    "volume": "A tank holds {a} of water and {b} more is poured in. How much water is in it now, in {to}?",
}


def family_combined(rng: random.Random) -> tuple[str, Call]:
    dimension = rng.choice(("length", "mass", "time", "volume"))
    first_unit, second_unit, to_unit = rng.choice(_COMBINED[dimension])
    first, second = _draw_value(rng, first_unit), _draw_value(rng, second_unit)
    question = _COMBINED_WORDING[dimension].format(
        a=quantity(first, first_unit), b=quantity(second, second_unit), to=unit_name(to_unit)
    )
    return question, arith("add", conv(first, first_unit, to_unit), conv(second, second_unit, to_unit))


def family_recipe_scale(rng: random.Random) -> tuple[str, Call]:
    small, large, ingredient = rng.choice(_PER_SERVING[:4])
    cooks_for = rng.choice((2, 4, 5, 6, 8))
    amount = rng.randint(4, 200) * 5
    wanted = rng.choice([people for people in range(3, 25) if people != cooks_for])
    question = (
        f"A recipe for {cooks_for} people uses {quantity(amount, small)} of {ingredient}. "
        f"How many {unit_name(large)} of {ingredient} are needed for {wanted} people?"
    )
    return question, arith("multiply", conv(amount, small, large), arith("divide", wanted, cooks_for))


_PRICED = (
    ("lb", "kg", "Cheese"), ("kg", "lb", "Coffee"), ("lb", "kg", "Salmon"), ("ft", "m", "Rope"),
    ("m", "ft", "Cable"), ("mile", "km", "A taxi ride"), ("km", "mile", "A car rental"),
)  # fmt: skip


def family_unit_price(rng: random.Random) -> tuple[str, Call]:
    per_unit, wanted_unit, item = rng.choice(_PRICED)
    price = nice_number(rng, 0.5, 40, 2)
    verb = "costs"
    question = (
        f"{item} {verb} ${price:.2f} per {unit_name(per_unit, plural=False)}. "
        f"What is the price per {unit_name(wanted_unit, plural=False)}, rounded to the cent?"
    )
    # A price per lb becomes a price per kg by multiplying by the pounds in a kilogram.
    return question, rounded(arith("multiply", price, factor(wanted_unit, per_unit)), 2)


def family_walk_hours(rng: random.Random) -> tuple[str, Call]:
    distance_unit, pace_unit = rng.choice((("km", "mile"), ("mile", "km")))
    distance = nice_number(rng, 3, 40, 1)
    pace = nice_number(rng, 9, 22, 1)
    name = rng.choice(_NAMES)
    question = (
        f"{name} walks {quantity(distance, distance_unit)} at {format_value(pace)} minutes per "
        f"{unit_name(pace_unit, plural=False)}. How many hours does the walk take?"
    )
    return question, conv(arith("multiply", conv(distance, distance_unit, pace_unit), pace), "min", "h")


def family_transfer_rounded(rng: random.Random) -> tuple[str, Call]:
    question, step = _transfer(rng, ", rounded to 1 decimal place")
    return question, rounded(step, 1)


def family_trip_minutes(rng: random.Random) -> tuple[str, Call]:
    distance_unit, speed_unit = rng.choice((("mile", "km"), ("km", "mile")))
    distance = nice_number(rng, 5, 400, 1)
    speed = rng.randint(6, 24) * 5
    speed_text = f"{speed} km/h" if speed_unit == "km" else f"{speed} miles per hour"
    question = (
        f"A car travels {quantity(distance, distance_unit)} at an average speed of {speed_text}. "
        "How many minutes does the trip take, rounded to the nearest minute?"
    )
    hours = arith("divide", conv(distance, distance_unit, speed_unit), speed)
    return question, rounded(conv(hours, "h", "min"), 0)


def family_fuel_cost(rng: random.Random) -> tuple[str, Call]:
    distance = rng.randint(20, 900)
    consumption = nice_number(rng, 4, 14, 1)
    price = nice_number(rng, 1.2, 2.4, 2)
    question = (
        f"A {distance}-mile trip is made in a car that uses {format_value(consumption)} liters of fuel per 100 km, "
        f"and fuel costs ${price:.2f} per liter. What does the fuel cost, rounded to the cent?"
    )
    kilometers = conv(distance, "mile", "km")
    cost_per_100_km = arith("multiply", consumption, price)
    return question, rounded(arith("multiply", arith("divide", kilometers, 100), cost_per_100_km), 2)


def family_video_storage(rng: random.Random) -> tuple[str, Call]:
    rate = rng.choice((60, 90, 100, 130, 150, 200, 250, 350, 400, 600))
    card_unit = rng.choice(("GB", "GB", "TB"))
    card = rng.choice((32, 64, 128, 256, 512)) if card_unit == "GB" else rng.choice((1, 2, 4))
    question = (
        f"A camera records {rate} MB of video per minute. How many hours of video fit on a {card} {card_unit} "
        "memory card, rounded to 2 decimal places?"
    )
    minutes = arith("divide", conv(card, card_unit, "MB"), rate)
    return question, rounded(conv(minutes, "min", "h"), 2)


def family_legs_total(rng: random.Random) -> tuple[str, Call]:
    first = nice_number(rng, 1, 30, 1)
    miles = nice_number(rng, 1, 20, 1)
    meters = rng.randint(2, 95) * 50
    name = rng.choice(_NAMES)
    question = (
        f"{name}'s hike has three legs: {quantity(first, 'km')}, {quantity(miles, 'mile', spelled=True)} and "
        f"{quantity(meters, 'm')}. What is the total distance in kilometers, rounded to 2 decimal places?"
    )
    total = arith("sum_numbers", first, conv(miles, "mile", "km"), conv(meters, "m", "km"))
    return question, rounded(total, 2)


def family_recipe_mass(rng: random.Random) -> tuple[str, Call]:
    cooks_for = rng.choice((2, 4, 6, 8))
    ounces = nice_number(rng, 2, 40, 1)
    wanted = rng.choice([people for people in range(3, 30) if people != cooks_for])
    ingredient = rng.choice(("flour", "sugar", "butter", "oats"))
    question = (
        f"A recipe for {cooks_for} people calls for {quantity(ounces, 'oz')} of {ingredient}. "
        f"How many grams of {ingredient} are needed for {wanted} people, rounded to the nearest gram?"
    )
    return question, rounded(arith("multiply", conv(ounces, "oz", "g"), arith("divide", wanted, cooks_for)), 0)


TEMPLATES: dict[int, tuple[Template, ...]] = {
    1: (family_convert, family_convert, family_temperature, family_unit_factor),
    2: (family_pace, family_transfer, family_per_serving, family_convert_rounded, family_oven),
    3: (family_combined, family_recipe_scale, family_unit_price, family_walk_hours, family_transfer_rounded),
    4: (family_trip_minutes, family_fuel_cost, family_video_storage, family_legs_total, family_recipe_mass),
}


def ood_spec_sheet(rng: random.Random) -> tuple[str, Call]:
    from_unit, to_unit = rng.choice(OOD_ALL_PAIRS)
    value = _draw_value(rng, from_unit, scale=1.0 if from_unit in ("C", "F", "K") else 20.0)
    places = decimals_for(exact_result(value, from_unit, to_unit), rng)
    template = rng.choice(
        (
            "The label on a container reads {q}. How many {to} is that? Answer with {places}.",
            "A spec sheet lists {q}. Restate it in {to}; give {places}.",
        )
    )
    question = template.format(
        q=quantity(value, from_unit, spelled=True),
        to=unit_name(to_unit, spelled=True),
        places=place_words(places, whole="a whole number"),
    )
    return question, rounded(conv(value, from_unit, to_unit), places)


# (unit priced, unit wanted, what is sold, price range per priced unit, decimal places of the answer)
_OOD_RATES: tuple[tuple[str, str, str, tuple[float, float], int], ...] = (
    ("GiB", "TB", "cloud storage", (0.01, 0.3), 2),
    ("GB", "TiB", "cloud egress", (0.01, 0.2), 2),
    ("gal", "l", "gasoline", (2.5, 6), 3),
    ("l", "gal", "heating oil", (0.6, 1.8), 3),
    ("t", "lb", "gravel", (15, 90), 4),
    ("yd", "m", "ribbon", (0.2, 5), 3),
    ("cup", "l", "cold brew concentrate", (1.5, 6), 2),
)


def ood_rate_per_unit(rng: random.Random) -> tuple[str, Call]:
    per_unit, wanted_unit, item, (low, high), places = rng.choice(_OOD_RATES)
    price = nice_number(rng, low, high, 2)
    question = (
        f"Suppose {item} is billed at ${price:.2f} for each {unit_name(per_unit, plural=False, spelled=True)}. "
        f"Quoted per {unit_name(wanted_unit, plural=False, spelled=True)} instead, what is the price? "
        f"Give {place_words(places)}."
    )
    # A price per priced unit times the priced units in one wanted unit.
    return question, rounded(arith("multiply", price, factor(wanted_unit, per_unit)), places)


def ood_cryostat(rng: random.Random) -> tuple[str, Call]:
    kelvin = nice_number(rng, 4, 390, 2)
    places = rng.choice((1, 2))
    question = (
        f"A cryostat holds a sample at {quantity(kelvin, 'K')}. A colleague only reads Fahrenheit: "
        f"what reading should they expect, to {place_words(places)}?"
    )
    return question, rounded(conv(kelvin, "K", "F"), places)


def ood_memory(rng: random.Random) -> tuple[str, Call]:
    buffers = rng.randint(100, 200_000)
    size = rng.choice((4, 8, 16, 32, 64, 256, 512, 1024, 4096))
    target = rng.choice(("MB", "GB"))
    places = 3 if target == "MB" else 4
    question = (
        f"Suppose a program allocates {buffers} buffers of {size} KiB apiece. Expressed in decimal {target}, "
        f"how much memory is that? Give {place_words(places)}."
    )
    return question, rounded(conv(arith("multiply", buffers, size), "KiB", target), places)


def ood_orbits(rng: random.Random) -> tuple[str, Call]:
    period = nice_number(rng, 88, 130, 1)
    weeks = rng.randint(2, 520)
    question = (
        f"Suppose a satellite circles the Earth once every {format_value(period)} minutes. Over {weeks} weeks, how "
        "many orbits is that? Give 1 decimal place."
    )
    return question, rounded(arith("divide", conv(weeks, "week", "min"), period), 1)


def ood_freezer_gap(rng: random.Random) -> tuple[str, Call]:
    limit = rng.randint(-40, 10)
    kelvin = nice_number(rng, 180, 230, 1)
    question = (
        f"Suppose a lab freezer must stay below {quantity(limit, 'F')} and its probe reads {quantity(kelvin, 'K')}. "
        "How many Fahrenheit degrees of margin does it have? Give 2 decimal places."
    )
    return question, rounded(arith("subtract", limit, conv(kelvin, "K", "F")), 2)


def ood_tank(rng: random.Random) -> tuple[str, Call]:
    gallons = rng.randint(50, 20_000)
    leak = rng.randint(2, 400)
    question = (
        f"Suppose a {gallons}-gallon (US) tank drains at {leak} cups per hour. After how many days is it empty? "
        "Give 2 decimal places."
    )
    hours = arith("divide", conv(gallons, "gal", "cup"), leak)
    return question, rounded(conv(hours, "h", "day"), 2)


def ood_freight(rng: random.Random) -> tuple[str, Call]:
    cartons = rng.randint(20, 5000)
    weight = nice_number(rng, 5, 120, 1)
    rate = nice_number(rng, 40, 900, 2)
    question = (
        f"Suppose a shipment has {cartons} cartons weighing {format_value(weight)} lb apiece, and freight is billed "
        f"at ${rate:.2f} per metric ton. What is the freight bill? Give 2 decimal places."
    )
    tons = conv(arith("multiply", cartons, weight), "lb", "t")
    return question, rounded(arith("multiply", tons, rate), 2)


def ood_backup(rng: random.Random) -> tuple[str, Call]:
    size_unit = rng.choice(("GiB", "GiB", "TiB"))
    size = rng.randint(10, 9000) if size_unit == "GiB" else nice_number(rng, 1, 40, 1)
    link_unit = rng.choice(("Mbit", "Gbit"))
    link = rng.choice((20, 50, 100, 300, 500, 940)) if link_unit == "Mbit" else rng.choice((1, 2.5, 10))
    question = (
        f"Suppose a {format_value(size)} {size_unit} backup goes over a {format_value(link)} {link_unit}/s uplink. "
        "How long does that take in minutes? Give 1 decimal place."
    )
    seconds = arith("divide", conv(size, size_unit, link_unit), link)
    return question, rounded(conv(seconds, "s", "min"), 1)


def ood_fabric(rng: random.Random) -> tuple[str, Call]:
    meters = nice_number(rng, 2, 400, 1)
    feet = rng.randint(3, 900)
    inches = rng.randint(2, 700)
    price = nice_number(rng, 2, 60, 2)
    question = (
        f"Suppose a costume shop needs {quantity(meters, 'm', spelled=True)}, {quantity(feet, 'ft', spelled=True)} "
        f"and {quantity(inches, 'in', spelled=True)} of cloth priced at ${price:.2f} per yard. "
        "What does the cloth cost? Give 2 decimal places."
    )
    yards = arith("sum_numbers", conv(meters, "m", "yd"), conv(feet, "ft", "yd"), conv(inches, "in", "yd"))
    return question, rounded(arith("multiply", yards, price), 2)


def ood_mpg(rng: random.Random) -> tuple[str, Call]:
    kilometers = rng.randint(200, 20_000)
    mpg = rng.randint(18, 55)
    price = nice_number(rng, 1.1, 2.5, 2)
    question = (
        f"Suppose a road trip covers {kilometers} km in a car rated at {mpg} miles per US gallon, and gas sells for "
        f"${price:.2f} per liter. What does the gas cost? Give 2 decimal places."
    )
    gallons = arith("divide", conv(kilometers, "km", "mile"), mpg)
    return question, rounded(arith("multiply", conv(gallons, "gal", "l"), price), 2)


def ood_server(rng: random.Random) -> tuple[str, Call]:
    records = rng.randint(10_000, 5_000_000)
    record_size = rng.choice((2, 4, 8, 12, 16, 48))
    index = rng.randint(64, 90_000)
    question = (
        f"Suppose a database stores {records} records of {record_size} KiB apiece plus a {index} MiB index. "
        "Expressed in decimal GB, how much space is that altogether? Give 4 decimal places."
    )
    data = conv(arith("multiply", records, record_size), "KiB", "GB")
    return question, rounded(arith("add", data, conv(index, "MiB", "GB")), 4)


# One more call than the in-distribution families of the same level.
OOD_TEMPLATES: dict[int, tuple[Template, ...]] = {
    1: (ood_spec_sheet, ood_spec_sheet, ood_cryostat),
    2: (ood_memory, ood_orbits, ood_freezer_gap, ood_rate_per_unit),
    3: (ood_tank, ood_freight, ood_backup),
    4: (ood_fabric, ood_mpg, ood_server),
}
