"""Campaigns, rosters and exports built from a real exam-service store and real nbgrader gradebooks."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from contextlib import closing
from pathlib import Path

import pytest

from onethread import run_alone
from tremplin_grading.exports import signing
from tremplin_hub.admissions import Admissions, CampaignError, export, gather, parse_campaign, parse_roster
from tremplin_hub.exam.core import ExamService
from tremplin_hub.exam.store import Store
from tremplin_hub.layout import Layout

UTC = dt.timezone.utc
T0 = dt.datetime(2027, 3, 15, 8, tzinfo=UTC)
CAMPAIGN = """
id = "dd-2027-vn"
title = "Double diplôme 2027"
partner = "HUST"
country = "VN"
session = "2027-03"
threshold = 50
threshold_version = "2027-1"
[[sections]]
name = "math"
exam = "maths/exam"
weight = 1
"""
ROSTER = ("candidate_id,last_name,first_name,email,partner,country\n"
          "C-1,Nguyễn,An,an@x.org,HUST,VN\nC-2,Lê,Bình,binh@x.org,HUST,VN\nC-3,Phạm,Chi,chi@x.org,HUST,VN\n"
          "C-4,Đỗ,Dũng,dung@x.org,HUST,VN\n")


def gradebook(layout: Layout, scores: dict[str, tuple[float | None, bool]]):
    """A real nbgrader gradebook for course 'maths', assignment 'exam' (two cells, 10 points)."""
    import warnings

    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    folder = layout.course_dir("maths")
    folder.mkdir(parents=True, exist_ok=True)
    # nbgrader's add_submission warns under SQLAlchemy 2 ("not in session"); its own code, not ours.
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{folder / 'gradebook.db'}") as gb:
        warnings.filterwarnings("ignore", r"Object of type <Submitted\w+> not in session", SAWarning)
        gb.add_assignment("exam")
        gb.add_notebook("exam", "exam")
        gb.add_grade_cell("q1", "exam", "exam", max_score=4, cell_type="code")
        gb.add_grade_cell("q2", "exam", "exam", max_score=6, cell_type="markdown")
        for student, (q2, manual_needed) in scores.items():
            gb.add_student(student)
            gb.add_submission("exam", student)
            g1 = gb.find_grade("q1", "exam", "exam", student)
            g1.auto_score, g1.needs_manual_grade = 4, False
            g2 = gb.find_grade("q2", "exam", "exam", student)
            g2.manual_score, g2.needs_manual_grade = q2, manual_needed
            gb.db.commit()


@pytest.fixture
def setup(tmp_path):
    layout = Layout(tmp_path / "data")
    adm = Admissions(layout)
    adm.add_campaign(CAMPAIGN, "campaign.toml", T0)
    adm.set_roster("dd-2027-vn", parse_roster(ROSTER.encode()))
    store = Store(f"sqlite:///{tmp_path / 'exam.sqlite'}", tmp_path / "files")
    store.release("maths", "exam", {"exam.ipynb": b"{}"}, "prof", T0)
    # c-1 and c-2 handed in; c-3 started and was collected; c-4 never came.
    for user, minutes, kind in (("c-1", 50, "submission"), ("c-2", 70, "submission"), ("c-3", 120, "collection")):
        store.start_attempt("maths", "exam", user, {"exam.ipynb": b"{}"}, release_version=1, variant=f"v-{user}",
                            now=T0, ip="")
        store.add_record("maths", "exam", user, kind, {"exam.ipynb": user.encode()},
                         now=T0 + dt.timedelta(minutes=minutes), state="on_time")
    store.grant("maths", "exam", "user", "c-2", extra_minutes=30, by="coord", reason="tiers-temps", now=T0)
    yield layout, adm, ExamService(store, tmp_path / "courses", layout.course_dir)
    store.close()
    adm.close()


def test_results_join_roster_exam_service_and_gradebook(setup):
    layout, adm, store = setup
    gradebook(layout, {"c-1": (6, False), "c-2": (2, False), "c-3": (0, False)})
    rows = {r.candidate.candidate_id: r for r in gather(adm, "dd-2027-vn", store).rows()}
    assert {k: (r.status, r.total, r.rank) for k, r in rows.items()} == {
        "C-1": ("present", 100.0, 1), "C-2": ("present", 60.0, 2), "C-3": ("present", 40.0, 3),
        "C-4": ("absent", None, None)}
    math = rows["C-2"].sections["math"]
    assert (math.raw, math.maximum, math.seconds_used, math.variant) == (6.0, 10.0, 70 * 60, "v-c-2")
    assert math.accommodation == "+30 min (tiers-temps)" and len(math.receipt) == 64
    assert rows["C-4"].sections["math"].maximum == 10.0  # absent: the maximum is still known


def test_extra_time_granted_to_a_group_is_in_the_export(setup):
    """The export once copied the policy's rule and dropped grants made to a hub group: the column was empty."""
    layout, adm, exams = setup
    exams.store.grant("maths", "exam", "group", "tiers-temps-2027", extra_minutes=20, by="coord", reason="PAP",
                      now=T0)
    gradebook(layout, {"c-1": (6, False), "c-2": (2, False), "c-3": (0, False)})
    asked = []

    def members_of(group):
        asked.append(group)
        return {"c-2", "c-3"} if group == "tiers-temps-2027" else set()

    rows = {r.candidate.candidate_id: r for r in gather(adm, "dd-2027-vn", exams, members_of).rows()}
    assert rows["C-3"].sections["math"].accommodation == "+20 min (PAP)"
    assert rows["C-2"].sections["math"].accommodation == "+30 min (tiers-temps)", "their own grant comes first"
    assert rows["C-1"].sections["math"].accommodation == ""
    assert asked == ["tiers-temps-2027"], "the hub is asked once per granted group, not once per candidate"


def test_pending_manual_grading_refuses_the_export_unless_allowed_and_the_rows_say_so(setup, tmp_path):
    layout, adm, store = setup
    gradebook(layout, {"c-1": (6, False), "c-2": (None, True), "c-3": (0, False)})
    with pytest.raises(CampaignError) as err:
        export(adm, "dd-2027-vn", store, by="admissions")
    assert "C-2" in str(err.value) and "--allow-incomplete" in str(err.value)
    files, kept = export(adm, "dd-2027-vn", store, by="admissions", allow_incomplete=True)
    rows = {r["candidate_id"]: r for r in csv.DictReader(io.StringIO(
        files["dd-2027-vn-results.csv"].decode("utf-8-sig")))}
    assert rows["C-2"]["status"] == "pending" and rows["C-2"]["rank"] == ""
    log = adm.exports("dd-2027-vn")
    assert len(log) == 1 and log[0]["by"] == "admissions" and log[0]["allow_incomplete"] is True
    assert json.loads(log[0]["files"])["manifest.json"] == __import__("hashlib").sha256(
        files["manifest.json"]).hexdigest()
    assert sorted(p.name for p in kept.iterdir()) == sorted(files)


def test_an_export_verifies_with_the_public_key_and_the_data_files_do_not_change_between_exports(setup):
    layout, adm, store = setup
    gradebook(layout, {"c-1": (6, False), "c-2": (2, False), "c-3": (0, False)})
    first, _ = export(adm, "dd-2027-vn", store, by="a", now=T0)
    second, _ = export(adm, "dd-2027-vn", store, by="a", now=T0 + dt.timedelta(hours=1))
    data = [n for n in first if not n.startswith("manifest")]
    assert all(first[n] == second[n] for n in data) and first["manifest.json"] != second["manifest.json"]
    public = signing.load_public_key(signing.public_pem(signing.load_or_create_key(adm.key_file)))
    assert signing.verify(first, public).problems == []


def test_disqualification_needs_a_reason_and_a_registered_candidate(setup):
    layout, adm, store = setup
    gradebook(layout, {"c-1": (6, False), "c-2": (2, False), "c-3": (0, False)})
    with pytest.raises(CampaignError):
        adm.disqualify("dd-2027-vn", "C-9", "fraud", "coord", T0)
    with pytest.raises(CampaignError):
        adm.disqualify("dd-2027-vn", "C-1", " ", "coord", T0)
    adm.disqualify("dd-2027-vn", "C-1", "identity not confirmed", "coord", T0)
    rows = {r.candidate.candidate_id: r for r in gather(adm, "dd-2027-vn", store).rows()}
    assert rows["C-1"].status == "disqualified" and rows["C-2"].rank == 1


@pytest.mark.parametrize("change,message", [
    (("threshold = 50", "threshold = 150"), "field 'threshold'"),
    (('id = "dd-2027-vn"', 'id = "DD 2027"'), "field 'id'"),
    (('exam = "maths/exam"', 'exam = "maths"'), "is not <course>/<assignment>"),
    (("weight = 1", "weight = 0"), "must be a positive number"),
    (('partner = "HUST"\n', ""), "field 'partner' is missing"),
    (("[[sections]]", "[[sectionz]]"), "no [[sections]]"),
])
def test_a_bad_campaign_file_names_the_field_and_the_fix(change, message):
    with pytest.raises(CampaignError) as err:
        parse_campaign(CAMPAIGN.replace(*change), "dd.toml")
    assert str(err.value).startswith("dd.toml: ") and message in str(err.value)


@pytest.mark.parametrize("data,message", [
    (b"candidate_id,last_name\nC-1,X\n", "columns first_name, email, partner, country are missing"),
    (ROSTER.encode() + b"C-1,Again,A,a@x.org,HUST,VN\n", "line 6: candidate_id 'C-1' appears twice"),
    (ROSTER.encode() + b",No,Id,n@x.org,HUST,VN\n", "line 6: candidate_id is empty"),
    ("candidate_id,last_name,first_name,email,partner,country\nC-1,Nguyễn,A,a,B,C\n".encode("utf-16"), "not UTF-8"),
])
def test_a_bad_roster_names_the_line_and_the_fix(data, message):
    with pytest.raises(CampaignError) as err:
        parse_roster(data, "roster.csv")
    assert message in str(err.value)


def test_a_roster_from_excel_with_a_byte_order_mark_and_an_account_column_is_read():
    data = ("\ufeffcandidate_id,last_name,first_name,email,partner,country,account\r\n"
            "DD27-1,王,小明,w@x.org,P,CN,learner9\r\nDD27-2,Souza,Ana,a@x.org,P,BR,\r\n").encode()
    (a, b) = parse_roster(data)
    assert (a.candidate_id, a.last_name, a.account) == ("DD27-1", "王", "learner9")
    assert b.account == "dd27-2"  # no account given: the candidate id in lower case


def test_one_students_grades_are_read_by_index_not_by_reading_every_grade(tmp_path):
    """The recorder reads each paper's grades after grading it: a scan of every grade per paper made
    the queue quadratic (0.35 s a paper at 10,000)."""
    import sqlite3

    from tremplin_grading.results import QUERY_ONE, SUBMITTED_ONE, read_gradebook

    layout = Layout(tmp_path / "data")
    gradebook(layout, {"c-1": (5.0, False), "c-2": (None, True), "c-3": (2.5, False)})
    path = layout.course_dir("maths") / "gradebook.db"
    everyone = read_gradebook(path, "exam")
    for student in ("c-1", "c-2", "c-3"):
        assert read_gradebook(path, "exam", student) == {student: everyone[student]}
    assert read_gradebook(path, "exam", "nobody") == {}
    with sqlite3.connect(path) as conn:
        for query, args in ((QUERY_ONE, ("exam", "c-1")), (SUBMITTED_ONE, ("exam", "c-1"))):
            plan = " | ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + query, args))
            # (g, sn, sa, st: grades, submitted notebooks and assignments, students: they grow with the papers)
            assert not re.search(r"SCAN (g|sn|sa|st)\b", plan), plan


def test_forked_gradebook_reads_give_the_same_export_as_threads(setup, tmp_path):
    """``tremplin export`` (one thread) reads the gradebooks in a forked copy while it opens the exam
    store, which it opens only then (``exams`` given as a function)."""
    layout, adm, exams = setup
    gradebook(layout, {"c-1": (6, False), "c-2": (2, False), "c-3": (0, False)})
    threads, _ = export(adm, "dd-2027-vn", exams, by="a", now=T0)
    out = run_alone(f"""
        import datetime as dt, json
        from pathlib import Path
        from tremplin_hub.admissions import Admissions, export
        from tremplin_hub.exam.core import ExamService
        from tremplin_hub.exam.store import Store
        from tremplin_hub.layout import Layout

        tmp = Path({str(tmp_path)!r})
        layout = Layout(tmp / "data")
        opened = []

        def open_exams():
            opened.append(Store(f"sqlite:///{{tmp / 'exam.sqlite'}}", tmp / "files"))
            return ExamService(opened[-1], tmp / "courses", layout.course_dir)

        with Admissions(layout) as adm:
            files, _ = export(adm, "dd-2027-vn", open_exams, by="a", now=dt.datetime(2027, 3, 16,
                              tzinfo=dt.timezone.utc), processes=True)
        opened[0].close()
        print(json.dumps({{"opened": len(opened), "files": {{n: d.hex() for n, d in files.items()}}}}))
    """)
    forked = json.loads(out)
    assert forked["opened"] == 1
    data = [n for n in threads if not n.startswith("manifest")]
    assert all(bytes.fromhex(forked["files"][n]) == threads[n] for n in data)


LEGACY_SCHEMA = """
CREATE TABLE campaigns (id VARCHAR(64) NOT NULL, definition TEXT NOT NULL, loaded_at DATETIME NOT NULL,
    PRIMARY KEY (id));
CREATE TABLE roster (campaign VARCHAR(64) NOT NULL, candidate_id VARCHAR(128) NOT NULL, account VARCHAR(255) NOT NULL,
    last_name TEXT NOT NULL, first_name TEXT NOT NULL, email TEXT NOT NULL, partner TEXT NOT NULL,
    country TEXT NOT NULL, PRIMARY KEY (campaign, candidate_id));
CREATE TABLE disqualifications (id INTEGER NOT NULL, campaign VARCHAR(64) NOT NULL,
    candidate_id VARCHAR(128) NOT NULL, reason TEXT NOT NULL, "by" VARCHAR(255) NOT NULL, at DATETIME NOT NULL,
    PRIMARY KEY (id));
CREATE TABLE export_log (id INTEGER NOT NULL, campaign VARCHAR(64) NOT NULL, "by" VARCHAR(255) NOT NULL,
    at DATETIME NOT NULL, allow_incomplete BOOLEAN NOT NULL, files TEXT NOT NULL, folder VARCHAR(1024) NOT NULL,
    PRIMARY KEY (id));
"""


def test_a_store_written_by_the_sqlalchemy_version_is_read_as_it_is(tmp_path):
    """The admissions store was written through SQLAlchemy before 2026-12 (these are its tables and its
    time format, as found in a data directory of then); it is now read with the standard library."""
    import sqlite3

    layout = Layout(tmp_path / "data")
    layout.admissions_dir.mkdir(parents=True)
    with closing(sqlite3.connect(layout.admissions_dir / "admissions.sqlite")) as conn, conn:
        conn.executescript(LEGACY_SCHEMA)
        conn.execute("INSERT INTO campaigns VALUES (?, ?, ?)", ("dd-2027-vn", CAMPAIGN, "2027-03-01 08:00:00.000000"))
        conn.executemany("INSERT INTO roster VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         [("dd-2027-vn", c.candidate_id, c.account, c.last_name, c.first_name, c.email, c.partner,
                           c.country) for c in parse_roster(ROSTER.encode())])
        conn.execute('INSERT INTO disqualifications (campaign, candidate_id, reason, "by", at) VALUES (?, ?, ?, ?, ?)',
                     ("dd-2027-vn", "C-3", "fraude", "coord", "2027-03-16 09:30:00.000000"))
        conn.execute('INSERT INTO export_log (campaign, "by", at, allow_incomplete, files, folder) '
                     "VALUES (?, ?, ?, ?, ?, ?)", ("dd-2027-vn", "admissions", "2027-03-17 10:00:00.250000", 1,
                                                  '{"a.csv": "00"}', "/x"))
    with Admissions(layout) as adm:
        assert adm.campaign("dd-2027-vn").id == "dd-2027-vn" and adm.campaign_ids() == ["dd-2027-vn"]
        assert [c.candidate_id for c in adm.roster("dd-2027-vn")] == ["C-1", "C-2", "C-3", "C-4"]
        assert adm.disqualified("dd-2027-vn") == {"C-3": "fraude"}
        (logged,) = adm.exports("dd-2027-vn")
        assert logged["at"] == dt.datetime(2027, 3, 17, 10, 0, 0, 250000, tzinfo=dt.timezone.utc)
        assert logged["allow_incomplete"] is True and logged["by"] == "admissions"
        adm.disqualify("dd-2027-vn", "C-1", "absent à l'appel", "coord", T0)  # and written to as before
        assert adm.disqualified("dd-2027-vn")["C-1"] == "absent à l'appel"


def test_the_export_command_imports_sqlalchemy_only_when_it_opens_the_exam_store():
    """So that the gradebooks are being read while that import runs (a third of a second)."""
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(repo / "graders"), str(repo / "extensions")]))
    code = ("import sys, tremplin_hub.cli, tremplin_hub.admissions.results, tremplin_hub.hubapi, tremplin_hub.system; "
            "print(sorted(m for m in ('sqlalchemy', 'argon2', 'cryptography') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "[]"


def test_the_formgraders_students_are_named_and_an_exams_are_those_who_handed_in(tmp_path):
    """The formgrader showed "None, None", and a candidate still sitting the exam at 0/30."""
    import warnings

    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    from tremplin_grading.coursework import enrol

    layout = Layout(tmp_path / "data")
    layout.admissions_dir.mkdir(parents=True)
    (layout.admissions_dir / "admissions.sqlite").touch()  # (made ahead for the service, never opened)
    assert Admissions.people(layout) == {}
    with Admissions(layout) as adm:
        adm.add_campaign(CAMPAIGN, "campaign.toml", T0)
        adm.set_roster("dd-2027-vn", parse_roster(ROSTER.encode()))
    names = Admissions.people(layout)
    # nbgrader's add_submission warns under SQLAlchemy 2 ("not in session"); its own code, not ours.
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        warnings.filterwarnings("ignore", r"Object of type <Submitted\w+> not in session", SAWarning)
        gb.add_assignment("exam")
        for student in ("c-1", "c-2", "sitting"):
            gb.add_student(student)
        gb.add_submission("exam", "c-1")
        enrol(gb, {"kind": "exam", "learners": ["c-1", "c-2", "sitting"], "names": names})
        assert {s.id: (s.last_name, s.first_name) for s in gb.students} == {"c-1": names["c-1"][:2]}
        enrol(gb, {"kind": "mooc", "learners": ["c-1", "learner-9"], "names": names})
        assert {s.id: (s.last_name, s.first_name, s.email) for s in gb.students} == {
            "c-1": names["c-1"], "learner-9": ("learner-9", "", "")}
