"""Honest papers get exactly the scores stock nbgrader gives them, cell by cell.

The same submissions of the three real assignments (right answers computed with sympy, typed
as text or as floats, half right, wrong, blank; functions right and wrong; quantities with
units) are autograded twice by the real ``nbgrader autograde``: once in stock nbgrader's way
(one kernel runs everything) and once across the trust boundary (the sandbox and the judge,
through the grading engine's socket). Every test cell's automatic score must be the same.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from gradingkit import EngineProcess, with_cells
from hubfixture import REPO, is_root
from integration.test_math_variants import typed_answers
from nbhelpers import run_nbgrader, solutions
from tremplin_grading.coursework import nbgrader_config_text
from tremplin_grading.variants import load_key, personalize, variant_seed

pytestmark = pytest.mark.skipif(not is_root(), reason="sandbox accounts need root")

ASSIGNMENTS = [("preselection-math", "math-2027"), ("python-intro", "devoir-1"),
               ("preselection-physics", "physics-2027")]


def floats(answers: dict[str, str]) -> dict[str, str]:
    """The same answers given as Python floats where the answer is a number (as a calculator gives)."""
    out = {}
    for gid, line in answers.items():
        name, _, text = line.partition(" = ")
        out[gid] = f"import sympy as sp\n{name} = float(sp.N(sp.sympify({text})))" if "{" not in text and "(" not in \
            text.strip("'\"")[:1] else line
    return out


def papers(course: str, assignment: str, root, key: bytes) -> dict[str, dict]:
    """``{student: notebook}``: a range of honest papers for this assignment."""
    nb_name = f"{assignment}.ipynb"
    source = json.loads((root / "source" / assignment / nb_name).read_text())
    released = json.loads((root / "release" / assignment / nb_name).read_text())
    S = solutions(REPO / "courses" / course / "source" / assignment / nb_name)
    out = {}
    for i, kind in enumerate(("right", "typed", "floats", "half", "wrong", "blank")):
        student = f"s{i}-{kind}"
        seed = variant_seed(key, f"{course}/{assignment}", student)
        copy = personalize(released, seed)
        if kind == "right":
            answers = S
        elif kind in ("typed", "floats"):
            if course != "preselection-math":
                continue
            answers = typed_answers(personalize(source, seed))
            answers = floats(answers) if kind == "floats" else answers
        elif kind == "half":
            answers = {gid: (code if j % 2 else code.replace("return", "return 1 + ") if "def " in code
                             else code.split("=")[0] + "= 7") for j, (gid, code) in enumerate(sorted(S.items()))}
        elif kind == "wrong":
            answers = {gid: (code.replace("return", "return -1 +") if "def " in code else code.split("=")[0] + "= 0")
                       for gid, code in S.items()}
        else:
            answers = {}
        out[student] = with_cells(copy, {g: a for g, a in answers.items() if not g.startswith("q10")})
    return out


def autograde(root, assignment: str, subs: dict[str, dict]) -> dict[tuple, float | None]:
    from nbgrader.api import Gradebook

    for student, nb in subs.items():
        folder = root / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{assignment}.ipynb").write_text(json.dumps(nb))
    run_nbgrader(root, "autograde", assignment, "--create", "--force")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {(s.student_id, g.name): g.auto_score for s in gb.assignment_submissions(assignment)
                for nb in s.notebooks for g in nb.grades if g.cell.cell_type == "code"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("engine")
    folder.chmod(0o711)
    running = EngineProcess(folder)
    yield running
    running.stop()


@pytest.mark.parametrize("course,assignment", ASSIGNMENTS)
def test_honest_papers_score_the_same_as_with_stock_nbgrader(course, assignment, tmp_path, engine):
    roots = {}
    for mode in ("stock", "judged"):
        root = tmp_path / mode
        shutil.copytree(REPO / "courses" / course / "source" / assignment, root / "source" / assignment)
        (root / "nbgrader_config.py").write_text(nbgrader_config_text(
            course, root, engine_socket=engine.socket if mode == "judged" else None))
        roots[mode] = root
    key = load_key(roots["stock"], create=True)
    shutil.copy(roots["stock"] / "variants.key", roots["judged"] / "variants.key")
    # The two course directories are independent: each step runs on both at once (two cores).
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda root: run_nbgrader(root, "generate_assignment", assignment, "--force"),
                      roots.values()))
        subs = papers(course, assignment, roots["stock"], key)
        stock, judged = pool.map(lambda root: autograde(root, assignment, subs), (roots["stock"], roots["judged"]))
    assert len(stock) >= 3 * len(subs)
    assert judged == stock
    by_student = {}
    for (student, _cell), score in stock.items():
        by_student[student] = by_student.get(student, 0) + (score or 0)
    assert by_student["s0-right"] > 0 and by_student["s5-blank"] == 0  # the comparison is not trivially equal
    assert len(set(by_student.values())) >= 3
