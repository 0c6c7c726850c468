"""The checkers in real nbgrader test cells: a cell's points follow the Result's score (partial credit)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from nbhelpers import run_nbgrader


ANSWERS = {  # grade_id of the test cell: (learner's answer cell, expected points out of 4)
    "right": ('q = "980 cm/s^2"', 4.0),
    "wrong_unit": ('q = "9,8 cm/s²"', 2.0),         # right number, wrong unit: score 0.5
    "wrong_dimension": ('q = "9.8 m/s"', 1.0),      # right number, wrong kind of quantity: 0.25
    "wrong": ('q = "3 m/s^2"', 0.0),
    "malicious": ('q = "__import__(\'os\').system(\'touch /tmp/tremplin-pwned\')"', 0.0),
    "expression_form": ('q = "(x+1)^2"', 2.0),     # right, but not expanded: 0.5
}


def notebook_for(case: str, answer_source: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    answer = nbformat.v4.new_code_cell(answer_source)
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False, "grade_id": "answer",
                                   "schema_version": 3}
    if case == "expression_form":
        test_source = ('from tremplin_grading import check\n'
                       'check.expression(q, "x**2 + 2*x + 1", variables="x", form="expanded").award(4)')
    else:
        test_source = ('from tremplin_grading import check\n'
                       'check.quantity(q, "9.8 m/s**2", rel_tol=0.02).award(4)')
    test = nbformat.v4.new_code_cell(test_source)
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 4,
                                 "grade_id": "test", "schema_version": 3}
    nb.cells = [answer, test]
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One assignment, a notebook per case, autograded by the real nbgrader command."""
    from nbgrader.api import Gradebook

    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "check-course"\n')
    (root / "source" / "checks").mkdir(parents=True)
    (root / "submitted" / "amina" / "checks").mkdir(parents=True)
    for case, (source, _) in ANSWERS.items():
        nbformat.write(notebook_for(case, 'q = "9.8 m/s^2"'), root / "source" / "checks" / f"{case}.ipynb")
        nbformat.write(notebook_for(case, source), root / "submitted" / "amina" / "checks" / f"{case}.ipynb")
    run_nbgrader(root, "generate_assignment", "checks", "--force", TREMPLIN_LANG="fr")
    run_nbgrader(root, "autograde", "checks", "--create", "--force", TREMPLIN_LANG="fr")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        scores = {case: gb.find_grade("test", case, "checks", "amina").auto_score for case in ANSWERS}
    return root, scores


@pytest.mark.parametrize("case", list(ANSWERS))
def test_nbgrader_awards_points_in_proportion_to_the_score(graded, case):
    _, scores = graded
    assert scores[case] == pytest.approx(ANSWERS[case][1])


def test_feedback_is_shown_to_the_learner_in_the_graded_notebook(graded):
    root, _ = graded
    nb = json.loads((root / "autograded" / "amina" / "checks" / "wrong_unit.ipynb").read_text())
    outputs = json.dumps(nb["cells"][1]["outputs"], ensure_ascii=False)
    assert "vérifiez l'unité ou la conversion" in outputs


def test_malicious_answer_is_never_run():
    assert not Path("/tmp/tremplin-pwned").exists()
