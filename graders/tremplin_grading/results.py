"""Graded results read from an nbgrader gradebook, read-only.

The hub side reads gradebooks of the grader accounts to build exports and reports: it
must never write into them (root writing a SQLite file owned by ``grader-<id>`` could
leave a journal the grader cannot remove), so this opens the file in SQLite's read-only
mode and queries nbgrader's tables directly. A grade's score is its manual score when a
grader gave one, else its automatic score, plus any extra credit; a grade with neither
still needs grading.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ItemScore:
    """One graded cell of one submission: ``item`` is ``<notebook>/<grade id>``."""

    item: str
    score: float | None
    max_score: float
    needs_manual_grade: bool


@dataclass(frozen=True)
class GradedSubmission:
    student: str
    assignment: str
    items: tuple[ItemScore, ...]
    max_score: float

    @property
    def score(self) -> float:
        return round(sum(i.score or 0.0 for i in self.items), 4)

    @property
    def pending(self) -> bool:
        """Some cell still needs a grader (manual grading) or was never autograded."""
        return any(i.needs_manual_grade or i.score is None for i in self.items) or not self.items


@dataclass(frozen=True)
class SubmissionTotal:
    """A submission's total only (:func:`read_totals`): the ``score`` and ``pending`` of its
    :class:`GradedSubmission`, without its items."""

    student: str
    assignment: str
    score: float
    max_score: float
    pending: bool


QUERY = """
SELECT st.id, nb.name, bc.name, g.auto_score, g.manual_score, g.extra_credit, gc.max_score, g.needs_manual_grade
FROM grade g
JOIN submitted_notebook sn ON g.notebook_id = sn.id
JOIN submitted_assignment sa ON sn.assignment_id = sa.id
JOIN assignment a ON sa.assignment_id = a.id
JOIN student st ON sa.student_id = st.id
JOIN base_cell bc ON g.cell_id = bc.id
JOIN grade_cells gc ON gc.id = bc.id
JOIN notebook nb ON bc.notebook_id = nb.id
WHERE a.name = ? AND (? IS NULL OR st.id = ?)
ORDER BY st.id, nb.name, bc.name
"""

#: :data:`QUERY` for one student: the recorder reads each paper's grades after grading it, so the
#: lookups go down nbgrader's unique indexes (submission, then each notebook's grades by cell),
#: never through every grade of the assignment (SQLite's planner would scan ``grade``, which has no
#: index by notebook: 10,000 papers made each read 0.35 s, and the whole queue quadratic). The
#: ``CROSS JOIN`` fixes SQLite's join order.
QUERY_ONE = """
SELECT st.id, nb.name, bc.name, g.auto_score, g.manual_score, g.extra_credit, gc.max_score, g.needs_manual_grade
FROM assignment a
CROSS JOIN submitted_assignment sa ON sa.assignment_id = a.id
CROSS JOIN student st ON sa.student_id = st.id
CROSS JOIN notebook nb ON nb.assignment_id = a.id
CROSS JOIN submitted_notebook sn ON sn.notebook_id = nb.id AND sn.assignment_id = sa.id
CROSS JOIN base_cell bc ON bc.notebook_id = nb.id
CROSS JOIN grade_cells gc ON gc.id = bc.id
CROSS JOIN grade g ON g.cell_id = bc.id AND g.notebook_id = sn.id
WHERE a.name = ? AND st.id = ?
ORDER BY nb.name, bc.name
"""

MAX_QUERY = """
SELECT COALESCE(SUM(gc.max_score), 0) FROM grade_cells gc
JOIN base_cell bc ON gc.id = bc.id JOIN notebook nb ON bc.notebook_id = nb.id
JOIN assignment a ON nb.assignment_id = a.id WHERE a.name = ?
"""

#: One row per submitted notebook of the assignment, with its grades summed by the database as
#: :class:`GradedSubmission` sums them (manual score if any, else automatic, plus extra credit; a
#: grade with neither counts 0 and is pending). Each grade is read once and grouped by its
#: notebook; only the notebooks are looked up, and Python sees one row per submission, not per grade.
TOTALS_QUERY = """
SELECT sa.student_id, t.items, t.score, t.pending FROM (
  SELECT g.notebook_id AS notebook_id, COUNT(*) AS items,
         SUM(CASE WHEN COALESCE(g.manual_score, g.auto_score) IS NULL THEN 0.0
                  ELSE COALESCE(g.manual_score, g.auto_score) + COALESCE(g.extra_credit, 0.0) END) AS score,
         MAX(CASE WHEN g.needs_manual_grade OR COALESCE(g.manual_score, g.auto_score) IS NULL THEN 1 ELSE 0 END)
           AS pending
  FROM grade g
  WHERE +g.cell_id IN (SELECT gc.id FROM grade_cells gc JOIN base_cell bc ON gc.id = bc.id
                       JOIN notebook nb ON bc.notebook_id = nb.id JOIN assignment a ON nb.assignment_id = a.id
                       WHERE a.name = ?)
  GROUP BY g.notebook_id) t
JOIN submitted_notebook sn ON t.notebook_id = sn.id
JOIN submitted_assignment sa ON sn.assignment_id = sa.id
JOIN assignment a ON sa.assignment_id = a.id
WHERE a.name = ?
"""

SUBMITTED_QUERY = """
SELECT st.id FROM submitted_assignment sa JOIN assignment a ON sa.assignment_id = a.id
JOIN student st ON sa.student_id = st.id WHERE a.name = ? AND (? IS NULL OR st.id = ?)
"""

SUBMITTED_ONE = """
SELECT st.id FROM assignment a CROSS JOIN submitted_assignment sa ON sa.assignment_id = a.id
CROSS JOIN student st ON sa.student_id = st.id WHERE a.name = ? AND st.id = ?
"""


def _read_only(path: Path) -> closing[sqlite3.Connection]:
    """The gradebook at ``path``, opened read-only (the callers check it exists)."""
    return closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True))


def max_score(path: Path, assignment: str) -> float | None:
    """The assignment's maximum score from its gradebook (None when there is no gradebook yet)."""
    if not Path(path).exists():
        return None
    with _read_only(path) as conn:
        return float(conn.execute(MAX_QUERY, (assignment,)).fetchone()[0])


def read_gradebook(path: Path, assignment: str, student: str | None = None) -> dict[str, GradedSubmission]:
    """Every submission of ``assignment`` in the gradebook at ``path`` (or only ``student``'s), by student id.

    A submission collected but not autograded yet has no items: it is ``pending``.
    """
    path = Path(path)
    if not path.exists():
        return {}
    with _read_only(path) as conn:
        maximum = float(conn.execute(MAX_QUERY, (assignment,)).fetchone()[0])
        if student is None:
            submitted, grades, who = SUBMITTED_QUERY, QUERY, (assignment, None, None)
        else:
            submitted, grades, who = SUBMITTED_ONE, QUERY_ONE, (assignment, student)
        items: dict[str, list[ItemScore]] = {s: [] for (s,) in conn.execute(submitted, who)}
        for sid, notebook, cell, auto, manual, extra, max_score, needs in conn.execute(grades, who):
            score = manual if manual is not None else auto
            if score is not None and extra:
                score += extra
            items.setdefault(sid, []).append(ItemScore(f"{notebook}/{cell}", score, float(max_score), bool(needs)))
    return {s: GradedSubmission(s, assignment, tuple(found), maximum) for s, found in items.items()}


def read_totals(path: Path, assignment: str) -> dict[str, SubmissionTotal]:
    """Every submission of ``assignment`` in the gradebook at ``path``, by student id, as totals.

    What :func:`read_gradebook` says of each submission's score, maximum and pending state, summed
    by the database in one pass over the grades: for exports of thousands of candidates, where
    building an object per graded cell costs seconds. (Sums of scores that are not multiples of a
    power of two, such as 0.1, may differ from :func:`read_gradebook`'s in the last bits; both are
    rounded to 4 decimals.)
    """
    path = Path(path)
    if not path.exists():
        return {}
    with _read_only(path) as conn:
        maximum = float(conn.execute(MAX_QUERY, (assignment,)).fetchone()[0])
        totals = {s: [0, 0.0, False] for (s,) in conn.execute(SUBMITTED_QUERY, (assignment, None, None))}
        for sid, items, score, pending in conn.execute(TOTALS_QUERY, (assignment, assignment)):
            found = totals.get(sid)
            if found is not None:  # (a submission of no student row: left out, as read_gradebook does)
                found[0] += items  # (one row per notebook of the submission)
                found[1] += score
                found[2] = found[2] or bool(pending)
    # A submission collected but not autograded yet has no grade: pending, as in read_gradebook.
    return {s: SubmissionTotal(s, assignment, round(score, 4), maximum, pending or not items)
            for s, (items, score, pending) in totals.items()}
