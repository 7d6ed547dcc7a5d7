r"""The judges: exact where the answer is exact, scale words and units never dropped, LaTeX read through.

The rules are in the module doc of ``mentor_env.domains.answers``; each domain's own forms (dates,
weekdays, names) are in that domain's test file. Here: the number reader, the rules every judge shares,
the examples of issue 21 on their real tasks, and every teacher's final answer on every frozen split.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mentor_env.core.parsing import last_boxed
from mentor_env.core.splits import SPLITS, extra_splits, load_split
from mentor_env.core.tools import format_value
from mentor_env.domains import DOMAINS, get_domain
from mentor_env.domains.answers import (
    PRINTED_DIGITS,
    Quantity,
    clean_answer,
    gold_number,
    numbers_match,
    read_quantity,
)
from tests.timing import cpu_time_bound

NUMERIC_DOMAINS = ("calc", "units", "dates", "lookup", "table")


# --- reading numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value, unit",
    [
        ("2521162", Fraction(2521162), ""),
        ("2,521,162", Fraction(2521162), ""),
        ("2\\,521\\,162", Fraction(2521162), ""),
        ("2{,}521{,}162", Fraction(2521162), ""),
        ("2 521 162", Fraction(2521162), ""),
        ("2\u2009521\u2009162", Fraction(2521162), ""),  # thin spaces
        ("2521162.0", Fraction(2521162), ""),
        ("2.521162e6", Fraction(2521162), ""),
        ("2.521162E+06", Fraction(2521162), ""),
        ("2.521162 \\times 10^{6}", Fraction(2521162), ""),
        ("2.521162×10^6", Fraction(2521162), ""),
        ("13907110055", Fraction(13907110055), ""),
        ("123456789012345678901", Fraction(123456789012345678901), ""),  # past float precision, still exact
        ("\\frac{24}{2}", Fraction(12), ""),
        ("\\dfrac{3}{4}", Fraction(3, 4), ""),
        ("-\\frac{1}{2}", Fraction(-1, 2), ""),
        ("3/4", Fraction(3, 4), ""),
        ("-3.5", Fraction(-7, 2), ""),
        ("\u22123.5", Fraction(-7, 2), ""),  # the minus sign U+2212
        ("+7", Fraction(7), ""),
        ("= 7", Fraction(7), ""),
        ("7.", Fraction(7), ""),
        (".5", Fraction(1, 2), ""),
        ("１２", Fraction(12), ""),  # full-width digits
        ("\\text{284.78}", Fraction(28478, 100), ""),
        ("\\mathrm{284.78}", Fraction(28478, 100), ""),
        ("\\textbf{\\text{284.78}}", Fraction(28478, 100), ""),
        ("$284.78$", Fraction(28478, 100), ""),  # math delimiters, not dollars
        ("\\(284.78\\)", Fraction(28478, 100), ""),
        ("{284.78}", Fraction(28478, 100), ""),
        ("\\num{2521162}", Fraction(2521162), ""),
        ("\\boxed{284.78}", Fraction(28478, 100), ""),
        ("\\cfrac{3}{4}", Fraction(3, 4), ""),
        ("2\\text{ }521\\text{ }162", Fraction(2521162), ""),
        ("\\displaystyle 12", Fraction(12), ""),
        ("12 USD", Fraction(12), "$"),
        ("1e3 days", Fraction(1000), "day"),
        ("$12", Fraction(12), "$"),
        ("\\$12.50", Fraction(25, 2), "$"),
        ("-$5", Fraction(-5), "$"),
        ("$-5", Fraction(-5), "$"),
        ("12 dollars", Fraction(12), "$"),
        ("12 thousand", Fraction(12000), ""),
        ("12 Thousand", Fraction(12000), ""),
        ("12 million", Fraction(12_000_000), ""),
        ("2.5 billion", Fraction(2_500_000_000), ""),
        ("1 trillion", Fraction(10**12), ""),
        ("12 hundred", Fraction(1200), ""),
        ("5 dozen", Fraction(60), ""),
        ("3k", Fraction(3000), ""),
        ("3 k", Fraction(3000), ""),
        ("$3k", Fraction(3000), "$"),
        ("12 thousand dollars", Fraction(12000), "$"),
        ("45%", Fraction(45, 100), ""),
        ("45\\%", Fraction(45, 100), ""),
        ("45 percent", Fraction(45, 100), ""),
        ("45 per cent", Fraction(45, 100), ""),
        ("5 days", Fraction(5), "day"),
        ("5 day", Fraction(5), "day"),
        ("12\\,\\text{days}", Fraction(12), "day"),
        ("5 weeks", Fraction(5), "weeks"),
        ("3K", Fraction(3), "k"),  # kelvin or thousand: left as a unit, which judges refuse
        ("3M", Fraction(3), "m"),
        ("12 apples", Fraction(12), "apples"),
        ("$13.12/kg", Fraction(1312, 100), "$ /kg"),
    ],
)
def test_read_quantity(text: str, value: Fraction, unit: str) -> None:
    quantity = read_quantity(text)
    assert quantity is not None and (quantity.value, quantity.unit) == (value, unit)


@pytest.mark.parametrize(
    "text",
    [
        "twelve",
        "",
        "   ",
        "1/0",
        "\\frac{1}{0}",
        "inf",
        "nan",
        "-$-5",
        "1" * 201,
        "\\boxed{",
        "x = 5",
        "e6",
        "€12",
        "≈ 5",
    ],
)
def test_what_is_not_a_number(text: str) -> None:
    assert read_quantity(text) is None


@pytest.mark.parametrize(
    "gold, digits, rounded",
    [
        ("0.0833333333333", 12, True),  # format_value(1 / 12): rounded to 12 significant digits
        ("4.99542623584e-08", 12, True),
        ("6.32098837209", 12, True),
        ("-12.582507840", 11, False),  # reasoning-gym's exact product, printed with a trailing zero
        ("-0.0833333333333", 12, True),  # the sign is not a digit
        ("27.47", 4, False),
        ("0.25", 2, False),
        ("13907110055", 0, False),  # written as an integer: exact, however many digits
        ("123456789012", 0, False),
    ],
)
def test_a_rounded_real_is_a_decimal_printed_with_twelve_significant_digits(gold: str, digits: int, rounded: bool):
    quantity = read_quantity(gold)
    assert quantity is not None and quantity.digits == digits and quantity.rounded_real is rounded


def test_printed_digits_is_what_the_tools_print():
    assert PRINTED_DIGITS == 12
    assert format_value(1 / 12) == "0.0833333333333"  # 12 significant digits
    assert format_value(2 / 3 * 1e-7) == "6.66666666667e-08"
    assert read_quantity(format_value(1 / 7)).rounded_real  # type: ignore[union-attr]


def test_gold_number_reads_numbers_in_dollars_or_days_and_nothing_else():
    assert gold_number("5 days") == Quantity(Fraction(5), "day")
    assert gold_number("$24.80") == Quantity(Fraction(248, 10), "$", 4)
    assert gold_number("Thoror") is None
    assert gold_number("3M Company") is None  # a name that starts with a digit stays a name
    assert gold_number("2024-03-05") is None
    assert gold_number(["12"]) is None  # type: ignore[arg-type]  # not text: no number, and no error


@pytest.mark.parametrize(
    "text, cleaned",
    [
        ("\\text{Nils Becker}", "Nils Becker"),
        ("\\textbf{\\mathrm{Oslo}}.", "Oslo"),
        ("$\\text{Oslo}$", "Oslo"),
        ("2\\,521\\,162", "2 521 162"),
        ("\\left( 5 \\right)", "( 5 )"),
        ("ＯＳＬＯ", "OSLO"),
        ("  Eco \u00a0 Notebook  ", "Eco Notebook"),
        ("12\\%", "12%"),
    ],
)
def test_clean_answer(text: str, cleaned: str) -> None:
    assert clean_answer(text) == cleaned


# --- the shared rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prediction, answer, correct",
    [
        # Integer golds compare exactly, however large.
        ("2521162", "2521162", True),
        ("2521164", "2521162", False),
        ("2521163", "2521162", False),
        ("2,521,162", "2521162", True),
        ("2,521,164", "2521162", False),
        ("2521162.0", "2521162", True),
        ("2521162.000001", "2521162", False),
        ("2.521162e6", "2521162", True),
        ("2.52116e6", "2521162", False),
        ("999999999999999", "1000000000000000", False),
        ("1e15", "1000000000000000", True),
        ("0", "0", True),
        ("1e-12", "0", False),
        ("-0", "0", True),
        # Short decimals are exact values too.
        ("27.47", "27.47", True),
        ("27.470", "27.47", True),
        ("27.468688", "27.47", False),  # the question asked for 2 decimals
        ("27.4700001", "27.47", False),
        ("1/4", "0.25", True),
        # Rounded reals (12 significant digits): within a relative 1e-6.
        ("0.0833333333333", "0.0833333333333", True),
        ("1/12", "0.0833333333333", True),
        ("0.0833333", "0.0833333333333", True),
        ("0.083333", "0.0833333333333", False),
        ("0.0834", "0.0833333333333", False),
        ("4.995426e-08", "4.99542623584e-08", True),
        ("4.9954e-08", "4.99542623584e-08", False),
        # Scale words are converted, never dropped.
        ("12 thousand", "12", False),
        ("12 thousand", "12000", True),
        ("12 million", "12", False),
        ("12 million", "12000000", True),
        ("3k", "3", False),
        ("3k", "3000", True),
        ("3K", "3000", False),  # K is kelvin as well as thousand: refused
        ("3K", "3", False),
        ("3M", "3", False),
        ("3 bn", "3", False),
        ("45%", "45", False),
        ("45%", "0.45", True),
        ("5 dozen", "5", False),
        # Units other than the task's are refused, not ignored.
        ("12 apples", "12", False),
        ("21 min", "21", False),
        ("21 h", "21", False),
        ("5 km", "5", False),
        ("$12", "12", True),  # every price in the suite is in dollars
        ("12 dollars", "12", True),
        ("$13.12/kg", "13.12", False),
        # LaTeX is read through.
        ("\\text{284.78}", "284.78", True),
        ("\\mathrm{284.78}", "284.78", True),
        ("\\text{\\$284.78}", "284.78", True),
        ("284{.}78", "284.78", True),
        ("twelve", "12", False),
        ("3 + 4", "7", False),
        ("", "0", False),
        ("9" * 300, "9", False),
    ],
)
def test_numbers_match(prediction: str, answer: str, correct: bool) -> None:
    assert numbers_match(prediction, answer, ("$",)) is correct


def test_units_are_accepted_only_where_the_domain_names_them():
    assert numbers_match("5 days", "5", ("day",)) is True
    assert numbers_match("5 days", "5", ()) is False
    assert numbers_match("5", "5 days", ()) is True  # the gold's own unit, written or not
    assert numbers_match("5 days", "5 days", ()) is True
    assert numbers_match("5 weeks", "5 days", ("day",)) is False
    assert numbers_match("$5", "5", ("day",)) is False


@settings(max_examples=400, deadline=None)
@given(
    prediction=st.text(max_size=80), answer=st.sampled_from(["12", "0.0833333333333", "5 days", "Oslo", "2024-03-05"])
)
def test_judges_never_raise(prediction: str, answer: str) -> None:
    for name in NUMERIC_DOMAINS:
        judge = get_domain(name).judge
        assert judge(prediction, answer) in (True, False)
        assert judge(answer, prediction) in (True, False)


@pytest.mark.parametrize(
    "prediction",
    [
        "1" * 200,
        "1," * 99 + "1",
        "$" + "-" * 199,
        "\\text{" * 30 + "1" + "}" * 30,
        "1e999",
        "1e999 thousand",
        "9" * 100 + "/" + "9" * 99,
        "\\frac{" + "9" * 90 + "}{" + "7" * 90 + "}",
        "1 " * 100,
    ],
)
def test_hostile_answers_are_judged_quickly(prediction: str) -> None:
    with cpu_time_bound(1.0):  # measured: well under 10 ms
        for name in NUMERIC_DOMAINS:
            for answer in ("12", "0.0833333333333", "Oslo"):
                assert get_domain(name).judge(prediction, answer) in (True, False)


# --- issue 21's examples on their tasks, with variants ------------------------------------------


def _task(name: str, split: str, task_id: str):
    return next(task for task in load_split(get_domain(name), split) if task.id == task_id)


@pytest.mark.parametrize(
    "name, split, task_id, gold, right, wrong",
    [
        (
            "lookup", "test", "lookup-1000044", "2521162",
            ["2521162", "2,521,162", "2521162.0", "2.521162e6", "2.521162 million", "\\text{2521162}"],
            ["2521164", "2521161", "2,521,164", "2.521164e6", "2.52 million", "2521162 thousand", "2521162k"],
        ),
        (
            "table", "train", "table-53", "8128800",
            ["8128800", "8,128,800", "$8,128,800", "8128.8 thousand", "8.1288 million", "\\$8\\,128\\,800"],
            ["8128807", "8128801", "8,128,807", "$8128800.01", "8128800 dollars per year", "8128.8"],
        ),
        (
            "calc", "train", "calc-704", "13907110055",
            ["13907110055", "13,907,110,055", "1.3907110055e10", "13907110055.0"],
            ["13907122571", "13907110056", "13907110054", "1.390711e10", "13.9 billion"],
        ),
    ],
)  # fmt: skip
def test_large_integers_are_judged_exactly(name, split, task_id, gold, right, wrong):
    task = _task(name, split, task_id)
    assert task.answer == gold
    judge = get_domain(name).judge
    assert [answer for answer in right if not judge(answer, gold)] == []
    assert [answer for answer in wrong if judge(answer, gold)] == []


@pytest.mark.parametrize(
    "name, prediction, answer, correct",
    [
        ("calc", "12 thousand", "12", False),
        ("calc", "12 million", "12", False),
        ("calc", "3k", "3", False),
        ("calc", "12 thousand", "12000", True),
        ("lookup", "12 thousand", "12", False),
        ("lookup", "3k", "3", False),
        ("table", "12 million", "12", False),
        ("table", "3k", "3", False),
        ("units", "3k", "3", False),
        ("units", "12 thousand", "12", False),
        ("dates", "5 weeks", "5", False),
        ("dates", "5 months", "5", False),
        ("dates", "5 years", "5", False),
        ("dates", "5 hours", "5", False),
        ("dates", "5 weekdays", "5", False),
        ("dates", "5 thousand days", "5", False),
        ("dates", "5 thousand days", "5000", True),
        ("dates", "5 days", "5", True),
        ("dates", "5", "5", True),
        ("calc", "\\text{284.78}", "284.78", True),
        ("units", "\\text{284.78}", "284.78", True),
        ("lookup", "\\mathrm{284.78}", "284.78", True),
        ("table", "\\text{\\$284.78}", "284.78", True),
        ("dates", "\\text{12}", "12", True),
    ],
)
def test_scale_words_units_and_latex_in_every_domain(name: str, prediction: str, answer: str, correct: bool) -> None:
    assert get_domain(name).judge(prediction, answer) is correct


# --- every teacher's final answer on every frozen split ---------------------------------------


@pytest.mark.parametrize("name", list(DOMAINS))
def test_every_teachers_final_answer_is_judged_correct(name: str) -> None:
    domain = get_domain(name)
    checked, refused = 0, []
    for split in (*SPLITS, *extra_splits(domain)):
        for task in load_split(domain, split):
            replies = [message["content"] for message in task.teacher.messages if message["role"] == "assistant"]
            # reasoning-gym's tasks have no teacher: their gold answer is the reply to judge.
            answer = last_boxed(replies[-1]) if replies else task.answer
            checked += 1
            if answer is None or not domain.judge(answer, task.answer):
                refused.append(task.id)
    assert refused == []
    assert checked == {"calc": 6600, "units": 2000, "dates": 2200, "lookup": 2000, "table": 2000}[name]
