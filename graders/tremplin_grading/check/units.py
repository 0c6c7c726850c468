"""Physical quantities typed by learners (``9,8 m/s²``, ``26,85 °C``, ``4,7 µF``), graded with pint.

:func:`quantity` splits the learner's text into a number, read by
:func:`~tremplin_grading.check.numeric.split_number` (so the decimal comma, ``×10^-3``
and thousands spaces work), and a unit. The unit text is checked against a whitelist of
characters, normalised (``^`` → ``**``, ``·`` → ``*``, ``s⁻²``/``s-2``/``s2`` → ``s**-2``…,
``Ω`` → ohm, ``°C`` → degC, ``%`` → percent) and read by ``UnitRegistry.parse_units``,
pint's own tokenizer, which never evaluates Python.

Partial credit (module constants, each with its own feedback, never showing the
expected value):

* :data:`SCORE_RIGHT` — right kind of quantity, value within tolerance in any unit
  (``980 cm/s^2`` for ``9.8 m/s**2``);
* :data:`SCORE_SIG_FIGS` — the same, with another number of significant figures than asked;
* :data:`SCORE_WRONG_UNIT` — right kind of quantity, wrong value, but the number is the
  expected number in the expected unit or in SI base units (``9.8 cm/s^2``): a unit slip or
  a forgotten conversion;
* :data:`SCORE_WRONG_DIMENSION` — wrong kind of quantity or missing unit, but the number
  is right (``9.8 m/s``, ``9.8``); 0 when the number is wrong too. The feedback names the
  kind of quantity expected (acceleration, voltage…).

Temperatures: a lone ``°C``/``°F`` is an absolute temperature (``300 K`` = ``26,85 °C``);
inside a compound unit pint reads it as a difference (``J/(kg·°C)`` = ``J/(kg·K)``). When
the author's expected unit is a difference (``"5 delta_degC"``), a learner's lone ``°C`` is
read as a difference too. The registry is created with
``autoconvert_offset_to_baseunit=True``: comparisons only use ``.to()``, which applies the
offset exactly once, and the flag makes any multiplicative use of an absolute °C convert
to kelvin instead of raising ``OffsetUnitCalculusError`` in the middle of a check.

The default relative tolerance is :data:`DEFAULT_REL_TOL` (1e-6): exact data survive
conversion factors such as km/h or eV, nothing looser. Authors usually pass
``rel_tol=0.02``, or ``sig_figs`` to ask for a correctly rounded value.
"""

from __future__ import annotations

import re
import threading

import pint

from . import numeric
from .limits import CheckTimeout, time_limited
from .numeric import RIGHT, SIG_FIGS, NumberError, Reading
from .result import Result, needs_review, result, unreadable

SCORE_RIGHT = 1.0
SCORE_SIG_FIGS = 0.75
SCORE_WRONG_UNIT = 0.5
SCORE_WRONG_DIMENSION = 0.25
DEFAULT_REL_TOL = 1e-6
#: The whole answer, number and unit; longer text is refused unread.
MAX_LENGTH = 160
MAX_UNIT_LENGTH = 60
#: Largest exponent in a unit: m**3 is common, m**99999 is an attack on the float range.
MAX_UNIT_POWER = 9

_REGISTRY: pint.UnitRegistry | None = None
_REGISTRY_LOCK = threading.Lock()

_LETTERS = "A-Za-zµμΩΩ°℃Å"
_ALLOWED = re.compile(rf"[{_LETTERS}0-9 */^·⋅×.()²³¹⁰⁴⁵⁶⁷⁸⁹⁻⁺%-]*")
_SUPERSCRIPT_POWER = re.compile(r"([⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
_EXPONENT = re.compile(r"\*\*\s*\(?\s*([+-]?)\s*([0-9]+)\s*\)?")
#: Learner habits pint reads differently: "Nm" would be pint's number·metre, "tr" (tour) unknown.
_ALIASES = {"Nm": "N*m", "tr": "turn"}
_OFFSET_UNITS = ("degree_Celsius", "degree_Fahrenheit")
_EXAMPLE = "kg*m/s^2, m.s-2, km/h, kΩ, µF, °C"

#: Names of kinds of quantity for feedback: (unit with that dimension, French, English).
KINDS = [
    ("m/s**2", "une accélération", "an acceleration"),
    ("m/s", "une vitesse", "a velocity"),
    ("N", "une force", "a force"),
    ("J", "une énergie", "an energy"),
    ("W", "une puissance", "a power"),
    ("Pa", "une pression", "a pressure"),
    ("m", "une longueur", "a length"),
    ("m**2", "une aire", "an area"),
    ("m**3", "un volume", "a volume"),
    ("s", "une durée", "a time"),
    ("kg", "une masse", "a mass"),
    ("kg/m**3", "une masse volumique", "a density"),
    ("kg*m/s", "une quantité de mouvement", "a momentum"),
    ("K", "une température", "a temperature"),
    ("A", "une intensité de courant électrique", "an electric current"),
    ("V", "une tension", "a voltage"),
    ("ohm", "une résistance", "a resistance"),
    ("F", "une capacité", "a capacitance"),
    ("H", "une inductance", "an inductance"),
    ("T", "un champ magnétique", "a magnetic field"),
    ("Hz", "une fréquence", "a frequency"),
    ("C", "une charge électrique", "an electric charge"),
    ("mol", "une quantité de matière", "an amount of substance"),
    ("dimensionless", "un nombre sans unité", "a number without unit"),
]


def registry() -> pint.UnitRegistry:
    """The shared unit registry, built on first use (about 0.2 s, so not at import time)."""
    global _REGISTRY
    with _REGISTRY_LOCK:
        if _REGISTRY is None:
            _REGISTRY = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
        return _REGISTRY


class UnitError(NumberError):
    """A unit text that cannot be read; ``.fr``/``.en`` say what to type instead."""


def _unit_text(raw: str) -> str:
    """Whitelist-check and normalise a unit typed by a learner into pint syntax."""
    if len(raw) > MAX_UNIT_LENGTH:
        raise UnitError(
            f"Unité trop longue ({len(raw)} caractères) : écrivez seulement le symbole, par exemple m/s^2.",
            f"The unit is too long ({len(raw)} characters): write the symbol only, for example m/s^2.")
    allowed = _ALLOWED.match(raw).end()
    if allowed < len(raw):
        bad = raw[allowed]
        raise UnitError(
            f"Caractère « {bad} » non autorisé dans l'unité. Écrivez-la avec des lettres, *, /, ^ et des "
            f"parenthèses, par exemple : {_EXAMPLE}.",
            f"Character '{bad}' is not allowed in a unit. Write it with letters, *, /, ^ and brackets, "
            f"for example: {_EXAMPLE}.")
    text = re.sub(r"°\s*C\b|℃", "degC", raw)
    text = re.sub(r"°\s*F\b", "degF", text).replace("°", "degree")
    text = text.replace("Ω", "Ω").replace("Ω", "ohm").replace("%", "percent")
    text = re.sub(r"[·⋅×]", "*", text)
    text = _SUPERSCRIPT_POWER.sub(lambda m: "**" + m.group(1).translate(numeric.SUPERSCRIPTS), text)
    text = text.replace("^", "**")
    # French school notation: "m.s-2" is m·s⁻²; a point between symbols multiplies, and
    # digits glued to a symbol are its exponent ("m2", "s-1").
    text = re.sub(rf"(?<=[{_LETTERS})0-9])\.(?=[{_LETTERS}(])", "*", text)
    text = re.sub(rf"(?<=[{_LETTERS})])(-?[0-9]+)", r"**\1", text)
    text = re.sub(rf"[{_LETTERS}]+", lambda m: _ALIASES.get(m.group(), m.group()), text)
    for sign, digits in _EXPONENT.findall(text):
        if int(digits) > MAX_UNIT_POWER:
            raise UnitError(f"Exposant {sign}{digits} trop grand dans l'unité.",
                            f"The exponent {sign}{digits} in the unit is too large.")
    leftover = re.sub(r"^\s*\(?\s*1\s*/", "", _EXPONENT.sub("", text))
    if re.search(r"[0-9+-]", leftover):
        raise UnitError(
            "Dans l'unité, seuls les exposants sont des nombres (par exemple m/s^2 ou m.s-2) : "
            "mettez toute la valeur numérique avant l'unité.",
            "In a unit only exponents are numbers (for example m/s^2 or m.s-2): put the whole "
            "numerical value before the unit.")
    return text


def _parse_units(text: str, shown: str):
    """``ureg.parse_units`` with its errors turned into bilingual feedback."""
    try:
        return registry().parse_units(text)
    except pint.UndefinedUnitError as exc:
        names = exc.unit_names
        names = ", ".join(sorted(names)) if isinstance(names, (tuple, list, set)) else str(names)
        raise UnitError(
            f"« {names} » n'est pas une unité reconnue. Vérifiez l'orthographe et les majuscules "
            f"(exemples : {_EXAMPLE}).",
            f"'{names}' is not a known unit. Check the spelling and capital letters (examples: {_EXAMPLE}).") from None
    except Exception:  # pint's tokenizer raises TokenError, AssertionError, TypeError...
        raise UnitError(f"L'unité « {shown} » n'est pas lisible. Exemples acceptés : {_EXAMPLE}.",
                        f"The unit '{shown}' cannot be read. Accepted examples: {_EXAMPLE}.") from None


def _from_pint(value) -> tuple[float, object]:
    """A pint Quantity from any registry (the learner's or the author's) → our magnitude and unit."""
    magnitude = numeric.kernel_value(value.magnitude)
    unit = str(value.units)
    return magnitude, (_parse_units(unit, unit) if unit != "dimensionless" else registry().dimensionless)


def _is_quantity(value) -> bool:
    return hasattr(value, "magnitude") and hasattr(value, "units") and not isinstance(value, str)


def read_quantity(text: str) -> tuple[Reading, object, str]:
    """Read a learner's ``"number unit"`` text; return the number, the pint unit and the unit as typed."""
    if len(text) > MAX_LENGTH:
        raise UnitError(f"Réponse trop longue ({len(text)} caractères) : tapez la valeur puis l'unité.",
                        f"The answer is too long ({len(text)} characters): type the value, then the unit.")
    reading, unit_typed = numeric.split_number(text)
    if not unit_typed:
        return reading, registry().dimensionless, ""
    return reading, _parse_units(_unit_text(unit_typed), unit_typed), unit_typed


def _expected(expected) -> tuple[float, object]:
    """The author's expected quantity; :class:`ValueError` if it cannot be read."""
    try:
        if _is_quantity(expected):
            return _from_pint(expected)
        if isinstance(expected, str):
            reading, unit_typed = numeric.split_number(expected)
            # Authors may use pint names with underscores (delta_degC), which learners may not.
            unit = registry().parse_units(unit_typed) if "_" in unit_typed else (
                _parse_units(_unit_text(unit_typed), unit_typed) if unit_typed else registry().dimensionless)
            return reading.value, unit
        return numeric.kernel_value(expected), registry().dimensionless
    except Exception as exc:
        message = exc.en if isinstance(exc, NumberError) else f"{type(exc).__name__}: {exc}"
        raise ValueError(f"expected quantity {expected!r} cannot be read ({message}); write it like "
                         "'9.81 m/s**2' or pass a pint Quantity") from None


def kind(unit) -> tuple[str, str]:
    """How to name the kind of quantity of ``unit`` in French and English."""
    # Unit.dimensionality, not ureg.get_dimensionality: the latter has no entry for "dimensionless".
    dimensionality = unit.dimensionality
    for symbol, fr, en in KINDS:
        if registry().parse_units(symbol).dimensionality == dimensionality:
            return fr, en
    return (f"une grandeur de dimension {dimensionality}", f"a quantity of dimension {dimensionality}")


MESSAGES = {
    RIGHT: ("Bravo, c'est juste !", "Well done, that's right!"),
    SIG_FIGS: ("La valeur et l'unité sont justes, mais donnez le résultat avec {figures_fr}.",
               "The value and the unit are right, but give the result with {figures_en}."),
    "wrong_unit": ("Le nombre est juste, mais pas dans l'unité écrite : vérifiez l'unité ou la conversion.",
                   "The number is right, but not in the unit you wrote: check the unit or the conversion."),
    numeric.TOO_LARGE: ("Pas encore : l'unité convient, mais la valeur est trop grande.",
                        "Not yet: the unit fits, but the value is too large."),
    numeric.TOO_SMALL: ("Pas encore : l'unité convient, mais la valeur est trop petite.",
                        "Not yet: the unit fits, but the value is too small."),
    numeric.SIGN: ("Pas encore : l'unité convient, mais vérifiez le signe.",
                   "Not yet: the unit fits, but check the sign."),
    numeric.POWER_OF_TEN: ("Pas encore : l'unité convient, mais l'ordre de grandeur est faux ; vérifiez les "
                           "puissances de dix et les conversions.",
                           "Not yet: the unit fits, but the order of magnitude is wrong; check the powers of "
                           "ten and the conversions."),
}


def _dimension_messages(expected_unit, answer_unit, unit_typed: str, number_right: bool) -> tuple[str, str]:
    lead_fr, lead_en = ("Le nombre est juste, mais ", "The number is right, but ") if number_right else ("", "")
    expected_fr, expected_en = kind(expected_unit)
    if not unit_typed:
        fr = (f"il manque l'unité : la réponse est {expected_fr}. Ajoutez l'unité après le nombre, "
              "par exemple « 12,5 km/h ».")
        en = (f"the unit is missing: the answer is {expected_en}. Add the unit after the number, "
              "for example '12.5 km/h'.")
    elif expected_unit.dimensionless:
        fr = f"aucune unité n'est attendue ici (« {unit_typed} ») : la réponse est un nombre sans dimension."
        en = f"no unit is expected here ('{unit_typed}'): the answer is a dimensionless number."
    else:
        answer_fr, answer_en = kind(answer_unit)
        fr = (f"ce n'est pas la bonne grandeur : on attend {expected_fr}, "
              f"votre unité « {unit_typed} » donne {answer_fr}.")
        en = (f"this is not the right kind of quantity: {expected_en} is expected, "
              f"your unit '{unit_typed}' gives {answer_en}.")
    if not lead_fr:
        fr, en = "Pas encore : " + fr, "Not yet: " + en
    return lead_fr + fr, lead_en + en


def _grade(answer, target: tuple[float, object], rel_tol, sig_figs, lang) -> Result:
    ureg = registry()
    expected_magnitude, expected_unit = target
    reading: Reading | None = None
    if isinstance(answer, str):
        reading, answer_unit, unit_typed = read_quantity(answer)
        magnitude = reading.value
    elif _is_quantity(answer):
        magnitude, answer_unit = _from_pint(answer)
        unit_typed = str(answer_unit)
    else:
        magnitude, answer_unit, unit_typed = numeric.kernel_value(answer), ureg.dimensionless, ""
    if str(answer_unit) in _OFFSET_UNITS and "delta_" in str(expected_unit):
        answer_unit = ureg.parse_units("delta_" + str(answer_unit))
    expected = ureg.Quantity(expected_magnitude, expected_unit)
    given = ureg.Quantity(magnitude, answer_unit)

    # Without rel_tol, sig_figs asks for a correct rounding (numeric.assess); with neither, near-exact.
    tolerance = rel_tol if rel_tol is not None or sig_figs is not None else DEFAULT_REL_TOL

    def same_number() -> bool:
        """The learner's bare number is the expected number, in the author's unit or in SI."""
        candidates = (expected_magnitude, expected.to_base_units().magnitude)
        return any(numeric.assess(magnitude, c, reading=reading, rel_tol=tolerance, sig_figs=sig_figs)
                   in (RIGHT, SIG_FIGS) for c in candidates)

    detail = f"quantity: answer {given!r}, expected {expected!r}"
    try:
        converted = given.to(expected_unit).magnitude
    except pint.DimensionalityError:
        converted = None
    if converted is None:
        right = same_number()
        fr, en = _dimension_messages(expected_unit, answer_unit, unit_typed, right)
        return result(SCORE_WRONG_DIMENSION if right else 0.0, fr, en, lang=lang, detail=detail + "; wrong dimension")
    # One unit of the learner's number in the author's unit, for rounding tolerances. A finite
    # difference, because °C → K is affine; the step grows with the number so 1e20 + 1 is not lost.
    step = max(1.0, abs(magnitude))
    scale = (ureg.Quantity(magnitude + step, answer_unit).to(expected_unit).magnitude - converted) / step
    verdict = numeric.assess(converted, expected_magnitude, reading=reading, rel_tol=tolerance,
                             sig_figs=sig_figs, scale=scale)
    if verdict not in (RIGHT, SIG_FIGS) and same_number():
        verdict = "wrong_unit"
    score = {RIGHT: SCORE_RIGHT, SIG_FIGS: SCORE_SIG_FIGS, "wrong_unit": SCORE_WRONG_UNIT}.get(verdict, 0.0)
    fr, en = numeric.verdict_messages(verdict, sig_figs, MESSAGES)
    return result(score, fr, en, lang=lang, detail=f"{detail}; {verdict}")


def quantity(answer, expected, *, rel_tol: float | None = None, sig_figs: int | None = None,
             lang: str | None = None) -> Result:
    """Grade a physical quantity.

    Args:
        answer: the learner's text (``"9,8 m/s^2"``), a pint Quantity from their kernel,
            or a bare number (read as dimensionless).
        expected: text such as ``"9.8 m/s**2"`` or ``"50 %"``, a pint Quantity (any
            registry), or a number for a dimensionless answer.
        rel_tol: relative tolerance, in the expected unit; default :data:`DEFAULT_REL_TOL`.
        sig_figs: significant figures asked for (text answers only).
        lang: feedback language, default ``$TREMPLIN_LANG``.

    Returns:
        A :class:`Result` scored as in the module docstring; an unreadable answer or
        unknown unit scores 0 and the feedback names what was not understood; a
        time-out or a crash needs review.

    Raises:
        ValueError: ``expected`` or a tolerance is invalid (a mistake in the notebook).
    """
    numeric.check_tolerances(rel_tol, None, sig_figs)
    target = _expected(expected)  # builds the registry outside the time limit, too

    try:
        return time_limited(lambda: _grade(answer, target, rel_tol, sig_figs, lang))
    except NumberError as exc:
        return unreadable(exc.fr, exc.en, lang=lang, detail=f"quantity: unreadable answer {answer!r:.80}")
    except CheckTimeout:
        return needs_review(f"quantity: time-out on answer {answer!r:.80}", lang=lang)
    except Exception as exc:  # a crash must become a result, never a lost answer
        return needs_review(f"quantity: {type(exc).__name__}: {exc} on answer {answer!r:.80}", lang=lang)
