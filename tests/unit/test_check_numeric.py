"""Numerical answers: every notation learners type, significant figures, tolerances, hostile input."""

from __future__ import annotations

import time
from decimal import Decimal
from fractions import Fraction

import pytest

from tremplin_grading.check import numeric
from tremplin_grading.check.limits import CheckTimeout
from tremplin_grading.check.numeric import NumberError, number, parse_number, split_number


class FakeNumpyScalar:
    """Stands in for numpy.float64(…)/numpy.int64(…): a 0-d value with __float__ (numpy is not installed)."""

    ndim = 0

    def __init__(self, value):
        self.value = value

    def __float__(self):
        return float(self.value)


class FakeNumpyArray(FakeNumpyScalar):
    ndim = 1


FakeNumpyBool = type("bool_", (), {"__module__": "numpy", "__float__": lambda self: 1.0, "ndim": 0})


@pytest.mark.parametrize("text,value", [
    ("3,14", 3.14),
    ("3.14", 3.14),
    ("−2", -2.0),                     # U+2212 minus sign
    ("–2", -2.0),                     # en dash, as some keyboards produce
    ("+4", 4.0),
    ("1.5e-3", 0.0015),
    ("1.5E3", 1500.0),
    ("1,5e-3", 0.0015),
    ("1,5×10^-3", 0.0015),
    ("1,5 × 10^(-3)", 0.0015),
    ("2·10⁻³", 0.002),
    ("2 x 10^3", 2000.0),
    ("2*10**3", 2000.0),
    ("2.10^3", 2000.0),               # French school notation: the point multiplies
    ("2.10", 2.1),                    # ...but only before a power of ten
    ("10^-3", 0.001),
    ("10⁶", 1e6),
    ("12 500", 12500.0),
    ("12\u00a0500", 12500.0),         # no-break space
    ("12\u202f500,5", 12500.5),       # narrow no-break space, as French software writes
    ("1 234 567", 1234567.0),
    (" 0,5 ", 0.5),
    (",5", 0.5),
    ("1,000", 1.0),                   # one comma is always a decimal comma
])
def test_parse_number_reads_every_accepted_notation(text, value):
    assert parse_number(text).value == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text,sig_figs,sig_figs_max", [
    ("9.81", 3, 3),
    ("0.0025", 2, 2),                 # leading zeros are not significant
    ("2.50", 3, 3),                   # trailing zeros after the separator are
    ("2,50", 3, 3),
    ("1500", 2, 4),                   # ambiguous: minimal 2, up to 4
    ("1500.", 4, 4),                  # the separator makes the zeros significant
    ("1.50e3", 3, 3),                 # only the mantissa counts
    ("1,50×10^3", 3, 3),
    ("1500e3", 2, 4),
    ("12 500", 3, 5),
    ("-0.0300", 3, 3),
    ("7", 1, 1),
    ("0", None, None),                # zero: no significant figures, the check is skipped
    ("0,000", None, None),
])
def test_significant_figures_are_counted_as_written(text, sig_figs, sig_figs_max):
    reading = parse_number(text)
    assert (reading.sig_figs, reading.sig_figs_max) == (sig_figs, sig_figs_max)


@pytest.mark.parametrize("text,reason", [
    ("", "No answer"),
    ("   ", "No answer"),
    ("nan", "not a finite number"),
    ("-inf", "not a finite number"),
    ("1e999999", "exponent is too large"),
    ("1e-400", "exponent is too large"),
    ("1,000,000", "one decimal separator"),
    ("1.000,5", "one decimal separator"),
    ("2/3 + 1", "type the computed value"),
    ("1,5/2", "type the computed value"),
    ("2/0", "division by zero"),
    ("pi", "type the computed value"),
    ("sqrt(2)", "type the computed value"),
    ("3+4", "type the computed value"),
    ("12 5000", "not a readable number"),   # groups of three digits only
    ("1.2.3", "not a readable number"),
    ("x" * 10_000, "too long"),
])
def test_parse_number_refuses_non_numbers_and_says_why(text, reason):
    with pytest.raises(NumberError) as caught:
        parse_number(text)
    assert reason in caught.value.en
    assert caught.value.fr and caught.value.fr != caught.value.en


@pytest.mark.parametrize("text,value,rest", [
    ("9,8 m/s^2", 9.8, "m/s^2"),
    ("2.10^3 m", 2000.0, "m"),        # backtracks to 2 × 10^3 rather than stop at 2.10
    ("3eV", 3.0, "eV"),               # e not followed by digits starts the unit
    ("12 500 m", 12500.0, "m"),
    ("20°C", 20.0, "°C"),
    ("1,5e-3kg", 0.0015, "kg"),
])
def test_split_number_separates_the_value_from_the_unit(text, value, rest):
    reading, unit = split_number(text)
    assert (reading.value, unit) == (pytest.approx(value), rest)


@pytest.mark.parametrize("answer,expected,options,score,feedback", [
    # exact-ish by default
    ("3,14159", 3.14159, {}, 1.0, "that's right"),
    ("3.2", 3.14, {}, 0.0, "too large"),
    ("3.1", 3.14, {}, 0.0, "too small"),
    ("3.1416", 3.14159265, {}, 0.0, "too large"),
    ("-3.14", 3.14, {}, 0.0, "check the sign"),
    ("31.4", 3.14, {}, 0.0, "powers of ten"),
    ("0.1", 0.1 + 0.2 - 0.2, {}, 1.0, "that's right"),      # float noise is not an error
    ("1,5×10^-3", "1.5e-3", {}, 1.0, "that's right"),      # expected given as text
    # tolerances
    ("3.1", 3.14, {"rel_tol": 0.02}, 1.0, "that's right"),
    ("3.2", 3.14, {"rel_tol": 0.02}, 1.0, "that's right"),
    ("3.3", 3.14, {"rel_tol": 0.02}, 0.0, "too large"),
    ("0.004", 0, {"abs_tol": 0.01}, 1.0, "that's right"),
    ("0.02", 0, {"abs_tol": 0.01}, 0.0, "too large"),
    ("105", 100, {"rel_tol": 0.01, "abs_tol": 5}, 1.0, "that's right"),    # either tolerance suffices
    ("106", 100, {"rel_tol": 0.01, "abs_tol": 5}, 0.0, "too large"),
    # significant figures
    ("9,81", 9.80665, {"sig_figs": 3}, 1.0, "that's right"),
    ("9.8", 9.80665, {"sig_figs": 3}, 0.5, "3 significant figures"),
    ("9.807", 9.80665, {"sig_figs": 3}, 0.5, "3 significant figures"),
    ("9.80", 9.80665, {"sig_figs": 3}, 0.0, "too small"),      # 3 figures, but a wrong rounding
    ("1500", 1523, {"sig_figs": 2}, 1.0, "that's right"),
    ("1500", 1523, {"sig_figs": 4}, 0.5, "4 significant figures"),
    ("1,52×10^3", 1523, {"sig_figs": 3}, 1.0, "that's right"),
    ("10", 9.80665, {"sig_figs": 1}, 1.0, "that's right"),
    ("9.8", 9.80665, {"sig_figs": 1}, 0.5, "1 significant figure."),
    ("9.8", 9.80665, {"rel_tol": 0.01, "sig_figs": 3}, 0.5, "3 significant figures"),
    # kernel objects: sig figs cannot be read, the value is compared to the rounding
    (9.81, 9.80665, {"sig_figs": 3}, 1.0, "that's right"),
    (9.80665, 9.80665, {"sig_figs": 3}, 1.0, "that's right"),
    (2, 2.0, {}, 1.0, "that's right"),
    (Fraction(1, 3), 1 / 3, {}, 1.0, "that's right"),
    (Decimal("0.1"), 0.1, {}, 1.0, "that's right"),
    (FakeNumpyScalar(2.5), 2.5, {}, 1.0, "that's right"),
    # refused
    (True, 1, {}, 0.0, "boolean"),
    (False, 0, {}, 0.0, "boolean"),
    (FakeNumpyBool(), 1, {}, 0.0, "boolean"),
    (FakeNumpyArray(2.5), 2.5, {}, 0.0, "One real number"),
    ([2.5], 2.5, {}, 0.0, "One real number"),
    (None, 1, {}, 0.0, "No answer"),
    (float("nan"), 1, {}, 0.0, "not a finite number"),
    (float("inf"), 1, {}, 0.0, "not a finite number"),
    (Decimal("NaN"), 1, {}, 0.0, "not a finite number"),
    (10 ** 400, 1, {}, 0.0, "not a finite number"),
    (3 + 0j, 3, {}, 0.0, "One real number"),
    (object(), 1, {}, 0.0, "A number is expected"),
])
def test_number_scores_and_explains(answer, expected, options, score, feedback):
    checked = number(answer, expected, lang="en", **options)
    assert checked.score == score
    assert feedback in checked.feedback
    assert not checked.needs_review


@pytest.mark.parametrize("answer,expected", [
    ("3.2", 3.14159),
    ("31.4", 3.14159),
    ("9.8", 9.80665),
])
def test_feedback_never_reveals_the_expected_value(answer, expected):
    checked = number(answer, expected, sig_figs=3, lang="en")
    for shown in (str(expected), "3.14", "9.81", "3,14", "9,81"):
        assert shown not in checked.messages["en"] and shown not in checked.messages["fr"]


@pytest.mark.parametrize("answer,options", [
    ("3,14", {}),
    ("3.2", {}),
    ("9.8", {"sig_figs": 3}),
    ("2/3", {}),
    (True, {}),
])
def test_feedback_exists_in_french_and_english(answer, options):
    checked = number(answer, 3.14 if "sig_figs" not in options else 9.80665, **options)
    assert checked.messages["fr"] and checked.messages["en"]
    assert checked.messages["fr"] != checked.messages["en"]
    assert checked.in_language("fr").feedback == checked.messages["fr"]


@pytest.mark.parametrize("answer", [
    "1" * 10_000,
    "(" * 10_000,
    "9" * 99,                           # 99 digits: a valid, huge number
    "1e" + "9" * 97,
    " " * 5_000 + "1",
    "1 " * 5_000,
    "__import__('os').system('true')",
    "exec('1')",
])
def test_hostile_answers_are_answered_quickly(answer):
    start = time.perf_counter()
    checked = number(answer, 1)
    assert time.perf_counter() - start < 0.2
    assert checked.score == 0.0 and not checked.needs_review


def test_code_in_an_answer_is_never_executed(tmp_path):
    target = tmp_path / "pwned"
    payload = f"__import__('pathlib').Path({str(target)!r}).touch()"
    checked = number(payload, 1)
    assert checked.score == 0.0
    assert not target.exists()


@pytest.mark.parametrize("answer,points", [
    ("9.81", 4.0),
    ("9.8", 2.0),
])
def test_award_gives_partial_points(answer, points, capsys):
    assert number(answer, 9.80665, sig_figs=3, lang="en").award(4) == points
    assert capsys.readouterr().out.strip()


def test_award_fails_the_cell_for_a_wrong_value():
    with pytest.raises(AssertionError, match="too large"):
        number("12", 9.81, lang="en").award(4)


@pytest.mark.parametrize("expected,options,message", [
    ("abc", {}, "expected value 'abc' is not a number"),
    (True, {}, "expected value True is not a number"),
    (1, {"rel_tol": -0.1}, "rel_tol=-0.1"),
    (1, {"abs_tol": "0.1"}, "abs_tol='0.1'"),
    (1, {"sig_figs": 0}, "sig_figs=0"),
    (1, {"sig_figs": 2.5}, "sig_figs=2.5"),
])
def test_authoring_mistakes_raise_at_once(expected, options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        number("1", expected, **options)


def test_time_out_asks_for_review(monkeypatch):
    def too_slow(func, seconds=2.0):
        raise CheckTimeout("no answer after 2 s")

    monkeypatch.setattr(numeric, "time_limited", too_slow)
    checked = number("3,14", 3.14)
    assert checked.needs_review and checked.score == 0.0
    assert "time-out" in checked.detail


def test_checker_crash_asks_for_review(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("bug in assess")

    monkeypatch.setattr(numeric, "assess", broken)
    checked = number("3,14", 3.14)
    assert checked.needs_review and "bug in assess" in checked.detail


@pytest.mark.parametrize("text,expected,options,score", [
    ("2/3", 2 / 3, {}, 1.0),
    (" 2 / 3 ", 2 / 3, {}, 1.0),
    ("-7/4", -1.75, {}, 1.0),
    ("+7/4", 1.75, {}, 1.0),
    ("2/3", 0.667, {"sig_figs": 3}, 1.0),       # exact: no significant-figure count to penalise
    ("1/3", 0.667, {"sig_figs": 3}, 0.0),       # and no rounding forgiven either
    ("3/2", 2 / 3, {}, 0.0),
])
def test_a_plain_fraction_of_integers_is_read_as_its_value_as_webwork_does(text, expected, options, score):
    assert number(text, expected, lang="en", **options).score == score
