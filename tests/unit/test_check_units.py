"""Physical quantities: unit conversions, temperatures, partial credit for unit slips, hostile unit text."""

from __future__ import annotations

import time

import pint
import pytest

from tremplin_grading.check import units
from tremplin_grading.check.units import (
    SCORE_RIGHT, SCORE_SIG_FIGS, SCORE_WRONG_DIMENSION, SCORE_WRONG_UNIT, quantity, read_quantity, registry,
)


@pytest.fixture(scope="module")
def other_registry():
    """A registry like the one a learner or an author builds in their own notebook."""
    return pint.UnitRegistry()


@pytest.mark.parametrize("answer,expected", [
    ("980 cm/s^2", "9.8 m/s**2"),
    ("9,8 m/s²", "9.8 m/s**2"),
    ("9.8 m.s-2", "9.8 m/s**2"),          # French school notation
    ("9.8 m·s⁻²", "9.8 m/s**2"),
    ("9.8 m s^-2", "9.8 m/s**2"),
    ("9.8 N/kg", "9.8 m/s**2"),
    ("9.8m/s^2", "9.8 m/s**2"),           # no space before the unit
    ("36 km/h", "10 m/s"),
    ("10 m/s", "36 km/h"),
    ("1 kJ", "1000 J"),
    ("1000 J", "1 kJ"),
    ("6,241509×10^21 eV", "1 kJ"),
    ("2 kg*m/s^2", "2 N"),
    ("2 kg·m·s⁻²", "2 N"),
    ("3 Nm", "3 J"),                      # learners' newton-metre, not pint's number-metre
    ("4,7 kΩ", "4700 ohm"),
    ("4700 Ω", "4.7 kohm"),
    ("4.7 µF", "4.7e-6 F"),               # micro sign U+00B5
    ("4.7 μF", "4.7e-6 F"),               # Greek mu U+03BC
    ("250 mW", "0.25 W"),
    ("0,25 W", "250 mW"),
    ("300 K", "26.85 °C"),                # absolute temperatures
    ("26,85 °C", "300 K"),
    ("26.85 ° C", "300 K"),
    ("26.85 ℃", "300 K"),
    ("5 °C", "5 delta_degC"),             # the author asked for a temperature difference
    ("5 K", "5 delta_degC"),
    ("4186 J/(kg·°C)", "4186 J/(kg*K)"),  # °C inside a compound unit is a difference
    ("12 500 m", "12.5 km"),
    ("2 m2", "2 m**2"),
    ("1,5e-3 m³", "1.5 L"),
    ("50 Hz", "50 1/s"),
    ("3 tr/min", "3 rpm"),
    ("50 %", "0.5"),                      # dimensionless
    ("0,5", "50 %"),
    ("0.5", "0.5"),
])
def test_equal_quantities_in_any_unit_get_full_credit(answer, expected):
    checked = quantity(answer, expected, lang="en")
    assert checked.score == SCORE_RIGHT, checked.feedback
    assert checked.correct


@pytest.mark.parametrize("answer,expected,options,score,feedback", [
    ("10.2 m/s^2", "9.8 m/s**2", {"rel_tol": 0.05}, SCORE_RIGHT, "that's right"),
    ("10.4 m/s^2", "9.8 m/s**2", {"rel_tol": 0.05}, 0.0, "the unit fits, but the value is too large"),
    ("9.0 m/s^2", "9.8 m/s**2", {"rel_tol": 0.05}, 0.0, "too small"),
    ("-9.8 m/s^2", "9.8 m/s**2", {}, 0.0, "check the sign"),
    ("98 cm/s^2", "9.8 m/s**2", {}, 0.0, "powers of ten and the conversions"),
    # significant figures
    ("9.81 m/s^2", "9.80665 m/s**2", {"sig_figs": 3}, SCORE_RIGHT, "that's right"),
    ("981 cm/s^2", "9.80665 m/s**2", {"sig_figs": 3}, SCORE_RIGHT, "that's right"),
    ("9.8 m/s^2", "9.80665 m/s**2", {"sig_figs": 3}, SCORE_SIG_FIGS, "with 3 significant figures"),
    ("9.807 m/s^2", "9.80665 m/s**2", {"sig_figs": 3}, SCORE_SIG_FIGS, "with 3 significant figures"),
    ("9.8 m/s^2", "9.80665 m/s**2", {"rel_tol": 0.02, "sig_figs": 3}, SCORE_SIG_FIGS, "3 significant figures"),
    ("27 °C", "300 K", {"sig_figs": 2}, SCORE_RIGHT, "that's right"),
    # right number, wrong unit of the right kind
    ("9.8 cm/s^2", "9.8 m/s**2", {}, SCORE_WRONG_UNIT, "check the unit or the conversion"),
    ("9.8 km/s^2", "9.8 m/s**2", {}, SCORE_WRONG_UNIT, "check the unit or the conversion"),
    ("10 km/h", "10 m/s", {}, SCORE_WRONG_UNIT, "check the unit or the conversion"),
    ("10 km/h", "36 km/h", {}, SCORE_WRONG_UNIT, "check the unit"),   # the number is the SI value
    ("250 W", "250 mW", {}, SCORE_WRONG_UNIT, "check the unit"),
    ("4.7 F", "4.7 µF", {}, SCORE_WRONG_UNIT, "check the unit"),
    ("9.81 cm/s^2", "9.80665 m/s**2", {"sig_figs": 3}, SCORE_WRONG_UNIT, "check the unit"),
    ("50", "50 %", {}, SCORE_WRONG_UNIT, "check the unit"),
    # wrong kind of quantity
    ("9.8 m/s", "9.8 m/s**2", {}, SCORE_WRONG_DIMENSION,
     "an acceleration is expected, your unit 'm/s' gives a velocity"),
    ("12 m/s", "9.8 m/s**2", {}, 0.0, "an acceleration is expected"),
    ("2 kg", "2 N", {}, SCORE_WRONG_DIMENSION, "a force is expected, your unit 'kg' gives a mass"),
    ("5 W", "5 J", {}, SCORE_WRONG_DIMENSION, "an energy is expected"),
    ("220 A", "220 V", {}, SCORE_WRONG_DIMENSION, "a voltage is expected, your unit 'A' gives an electric current"),
    ("3 s", "3 Hz", {}, SCORE_WRONG_DIMENSION, "a frequency is expected"),
    ("1 Pa", "1 m", {}, SCORE_WRONG_DIMENSION, "a length is expected, your unit 'Pa' gives a pressure"),
    ("0.5 m", "0.5", {}, SCORE_WRONG_DIMENSION, "no unit is expected here"),
    ("2 m^2/s", "2 m/s", {}, SCORE_WRONG_DIMENSION, "gives a quantity of dimension [length] ** 2 / [time]"),
    # missing unit
    ("9.8", "9.8 m/s**2", {}, SCORE_WRONG_DIMENSION, "The number is right, but the unit is missing"),
    ("9,8", "9.8 m/s**2", {}, SCORE_WRONG_DIMENSION, "the answer is an acceleration"),
    ("3", "9.8 m/s**2", {}, 0.0, "Not yet: the unit is missing"),
    (9.8, "9.8 m/s**2", {}, SCORE_WRONG_DIMENSION, "the unit is missing"),
])
def test_partial_credit_says_what_to_fix(answer, expected, options, score, feedback):
    checked = quantity(answer, expected, lang="en", **options)
    assert checked.score == score
    assert feedback in checked.feedback
    assert not checked.needs_review


@pytest.mark.parametrize("answer,expected", [
    ("9.8 cm/s^2", "9.80665 m/s**2"),
    ("9.8 m/s", "9.80665 m/s**2"),
    ("9.8", "9.80665 m/s**2"),
    ("12 m/s^2", "9.80665 m/s**2"),
])
def test_feedback_never_reveals_the_expected_value(answer, expected):
    checked = quantity(answer, expected, rel_tol=0.01)
    for language in ("fr", "en"):
        assert "9.81" not in checked.messages[language] and "9,81" not in checked.messages[language]
        assert "9.80" not in checked.messages[language] and "9,80" not in checked.messages[language]


@pytest.mark.parametrize("answer,feedback", [
    ("9.8 blorg", "'blorg' is not a known unit"),
    ("9.8 m/blorg^2", "'blorg' is not a known unit"),
    ("9.8 m/x^2", "'x' is not a known unit"),
    ("9.8 __import__('os')", "Character '_' is not allowed"),
    ("9.8 m; import os", "Character ';' is not allowed"),
    ('9.8 "m"', "Character '\"' is not allowed"),
    ("9.8 m'", "Character ''' is not allowed"),
    ("9.8 {m}", "Character '{' is not allowed"),
    ("9.8 m/(s", "The unit 'm/(s' cannot be read"),
    ("9.8 m**", "The unit 'm**' cannot be read"),
    ("9.8 m/s**99", "The exponent 99 in the unit is too large"),
    ("9.8 km**999", "The exponent 999 in the unit is too large"),
    ("9.8 2 m", "only exponents are numbers"),
    ("9.8 m - s", "only exponents are numbers"),
    ("9.8 " + "m*" * 40 + "m", "The unit is too long"),
    ("m/s^2", "Start with the numerical value"),
    ("", "Start with the numerical value"),
    ("9" * 200 + " m", "The answer is too long"),
    ("1e999 m/s^2", "exponent is too large"),
    (True, "boolean"),
    (None, "No answer"),
])
def test_unreadable_answers_name_what_was_not_understood(answer, feedback):
    checked = quantity(answer, "9.8 m/s**2", lang="en")
    assert checked.score == 0.0 and not checked.needs_review
    assert feedback in checked.feedback
    assert checked.messages["fr"] != checked.messages["en"]


def test_code_in_a_unit_is_never_executed(tmp_path):
    target = tmp_path / "pwned"
    checked = quantity(f"1 m*__import__('pathlib').Path({str(target)!r}).touch()", "1 m")
    assert checked.score == 0.0
    assert not target.exists()


@pytest.mark.parametrize("answer", ["1" * 10_000, "1 " + "(" * 10_000, "1 " + "m" * 10_000])
def test_long_answers_are_refused_quickly(answer):
    registry()  # built once, outside the measurement
    start = time.perf_counter()
    assert quantity(answer, "1 m").score == 0.0
    assert time.perf_counter() - start < 0.2


@pytest.mark.parametrize("magnitude,unit,expected,score", [
    (980, "cm/s**2", "9.8 m/s**2", SCORE_RIGHT),
    (9.8, "cm/s**2", "9.8 m/s**2", SCORE_WRONG_UNIT),
    (9.8, "m/s", "9.8 m/s**2", SCORE_WRONG_DIMENSION),
    (300, "K", "26.85 degC", SCORE_RIGHT),
])
def test_pint_quantity_from_another_registry_as_answer(other_registry, magnitude, unit, expected, score):
    assert quantity(other_registry.Quantity(magnitude, unit), expected).score == score


@pytest.mark.parametrize("answer,magnitude,unit,score", [
    ("980 cm/s^2", 9.8, "m/s**2", SCORE_RIGHT),
    ("26,85 °C", 300, "K", SCORE_RIGHT),
    ("4.7 kΩ", 4700, "ohm", SCORE_RIGHT),
    ("9.8 m/s", 9.8, "m/s**2", SCORE_WRONG_DIMENSION),
])
def test_pint_quantity_as_expected(other_registry, answer, magnitude, unit, score):
    assert quantity(answer, other_registry.Quantity(magnitude, unit)).score == score
    assert quantity(answer, registry().Quantity(magnitude, unit)).score == score


@pytest.mark.parametrize("unit,french,english", [
    ("m/s^2", "une accélération", "an acceleration"),
    ("km/h", "une vitesse", "a velocity"),
    ("kN", "une force", "a force"),
    ("eV", "une énergie", "an energy"),
    ("mW", "une puissance", "a power"),
    ("hPa", "une pression", "a pressure"),
    ("µs", "une durée", "a time"),
    ("g", "une masse", "a mass"),
    ("°C", "une température", "a temperature"),
    ("mA", "une intensité de courant électrique", "an electric current"),
    ("kV", "une tension", "a voltage"),
    ("MΩ", "une résistance", "a resistance"),
    ("nF", "une capacité", "a capacitance"),
    ("GHz", "une fréquence", "a frequency"),
    ("µC", "une charge électrique", "an electric charge"),
    ("%", "un nombre sans unité", "a number without unit"),
])
def test_kinds_of_quantity_are_named_in_both_languages(unit, french, english):
    _, pint_unit, _ = read_quantity(f"1 {unit}")
    assert units.kind(pint_unit) == (french, english)


def test_feedback_follows_the_language():
    checked = quantity("9.8 m/s", "9.8 m/s**2", lang="fr")
    assert checked.feedback.startswith("Le nombre est juste")
    assert "une accélération" in checked.feedback
    assert checked.in_language("en").feedback.startswith("The number is right")


@pytest.mark.parametrize("expected,options,message", [
    ("9.8 blorg", {}, "expected quantity '9.8 blorg' cannot be read"),
    ("m/s", {}, "expected quantity 'm/s' cannot be read"),
    ("9.8 m/s", {"rel_tol": -1}, "rel_tol=-1"),
    ("9.8 m/s", {"sig_figs": "3"}, "sig_figs='3'"),
])
def test_authoring_mistakes_raise_at_once(expected, options, message):
    with pytest.raises(ValueError, match=message):
        quantity("9.8 m/s", expected, **options)


def test_award_gives_partial_points(capsys):
    assert quantity("9.8 cm/s^2", "9.8 m/s**2", lang="en").award(4) == 2.0
    assert "check the unit" in capsys.readouterr().out
