"""The exam service's core: the nbgrader exchange and exam sessions, without HTTP.

Handlers call these methods after they have checked who is asking; every method takes
the caller's name from the hub token (never from a request body) and the time from the
service's own clock (:attr:`ExamService.now`). Plain code, so tests can drive it with
an injected clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Callable

from tremplin_grading.courses import Assignment, Course, load_courses
from tremplin_grading.variants import load_key, parameters_cell, personalize, variant_seed

from .policy import CandidateState, candidate_state, timing_for, verdict_for
from .store import Record, Store, StoreError

log = logging.getLogger("tremplin.exam")
UTC = dt.timezone.utc

#: nbgrader's timestamp format (``timestamp.txt``, feedback folders).
NBGRADER_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f %Z"


def nbgrader_timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime(NBGRADER_TIMESTAMP)


def _bilingual(fr: str, en: str) -> dict:
    return {"fr": fr, "en": en}


class ExamService:
    """Everything the exam service does, over a :class:`Store` and the courses folder.

    Args:
        store: the database and files.
        courses_dir: the ``courses/`` folder (course.toml files are re-read when they change).
        course_dir_of: where a course's nbgrader directory is (for its variants key).
        now: the clock; tests pass their own.
    """

    def __init__(self, store: Store, courses_dir: Path, course_dir_of: Callable[[str], Path],
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(UTC)):
        self.store = store
        self.courses_dir = Path(courses_dir)
        self.course_dir_of = course_dir_of
        self.now = now
        self._courses: dict[str, Course] = {}
        self._courses_stamp: tuple | None = None
        self._courses_checked = 0.0

    # ---- courses ----------------------------------------------------------------------------
    def courses(self) -> dict[str, Course]:
        """The valid courses, re-read when a course.toml changed (checked at most every 2 s)."""
        if time.monotonic() - self._courses_checked > 2 or not self._courses:
            self._courses_checked = time.monotonic()
            stamp = tuple(sorted((str(p), p.stat().st_mtime_ns) for p in self.courses_dir.glob("*/course.toml")))
            if stamp != self._courses_stamp:
                report = load_courses(self.courses_dir)
                for error in report.errors:
                    log.error("course not loaded: %s", error)
                self._courses = {c.id: c for c in report.courses}
                self._courses_stamp = stamp
        return self._courses

    def course(self, course_id: str) -> Course:
        course = self.courses().get(course_id)
        if course is None:
            raise StoreError(404, f"no course {course_id!r}; check the course id")
        return course

    def assignment(self, course_id: str, assignment_id: str) -> tuple[Course, Assignment]:
        course = self.course(course_id)
        for a in course.assignments:
            if a.id == assignment_id:
                return course, a
        raise StoreError(404, f"course {course_id} has no assignment {assignment_id!r}; check its id")

    # ---- release --------------------------------------------------------------------------
    def release(self, course_id: str, assignment_id: str, files: dict[str, bytes], by: str) -> dict:
        self.assignment(course_id, assignment_id)
        return self.store.release(course_id, assignment_id, files, by, self.now())

    # ---- learners: list, fetch, snapshots, submissions, feedback --------------------------
    def state(self, course_id: str, assignment_id: str, user: str, groups: set[str]) -> CandidateState:
        course, assignment = self.assignment(course_id, assignment_id)
        return candidate_state(course, assignment, self.store, user, groups, self.now())

    def listing(self, course_id: str, user: str, groups: set[str]) -> list[dict]:
        """What a learner sees of a course: released assignments, their state, their submissions."""
        course = self.course(course_id)
        out = []
        for assignment in course.assignments:
            release = self.store.latest_release(course.id, assignment.id)
            if release is None:
                continue
            st = candidate_state(course, assignment, self.store, user, groups, self.now())
            notebooks = sorted(n for n in self.store.read_folder(release["folder"]) if n.endswith(".ipynb")
                               and "/" not in n)
            subs = self.store.records(course.id, assignment.id, user, ("submission", "collection"))
            fb = {f["timestamp"] for f in self.store.feedback(course.id, assignment.id, user)}
            out.append({
                "course_id": course.id, "assignment_id": assignment.id, "title": assignment.title,
                "kind": course.kind, "state": st.state, "timed": st.timed,
                "started": st.started.isoformat() if st.started else None,
                "deadline": st.deadline.isoformat() if st.deadline else None,
                "seconds_left": st.seconds_left,
                "notebooks": notebooks,
                "submissions": [{"id": r.id, "kind": r.kind, "timestamp": nbgrader_timestamp(r.server_time),
                                 "state": r.state, "chain": r.receipt.chain,
                                 "has_feedback": nbgrader_timestamp(r.server_time) in fb} for r in subs],
            })
        return out

    def fetch(self, course_id: str, assignment_id: str, user: str, groups: set[str], ip: str = "") -> dict:
        """The learner's own copy; for an exam, the first fetch starts their time."""
        course, assignment = self.assignment(course_id, assignment_id)
        release = self.store.latest_release(course.id, assignment.id)
        if release is None:
            raise StoreError(409, f"{course.id}/{assignment.id} is not released yet; the course's professor "
                                  "releases it (or 'tremplin courses sync' once it opens)")
        now = self.now()
        attempt = self.store.attempt(course.id, assignment.id, user)
        if attempt is None:
            st = candidate_state(course, assignment, self.store, user, groups, now)
            if st.state == "not_open":
                opens = st.timing.window_for(st.accommodation).opens
                raise StoreError(409, f"exam {course.id}/{assignment.id} opens at {opens.isoformat()} (UTC) for "
                                      f"{user}; come back then")
            if st.state == "closed":
                closes = st.timing.window_for(st.accommodation).closes
                raise StoreError(409, f"exam {course.id}/{assignment.id} closed at {closes.isoformat()} (UTC) for "
                                      f"{user}; ask the exam coordinator for another window")
            files, variant = self._personal_copy(course, assignment, release, user)
            attempt = self.store.start_attempt(course.id, assignment.id, user, files,
                                               release_version=release["version"], variant=variant, now=now, ip=ip)
        else:
            self.store.note_ip(course.id, assignment.id, user, ip, now)
        # A candidate who lost their folder (another PC, a crash) gets their latest autosave back.
        latest = self.store.last_record(course.id, assignment.id, user, ("snapshot",))
        files = self.store.read_folder(latest.folder if latest and course.kind == "exam" else attempt["folder"])
        if attempt["started_at"] != now:
            self.store.log_event(course.id, assignment.id, user, "refetch", now, candidate=user, ip=ip)
        st = candidate_state(course, assignment, self.store, user, groups, now)
        return {"files": files, "status": st, "variant": attempt["variant"]}

    def _personal_copy(self, course: Course, assignment: Assignment, release: dict, user: str):
        files = self.store.read_folder(release["folder"])
        variant = ""
        for name, data in list(files.items()):
            if not name.endswith(".ipynb"):
                continue
            try:
                nb = json.loads(data)
            except ValueError:
                continue  # not a notebook nbgrader wrote: handed out as it is
            if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or parameters_cell(nb) is None:
                continue
            seed = variant_seed(load_key(self.course_dir_of(course.id)), f"{course.id}/{assignment.id}", user)
            variant = hashlib.sha256(seed.encode()).hexdigest()[:12]
            files[name] = json.dumps(personalize(nb, seed), indent=1, ensure_ascii=False).encode()
        return files, variant

    def snapshot(self, course_id: str, assignment_id: str, user: str, groups: set[str],
                 files: dict[str, bytes], claimed_time: str = "", ip: str = "") -> Record:
        """An autosave: kept while the candidate's time runs (and during grace)."""
        course, assignment = self.assignment(course_id, assignment_id)
        now = self.now()
        if course.kind != "exam":
            raise StoreError(409, f"{course.id}/{assignment.id} is not a timed exam: autosave is for exams")
        st = candidate_state(course, assignment, self.store, user, groups, now)
        if st.started is None:
            raise StoreError(409, f"{user} has not started {course.id}/{assignment.id}; fetch it first")
        if st.state == "submitted":
            raise StoreError(409, f"{user} has already handed in {course.id}/{assignment.id}; the exam is closed")
        if now > st.collect_at:
            raise StoreError(409, f"time is over for {user} in {course.id}/{assignment.id} (deadline "
                                  f"{st.deadline.isoformat()}); this autosave was not kept")
        self.store.note_ip(course.id, assignment.id, user, ip, now)
        return self.store.add_record(course.id, assignment.id, user, "snapshot", files, now=now,
                                     claimed_time=claimed_time, ip=ip)

    def submit(self, course_id: str, assignment_id: str, user: str, groups: set[str],
               files: dict[str, bytes], claimed_time: str = "", ip: str = "") -> Record:
        """A submission, timed by the service's clock; late ones are kept and flagged."""
        course, assignment = self.assignment(course_id, assignment_id)
        now = self.now()
        if not files:
            raise StoreError(400, f"the submission of {user} to {course.id}/{assignment.id} has no file")
        if course.kind == "exam":
            st = candidate_state(course, assignment, self.store, user, groups, now)
            if st.started is None:
                raise StoreError(409, f"{user} has not started {course.id}/{assignment.id}; fetch it first")
            final = self.store.final(course.id, assignment.id, user)
            if final is not None and final.kind == "submission":
                raise StoreError(409, f"{user} has already submitted {course.id}/{assignment.id} at "
                                      f"{final.server_time.isoformat()}; an exam allows one attempt")
        else:
            release = self.store.latest_release(course.id, assignment.id)
            if release is None:
                raise StoreError(409, f"{course.id}/{assignment.id} is not released; nothing to submit to")
        state, late = verdict_for(course, assignment, self.store, user, groups, now)
        self.store.note_ip(course.id, assignment.id, user, ip, now)
        record = self.store.add_record(course.id, assignment.id, user, "submission", files, now=now, state=state,
                                       seconds_late=late, claimed_time=claimed_time, ip=ip)
        if state == "late":
            log.warning("late submission of %s to %s/%s, %d s after the deadline (kept, flagged)",
                        user, course.id, assignment.id, late)
        return record

    def final_records(self, course_id: str, assignment_id: str) -> list[Record]:
        """The record that counts for each candidate: an exam's first submission or collection, a MOOC's
        latest submission."""
        course, assignment = self.assignment(course_id, assignment_id)
        out = []
        users = sorted({r.user for r in self.store.records(course.id, assignment.id, None,
                                                           ("submission", "collection"))})
        for user in users:
            if course.kind == "exam":
                out.append(self.store.final(course.id, assignment.id, user))
            else:
                out.append(self.store.last_record(course.id, assignment.id, user, ("submission",)))
        return [r for r in out if r is not None]

    # ---- automatic collection -------------------------------------------------------------
    def collect_due(self, groups_of: Callable[[str], set[str]] = lambda user: set()) -> list[Record]:
        """Hand in the latest autosave of every candidate whose time (and grace) is over."""
        now = self.now()
        collected = []
        for attempt in self.store.all_attempts():
            course = self.courses().get(attempt["course"])
            if course is None or course.kind != "exam":
                continue
            try:
                course, assignment = self.assignment(attempt["course"], attempt["assignment"])
            except StoreError:
                continue
            user = attempt["user"]
            if self.store.final(course.id, assignment.id, user) is not None:
                continue
            st = candidate_state(course, assignment, self.store, user, groups_of(user), now)
            if st.collect_at is None or now < st.collect_at:
                continue
            latest = self.store.last_record(course.id, assignment.id, user, ("snapshot",))
            files = self.store.read_folder(latest.folder if latest else attempt["folder"])
            record = self.store.add_record(course.id, assignment.id, user, "collection", files, now=now,
                                           state="on_time", actor="tremplin-exam")
            log.info("collected %s/%s of %s at its deadline (%s)", course.id, assignment.id, user,
                     "latest autosave" if latest else "no autosave: the copy handed out")
            collected.append(record)
        return collected

    # ---- feedback -------------------------------------------------------------------------
    def add_feedback(self, course_id, assignment_id, user, timestamp, files, by) -> None:
        self.assignment(course_id, assignment_id)
        self.store.add_feedback(course_id, assignment_id, user, timestamp, files, by, self.now())

    # ---- the candidates' countdown ----------------------------------------------------------
    def my_exams(self, user: str, groups: set[str]) -> list[dict]:
        out = []
        for course in self.courses().values():
            if course.kind != "exam" or course.student_group not in groups:
                continue
            for assignment in course.assignments:
                st = candidate_state(course, assignment, self.store, user, groups, self.now())
                final = self.store.final(course.id, assignment.id, user)
                last = self.store.last_record(course.id, assignment.id, user, ("snapshot",))
                now = self.now()
                out.append({
                    "course": course.id, "assignment": assignment.id, "path": f"{course.id}/{assignment.id}",
                    "title": assignment.title, "state": st.state,
                    # autosaves are still kept during grace: the last save before the end is not lost
                    "saving": final is None and st.collect_at is not None and now < st.collect_at,
                    "deadline": st.deadline.isoformat() if st.deadline else None,
                    "seconds_left": st.seconds_left,
                    "closed_reason": _closed_reason(st, final),
                    "last_snapshot": last.server_time.isoformat() if last else None,
                    "receipt": ({"chain": final.receipt.chain, "server_time": final.receipt.server_time,
                                 "kind": final.kind} if final else None),
                })
        return out

    # ---- coordinators -----------------------------------------------------------------------
    def candidates(self, course_id: str, assignment_id: str, groups_of: Callable[[str], set[str]]) -> list[dict]:
        """One row per candidate of the course: started, time left, last autosave, submitted, late."""
        course, assignment = self.assignment(course_id, assignment_id)
        now = self.now()
        rows = []
        for user in sorted(set(course.learners) | {a["user"] for a in self.store.attempts(course.id, assignment.id)}):
            groups = groups_of(user)
            st = candidate_state(course, assignment, self.store, user, groups, now)
            attempt = self.store.attempt(course.id, assignment.id, user)
            recs = self.store.records(course.id, assignment.id, user)
            snaps = [r for r in recs if r.kind == "snapshot"]
            final = self.store.final(course.id, assignment.id, user)
            late = [r for r in recs if r.state == "late"]
            acc = st.accommodation
            rows.append({
                "user": user, "state": st.state,
                "started": attempt["started_at"].isoformat() if attempt else None,
                "deadline": st.deadline.isoformat() if st.deadline else None,
                "seconds_left": st.seconds_left,
                "last_snapshot": snaps[-1].server_time.isoformat() if snaps else None,
                "snapshots": len(snaps),
                "submitted": final.server_time.isoformat() if final else None,
                "final_kind": final.kind if final else None,
                "final_state": final.state if final else None,
                "late": bool(late), "seconds_late": max((r.seconds_late for r in late), default=0),
                "ip": attempt["last_ip"] if attempt else "",
                "variant": attempt["variant"] if attempt else "",
                "accommodation": {"extra_minutes": acc.extra_minutes, "time_factor": acc.time_factor,
                                  "granted_by": acc.granted_by, "reason": acc.reason},
            })
        return rows

    def set_session(self, course_id, assignment_id, opens, closes, duration_minutes, grace_minutes, by) -> None:
        from .timing import ExamTiming, TimingError, Window

        course, assignment = self.assignment(course_id, assignment_id)
        if course.kind != "exam":
            raise StoreError(400, f"{course.id} is a {course.kind} course: only exams have sessions")
        try:
            ExamTiming(Window(opens, closes), dt.timedelta(minutes=duration_minutes),
                       dt.timedelta(minutes=grace_minutes))
        except TimingError as exc:
            raise StoreError(400, f"session of {course.id}/{assignment.id}: {exc}") from None
        self.store.set_session(course.id, assignment.id, opens, closes, duration_minutes * 60, grace_minutes * 60,
                               by, self.now())

    def grant(self, course_id, assignment_id, target_kind, target, by, *, extra_minutes=0.0, time_factor=1.0,
              opens=None, closes=None, reason="", target_groups: set[str] = frozenset()) -> None:
        """Extra time or another window for one candidate (``target_groups``: their hub groups) or a group."""
        from .timing import Accommodation, TimingError, Window

        course, assignment = self.assignment(course_id, assignment_id)
        try:
            Accommodation(extra_minutes, time_factor, Window(opens, closes) if opens and closes else None)
        except TimingError as exc:
            raise StoreError(400, f"extra time for {target} in {course.id}/{assignment.id}: {exc}") from None
        if target_kind == "user" and target not in course.learners and course.student_group not in target_groups \
                and self.store.attempt(course.id, assignment.id, target) is None:
            raise StoreError(404, f"{target!r} is not a candidate of {course.id}; check the name")
        self.store.grant(course.id, assignment.id, target_kind, target, extra_minutes=extra_minutes,
                         time_factor=time_factor, opens=opens, closes=closes, by=by, reason=reason, now=self.now())

    def session_view(self, course_id: str, assignment_id: str) -> dict:
        course, assignment = self.assignment(course_id, assignment_id)
        timing = timing_for(course, assignment, self.store)
        saved = self.store.session(course.id, assignment.id)
        return {"opens": timing.window.opens.isoformat(), "closes": timing.window.closes.isoformat(),
                "duration_minutes": timing.duration.total_seconds() / 60,
                "grace_minutes": timing.grace.total_seconds() / 60,
                "set_by": saved["set_by"] if saved else "course.toml"}


def _closed_reason(st: CandidateState, final: Record | None) -> dict | None:
    if final is not None and final.kind == "submission":
        when = final.server_time.strftime("%H:%M:%S UTC")
        return _bilingual(f"Copie remise à {when}. L'épreuve est terminée pour vous.",
                          f"Handed in at {when}. The exam is over for you.")
    if final is not None:
        return _bilingual("Temps écoulé : votre dernière sauvegarde a été remise automatiquement.",
                          "Time is up: your last autosave was handed in automatically.")
    if st.state == "ended":
        return _bilingual("Temps écoulé : votre travail va être remis automatiquement.",
                          "Time is up: your work is being handed in automatically.")
    return None
