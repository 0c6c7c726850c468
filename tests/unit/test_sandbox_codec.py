"""Answers cross the boundary as data: every kind a candidate may hand over comes back equal, and the
judge's reader refuses anything malformed, oversized or not data without ever evaluating it."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from tremplin_grading.sandbox import codec

x, t = sp.symbols("x t")


def roundtrip(value):
    # through real JSON text, as on the wire
    return codec.decode(json.loads(json.dumps(codec.encode(value))))


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 10 ** 40, 1.5, -0.0, 1e-300, "texte accentué ∞", "", b"\x00\xff",
    3 + 4j, Fraction(2, 3), Decimal("0.1"), range(2, 10, 3),
    [1, [2, [3]]], (1, "a"), {1, 2}, frozenset({"a"}), {"k": [1, 2], 3: (4,), (1, 2): None},
])
def test_python_data_comes_back_equal_and_of_the_same_type(value):
    back = roundtrip(value)
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_are_tagged_not_lost(value):
    back = roundtrip(value)
    assert isinstance(back, float) and (math.isnan(back) if value != value else back == value)


@pytest.mark.parametrize("value", [
    sp.Rational(-1, 6), sp.expand((1 + sp.I) ** 7), sp.exp(2), sp.pi / 3 + sp.sqrt(2), x ** 3 * sp.exp(-x),
    3 * sp.cos(2 * t) + sp.Rational(5, 2) * sp.sin(2 * t), sp.Float("1.10000000000000000001", 40),
    sp.Symbol("y", positive=True), sp.FiniteSet(3, 7), sp.Interval(0, 1, True, False), sp.Eq(x, 2),
    sp.Matrix([[1, 2], [3, x]]), sp.ImmutableMatrix([[1, 0]]), sp.Integral(x, (x, 0, 1)),
    sp.Derivative(x ** 2, (x, 2)), sp.Piecewise((x, x > 0), (0, True)), sp.oo, -sp.oo, sp.zoo, sp.nan,
    sp.Function("f")(x), sp.Tuple(1, 2, 3), sp.Order(x ** 4), sp.Limit(sp.sin(x) / x, x, 0),
])
def test_sympy_objects_are_rebuilt_structurally_equal(value):
    back = roundtrip(value)
    assert back == value or (value is sp.nan and back is sp.nan)
    # (an undefined function's class is made anew by each Function('f'): equal, maybe not the same object)
    assert type(back) is type(value) or back.func == value.func


def test_numpy_arrays_and_scalars_come_back_as_data():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    back = roundtrip(a)
    assert isinstance(back, np.ndarray) and back.dtype == a.dtype and (back == a).all()
    assert roundtrip(np.float64(2.5)) == 2.5 and type(roundtrip(np.float64(2.5))) is float
    assert isinstance(roundtrip(np.array([object()], dtype=object)), codec.Unreadable)


def test_functions_become_handles_and_other_objects_unreadable():
    handles = []
    encoded = codec.encode({"f": len, "o": object()}, handle=lambda f: handles.append(f) or len(handles) - 1)
    back = codec.decode(encoded, function=lambda fid, name: ("proxy", fid, name))
    assert back["f"] == ("proxy", 0, "len") and handles == [len]
    assert isinstance(back["o"], codec.Unreadable) and back["o"].type_name == "object"


def test_an_object_that_claims_to_equal_everything_is_not_data():
    class Always:
        def __eq__(self, other):
            return True

    assert isinstance(roundtrip(Always()), codec.Unreadable)


def test_subclasses_cross_as_their_plain_value():
    class Yes(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    back = roundtrip(Yes(7))
    assert type(back) is int and back == 7 and back != 8


@pytest.mark.parametrize("data,reason", [
    (["i", "1" * 5000], "integer"),
    (["i", "1e5"], "integer"),
    (["f", "1.0"], "float"),
    (["zz", 1], "not known"),
    ({"op": 1}, "unexpected"),
    (["y", ["__import__", [["Symbol", "os", {}]]]], "not read"),
    (["y", ["Symbol", "x", {"real": "yes"}]], "symbol"),
    (["y", ["Float", 0, "3", -1, 2, 10 ** 9]], "float"),
    (["y", ["Rational", "1", "0"]], "zero denominator"),
    (["s", [["l", []]]], "unhashable"),
    (["a", "O", [1], [["i", "1"]]], "malformed"),
    (["a", "<i8", [2], [["i", "1"]]], "malformed"),
    (["r", 0, 10, 0], "range"),
])
def test_the_reader_refuses_malformed_data_with_a_reason(data, reason):
    with pytest.raises(codec.CodecError, match=reason):
        codec.decode(data)


def test_budgets_stop_huge_or_deep_data_before_it_is_built():
    deep = ["l", []]
    for _ in range(100):
        deep = ["l", [deep]]
    with pytest.raises(codec.CodecError, match="deeply"):
        codec.decode(deep)
    wide = ["l", [["i", "1"]] * 1000]
    with pytest.raises(codec.CodecError, match="too many"):
        codec.decode(wide, budget=codec.Budget(max_nodes=100))
    with pytest.raises(codec.CodecError, match="text"):
        codec.decode(["l", ["x" * 1000] * 10], budget=codec.Budget(max_text=5000))


def test_text_in_a_sympy_tree_never_reaches_sympify():
    # a symbol's name is only ever a name: the evaluated expression never runs
    back = codec.decode(["y", ["Symbol", "__import__('os').system('id')", {}]])
    assert isinstance(back, sp.Symbol) and back.name.startswith("__import__")
    with pytest.raises(codec.CodecError):
        codec.decode(["y", ["Add", ["1 + 1"]]])
