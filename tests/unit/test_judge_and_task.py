"""The judge's side of the boundary: which names a test takes from the candidate, how cells run, and how a
task is built from nbgrader's notebooks (the author's cells from source/, never from the submission)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from hubfixture import REPO
from tremplin_grading.autograde import DropForgedCells, apply_result, author_cells, build_task
from tremplin_grading.judge import split_names
from tremplin_grading.sandbox.limits import Limits
from tremplin_grading.sandbox.shell import new_shell
from tremplin_grading.variants import load_key, values_for, variant_seed


@pytest.mark.parametrize("sources,wanted", [
    (["assert q1_answer is not None"], ["q1_answer"]),
    (["import sympy as sp\nx = sp.symbols('x')", "check.expression(q2_answer, x**2).award(3)"], ["check", "q2_answer"]),
    (["from tremplin_grading import check\np = 1", "check.number(q, p)"], ["q"]),
    (["def helper(v):\n    return math.isclose(v, 1)\nimport math\nassert helper(f(2))"], ["f"]),
    (["try:\n    _expected\nexcept NameError:\n    _expected = 2\nassert answer == _expected"], ["answer"]),
    (["for i in range(3):\n    assert g(i) == i * 2", "print(len(result))"], ["g", "result"]),
])
def test_a_test_takes_from_the_candidate_only_the_names_no_author_cell_binds(sources, wanted):
    got, _bound = split_names(sources, {"In", "Out", "get_ipython"})
    assert got == wanted


def test_cells_give_the_outputs_nbgrader_scores(tmp_path):
    shell = new_shell()
    outputs, timed_out = shell.run("print('ok')\n1.5")
    assert [o["output_type"] for o in outputs] == ["stream", "execute_result"] and not timed_out
    assert outputs[1]["data"] == {"text/plain": "1.5"}
    outputs, _ = shell.run("import sys\nprint('oops', file=sys.stderr)")
    assert outputs == [{"output_type": "stream", "name": "stderr", "text": "oops\n"}]
    outputs, _ = shell.run("raise AssertionError('wrong / faux')")
    assert outputs[0]["output_type"] == "error" and outputs[0]["ename"] == "AssertionError"
    outputs, timed_out = shell.run("while True:\n    pass", timeout=0.3)
    assert timed_out and outputs[-1]["ename"] == "CellTimeout"
    shell.output_limit = 50
    outputs, _ = shell.run("print('x' * 1000)")
    assert len(outputs[0]["text"]) < 200 and "truncated" in outputs[0]["text"] and shell.truncated


SWALLOWED = """
import time
from tremplin_grading.sandbox.shell import new_shell

class Finalized:  # not the candidate's code: an exception raised while its finalizer runs is only printed
    def __del__(self):
        end = time.monotonic() + 0.2
        while time.monotonic() < end:
            pass

shell = new_shell()
shell.user_ns["Finalized"] = Finalized
started = time.monotonic()
outputs, timed_out = shell.run("while True:\\n    try:\\n        Finalized()\\n    except OSError:\\n        pass",
                               timeout=0.5)
print(timed_out, outputs[-1].get("ename"), round(time.monotonic() - started, 1))
outputs, timed_out = shell.run("print('next')")
print(timed_out, outputs)
"""


def test_a_time_limit_that_falls_where_python_only_prints_exceptions_still_stops_the_cell():
    """A fork bomb's alarm falls in ``os.fork``'s at-fork hooks, where a raised exception is printed and lost:
    the cell must still stop soon after its limit (and the next cell run untraced), not at the paper's wall time."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "graders")}
    proc = subprocess.run([sys.executable, "-c", SWALLOWED], capture_output=True, text=True, timeout=30, env=env)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and len(lines) == 2, (proc.stdout, proc.stderr[-2000:])
    timed_out, ename, seconds = lines[0].split()
    assert (timed_out, ename) == ("True", "CellTimeout") and float(seconds) < 3, lines
    assert lines[1] == "False [{'output_type': 'stream', 'name': 'stdout', 'text': 'next\\n'}]"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """preselection-math's source and a key, as a course directory."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(REPO / "courses" / "preselection-math" / "source", root / "source")
    load_key(root, create=True)
    return root


def test_the_judge_program_is_the_authors_with_the_candidates_variant(course):
    source = json.loads((course / "source" / "math-2027" / "math-2027.ipynb").read_text())
    seed = variant_seed(load_key(course), "preselection-math/math-2027", "amina")
    cells = author_cells(source, seed)
    ids = [c["id"] for c in cells]
    assert ids[:2] == ["setup", "parameters"] and "q1-test" in ids and not any("answer" in i for i in ids)
    params = cells[1]["source"]
    assert "Params(" in params and "draw(" not in params
    assert repr(values_for(source, seed)[1]) in params
    hidden = next(c for c in cells if c["id"] == "q1-test")
    assert "BEGIN HIDDEN TESTS" in hidden["source"] and hidden["test"]


def test_a_task_takes_tests_from_source_and_only_the_candidates_other_cells_to_the_sandbox(course, tmp_path):
    released = json.loads((course / "source" / "math-2027" / "math-2027.ipynb").read_text())
    nb = nbformat.from_dict(released)
    for cell in nb.cells:  # the candidate rewrites a test and adds a cell of their own
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "q1-test":
            cell.source = "1.0"
    nb.cells.append(nbformat.v4.new_code_cell("mine = 1"))
    folder = tmp_path / "paper"
    folder.mkdir()
    (folder / "math-2027.ipynb").write_text(json.dumps(nb))
    (folder / "helper.py").write_text("x = 1")
    task = build_task(nb, course_root=course, course_id="preselection-math", assignment="math-2027",
                      notebook="math-2027", student="amina", folder=folder, limits=Limits(cell_seconds=2))
    sandbox_sources = [c["source"] for c in task["sandbox"]["cells"]]
    assert "1.0" not in sandbox_sources and "mine = 1" in sandbox_sources
    judge = {c["id"]: c for c in task["judge"]["cells"]}
    assert "check.expression" in judge["q1-test"]["source"]
    assert set(task["sandbox"]["files"]) == {"helper.py"} and task["limits"]["cell_seconds"] == 2


def test_results_go_back_into_the_notebook_tests_by_grade_id(course):
    nb = nbformat.from_dict(json.loads((course / "source" / "math-2027" / "math-2027.ipynb").read_text()))
    result = {"sandbox": {"1": {"outputs": [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]}},
              "judge": {"q1-test": {"outputs": [{"output_type": "execute_result", "data": {"text/plain": "1.0"},
                                                  "metadata": {}, "execution_count": 1}]}},
              "flags": [{"reason": "cell_time", "fr": "trop long", "en": "too long"}]}
    apply_result(nb, result)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    assert by_id["q1-test"].outputs[0]["data"]["text/plain"] == "1.0"
    assert by_id["q2-test"].outputs[0]["ename"] == "NotRun"  # no outcome: never credited
    assert "too long" in nb.cells[1].outputs[0]["text"] and nb.cells[1].outputs[1]["text"] == "hi\n"


def test_cells_that_forge_nbgrader_metadata_become_ordinary_cells(tmp_path):
    from nbgrader.api import Gradebook

    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(db) as gb:
        gb.add_assignment("a")
        gb.add_notebook("nb", "a")
        gb.add_grade_cell("t1", "nb", "a", max_score=1, cell_type="code")
        gb.add_source_cell("t1", "nb", "a", cell_type="code", locked=True, source="assert x", checksum="c")
    nb = nbformat.v4.new_notebook()
    real = nbformat.v4.new_code_cell("assert x")
    real.metadata["nbgrader"] = {"grade": True, "grade_id": "t1", "points": 1, "locked": True, "solution": False}
    forged = nbformat.v4.new_code_cell("1000.0")
    forged.metadata["nbgrader"] = {"grade": True, "grade_id": "bonus", "points": 1000, "locked": True}
    copy_of_real = nbformat.v4.new_code_cell("3.0")
    copy_of_real.metadata["nbgrader"] = dict(real.metadata["nbgrader"])
    half = nbformat.v4.new_code_cell("x = 1")
    half.metadata["nbgrader"] = {"locked": True}
    nb.cells = [real, forged, copy_of_real, half]
    DropForgedCells().preprocess(nb, {"nbgrader": {"db_url": db, "notebook": "nb", "assignment": "a"}})
    assert [("nbgrader" in c.metadata) for c in nb.cells] == [True, False, False, False]
