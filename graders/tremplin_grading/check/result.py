"""The outcome of checking one answer: a score, a verdict and a sentence for the learner in French and English.

Every checker in :mod:`tremplin_grading.check` returns a :class:`Result`. A crash, a
time-out or an answer that cannot be read becomes a Result too (never an exception that
loses the answer): ``needs_review`` then says a person must look at it.

In an nbgrader test cell::

    r = check.expression(q1_answer, "2*x*exp(x**2)", variables="x")
    r.award(3)        # last line: the cell gets 3 * r.score points (nbgrader partial credit)

``award`` prints the feedback, returns the points (nbgrader reads a number shown as the
cell's result as partial credit) and raises ``AssertionError`` with the feedback when the
score is 0, so the cell fails visibly. ``assert r`` also works (all or nothing).

While the grading judge runs a test cell it collects what ``award`` said, in both languages
(:func:`collecting`): the learner's feedback shows those sentences, and only sentences that
came from a checker or from the author's visible tests (:mod:`tremplin_grading.feedback`).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field

LANGUAGES = ("fr", "en")

#: What ``award`` said during the test cell the judge is running (:func:`collecting`), else None.
_said: list[dict] | None = None

#: The MIME type of the output in which the judge records what the checkers of a test cell said.
CHECK_MIME = "application/vnd.tremplin.checks+json"


def checks_output(said: list[dict]) -> dict:
    """The ``display_data`` output of a test cell that records ``said`` (what :func:`collecting` gathered):
    the sentences as text for staff, and as data for the learner's feedback."""
    text = "".join(f"{s['fr']}\n" + (f"{s['en']}\n" if s["en"] != s["fr"] else "") for s in said)
    return {"output_type": "display_data", "data": {"text/plain": text.rstrip("\n"), CHECK_MIME: said},
            "metadata": {}}


@contextmanager
def collecting():
    """Within the block, every :meth:`Result.award` is also recorded as ``{"fr", "en", "score"}``: the judge
    (a trusted process: candidates' code never runs in it) puts these into the test cell's outputs."""
    global _said
    outer, _said = _said, []
    try:
        yield _said
    finally:
        _said = outer


def default_language() -> str:
    """``$TREMPLIN_LANG`` if it is ``fr`` or ``en``, else English (international candidates)."""
    lang = os.environ.get("TREMPLIN_LANG", "en")
    return lang if lang in LANGUAGES else "en"


@dataclass(frozen=True)
class Result:
    """One checked answer.

    Attributes:
        score: credit in [0, 1].
        correct: True only for full credit.
        messages: the feedback sentence, ``{"fr": ..., "en": ...}``.
        lang: the language of :attr:`feedback`.
        needs_review: the answer could not be checked automatically (unreadable, too
            costly, checker error); a person must grade it.
        detail: for the professor and the log, never shown to the learner as feedback.
    """

    score: float
    correct: bool
    messages: dict = field(default_factory=dict)
    lang: str = "en"
    needs_review: bool = False
    detail: str = ""

    def __post_init__(self):
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score must be in [0, 1], got {self.score}")
        if self.correct and self.score != 1.0:
            raise ValueError("a correct answer has score 1")
        missing = [lang for lang in LANGUAGES if lang not in self.messages]
        if missing:
            raise ValueError(f"feedback is missing in {missing}")

    @property
    def feedback(self) -> str:
        """The feedback sentence in :attr:`lang`."""
        return self.messages[self.lang]

    def in_language(self, lang: str) -> "Result":
        """The same result with its feedback in ``lang``."""
        if lang not in LANGUAGES:
            raise ValueError(f"language {lang!r} is not supported; use one of {', '.join(LANGUAGES)}")
        return Result(self.score, self.correct, self.messages, lang, self.needs_review, self.detail)

    def __bool__(self) -> bool:
        return self.correct

    def award(self, points: float) -> float:
        """Points for an nbgrader test cell worth ``points``; see the module docstring."""
        if _said is None:
            print(self.feedback)
        else:  # (the judge shows it, in both languages)
            _said.append({"fr": self.messages["fr"], "en": self.messages["en"], "score": self.score})
        if self.score <= 0:
            raise AssertionError(self.feedback)
        return round(points * self.score, 6)

    def __repr__(self) -> str:
        flag = ", needs review" if self.needs_review else ""
        return f"Result(score={self.score:g}, correct={self.correct}{flag}: {self.feedback!r})"


def result(score: float, fr: str, en: str, *, lang: str | None = None, needs_review: bool = False,
           detail: str = "") -> Result:
    """Build a :class:`Result`; ``correct`` follows from ``score == 1``."""
    score = min(1.0, max(0.0, float(score)))
    return Result(score, score == 1.0, {"fr": fr, "en": en}, lang or default_language(), needs_review, detail)


def unreadable(fr: str, en: str, *, lang: str | None = None, detail: str = "") -> Result:
    """An answer that cannot be read: no credit, the learner is told why. Not a review case."""
    return result(0.0, fr, en, lang=lang, detail=detail)


def needs_review(detail: str, *, lang: str | None = None) -> Result:
    """Could not be checked automatically: no automatic credit, flagged for a person."""
    return result(
        0.0,
        "Cette réponse n'a pas pu être vérifiée automatiquement ; elle sera relue par un correcteur.",
        "This answer could not be checked automatically; a grader will review it.",
        lang=lang, needs_review=True, detail=detail,
    )
