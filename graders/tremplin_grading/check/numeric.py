"""Numbers typed by learners: read them safely, count their significant figures, grade them.

Learners type numbers the way they learnt to write them: ``3,14`` (French decimal comma),
``−2`` (Unicode minus), ``+4``, ``1.5e-3``, ``1,5×10^-3``, ``2·10⁻³``, ``2 x 10^3``,
``2.10^3`` (French school notation: the point is a multiplication sign before ``10^``),
``12 500`` (spaces, no-break or narrow no-break spaces between groups of three digits).
:func:`parse_number` reads all of these with one regular expression and builds the value
with :class:`decimal.Decimal`; nothing is ever evaluated (no ``eval``, no sympy), so an
answer such as ``__import__('os')`` is just text that is not a number.

Reading rules, chosen for a French-speaking platform:

* a single comma is a decimal comma (``1,500`` is one and a half); ``1,000,000`` or a
  mix of ``,`` and ``.`` is refused with a message asking for spaces between thousands;
* a plain fraction of two integers (``2/3``, ``-7 / 4``) is read as its exact value, as
  WeBWorK does: it has no significant-figure count, so a ``sig_figs`` check never lowers it;
* no other expression is computed (``2/3 + 1``, ``1,5/2``, ``pi``, ``sqrt(2)``): the learner is
  asked for the value.

Significant figures, as written (:attr:`Reading.sig_figs`):

* leading zeros are not significant: ``0.0025`` has 2;
* zeros after the decimal separator are: ``2.50`` has 3, ``1500.`` has 4;
* trailing zeros of an integer written without a decimal separator are ambiguous:
  ``1500`` has 2 to 4. :attr:`Reading.sig_figs` is the minimal count (2) and
  :attr:`Reading.sig_figs_max` the maximal one (4); :func:`number` accepts any count in
  between, so nobody loses points to an ambiguity of notation;
* in scientific notation only the mantissa counts: ``1.50e3`` and ``1,50×10^3`` have 3;
* a zero (``0``, ``0.00``) has no significant figures (``None``): the check is skipped.

:func:`number` grades an answer (text, or a number from the learner's kernel) against an
expected value and returns a :class:`~tremplin_grading.check.result.Result`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from .limits import CheckTimeout, time_limited
from .result import Result, needs_review, result, unreadable

#: Relative tolerance when the author gives neither ``rel_tol``, ``abs_tol`` nor ``sig_figs``:
#: the value must be exact up to floating-point noise.
DEFAULT_REL_TOL = 1e-9
#: Score of a right value written with the wrong number of significant figures.
SCORE_SIG_FIGS = 0.5
#: Longer text is refused before any regular expression runs (the longest sensible
#: number, ``-1 234 567,123 × 10^-12``, is about 30 characters).
MAX_LENGTH = 100
#: Powers of ten beyond this are refused: no physics answer needs them and Decimal →
#: float conversion would overflow or silently underflow to 0.
MAX_EXPONENT = 300
#: :attr:`Reading.last_place` of an exact value (a fraction): no rounding is forgiven.
EXACT_PLACE = -1000
#: A generic example in messages; it must never be mistaken for the expected answer.
EXAMPLE = {"fr": "3,14 ; −2 ; 1,5e-3 ; 1,5×10^-3 ; 12 500", "en": "3.14; -2; 1.5e-3; 1.5×10^-3; 12 500"}

# Verdicts of :func:`assess`.
RIGHT, SIG_FIGS, TOO_LARGE, TOO_SMALL, SIGN, POWER_OF_TEN = (
    "right", "sig_figs", "too_large", "too_small", "sign", "power_of_ten")

_DASHES = dict.fromkeys(map(ord, "\u2212\u2010\u2011\u2012\u2013\u2014\ufe63\uff0d"), "-")
_SPACES = dict.fromkeys(map(ord, "\u00a0\u202f\u2009\u2007\u200a\u2002\u2003\t"), " ")
#: Superscript digits and signs (``⁻³``) → ASCII, for exponents in numbers and units.
SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUP = "⁰¹²³⁴⁵⁶⁷⁸⁹"

# One pattern for every accepted notation. Digits are ASCII only ([0-9], not \d) so that
# Decimal sees exactly what the pattern checked. The thousands form needs groups of
# exactly three digits, so "12 5000" is not read as 125000.


def _power(name: str) -> str:
    """``10^-3``, ``10**3``, ``10^(-3)`` or ``10⁻³``; the exponent lands in group ``name``."""
    return rf"10[ ]?(?:(?:\^|\*\*)[ ]?\(?(?P<{name}>[+-]?[0-9]+)\)?|(?P<{name}_sup>[⁻⁺]?[{_SUP}]+))"


_NUMBER = re.compile(rf"""
    (?P<sign>[+-])?[ ]?
    (?: (?P<int>[0-9]{{1,3}}(?:[ ][0-9]{{3}})+(?![0-9]) | [0-9]+ ) (?:(?P<point>[.,])(?P<frac>[0-9]*))?
      | (?P<point2>[.,])(?P<frac2>[0-9]+) )
    (?: [ ]?[eE][ ]?(?P<e>[+-]?[0-9]+)
      | [ ]?[×xX*·⋅.][ ]?{_power("power")} )?
    """, re.VERBOSE)
# "10^-3" alone: a power of ten without mantissa.
_BARE_POWER = re.compile(rf"(?P<sign>[+-])?[ ]?{_power('bare')}", re.VERBOSE)
# "2/3": a plain fraction of integers, read as its exact value (as WeBWorK does).
_FRACTION = re.compile(r"(?P<sign>[+-])?[ ]?(?P<num>[0-9]{1,30})[ ]?/[ ]?(?P<den>[0-9]{1,30})")
# When a number is followed by a unit (units.py), it must end where the unit begins: not
# inside digits, separators or an exponent. This makes "2.10^3 m" backtrack to 2×10^3.
_END = r"(?=$|[ ]|[eE](?![+-]?[0-9])|[^0-9.,^*×·⋅⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺eE])"
_NUMBER_PREFIX = re.compile(_NUMBER.pattern + _END, re.VERBOSE)
_BARE_PREFIX = re.compile(_BARE_POWER.pattern + _END, re.VERBOSE)


class NumberError(Exception):
    """A learner's text that is not a readable number.

    Attributes:
        fr, en: what is wrong and what to type instead, for the learner.
    """

    def __init__(self, fr: str, en: str):
        super().__init__(en)
        self.fr = fr
        self.en = en


@dataclass(frozen=True)
class Reading:
    """A number as the learner wrote it.

    Attributes:
        value: the number.
        text: the text it was read from (stripped).
        sig_figs: significant figures as written, the minimal count when trailing zeros
            of an integer make it ambiguous; ``None`` for zero.
        sig_figs_max: the maximal count (differs from ``sig_figs`` only for ``1500``-like
            integers).
        last_place: power of ten of the last significant digit (``-2`` for ``9.81``,
            ``2`` for ``1500``): the answer is a rounding to within half of ``10**last_place``.
    """

    value: float
    text: str
    sig_figs: int | None
    sig_figs_max: int | None = None
    last_place: int = 0

    def has_sig_figs(self, count: int) -> bool:
        """Whether the text can be read as having ``count`` significant figures."""
        if self.sig_figs is None:
            return True
        return self.sig_figs <= count <= (self.sig_figs_max or self.sig_figs)


def _quote(text: str, limit: int = 40) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


def normalise(text: str) -> str:
    """Unicode dashes → ``-``, every kind of space → one ordinary space, ends stripped."""
    text = text.translate(_DASHES).translate(_SPACES)
    return re.sub(r" {2,}", " ", text).strip()


def _reading(match: re.Match, text: str) -> Reading:
    groups = match.groupdict()
    bare = "bare" in groups  # "10^3" alone reads as 1 × 10^3
    integer = "1" if bare else (groups["int"] or "").replace(" ", "")
    point = None if bare else groups["point"] or groups["point2"]
    frac = "" if bare else groups["frac"] or groups["frac2"] or ""
    power = groups.get("e") or groups.get("power") or groups.get("bare")
    sup = groups.get("power_sup") or groups.get("bare_sup")
    if sup:
        power = sup.translate(SUPERSCRIPTS)
    if power and (len(power.lstrip("+-")) > 4 or abs(int(power)) > MAX_EXPONENT):
        raise NumberError(
            f"« {_quote(text)} » : exposant trop grand. Vérifiez la puissance de dix.",
            f"'{_quote(text)}': the exponent is too large. Check the power of ten.")
    exponent = int(power or 0)
    mantissa = (integer or "0") + ("." + frac if frac else "")
    value = Decimal(f"{groups['sign'] or ''}{mantissa}E{exponent}")
    digits = (integer + frac).lstrip("0")
    if not digits:
        sig = sig_max = None
        last = exponent - len(frac)
    elif point or bare:
        sig = sig_max = len(digits)
        last = exponent - len(frac)
    else:  # integer without separator: trailing zeros may or may not be significant
        stripped = digits.rstrip("0")
        sig, sig_max = len(stripped), len(digits)
        last = exponent + len(digits) - len(stripped)
    as_float = float(value)
    if not math.isfinite(as_float) or (as_float == 0 and value != 0):
        raise NumberError(
            f"« {_quote(text)} » est hors de portée : vérifiez l'exposant.",
            f"'{_quote(text)}' is out of range: check the exponent.")
    return Reading(as_float, text, sig, sig_max, last)


def _not_a_number(text: str) -> NumberError:
    """The most helpful error for text that matched no notation."""
    lowered = text.lower()
    if not text:
        return NumberError(f"Aucune réponse : tapez un nombre, par exemple {EXAMPLE['fr']}.",
                           f"No answer: type a number, for example {EXAMPLE['en']}.")
    if re.search(r"nan|inf|∞", lowered):
        return NumberError(f"« {_quote(text)} » n'est pas un nombre fini : tapez une valeur, par exemple 3,14.",
                           f"'{_quote(text)}' is not a finite number: type a value, for example 3.14.")
    if text.count(",") > 1 or ("," in text and "." in text and not re.search(r"[×xX*·⋅.][ ]?10", text)):
        return NumberError(
            f"« {_quote(text)} » : utilisez une seule virgule décimale et des espaces entre les "
            "milliers, par exemple 12 500,5.",
            f"'{_quote(text)}': use one decimal separator only and spaces between thousands, "
            "for example 12 500.5.")
    if re.search(r"[a-df-wyzA-DF-WYZ_(/+]|[0-9] ?[-+]", text):
        return NumberError(
            f"« {_quote(text)} » : tapez la valeur calculée ; les calculs et les expressions ne "
            "sont pas évalués (par exemple 0,667 ou 2/3, et non 2/3 + 1).",
            f"'{_quote(text)}': type the computed value; calculations and expressions are not "
            "evaluated (for example 0.667 or 2/3, not 2/3 + 1).")
    return NumberError(f"« {_quote(text)} » n'est pas un nombre lisible. Exemples acceptés : {EXAMPLE['fr']}.",
                       f"'{_quote(text)}' is not a readable number. Accepted examples: {EXAMPLE['en']}.")


def _check_length(text: str) -> None:
    if len(text) > MAX_LENGTH:
        raise NumberError(
            f"Réponse trop longue ({len(text)} caractères) : tapez seulement la valeur.",
            f"The answer is too long ({len(text)} characters): type the value only.")


def parse_number(text: str) -> Reading:
    """Read one number typed by a learner; raise :class:`NumberError` if it is not one."""
    if not isinstance(text, str):
        raise TypeError(f"parse_number reads text, got {type(text).__name__}; use number() for kernel values")
    _check_length(text)
    clean = normalise(text)
    for pattern in (_NUMBER, _BARE_POWER):
        match = pattern.fullmatch(clean)
        if match:
            return _reading(match, clean)
    match = _FRACTION.fullmatch(clean)
    if match:
        return _fraction(match, clean)
    raise _not_a_number(clean)


def _fraction(match: re.Match, text: str) -> Reading:
    """``2/3`` as its value: exact, so without a significant-figure count (like zero)."""
    numerator, denominator = int(match["num"]), int(match["den"])
    if denominator == 0:
        raise NumberError(f"« {_quote(text)} » : division par zéro. Vérifiez le dénominateur.",
                          f"'{_quote(text)}': division by zero. Check the denominator.")
    value = Fraction(-numerator if match["sign"] == "-" else numerator, denominator)
    # No rounding to forgive either: its last significant place is beyond any float's.
    return Reading(float(value), text, None, last_place=EXACT_PLACE)


def split_number(text: str) -> tuple[Reading, str]:
    """Read the number at the start of ``text``; return it and the rest (a unit, for units.py)."""
    clean = normalise(text)
    for pattern in (_BARE_PREFIX, _NUMBER_PREFIX):
        match = pattern.match(clean)
        if match:
            return _reading(match, match.group().strip()), clean[match.end():].strip()
    raise NumberError(
        "Commencez par la valeur numérique, puis l'unité, par exemple « 12,5 km/h ».",
        "Start with the numerical value, then the unit, for example '12.5 km/h'.")


def kernel_value(answer) -> float:
    """The float value of a number from the learner's kernel (int, float, Decimal,
    Fraction, numpy scalar, sympy number); :class:`NumberError` for anything else."""
    kind = type(answer)
    if isinstance(answer, bool) or (kind.__module__.startswith("numpy") and "bool" in kind.__name__):
        raise NumberError(
            "La réponse est un booléen (True/False), pas un nombre : affectez la valeur numérique.",
            "The answer is a boolean (True/False), not a number: assign the numerical value.")
    if answer is None:
        raise NumberError("Aucune réponse : la variable vaut None. Affectez-lui la valeur numérique.",
                          "No answer: the variable is None. Assign the numerical value to it.")
    if getattr(answer, "ndim", 0) != 0 or isinstance(answer, (list, tuple, set, dict, complex)):
        raise NumberError(
            f"Un seul nombre réel est attendu, pas un objet {kind.__name__}.",
            f"One real number is expected, not a {kind.__name__} object.")
    if isinstance(answer, (int, float, Decimal, Fraction)) or hasattr(answer, "__float__"):
        try:
            value = float(answer)
        except OverflowError:
            value = math.inf
        except Exception as exc:  # a sympy Symbol, a learner's own class...
            raise NumberError(f"Cette réponse ({kind.__name__}) n'est pas un nombre : {_quote(str(exc), 60)}",
                              f"This answer ({kind.__name__}) is not a number: {_quote(str(exc), 60)}") from exc
        if not math.isfinite(value):
            raise NumberError("La réponse n'est pas un nombre fini (nan ou infini) : vérifiez votre calcul.",
                              "The answer is not a finite number (nan or infinite): check your computation.")
        return value
    raise NumberError(f"Un nombre est attendu, pas un objet {kind.__name__}.",
                      f"A number is expected, not a {kind.__name__} object.")


def expected_value(expected) -> float:
    """The author's expected number; :class:`ValueError` (an authoring mistake) if it is none."""
    try:
        return parse_number(expected).value if isinstance(expected, str) else kernel_value(expected)
    except NumberError as exc:
        raise ValueError(f"expected value {expected!r} is not a number ({exc.en}); "
                         "fix the check call in the notebook") from None


def check_tolerances(rel_tol, abs_tol, sig_figs) -> None:
    """Raise :class:`ValueError` for tolerances an author cannot have meant."""
    for name, tol in (("rel_tol", rel_tol), ("abs_tol", abs_tol)):
        if tol is not None and not (isinstance(tol, (int, float)) and 0 <= tol < math.inf):
            raise ValueError(f"{name}={tol!r}: give a non-negative number, for example {name}=0.01")
    if sig_figs is not None and not (isinstance(sig_figs, int) and not isinstance(sig_figs, bool) and sig_figs > 0):
        raise ValueError(f"sig_figs={sig_figs!r}: give a positive integer, for example sig_figs=3")


def _half_unit(expected: float, sig_figs: int) -> float:
    """Half a unit in the ``sig_figs``-th significant digit of ``expected``."""
    if expected == 0:
        return 0.0
    return 0.5 * 10.0 ** (math.floor(math.log10(abs(expected))) - sig_figs + 1)


def _close(value: float, expected: float, tol: float) -> bool:
    # The relative slack absorbs binary rounding: 9.815 must count as within ±0.005 of 9.81.
    return abs(value - expected) <= tol + 1e-12 * max(abs(value), abs(expected))


def assess(value: float, expected: float, *, reading: Reading | None = None, rel_tol=None, abs_tol=None,
           sig_figs=None, scale: float = 1.0) -> str:
    """Compare a value with the expected one; return a verdict (``RIGHT``, ``SIG_FIGS``...).

    With ``rel_tol`` and/or ``abs_tol`` the value is right when ``|value - expected|`` is
    at most ``max(rel_tol * |expected|, abs_tol)`` (as :func:`math.isclose`). With only
    ``sig_figs`` the value is right when it is the expected value rounded to
    ``sig_figs`` figures; a value that is a correct rounding to the learner's own number
    of figures (``9.8`` for 9.80665 when 3 are asked) gets ``SIG_FIGS``. With nothing,
    :data:`DEFAULT_REL_TOL`. ``scale`` converts one unit of the learner's last digit into
    the unit of ``expected`` (units.py compares in the author's unit).
    """
    explicit = rel_tol is not None or abs_tol is not None
    tol = max((rel_tol or 0.0) * abs(expected), abs_tol or 0.0) if explicit else None
    if tol is None and sig_figs is None:
        tol = DEFAULT_REL_TOL * abs(expected)
    if tol is not None:
        if _close(value, expected, tol):
            if sig_figs is not None and reading is not None and not reading.has_sig_figs(sig_figs):
                return SIG_FIGS
            return RIGHT
    else:
        tol = _half_unit(expected, sig_figs)
        if _close(value, expected, tol) and (reading is None or reading.has_sig_figs(sig_figs)):
            return RIGHT
        own = 0.5 * 10.0 ** reading.last_place * abs(scale) if reading is not None else 0.0
        if _close(value, expected, tol) or _close(value, expected, own):
            return SIG_FIGS
    if expected != 0 and _close(-value, expected, tol):
        return SIGN
    if value * expected > 0:
        power = round(math.log10(value / expected))
        if power and abs(power) <= 15 and _close(value / 10.0 ** power, expected, tol):
            return POWER_OF_TEN
    return TOO_LARGE if value > expected else TOO_SMALL


def _figures(count: int, lang: str) -> str:
    if lang == "fr":
        return f"{count} chiffre significatif" if count == 1 else f"{count} chiffres significatifs"
    return f"{count} significant figure" if count == 1 else f"{count} significant figures"


#: Feedback for each verdict of :func:`number`; ``{figures}`` is the count asked for.
MESSAGES = {
    RIGHT: ("Bravo, c'est juste !", "Well done, that's right!"),
    SIG_FIGS: ("La valeur est juste, mais donnez-la avec {figures_fr}.",
               "The value is right, but give it with {figures_en}."),
    TOO_LARGE: ("Pas encore : la valeur est trop grande.", "Not yet: the value is too large."),
    TOO_SMALL: ("Pas encore : la valeur est trop petite.", "Not yet: the value is too small."),
    SIGN: ("Pas encore : vérifiez le signe.", "Not yet: check the sign."),
    POWER_OF_TEN: ("Pas encore : l'ordre de grandeur est faux, vérifiez les puissances de dix.",
                   "Not yet: the order of magnitude is wrong; check the powers of ten."),
}


def verdict_messages(verdict: str, sig_figs: int | None, table: dict = MESSAGES) -> tuple[str, str]:
    """The French and English feedback for a verdict."""
    fr, en = table[verdict]
    count = sig_figs or 0
    return (fr.format(figures_fr=_figures(count, "fr")), en.format(figures_en=_figures(count, "en")))


def number(answer, expected, *, rel_tol: float | None = None, abs_tol: float | None = None,
           sig_figs: int | None = None, lang: str | None = None) -> Result:
    """Grade a numerical answer.

    Args:
        answer: the learner's text (see the module docstring for notations) or a number
            from their kernel. A bool is refused.
        expected: the right value (number or text such as ``"9.81"``).
        rel_tol, abs_tol: tolerances, see :func:`assess`; default ``DEFAULT_REL_TOL``.
        sig_figs: significant figures asked for; only text answers can be checked for
            them (a right value with another count scores :data:`SCORE_SIG_FIGS`).
        lang: feedback language, default ``$TREMPLIN_LANG``.

    Returns:
        A :class:`Result`: 1, :data:`SCORE_SIG_FIGS` or 0 (the feedback says too large,
        too small, wrong sign or wrong power of ten, never the expected value); an
        unreadable answer scores 0 and says what to type; a time-out or crash needs review.

    Raises:
        ValueError: ``expected`` or a tolerance is invalid (a mistake in the notebook).
    """
    target = expected_value(expected)
    check_tolerances(rel_tol, abs_tol, sig_figs)

    def work() -> Result:
        reading = parse_number(answer) if isinstance(answer, str) else None
        value = reading.value if reading else kernel_value(answer)
        verdict = assess(value, target, reading=reading, rel_tol=rel_tol, abs_tol=abs_tol, sig_figs=sig_figs)
        score = {RIGHT: 1.0, SIG_FIGS: SCORE_SIG_FIGS}.get(verdict, 0.0)
        fr, en = verdict_messages(verdict, sig_figs)
        return result(score, fr, en, lang=lang, detail=f"number: {verdict}; answer {value!r}, expected {target!r}")

    try:
        return time_limited(work)
    except NumberError as exc:
        return unreadable(exc.fr, exc.en, lang=lang, detail=f"number: unreadable answer {_quote(repr(answer), 80)}")
    except CheckTimeout:
        return needs_review(f"number: time-out on answer {_quote(repr(answer), 80)}", lang=lang)
    except Exception as exc:  # a crash must become a result, never a lost answer
        return needs_review(f"number: {type(exc).__name__}: {exc} on answer {_quote(repr(answer), 80)}", lang=lang)
