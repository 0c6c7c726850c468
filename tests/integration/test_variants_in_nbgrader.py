"""Variants through real nbgrader: two candidates get different numbers, each right answer gets full marks
at autograde (hidden tests recompute from the candidate's own parameters), and swapped answers get 0."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from nbhelpers import run_nbgrader
from tremplin_grading.coursework import nbgrader_config_text
from tremplin_grading.variants import KEY_FILE, load_key, personalize, values_for, variant_seed

COURSE, EXAM = "variant-course", "exam"
CANDIDATES = ("cand-a", "cand-b")


def source_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    params = nbformat.v4.new_code_cell("from tremplin_grading.variants import draw\n"
                                       "p = draw(a=range(11, 99), b=range(11, 99))\np")
    params.metadata["tremplin"] = {"parameters": True}
    params.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True, "grade_id": "params",
                                   "schema_version": 3}
    text = nbformat.v4.new_markdown_cell("Compute {{a}} × {{b}}.")
    answer = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nq = p.a * p.b\n### END SOLUTION")
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False, "grade_id": "answer",
                                   "schema_version": 3}
    test = nbformat.v4.new_code_cell("from tremplin_grading import check\n### BEGIN HIDDEN TESTS\n"
                                     "check.number(q, p.a * p.b).award(2)\n### END HIDDEN TESTS")
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "test",
                                 "schema_version": 3}
    nb.cells = [params, text, answer, test]
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text(nbgrader_config_text(COURSE, root))
    (root / "source" / EXAM).mkdir(parents=True)
    nbformat.write(source_notebook(), root / "source" / EXAM / "exam.ipynb")
    run_nbgrader(root, "generate_assignment", EXAM, "--force")
    # A fixed key, so the test is the same at every run: a random one let the two candidates' products
    # collide once in a while (41 × 61 and 61 × 41), and "swapped answers get zero" could not hold then.
    (root / KEY_FILE).write_text("7e57" * 16 + "\n")
    key = load_key(root)
    released = json.loads((root / "release" / EXAM / "exam.ipynb").read_text())
    copies = {c: personalize(released, variant_seed(key, f"{COURSE}/{EXAM}", c)) for c in CANDIDATES}
    values = {c: values_for(released, variant_seed(key, f"{COURSE}/{EXAM}", c))[1] for c in CANDIDATES}
    return root, copies, values


def submit_and_grade(root: Path, copies: dict, answers: dict) -> dict:
    from nbgrader.api import Gradebook

    for candidate, value in answers.items():
        nb = json.loads(json.dumps(copies[candidate]))
        for cell in nb["cells"]:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "answer":
                cell["source"] = f"q = {value}"
        folder = root / "submitted" / candidate / EXAM
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "exam.ipynb").write_text(json.dumps(nb))
    run_nbgrader(root, "autograde", EXAM, "--create", "--force")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {c: gb.find_grade("test", "exam", EXAM, c).auto_score for c in answers}


def test_each_candidate_sees_their_own_numbers(course):
    _, copies, values = course
    a, b = (values[c] for c in CANDIDATES)
    assert (a.a, a.b) != (b.a, b.b)
    for candidate in CANDIDATES:
        text = copies[candidate]["cells"][1]["source"]
        assert text == f"Compute {values[candidate].a} × {values[candidate].b}."
        assert "draw(" not in copies[candidate]["cells"][0]["source"]


def test_right_answers_get_full_marks_and_swapped_answers_get_zero(course):
    root, copies, values = course
    right = {c: values[c].a * values[c].b for c in CANDIDATES}
    assert right["cand-a"] != right["cand-b"]
    assert submit_and_grade(root, copies, right) == {"cand-a": 2.0, "cand-b": 2.0}
    swapped = {"cand-a": right["cand-b"], "cand-b": right["cand-a"]}
    assert submit_and_grade(root, copies, swapped) == {"cand-a": 0.0, "cand-b": 0.0}
