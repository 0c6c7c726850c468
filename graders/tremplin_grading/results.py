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
WHERE a.name = ?
ORDER BY st.id, nb.name, bc.name
"""

MAX_QUERY = """
SELECT COALESCE(SUM(gc.max_score), 0) FROM grade_cells gc
JOIN base_cell bc ON gc.id = bc.id JOIN notebook nb ON bc.notebook_id = nb.id
JOIN assignment a ON nb.assignment_id = a.id WHERE a.name = ?
"""

SUBMITTED_QUERY = """
SELECT st.id FROM submitted_assignment sa JOIN assignment a ON sa.assignment_id = a.id
JOIN student st ON sa.student_id = st.id WHERE a.name = ?
"""


def max_score(path: Path, assignment: str) -> float | None:
    """The assignment's maximum score from its gradebook (None when there is no gradebook yet)."""
    if not Path(path).exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return float(conn.execute(MAX_QUERY, (assignment,)).fetchone()[0])
    finally:
        conn.close()


def read_gradebook(path: Path, assignment: str) -> dict[str, GradedSubmission]:
    """Every submission of ``assignment`` in the gradebook at ``path``, by student id.

    A submission collected but not autograded yet has no items: it is ``pending``.
    """
    path = Path(path)
    if not path.exists():
        return {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        maximum = float(conn.execute(MAX_QUERY, (assignment,)).fetchone()[0])
        items: dict[str, list[ItemScore]] = {s: [] for (s,) in conn.execute(SUBMITTED_QUERY, (assignment,))}
        for student, notebook, cell, auto, manual, extra, max_score, needs in conn.execute(QUERY, (assignment,)):
            score = manual if manual is not None else auto
            if score is not None and extra:
                score += extra
            items.setdefault(student, []).append(ItemScore(f"{notebook}/{cell}", score, float(max_score), bool(needs)))
    finally:
        conn.close()
    return {s: GradedSubmission(s, assignment, tuple(found), maximum) for s, found in items.items()}
