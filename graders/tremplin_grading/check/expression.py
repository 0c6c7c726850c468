"""Is a learner's answer mathematically the expected one? Expressions, equations, sets, intervals, matrices.

:func:`expression` compares a learner's answer (typed text, read safely by
:func:`~tremplin_grading.check.parse.parse_math`, or an object from their kernel) with the
author's expected answer and returns a :class:`~tremplin_grading.check.result.Result`::

    r = expression(q1_answer, "2*x*exp(x**2)", variables="x")
    r.award(3)

How equivalence is decided, cheapest first (a call typically takes a few milliseconds):

1. structural equality;
2. values at six random real points (fixed seed, 30 digits, complex results allowed): a clear
   difference proves the answer wrong, so wrong answers never reach the slow steps;
3. a symbolic proof of ``answer - expected == 0`` (``expand``, ``cancel``, ``expand_trig``,
   ``trigsimp``, then ``simplify``) within half the time budget; if it neither proves nor
   disproves, agreement at every point is accepted.

Choices worth knowing:

* Variables are real (``sqrt(x**2)`` is ``|x|``). An identity true only for x > 0, such as
  ln(x²) = 2 ln x, is not accepted: it fails at the negative sample points.
* Decimals are exact (0.1 is 1/10), so an approximation such as 1.414 for √2 is wrong here;
  tolerances belong to a numeric checker.
* Forms (``form=``): *expanded* means unchanged by ``expand`` (products and integer powers
  only); *factored* means every sum in the product is irreducible over the rationals with no
  numeric factor left inside it (``(2x+2)(x-1)`` is not factored, ``2(x+1)(x-1)`` is);
  *simplified* means no common factor between numerator and denominator and at most
  ``_SLACK`` more operations (``count_ops``) than the expected answer or than
  ``simplify(answer)``. Forms apply to expressions only. A kernel object's form is what sympy
  made of it (``2*(x+1)`` is already ``2*x + 2`` there).
* Equations are equivalent when lhs - rhs differ by a nonzero constant factor.
* ``(a, b)`` is an open interval when an interval is expected. ``y = 2x``, ``f(x) = 2x`` or
  ``x = 3`` count by their right-hand side when an expression is expected and the name on the
  left is not in it. With ``up_to_constant`` the names C and K may be the constant.
* Typed text in a comma-ambiguous notation (``{1,5}``, ``[1,2]``) is read both ways when the
  expected answer is a set, interval, vector or matrix; the better reading counts.
* Mistakes of the author (unknown ``form``, unreadable expected answer) raise ValueError, so
  they show up when the notebook is validated; everything about the answer becomes a Result.
"""

from __future__ import annotations

import fractions
import random
import re
import time
from decimal import Decimal

import mpmath
import sympy as sp
from sympy.core.parameters import distribute
from sympy.functions.elementary.hyperbolic import HyperbolicFunction
from sympy.functions.elementary.trigonometric import TrigonometricFunction

from .limits import CheckTimeout, time_limited
from .parse import ParseError, parse_math, variable_names
from .result import LANGUAGES, Result, needs_review, result, unreadable

FORMS = ("any", "simplified", "expanded", "factored")
_POINTS = 6          # random points for the numeric comparison
_DIGITS = 30         # working precision of those evaluations
_TOL = 1e-9          # relative tolerance: far above rounding errors, far below any real mistake
_SEED = 20240917
_SLACK = 2           # extra operations a "simplified" answer may have
_CONSTANT_NAMES = ("C", "K")
_NAMED = re.compile(r"\s*[^\W\d]\w*'*(\(\w*\))?\s*=(?!=)")
_INFINITIES = (sp.oo, -sp.oo, sp.zoo, sp.nan)

_KINDS = {
    "expression": ("une expression ou un nombre", "an expression or a number"),
    "equation": ("une équation (avec un signe =)", "an equation (with an = sign)"),
    "set": ("un ensemble, par exemple {1 ; 2}", "a set, for example {1, 2}"),
    "interval": ("un intervalle, par exemple [0 ; 1[", "an interval, for example [0, 1)"),
    "vector": ("un vecteur, par exemple (1 ; 2)", "a vector, for example (1, 2)"),
    "matrix": ("une matrice, par exemple [[1, 2], [3, 4]]", "a matrix, for example [[1, 2], [3, 4]]"),
    "other": ("autre chose", "something else"),
}
_FORM_HINTS = {
    "expanded": ("Résultat juste, mais développez-le.", "Right result, but expand it."),
    "factored": ("Résultat juste, mais factorisez-le complètement.", "Right result, but factor it completely."),
    "simplified": ("Résultat juste, mais simplifiez-le.", "Right result, but simplify it."),
}
_RIGHT = ("Bravo, c'est juste !", "Well done, that's right!")  # as every checker says it


def expression(answer, expected, *, variables=None, form: str = "any", up_to_constant: bool = False,
               lang: str | None = None, timeout: float = 2.0) -> Result:
    """Compare ``answer`` with ``expected`` and return a Result; see the module docstring.

    ``answer`` is the learner's text or an object from their kernel (sympy object, number,
    list/tuple/set, Matrix); ``expected`` the author's text or a sympy object. ``variables``:
    ``"x y"``, ``"x, y"`` or names, default the symbols of ``expected``. ``form``: ``"any"``,
    ``"simplified"``, ``"expanded"`` or ``"factored"``. ``up_to_constant`` accepts answers that
    differ by a constant (antiderivatives). ``lang`` (``"fr"``/``"en"``, default
    ``$TREMPLIN_LANG``) picks :attr:`Result.feedback`. Past ``timeout`` seconds the answer is
    flagged for review. Scores: 1 right, 0.5 right in the wrong form or with a wrong interval
    bracket, 0 wrong or unreadable. ValueError is raised for the author's mistakes only.
    """
    if form not in FORMS:
        raise ValueError(f"form {form!r} is not known; use one of {', '.join(FORMS)}")
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not supported; use one of {', '.join(LANGUAGES)}")
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    names = variable_names(variables)
    target = _read_expected(expected, names)
    declared = tuple(dict.fromkeys(names + tuple(sorted(str(s) for s in target.free_symbols))))
    names = names or declared
    if up_to_constant and not names:
        raise ValueError("up_to_constant needs a variable: pass variables='x' or an expected answer in x")
    if up_to_constant:
        declared += tuple(c for c in _CONSTANT_NAMES if c not in declared)
    check = _Check(target, names, declared, form, up_to_constant, lang, timeout)
    try:
        return time_limited(lambda: check.run(answer), timeout)
    except CheckTimeout:
        return needs_review(f"no decision within {timeout} s (answer {_short(answer)})", lang=lang)
    except Exception as exc:  # a checker bug must not lose the answer: a person grades it
        return needs_review(f"checker error {type(exc).__name__}: {exc} (answer {_short(answer)})", lang=lang)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _read_expected(expected, names):
    if isinstance(expected, str):
        try:  # authors write Python: "(1,2)" is a pair unless a ";" makes "," a decimal comma
            obj = parse_math(expected, variables=names, any_name=True, max_length=20_000,
                             decimal_comma=None if ";" in expected else False)
        except ParseError as exc:
            raise ValueError(f"the expected answer {expected!r} cannot be read: {exc.en}") from None
    else:
        obj = _from_kernel(expected)
        if obj is None:
            raise ValueError(f"the expected answer {expected!r} is a {type(expected).__name__}; "
                             "give a string or a sympy object")
    if _kind(obj) == "other":
        raise ValueError(f"the expected answer {expected!r} is not an expression, equation, set, "
                         "interval, vector or matrix")
    return obj


_NUMBERS = ((bool, lambda v: None), (int, sp.Integer), (float, sp.Float), (fractions.Fraction, sp.Rational),
            (complex, lambda v: sp.Float(v.real) + sp.I * sp.Float(v.imag)),
            (Decimal, lambda v: sp.Rational(v) if v.is_finite() else None))


def _from_kernel(obj):
    """A learner's kernel object as a sympy object, never through sympify (it may eval text)."""
    if isinstance(obj, sp.MatrixBase):
        return sp.ImmutableMatrix(obj)
    if isinstance(obj, sp.Basic) or obj is None:
        return obj
    for kind, convert in _NUMBERS:
        if isinstance(obj, kind):
            return convert(obj)
    if type(obj).__module__.split(".")[0] == "numpy" and hasattr(obj, "tolist"):
        return _from_kernel(obj.tolist())
    if isinstance(obj, (set, frozenset)):
        items = [_from_kernel(v) for v in obj]
        return None if None in items else sp.FiniteSet(*items)
    if isinstance(obj, (list, tuple)):
        items = [_from_kernel(v) for v in obj]
        if any(v is None for v in items):
            return None
        if items and all(isinstance(v, sp.Tuple) for v in items) and isinstance(obj, list) \
                and len({len(v) for v in items}) == 1:
            return sp.ImmutableMatrix([list(v) for v in items])  # a list of lists is a matrix
        return sp.Tuple(*items)
    return None


_KIND_OF = ((sp.Equality, "equation"), (sp.MatrixBase, "matrix"), (sp.Interval, "interval"), (sp.Set, "set"),
            (sp.Tuple, "vector"), (sp.Expr, "expression"))


def _kind(obj) -> str:
    """What an answer is; the order matters (a Matrix is an Expr, an Interval a Set)."""
    return next((kind for cls, kind in _KIND_OF if isinstance(obj, cls)), "other")


def _real(obj):
    """Every symbol becomes a real symbol of the same name, so answer and expected share them."""
    mapping = {s: sp.Symbol(s.name, real=True) for s in obj.free_symbols if isinstance(s, sp.Symbol)}
    with distribute(False):  # rebuilding 2*(x+1) must not expand it
        if isinstance(obj, sp.Equality):
            return sp.Eq(obj.lhs.xreplace(mapping), obj.rhs.xreplace(mapping), evaluate=False)
        return obj.xreplace(mapping)


class _Check:
    """One comparison: the expected answer, the options and the deadline."""

    def __init__(self, target, names, declared, form, up_to_constant, lang, timeout):
        self.target, self.names, self.declared = _real(target), names, declared
        self.form, self.up_to_constant, self.lang, self.timeout = form, up_to_constant, lang, timeout
        self.variables = [sp.Symbol(n, real=True) for n in names]
        self.inconclusive = False
        self.deadline = 0.0

    def say(self, score, fr, en, detail=""):
        return result(score, fr, en, lang=self.lang, detail=detail)

    def run(self, answer) -> Result:
        self.deadline = time.monotonic() + self.timeout
        readings = self.readings(answer)
        if isinstance(readings, Result):
            return readings
        readings, unknown = readings
        best, best_key = None, None
        for reading in readings:
            reading = _real(reading)
            outcome = self.compare(reading)
            # on equal scores, the reading shaped like the expected answer gives the useful feedback
            key = (outcome.score, _shaped_like(reading, self.target))
            if best is None or key > best_key:
                best, best_key = outcome, key
            if best.correct:
                break
        if unknown is not None and not best.score:
            # Names the author did not declare count only in an answer equivalent to the expected
            # one (sin(x)² + cos(x)² for 1); otherwise the reader's sentence names the unknown name.
            return unreadable(unknown.fr, unknown.en, lang=self.lang, detail=f"unknown name in {answer!r}")
        if not best.score and self.inconclusive:
            return needs_review("the numeric and symbolic comparisons were both inconclusive", lang=self.lang)
        return best

    def readings(self, answer):
        """The ways to read the answer (one, or two for a comma-ambiguous text) and, when the text
        only reads with names the author did not declare, the ParseError that names them."""
        if answer is None:  # the variable was never given a value
            return unreadable("Aucune réponse : donnez votre résultat.", "No answer: give your result.",
                              lang=self.lang)
        if not isinstance(answer, str):
            obj = _from_kernel(answer)
            if obj is None:
                what = type(answer).__name__
                return unreadable(f"Un objet de type {what} n'est pas une réponse mathématique ; donnez un nombre, "
                                  "une expression sympy ou un texte.",
                                  f"An object of type {what} is not a mathematical answer; give a number, "
                                  "a sympy expression or a text.", lang=self.lang)
            return [obj], None
        want = _kind(self.target)
        options = [{}]
        if want != "expression" and "," in answer:
            options.append({"decimal_comma": False})
        if want == "vector" and "[" in answer:
            options += [dict(o, vector_brackets=True) for o in options]
        texts = [answer]
        named = _NAMED.match(answer)
        if want == "expression" and named:
            texts.append(answer[named.end():])  # "y = 2x", "f'(x) = 2x": the expression is on the right
        found, error = [], None
        for text in texts:
            for option in options:
                try:
                    found.append(parse_math(text, variables=self.declared, **option))
                except ParseError as exc:
                    if exc.too_costly:
                        return needs_review(f"too costly to read: {exc.en}", lang=self.lang)
                    error = error or exc
            if found:
                break
        if found:
            return found, None
        if error.key in ("unknown", "unknown_constant"):
            try:  # every other name as a variable: right only if the answer does not depend on them
                return [parse_math(texts[-1], variables=self.declared, any_name=True, **options[0])], error
            except ParseError:
                pass
        return unreadable(error.fr, error.en, lang=self.lang, detail=f"unreadable: {answer!r}")

    # -- dispatch on what is expected -------------------------------------------------------

    def compare(self, answer) -> Result:
        want, got = _kind(self.target), _kind(answer)
        if want == "interval" and got == "vector" and len(answer) == 2:
            low, high = answer  # "(a, b)" written for an open interval
            if (low < high) == sp.false:
                return self.say(0, "Les bornes de l'intervalle ne sont pas les bonnes.",
                                "The interval's end points are not right.", detail="ends in wrong order")
            answer, got = sp.Interval(low, high, True, True), "interval"
        if want == "expression" and got == "equation" and isinstance(answer.lhs, sp.Symbol) \
                and answer.lhs not in self.target.free_symbols:
            answer, got = answer.rhs, "expression"  # "y = 2x" for the expression 2x
        if {want, got} == {"vector", "matrix"} and 1 in (answer if got == "matrix" else self.target).shape:
            return self.vector(sp.Tuple(*_flat(answer)), sp.Tuple(*_flat(self.target)))
        if want != got:
            (efr, een), (afr, aen) = _KINDS[want], _KINDS[got]
            return self.say(0, f"La réponse doit être {efr}, pas {afr.split(',')[0]}.",
                            f"The answer should be {een}, not {aen.split(',')[0]}.",
                            detail=f"expected kind {want}, got {got}")
        return getattr(self, want)(answer, self.target)

    def expression(self, answer, target) -> Result:
        if self.up_to_constant:
            difference = answer - target
            same = all(self.same(sp.diff(difference, v), sp.Integer(0)) for v in self.variables)
            if not same:
                return self.say(0, "Ce n'est pas une bonne primitive : sa dérivée n'est pas la fonction demandée.",
                                "This is not a right antiderivative: its derivative is not the given function.")
        elif not self.same(answer, target):
            return self.say(0, "Ce n'est pas la réponse attendue.", "This is not the expected answer.")
        if self.form != "any" and not self.in_form(answer, target):
            return self.say(0.5, *_FORM_HINTS[self.form], detail=f"equivalent, not {self.form}")
        return self.say(1, *_RIGHT)

    def equation(self, answer, target) -> Result:
        f, g = answer.lhs - answer.rhs, target.lhs - target.rhs
        if self.proportional(f, g):
            return self.say(1, *_RIGHT)
        return self.say(0, "Cette équation n'est pas équivalente à celle attendue.",
                        "This equation is not equivalent to the expected one.")

    def set(self, answer, target) -> Result:
        if answer == target:
            same = True
        elif isinstance(answer, sp.FiniteSet) and isinstance(target, sp.FiniteSet):
            same = self.same_elements(list(answer), list(target))
        else:  # unions, empty set, intervals inside sets...: let sympy compare
            same = sp.Complement(answer, target) == sp.EmptySet and sp.Complement(target, answer) == sp.EmptySet
        if same:
            return self.say(1, *_RIGHT)
        return self.say(0, "L'ensemble n'a pas les bons éléments (il en manque ou il y en a de trop).",
                        "The set does not have the right elements (some are missing or extra).")

    def interval(self, answer, target) -> Result:
        if not (self.same(answer.start, target.start) and self.same(answer.end, target.end)):
            return self.say(0, "Les bornes de l'intervalle ne sont pas les bonnes.",
                            "The interval's end points are not right.")
        if (answer.left_open, answer.right_open) != (target.left_open, target.right_open):
            return self.say(0.5, "Les bornes sont justes, mais vérifiez si elles sont incluses ou exclues "
                                 "(sens des crochets).",
                            "The end points are right, but check which ends are included or excluded "
                            "([ or ( brackets).", detail="wrong openness")
        return self.say(1, *_RIGHT)

    def vector(self, answer, target) -> Result:
        if len(answer) != len(target):
            return self.say(0, f"Il faut {len(target)} composantes, votre réponse en a {len(answer)}.",
                            f"{len(target)} components are expected, your answer has {len(answer)}.")
        wrong = [str(k + 1) for k, (a, b) in enumerate(zip(answer, target)) if not self.same_object(a, b)]
        if not wrong:
            return self.say(1, *_RIGHT)
        return self.say(0, f"Composante(s) fausse(s) : n° {', '.join(wrong)}.",
                        f"Wrong component(s): number {', '.join(wrong)}.")

    def matrix(self, answer, target) -> Result:
        if answer.shape != target.shape:
            return self.say(0, f"Il faut une matrice {target.rows}×{target.cols}, la vôtre est "
                               f"{answer.rows}×{answer.cols}.",
                            f"A {target.rows}×{target.cols} matrix is expected, yours is "
                            f"{answer.rows}×{answer.cols}.")
        wrong = [f"({i + 1}, {j + 1})" for i in range(target.rows) for j in range(target.cols)
                 if not self.same(answer[i, j], target[i, j])]
        if not wrong:
            return self.say(1, *_RIGHT)
        return self.say(0, f"Coefficient(s) faux (ligne, colonne) : {', '.join(wrong)}.",
                        f"Wrong entries (row, column): {', '.join(wrong)}.")

    # -- equivalence ------------------------------------------------------------------------

    def same_object(self, a, b) -> bool:
        if isinstance(a, sp.Expr) and isinstance(b, sp.Expr) and _kind(a) == _kind(b) == "expression":
            return self.same(a, b)
        if isinstance(a, sp.Tuple) and isinstance(b, sp.Tuple) and len(a) == len(b):
            return all(self.same_object(x, y) for x, y in zip(a, b))
        return a == b

    def same_elements(self, answer: list, target: list) -> bool:
        if len(answer) != len(target):
            return False
        left = list(answer)
        for b in target:
            match = next((a for a in left if self.same_object(a, b)), None)
            if match is None:
                return False
            left.remove(match)
        return True

    def same(self, a, b) -> bool:
        """a ≡ b: structural, then numeric (disproves), then a symbolic proof; see module docstring."""
        if a == b:
            return True
        if a.has(*_INFINITIES) or b.has(*_INFINITIES):
            return False  # infinite values were equal structurally or not at all
        numeric = self.numeric(a, b)
        if numeric is False:
            return False
        proof = self.prove_zero(a - b)
        if proof is not None:
            return proof
        if numeric is None:
            self.inconclusive = True
            return False
        return True

    def prove_zero(self, difference) -> bool | None:
        budget = min(self.timeout / 2, self.deadline - time.monotonic() - 0.05)
        if budget < 0.02:
            return None

        def attempt():
            # cheap proofs first: polynomials, rational functions, multiple angles, trig identities
            if sp.expand(difference) == 0 or sp.cancel(sp.together(difference)) == 0:
                return True
            if difference.has(TrigonometricFunction, HyperbolicFunction) and (
                    sp.expand(sp.expand_trig(difference)) == 0 or sp.trigsimp(difference) == 0):
                return True
            simple = sp.simplify(difference)
            if simple == 0:
                return True
            return False if simple.is_number and simple.is_zero is False else None

        try:
            return time_limited(attempt, budget)
        except CheckTimeout:
            return None  # fall back on the numeric verdict

    def numeric(self, a, b) -> bool | None:
        """True if a and b agree at every sample point, False if they differ at one, None if too few points."""
        agree, points = 0, self.points(a.free_symbols | b.free_symbols)
        for point in points:
            va, vb = _value(a, point), _value(b, point)
            if va is None or vb is None:
                continue  # outside the domain of one of them
            # evalf returns an exact-looking 0 (0.e-166) for true cancellations, so a tiny floor is enough
            if abs(va - vb) > _TOL * max(abs(va), abs(vb), mpmath.mpf(10) ** -20):
                return False
            agree += 1
        return True if agree >= min(3, len(points)) else None

    def proportional(self, f, g) -> bool:
        """f = k·g for a nonzero constant k (two equivalent equations f = 0 and g = 0)."""
        if f == 0 or g == 0:
            return self.same(f, g)
        ratios = []
        for point in self.points(f.free_symbols | g.free_symbols):
            vf, vg = _value(f, point), _value(g, point)
            if vf is not None and vg is not None and abs(vg) > 1e-15:
                ratios.append(vf / vg)
        if ratios and any(abs(r - ratios[0]) > _TOL * max(abs(r), abs(ratios[0])) for r in ratios):
            return False
        ratio = sp.cancel(sp.together(f / g))
        if not ratio.free_symbols and ratio.is_finite and ratio != 0:
            return True
        if len(ratios) >= 3 and abs(ratios[0]) > 1e-12:
            return True
        self.inconclusive = True
        return False

    def points(self, symbols) -> list[dict]:
        """Sample points with the same seed each call, so a grade never depends on luck."""
        ordered = sorted(symbols, key=str)
        if not ordered:
            return [{}]
        rng = random.Random(_SEED)
        # magnitudes 0.3-3.5 of both signs: away from 0 and ±1 where wrong answers often agree
        return [{s: sp.Float(rng.choice((-1, 1)) * rng.uniform(0.3, 3.5), _DIGITS) for s in ordered}
                for _ in range(_POINTS)]

    # -- forms --------------------------------------------------------------------------------

    def in_form(self, answer, target) -> bool:
        if self.form == "expanded":
            return sp.expand(answer, power_base=False, power_exp=False, log=False) == answer
        if self.form == "factored":
            return all(not _reducible(base) for base in _factor_bases(answer))
        n, d = sp.fraction(sp.together(answer))
        symbols = sorted(answer.free_symbols, key=str)
        if d.free_symbols and n.is_polynomial(*symbols) and d.is_polynomial(*symbols) \
                and sp.gcd(n, d).free_symbols:
            return False  # a common factor is left in the fraction
        ops = sp.count_ops(answer)
        return ops <= sp.count_ops(target) + _SLACK or ops <= sp.count_ops(sp.simplify(answer)) + _SLACK


def _value(expr, point):
    """expr at point as an mpmath complex, or None where it is undefined, infinite or not accurate."""
    try:
        v = expr.evalf(_DIGITS, subs=point)
        if v.free_symbols or v.has(*_INFINITIES):
            return None
        parts = [_accurate(part) for part in v.as_real_imag()]
        if None in parts:
            return None
        z = mpmath.mpc(*parts)
    except (TypeError, ValueError, ArithmeticError, AttributeError):
        return None
    return z if mpmath.isfinite(z) else None


def _accurate(number):
    """An mpf, 0 for a cancellation evalf could only bound (0.e-135), None if no digit is sure (0.e+5020)."""
    if isinstance(number, sp.Float) and number._prec < 20:
        return mpmath.mpf(0) if abs(number) < 1e-20 else None
    return mpmath.mpf(sp.Float(number, _DIGITS)._mpf_)


def _shaped_like(a, b) -> bool:
    if _kind(a) != _kind(b):
        return False
    if isinstance(a, sp.MatrixBase):
        return a.shape == b.shape
    return len(a) == len(b) if isinstance(a, (sp.Tuple, sp.FiniteSet)) else True


def _factor_bases(expr):
    """The sums a product is made of: (x+1)^2·(x-2)/(x+3) -> x+1, x-2, x+3 (or expr itself)."""
    for factor in sp.Mul.make_args(expr):
        base, exponent = factor.as_base_exp()
        if isinstance(base, sp.Add):
            yield base


def _reducible(polynomial) -> bool:
    """Does factor() split this sum, or pull a number other than ±1 out of it?"""
    factored = sp.factor(polynomial)
    count, content = 0, sp.Integer(1)
    for part in sp.Mul.make_args(factored):
        if part.is_number:
            content *= part
            continue
        base, exponent = part.as_base_exp()
        count += int(exponent) if isinstance(part, sp.Pow) and exponent.is_Integer and exponent > 0 else 1
    return count > 1 or abs(content) != 1


def _flat(obj) -> list:
    return list(obj) if not isinstance(obj, sp.MatrixBase) else [obj[k] for k in range(len(obj))]
