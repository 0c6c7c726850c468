"""The real math pre-selection test, released to two candidates with their own variants and graded by nbgrader.

Each candidate answers their own copy with the right values (computed once from their
parameters and typed in as plain text, as a candidate does), and gets full marks on every
autograded question. Submitting each other's answers scores 0 on every question whose
answer differs between the two variants.
"""

from __future__ import annotations

import ast
import json
import shutil

import pytest

from hubfixture import REPO
from nbhelpers import run_nbgrader
from tremplin_grading.coursework import nbgrader_config_text
from tremplin_grading.variants import load_key, personalize, values_for, variant_seed

COURSE, EXAM, NB = "preselection-math", "math-2027", "math-2027.ipynb"
CANDIDATES = ("cand-a", "cand-b")


def src(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def nbg(cell) -> dict:
    return cell["metadata"].get("nbgrader", {})


def typed_answers(personal_source: dict) -> dict[str, str]:
    """``{grade_id: answer cell}``: the author's solution run once with these values, frozen as typed text."""
    namespace: dict = {}
    answers = {}
    for cell in personal_source["cells"]:
        meta = nbg(cell)
        if cell["cell_type"] != "code" or (meta.get("grade") and not meta.get("solution")):
            continue
        code = src(cell).replace("sp.init_printing()", "")
        exec(code, namespace)  # the author's own setup and solution code (trusted), never a learner's
        if meta.get("solution"):
            (name,) = [t.id for node in ast.parse(code).body if isinstance(node, ast.Assign) for t in node.targets]
            value = namespace[name]
            if isinstance(value, str):
                text = value
            elif isinstance(value, (set, frozenset)):
                text = "{" + "; ".join(str(v) for v in value) + "}"
            elif isinstance(value, tuple):
                text = "(" + "; ".join(str(v) for v in value) + ")"
            else:
                text = str(value).replace("**", "^")
            answers[meta["grade_id"]] = f"{name} = {text!r}"
    return answers


def answered(copy: dict, answers: dict[str, str]) -> dict:
    out = json.loads(json.dumps(copy))
    for cell in out["cells"]:
        if cell["cell_type"] == "code" and nbg(cell).get("grade_id") in answers:
            cell["source"] = answers[nbg(cell)["grade_id"]]
    return out


@pytest.fixture(scope="module")
def exam(tmp_path_factory):
    root = tmp_path_factory.mktemp("math")
    (root / "nbgrader_config.py").write_text(nbgrader_config_text(COURSE, root))
    shutil.copytree(REPO / "courses" / COURSE / "source" / EXAM, root / "source" / EXAM)
    run_nbgrader(root, "generate_assignment", EXAM, "--force")
    key = load_key(root, create=True)
    source = json.loads((root / "source" / EXAM / NB).read_text())
    released = json.loads((root / "release" / EXAM / NB).read_text())
    seeds = {c: variant_seed(key, f"{COURSE}/{EXAM}", c) for c in CANDIDATES}
    return {
        "root": root,
        "values": {c: values_for(source, seeds[c])[1] for c in CANDIDATES},
        "copies": {c: personalize(released, seeds[c]) for c in CANDIDATES},
        "answers": {c: typed_answers(personalize(source, seeds[c])) for c in CANDIDATES},
    }


def grade(exam, submissions: dict[str, dict]) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    for candidate, nb in submissions.items():
        folder = exam["root"] / "submitted" / candidate / EXAM
        folder.mkdir(parents=True, exist_ok=True)
        (folder / NB).write_text(json.dumps(nb))
    run_nbgrader(exam["root"], "autograde", EXAM, "--create", "--force")
    with Gradebook(f"sqlite:///{exam['root'] / 'gradebook.db'}") as gb:
        cells = [gc for nb in gb.find_assignment(EXAM).notebooks for gc in nb.grade_cells if gc.cell_type == "code"]
        return {c: {gc.name: gb.find_grade(gc.name, NB[:-6], EXAM, c).auto_score for gc in cells}
                for c in submissions}


def test_candidates_get_different_variants_in_their_copies(exam):
    a, b = (exam["values"][c] for c in CANDIDATES)
    assert a != b
    texts = {c: "\n".join(src(cell) for cell in exam["copies"][c]["cells"] if cell["cell_type"] == "markdown")
             for c in CANDIDATES}
    assert texts["cand-a"] != texts["cand-b"] and "{{" not in texts["cand-a"]


def test_right_typed_answers_get_full_marks_and_swapped_answers_get_zero(exam):
    from nbgrader.api import Gradebook

    right = grade(exam, {c: answered(exam["copies"][c], exam["answers"][c]) for c in CANDIDATES})
    with Gradebook(f"sqlite:///{exam['root'] / 'gradebook.db'}") as gb:
        full = {gc.name: gc.max_score for nb in gb.find_assignment(EXAM).notebooks for gc in nb.grade_cells
                if gc.cell_type == "code"}
    assert len(full) >= 10
    for candidate in CANDIDATES:
        assert right[candidate] == full, candidate

    swapped = grade(exam, {"cand-a": answered(exam["copies"]["cand-a"], exam["answers"]["cand-b"]),
                           "cand-b": answered(exam["copies"]["cand-b"], exam["answers"]["cand-a"])})
    differing = {gid.replace("-answer", "-test") for gid in exam["answers"]["cand-a"]
                 if exam["answers"]["cand-a"][gid] != exam["answers"]["cand-b"][gid]}
    assert len(differing) >= 5
    for candidate in CANDIDATES:
        assert {name: swapped[candidate][name] for name in differing} == dict.fromkeys(differing, 0.0), candidate
