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
from tremplin_hub.exam import receipts
from tremplin_hub.exam.core import ExamService
from tremplin_hub.exam.store import Store, StoreError, check_relative, verify_audit
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
    with pytest.raises(StoreError) as err:
        service.fetch("algebra-101", "exam", "cand-a", GROUPS)
    assert err.value.status == 409 and "opens at 2027-01-10T08:00:00+00:00" in err.value.message


def test_fetch_starts_the_time_and_hands_out_a_personal_copy(env):
    service, clock, layout, _ = env
    clock.now = at(9)
    got = service.fetch("algebra-101", "exam", "cand-a", GROUPS, ip="10.0.0.1")
    assert got["status"].state == "running" and got["status"].deadline == at(10)
    nb = json.loads(got["files"]["exam.ipynb"])
    seed = variant_seed(load_key(layout.course_dir("algebra-101")), "algebra-101/exam", "cand-a")
    expected = personalize(source_notebook(), seed)
    assert nb["cells"][0]["source"] == expected["cells"][0]["source"] and "Params(" in nb["cells"][0]["source"]
    assert "draw(" not in json.dumps(nb)
    assert got["files"]["data.csv"] == b"x,y\n1,2\n"
    # A second fetch (another PC) gives the same copy back and does not restart the time.
    clock.now = at(9, 30)
    again = service.fetch("algebra-101", "exam", "cand-a", GROUPS, ip="10.0.0.2")
    assert again["files"] == got["files"] and again["status"].deadline == at(10)
    events = [(e["event"], e["ip"]) for e in service.store.audit_log("algebra-101", "exam")]
    assert ("fetch", "10.0.0.1") in events and ("ip_change", "10.0.0.2") in events


def test_lost_folder_is_restored_from_the_latest_autosave(env):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS)
    clock.now = at(9, 20)
    service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work("draft 2"))
    got = service.fetch("algebra-101", "exam", "cand-a", GROUPS)
    assert got["files"]["exam.ipynb"] == b"draft 2"


def test_submission_on_time_gets_a_chained_receipt_and_ignores_the_claimed_time(env):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS)
    clock.now = at(9, 10)
    snap = service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work("draft"))
    clock.now = at(9, 50)
    sub = service.submit("algebra-101", "exam", "cand-a", GROUPS, work("final"), claimed_time="2027-01-10T08:00:00Z")
    assert sub.state == "on_time" and sub.server_time == at(9, 50)
    assert sub.receipt.previous == snap.receipt.chain
    assert sub.receipt.files["exam.ipynb"] == receipts.sha256(b"final")
    assert receipts.verify_chain([snap.receipt, sub.receipt]) == []
    entry = [e for e in service.store.audit_log("algebra-101", "exam") if e["event"] == "submission"][0]
    assert json.loads(entry["detail"])["claimed_time_ignored"] == "2027-01-10T08:00:00Z"


def test_an_exam_allows_one_submission(env):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS)
    service.submit("algebra-101", "exam", "cand-a", GROUPS, work("one"))
    with pytest.raises(StoreError) as err:
        service.submit("algebra-101", "exam", "cand-a", GROUPS, work("two"))
    assert err.value.status == 409 and "one attempt" in err.value.message


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
    service.fetch("algebra-101", "exam", "cand-a", GROUPS)
    clock.now = at(9) + dt.timedelta(minutes=minute)
    sub = service.submit("algebra-101", "exam", "cand-a", GROUPS, work("x"))
    assert (sub.state, sub.seconds_late) == (state, late)


def test_collection_at_the_deadline_hands_in_the_latest_autosave_then_late_work_is_kept_and_flagged(env):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS)
    service.fetch("algebra-101", "exam", "cand-b", {"nbgrader-algebra-101"})
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
    with pytest.raises(StoreError):  # no autosave after the end
        service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work("more"))
    clock.now = at(10, 30)
    late = service.submit("algebra-101", "exam", "cand-a", GROUPS, work("after the end"))
    assert late.state == "late" and late.seconds_late == 30 * 60
    assert service.final_records("algebra-101", "exam")[0].kind == "collection"
    assert [r.kind for r in service.store.records("algebra-101", "exam", "cand-a")] == \
        ["snapshot", "collection", "submission"]


def test_extra_time_for_one_candidate_only(env):
    service, clock, *_ = env
    service.grant("algebra-101", "exam", "user", "cand-b", "coordinator", extra_minutes=20, reason="medical")
    clock.now = at(9)
    for user in ("cand-a", "cand-b"):
        service.fetch("algebra-101", "exam", user, GROUPS)
    clock.now = at(10, 10)
    assert service.state("algebra-101", "exam", "cand-a", GROUPS).state == "ended"
    b = service.state("algebra-101", "exam", "cand-b", GROUPS)
    assert b.state == "running" and b.deadline == at(10, 20) and b.seconds_left == 600
    assert {r.user for r in service.collect_due()} == {"cand-a"}
    rows = {r["user"]: r for r in service.candidates("algebra-101", "exam", lambda u: GROUPS)}
    assert rows["cand-b"]["accommodation"]["granted_by"] == "coordinator"
    grant = [e for e in service.store.audit_log("algebra-101", "exam") if e["event"] == "accommodation"]
    assert grant[0]["actor"] == "coordinator" and grant[0]["candidate"] == "cand-b"


def test_group_accommodation_applies_to_its_members_and_a_personal_one_wins(env):
    service, clock, *_ = env
    service.grant("algebra-101", "exam", "group", "tiers-temps", "coordinator", time_factor=1.5)
    service.grant("algebra-101", "exam", "user", "cand-b", "coordinator", extra_minutes=5)
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS | {"tiers-temps"})
    service.fetch("algebra-101", "exam", "cand-b", GROUPS | {"tiers-temps"})
    assert service.state("algebra-101", "exam", "cand-a", GROUPS | {"tiers-temps"}).deadline == at(10, 30)
    assert service.state("algebra-101", "exam", "cand-b", GROUPS | {"tiers-temps"}).deadline == at(10, 5)


def test_coordinator_moves_the_window_and_bad_settings_are_refused_with_the_fix(env):
    service, clock, *_ = env
    service.set_session("algebra-101", "exam", at(12), at(14), 30, 1, "coordinator")
    clock.now = at(9)
    with pytest.raises(StoreError):
        service.fetch("algebra-101", "exam", "cand-a", GROUPS)
    clock.now = at(13, 50)
    st = service.fetch("algebra-101", "exam", "cand-a", GROUPS)["status"]
    assert st.deadline == at(14)  # a late start leaves less time: the window closes at 14:00
    with pytest.raises(StoreError) as err:
        service.set_session("algebra-101", "exam", at(14), at(12), 30, 1, "coordinator")
    assert err.value.status == 400 and "closes" in err.value.message


def test_a_restarted_service_loses_nothing_and_the_chain_still_verifies(env, db_url):
    service, clock, layout, tmp = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS)
    for minute in (5, 10, 15):
        clock.now = at(9, minute)
        service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work(f"draft {minute}"))
    service.store.close()
    store = Store(db_url, tmp / "files")
    again = ExamService(store, tmp / "courses", layout.course_dir, now=clock)
    clock.now = at(9, 20)
    again.submit("algebra-101", "exam", "cand-a", GROUPS, work("final"))
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
    service.fetch("algebra-101", "exam", "cand-a", GROUPS)
    sub = service.submit("algebra-101", "exam", "cand-a", GROUPS, work("final"))
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
    service.fetch("algebra-101", "exam", "cand-a", GROUPS)
    a = service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work("a"))
    b = service.snapshot("algebra-101", "exam", "cand-a", GROUPS, work("b"))  # same second
    assert a.folder != b.folder
    assert service.store.read_folder(a.folder)["exam.ipynb"] == b"a"


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/../../b", "", "a\\b", "./x"])
def test_unsafe_file_names_are_refused(name):
    with pytest.raises(StoreError) as err:
        check_relative(name)
    assert err.value.status == 400


def test_unknown_course_or_assignment_is_a_404_naming_it(env):
    service, *_ = env
    with pytest.raises(StoreError) as err:
        service.fetch("nope", "exam", "cand-a", GROUPS)
    assert err.value.status == 404 and "'nope'" in err.value.message
    with pytest.raises(StoreError) as err:
        service.fetch("algebra-101", "nope", "cand-a", GROUPS)
    assert err.value.status == 404 and "'nope'" in err.value.message


def test_my_exams_give_the_countdown_its_time_left_and_closing_reason(env):
    service, clock, *_ = env
    clock.now = at(9)
    service.fetch("algebra-101", "exam", "cand-a", GROUPS)
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
    with pytest.raises(StoreError) as err:
        service.store.record(999)
    assert err.value.status == 404
