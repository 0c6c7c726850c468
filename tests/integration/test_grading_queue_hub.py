"""Graded on arrival, against the real hub: a paper handed in reaches the gradebook without anyone clicking,
professors follow and regrade it on the queue page and with ``tremplin grade``, learners get 403."""

from __future__ import annotations

import json
import subprocess

import pytest

from gradingkit import Candidate, outcome, queue_for, solution_code, wait_for_jobs, with_cells
from hubfixture import VENV_BIN, is_root

pytestmark = [pytest.mark.hub, pytest.mark.skipif(not is_root(), reason="sandbox accounts need root")]

COURSE, EXAM, NB = "preselection-physics", "physics-2027", "physics-2027.ipynb"


def tremplin(hub, *args):
    return subprocess.run([str(VENV_BIN / "tremplin"), *args], env=hub.env(), capture_output=True, text=True)


@pytest.fixture(scope="module")
def graded(hub):
    cand = Candidate(hub, COURSE, EXAM, "queued")
    cand.submit({NB: json.dumps(with_cells(cand.copy(NB), solution_code(COURSE, EXAM, NB))).encode()})
    (job,) = wait_for_jobs(hub, [cand.name])[cand.name]
    return cand, job


def test_a_paper_handed_in_is_in_the_gradebook_without_anyone_clicking(hub, graded):
    cand, job = graded
    assert job.state == "done" and job.reason == "arrival"
    assert outcome(hub, COURSE, EXAM, NB, cand.name, job).score == 25
    professor = hub.user_session("professor")
    subs = professor.get(f"{hub.url}/services/{COURSE}/formgrader/api/submissions/{EXAM}").json()
    mine = next(s for s in subs if s["student"] == cand.name)
    assert mine["autograded"] and mine["score"] == 25  # what the formgrader shows
    # a name, never "None, None": their account until a roster gives theirs (tremplin courses sync)
    students = professor.get(f"{hub.url}/services/{COURSE}/formgrader/api/students").json()
    me = next(s for s in students if s["id"] == cand.name)
    assert (me["last_name"], me["first_name"], me["email"]) == (cand.name, "", "")


def test_professors_follow_the_queue_and_regrade_one_question_learners_get_403(hub, graded):
    cand, _job = graded
    page = f"{hub.url}/services/tremplin-exam/grading/{COURSE}/{EXAM}"
    professor = hub.user_session("professor")
    r = professor.get(page)
    assert r.status_code == 200 and "File de correction" in r.text and "Grading queue" in r.text
    assert f'data-student="{cand.name}"' in r.text and "q1-test" in r.text
    assert professor.get(f"{hub.url}/services/tremplin-exam/grading/{COURSE}/").status_code == 200
    for who in ("learner2", "coordinator", "admissions"):
        r = hub.user_session(who).get(page)
        assert r.status_code == 403 and "graders and admins" in r.text, who
    r = professor.post(f"{page}/regrade", data={"candidate": cand.name, "question": "not-a-test"})
    assert r.status_code == 400 and "not-a-test" in r.text
    r = professor.post(f"{page}/regrade", data={"candidate": cand.name, "question": "q3-test"},
                       allow_redirects=False)
    assert r.status_code == 302
    jobs = wait_for_jobs(hub, [cand.name])[cand.name]
    regrade = jobs[0]
    assert (regrade.reason, regrade.question, regrade.state) == ("regrade", "q3-test", "done")
    assert regrade.requested_by == hub.names["professor"]
    assert outcome(hub, COURSE, EXAM, NB, cand.name, regrade).score == 25


def test_the_command_line_shows_progress_and_regrades(hub, graded):
    cand, _job = graded
    proc = tremplin(hub, "grade", "status", f"{COURSE}/{EXAM}")
    assert proc.returncode == 0, proc.stderr
    assert "graded" in proc.stdout and "done" in proc.stdout
    proc = tremplin(hub, "grade", "regrade", f"{COURSE}/{EXAM}", "--candidate", cand.name)
    assert proc.returncode == 0, proc.stderr
    assert "queued again" in proc.stdout and "graded" in proc.stderr  # the progress bar, until done
    proc = tremplin(hub, "grade", "jobs", f"{COURSE}/{EXAM}")
    assert proc.stdout.count(cand.name) >= 2  # the arrival and this regrade at least
    proc = tremplin(hub, "grade", "regrade", f"{COURSE}/{EXAM}", "--candidate", "nobody-at-all")
    assert proc.returncode == 1 and "nothing to regrade" in proc.stderr
    proc = tremplin(hub, "grade", "status", "no-slash")
    assert proc.returncode == 1 and "<course>/<assignment>" in proc.stderr


def test_the_engine_socket_serves_each_course_to_its_own_grader_only(hub):
    """A grader account of another course (and a learner's) is refused by the engine, whatever it sends."""
    import pwd

    from tremplin_grading.engine.client import EngineUnavailable, SocketEngine

    hub.start_server("learner1")  # (the learner's system account exists once their server has started)
    socket_path = str(hub.data_dir / "grading" / "engine.sock")
    task = {"course": COURSE, "assignment": EXAM, "notebook": "x", "student": "s",
            "sandbox": {"cells": [], "files": {}}, "judge": {"cells": [], "files": {}}}
    code = ("import json, sys\nfrom tremplin_grading.engine.client import SocketEngine, EngineUnavailable\n"
            f"try:\n    SocketEngine({socket_path!r}, connect_seconds=5).grade(json.loads(sys.argv[1]))\n"
            "    print('SERVED')\nexcept EngineUnavailable as e:\n    print('REFUSED', e)\n")
    for account in ("grader-preselection-math", hub.names["learner1"]):
        pwd.getpwnam(account)
        proc = subprocess.run(["runuser", "-u", account, "--", str(VENV_BIN / "python"), "-c", code,
                               json.dumps(task)], capture_output=True, text=True, cwd="/")
        assert "REFUSED" in proc.stdout and "may not grade" in proc.stdout, (account, proc.stdout, proc.stderr)
    with pytest.raises(EngineUnavailable, match="malformed|must be"):
        SocketEngine(socket_path).grade({"course": COURSE})
    queue_for(hub).close()


def test_a_candidates_markdown_reaches_the_professors_formgrader_page_without_what_runs(hub):
    """Issue 10: an ``<img onerror>`` in a candidate's Markdown once ran in the professor's formgrader page."""
    from htmlcheck import what_runs

    cand = Candidate(hub, COURSE, EXAM, "marked")
    hostile = {"cell_type": "markdown", "metadata": {}, "source": (
        "## Ma démarche / My reasoning\n\n<img src=x onerror=\"fetch('/hub/api/users')\">\n\n"
        "<a href=\"javascript:alert(document.cookie)\">voir</a> <script>alert('prof')</script>")}
    cand.submit({NB: json.dumps(with_cells(cand.copy(NB), {}, extra=[hostile])).encode()})
    wait_for_jobs(hub, [cand.name])
    professor = hub.user_session("professor")
    api = f"{hub.url}/services/{COURSE}/formgrader"
    notebooks = professor.get(f"{api}/api/submitted_notebooks/{EXAM}/{NB[:-6]}").json()
    (mine,) = [n for n in notebooks if n["student"] == cand.name]
    page = professor.get(f"{api}/submissions/{mine['id']}/?index=0")
    assert page.status_code == 200 and "Ma démarche" in page.text, page.status_code
    cells = page.text[page.text.index("Ma démarche") - 3000:]
    assert what_runs(cells) == [], what_runs(cells)
