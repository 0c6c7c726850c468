"""`tremplin variants check` names failing variants by seed; `tremplin variants preview` shows one candidate's copy."""

from __future__ import annotations

import json
import subprocess

import nbformat

from hubfixture import VENV_BIN
from test_variants_in_nbgrader import source_notebook
from tremplin_grading.variants import load_key, values_for, variant_seed


def tremplin(*args):
    return subprocess.run([str(VENV_BIN / "tremplin"), *args], capture_output=True, text=True)


def write_course(root, nb):
    folder = root / "courses" / "algebra-101" / "source" / "exam"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "exam.ipynb")
    return root / "courses"


def test_check_passes_when_every_variant_works(tmp_path):
    courses = write_course(tmp_path, source_notebook())
    proc = tremplin("variants", "check", "algebra-101", "exam", "--count", "5", "--courses-dir", str(courses))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 variants of exam.ipynb checked: 5 good, 0 failing" in proc.stdout


def test_check_names_each_failing_variant_by_seed(tmp_path):
    nb = source_notebook()
    # a = 0 makes the question impossible for some variants; a blank answer must still fail.
    nb.cells[0].source = "from tremplin_grading.variants import draw\np = draw(a=range(0, 3), b=range(11, 99))\np"
    nb.cells[3].source = ("from tremplin_grading import check\nassert p.a != 0, 'a must not be 0'\n"
                          "check.number(q, p.a * p.b).award(2)")
    courses = write_course(tmp_path, nb)
    proc = tremplin("variants", "check", "algebra-101", "exam", "--count", "12", "--courses-dir", str(courses))
    assert proc.returncode == 1
    failing = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert failing and all("AssertionError: a must not be 0" in line for line in failing)
    assert all(len(line.split()[2]) == 64 for line in failing)  # the seed, in full
    assert f"{12 - len(failing)} good, {len(failing)} failing" in proc.stdout


def test_check_refuses_an_assignment_without_parameters_cell(tmp_path):
    nb = source_notebook()
    del nb.cells[0].metadata["tremplin"]
    proc = tremplin("variants", "check", "algebra-101", "exam", "--courses-dir", str(write_course(tmp_path, nb)))
    assert proc.returncode == 1 and "has a parameters cell" in proc.stderr


def test_preview_writes_the_candidates_copy(tmp_path):
    release = tmp_path / "data" / "courses" / "algebra-101" / "release" / "exam"
    release.mkdir(parents=True)
    nbformat.write(source_notebook(), release / "exam.ipynb")
    key = load_key(tmp_path / "data" / "courses" / "algebra-101", create=True)
    out = tmp_path / "copy"
    proc = tremplin("--data-dir", str(tmp_path / "data"), "variants", "preview", "algebra-101", "exam", "c-0413",
                    "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    _, params = values_for(json.loads((release / "exam.ipynb").read_text()),
                           variant_seed(key, "algebra-101/exam", "c-0413"))
    assert f"exam.ipynb: p = {params!r}" in proc.stdout
    copy = json.loads((out / "exam.ipynb").read_text())
    assert copy["cells"][1]["source"] == f"Compute {params.a} × {params.b}."


def test_the_real_exams_pass_variants_check():
    """The shipped exams: solutions right and blanks failing on every checked variant (50 with make run's tool)."""
    from hubfixture import REPO

    for course, assignment in (("preselection-math", "math-2027"), ("preselection-physics", "physics-2027")):
        proc = tremplin("variants", "check", course, assignment, "--count", "4", "--courses-dir", str(REPO / "courses"))
        assert proc.returncode == 0, proc.stdout[-2000:]
        assert "4 good, 0 failing" in proc.stdout
