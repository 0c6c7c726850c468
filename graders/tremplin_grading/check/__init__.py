"""Answer checking for mathematics and physics: symbolic, numeric, unit and choice answers.

Authors call these in nbgrader test cells and in practice widgets::

    from tremplin_grading import check

    check.expression(q1_answer, "2*x*exp(x**2)", variables="x").award(3)
    check.number(q2_answer, 3.1416, rel_tol=1e-3).award(1)
    check.quantity(q3_answer, "9.81 m/s**2", rel_tol=0.02, sig_figs=3).award(2)
    check.choice(q4_answer, ["A", "C"]).award(1)

Each returns a :class:`Result` (``score`` in [0, 1], ``correct``, bilingual ``feedback``,
``needs_review``). Learner text is read by Tremplin's own parsers, never evaluated; every
check runs under a time limit. See docs/checkers.md.
"""

from .choice import choice
from .expression import expression
from .numeric import number
from .result import Result
from .units import quantity

__all__ = ["Result", "choice", "expression", "number", "quantity"]
