"""Answers as data: Python values to JSON in the sandbox, and back with our own strict reader in the judge.

What a candidate's paper can hand over: ``None``, booleans, integers, floats (``nan`` and
infinities included), complex numbers, text, bytes, lists, tuples, sets, frozensets, dicts,
ranges, fractions, decimals, sympy objects, numpy arrays and scalars, and functions (which
become handles the judge can call back into the sandbox). Anything else is *unreadable*:
the judge is told its type and nothing more.

Every encoded node is a JSON list whose first item is a tag (``["i", "42"]``,
``["l", [...]]``); text, ``true``, ``false`` and ``null`` are themselves. sympy objects are
encoded as trees of class names and arguments (what ``srepr`` shows), and rebuilt by
:func:`decode` from a fixed list of sympy classes, with evaluation off and every leaf
checked: no text ever reaches ``sympify``, ``eval`` or ``pickle``. The decoder counts nodes,
text and depth (:class:`Budget`) and refuses anything over them with :class:`CodecError`.
"""

from __future__ import annotations

import base64
import math
import re
import sys
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Callable

#: Tags of encoded nodes.
INT, FLOAT, COMPLEX, LIST, TUPLE, SET, FROZENSET, DICT, RANGE, FRACTION, DECIMAL, BYTES, SYMPY, ARRAY, FUNCTION, \
    UNREADABLE = "i", "f", "c", "l", "t", "s", "z", "d", "r", "q", "m", "b", "y", "a", "fn", "x"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_DTYPE = re.compile(r"[<>|=]?(b1|[iu][1248]|f[248]|c(8|16))")


class CodecError(Exception):
    """A value cannot be encoded, or encoded data is not acceptable; the message says why."""


class Budget:
    """Limits on one decoding (or encoding): nodes, characters of text, nesting depth."""

    def __init__(self, max_nodes: int = 200_000, max_text: int = 8_000_000, max_depth: int = 40,
                 max_int_digits: int = 4000, max_float_prec: int = 10_000, sympy_seconds: float = 2.0):
        self.nodes, self.text, self.sympy_seconds = max_nodes, max_text, sympy_seconds
        self.max_depth, self.max_int_digits, self.max_float_prec = max_depth, max_int_digits, max_float_prec

    def node(self, depth: int) -> None:
        self.nodes -= 1
        if self.nodes < 0:
            raise CodecError("too many items")
        if depth > self.max_depth:
            raise CodecError("nested too deeply")

    def chars(self, n: int) -> None:
        self.text -= n
        if self.text < 0:
            raise CodecError("too much text")


class Unreadable:
    """What the judge gets for a value that is not data: its type name and why."""

    __slots__ = ("type_name", "reason")

    def __init__(self, type_name: str, reason: str = ""):
        self.type_name, self.reason = type_name, reason

    def __repr__(self) -> str:
        return f"<unreadable {self.type_name}>"


# ---- encoding (sandbox side, and the judge's call arguments) ---------------------------------

def encode(value, *, handle: Callable[[Any], int] | None = None, budget: Budget | None = None) -> Any:
    """``value`` as JSON-ready data. ``handle(function) -> id`` registers callables (else unreadable)."""
    budget = budget or Budget()
    return _encode(value, handle, budget, 0, set())


def _unreadable(value, reason: str = "") -> list:
    return [UNREADABLE, type(value).__name__[:100], reason[:200]]


def _float(v: float):
    return v if math.isfinite(v) else ("nan" if v != v else ("inf" if v > 0 else "-inf"))


def _encode(value, handle, budget: Budget, depth: int, seen: set) -> Any:
    budget.node(depth)
    kind = type(value)
    if value is None or kind is bool:
        return value
    if kind is str:
        budget.chars(len(value))
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return [INT, str(int(value))] if len(str(int(value))) <= budget.max_int_digits else _unreadable(value, "too long")
    if isinstance(value, float):
        return [FLOAT, _float(float(value))]
    if isinstance(value, complex):
        return [COMPLEX, _float(value.real), _float(value.imag)]
    if isinstance(value, (bytes, bytearray)):
        budget.chars(len(value) * 2)
        return [BYTES, base64.b64encode(bytes(value)).decode()]
    if isinstance(value, Fraction):
        return [FRACTION, str(value.numerator), str(value.denominator)]
    if isinstance(value, Decimal):
        return [DECIMAL, str(value)]
    if isinstance(value, range):
        return [RANGE, value.start, value.stop, value.step]
    module = (getattr(kind, "__module__", None) or "").split(".")[0]
    if module == "sympy" or _is_sympy(value):
        try:
            return [SYMPY, _sympy_tree(value, budget, depth + 1)]
        except CodecError as exc:
            return _unreadable(value, str(exc))
    if module == "numpy":
        return _numpy(value, handle, budget, depth, seen)
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        if id(value) in seen:
            return _unreadable(value, "refers to itself")
        seen.add(id(value))
        try:
            if isinstance(value, dict):
                return [DICT, [[_encode(k, handle, budget, depth + 1, seen), _encode(v, handle, budget, depth + 1, seen)]
                               for k, v in list(value.items())]]
            tag = LIST if isinstance(value, list) else TUPLE if isinstance(value, tuple) else \
                SET if isinstance(value, set) else FROZENSET
            return [tag, [_encode(v, handle, budget, depth + 1, seen) for v in list(value)]]
        finally:
            seen.discard(id(value))
    if callable(value) and handle is not None and not isinstance(value, type):
        return [FUNCTION, handle(value), str(getattr(value, "__name__", ""))[:100]]
    return _unreadable(value)


def _is_sympy(value) -> bool:
    sympy = sys.modules.get("sympy")
    if sympy is None:
        return False
    from sympy.core.function import UndefinedFunction

    return isinstance(value, (sympy.Basic, sympy.MatrixBase, UndefinedFunction))


def _numpy(value, handle, budget, depth, seen):
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc" or not _DTYPE.fullmatch(value.dtype.str):
            return _unreadable(value, f"array of {value.dtype}")
        if value.size > budget.nodes:
            return _unreadable(value, "array too large")
        budget.nodes -= value.size
        flat = [_encode(v, handle, budget, depth + 1, seen) for v in value.ravel().tolist()]
        return [ARRAY, value.dtype.str, list(value.shape), flat]
    if isinstance(value, np.generic):
        return _encode(value.item(), handle, budget, depth, seen)
    return _unreadable(value)


# ---- sympy trees -------------------------------------------------------------------------------

#: sympy classes a tree may name (rebuilt with evaluation off); every argument is itself a tree.
SYMPY_CLASSES = frozenset("""
Add Mul Pow Mod Abs sign floor ceiling frac re im arg conjugate exp log LambertW
sin cos tan cot sec csc asin acos atan acot asec acsc atan2 sinh cosh tanh coth sech csch asinh acosh atanh
acoth asech acsch factorial factorial2 binomial gamma loggamma digamma polygamma beta erf erfc erfi zeta
Min Max Heaviside DiracDelta KroneckerDelta
Equality Unequality StrictLessThan LessThan StrictGreaterThan GreaterThan And Or Not Xor Implies Equivalent
Interval FiniteSet Union Intersection Complement SymmetricDifference ProductSet ImageSet ConditionSet Range
Tuple Dict Piecewise ExprCondPair Derivative Integral Sum Product Limit Order Lambda Subs
""".split())

_SINGLETON_TYPES = ("Pi", "Exp1", "ImaginaryUnit", "Infinity", "NegativeInfinity", "ComplexInfinity", "NaN",
                    "EulerGamma", "GoldenRatio", "Catalan", "TribonacciConstant", "BooleanTrue", "BooleanFalse",
                    "EmptySet", "Reals", "Integers", "Naturals", "Naturals0", "Complexes", "Rationals",
                    "UniversalSet")


def _assumptions(symbol) -> dict:
    given = getattr(symbol, "_assumptions_orig", None)
    if given is None:
        given = symbol.assumptions0
    return {k: bool(v) for k, v in given.items() if isinstance(k, str) and v is not None}


def _sympy_tree(e, budget: Budget, depth: int) -> list:
    import sympy as sp
    from sympy.core.function import AppliedUndef, UndefinedFunction

    budget.node(depth)
    name = type(e).__name__
    if isinstance(e, sp.MatrixBase):
        rows, cols = e.shape
        kind = "immutable" if isinstance(e, sp.ImmutableMatrix) else "mutable"
        return ["Matrix", kind, rows, cols, [_sympy_tree(v, budget, depth + 1) for v in list(e)]]
    if isinstance(e, UndefinedFunction):
        return ["UndefinedFunction", str(e.__name__)]
    if not isinstance(e, sp.Basic):
        raise CodecError(f"{name} is not a sympy object")
    if isinstance(e, sp.Integer):
        return ["Integer", str(int(e))]
    if isinstance(e, sp.Rational):
        return ["Rational", str(e.p), str(e.q)]
    if isinstance(e, sp.Float):
        sign, man, exp, bc = e._mpf_
        return ["Float", sign, str(man), exp, bc, e._prec]
    if name in _SINGLETON_TYPES:
        return ["S", name]
    if isinstance(e, sp.Dummy):
        return ["Dummy", e.name, e.dummy_index, _assumptions(e)]
    if type(e) is sp.Symbol:
        return ["Symbol", e.name, _assumptions(e)]
    if isinstance(e, AppliedUndef):
        return ["Applied", str(e.func.__name__), [_sympy_tree(a, budget, depth + 1) for a in e.args]]
    if name not in SYMPY_CLASSES:
        raise CodecError(f"sympy {name} objects are not read")
    return [name, [_sympy_tree(a, budget, depth + 1) for a in e.args]]


def _int(text, budget: Budget) -> int:
    if not isinstance(text, str) or not re.fullmatch(r"-?[0-9]{1,%d}" % budget.max_int_digits, text):
        raise CodecError("an integer is malformed or too long")
    return int(text)


def _build_sympy(node, budget: Budget, depth: int):
    import sympy as sp
    from sympy.core.function import Function

    budget.node(depth)
    if not isinstance(node, list) or not node or not isinstance(node[0], str):
        raise CodecError("a sympy node is malformed")
    name, rest = node[0], node[1:]
    if name == "Integer" and len(rest) == 1:
        return sp.Integer(_int(rest[0], budget))
    if name == "Rational" and len(rest) == 2:
        q = _int(rest[1], budget)
        if q == 0:
            raise CodecError("a rational has a zero denominator")
        return sp.Rational(_int(rest[0], budget), q)
    if name == "Float" and len(rest) == 5:
        sign, man, exp, bc, prec = rest
        if sign not in (0, 1) or not all(isinstance(v, int) and not isinstance(v, bool) for v in (exp, bc, prec)) \
                or not 1 <= prec <= budget.max_float_prec or abs(exp) > 1_000_000 or not 0 <= bc <= 100_000:
            raise CodecError("a float is malformed")
        mantissa = _int(man, budget)
        if mantissa < 0 or mantissa.bit_length() != bc:
            raise CodecError("a float is malformed")
        return sp.Float._new((sign, mantissa, exp, bc), prec)
    if name == "S" and len(rest) == 1 and rest[0] in _SINGLETON_TYPES:
        return {"Pi": sp.pi, "Exp1": sp.E, "ImaginaryUnit": sp.I, "Infinity": sp.oo, "NegativeInfinity": -sp.oo,
                "ComplexInfinity": sp.zoo, "NaN": sp.nan, "EulerGamma": sp.EulerGamma,
                "GoldenRatio": sp.GoldenRatio, "Catalan": sp.Catalan, "TribonacciConstant": sp.TribonacciConstant,
                "BooleanTrue": sp.true, "BooleanFalse": sp.false, "EmptySet": sp.EmptySet, "Reals": sp.Reals,
                "Integers": sp.Integers, "Naturals": sp.Naturals, "Naturals0": sp.Naturals0,
                "Complexes": sp.Complexes, "Rationals": sp.Rationals, "UniversalSet": sp.UniversalSet}[rest[0]]
    if name in ("Symbol", "Dummy"):
        symbol_name, assumptions = rest[0], rest[-1]
        if not isinstance(symbol_name, str) or not 0 < len(symbol_name) <= 100 or not isinstance(assumptions, dict) \
                or len(assumptions) > 40 or not all(isinstance(k, str) and _NAME.fullmatch(k) and isinstance(v, bool)
                                                    for k, v in assumptions.items()):
            raise CodecError("a symbol is malformed")
        try:
            if name == "Dummy":
                index = rest[1] if len(rest) == 3 and isinstance(rest[1], int) else None
                return sp.Dummy(symbol_name, dummy_index=index, **assumptions)
            return sp.Symbol(symbol_name, **assumptions)
        except (ValueError, TypeError, AttributeError) as exc:
            raise CodecError(f"a symbol is malformed ({exc})") from None
    if name == "UndefinedFunction" and len(rest) == 1 and isinstance(rest[0], str) and _NAME.fullmatch(rest[0]):
        return Function(rest[0])
    if name == "Applied" and len(rest) == 2 and isinstance(rest[0], str) and _NAME.fullmatch(rest[0]):
        args = _args(rest[1], budget, depth)
        return Function(rest[0])(*args)
    if name == "Matrix" and len(rest) == 4:
        kind, rows, cols, entries = rest
        if kind not in ("mutable", "immutable") or not all(isinstance(v, int) and not isinstance(v, bool)
                                                           and 0 <= v <= 10_000 for v in (rows, cols)) \
                or not isinstance(entries, list) or len(entries) != rows * cols:
            raise CodecError("a matrix is malformed")
        values = [_build_sympy(v, budget, depth + 1) for v in entries]
        cls = sp.ImmutableMatrix if kind == "immutable" else sp.Matrix
        return cls(rows, cols, values)
    if name in SYMPY_CLASSES and len(rest) == 1:
        cls = _sympy_class(name)
        args = _args(rest[0], budget, depth)
        try:
            try:  # as it was: no evaluation (a hostile factorial(10**4000) stays unevaluated)
                return cls(*args, evaluate=False)
            except TypeError:
                return cls(*args)
        except (TypeError, ValueError, ArithmeticError, AttributeError, IndexError, RecursionError) as exc:
            raise CodecError(f"sympy refused {name}{tuple(map(type, args))} ({type(exc).__name__})") from None
    raise CodecError(f"sympy node {name!r} is not read")


def _sympy_class(name: str):
    import sympy as sp
    from sympy.functions.elementary.piecewise import ExprCondPair

    cls = ExprCondPair if name == "ExprCondPair" else getattr(sp, name, None)
    if not (isinstance(cls, type) and issubclass(cls, sp.Basic)):
        raise CodecError(f"{name} is not a sympy class")
    return cls


def _args(items, budget, depth) -> list:
    if not isinstance(items, list):
        raise CodecError("sympy arguments are malformed")
    return [_build_sympy(a, budget, depth + 1) for a in items]


# ---- decoding (the judge's strict reader) --------------------------------------------------------

def decode(data, *, function: Callable[[int, str], Any] | None = None, budget: Budget | None = None):
    """The value ``data`` stands for; raises :class:`CodecError` for anything malformed or too large.

    ``function(id, name)`` turns a function handle into a callable (else an :class:`Unreadable`).
    Unreadable values come back as :class:`Unreadable`.
    """
    budget = budget or Budget()
    return _decode(data, function, budget, 0)


def _finite_or_tag(value, budget) -> float:
    if isinstance(value, bool):
        raise CodecError("a float is malformed")
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("nan", "inf", "-inf"):
        return float(value)
    raise CodecError("a float is malformed")


def _decode(data, function, budget: Budget, depth: int):
    budget.node(depth)
    if data is None or isinstance(data, bool):
        return data
    if isinstance(data, str):
        budget.chars(len(data))
        return data
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        raise CodecError(f"unexpected {type(data).__name__} in encoded data")
    tag, rest = data[0], data[1:]
    if tag == INT and len(rest) == 1:
        return _int(rest[0], budget)
    if tag == FLOAT and len(rest) == 1:
        return _finite_or_tag(rest[0], budget)
    if tag == COMPLEX and len(rest) == 2:
        return complex(_finite_or_tag(rest[0], budget), _finite_or_tag(rest[1], budget))
    if tag in (LIST, TUPLE, SET, FROZENSET) and len(rest) == 1 and isinstance(rest[0], list):
        items = [_decode(v, function, budget, depth + 1) for v in rest[0]]
        if tag == LIST:
            return items
        if tag == TUPLE:
            return tuple(items)
        try:
            return set(items) if tag == SET else frozenset(items)
        except TypeError:
            raise CodecError("a set holds an unhashable item") from None
    if tag == DICT and len(rest) == 1 and isinstance(rest[0], list):
        out = {}
        for pair in rest[0]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise CodecError("a dict item is malformed")
            key = _decode(pair[0], function, budget, depth + 1)
            try:
                out[key] = _decode(pair[1], function, budget, depth + 1)
            except TypeError:
                raise CodecError("a dict key is unhashable") from None
        return out
    if tag == RANGE and len(rest) == 3 and all(isinstance(v, int) and not isinstance(v, bool) for v in rest):
        if rest[2] == 0 or any(abs(v) > 10 ** 18 for v in rest):
            raise CodecError("a range is malformed")
        return range(*rest)
    if tag == FRACTION and len(rest) == 2:
        denominator = _int(rest[1], budget)
        if denominator == 0:
            raise CodecError("a fraction has a zero denominator")
        return Fraction(_int(rest[0], budget), denominator)
    if tag == DECIMAL and len(rest) == 1 and isinstance(rest[0], str) and len(rest[0]) <= budget.max_int_digits:
        if not re.fullmatch(r"-?(NaN|sNaN|Infinity|[0-9]*\.?[0-9]*(E[+-]?[0-9]{1,6})?)", rest[0]):
            raise CodecError("a decimal is malformed")
        try:
            return Decimal(rest[0])
        except InvalidOperation:
            raise CodecError("a decimal is malformed") from None
    if tag == BYTES and len(rest) == 1 and isinstance(rest[0], str):
        budget.chars(len(rest[0]))
        try:
            return base64.b64decode(rest[0], validate=True)
        except ValueError:
            raise CodecError("bytes are malformed") from None
    if tag == SYMPY and len(rest) == 1:
        from ..check.limits import CheckTimeout, time_limited

        try:
            return time_limited(lambda: _build_sympy(rest[0], budget, depth + 1), budget.sympy_seconds)
        except CheckTimeout:
            raise CodecError("a sympy object is too costly to rebuild") from None
    if tag == ARRAY and len(rest) == 3:
        return _array(rest, function, budget, depth)
    if tag == FUNCTION and len(rest) == 2 and isinstance(rest[0], int) and isinstance(rest[1], str):
        if function is None:
            return Unreadable("function", "functions cannot be passed here")
        return function(rest[0], rest[1][:100])
    if tag == UNREADABLE and len(rest) == 2 and all(isinstance(v, str) for v in rest):
        return Unreadable(rest[0][:100], rest[1][:200])
    raise CodecError(f"tag {tag!r} is not known")


def _array(rest, function, budget: Budget, depth: int):
    dtype, shape, flat = rest
    if not isinstance(dtype, str) or not _DTYPE.fullmatch(dtype) or not isinstance(shape, list) \
            or len(shape) > 32 or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n for n in shape) \
            or not isinstance(flat, list) or math.prod(shape) != len(flat):
        raise CodecError("an array is malformed")
    values = [_decode(v, function, budget, depth + 1) for v in flat]
    if not all(isinstance(v, (bool, int, float, complex)) for v in values):
        raise CodecError("an array holds something other than numbers")
    import numpy as np

    try:
        return np.array(values, dtype=np.dtype(dtype)).reshape(shape)
    except (ValueError, OverflowError, TypeError):
        raise CodecError("an array's values do not fit its type") from None
