"""The whole learner → professor → feedback loop, for two courses at once, against a real hub.

Learners fetch and submit through their own single-user servers (nbgrader's assignment
list REST API), professors collect, autograde, grade by hand and release feedback
through their course's formgrader service, and learners fetch the feedback. Every
request carries a real JupyterHub token; nothing is mocked.
"""

from __future__ import annotations

import json
import re
import subprocess

import nbformat
import pytest

from hubfixture import REPO, is_root
from nbhelpers import answer, autograded_points, has_variants, manual_points, solutions

pytestmark = pytest.mark.hub

# (course, assignment, notebook) taken by learner1, one per course.
WORK = [
    ("python-intro", "devoir-1", "devoir-1.ipynb"),
    ("preselection-math", "math-2027", "math-2027.ipynb"),
]


def assignments(session, server, course):
    r = session.get(f"{server}/assignments", params={"course_id": course})
    r.raise_for_status()
    body = r.json()
    assert body["success"], body
    return {a["assignment_id"]: a for a in body["value"]}


def action(session, server, verb, course, assignment):
    r = session.post(f"{server}/assignments/{verb}", data={"course_id": course, "assignment_id": assignment})
    r.raise_for_status()
    return r.json()


def formgrader(hub, course):
    return f"{hub.url}/services/{course}/formgrader/api"


@pytest.fixture(scope="module")
def learner1(hub):
    return hub.user_session("learner1"), hub.start_server("learner1")


@pytest.fixture(scope="module")
def learner2(hub):
    return hub.user_session("learner2"), hub.start_server("learner2")


@pytest.fixture(scope="module")
def professor(hub):
    return hub.user_session("professor")


@pytest.fixture(scope="module")
def submitted(hub, learner1, learner2):
    """learner1 answers both courses' assignments right; learner2 submits devoir-1 blank."""
    s1, server1 = learner1
    for course, aid, nb in WORK:
        listed = assignments(s1, server1, course)
        path = f"{course}/{aid}/{nb}"
        assert listed[aid]["status"] == "released"
        exam = course.startswith("preselection")
        if exam:  # nbgrader's Fetch starts no exam: the start page does, once the candidate confirmed
            action(s1, server1, "fetch", course, aid)
            assert assignments(s1, server1, course)[aid]["status"] == "released"
            r = s1.post(f"{hub.url}/services/tremplin-exam/api/courses/{course}/assignments/{aid}/fetch",
                        json={"start": True})
            assert r.status_code == 200, r.text
        # The exam service hands out the learner's own copy (personalized when the exam has variants).
        action(s1, server1, "fetch", course, aid)
        assert assignments(s1, server1, course)[aid]["status"] == "fetched"
        released = s1.get(f"{server1}/api/contents/{path}", params={"content": 1}).json()["content"]
        if has_variants(REPO / "courses" / course / "source" / aid / nb):
            (params,) = [c for c in released["cells"] if c["metadata"].get("tremplin", {}).get("parameters")]
            assert "Params(" in params["source"] and "draw(" not in params["source"], "not personalized"
        answered = answer(released, solutions(REPO / "courses" / course / "source" / aid / nb))
        r = s1.put(f"{server1}/api/contents/{path}", json={"type": "notebook", "format": "json", "content": answered})
        r.raise_for_status()
        result = action(s1, server1, "submit", course, aid)
        if exam:  # nbgrader's Submit ends no exam (it says where the hand-in button is); the button does
            assert result.get("success") is False and "Rendre ma copie / Hand in" in result["value"], result
            r = s1.post(f"{server1}/tremplin/submit/{course}/{aid}", json={})
            assert r.status_code == 200 and r.json()["receipt"]["chain"], r.text
            continue
        assert isinstance(result, dict) and result.get("success") is not False, result
    s2, server2 = learner2
    action(s2, server2, "fetch", "python-intro", "devoir-1")
    path = "python-intro/devoir-1/devoir-1.ipynb"
    released = s2.get(f"{server2}/api/contents/{path}", params={"content": 1}).json()["content"]
    r = s2.put(f"{server2}/api/contents/{path}", json={"type": "notebook", "format": "json",
                                                       "content": answer(released, LEARNER2_ANSWERS)})
    r.raise_for_status()
    result = action(s2, server2, "submit", "python-intro", "devoir-1")
    assert result.get("success") is not False, result
    return True


#: learner2's devoir-1: q1 wrong (its visible test says so), q2 and q3 right on the visible tests' inputs only and
#: printing or raising what the hidden tests give them (an attempt to read the hidden tests through the feedback),
#: q4 and q5 left blank. Every question scores 0.
LEARNER2_ANSWERS = {
    "q1-answer": "def prix_ttc(prix_ht, taux=0.18):\n    return prix_ht * taux\n",
    "q2-answer": ("def pluie_par_mois(releves):\n    if len(releves) == 3:\n"
                  "        return {'2024-07': 42.5, '2024-08': 4.0}\n    print('leak', releves)\n    return {}\n"),
    "q3-answer": ("def moyenne_mobile(valeurs, k):\n    if valeurs == [1, 2, 3, 4, 5]:\n"
                  "        return [1.5, 2.5, 3.5, 4.5]\n    raise ValueError(f'leak {valeurs!r} {k}')\n"),
}
#: What learner2's code would reveal of devoir-1's hidden tests, were it shown.
HIDDEN_INPUTS = ("2023-08-10", "28.0, 30.0", "leak [", "2950", "BEGIN HIDDEN", "Traceback")


def test_learner_sees_only_their_courses(hub, learner1, learner2):
    s1, server1 = learner1
    r = s1.get(f"{server1}/courses")
    assert sorted(r.json()["value"]) == ["preselection-math", "python-intro"]
    s2, server2 = learner2
    assert sorted(s2.get(f"{server2}/courses").json()["value"]) == ["preselection-math", "preselection-physics",
                                                                    "python-intro"]
    # The other course's assignments are not listed for learner1.
    assert assignments(s1, server1, "preselection-physics") == {}


def test_professor_collects_autogrades_grades_and_releases_feedback(hub, submitted, professor, learner1, learner2):
    s1, server1 = learner1
    s2, _ = learner2
    l1 = hub.names["learner1"]
    l2 = hub.names["learner2"]
    for course, aid, nb in WORK:
        api = formgrader(hub, course)
        r = professor.post(f"{api}/assignment/{aid}/collect")
        r.raise_for_status()
        assert r.json()["success"], r.json()
        students = [l1, l2] if course == "python-intro" else [l1]
        for student in students:
            r = professor.post(f"{api}/submission/{aid}/{student}/autograde")
            r.raise_for_status()
            assert r.json()["success"], r.json()
        subs = {s["student"]: s for s in professor.get(f"{api}/submissions/{aid}").json()}
        source = REPO / "courses" / course / "source" / aid / nb
        auto = autograded_points(source)
        assert auto > 0
        assert subs[l1]["autograded"] is True
        assert subs[l1]["score"] == pytest.approx(auto), f"{course}: right answers should get every autograded point"
        if course == "python-intro":
            assert subs[l2]["score"] == 0, "wrong answers get no point"

        # Manual grading: give the manually graded answers full marks.
        manual = manual_points(source)
        notebook_id = professor.get(f"{api}/submitted_notebooks/{aid}/{nb[:-6]}").json()
        mine = [n for n in notebook_id if n["student"] == l1][0]
        grades = professor.get(f"{hub.url}/services/{course}/formgrader/api/grades",
                               params={"submission_id": mine["id"]}).json()
        for grade in grades:
            if grade["auto_score"] is None:
                r = professor.put(f"{api}/grade/{grade['id']}", data=json.dumps({"manual_score": grade["max_score"]}))
                r.raise_for_status()
        subs = {s["student"]: s for s in professor.get(f"{api}/submissions/{aid}").json()}
        assert subs[l1]["score"] == pytest.approx(auto + manual)
        assert subs[l1]["needs_manual_grade"] is False

        for verb in ("generate_feedback", "release_feedback"):
            r = professor.post(f"{api}/assignment/{aid}/{verb}")
            r.raise_for_status()
            assert r.json()["success"], r.json()

        # The learner reads the feedback in one click from their home page (the exam service's page: their server
        # need not run), or fetches it with nbgrader's Assignment List: the same page, with their score per question.
        total = auto + manual
        page = s1.get(f"{hub.url}/services/tremplin-exam/feedback/{course}/{aid}")
        assert page.status_code == 200 and "connect-src 'none'" in page.headers["Content-Security-Policy"]
        listed = action(s1, server1, "fetch_feedback", course, aid)
        assert listed["success"], listed
        folder = s1.get(f"{server1}/api/contents/{course}/{aid}/feedback").json()
        (stamp,) = [item["name"] for item in folder["content"]]
        html = s1.get(f"{server1}/api/contents/{course}/{aid}/feedback/{stamp}/{nb[:-6]}.html",
                      params={"content": 1}).json()["content"]
        assert html == page.text
        assert f"Note / Score : <b>{total:g} /\n          {total:g}</b>" in html
        questions = [c for c in nbformat.read(source, as_version=4).cells
                     if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")]
        assert html.count("Vérification automatique / Automatic check") == len(questions)
        for gone in ("BEGIN HIDDEN", "Traceback", "Student's answer", "Test cell"):
            assert gone not in html[html.index("<body"):], (course, gone)  # (the page's CSS names Traceback)
        if course == "preselection-math":  # its checkers' words, in French and English
            assert html.count('<span lang="fr">') >= len(questions) and '<span lang="en">' in html
        else:
            assert html.count("Tous les tests de cette question sont réussis.") == len(questions)
            # learner2's: what the visible tests say, in both languages, and nothing their code printed or raised
            # under the hidden tests
            theirs = s2.get(f"{hub.url}/services/tremplin-exam/feedback/{course}/{aid}")
            assert theirs.status_code == 200
            assert '<span lang="fr">prix_ttc(1000) devrait valoir 1180</span><br/><span lang="en">should be 1180' \
                in theirs.text
            assert "Votre code a provoqué l'erreur ValueError" in theirs.text
            assert "Votre code a provoqué l'erreur NotImplementedError" in theirs.text
            assert theirs.text.count("Note / Score : 0 / 2") == len(questions)
            for gone in HIDDEN_INPUTS:
                assert gone not in theirs.text[theirs.text.index("<body"):], gone
            assert s2.get(f"{hub.url}/services/tremplin-exam/feedback/{course}/{aid}?notebook=x").status_code == 404
            # the page shows its caller's own feedback only: not to a professor, nor outside the learner's courses
            assert professor.get(f"{hub.url}/services/tremplin-exam/feedback/{course}/{aid}").status_code == 403
            assert s1.get(f"{hub.url}/services/tremplin-exam/feedback/preselection-physics/physics-2027"
                          ).status_code == 403


def test_learner_gets_403_on_another_course_formgrader(hub, learner1, professor):
    s1, _ = learner1
    r = s1.get(f"{formgrader(hub, 'preselection-physics')}/assignments", allow_redirects=False)
    assert r.status_code == 403
    # and on the formgrader of a course they take, which is for graders only
    r = s1.get(f"{formgrader(hub, 'python-intro')}/assignments", allow_redirects=False)
    assert r.status_code == 403
    # while the professor who teaches it gets in
    assert professor.get(f"{formgrader(hub, 'preselection-physics')}/assignments").status_code == 200


@pytest.mark.skipif(not is_root(), reason="system accounts exist only when the hub runs as root")
def test_learner_cannot_list_or_read_another_learners_home(hub, learner1, learner2):
    """Run as learner1's own system account, listing or reading learner2's home is refused by the kernel."""
    home2 = hub.data_dir / "home" / hub.names["learner2"]
    assert home2.is_dir() and oct(home2.stat().st_mode & 0o777) == "0o700"
    some_file = next(p for p in home2.rglob("*.ipynb"))
    for cmd in (["ls", str(home2)], ["cat", str(some_file)]):
        proc = subprocess.run(["runuser", "-u", hub.names["learner1"], "--", *cmd], capture_output=True, text=True)
        assert proc.returncode != 0 and "Permission denied" in proc.stderr, (cmd, proc.stdout, proc.stderr)
    # and learner1's server process really runs as learner1
    proc = subprocess.run(["pgrep", "-u", hub.names["learner1"], "-f", "tremplin-singleuser"], capture_output=True)
    assert proc.returncode == 0


def test_hub_and_servers_send_compressed_responses(hub, learner1):
    s1, server1 = learner1
    # (tornado leaves bodies under 1 KB uncompressed)
    for url in (f"{hub.url}/hub/login", f"{server1}/lab", f"{server1}/lab/api/settings"):
        r = s1.get(url, headers={"Accept-Encoding": "gzip"}, stream=True)
        assert r.status_code == 200, url
        assert r.headers.get("Content-Encoding") == "gzip", url


def test_coordinator_reads_users_but_cannot_change_them_and_learners_see_only_themselves(hub):
    coordinator = hub.user_session("coordinator")
    r = coordinator.get(f"{hub.api}/users")
    assert r.status_code == 200
    assert hub.names["learner1"] in {u["name"] for u in r.json()}
    assert coordinator.post(f"{hub.api}/users/t-new-user").status_code == 403
    assert coordinator.delete(f"{hub.api}/users/{hub.names['learner1']}").status_code == 403

    learner = hub.user_session("learner2")
    r = learner.get(f"{hub.api}/users")
    visible = {u["name"] for u in r.json()} if r.status_code == 200 else set()
    assert visible <= {hub.names["learner2"]}
    assert learner.get(f"{hub.api}/users/{hub.names['learner1']}").status_code == 404
    admissions = hub.user_session("admissions")
    assert admissions.get(f"{hub.api}/users/{hub.names['learner1']}").status_code == 404


def test_wrong_password_does_not_log_in_and_right_one_does(hub):
    import requests

    name = hub.names["learner2"]
    for password, expected in (("not-the-password", False), (hub.passwords[name], True)):
        s = requests.Session()
        s.get(f"{hub.url}/hub/login").raise_for_status()
        r = s.post(f"{hub.url}/hub/login", data={"username": name, "password": password,
                                                 "_xsrf": s.cookies.get("_xsrf")}, allow_redirects=False)
        logged_in = r.status_code == 302 and "jupyterhub-session-id" in s.cookies
        assert logged_in is expected, (password, r.status_code)


def test_formgrader_sends_compressed_responses(hub, professor):
    r = professor.get(f"{hub.url}/services/python-intro/formgrader/manage_assignments",
                      headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers.get("Content-Encoding") == "gzip"


def test_sync_pushes_a_new_enrolment_to_the_running_hub(hub):
    """A learner added to a course.toml is in the course's hub group and gradebook after one sync, no restart."""
    import sqlite3
    import subprocess

    from hubfixture import VENV_BIN

    newcomer = f"{hub.names['learner1'].split('-')[0]}-newcomer"
    toml = hub.courses_dir / "python-intro" / "course.toml"
    toml.write_text(toml.read_text().replace("learners = [", f'learners = ["{newcomer}", '))
    proc = subprocess.run([str(VENV_BIN / "tremplin"), "courses", "sync"], env=hub.env(), capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"groups pushed to the hub at {hub.api}" in proc.stdout
    group = hub.admin().get(f"{hub.api}/groups/nbgrader-python-intro").json()
    assert newcomer in group["users"]
    db = hub.data_dir / "courses" / "python-intro" / "gradebook.db"
    with sqlite3.connect(db) as conn:
        assert (newcomer,) in conn.execute("select id from student").fetchall()


def test_grader_tools_are_off_in_a_learners_own_server(hub, learner1):
    s1, server1 = learner1
    assert s1.get(f"{server1}/formgrader", allow_redirects=False).status_code == 404
    html = s1.get(f"{server1}/lab").text
    data = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                html, re.S).group(1))
    for plugin in ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                   "@jupyter/nbgrader:course-list"):
        assert plugin in data["disabledExtensions"] and plugin in data["lockedExtensions"], plugin
    assert "@jupyter/nbgrader:assignment-list" not in data["disabledExtensions"]
