"""Benchmark: median time per call of each Tremplin checker, against what an author writes by hand.

Run: ``make bench`` (or ``python bench/check_bench.py``). Goals (issue: answer checking):
``expression`` under 20 ms, ``number`` and ``quantity`` under 5 ms per call. The stock
baselines are what nbgrader test cells do without Tremplin:
``sympy.simplify(sympify(answer) - expected) == 0`` (which evaluates the learner's text),
``math.isclose(float(answer), expected)`` and ``pint.Quantity(answer).to(unit)``. The ratio
printed is Tremplin / stock (above 1: Tremplin is slower). Not a test: nothing is asserted.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "graders"))

import pint  # noqa: E402
import sympy as sp  # noqa: E402

from tremplin_grading.check import choice, expression, number, quantity  # noqa: E402

EXPRESSIONS = [
    ("2x + 3", "3 + 2*x"), ("x^2 - 1", "(x-1)*(x+1)"), ("sin(x)^2 + cos(x)^2", "1"),
    ("e^(2x)", "exp(x)**2"), ("ln(x^2)", "2*log(x)"), ("(x^2-1)/(x-1)", "x+1"), ("2x·exp(x²)", "2*x*exp(x**2)"),
    ("1/(1+x)", "1/(x+1)"), ("√(4x²)", "2*sqrt(x**2)"), ("x^3 + 3x^2 + 3x + 1", "(x+1)**3"),
    ("3,5x", "7*x/2"), ("x − 1", "x - 1"), ("cos(2x)", "1 - 2*sin(x)**2"), ("x^2 + 1", "x^2 - 1"),
    ("tan(x)", "sin(x)/cos(x)"), ("pi*x", "x*pi"),
]
NUMBERS = [("3,14", 3.14159, 0.01), ("−2.5", -2.5, None), ("1.5e-3", 0.0015, None), ("12 500", 12500, None),
           ("2×10^3", 2000, None), ("0.333", 1 / 3, 0.01), ("42", 42, None), ("6,02e23", 6.02e23, 0.001)]
QUANTITIES = [("980 cm/s^2", "9.8 m/s**2"), ("36 km/h", "10 m/s"), ("2,5 kJ", "2500 J"), ("470 µF", "0.00047 F"),
              ("4.7 kΩ", "4700 ohm"), ("9.8 m/s", "9.8 m/s**2"), ("300 K", "26.85 degC"), ("50 mW", "0.05 W")]


def median_ms(func, cases, repeat=5) -> float:
    times = []
    for _ in range(repeat):
        for case in cases:
            t = time.perf_counter()
            func(*case)
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def stock_expression(answer, expected):
    # The hand-written nbgrader way; sympify evaluates text, which Tremplin never does.
    x = sp.Symbol("x")
    try:
        a = sp.sympify(answer.replace("^", "**").replace("2x", "2*x").replace("3x", "3*x"), locals={"x": x})
    except sp.SympifyError:  # what the learner typed is not Python: they lose the point
        return False
    return sp.simplify(a - sp.sympify(expected.replace("^", "**"), locals={"x": x})) == 0


def stock_number(answer, expected, tol):
    try:
        return math.isclose(float(answer.replace(",", ".")), expected, rel_tol=tol or 1e-9)
    except ValueError:  # float() cannot read "12 500", "2×10^3", "−2.5": the learner loses the point
        return False


UREG = pint.UnitRegistry()


def stock_quantity(answer, expected):
    # What the physics notebooks did by hand: pint reads the text, convert, compare.
    try:
        want = UREG.Quantity(expected)
        return math.isclose(UREG.Quantity(answer).to(want.units).magnitude, want.magnitude, rel_tol=0.01)
    except (pint.PintError, ValueError, AttributeError):  # "4.7 kΩ", "°C" products...: the point is lost
        return False


def main() -> None:
    stock_cases = [(a, b) for a, b in EXPRESSIONS if all(c not in a for c in "·²√,−")]
    rows = [
        ("expression", median_ms(lambda a, b: expression(a, b, variables="x"), EXPRESSIONS),
         median_ms(stock_expression, stock_cases), 20),
        ("number", median_ms(lambda a, b, tol: number(a, b, rel_tol=tol), NUMBERS),
         median_ms(stock_number, NUMBERS), 5),
        ("quantity", median_ms(lambda a, b: quantity(a, b, rel_tol=0.01), QUANTITIES),
         median_ms(stock_quantity, QUANTITIES), 5),
        ("choice", median_ms(lambda a, b: choice(a, b), [("B", "B"), ("a, c", ["A", "C"])]), None, None),
    ]
    print(f"{'checker':<11} {'tremplin ms':>12} {'stock ms':>9} {'ratio':>6} {'goal ms':>8}  verdict")
    for name, ours, stock, goal in rows:
        ratio = f"{ours / stock:6.2f}" if stock else "     -"
        verdict = "" if goal is None else ("meets goal" if ours < goal else "MISSES GOAL")
        print(f"{name:<11} {ours:12.3f} {stock or 0:9.3f} {ratio} {goal or '-':>8}  {verdict}")


if __name__ == "__main__":
    main()
