"""Handing out personalized exam copies: once, to enrolled learners, for open assignments with variants only."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import nbformat
import pytest

from tremplin_grading.courses import load_course
from tremplin_grading.variants import load_key, values_for, variant_seed
from tremplin_hub.handout import hand_out
from tremplin_hub.layout import Layout

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from test_variants_in_nbgrader import source_notebook  # noqa: E402

TOML = '''id = "algebra-101"
kind = "exam"
instructors = ["professor"]
learners = ["cand-a"]
[title]
fr = "Algèbre"
en = "Algebra"
[description]
fr = "Test."
en = "Test."
[[assignments]]
id = "exam"
opens = 2027-01-10T08:00:00Z
due = 2027-01-10T10:00:00Z
[assignments.title]
fr = "Épreuve"
en = "Exam"
'''
OPEN = dt.datetime(2027, 1, 10, 9, tzinfo=dt.timezone.utc)


@pytest.fixture
def setup(tmp_path):
    folder = tmp_path / "courses" / "algebra-101"
    (folder / "source" / "exam").mkdir(parents=True)
    (folder / "course.toml").write_text(TOML)
    nbformat.write(source_notebook(), folder / "source" / "exam" / "exam.ipynb")
    layout = Layout(tmp_path / "data")
    release = layout.course_dir("algebra-101") / "release" / "exam"
    release.mkdir(parents=True)
    nbformat.write(source_notebook(), release / "exam.ipynb")
    (release / "data.csv").write_text("x,y\n1,2\n")
    key = load_key(layout.course_dir("algebra-101"), create=True)
    return load_course(folder), layout, tmp_path / "home", key


def test_enrolled_candidate_gets_their_own_copy_once(setup):
    course, layout, home, key = setup
    assert hand_out("cand-a", {"nbgrader-algebra-101"}, [course], layout, home, False, OPEN) == ["algebra-101/exam"]
    copy = json.loads((home / "algebra-101" / "exam" / "exam.ipynb").read_text())
    _, params = values_for(source_notebook(), variant_seed(key, "algebra-101/exam", "cand-a"))
    assert copy["cells"][1]["source"] == f"Compute {params.a} × {params.b}."
    assert (home / "algebra-101" / "exam" / "data.csv").read_text() == "x,y\n1,2\n"
    # the candidate's work is never overwritten by a later hand-out
    (home / "algebra-101" / "exam" / "exam.ipynb").write_text("my work")
    assert hand_out("cand-a", {"nbgrader-algebra-101"}, [course], layout, home, False, OPEN) == []
    assert (home / "algebra-101" / "exam" / "exam.ipynb").read_text() == "my work"


@pytest.mark.parametrize("groups,now", [
    (set(), OPEN),                                                       # not enrolled
    ({"nbgrader-algebra-101"}, OPEN - dt.timedelta(hours=2)),           # not open yet
])
def test_nothing_is_handed_out_to_others_or_before_opening(setup, groups, now):
    course, layout, home, _ = setup
    assert hand_out("cand-a", groups, [course], layout, home, False, now) == []
    assert not (home / "algebra-101").exists()


def test_assignments_without_variants_are_left_to_nbgrader_fetch(setup):
    course, layout, home, _ = setup
    nb = source_notebook()
    del nb.cells[0].metadata["tremplin"]
    nbformat.write(nb, layout.course_dir("algebra-101") / "release" / "exam" / "exam.ipynb")
    assert hand_out("cand-a", {"nbgrader-algebra-101"}, [course], layout, home, False, OPEN) == []
