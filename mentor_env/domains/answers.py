r"""Reading and comparing final answers, shared by the domains' judges.

The rules every judge follows (each domain card, ``tasks/<domain>/README.md``,
says which kinds of answer its tasks have):

* **Numbers are read exactly** (:class:`fractions.Fraction`, never a float), so
  ``2521164`` is not ``2521162`` however large the numbers are. Forms that
  state the same value are the same answer: ``2521162``, ``2,521,162``,
  ``2\,521\,162``, ``2{,}521{,}162``, ``2 521 162``, ``2521162.0``,
  ``2.521162e6``, ``2.521162 \times 10^{6}``, ``\frac{24}{2}`` and ``24/2``
  for 12; ``-3.5`` and ``−3.5``; ``$12.50`` and ``\$12.5``.
* **An integer-valued gold, and every gold decimal short enough to be exact,
  is compared exactly.** Only a *rounded real* gets a tolerance: a gold written
  with a decimal point or an exponent and :data:`PRINTED_DIGITS` (12) or more
  significant digits, which is what the tools print for a result they had to
  round (:func:`mentor_env.core.tools.format_value`: ``1/12`` prints as
  ``0.0833333333333``). A prediction matches a rounded real within a relative
  :data:`ROUNDED_REAL_TOLERANCE` (1e-6: about seven significant digits). A
  decimal the question asks to round (``27.47``, "to 2 decimal places") is
  exact: ``27.468688`` is not the answer asked for.
* **A word that changes the value is never dropped.** Scale words are converted
  (``12 thousand`` is 12000, ``3k`` is 3000, ``2.5 million``, ``5 dozen``),
  ``%`` and ``percent`` divide by 100 (``45%`` is 0.45). Any other word after the
  number is a unit, accepted only when the judge knows it is the task's unit:
  ``days`` for a Dates count, the dollar sign or ``dollars`` in the domains with
  prices (every price in the suite is in dollars, and no answer converts
  currencies). Any other unit is refused rather than ignored: ``5 weeks`` is
  not 5 days, and ``21 h`` cannot be checked against a gold ``21`` in minutes.
  Abbreviations that could be a unit as well as a scale (``K`` kelvin or
  thousand, ``M``, ``B`` bytes or billion) are refused too.
* **LaTeX wrappers are read through:** ``\text{284.78}``, ``\mathrm{..}``,
  ``\textbf{..}``, ``\num{..}``, a nested ``\boxed{..}``, math delimiters
  (``$..$``, ``\(..\)``), spacing commands and Unicode compatibility forms
  (full-width digits, thin spaces) all reduce to the plain answer
  (:func:`clean_answer`, which the name judges use too).

Judges never raise and refuse anything longer than their length guard
(:func:`readable`) before reading it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Collection

# Judges refuse longer predictions outright (no reading of megabyte answers).
MAX_ANSWER_CHARS = 200
# mentor_env.core.tools.format_value prints a float with 12 significant digits; a gold with that
# many may have been rounded, one with fewer is the exact value.
PRINTED_DIGITS = 12
ROUNDED_REAL_TOLERANCE = Fraction(1, 10**6)
# The canonical units, and the unit sets the domains accept after a number.
DOLLARS = "$"
DAYS = "day"
MONEY_UNITS: frozenset[str] = frozenset({DOLLARS})

_WRAPPER = re.compile(
    r"\\(?:text|textrm|textbf|textit|textsf|texttt|textnormal|mathrm|mathbf|mathit|mathsf|mathtt|mathnormal"
    r"|mbox|hbox|operatorname|boldsymbol|num|boxed)\s*\{([^{}]*)\}"
)
_DELIMITERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_SPACING = re.compile(r"\\[,;: ]|\\q?quad(?![A-Za-z])|~")
_DROPPED = re.compile(r"\\(?:left|right|displaystyle|textstyle)(?![A-Za-z])|\\!")
_SPACES = re.compile(r"\s+")

_DIGITS = r"[0-9]"
# Thousands groups: one separator used throughout, groups of exactly three digits.
_GROUPED = rf"{_DIGITS}{{1,3}}(?P<sep>[, ]){_DIGITS}{{3}}(?:(?P=sep){_DIGITS}{{3}})*(?:\.{_DIGITS}+)?"
_PLAIN = rf"{_DIGITS}+(?:\.{_DIGITS}*)?|\.{_DIGITS}+"
_DECIMAL = rf"(?:{_GROUPED}|{_PLAIN})"
_BARE = re.compile(rf"-?{_DIGITS}+(?:\.{_DIGITS}+)?")
_SIMPLE = re.compile(rf"[+-]?(?:{_GROUPED}|{_PLAIN})")
_EXPONENT = (
    rf"(?:[eE](?P<e>[+-]?{_DIGITS}{{1,3}})"
    rf"|\s*(?:\\times|\\cdot|×|·|\*)\s*10\s*\^\s*(?:\{{\s*(?P<braced>[+-]?{_DIGITS}{{1,3}})\s*\}}|(?P<bare>[+-]?{_DIGITS}{{1,3}})))"
)
_ANSWER = re.compile(
    r"(?:=\s*)?(?P<sign>[+-]?)\s*(?P<dollar>\$?)\s*(?P<sign2>[+-]?)\s*"
    r"(?:\\[dtc]?frac\s*\{\s*(?P<fnum>[^{}]*?)\s*\}\s*\{\s*(?P<fden>[^{}]*?)\s*\}"
    rf"|(?P<snum>{_PLAIN})\s*/\s*(?P<sden>{_PLAIN})(?![0-9./])"
    rf"|(?P<mantissa>{_DECIMAL})(?:{_EXPONENT})?)"
    r"\s*(?P<rest>.*)",
    re.DOTALL,
)
_SCALES: dict[str, Fraction] = {
    "hundred": Fraction(100),
    "hundreds": Fraction(100),
    "thousand": Fraction(10**3),
    "thousands": Fraction(10**3),
    "million": Fraction(10**6),
    "millions": Fraction(10**6),
    "billion": Fraction(10**9),
    "billions": Fraction(10**9),
    "trillion": Fraction(10**12),
    "trillions": Fraction(10**12),
    "dozen": Fraction(12),
    "dozens": Fraction(12),
    "percent": Fraction(1, 100),
    "per cent": Fraction(1, 100),
    "%": Fraction(1, 100),
}
_SCALE_WORD = re.compile(r"(?P<scale>%|per cent\b|[A-Za-z]+\b)\s*(?P<rest>.*)", re.DOTALL | re.IGNORECASE)
_KILO = re.compile(r"k(?![A-Za-z])\s*(?P<rest>.*)", re.DOTALL)  # lowercase only: K is also kelvin
_UNIT_ALIASES: dict[str, str] = {
    "$": DOLLARS,
    "dollar": DOLLARS,
    "dollars": DOLLARS,
    "usd": DOLLARS,
    "us dollars": DOLLARS,
    "day": DAYS,
    "days": DAYS,
}


@dataclass(frozen=True)
class Quantity:
    """A number read from an answer.

    Attributes:
        value: the exact value, scale words applied (``12 thousand`` -> 12000).
        unit: the canonical unit written with it (``"$"``, ``"day"``, or the
            unknown unit's text in lower case), ``""`` when none.
        digits: significant digits as written, when written with a decimal
            point or an exponent; 0 for an integer or a fraction.
    """

    value: Fraction
    unit: str = ""
    digits: int = 0

    @property
    def rounded_real(self) -> bool:
        """Whether, as a gold answer, this may be a rounded value (see the module doc)."""
        return self.digits >= PRINTED_DIGITS


def readable(prediction: object, max_chars: int = MAX_ANSWER_CHARS) -> bool:
    """Whether ``prediction`` is text of at most ``max_chars`` characters, which a judge reads at all."""
    return isinstance(prediction, str) and len(prediction) <= max_chars


def _strip_delimiters(text: str) -> str:
    for opening, closing in _DELIMITERS:
        if len(text) > len(opening) + len(closing) and text.startswith(opening) and text.endswith(closing):
            return text[len(opening) : -len(closing)].strip()
    return text


def _unwrap(text: str) -> str:
    # Innermost first, so \text{\textbf{x}} unwraps in two passes; each pass shortens the text.
    while True:
        unwrapped = _WRAPPER.sub(r"\1", text)
        if unwrapped == text:
            return text
        text = unwrapped


def clean_answer(text: str) -> str:
    """``text`` without LaTeX wrappers, math delimiters, spacing commands or a closing full stop.

    Unicode compatibility forms become plain (NFKC: full-width digits and letters,
    thin and no-break spaces), the minus sign U+2212 becomes ``-``, ``\\%`` and
    ``\\$`` become ``%`` and ``$``, ``{,}`` and ``{.}`` a comma and a point, and
    whitespace runs one space.
    Case is kept. Never raises on a string.
    """
    s = unicodedata.normalize("NFKC", text).replace("\u2212", "-").strip()
    s = _strip_delimiters(s)
    s = _unwrap(s)
    s = _DROPPED.sub("", s)
    s = _SPACING.sub(" ", s)
    s = s.replace("{,}", ",").replace("{.}", ".").replace("\\%", "%").replace("\\$", "$")
    s = _SPACES.sub(" ", s).strip()
    while len(s) > 2 and s.startswith("{") and s.endswith("}") and "}" not in s[1:-1]:
        s = s[1:-1].strip()
    return s[:-1].rstrip() if s.endswith(".") else s


def _decimal_value(text: str) -> Fraction:
    return Fraction(text.replace(",", "").replace(" ", ""))


def _significant_digits(mantissa: str) -> int:
    return len(mantissa.replace(",", "").replace(" ", "").replace(".", "").lstrip("+-").lstrip("0"))


def _ratio(numerator: str, denominator: str) -> Fraction | None:
    if not (_SIMPLE.fullmatch(numerator) and _SIMPLE.fullmatch(denominator)):
        return None
    bottom = _decimal_value(denominator)
    return _decimal_value(numerator) / bottom if bottom else None


def _mantissa(match: re.Match[str]) -> tuple[Fraction, int] | None:
    """The number's value before scale words, and its significant digits if written as a decimal."""
    if match.group("fnum") is not None:
        ratio = _ratio(match.group("fnum"), match.group("fden"))
        return None if ratio is None else (ratio, 0)
    if match.group("snum") is not None:
        ratio = _ratio(match.group("snum"), match.group("sden"))
        return None if ratio is None else (ratio, 0)
    mantissa = match.group("mantissa")
    value = _decimal_value(mantissa)
    exponent = match.group("e") or match.group("braced") or match.group("bare")
    if exponent is not None:
        power = int(exponent)
        value = value * 10**power if power >= 0 else value / 10**-power
    decimal = "." in mantissa or exponent is not None
    return value, _significant_digits(mantissa) if decimal else 0


def _scale(rest: str) -> tuple[Fraction | None, str]:
    """The scale factor that opens ``rest`` (``None`` when none) and what follows it."""
    kilo = _KILO.match(rest)
    if kilo:
        return Fraction(1000), kilo.group("rest")
    word = _SCALE_WORD.match(rest)
    if word and word.group("scale").lower() in _SCALES:
        return _SCALES[word.group("scale").lower()], word.group("rest")
    return None, rest


def _unit(dollar: bool, rest: str) -> str:
    unit = rest.strip().lower()
    unit = _UNIT_ALIASES.get(unit, unit)
    if dollar and unit not in ("", DOLLARS):
        return f"{DOLLARS} {unit}"  # "$13.12/kg": dollars per something, not dollars
    return DOLLARS if dollar else unit


def read_quantity(text: str) -> Quantity | None:
    """``text`` read as a number with an optional scale word and unit; ``None`` if it is not one.

    See the module doc for the forms. Never raises; ``None`` for text longer
    than :data:`MAX_ANSWER_CHARS`, words without a number (``twelve``),
    expressions (``3 + 4``) and a zero denominator.
    """
    if not readable(text):
        return None
    if _BARE.fullmatch(text):  # the common case, as the tools print numbers: nothing to clean
        return Quantity(Fraction(text), "", _significant_digits(text) if "." in text else 0)
    match = _ANSWER.fullmatch(clean_answer(text))
    if match is None or (match.group("sign") and match.group("sign2")):
        return None
    read = _mantissa(match)
    if read is None:
        return None
    value, digits = read
    factor, rest = _scale(match.group("rest"))
    if factor is not None:
        value, digits = value * factor, 0  # "2.5 million" is not a printed rounded result
    if "-" in (match.group("sign") + match.group("sign2")):
        value = -value
    return Quantity(value, _unit(bool(match.group("dollar")), rest), digits)


def gold_number(answer: str) -> Quantity | None:
    """A gold answer read as a number: unitless, in dollars or in days; ``None`` for a name or a date."""
    return _gold_number(answer) if isinstance(answer, str) else None


@functools.lru_cache(maxsize=4096)  # a task's gold is read at every judging of it; a Quantity is immutable
def _gold_number(answer: str) -> Quantity | None:
    quantity = read_quantity(answer)
    return quantity if quantity is not None and quantity.unit in ("", DOLLARS, DAYS) else None


def same_value(predicted: Fraction, gold: Quantity) -> bool:
    """Exact equality, or within :data:`ROUNDED_REAL_TOLERANCE` (relative) of a rounded-real gold."""
    if gold.rounded_real:
        return abs(predicted - gold.value) <= ROUNDED_REAL_TOLERANCE * abs(gold.value)
    return predicted == gold.value


def numbers_match(prediction: str, answer: str, units: Collection[str] = (), max_chars: int = MAX_ANSWER_CHARS) -> bool:
    """Whether ``prediction`` states the gold number ``answer`` (the module doc's rules). Never raises.

    ``units`` are the canonical units (:data:`DOLLARS`, :data:`DAYS`) the domain
    accepts after a number besides the gold's own (``"5 days"``).
    """
    if not readable(prediction, max_chars) or not isinstance(answer, str):
        return False
    gold, predicted = gold_number(answer), read_quantity(prediction)
    if gold is None or predicted is None:
        return False
    if predicted.unit and predicted.unit != gold.unit and predicted.unit not in units:
        return False
    return same_value(predicted.value, gold)


def number_or_name_match(
    prediction: str,
    answer: str,
    same_name: Callable[[str, str], bool],
    units: Collection[str] = (),
    max_chars: int = MAX_ANSWER_CHARS,
) -> bool:
    """Numbers (a gold answer :func:`gold_number` reads) by :func:`numbers_match`, names by ``same_name``.

    ``same_name(prediction, answer)`` is the domain's comparison of names. Never raises.
    """
    if not readable(prediction, max_chars) or not isinstance(answer, str):
        return False
    if gold_number(answer) is not None:
        return numbers_match(prediction, answer, units, max_chars)
    return same_name(prediction, answer)
