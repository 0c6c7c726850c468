"""The exam service's core with an injected clock: fetch starts the time, autosaves, one attempt,
late submissions kept and flagged, collection at the deadline, accommodations, restarts, receipts.

Every test runs twice: on SQLite (the default) and on a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import nbformat
import pytest

from tremplin_grading.variants import load_key, personalize, variant_seed
from tremplin_hub.exam import errors, receipts
from tremplin_hub.exam.core import ExamService, nbgrader_timestamp
from tremplin_hub.exam.store import Store, check_relative, verify_audit
from tremplin_hub.layout import Layout

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from test_variants_in_nbgrader import source_notebook  # noqa: E402

UTC = dt.timezone.utc
TOML = '''id = "algebra-101"
kind = "exam"
instructors = ["professor"]
learners = ["cand-a", "cand-b"]
[title]
fr = "Algèbre"
en = "Algebra"
[description]
fr = "Test."
en = "Test."
[[assignments]]
id = "exam"
opens = 2027-01-10T08:00:00Z
due = 2027-01-10T20:00:00Z
duration_minutes = 60
grace_minutes = 2
[assignments.title]
fr = "Épreuve"
en = "Exam"
'''
MOOC = TOML.replace('id = "algebra-101"', 'id = "intro-101"').replace('kind = "exam"', 'kind = "mooc"') \
    .replace('id = "exam"', 'id = "week-1"')
GROUPS = {"nbgrader-algebra-101"}


def at(hour, minute=0, second=0):
    return dt.datetime(2027, 1, 10, hour, minute, second, tzinfo=UTC)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'exam.sqlite'}"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
def env(tmp_path, db_url):
    for toml in (TOML, MOOC):
        cid = toml.split('"')[1]
        aid = "exam" if "exam" in toml.split("[[assignments]]")[1].split("\n")[1] else "week-1"
        folder = tmp_path / "courses" / cid
        (folder / "source" / aid).mkdir(parents=True)
        (folder / "course.toml").write_text(toml)
        nbformat.write(source_notebook(), folder / "source" / aid / f"{aid}.ipynb")
    layout = Layout(tmp_path / "data")
    layout.course_dir("algebra-101").mkdir(parents=True)
    load_key(layout.course_dir("algebra-101"), create=True)
    clock = Clock(at(7))
    store = Store(db_url, tmp_path / "files")
    service = ExamService(store, tmp_path / "courses", layout.course_dir, now=clock)
    release = {"exam.ipynb": json.dumps(source_notebook()).encode(), "data.csv": b"x,y\n1,2\n"}
    service.release("algebra-101", "exam", release, "service:algebra-101")
    service.release("intro-101", "week-1", {"week-1.ipynb": b"{}"}, "service:intro-101")
    yield service, clock, layout, tmp_path
    service.store.close()


def work(text: str) -> dict[str, bytes]:
    return {"exam.ipynb": text.encode(), "data.csv": b"x,y\n1,2\n"}


def test_fetch_before_the_window_is_refused_with_the_opening_time(env):
    service, clock, *_ = env
    with pytest.raises(errors.Conflict) as err:
        service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    assert "opens at 2027-01-10T08:00:00+00:00" in err.value.message


def test_fetch_starts_the_time_and_hands_out_a_personal_copy(env):
    service, clock, layout, _ = env
    clock.now = at(9)
    got = service.fetch("algebra-101", "exam", "cand-a", GROUPS, ip="10.0.0.1", start=True)
    assert got["status"].state == "running" and got["status"].deadline == at(10)
    nb = json.loads(got["files"]["exam.ipynb"])
    seed = variant_seed(load_key(layout.course_dir("algebra-101")), "algebra-101/exam", "cand-a")
    expected = personalize(source_notebook(), seed)
    assert nb["cells"][0]["source"] == expected["cells"][0]["source"] and "Params(" in nb["cells"][0]["source"]
    assert "draw(" not in json.dumps(nb)
    assert got["files"]["data.csv"] == b"x,y\n1,2\n"
    # A second fetch (another PC) gives the same copy back and does not restart the time.
    clock.now = at(9, 30)
    again = service.fetch("algebra-101", "exam", "cand-a", GROUPS, ip="10.0.0.2", start=True)
    assert again["files"] == got["files"] and again["status"].deadline == at(10)
    events = [(e["event"], e["ip"]) for e in service.store.audit_log("algebra-101", "exam")]
    assert ("fetch", "10.0.0.1") in events and ("ip_change", "10.0.0.2") in events


def test_a_fetch_without_start_starts_nothing_and_says_where_to_start(env):
    """nbgrader's Fetch button and command line send no ``start``: the time starts only from the start page."""
    service, clock, *_ = env
    clock.now = at(9)
    with pytest.raises(errors.Conflict) as err:
        service.fetch("algebra-101", "exam", "cand-a", GROUPS)
    assert "timed exam of 60 minutes" in err.value.message and "this fetch started nothing" in err.value.message
    assert "épreuve chronométrée de 60 minutes" in err.value.fr and "home page" in err.value.message
    assert service.store.attempt("algebra-101", "exam", "cand-a") is None
    assert service.state("algebra-101", "exam", "cand-a", GROUPS).state == "open"
    # once started, a fetch (another PC, a lost folder) needs no start; a MOOC's never does
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    assert service.fetch("algebra-101", "exam", "cand-a", GROUPS)["status"].state == "running"
    assert service.fetch("intro-101", "week-1", "cand-a", {"nbgrader-intro-101"})["files"]


def test_the_start_page_says_how_long_the_candidate_has_and_until_when(env):
    service, clock, *_ = env
    clock.now = at(7)
    view = service.start_view("algebra-101", "exam", "cand-a", GROUPS)
    assert view["state"] == "not_open" and view["opens"] == at(8).isoformat() and view["released"]
    assert "ends" not in view
    clock.now = at(9)
    view = service.start_view("algebra-101", "exam", "cand-a", GROUPS)
    assert (view["state"], view["minutes"], view["extra_minutes"]) == ("open", 60, 0)
    assert view["ends"] == at(10).isoformat() and view["cut_by_window"] is False
    assert view["title"] == {"fr": "Épreuve", "en": "Exam"}
    # extra time is counted in; late in the window the window cuts the time, and the page says so
    service.grant("algebra-101", "exam", "user", "cand-b", "coordinator", extra_minutes=15)
    clock.now = at(19, 30)
    view = service.start_view("algebra-101", "exam", "cand-b", GROUPS)
    assert (view["minutes"], view["extra_minutes"]) == (75, 15)
    assert view["cut_by_window"] is True and view["ends"] == at(20, 15).isoformat()
    assert view["minutes_if_started_now"] == 45
    clock.now = at(21)
    assert service.start_view("algebra-101", "exam", "cand-a", GROUPS)["state"] == "closed"


def test_an_exam_hand_in_must_be_confirmed_and_an_unconfirmed_one_keeps_nothing(env):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    with pytest.raises(errors.Conflict) as err:
        service.submit("algebra-101", "exam", "cand-a", GROUPS, work("final"))
    assert "Rendre ma copie / Hand in" in err.value.message and "nothing was handed in" in err.value.message
    assert "rien n'a été remis" in err.value.fr
    assert service.store.final("algebra-101", "exam", "cand-a") is None
    assert service.state("algebra-101", "exam", "cand-a", GROUPS).state == "running"
    service.submit("algebra-101", "exam", "cand-a", GROUPS, work("final"), confirmed=True)
    assert service.state("algebra-101", "exam", "cand-a", GROUPS).state == "submitted"


def test_lost_folder_is_restored_from_the_latest_autosave(env):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    clock.now = at(9, 20)
    service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work("draft 2"))
    got = service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    assert got["files"]["exam.ipynb"] == b"draft 2"


def test_submission_on_time_gets_a_chained_receipt_and_ignores_the_claimed_time(env):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    clock.now = at(9, 10)
    snap = service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work("draft"))
    clock.now = at(9, 50)
    sub = service.submit("algebra-101", "exam", "cand-a", GROUPS, work("final"), claimed_time="2027-01-10T08:00:00Z",
                         confirmed=True)
    assert sub.state == "on_time" and sub.server_time == at(9, 50)
    assert sub.receipt.previous == snap.receipt.chain
    assert sub.receipt.files["exam.ipynb"] == receipts.sha256(b"final")
    assert receipts.verify_chain([snap.receipt, sub.receipt]) == []
    entry = [e for e in service.store.audit_log("algebra-101", "exam") if e["event"] == "submission"][0]
    assert json.loads(entry["detail"])["claimed_time_ignored"] == "2027-01-10T08:00:00Z"


def test_an_exam_allows_one_submission(env):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    service.submit("algebra-101", "exam", "cand-a", GROUPS, work("one"), confirmed=True)
    with pytest.raises(errors.Conflict) as err:
        service.submit("algebra-101", "exam", "cand-a", GROUPS, work("two"), confirmed=True)
    assert "one attempt" in err.value.message


def test_mooc_assignments_take_unlimited_resubmissions_and_the_latest_counts(env):
    service, clock, *_ = env
    clock.now = at(9)
    groups = {"nbgrader-intro-101"}
    service.fetch("intro-101", "week-1", "cand-a", groups)
    for text in ("one", "two", "three"):
        service.submit("intro-101", "week-1", "cand-a", groups, {"week-1.ipynb": text.encode()})
    (final,) = service.final_records("intro-101", "week-1")
    assert service.store.read_folder(final.folder) == {"week-1.ipynb": b"three"}
    assert len(service.store.records("intro-101", "week-1", "cand-a")) == 3


@pytest.mark.parametrize("minute,state,late", [(50, "on_time", 0), (61, "in_grace", 60), (75, "late", 15 * 60)])
def test_submission_time_is_classified_by_the_service_clock(env, minute, state, late):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    clock.now = at(9) + dt.timedelta(minutes=minute)
    sub = service.submit("algebra-101", "exam", "cand-a", GROUPS, work("x"), confirmed=True)
    assert (sub.state, sub.seconds_late) == (state, late)


def test_collection_at_the_deadline_hands_in_the_latest_autosave_then_late_work_is_kept_and_flagged(env):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    service.fetch("algebra-101", "exam", "cand-b", {"nbgrader-algebra-101"}, start=True)
    clock.now = at(9, 30)
    service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work("half done"))
    clock.now = at(10, 1)  # deadline passed, still in grace: nothing collected yet
    assert service.collect_due() == []
    clock.now = at(10, 2)
    collected = {r.user: r for r in service.collect_due()}
    assert set(collected) == {"cand-a", "cand-b"}
    assert service.store.read_folder(collected["cand-a"].folder)["exam.ipynb"] == b"half done"
    # cand-b never saved: the copy handed out is collected, so graders see an empty paper
    assert b"draw" not in service.store.read_folder(collected["cand-b"].folder)["exam.ipynb"]
    assert service.collect_due() == []  # once
    with pytest.raises(errors.Conflict):  # no autosave after the end
        service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work("more"))
    clock.now = at(10, 30)
    late = service.submit("algebra-101", "exam", "cand-a", GROUPS, work("after the end"), confirmed=True)
    assert late.state == "late" and late.seconds_late == 30 * 60
    assert service.final_records("algebra-101", "exam")[0].kind == "collection"
    assert [r.kind for r in service.store.records("algebra-101", "exam", "cand-a")] == \
        ["snapshot", "collection", "submission"]


def test_extra_time_for_one_candidate_only(env):
    service, clock, *_ = env
    service.grant("algebra-101", "exam", "user", "cand-b", "coordinator", extra_minutes=20, reason="medical")
    clock.now = at(9)
    for user in ("cand-a", "cand-b"):
        service.fetch("algebra-101", "exam", user, GROUPS, start=True)
    clock.now = at(10, 10)
    assert service.state("algebra-101", "exam", "cand-a", GROUPS).state == "ended"
    b = service.state("algebra-101", "exam", "cand-b", GROUPS)
    assert b.state == "running" and b.deadline == at(10, 20) and b.seconds_left == 600
    assert {r.user for r in service.collect_due()} == {"cand-a"}
    rows = {r["user"]: r for r in service.candidates("algebra-101", "exam", lambda group: set())}
    assert rows["cand-b"]["accommodation"]["granted_by"] == "coordinator"
    # time left is shown while the candidate's time runs, not after (it kept counting once handed in)
    assert rows["cand-b"]["seconds_left"] == 600 and rows["cand-a"]["seconds_left"] is None
    service.submit("algebra-101", "exam", "cand-b", GROUPS, work("done"), confirmed=True)
    rows = {r["user"]: r for r in service.candidates("algebra-101", "exam", lambda group: set())}
    assert rows["cand-b"]["state"] == "submitted" and rows["cand-b"]["seconds_left"] is None
    grant = [e for e in service.store.audit_log("algebra-101", "exam") if e["event"] == "accommodation"]
    assert grant[0]["actor"] == "coordinator" and grant[0]["candidate"] == "cand-b"


def test_group_accommodation_applies_to_its_members_and_a_personal_one_wins(env):
    service, clock, *_ = env
    service.grant("algebra-101", "exam", "group", "tiers-temps", "coordinator", time_factor=1.5)
    service.grant("algebra-101", "exam", "user", "cand-b", "coordinator", extra_minutes=5)
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS | {"tiers-temps"}, start=True)
    service.fetch("algebra-101", "exam", "cand-b", GROUPS | {"tiers-temps"}, start=True)
    assert service.state("algebra-101", "exam", "cand-a", GROUPS | {"tiers-temps"}).deadline == at(10, 30)
    assert service.state("algebra-101", "exam", "cand-b", GROUPS | {"tiers-temps"}).deadline == at(10, 5)
    # the coordinator's table: each group's members are asked of the hub once
    asked = []
    rows = {r["user"]: r for r in service.candidates(
        "algebra-101", "exam", lambda group: asked.append(group) or {"cand-a", "cand-b"})}
    assert asked == ["nbgrader-algebra-101", "tiers-temps"]  # (the course's group, then the granted one)
    assert (rows["cand-a"]["deadline"], rows["cand-b"]["deadline"]) == (at(10, 30).isoformat(), at(10, 5).isoformat())
    assert rows["cand-a"]["accommodation"]["time_factor"] == 1.5


def test_coordinator_moves_the_window_and_bad_settings_are_refused_with_the_fix(env):
    service, clock, *_ = env
    service.set_session("algebra-101", "exam", at(12), at(14), 30, 1, "coordinator")
    clock.now = at(9)
    with pytest.raises(errors.Conflict):
        service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    clock.now = at(13, 50)
    st = service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)["status"]
    assert st.deadline == at(14)  # a late start leaves less time: the window closes at 14:00
    with pytest.raises(errors.Invalid) as err:
        service.set_session("algebra-101", "exam", at(14), at(12), 30, 1, "coordinator")
    assert "closes" in err.value.message


def test_a_restarted_service_loses_nothing_and_the_chain_still_verifies(env, db_url):
    service, clock, layout, tmp = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    for minute in (5, 10, 15):
        clock.now = at(9, minute)
        service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work(f"draft {minute}"))
    service.store.close()
    store = Store(db_url, tmp / "files")
    again = ExamService(store, tmp / "courses", layout.course_dir, now=clock)
    clock.now = at(9, 20)
    again.submit("algebra-101", "exam", "cand-a", GROUPS, work("final"), confirmed=True)
    recs = store.records("algebra-101", "exam", "cand-a")
    assert [r.kind for r in recs] == ["snapshot"] * 3 + ["submission"]
    try:
        assert receipts.verify_chain([r.receipt for r in recs], [store.read_folder(r.folder) for r in recs]) == []
        assert verify_audit(store.audit_log("algebra-101", "exam")) == []
    finally:
        store.close()


def test_a_changed_stored_file_or_audit_entry_is_detected(env):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    sub = service.submit("algebra-101", "exam", "cand-a", GROUPS, work("final"), confirmed=True)
    (service.store.files_root / sub.folder / "exam.ipynb").write_bytes(b"edited")
    recs = service.store.records("algebra-101", "exam", "cand-a")
    problems = receipts.verify_chain([r.receipt for r in recs], [service.store.read_folder(r.folder) for r in recs])
    assert problems and "exam.ipynb" in problems[0].problem
    log = service.store.audit_log("algebra-101", "exam")
    log[1]["actor"] = "someone-else"
    assert verify_audit(log) and "edited" in verify_audit(log)[0]
    assert "removed" in verify_audit(log[:1] + log[2:])[0]


def test_stored_folders_are_never_reused(env):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    service.min_autosave_seconds = 0
    a = service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work("a"))
    b = service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work("b"))  # same second
    assert a.folder != b.folder
    assert service.store.read_folder(a.folder)["exam.ipynb"] == b"a"


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/../../b", "", "a\\b", "./x"])
def test_unsafe_file_names_are_refused(name):
    with pytest.raises(errors.Invalid):
        check_relative(name)


def test_unknown_course_or_assignment_is_a_404_naming_it(env):
    service, *_ = env
    with pytest.raises(errors.NotFound) as err:
        service.fetch("nope", "exam", "cand-a", GROUPS)
    assert "'nope'" in err.value.message
    with pytest.raises(errors.NotFound) as err:
        service.fetch("algebra-101", "nope", "cand-a", GROUPS)
    assert "'nope'" in err.value.message


def test_my_exams_give_the_countdown_its_time_left_and_closing_reason(env):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    clock.now = at(9, 59)
    (exam,) = service.my_exams("cand-a", GROUPS)
    assert exam["state"] == "running" and exam["seconds_left"] == 60 and exam["saving"] is True
    clock.now = at(10, 1)
    (exam,) = service.my_exams("cand-a", GROUPS)
    assert exam["state"] == "ended" and exam["saving"] is True  # grace: the last save is still kept
    assert "Time is up" in exam["closed_reason"]["en"] and "Temps écoulé" in exam["closed_reason"]["fr"]
    clock.now = at(10, 3)
    service.collect_due()
    (exam,) = service.my_exams("cand-a", GROUPS)
    assert exam["state"] == "submitted" and exam["saving"] is False and len(exam["receipt"]["chain"]) == 64


def test_an_unknown_record_is_a_404(env):
    service, *_ = env
    with pytest.raises(errors.NotFound):
        service.store.record(999)


def test_papers_that_count_go_to_the_grading_queue_once_and_late_work_after_a_collection_does_not(env):
    from tremplin_grading.queue import GradingQueue

    service, clock, _layout, tmp = env
    service.grading = GradingQueue(f"sqlite:///{tmp / 'queue.sqlite'}")
    try:
        clock.now = at(9)
        service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
        service.fetch("algebra-101", "exam", "cand-b", GROUPS, start=True)
        service.submit("algebra-101", "exam", "cand-a", GROUPS, work("mine"), confirmed=True)
        clock.now = at(10, 2)
        service.collect_due()  # cand-b's time is over: their copy is collected and queued
        clock.now = at(10, 30)
        # kept, not the paper that counts
        service.submit("algebra-101", "exam", "cand-b", GROUPS, work("too late"), confirmed=True)
        groups = {"nbgrader-intro-101"}
        service.fetch("intro-101", "week-1", "cand-a", groups)
        for text in ("one", "two"):  # a MOOC: every submission, the newest counts
            service.submit("intro-101", "week-1", "cand-a", groups, {"week-1.ipynb": text.encode()})
        jobs = service.grading.jobs(limit=100)
        assert sorted((j.course, j.student) for j in jobs) == [
            ("algebra-101", "cand-a"), ("algebra-101", "cand-b"), ("intro-101", "cand-a"), ("intro-101", "cand-a")]
        (b,) = [j for j in jobs if j.student == "cand-b"]
        assert service.grading.files(b.submission_id)["exam.ipynb"] != b"too late"
        mine = next(j for j in jobs if j.course == "algebra-101" and j.student == "cand-a")
        assert service.grading.files(mine.submission_id)["exam.ipynb"] == b"mine"
        assert mine.timestamp.endswith(" UTC")
        assert service.queue_papers("algebra-101", "exam") == 0  # already queued: nothing twice
    finally:
        service.grading.close()


def test_a_grading_queue_that_fails_never_fails_the_hand_in(env):
    service, clock, *_ = env

    class Broken:
        def enqueue(self, *args, **kwargs):
            raise RuntimeError("database is locked")

    service.grading = Broken()
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    record = service.submit("algebra-101", "exam", "cand-a", GROUPS, work("kept"), confirmed=True)
    assert service.store.read_folder(record.folder)["exam.ipynb"] == b"kept"


# ---- hostile input (issue 10): names and numbers that cross the wire --------------------------
def test_feedback_must_name_a_hand_in_of_that_learner(env):
    """Its timestamp becomes a folder name on the learner's side: '../../.ipython/…' must never be stored."""
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    record = service.submit("algebra-101", "exam", "cand-a", GROUPS, work("final"), confirmed=True)
    html = {"exam.html": b"<p>bien / good</p>"}
    for stamp in ("../../../.ipython/profile_default/startup", "2020-01-01 00:00:00.000000 UTC", ""):
        with pytest.raises(errors.NotFound) as err:
            service.add_feedback("algebra-101", "exam", "cand-a", stamp, html, "professor")
        assert "no hand-in of theirs" in err.value.message
    with pytest.raises(errors.NotFound) as err:  # cand-b handed nothing in
        service.add_feedback("algebra-101", "exam", "cand-b", nbgrader_timestamp(record.server_time), html, "prof")
    assert service.store.feedback("algebra-101", "exam", "cand-a") == []
    service.add_feedback("algebra-101", "exam", "cand-a", nbgrader_timestamp(record.server_time), html, "professor")
    (fb,) = service.store.feedback("algebra-101", "exam", "cand-a")
    assert service.store.read_folder(fb["folder"]) == html


@pytest.mark.parametrize("user", ["../../../../planted", "a/b", "..", ".hidden", "Cand-A", "cand-a\n", "x" * 65, ""])
def test_a_user_name_that_is_not_an_account_name_never_names_a_folder(env, user):
    service, clock, *_ = env
    files_root = service.store.files_root
    with pytest.raises(errors.Invalid) as err:
        service.add_feedback("algebra-101", "exam", user, "2027-01-10 09:00:00.000000 UTC", {"x.html": b"x"}, "prof")
    assert "not a hub account name" in err.value.message
    if "/" in user or user.startswith(".") or not user:  # and the store refuses a path, whoever calls it
        with pytest.raises(errors.Invalid) as err:
            service.store.write_folder(["algebra-101", "exam", "users", user, "feedback"], {"x.html": b"x"})
    assert not list(files_root.parent.rglob("planted*")) and not list(files_root.parent.rglob("feedback-*"))


@pytest.mark.parametrize("field,value", [("extra_minutes", float("nan")), ("extra_minutes", float("inf")),
                                         ("extra_minutes", 1e12), ("extra_minutes", -5), ("extra_minutes", True),
                                         ("time_factor", float("nan")), ("time_factor", float("inf"))])
def test_extra_time_that_is_not_a_finite_sensible_number_is_refused(env, field, value):
    service, *_ = env
    with pytest.raises(errors.Invalid) as err:
        service.grant("algebra-101", "exam", "user", "cand-a", "coordinator", **{field: value})
    assert field in err.value.message
    assert service.store.accommodations("algebra-101", "exam") == []


@pytest.mark.parametrize("duration,grace", [(float("nan"), 2), (float("inf"), 2), (1e12, 2), (60, float("nan")),
                                            (60, -1), (60, 1e9)])
def test_a_session_that_is_not_finite_and_sensible_is_refused(env, duration, grace):
    service, *_ = env
    with pytest.raises(errors.Invalid) as err:
        service.set_session("algebra-101", "exam", at(8), at(12), duration, grace, "coordinator")
    assert "minutes" in err.value.message
    assert service.session_view("algebra-101", "exam")["duration_minutes"] == 60


def test_a_bad_setting_stored_earlier_stops_only_its_own_candidate(env):
    """A grant stored before these checks (here written straight into the store) must not abort everyone's collection."""
    service, clock, *_ = env
    service.store.grant("algebra-101", "exam", "user", "cand-a", extra_minutes=1e12, by="old-version",
                        now=at(7))
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-b", GROUPS, start=True)
    service.store.start_attempt("algebra-101", "exam", "cand-a", work("copy"), release_version=1, variant="",
                                now=at(9), ip="")  # (cand-a started before the bad grant)
    clock.now = at(10, 3)
    assert {r.user for r in service.collect_due()} == {"cand-b"}
    rows = {r["user"]: r for r in service.candidates("algebra-101", "exam", lambda group: set())}
    assert rows["cand-a"]["state"] == "error" and "extra_minutes" in rows["cand-a"]["error"]
    assert rows["cand-b"]["state"] == "submitted"


def test_requests_served_by_several_threads_keep_one_attempt_and_unbroken_chains(env):
    """The service answers on several threads: a candidate's requests still happen one at a time."""
    from concurrent.futures import ThreadPoolExecutor

    service, clock, *_ = env
    service.min_autosave_seconds = 0
    clock.now = at(9)
    for user in ("cand-a", "cand-b"):
        service.fetch("algebra-101", "exam", user, GROUPS, start=True)

    def submit(i):
        try:
            service.submit("algebra-101", "exam", "cand-a", GROUPS, work(f"final {i}"), confirmed=True)
            return "kept"
        except errors.ExamError as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(submit, range(8)))
        list(pool.map(lambda i: service.snapshot("algebra-101", "exam", "cand-b", GROUPS, work(f"draft {i}")),
                      range(16)))
    assert sorted(outcomes, key=str) == sorted(["kept"] + ["Conflict"] * 7, key=str)
    for user in ("cand-a", "cand-b"):
        recs = service.store.records("algebra-101", "exam", user)
        assert receipts.verify_chain([r.receipt for r in recs], [service.store.read_folder(r.folder) for r in recs]) == []
    assert verify_audit(service.store.audit_log("algebra-101", "exam")) == []


def test_a_database_writer_who_rewrites_the_whole_audit_chain_is_caught_by_the_signed_heads(env):
    """The audit chain alone cannot tell a consistent rewrite; the service's signatures of its head can."""
    import sqlalchemy as sa
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from tremplin_grading.exports import signing
    from tremplin_hub.exam import heads
    from tremplin_hub.exam.store import audit, audit_hash
    from tremplin_hub.exam.verify import verify_store

    service, clock, _layout, tmp = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    service.submit("algebra-101", "exam", "cand-a", GROUPS, work("final"), confirmed=True)
    exam_dir = tmp / "exam"
    exam_dir.mkdir()
    key = heads.load_key(exam_dir)
    assert oct((exam_dir / heads.KEY_FILE).stat().st_mode & 0o777) == "0o600"
    assert heads.sign_heads(service.store, key, at(9, 1)) == 2  # (both courses' logs: releases, fetch, submission)
    assert heads.sign_heads(service.store, key, at(9, 2)) == 0  # nothing new since
    public = signing.load_public_key((exam_dir / heads.PUBLIC_FILE).read_bytes())
    report = verify_store(service.store, "algebra-101", "exam", public_key=public)
    assert report.problems == [] and any("1 signed head(s)" in line for line in report.checked)

    # A database writer rewrites history consistently: the submission's IP, every later hash recomputed.
    with service.store.engine.begin() as conn:
        rows = conn.execute(sa.select(audit).where(audit.c.course == "algebra-101").order_by(audit.c.id)).all()
        previous = receipts.GENESIS
        for row in rows:
            entry = {"course": row.course, "assignment": row.assignment, "at": row.at.isoformat(),
                     "actor": row.actor, "event": row.event, "candidate": row.candidate,
                     "ip": "10.0.0.66" if row.event == "submission" else row.ip, "detail": row.detail,
                     "previous": previous}
            previous = audit_hash(entry)
            conn.execute(audit.update().where(audit.c.id == row.id).values(ip=entry["ip"], previous=entry["previous"],
                                                                            hash=previous))
    assert verify_audit(service.store.audit_log("algebra-101", "exam")) == []  # self-consistent
    report = verify_store(service.store, "algebra-101", "exam", public_key=public)
    assert any("history before it was rewritten" in p for p in report.problems), report.problems

    # A head the writer signs with a key of their own is not the service's; removing every head is noticed.
    forged = Ed25519PrivateKey.generate()
    assert heads.sign_heads(service.store, forged, at(9, 3)) == 1
    report = verify_store(service.store, "algebra-101", "exam", public_key=public)
    assert any("not the service key's" in p for p in report.problems)
    with service.store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM heads"))
    report = verify_store(service.store, "algebra-101", "exam", public_key=public)
    assert any("no signed head" in p for p in report.problems)


def test_autosaves_keep_every_receipt_but_only_the_latest_files_within_a_quota(env):
    import shutil as sh

    from tremplin_hub.exam.verify import verify_store

    service, clock, *_ = env
    service.keep_records = 3
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    for i in range(20):
        clock.now = at(9, 0, 2 * i + 2)
        service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work(f"draft {i}"))
    store = service.store
    recs = store.records("algebra-101", "exam", "cand-a", ("snapshot",))
    kept = [r for r in recs if store.folder_bytes(r.folder) is not None]
    assert len(recs) == 20 and 3 <= len(kept) <= 13 and kept[-1].id == recs[-1].id
    assert store.read_folder(kept[-1].folder)["exam.ipynb"] == b"draft 19"
    with pytest.raises(errors.Gone) as err:
        store.read_folder(recs[0].folder)
    assert "receipt remains" in err.value.message
    report = verify_store(store, "algebra-101", "exam")
    assert report.problems == [] and any("thinned, as the audit log says" in line for line in report.checked)
    sh.rmtree(store.files_root / kept[0].folder)  # gone without the audit log saying so: tampering
    assert any("stored files differ" in p for p in verify_store(store, "algebra-101", "exam").problems)
    clock.now = at(10, 3)
    (collected,) = service.collect_due()
    assert store.read_folder(collected.folder)["exam.ipynb"] == b"draft 19"

    # A size quota: the oldest files go first, the latest always stays.
    service.quota_bytes = 3 * len(b"x" * 4000) + 100
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-b", GROUPS, start=True)
    for i in range(6):
        clock.now = at(9, 30, 2 * i + 2)
        service.snapshot("algebra-101", "exam", "cand-b", GROUPS, {"exam.ipynb": b"x" * 4000, "n.txt": str(i).encode()})
    sizes = [store.folder_bytes(r.folder) for r in store.records("algebra-101", "exam", "cand-b", ("snapshot",))]
    assert sum(s for s in sizes if s) <= service.quota_bytes and sizes[-1] is not None


def test_autosaves_closer_than_the_minimum_are_refused_with_the_reason(env):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work("one"))
    clock.now = at(9, 0, 1)
    with pytest.raises(errors.TooSoon) as err:
        service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work("flood"))
    assert "at most one every 2 s" in err.value.message and "au plus une" in err.value.fr
    clock.now = at(9, 0, 2)
    assert service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work("two")).kind == "snapshot"


def test_a_mooc_keeps_every_resubmissions_receipt_and_the_latest_files(env):
    service, clock, *_ = env
    service.keep_records = 2
    groups = {"nbgrader-intro-101"}
    clock.now = at(9)
    service.fetch("intro-101", "week-1", "cand-a", groups)
    for i in range(15):
        clock.now = at(9, i)
        service.submit("intro-101", "week-1", "cand-a", groups, {"week-1.ipynb": f"try {i}".encode()})
    recs = service.store.records("intro-101", "week-1", "cand-a", ("submission",))
    assert len(recs) == 15 and service.store.read_folder(recs[-1].folder) == {"week-1.ipynb": b"try 14"}
    assert sum(service.store.folder_bytes(r.folder) is not None for r in recs) <= 12
    assert service.final_records("intro-101", "week-1")[0].id == recs[-1].id


def test_the_coordinators_table_lists_the_exams_group_even_those_who_have_not_started(env):
    """Candidates enrolled through their hub group (not course.toml) were missing until they started."""
    from tremplin_hub.exam.errors import Unavailable

    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS, start=True)
    members = {"nbgrader-algebra-101": {"cand-a", "roster-7"}}
    rows = {r["user"]: r for r in service.candidates("algebra-101", "exam", lambda g: members.get(g, set()))}
    assert (rows["roster-7"]["state"], rows["roster-7"]["started"]) == ("open", None)
    assert rows["cand-a"]["state"] == "running" and set(rows) == {"cand-a", "cand-b", "roster-7"}

    def busy(group):
        raise Unavailable("the hub is busy")

    assert {r["user"] for r in service.candidates("algebra-101", "exam", busy)} == {"cand-a", "cand-b"}
