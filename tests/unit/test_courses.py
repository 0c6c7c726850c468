"""Course loading: the three real courses validate, and each malformed course.toml gets an error
that names the file, the field and the fix, while the other courses still load."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tremplin_grading.courses import CourseError, load_course, load_courses

REPO = Path(__file__).resolve().parents[2]

GOOD = '''id = "algebra-101"
kind = "mooc"
instructors = ["professor"]
learners = ["learner1"]

[title]
fr = "Algèbre"
en = "Algebra"

[description]
fr = "Les bases."
en = "The basics."

[[assignments]]
id = "week-1"
graded = true
opens = 2027-01-10T08:00:00Z
due = 2027-01-31T23:59:00Z
[assignments.title]
fr = "Semaine 1"
en = "Week 1"
'''


def write_course(root: Path, text: str, name: str = "algebra-101", notebooks=("week-1",)) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "course.toml").write_text(text, encoding="utf-8")
    for a in notebooks:
        (folder / "source" / a).mkdir(parents=True)
        (folder / "source" / a / f"{a}.ipynb").write_text("{}")
    return folder


def test_real_courses_load_without_error():
    report = load_courses(REPO / "courses", known_instructors={"professor"})
    assert report.errors == []
    ids = {c.id: c for c in report.courses}
    assert {"python-intro", "preselection-math", "preselection-physics"} <= set(ids)
    assert ids["python-intro"].kind == "mooc"
    assert ids["preselection-math"].kind == "exam"
    assert ids["preselection-physics"].kind == "exam"
    for course in report.courses:
        assert course.title["fr"] and course.title["en"]
        assert course.description["fr"] != course.description["en"]


def test_python_intro_has_three_practice_modules_and_a_graded_assignment():
    course = load_course(REPO / "courses" / "python-intro")
    practice = [a for a in course.assignments if not a.graded]
    graded = [a for a in course.assignments if a.graded]
    assert len(practice) >= 3 and len(graded) >= 1
    for module in practice:
        assert any(n.endswith("-fr.ipynb") for n in module.notebooks), module.id
        assert any(n.endswith("-en.ipynb") for n in module.notebooks), module.id


def test_good_course_is_read_with_utc_dates(tmp_path):
    course = load_course(write_course(tmp_path, GOOD), known_instructors={"professor"})
    assert course.id == "algebra-101"
    assert course.student_group == "nbgrader-algebra-101"
    assert course.grader_group == "formgrade-algebra-101"
    assert course.grader_account == "grader-algebra-101"
    (a,) = course.assignments
    assert a.opens == dt.datetime(2027, 1, 10, 8, tzinfo=dt.timezone.utc)
    assert a.notebooks == ("week-1.ipynb",)
    assert not a.is_open(dt.datetime(2027, 1, 10, 7, 59, tzinfo=dt.timezone.utc))
    assert a.is_open(dt.datetime(2027, 1, 10, 8, tzinfo=dt.timezone.utc))


def test_offset_dates_are_converted_to_utc(tmp_path):
    text = GOOD.replace("opens = 2027-01-10T08:00:00Z", "opens = 2027-01-10T13:30:00+05:30")
    (a,) = load_course(write_course(tmp_path, text)).assignments
    assert a.opens == dt.datetime(2027, 1, 10, 8, 0, tzinfo=dt.timezone.utc)


MALFORMED = [
    # (what is wrong, edit of GOOD, field named, words of the problem, words of the fix)
    ("missing id", lambda t: t.replace('id = "algebra-101"\n', ""), "id", "missing", 'id = "algebra-101"'),
    ("missing kind", lambda t: t.replace('kind = "mooc"\n', ""), "kind", "missing", 'kind = "mooc"'),
    ("unknown kind", lambda t: t.replace('"mooc"', '"webinar"'), "kind", "unknown kind 'webinar'", "mooc, exam"),
    ("missing title", lambda t: t.replace('[title]\nfr = "Algèbre"\nen = "Algebra"\n', ""), "title", "missing",
     "[title]"),
    ("title without English", lambda t: t.replace('en = "Algebra"\n', ""), "title.en", "missing or empty",
     "English"),
    ("missing description", lambda t: t.replace('[description]\nfr = "Les bases."\nen = "The basics."\n', ""),
     "description", "missing", "[description]"),
    ("missing instructors", lambda t: t.replace('instructors = ["professor"]\n', ""), "instructors", "missing",
     "instructors = "),
    ("empty instructors", lambda t: t.replace('["professor"]', "[]"), "instructors", "empty", "at least one"),
    ("unknown instructor", lambda t: t.replace('["professor"]', '["prof-nobody"]'), "instructors",
     "unknown instructor 'prof-nobody'", "tremplin accounts add prof-nobody --role professor"),
    ("bad account name", lambda t: t.replace('["learner1"]', '["Learner One"]'), "learners", "not a valid account",
     "lower-case"),
    ("bad date", lambda t: t.replace("due = 2027-01-31T23:59:00Z", 'due = "31/01/2027"'), "assignments[week-1].due",
     "'31/01/2027' is not a date and time", "2027-03-31T23:59:00Z"),
    ("date without time", lambda t: t.replace("due = 2027-01-31T23:59:00Z", "due = 2027-01-31"),
     "assignments[week-1].due", "no time of day", "UTC"),
    ("date without zone", lambda t: t.replace("due = 2027-01-31T23:59:00Z", "due = 2027-01-31T23:59:00"),
     "assignments[week-1].due", "no time zone", "2027-01-31T23:59:00Z"),
    ("due before opens", lambda t: t.replace("due = 2027-01-31T23:59:00Z", "due = 2027-01-01T00:00:00Z"),
     "assignments[week-1].due", "not after opens", "later than opens"),
    ("missing due", lambda t: t.replace("due = 2027-01-31T23:59:00Z\n", ""), "assignments[week-1].due", "missing",
     "due = "),
    ("no assignments", lambda t: t.split("[[assignments]]")[0], "assignments", "missing", "[[assignments]]"),
    ("assignment without notebooks", lambda t: t.replace('id = "week-1"', 'id = "week-2"'),
     "assignments[week-2].id", "no notebook", "source/week-2"),
    ("graded not a boolean", lambda t: t.replace("graded = true", 'graded = "yes"'), "assignments[week-1].graded",
     "not true or false", "graded = true or false"),
    ("id differs from folder", lambda t: t.replace('id = "algebra-101"', 'id = "algebra-102"'), "id",
     "differs from the folder name", 'id = "algebra-101"'),
    ("invalid course id", lambda t: t.replace('id = "algebra-101"', 'id = "Algebra 101"'), "id",
     "not a valid course id", "lower-case"),
    ("unknown field", lambda t: "instructor = \"x\"\n" + t, "instructor", "not a course field", "instructors"),
    ("TOML syntax", lambda t: t.replace('kind = "mooc"', "kind = mooc"), "(syntax)", "not valid TOML",
     "fix the syntax"),
]


@pytest.mark.parametrize("case,edit,field,problem,fix", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_course_error_names_file_field_and_fix(tmp_path, case, edit, field, problem, fix):
    folder = write_course(tmp_path, edit(GOOD))
    with pytest.raises(CourseError) as info:
        load_course(folder, known_instructors={"professor"})
    error = info.value
    assert error.file == folder / "course.toml"
    assert error.field == field
    assert problem in error.problem
    assert fix in error.fix
    message = str(error)
    assert str(folder / "course.toml") in message and field in message and "fix:" in message


def test_missing_course_toml_is_reported(tmp_path):
    (tmp_path / "empty-course").mkdir()
    report = load_courses(tmp_path)
    assert [e.field for e in report.errors] == ["(file)"]
    assert "course.toml" in str(report.errors[0])


def test_one_bad_course_does_not_stop_the_others(tmp_path):
    write_course(tmp_path, GOOD)
    write_course(tmp_path, GOOD.replace("algebra-101", "broken-course").replace('"mooc"', '"webinar"'),
                 name="broken-course")
    write_course(tmp_path, GOOD.replace("algebra-101", "physics-101"), name="physics-101")
    report = load_courses(tmp_path, known_instructors={"professor"})
    assert [c.id for c in report.courses] == ["algebra-101", "physics-101"]
    assert len(report.errors) == 1 and report.errors[0].file.parent.name == "broken-course"


def test_folders_starting_with_dot_or_underscore_are_ignored(tmp_path):
    write_course(tmp_path, GOOD)
    (tmp_path / "_drafts").mkdir()
    (tmp_path / ".git").mkdir()
    report = load_courses(tmp_path)
    assert [c.id for c in report.courses] == ["algebra-101"] and report.errors == []


def test_a_course_sets_its_grading_limits_and_they_reach_nbgrader_config(tmp_path):
    from tremplin_grading.coursework import nbgrader_config_text

    course = load_course(write_course(tmp_path, GOOD + "\n[grading]\ncell_seconds = 5\nwall_seconds = 30\n"))
    assert course.grading == {"cell_seconds": 5, "wall_seconds": 30}
    text = nbgrader_config_text(course.id, tmp_path, engine_socket="/x/engine.sock", limits=course.grading)
    assert 'c.JudgeExecute.limits = {"cell_seconds": 5, "wall_seconds": 30}' in text
    assert "tremplin_grading.autograde.JudgeExecute" in text and "DropForgedCells" in text
    assert "JudgeExecute" not in nbgrader_config_text(course.id, tmp_path)  # stock, for comparisons only


@pytest.mark.parametrize("table,field,problem", [
    ("cell_second = 5", "grading.cell_second", "unknown field"),
    ("cell_seconds = -1", "grading.cell_seconds", "not a positive number"),
    ("cell_seconds = true", "grading.cell_seconds", "not a positive number"),
    ("cell_seconds = 90\nwall_seconds = 60", "grading", "shorter than cell_seconds"),
])
def test_bad_grading_limits_name_the_field_and_the_fix(tmp_path, table, field, problem):
    with pytest.raises(CourseError) as err:
        load_course(write_course(tmp_path, GOOD + f"\n[grading]\n{table}\n"))
    assert err.value.field == field and problem in err.value.problem and err.value.fix
