"""The exam service against a real hub: identity from tokens, the service's clock, collection
at the deadline, late work kept and flagged, restarts that lose nothing, 403s.

Each test takes candidates of its own (hub users added to the physics exam's group, with
tokens of their own), so tests do not depend on each other. Short deadlines come from a
per-candidate window that a coordinator grants, and the exam's grace is set to 3 s by the
coordinator, so nothing waits more than a few seconds.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import time

import pytest
import requests

from hubfixture import VENV_BIN, service_pid

pytestmark = pytest.mark.hub

COURSE, EXAM = "preselection-physics", "physics-2027"
UTC = dt.timezone.utc


def b64(files: dict[str, bytes]) -> dict[str, str]:
    return {k: base64.b64encode(v).decode() for k, v in files.items()}


def unb64(files: dict[str, str]) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in files.items()}


class Candidate:
    """A hub user in the exam's group, with a token of their own (as their server has)."""

    def __init__(self, hub, tag: str, group: str = f"nbgrader-{COURSE}"):
        self.name = f"{hub.names['learner1'].split('-')[0]}-c{tag}-{secrets.token_hex(2)}"
        admin = hub.admin()
        assert admin.post(f"{hub.api}/users/{self.name}").status_code == 201
        assert admin.post(f"{hub.api}/groups/{group}/users", json={"users": [self.name]}).status_code == 200
        r = admin.post(f"{hub.api}/users/{self.name}/tokens", json={"note": "test", "expires_in": 3600})
        r.raise_for_status()
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {r.json()['token']}"
        self.base = f"{hub.url}/services/tremplin-exam/api/courses/{COURSE}/assignments/{EXAM}"

    def fetch(self, start=True):  # (start: as the start page, once the candidate confirmed)
        return self.http.post(f"{self.base}/fetch", json={"start": start})

    def snapshot(self, files, **extra):
        return self.http.post(f"{self.base}/snapshots/{self.name}", json={"files": b64(files), **extra})

    def submit(self, files, as_user=None, confirmed=True, **extra):  # (confirmed: as the hand-in button)
        return self.http.post(f"{self.base}/submissions/{as_user or self.name}",
                              json={"files": b64(files), "confirmed": confirmed, **extra})


@pytest.fixture(scope="module")
def coordinator(hub):
    s = hub.user_session("coordinator")
    base = f"{hub.url}/services/tremplin-exam/api/courses/{COURSE}/assignments/{EXAM}"
    session = s.get(f"{base}/session")
    assert session.status_code == 200, session.text
    # Keep the course's window and duration; a 3 s grace keeps the waits below short.
    r = s.put(f"{base}/session", json={**session.json(), "grace_minutes": 0.05})
    assert r.status_code == 200, r.text
    return s, base


def short_window(coordinator, candidate, seconds: float):
    """A window for ``candidate`` alone that closes ``seconds`` from now (the service's accommodation)."""
    s, base = coordinator
    now = dt.datetime.now(UTC)
    r = s.post(f"{base}/accommodations", json={
        "user": candidate.name, "opens": (now - dt.timedelta(hours=1)).isoformat(),
        "closes": (now + dt.timedelta(seconds=seconds)).isoformat(), "reason": "test: short window"})
    assert r.status_code == 201, r.text
    return now + dt.timedelta(seconds=seconds)


def notebook(text: str) -> bytes:
    return json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": text}], "metadata": {},
                       "nbformat": 4, "nbformat_minor": 5}).encode()


def candidates_table(coordinator) -> dict[str, dict]:
    s, base = coordinator
    r = s.get(f"{base}/candidates")
    r.raise_for_status()
    return {row["user"]: row for row in r.json()["candidates"]}


def test_on_time_submission_gets_a_receipt_stamped_by_the_service_and_a_forged_timestamp_is_ignored(hub, coordinator):
    cand = Candidate(hub, "ontime")
    r = cand.fetch()
    assert r.status_code == 200, r.text
    assert r.json()["status"]["state"] == "running"
    files = unb64(r.json()["files"])
    assert "physics-2027.ipynb" in files and b"draw(" not in files["physics-2027.ipynb"], "not personalized"
    forged = "2020-01-01 00:00:00.000000 UTC"
    before = dt.datetime.now(UTC)
    r = cand.submit({"physics-2027.ipynb": files["physics-2027.ipynb"], "timestamp.txt": forged.encode()},
                    timestamp="2020-01-01T00:00:00Z")
    after = dt.datetime.now(UTC)
    assert r.status_code == 201, r.text
    record = r.json()
    server_time = dt.datetime.fromisoformat(record["server_time"])
    assert before - dt.timedelta(seconds=1) <= server_time <= after + dt.timedelta(seconds=1)
    assert record["state"] == "on_time" and len(record["receipt"]["chain"]) == 64
    assert record["receipt"]["candidate"] == cand.name and record["receipt"]["kind"] == "submission"

    # The professor collects through the formgrader: the submission's timestamp is the service's.
    professor = hub.user_session("professor")
    r = professor.post(f"{hub.url}/services/{COURSE}/formgrader/api/assignment/{EXAM}/collect")
    assert r.status_code == 200 and r.json()["success"], r.text
    stamp = hub.data_dir / "courses" / COURSE / "submitted" / cand.name / EXAM / "timestamp.txt"
    assert stamp.read_text() == record["timestamp"] != forged

    # The candidate's chain verifies, online and from a downloaded copy, and their receipt is in it.
    chain = cand.http.get(f"{cand.base}/receipts/{cand.name}").json()
    assert chain[-1] == record["receipt"]
    work = hub.base / f"receipts-{cand.name}"
    work.mkdir()
    (work / "chain.json").write_text(json.dumps(chain))
    (work / "kept.json").write_text(json.dumps(record["receipt"]))
    for argv in (["receipt", "verify", f"{COURSE}/{EXAM}", "--candidate", cand.name, "--receipt",
                  str(work / "kept.json")],
                 ["receipt", "verify", "--chain", str(work / "chain.json"), "--receipt", str(work / "kept.json")]):
        proc = subprocess.run([str(VENV_BIN / "tremplin"), *argv], env=hub.env(), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "kept.json: submission of" in proc.stdout
    # A receipt with a changed time is not one of the service's links.
    forged_receipt = {**record["receipt"], "server_time": "2020-01-01T00:00:00.000000+00:00"}
    (work / "forged.json").write_text(json.dumps(forged_receipt))
    proc = subprocess.run([str(VENV_BIN / "tremplin"), "receipt", "verify", f"{COURSE}/{EXAM}", "--candidate",
                           cand.name, "--receipt", str(work / "forged.json")], env=hub.env(), capture_output=True, text=True)
    assert proc.returncode == 1 and "is not in the service's chain" in proc.stderr


def test_an_exam_takes_one_submission(hub, coordinator):
    cand = Candidate(hub, "once")
    assert cand.fetch().status_code == 200
    assert cand.submit({"a.ipynb": notebook("one")}).status_code == 201
    r = cand.submit({"a.ipynb": notebook("two")})
    assert r.status_code == 409 and "one attempt" in r.json()["message"]


def test_submitting_as_another_candidate_is_refused(hub, coordinator):
    alice, bob = Candidate(hub, "alice"), Candidate(hub, "bob")
    for c in (alice, bob):
        assert c.fetch().status_code == 200
    r = alice.submit({"a.ipynb": notebook("not mine")}, as_user=bob.name)
    assert r.status_code == 403 and f"cannot act as {bob.name}" in r.json()["message"]
    r = alice.http.post(f"{alice.base}/snapshots/{bob.name}", json={"files": b64({"a.ipynb": b"x"})})
    assert r.status_code == 403
    r = alice.submit({"a.ipynb": notebook("mine")}, student=bob.name)
    assert r.status_code == 403
    assert alice.http.get(f"{alice.base}/receipts/{bob.name}").status_code == 403
    assert alice.http.get(f"{alice.base}/candidates").status_code == 403
    assert alice.http.get(f"{alice.base}/audit").status_code == 403
    # Nothing was recorded for bob.
    assert candidates_table(coordinator)[bob.name]["submitted"] is None


def test_only_a_true_start_or_confirmation_counts_and_nobody_starts_anothers_exam(hub, coordinator):
    """The candidate sends any bytes: "yes", 1 or a list neither start their time nor hand in; the start page
    starts only its caller's exam, and refuses someone outside the exam."""
    cand, other = Candidate(hub, "truthy"), Candidate(hub, "bystander")
    for value in ("yes", 1, [True], {"a": 1}, None):
        r = cand.fetch(start=value)
        assert r.status_code == 409 and "this fetch started nothing" in r.json()["message"], r.text
    assert candidates_table(coordinator)[cand.name]["started"] is None
    assert cand.fetch().status_code == 200
    for value in ("yes", 1, [True], None):
        r = cand.submit({"a.ipynb": notebook("x")}, confirmed=value)
        assert r.status_code == 409 and "nothing was handed in" in r.json()["message"], r.text
    assert candidates_table(coordinator)[cand.name]["final_kind"] is None
    # The start page (a token counts as the page's form would): it starts the caller's own exam, nobody else's.
    start = f"{hub.url}/services/tremplin-exam/start/{COURSE}/{EXAM}"
    r = cand.http.post(start, params={"user": other.name}, data={"user": other.name}, allow_redirects=False)
    assert r.status_code == 302
    assert candidates_table(coordinator)[other.name]["started"] is None
    outsider = Candidate(hub, "startout", group="nbgrader-preselection-math")
    for r in (outsider.http.get(start, allow_redirects=False), outsider.http.post(start, allow_redirects=False)):
        assert r.status_code == 403, r.text
    assert outsider.name not in candidates_table(coordinator)


def test_a_learner_of_another_course_gets_403(hub, coordinator):
    outsider = Candidate(hub, "outsider", group="nbgrader-preselection-math")
    for r in (outsider.fetch(), outsider.submit({"a.ipynb": notebook("x")}),
              outsider.http.get(f"{hub.url}/services/tremplin-exam/api/courses/{COURSE}/assignments"),
              outsider.http.get(f"{outsider.base}/session")):
        assert r.status_code == 403, r.text
    # and with no token at all
    assert requests.post(f"{outsider.base}/fetch").status_code == 403


def test_work_is_collected_automatically_at_the_deadline(hub, coordinator):
    cand = Candidate(hub, "collected")
    closes = short_window(coordinator, cand, 4)
    assert cand.fetch().status_code == 200
    r = cand.snapshot({"physics-2027.ipynb": notebook("autosaved answer")})
    assert r.status_code == 201, r.text
    # deadline (4 s) + grace (3 s) + one collection pass (5 s)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = candidates_table(coordinator)[cand.name]
        if row["submitted"]:
            break
        time.sleep(1)
    assert row["final_kind"] == "collection", row
    assert dt.datetime.fromisoformat(row["submitted"]) >= closes + dt.timedelta(seconds=3)
    s, base = coordinator
    professor = hub.user_session("professor")
    records = {x["user"]: x for x in professor.get(f"{base}/submissions").json()}
    got = professor.get(f"{base}/submissions/{cand.name}/{records[cand.name]['id']}").json()
    assert unb64(got["files"]) == {"physics-2027.ipynb": notebook("autosaved answer")}
    # After the end, autosaves are refused and the candidate's countdown says why.
    r = cand.snapshot({"physics-2027.ipynb": notebook("too late")})
    assert r.status_code == 409 and "already handed in" in r.json()["message"]
    mine = cand.http.get(f"{hub.url}/services/tremplin-exam/api/exams/mine").json()["exams"]
    (exam,) = [e for e in mine if e["assignment"] == EXAM]
    assert exam["state"] == "submitted" and "automatiquement" in exam["closed_reason"]["fr"]


def test_a_late_submission_is_kept_and_flagged(hub, coordinator):
    cand = Candidate(hub, "late")
    closes = short_window(coordinator, cand, 2)
    assert cand.fetch().status_code == 200
    time.sleep(max(0.0, (closes - dt.datetime.now(UTC)).total_seconds()) + 4)  # past deadline + 3 s grace
    r = cand.submit({"physics-2027.ipynb": notebook("late work")})
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "late" and r.json()["seconds_late"] >= 3
    s, base = coordinator
    everything = s.get(f"{base}/submissions", params={"all": 1})
    assert everything.status_code == 403  # coordinators follow the session; graders collect
    professor = hub.user_session("professor")
    kept = [x for x in professor.get(f"{base}/submissions", params={"all": 1}).json() if x["user"] == cand.name]
    assert any(x["kind"] == "submission" and x["state"] == "late" for x in kept)
    row = candidates_table(coordinator)[cand.name]
    assert row["late"] is True and row["seconds_late"] >= 3


def test_extra_time_for_one_candidate_shows_in_their_deadline_only(hub, coordinator):
    a, b = Candidate(hub, "std"), Candidate(hub, "extra")
    s, base = coordinator
    r = s.post(f"{base}/accommodations", json={"user": b.name, "extra_minutes": 30, "reason": "tiers-temps"})
    assert r.status_code == 201, r.text
    da = dt.datetime.fromisoformat(a.fetch().json()["status"]["deadline"])
    db = dt.datetime.fromisoformat(b.fetch().json()["status"]["deadline"])
    assert 29 * 60 <= (db - da).total_seconds() <= 31 * 60
    log = s.get(f"{base}/audit")
    assert log.status_code == 200
    grants = [json.loads(line) for line in log.text.splitlines() if '"accommodation"' in line]
    assert any(g["candidate"] == b.name and g["actor"] == hub.names["coordinator"] for g in grants)


def exam_service_pid(hub) -> int:
    pid = service_pid(hub, "tremplin-exam")
    assert pid is not None, "the exam service process was not found"
    return pid


def test_restarting_the_service_mid_exam_loses_no_snapshot_or_submission(hub, coordinator):
    cand = Candidate(hub, "restart")
    assert cand.fetch().status_code == 200
    sent = []
    for i in range(3):
        sent.append(cand.snapshot({"physics-2027.ipynb": notebook(f"draft {i}")}).json())
        time.sleep(2.1)  # (autosaves closer than 2 s are refused)
    old = exam_service_pid(hub)
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 90  # the hub notices (poll) and starts it again
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{hub.url}/services/tremplin-exam/api/health", timeout=2).status_code == 200 \
                    and exam_service_pid(hub) != old:
                break
        except (requests.RequestException, AssertionError):
            pass
        time.sleep(1)
    else:
        raise AssertionError(f"the exam service did not come back:\n{hub.log_tail()}")
    r = cand.snapshot({"physics-2027.ipynb": notebook("draft 3")})
    assert r.status_code == 201, r.text
    assert r.json()["receipt"]["previous"] == sent[-1]["receipt"]["chain"]
    r = cand.submit({"physics-2027.ipynb": notebook("final")})
    assert r.status_code == 201
    chain = cand.http.get(f"{cand.base}/receipts/{cand.name}").json()
    assert [c["kind"] for c in chain] == ["snapshot"] * 4 + ["submission"]
    assert [c["chain"] for c in chain[:3]] == [s["receipt"]["chain"] for s in sent]
    proc = subprocess.run([str(VENV_BIN / "tremplin"), "receipt", "verify", f"{COURSE}/{EXAM}", "--candidate",
                           cand.name], env=hub.env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "5 receipt(s) chained, stored files intact" in proc.stdout


# ---- hostile input (issue 10): what crosses the wire is checked where it enters ----------------
def test_names_are_checked_after_url_decoding_and_feedback_only_names_a_hand_in(hub, coordinator):
    cand = Candidate(hub, "wire")
    assert cand.fetch().status_code == 200
    record = cand.submit({"a.ipynb": notebook("mine")}).json()
    professor = hub.user_session("professor")
    html = b64({"a.html": b"<p>ok</p>"})
    r = professor.post(f"{cand.base}/feedback/..%2F..%2F..%2F..%2F..%2Fplanted",
                       json={"timestamp": record["timestamp"], "files": html})
    assert r.status_code == 400 and "not a hub account name" in r.json()["message"], r.text
    r = cand.http.post(f"{cand.base}/snapshots/{cand.name}%2F..%2F..%2Fx", json={"files": b64({"a.ipynb": b"{}"})})
    assert r.status_code == 400, r.text
    r = professor.post(f"{cand.base}/feedback/{cand.name}",
                       json={"timestamp": "../../../.ipython/profile_default/startup", "files": html})
    assert r.status_code == 404 and "no hand-in of theirs" in r.json()["message"], r.text
    assert not list(hub.base.rglob("planted*")) and not list(hub.base.rglob("startup/a.html"))
    r = professor.post(f"{cand.base}/feedback/{cand.name}", json={"timestamp": record["timestamp"], "files": html})
    assert r.status_code == 201, r.text
    got = cand.http.get(f"{cand.base}/feedback/{cand.name}").json()
    assert [f["timestamp"] for f in got] == [record["timestamp"]] and unb64(got[0]["files"]) == {"a.html": b"<p>ok</p>"}


def test_numbers_that_are_not_finite_or_sensible_are_refused_and_the_session_keeps_working(hub, coordinator):
    s, base = coordinator
    cand = Candidate(hub, "numbers")
    assert cand.fetch().status_code == 200
    for value in ("nan", "inf", "1e400", 1e12, -5):
        r = s.post(f"{base}/accommodations", json={"user": cand.name, "extra_minutes": value})
        assert r.status_code == 400 and "extra_minutes" in r.json()["message"], (value, r.text)
    r = s.post(f"{base}/accommodations", data=f'{{"user": "{cand.name}", "extra_minutes": NaN}}',
               headers={"Content-Type": "application/json"})  # JSON as Python writes it: a bare NaN
    assert r.status_code == 400, r.text
    session = s.get(f"{base}/session").json()
    for field, value in (("duration_minutes", "NaN"), ("grace_minutes", "Infinity"), ("duration_minutes", 1e12)):
        r = s.put(f"{base}/session", json={**session, field: value})
        assert r.status_code == 400 and field in r.json()["message"], (field, value, r.text)
    assert s.get(f"{base}/session").json() == session
    assert candidates_table(coordinator)[cand.name]["state"] == "running"
    assert not [a for a in s.get(f"{base}/accommodations").json() if a["target"] == cand.name]


def test_a_token_the_hub_refuses_does_not_lift_the_xsrf_check_of_a_cookie(hub, coordinator):
    """A forged cross-site form cannot add ``Authorization: token <anything>`` and ride the coordinator's cookie."""
    browser = hub.login("coordinator")
    page = browser.get(f"{hub.url}/services/tremplin-exam/")  # the hub's OAuth gives the service's cookie
    assert page.status_code == 200 and "Exam sessions" in page.text, page.text[:300]
    cand = Candidate(hub, "xsrf")
    url = f"{cand.base}/accommodations"
    grant = {"user": cand.name, "extra_minutes": 30, "reason": "forged"}
    assert browser.post(url, json=grant).status_code == 403
    for header in ("token not-a-token", "Bearer not-a-token", "token "):
        r = browser.post(url, json=grant, headers={"Authorization": header})
        assert r.status_code == 403, (header, r.status_code, r.text)
    s, base = coordinator
    assert not [a for a in s.get(f"{base}/accommodations").json() if a["target"] == cand.name]
    assert s.post(url, json={**grant, "reason": "real"}).status_code == 201  # a valid token needs no _xsrf


def test_a_body_over_the_limit_is_refused_before_it_is_read_and_files_are_counted(hub, coordinator):
    """A declared 50 MB body gets its 413 at once, before one byte of it is sent; 501 files are refused."""
    import http.client
    from urllib.parse import urlsplit

    cand = Candidate(hub, "bounded")
    assert cand.fetch().status_code == 200
    url = urlsplit(f"{cand.base}/snapshots/{cand.name}")
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.putrequest("POST", url.path)
        conn.putheader("Authorization", cand.http.headers["Authorization"])
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(50 * 1024 * 1024))
        conn.endheaders()
        conn.send(b'{"files": {"a.ipynb": "')  # and nothing more: the answer must not wait for the rest
        r = conn.getresponse()
        assert r.status == 413 and "limit" in json.loads(r.read())["message"]
    finally:
        conn.close()
    r = cand.snapshot({f"f{i}.txt": b"" for i in range(501)})
    assert r.status_code == 413 and "501 files" in r.json()["message"], r.text
    r = cand.snapshot({"../escape.txt": b"x"})
    assert r.status_code == 400 and "not a plain relative path" in r.json()["message"], r.text
    assert cand.snapshot({"a.ipynb": notebook("still saving")}).status_code == 201
    assert candidates_table(coordinator)[cand.name]["snapshots"] == 1


def test_a_stalled_hub_stops_neither_the_service_nor_a_candidate_it_knows(hub, coordinator):
    """The hub frozen for 6 s (as when 50 servers start at once): health answers at once, a known candidate's
    autosave is kept (token and groups from a moment ago), and a newcomer waits without blocking anyone."""
    import threading

    known = Candidate(hub, "known")
    assert known.fetch().status_code == 200  # the service now knows their token and their groups
    newcomer = Candidate(hub, "newcomer")
    health = f"{hub.url}/services/tremplin-exam/api/health"
    got = {}
    waiting = threading.Thread(target=lambda: got.update(newcomer=newcomer.fetch()))
    os.kill(hub.proc.pid, signal.SIGSTOP)
    try:
        waiting.start()
        time.sleep(0.5)  # the newcomer's token is now being checked with the frozen hub
        started = time.monotonic()
        got["health"] = requests.get(health, timeout=20).status_code
        got["health_seconds"] = time.monotonic() - started
        got["known"] = known.snapshot({"a.ipynb": notebook("saved while the hub is frozen")}).status_code
        time.sleep(max(0.0, 6 - (time.monotonic() - started)))
    finally:
        os.kill(hub.proc.pid, signal.SIGCONT)
    waiting.join(60)
    assert got["health"] == 200 and got["health_seconds"] < 2, got
    assert got["known"] == 201, got
    assert got["newcomer"].status_code == 200, got["newcomer"].text


def test_the_home_page_shows_the_window_a_coordinator_set_read_from_the_service(hub, coordinator):
    """The hub's home page once opened the exam database itself, on the hub's event loop; it now asks the
    service's API in the background (with the sync token) and shows the window a coordinator set."""
    s, base = coordinator
    before = s.get(f"{base}/session").json()
    closes = dt.datetime.fromisoformat(before["closes"]) + dt.timedelta(days=1, minutes=7)
    r = s.put(f"{base}/session", json={**before, "closes": closes.isoformat()})
    assert r.status_code == 200, r.text
    try:
        windows = s.get(f"{hub.url}/services/tremplin-exam/api/sessions")
        assert windows.status_code == 200 and {"course": COURSE, "assignment": EXAM, "opens": before["opens"],
                                                "closes": closes.isoformat()} in windows.json()
        browser = hub.login("learner2")  # (a learner of the physics pre-selection)
        want = closes.astimezone(UTC).isoformat().replace("+00:00", "Z")
        deadline = time.monotonic() + 60
        while f'datetime="{want}"' not in browser.get(f"{hub.url}/hub/home").text:
            assert time.monotonic() < deadline, "the home page never showed the coordinator's window"
            time.sleep(2)
    finally:
        assert s.put(f"{base}/session", json=before).status_code == 200
