"""Checking an answer against the expected one: equivalent expressions earn full credit whatever
their notation, wrong ones none, the wrong form or a wrong bracket half, every sentence exists in
French and English, and nothing (a huge expansion, a checker bug) hangs or crashes the cell."""

from __future__ import annotations

import importlib
import threading
import time
from fractions import Fraction

import pytest
import sympy as sp

# The module itself (the package attribute `check.expression` is the function of that name).
expression_module = importlib.import_module("tremplin_grading.check.expression")
from tremplin_grading.check.expression import expression

x, y = sp.symbols("x y")


def check(answer, expected, **options):
    options.setdefault("lang", "en")
    return expression(answer, expected, **options)


@pytest.mark.parametrize("answer,expected,options", [
    ("2x+2", "2*(x+1)", {}),
    ("(x+1)^2", "x**2 + 2*x + 1", {}),
    ("x^2 - 1", "(x-1)*(x+1)", {}),
    ("(x+y)²", "x**2 + 2*x*y + y**2", {}),
    ("sin(x)^2 + cos(x)^2", "1", {"variables": "x"}),
    ("2sin(x)cos(x)", "sin(2*x)", {}),
    ("cos(2x)", "1 - 2*sin(x)**2", {}),
    ("tan(x)", "sin(x)/cos(x)", {}),
    ("cosh(x)^2 - sinh(x)^2", "1", {"variables": "x"}),
    ("e^(2x)", "exp(x)**2", {}),
    ("ln(2x)", "log(2) + log(x)", {}),
    ("exp(ln(x) + 1)", "E*x", {}),
    ("1/(x-1) - 1/(x+1)", "2/(x**2 - 1)", {}),
    ("(x^2-1)/(x-1)", "x + 1", {}),
    ("x/2", "0.5*x", {}),
    ("3,5x", "7*x/2", {}),
    ("sqrt(x^2)", "abs(x)", {}),
    ("√8", "2*sqrt(2)", {}),
    ("1/√2", "sqrt(2)/2", {}),
    ("i^2", "-1", {}),
    ("arctan(x)", "atan(x)", {}),
    ("x·y", "x*y", {}),
    ("2^10", "1024", {}),
    ("a x + b", "a*x + b", {"variables": "x"}),   # parameters of the expected answer may be typed
])
def test_equivalent_expressions_get_full_credit(answer, expected, options):
    r = check(answer, expected, **options)
    assert r.correct and r.score == 1, r
    assert r.feedback == "Well done, that's right!"


@pytest.mark.parametrize("answer,expected", [
    ("x^2 + 2x", "x**2 + 2*x + 1"),
    ("2x", "x**2"),
    ("sin(x)", "cos(x)"),
    ("sin(2x)", "2*sin(x)"),
    ("exp(x + 1)", "exp(x) + 1"),
    ("1/(x+1)", "1/x + 1"),
    ("x/2", "2/x"),
    ("1.414", "sqrt(2)"),         # decimals are exact: an approximation is not the value
    ("sqrt(x^2)", "x"),           # variables are real: false for x < 0
    ("ln(x^2)", "2*log(x)"),      # idem: only true for x > 0
    ("|x|", "x"),
    ("x + y", "x - y"),
])
def test_non_equivalent_expressions_get_no_credit(answer, expected):
    r = check(answer, expected)
    assert r.score == 0 and not r.needs_review, r
    assert r.feedback == "This is not the expected answer."


@pytest.mark.parametrize("answer,expected,form,score,hint", [
    ("(x+1)^2", "x**2 + 2*x + 1", "expanded", 0.5, "expand"),
    ("2(x+1)", "2*x + 2", "expanded", 0.5, "expand"),
    ("x^2 + 2x + 1", "x**2 + 2*x + 1", "expanded", 1, ""),
    ("x^2 - 1", "(x-1)*(x+1)", "factored", 0.5, "factor"),
    ("3x + 3", "3*(x+1)", "factored", 0.5, "factor"),
    ("(2x+2)(x-1)", "2*(x+1)*(x-1)", "factored", 0.5, "factor"),
    ("2(x+1)(x-1)", "2*(x+1)*(x-1)", "factored", 1, ""),
    ("(x+1)²(x-2)", "(x+1)**2*(x-2)", "factored", 1, ""),
    ("x^2 + 1", "x**2 + 1", "factored", 1, ""),          # irreducible over the rationals
    ("(x^2-1)/(x-1)", "x + 1", "simplified", 0.5, "simplify"),
    ("x + 1", "x + 1", "simplified", 1, ""),
    ("x^2 + 2x + 1", "(x+1)**2", "simplified", 1, ""),   # within the slack of the author's form
    ("x^2", "x**2 + 1", "expanded", 0, "not the expected"),  # wrong stays wrong, whatever the form
])
def test_form(answer, expected, form, score, hint):
    r = check(answer, expected, form=form)
    assert r.score == score, r
    assert hint in r.feedback


def test_a_trigonometric_identity_left_unsimplified_gets_half_credit():
    r = check("sin(x)^2 + cos(x)^2", "1", form="simplified", variables="x")
    assert r.score == 0.5 and "simplify" in r.feedback


def test_form_hints_name_the_form_in_both_languages():
    for form, fr, en in [("expanded", "développez", "expand"), ("factored", "factorisez", "factor"),
                         ("simplified", "simplifiez", "simplify")]:
        answer = {"expanded": "(x+1)^2", "factored": "x^2+2x+1", "simplified": "(x^2+2x+1)/(x+1)"}[form]
        r = check(answer, "(x+1)**2" if form != "simplified" else "x+1", form=form)
        assert r.score == 0.5
        assert fr in r.messages["fr"] and en in r.messages["en"]


@pytest.mark.parametrize("answer,expected,score", [
    ("x^3/3", "x**3/3 + 1", 1),
    ("x^3/3 + 7", "x**3/3", 1),
    ("x^3/3 + C", "x**3/3", 1),
    ("-cos(x) + K", "-cos(x)", 1),
    ("sin(x)^2/2", "-cos(x)**2/2", 1),
    ("ln|x|", "log(x)", 1),
    ("x^3/3 + x", "x**3/3", 0),
    ("x^3", "x**3/3", 0),
])
def test_up_to_constant_accepts_any_antiderivative(answer, expected, score):
    r = check(answer, expected, up_to_constant=True, variables="x")
    assert r.score == score, r


def test_without_up_to_constant_a_constant_of_integration_is_unknown():
    r = check("x^3/3 + C", "x**3/3")
    assert r.score == 0 and "Unknown name 'C'" in r.feedback


@pytest.mark.parametrize("answer,expected,score", [
    ("y = 1 - x", "x + y = 1", 1),
    ("2x + 2y = 2", "x + y = 1", 1),
    ("x + y - 1 = 0", "x + y = 1", 1),
    ("-x - y = -1", "x + y = 1", 1),
    ("x + y = 1", "y = 1 - x", 1),
    ("x = 2", "x = 2", 1),
    ("y = 1 + x", "x + y = 1", 0),
    ("x^2 = 4", "x = 2", 0),
    ("x + y = 2", "x + y = 1", 0),
])
def test_equations_are_equivalent_up_to_a_nonzero_factor(answer, expected, score):
    assert check(answer, expected).score == score


@pytest.mark.parametrize("answer,expected,variables,score", [
    ("y = 2x", "2*x", "x", 1),
    ("f(x) = 2x", "2*x", "x", 1),
    ("f'(x) = 2", "2", None, 1),
    ("x = 3", "3", None, 1),
    ("y = 2x", "2*x", "x y", 1),   # y declared: read as an equation whose left side is not in the answer
    ("y = 3x", "2*x", "x", 0),
])
def test_a_named_result_counts_by_its_right_hand_side(answer, expected, variables, score):
    assert check(answer, expected, variables=variables).score == score


@pytest.mark.parametrize("answer,expected,score", [
    ("{2; -2}", "{-2, 2}", 1),
    ("{-2, 2}", "{2, -2}", 1),
    ("{sqrt(4), 1}", "{1, 2}", 1),
    ("{1,2}", "{1, 2}", 1),          # read both ways: the list reading is right
    ("{1,5 ; 2}", "{3/2, 2}", 1),
    ("∅", "{}", 1),
    ("{2}", "{-2, 2}", 0),
    ("{1, 2, 3}", "{1, 2}", 0),
])
def test_sets_ignore_order_and_notation(answer, expected, score):
    assert check(answer, expected).score == score


@pytest.mark.parametrize("answer,expected,score,fragment", [
    ("[0, 1]", "[0, 1]", 1, "right"),
    ("[0; 1[", "[0, 1)", 1, "right"),
    ("(0, 1)", sp.Interval.open(0, 1), 1, "right"),    # "(a, b)" is open when an interval is expected
    ("]0, 1]", "[0, 1]", 0.5, "included or excluded"),
    ("[0, 1]", "]0; 1[", 0.5, "included or excluded"),
    ("[0, +∞[", sp.Interval(0, sp.oo), 1, "right"),
    ("]-∞; 3]", "]-oo; 3]", 1, "right"),
    ("[0,5 ; 1]", sp.Interval(sp.Rational(1, 2), 1), 1, "right"),
    ("[0, 2]", "[0, 1]", 0, "end points are not right"),
    ("(1, 0)", sp.Interval.open(0, 1), 0, "end points are not right"),
])
def test_intervals(answer, expected, score, fragment):
    r = check(answer, expected)
    assert r.score == score, r
    assert fragment in r.feedback


@pytest.mark.parametrize("answer,expected,score,fragment", [
    ("(1, 2, 3)", "(1, 2, 3)", 1, "right"),
    ("[1, 2, 3]", "(1, 2, 3)", 1, "right"),
    ("[1, 2]", "(1, 2)", 1, "right"),          # square brackets read as a vector when one is expected
    ("(1,2)", "(1, 2)", 1, "right"),
    ("(2/4, sqrt(4))", "(1/2, 2)", 1, "right"),
    ("(1, 2)", "(1, 2, 3)", 0, "3 components are expected, your answer has 2"),
    ("(1, 2, 4)", "(1, 2, 3)", 0, "Wrong component(s): number 3"),
    ("(x, 2x)", "(x, 2*x)", 1, "right"),
])
def test_vectors_compare_component_by_component(answer, expected, score, fragment):
    r = check(answer, expected)
    assert r.score == score, r
    assert fragment in r.feedback


@pytest.mark.parametrize("answer,expected,score,fragment", [
    ("[[1, 2], [3, 4]]", "[[1, 2], [3, 4]]", 1, "right"),
    ("[[1,2],[3,4]]", "[[1, 2], [3, 4]]", 1, "right"),
    ("[[1, 2], [3, 5]]", "[[1, 2], [3, 4]]", 0, "Wrong entries (row, column): (2, 2)"),
    ("[[1,2],[3,5]]", "[[1, 2], [3, 4]]", 0, "Wrong entries (row, column): (2, 2)"),
    ("[[1, 2, 3]]", "[[1, 2], [3, 4]]", 0, "A 2×2 matrix is expected, yours is 1×3"),
    ("[[x, 0], [0, x]]", sp.eye(2) * x, 1, "right"),
    ("(1, 2)", sp.Matrix([1, 2]), 1, "right"),   # a column vector given as a vector
])
def test_matrices_compare_shape_then_entries(answer, expected, score, fragment):
    r = check(answer, expected)
    assert r.score == score, r
    assert fragment in r.feedback


@pytest.mark.parametrize("answer,expected,fragment", [
    ("2", "x + y = 1", "should be an equation (with an = sign), not an expression or a number"),
    ("x + y = 1", "1 - x", "should be an expression or a number, not an equation"),
    ("[1, 2]", "{1, 2}", "should be a set, for example {1, 2}, not an interval"),
    ("{0, 1}", "[0, 1]", "should be an interval"),
    ("(1, 2, 3)", "[0, 1]", "not a vector"),
    ("[[1]]", "1", "not a matrix"),
])
def test_wrong_kind_of_answer_says_what_is_expected(answer, expected, fragment):
    r = check(answer, expected, variables="x y")
    assert r.score == 0 and not r.needs_review
    assert fragment in r.feedback


@pytest.mark.parametrize("answer,expected,score", [
    (x**2 + 1, "x**2 + 1", 1),
    (2 * sp.Symbol("x", positive=True), "2*x", 1),   # assumptions of the learner's symbols do not matter
    (sp.sin(x)**2 + sp.cos(x)**2, sp.Integer(1), 1),
    (3, "3", 1),
    (0.5, "1/2", 1),
    (2.0000001, "2", 0),
    (Fraction(1, 2), "1/2", 1),
    (1 + 2j, "1 + 2*i", 1),
    ({1, 2}, "{1, 2}", 1),
    ((1, 2), "(1, 2)", 1),
    ([1, 2, 3], "(1, 2, 3)", 1),
    ([[1, 2], [3, 4]], "[[1, 2], [3, 4]]", 1),
    (sp.Matrix([[1, 2], [3, 4]]), "[[1, 2], [3, 4]]", 1),
    (sp.Interval(0, 1), "[0, 1]", 1),
    (sp.Eq(y, 1 - x), "x + y = 1", 1),
    (sp.FiniteSet(2, -2), sp.FiniteSet(-2, 2), 1),
])
def test_objects_from_the_learners_kernel_are_used_as_they_are(answer, expected, score):
    assert check(answer, expected).score == score


@pytest.mark.parametrize("answer,fragment", [
    (None, "No answer"),
    (object(), "An object of type object is not a mathematical answer"),
    (True, "An object of type bool"),
    ("foo", "Unknown name 'foo'"),
    ("", "No answer"),
    ("__import__('os').system('id')", "not a maths name"),
])
def test_unreadable_answers_get_zero_and_the_reason(answer, fragment):
    r = check(answer, "x + 1")
    assert r.score == 0 and not r.needs_review
    assert fragment in r.feedback


@pytest.mark.parametrize("answer", ["9^9^9", "10**100000", "x" * 600])
def test_too_costly_answers_are_left_to_a_grader(answer):
    r = check(answer, "x + 1")
    assert r.needs_review and r.score == 0
    assert "too costly" in r.detail


@pytest.mark.parametrize("answer,expected,options", [
    ("2x", "2*x", {}),
    ("x^2", "x**3", {}),
    ("(x+1)^2", "x**2 + 2*x + 1", {"form": "expanded"}),
    ("x^2 - 1", "(x-1)*(x+1)", {"form": "factored"}),
    ("]0, 1]", "[0, 1]", {}),
    ("(1, 2)", "(1, 2, 3)", {}),
    ("2", "x + y = 1", {}),
    ("foo", "x", {}),
    ("y = 1 + x", "x + y = 1", {}),
    ("{1}", "{1, 2}", {}),
])
def test_feedback_is_a_different_sentence_in_each_language(answer, expected, options):
    fr = expression(answer, expected, lang="fr", **options)
    en = expression(answer, expected, lang="en", **options)
    assert fr.messages == en.messages
    assert fr.messages["fr"] and fr.messages["en"] and fr.messages["fr"] != fr.messages["en"]
    assert (fr.feedback, en.feedback) == (fr.messages["fr"], en.messages["en"])


@pytest.mark.parametrize("answer,expected,options", [
    ("(x+1)^10000", "(x+1)**10000", {"form": "expanded"}),
    ("(x-1)^6000 (x+1)^6000", "(x**2 - 1)**6000", {"form": "expanded"}),
])
def test_a_pathological_answer_comes_back_for_review_in_bounded_time(answer, expected, options):
    start = time.monotonic()
    r = check(answer, expected, timeout=0.5, **options)
    assert time.monotonic() - start < 3
    assert r.needs_review and r.score == 0
    assert "no decision within 0.5 s" in r.detail


def test_a_slow_proof_falls_back_on_the_numeric_comparison():
    """Expanding (x²+2x+1)^3000 takes seconds; the values at the sample points decide in time."""
    start = time.monotonic()
    r = check("(x^2 + 2x + 1)^3000", "(x+1)**6000", timeout=1.0)
    assert time.monotonic() - start < 3
    assert r.correct


def test_a_checker_bug_becomes_a_review_not_a_crash(monkeypatch):
    def broken(self, answer):
        raise RuntimeError("bug in the checker")

    monkeypatch.setattr(expression_module._Check, "compare", broken)
    r = check("2x", "2*x")
    assert r.needs_review and r.score == 0
    assert "RuntimeError: bug in the checker" in r.detail


def test_checks_run_outside_the_main_thread():
    """Widget callbacks are not in the main thread: the time limit uses a worker thread there."""
    box = {}
    worker = threading.Thread(target=lambda: box.update(r=check("2sin(x)cos(x)", "sin(2*x)")))
    worker.start()
    worker.join(10)
    assert box["r"].correct


@pytest.mark.parametrize("answer,points", [
    ("x^2 + 2x + 1", 3),
    ("(x+1)^2", 1.5),      # right, not expanded
])
def test_award_gives_partial_points(answer, points):
    assert check(answer, "x**2 + 2*x + 1", form="expanded").award(3) == points


def test_award_fails_the_cell_for_a_wrong_answer():
    with pytest.raises(AssertionError, match="not the expected answer"):
        check("x^2", "x**3").award(3)


@pytest.mark.parametrize("options,message", [
    ({"form": "pretty"}, "form 'pretty' is not known"),
    ({"lang": "de"}, "language 'de' is not supported"),
    ({"timeout": 0}, "timeout must be a positive number"),
    ({"variables": "1x"}, "variable name '1x' is not valid"),
    ({"up_to_constant": True}, "up_to_constant needs a variable"),
])
def test_a_mistake_of_the_author_raises(options, message):
    with pytest.raises(ValueError, match=message):
        expression("1", "1" if options.get("up_to_constant") else "x", **options)


@pytest.mark.parametrize("expected", ["((x", "x +", object()])
def test_an_unreadable_expected_answer_raises(expected):
    with pytest.raises(ValueError, match="expected answer"):
        expression("x", expected)


def test_language_defaults_to_the_environment(monkeypatch):
    monkeypatch.setenv("TREMPLIN_LANG", "fr")
    assert expression("2x", "2*x").feedback == "Bravo, c'est juste !"


@pytest.mark.parametrize("answer,expected,score", [
    ("sin(x)^2 + cos(x)^2", "1", 1.0),
    ("sin(t)^2 + cos(t)^2 - 7/6", "-1/6", 1.0),
    ("exp(u) * exp(-u) * 2", "2", 1.0),
    (sp.sin(x) ** 2 + sp.cos(x) ** 2 - sp.Rational(7, 6), sp.Rational(-1, 6), 1.0),
    ("2x/x", "2", 1.0),
])
def test_an_answer_with_variables_equivalent_to_a_constant_expected_answer_is_accepted(answer, expected, score):
    assert check(answer, expected).score == score


@pytest.mark.parametrize("answer,expected,fragment", [
    ("x", "1", "Unknown name 'x'"),
    ("sin(x)^2", "1", "Unknown name 'x'"),
    ("x^3/3 + C", "x**3/3", "Unknown name 'C'"),
])
def test_an_undeclared_name_in_a_wrong_answer_is_still_named_in_the_feedback(answer, expected, fragment):
    r = check(answer, expected)
    assert r.score == 0 and fragment in r.feedback
