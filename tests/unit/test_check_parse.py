"""Reading learners' maths: each notation gives the expected sympy object, malformed or malicious
text is refused with a bilingual ParseError without running anything, and oversized text is
flagged too costly (for manual review) rather than computed."""

from __future__ import annotations

import builtins

import pytest
import sympy as sp

from tremplin_grading.check.parse import ParseError, parse_math, variable_names

x, y = sp.symbols("x y")
R = sp.Rational


@pytest.mark.parametrize("text,variables,expected", [
    # implicit multiplication and powers
    ("2x", "x", 2 * x),
    ("2 x", "x", 2 * x),
    ("x^2", "x", x**2),
    ("x**2", "x", x**2),
    ("x²", "x", x**2),
    ("x³ + x²", "x", x**3 + x**2),
    ("x⁻¹", "x", 1 / x),
    ("(x+1)(x-1)", "x", (x + 1) * (x - 1)),
    ("3sin(x)", "x", 3 * sp.sin(x)),
    ("x y", "x y", x * y),
    ("xy", "x y", x * y),
    ("xy", "xy", sp.Symbol("xy")),
    ("x sin x cos x", "x", x * sp.sin(x) * sp.cos(x)),
    ("1/2x", "x", x / 2),
    ("-x^2", "x", -x**2),
    ("--x", "x", x),
    ("+x", "x", x),
    ("2^3^2", "", sp.Integer(512)),
    ("((x))", "x", x),
    # roots, constants, functions
    ("√x", "x", sp.sqrt(x)),
    ("√(x+1)", "x", sp.sqrt(x + 1)),
    ("sqrt(x)", "x", sp.sqrt(x)),
    ("2√3", "", 2 * sp.sqrt(3)),
    ("pi", "", sp.pi),
    ("π", "", sp.pi),
    ("2pi", "", 2 * sp.pi),
    ("2π", "", 2 * sp.pi),
    ("e", "", sp.E),
    ("e", "e", sp.Symbol("e")),
    ("e^x", "x", sp.exp(x)),
    ("xe^x", "x", x * sp.exp(x)),
    ("i^2", "", sp.Integer(-1)),
    ("i", "i", sp.Symbol("i")),
    ("ln(x)", "x", sp.log(x)),
    ("log(x)", "x", sp.log(x)),
    ("log10(1000)", "", sp.Integer(3)),
    ("log2(x)", "x", sp.log(x) / sp.log(2)),
    ("exp(x)", "x", sp.exp(x)),
    ("sin(x) + cos(x) + tan(x)", "x", sp.sin(x) + sp.cos(x) + sp.tan(x)),
    ("asin(x) + acos(x) + atan(x)", "x", sp.asin(x) + sp.acos(x) + sp.atan(x)),
    ("arcsin(x) + arccos(x) + arctan(x)", "x", sp.asin(x) + sp.acos(x) + sp.atan(x)),
    ("sinh(x) + cosh(x) + tanh(x)", "x", sp.sinh(x) + sp.cosh(x) + sp.tanh(x)),
    ("sin x", "x", sp.sin(x)),
    ("sinx", "x", sp.sin(x)),
    ("sin²(x)", "x", sp.sin(x)**2),
    ("sin^2 x", "x", sp.sin(x)**2),
    ("abs(x)", "x", sp.Abs(x)),
    ("|x - 1|", "x", sp.Abs(x - 1)),
    ("||x| - 1|", "x", sp.Abs(sp.Abs(x) - 1)),
    ("2|x|", "x", 2 * sp.Abs(x)),
    ("oo", "", sp.oo),
    ("inf", "", sp.oo),
    ("∞", "", sp.oo),
    ("-∞", "", -sp.oo),
    ("θ", "theta", sp.Symbol("theta")),
    # operators typed with other characters
    ("3 − x", "x", 3 - x),
    ("2·x", "x", 2 * x),
    ("2×x", "x", 2 * x),
    ("2⋅x", "x", 2 * x),
    ("6÷4", "", R(3, 2)),
    # numbers: decimals are exact, decimal comma, scientific notation
    ("3.14", "", R(314, 100)),
    ("3,14", "", R(314, 100)),
    (".5", "", R(1, 2)),
    ("1.5e-3", "", R(3, 2000)),
    ("1,5e3", "", sp.Integer(1500)),
    ("1E6", "", sp.Integer(10**6)),
    ("2e-3", "", R(1, 500)),
    ("2e", "", 2 * sp.E),
    ("2×10^3", "", sp.Integer(2000)),
    ("2·10⁻³", "", R(1, 500)),
    ("10^1000", "", sp.Integer(10)**1000),
    # equations, sets, intervals, vectors, matrices
    ("x + y = 1", "x y", sp.Eq(x + y, 1)),
    ("x == 1", "x", sp.Eq(x, 1)),
    ("x = x", "x", sp.Eq(x, x, evaluate=False)),
    ("{1, 2}", "", sp.FiniteSet(1, 2)),
    ("{1; 2}", "", sp.FiniteSet(1, 2)),
    ("{1,5; 2}", "", sp.FiniteSet(R(3, 2), 2)),
    ("{}", "", sp.EmptySet),
    ("∅", "", sp.EmptySet),
    ("[1, 2]", "", sp.Interval(1, 2)),
    ("(1, 2]", "", sp.Interval.Lopen(1, 2)),
    ("[1, 2)", "", sp.Interval.Ropen(1, 2)),
    ("]1, 2[", "", sp.Interval.open(1, 2)),
    ("[1, 2[", "", sp.Interval.Ropen(1, 2)),
    ("]1; 2]", "", sp.Interval.Lopen(1, 2)),
    ("[0 ; +∞[", "", sp.Interval(0, sp.oo)),
    ("]-oo, 0]", "", sp.Interval(-sp.oo, 0)),
    ("(1, 2)", "", sp.Tuple(1, 2)),
    ("(1, 2, 3)", "", sp.Tuple(1, 2, 3)),
    ("(1,2,3)", "", sp.Tuple(1, 2, 3)),
    ("[1, 2, 3]", "", sp.Tuple(1, 2, 3)),
    ("[[1, 2], [3, 4]]", "", sp.ImmutableMatrix([[1, 2], [3, 4]])),
    ("[[x]; [2x]]", "x", sp.ImmutableMatrix([[x], [2 * x]])),
])
def test_notation_reads_as_sympy_object(text, variables, expected):
    got = parse_math(text, variables=variables)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize("text,decimal_comma,expected", [
    ("{1,2}", None, sp.FiniteSet(R(6, 5))),        # digit,digit without space: a decimal comma
    ("{1,2}", False, sp.FiniteSet(1, 2)),
    ("{1, 2}", True, sp.FiniteSet(1, 2)),           # with a space it separates
    ("1,5", True, R(3, 2)),
    ("{1,5; 2,5}", False, sp.FiniteSet(1, 2, 5)),   # False: every comma separates
    ("[1,5 ; 2]", None, sp.Interval(R(3, 2), 2)),   # ";" present: "," is decimal
])
def test_decimal_comma_rule(text, decimal_comma, expected):
    assert parse_math(text, decimal_comma=decimal_comma) == expected


def test_a_product_by_a_number_is_kept_as_typed():
    """2(x+1) is not expanded to 2x + 2, so a checker can ask for a factored form."""
    got = parse_math("2(x+1)", variables="x")
    assert isinstance(got, sp.Mul) and x + 1 in got.args
    assert sp.expand(got) == 2 * x + 2


def test_an_expected_answer_may_use_any_name():
    assert parse_math("a*x + b", any_name=True) == sp.Symbol("a") * x + sp.Symbol("b")


@pytest.mark.parametrize("text,variables,fragment", [
    ("", "x", "No answer"),
    ("   ", "x", "No answer"),
    ("foo", "x y", "Unknown name 'foo': use x, y or a function such as sqrt, ln"),
    ("a", "", "no variable here"),
    ("x2", "x", "For a power type x^2, for a product x*2"),
    ("j", "x", "imaginary unit as i"),
    ("f(x)", "x", "Unknown name 'f'"),
    ("lambda: 1", "", "is Python, not maths"),
    ("import os", "", "is Python, not maths"),
    ("eval(1)", "", "is Python, not maths"),
    ("__import__('os').system('id')", "", "not a maths name"),
    ("().__class__.__bases__", "", "Misplaced dot"),
    ("x.real", "x", "Misplaced dot"),
    ("3.14.15", "", "Misplaced dot"),
    ("'x'", "x", "Quotes"),
    ('"x"', "x", "Quotes"),
    ("\\frac{1}{2}", "", "Backslash"),
    ("x > 2", "x", "Inequalities"),
    ("x $ 2", "x", "The character '$'"),
    ("1; 2", "", "Several values"),
    ("x; import os", "x", "is Python, not maths"),
    ("{1;;2}", "", "An empty item"),
    ("()", "", "Empty brackets"),
    ("sin(x", "x", "A closing bracket is missing"),
    ("x)", "x", "Unexpected ')'"),
    ("x +", "x", "stops too early"),
    ("2 3", "", "Two numbers side by side"),
    ("1 000", "", "Two numbers side by side"),
    ("e^2x", "x", "e^(2x) or e^2*x"),
    ("sin 2x", "x", "sin(2*x) or sin(2)*x"),
    ("sin⁻¹(x)", "x", "asin(x)"),
    ("sin(x, 2)", "x", "takes one argument"),
    ("sin", "x", "needs an argument"),
    ("x⁻", "x", "Malformed exponent"),
    ("x = 1 = 2", "x", "Only one = sign"),
    ("[3, 1]", "", "wrong order"),
    ("[1]", "", "two ends"),
    ("(1, 2) + 1", "", "A vector cannot be used inside a calculation"),
    ("{1} * 2", "", "A set or an interval cannot be used"),
    ("[[1, 2], [3]]", "", "rows do not all have the same length"),
    ("[i, 2]", "", "no mathematical meaning"),
])
def test_unreadable_text_gets_a_bilingual_reason(text, variables, fragment):
    with pytest.raises(ParseError) as caught:
        parse_math(text, variables=variables)
    error = caught.value
    assert fragment in error.en
    assert error.fr and error.fr != error.en
    assert not error.too_costly


def _attacks(marker):
    path = str(marker)
    return [
        f"__import__('os').system('touch {path}')",
        f"exec(\"open('{path}', 'w')\")",
        f"open('{path}', 'w').write('x')",
        "().__class__.__bases__[0].__subclasses__()",
        "[c for c in ().__class__.__base__.__subclasses__()]",
        f"lambda: __import__('os').system('touch {path}')",
        f"getattr(__builtins__, 'exec')('open(\"{path}\", \"w\")')",
        f"x.__globals__['os'].system('touch {path}')",
        f"\\x5f\\x5fimport\\x5f\\x5f('os').system('touch {path}')",
    ]


@pytest.mark.parametrize("attack", range(len(_attacks("p"))))
def test_malicious_text_is_refused_and_nothing_runs(attack, tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(ParseError):
        parse_math(_attacks(marker)[attack], variables="x")
    assert not marker.exists()


def test_reading_never_calls_eval_exec_or_sympify_on_text(monkeypatch):
    """The whole notation table reads with Python's and sympy's string evaluators disabled."""
    def forbidden(*args, **kwargs):
        raise AssertionError("text was evaluated")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr("sympy.parsing.sympy_parser.parse_expr", forbidden)
    for text in ["2x + 3,5", "√(x+1)²", "sin(x)^2 + e^x", "{1; 2}", "]0, +∞[", "[[1, 2], [3, 4]]",
                 "x + y = 1", "|x - 1|"]:
        parse_math(text, variables="x y")


@pytest.mark.parametrize("text", [
    "9^9^9",
    "10**100000",
    "2^1001",
    "2^-1001",
    "(999^999)^999",
    "1e5000",
    "1" * 101,
    "0." + "1" * 101,
    "x" * 501,
    "(" * 51 + "x" + ")" * 51,
    "-" * 60 + "x",
    "2" + "^2" * 60,
])
def test_costly_text_is_flagged_for_review_not_computed(text):
    with pytest.raises(ParseError) as caught:
        parse_math(text, variables="x")
    assert caught.value.too_costly
    assert "grader will review" in caught.value.en


def test_fifty_levels_of_brackets_are_still_read():
    assert parse_math("(" * 50 + "x" + ")" * 50, variables="x") == x


def test_max_length_is_adjustable():
    assert parse_math("x" + " + x" * 200, variables="x", max_length=1000) == 201 * x


@pytest.mark.parametrize("variables,names", [
    ("x y", ("x", "y")),
    ("x, y; z", ("x", "y", "z")),
    (["t", "t"], ("t",)),
    (None, ()),
    ("", ()),
])
def test_variable_names(variables, names):
    assert variable_names(variables) == names


@pytest.mark.parametrize("bad", ["__x", "_x", "1x", "x-y", "x.y"])
def test_an_invalid_variable_name_is_the_authors_mistake(bad):
    with pytest.raises(ValueError, match="is not valid"):
        parse_math("1", variables=[bad])
