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
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tremplin_grading.courses import Assignment, Course, load_courses
from tremplin_grading.variants import load_key, parameters_cell, personalize, variant_seed

from .errors import Conflict, ExamError, Invalid, NotFound, TooSoon, Unavailable
from .policy import CandidateState, accommodation_in, candidate_state, exam_state, timing_for, verdict_for
from .store import HandIn, Record, Store, check_user
from .timing import Accommodation

log = logging.getLogger("tremplin.exam")
UTC = dt.timezone.utc

#: nbgrader's timestamp format (``timestamp.txt``, feedback folders).
NBGRADER_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f %Z"


def nbgrader_timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime(NBGRADER_TIMESTAMP)


#: A candidate's row when their state cannot be computed (the ``error`` says why).
UNKNOWN_ROW = {"started": None, "deadline": None, "seconds_left": None, "last_snapshot": None, "snapshots": 0,
               "submitted": None, "final_kind": None, "final_state": None, "late": False, "seconds_late": 0, "ip": "",
               "variant": "", "accommodation": {"extra_minutes": 0, "time_factor": 1, "granted_by": "", "reason": ""}}


@dataclass(frozen=True)
class Outcome:
    """What the exam service knows of one candidate's exam, for results and exports."""

    user: str
    variant: str
    started: dt.datetime
    final: HandIn | None  # the hand-in that counts, if any
    accommodation: Accommodation


#: The states a candidate's row can have, in the order the coordinator's table counts them.
ROW_STATES = ("not_open", "open", "running", "ended", "submitted", "closed", "error")


def table_view(rows: list[dict], query: str = "", state: str = "", page: int = 1, per_page: int = 0) -> dict:
    """The coordinator's view of :meth:`ExamService.candidates`: how many are in each state, the rows whose name or
    IP address holds ``query`` (any case) and in ``state``, one page of ``per_page`` of them (all with 0).

    Raises:
        Invalid: an unknown state, or a page size out of 0..1000.
    """
    if state and state not in ROW_STATES:
        raise Invalid(f"no candidate state {state!r}: choose one of {', '.join(ROW_STATES)}",
                      fr=f"pas d'état {state!r} : choisissez parmi {', '.join(ROW_STATES)}")
    if not 0 <= per_page <= 1000:
        raise Invalid(f"per_page={per_page}: give a number of rows per page between 1 and 1000 (0 for all)",
                      fr=f"per_page={per_page} : donnez un nombre de lignes par page entre 1 et 1000 (0 pour toutes)")
    counts = dict.fromkeys(ROW_STATES, 0)
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    needle = query.strip().lower()
    matched = [r for r in rows if (not state or r["state"] == state)
               and (not needle or needle in r["user"].lower() or needle in (r.get("ip") or ""))]
    pages = max(1, -(-len(matched) // per_page)) if per_page else 1
    page = min(max(1, page), pages)
    shown = matched[(page - 1) * per_page:page * per_page] if per_page else matched
    return {"counts": counts, "total": len(rows), "matched": len(matched), "page": page, "pages": pages,
            "per_page": per_page, "query": query, "state": state, "candidates": shown}


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat()


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

    #: Autosaves (and a MOOC's resubmissions) kept with their files per candidate: the latest ones,
    #: within a size quota; older ones keep their receipts only (:meth:`Store.thin`).
    keep_records = 30
    quota_bytes = 200 * 1024 * 1024
    #: Autosaves closer together than this are refused (429), so a script cannot flood the store.
    min_autosave_seconds = 2.0

    def __init__(self, store: Store, courses_dir: Path, course_dir_of: Callable[[str], Path],
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(UTC), grading=None):
        self.store = store
        self.courses_dir = Path(courses_dir)
        self.course_dir_of = course_dir_of
        self.now = now
        #: the grading queue (tremplin_grading.queue.GradingQueue): papers that count are graded on arrival
        self.grading = grading
        self._courses: dict[str, Course] = {}
        self._courses_stamp: tuple | None = None
        self._courses_checked = 0.0
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()

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
            raise NotFound(f"no course {course_id!r}; check the course id")
        return course

    def assignment(self, course_id: str, assignment_id: str) -> tuple[Course, Assignment]:
        course = self.course(course_id)
        for a in course.assignments:
            if a.id == assignment_id:
                return course, a
        raise NotFound(f"course {course_id} has no assignment {assignment_id!r}; check its id")

    # ---- release --------------------------------------------------------------------------
    def release(self, course_id: str, assignment_id: str, files: dict[str, bytes], by: str, *,
                only_if_new: bool = False) -> dict:
        """Keep a new version of an assignment's student files (``only_if_new``: unless one was released already)."""
        self.assignment(course_id, assignment_id)
        return self.store.release(course_id, assignment_id, files, by, self.now(), only_if_new=only_if_new)

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

    # ---- one request of a candidate at a time -----------------------------------------------
    # Requests are served by several threads; what a candidate's request reads (attempt, last
    # receipt, "already submitted?") must not change before it writes.
    def _candidate_lock(self, course_id: str, assignment_id: str, user: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault((course_id, assignment_id, user), threading.Lock())

    def fetch(self, course_id, assignment_id, user, *args, **kwargs) -> dict:
        with self._candidate_lock(course_id, assignment_id, user):
            return self._fetch(course_id, assignment_id, user, *args, **kwargs)

    def snapshot(self, course_id, assignment_id, user, *args, **kwargs) -> Record:
        with self._candidate_lock(course_id, assignment_id, user):
            return self._snapshot(course_id, assignment_id, user, *args, **kwargs)

    def submit(self, course_id, assignment_id, user, *args, **kwargs) -> Record:
        with self._candidate_lock(course_id, assignment_id, user):
            return self._submit(course_id, assignment_id, user, *args, **kwargs)

    def _fetch(self, course_id: str, assignment_id: str, user: str, groups: set[str], ip: str = "",
               start: bool = False) -> dict:
        """The learner's own copy. An exam's time starts only with ``start``, which the start page sends once the
        candidate confirmed (:meth:`start_view` says what the page shows): a fetch without it starts nothing."""
        course, assignment = self.assignment(course_id, assignment_id)
        release = self.store.latest_release(course.id, assignment.id)
        if release is None:
            raise Conflict(f"{course.id}/{assignment.id} is not released yet; the course's professor "
                           "releases it (or 'tremplin courses sync' once it opens)",
                           fr=f"{course.id}/{assignment.id} n'est pas encore distribué ; revenez plus tard")
        now = self.now()
        attempt = self.store.attempt(course.id, assignment.id, user)
        if attempt is None:
            st = candidate_state(course, assignment, self.store, user, groups, now)
            if st.state == "not_open":
                opens = st.timing.window_for(st.accommodation).opens
                raise Conflict(f"exam {course.id}/{assignment.id} opens at {opens.isoformat()} (UTC) for "
                               f"{user}; come back then",
                               fr=f"l'épreuve {course.id}/{assignment.id} ouvre à {opens.isoformat()} (UTC) pour "
                                  f"{user} ; revenez à cette heure-là")
            if st.state == "closed":
                closes = st.timing.window_for(st.accommodation).closes
                raise Conflict(f"exam {course.id}/{assignment.id} closed at {closes.isoformat()} (UTC) for "
                               f"{user}; ask the exam coordinator for another window",
                               fr=f"l'épreuve {course.id}/{assignment.id} a fermé à {closes.isoformat()} (UTC) pour "
                                  f"{user} ; demandez un autre créneau au coordinateur de l'épreuve")
            if st.timed and not start:
                minutes = round(st.timing.duration_for(st.accommodation).total_seconds() / 60)
                raise Conflict(f"{course.id}/{assignment.id} is a timed exam of {minutes} minutes that {user} has not "
                               "started, and this fetch started nothing: start it with its button on your home page, "
                               "which shows its duration and asks you to confirm",
                               fr=f"{course.id}/{assignment.id} est une épreuve chronométrée de {minutes} minutes que "
                                  f"{user} n'a pas commencée, et rien n'a été lancé : commencez-la avec son bouton sur "
                                  "votre page d'accueil, qui affiche sa durée et vous demande de confirmer")
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

    def start_view(self, course_id: str, assignment_id: str, user: str, groups: set[str]) -> dict:
        """What a candidate is told before an exam's time starts: its state, and for this candidate (their extra
        time included) its duration, the window, and when their time would end if they started now."""
        course, assignment = self.assignment(course_id, assignment_id)
        now = self.now()
        st = candidate_state(course, assignment, self.store, user, groups, now)
        view = {"course": course.id, "assignment": assignment.id, "title": assignment.title, "state": st.state,
                "timed": st.timed, "released": self.store.latest_release(course.id, assignment.id) is not None,
                "now": _iso(now)}
        if st.timing is not None:
            window, duration = st.timing.window_for(st.accommodation), st.timing.duration_for(st.accommodation)
            view.update(opens=_iso(window.opens), closes=_iso(window.closes),
                        minutes=round(duration.total_seconds() / 60),
                        extra_minutes=round((duration - st.timing.duration).total_seconds() / 60))
            if st.state == "open":
                ends = st.timing.deadline(now, st.accommodation)
                view.update(ends=_iso(ends), minutes_if_started_now=int((ends - now).total_seconds() // 60),
                            cut_by_window=ends < now + duration)
        return view

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

    def _snapshot(self, course_id: str, assignment_id: str, user: str, groups: set[str],
                 files: dict[str, bytes], claimed_time: str = "", ip: str = "") -> Record:
        """An autosave: kept while the candidate's time runs (and during grace)."""
        course, assignment = self.assignment(course_id, assignment_id)
        now = self.now()
        if course.kind != "exam":
            raise Conflict(f"{course.id}/{assignment.id} is not a timed exam: autosave is for exams")
        st = candidate_state(course, assignment, self.store, user, groups, now)
        if st.started is None:
            raise Conflict(f"{user} has not started {course.id}/{assignment.id}; fetch it first",
                           fr=f"{user} n'a pas commencé {course.id}/{assignment.id} : récupérez-le d'abord (Fetch)")
        if st.state == "submitted":
            raise Conflict(f"{user} has already handed in {course.id}/{assignment.id}; the exam is closed",
                           fr=f"{user} a déjà remis {course.id}/{assignment.id} ; l'épreuve est terminée")
        if now > st.collect_at:
            raise Conflict(f"time is over for {user} in {course.id}/{assignment.id} (deadline "
                           f"{st.deadline.isoformat()}); this autosave was not kept",
                           fr=f"le temps de {user} est écoulé pour {course.id}/{assignment.id} (fin "
                              f"{st.deadline.isoformat()}) ; cette sauvegarde n'a pas été gardée")
        last = self.store.last_record(course.id, assignment.id, user, ("snapshot",))
        if last is not None and (now - last.server_time).total_seconds() < self.min_autosave_seconds:
            raise TooSoon(f"autosave of {user} in {course.id}/{assignment.id}: the last one was kept "
                          f"{(now - last.server_time).total_seconds():.1f} s ago; send at most one every "
                          f"{self.min_autosave_seconds:g} s",
                          fr=f"sauvegarde trop rapprochée de la précédente : au plus une toutes les "
                             f"{self.min_autosave_seconds:g} s")
        self.store.note_ip(course.id, assignment.id, user, ip, now)
        record = self.store.add_record(course.id, assignment.id, user, "snapshot", files, now=now,
                                       claimed_time=claimed_time, ip=ip)
        self.store.thin(course.id, assignment.id, user, "snapshot", self.keep_records, self.quota_bytes, now)
        return record

    def _submit(self, course_id: str, assignment_id: str, user: str, groups: set[str],
               files: dict[str, bytes], claimed_time: str = "", ip: str = "", confirmed: bool = False) -> Record:
        """A submission, timed by the service's clock; late ones are kept and flagged. An exam's hand-in ends it,
        so it must be ``confirmed``, which only the hand-in button beside the countdown sends once the candidate
        confirmed: nbgrader's Submit and command line hand in nothing."""
        course, assignment = self.assignment(course_id, assignment_id)
        now = self.now()
        if not files:
            raise Invalid(f"the submission of {user} to {course.id}/{assignment.id} has no file",
                          fr=f"la remise de {user} pour {course.id}/{assignment.id} ne contient aucun fichier")
        if course.kind == "exam":
            st = candidate_state(course, assignment, self.store, user, groups, now)
            if st.started is None:
                raise Conflict(f"{user} has not started {course.id}/{assignment.id}; fetch it first",
                               fr=f"{user} n'a pas commencé {course.id}/{assignment.id} : récupérez-le d'abord")
            final = self.store.final(course.id, assignment.id, user)
            if final is not None and final.kind == "submission":
                raise Conflict(f"{user} has already submitted {course.id}/{assignment.id} at "
                               f"{final.server_time.isoformat()}; an exam allows one attempt",
                               fr=f"{user} a déjà remis {course.id}/{assignment.id} à "
                                  f"{final.server_time.isoformat()} ; une épreuve n'admet qu'une remise")
            if not confirmed:
                raise Conflict(f"handing in {course.id}/{assignment.id} ends the exam for {user}, and nothing was "
                               "handed in: use the button « Rendre ma copie / Hand in » beside the countdown, which "
                               "asks you to confirm (your work is saved automatically meanwhile)",
                               fr=f"remettre {course.id}/{assignment.id} termine l'épreuve pour {user}, et rien n'a "
                                  "été remis : utilisez le bouton « Rendre ma copie / Hand in » à côté du décompte, "
                                  "qui vous demande de confirmer (votre travail est enregistré automatiquement en "
                                  "attendant)")
        else:
            release = self.store.latest_release(course.id, assignment.id)
            if release is None:
                raise Conflict(f"{course.id}/{assignment.id} is not released; nothing to submit to",
                               fr=f"{course.id}/{assignment.id} n'est pas distribué : rien à remettre")
        state, late = verdict_for(course, assignment, self.store, user, groups, now)
        self.store.note_ip(course.id, assignment.id, user, ip, now)
        record = self.store.add_record(course.id, assignment.id, user, "submission", files, now=now, state=state,
                                       seconds_late=late, claimed_time=claimed_time, ip=ip)
        if state == "late":
            log.warning("late submission of %s to %s/%s, %d s after the deadline (kept, flagged)",
                        user, course.id, assignment.id, late)
        counts = course.kind != "exam" or self.store.final(course.id, assignment.id, user).id == record.id
        if counts:
            self.queue_for_grading(assignment, record, files)
        if course.kind != "exam":  # a MOOC takes every resubmission: the latest ones keep their files
            self.store.thin(course.id, assignment.id, user, "submission", self.keep_records, self.quota_bytes, now)
        return record

    def queue_for_grading(self, assignment: Assignment, record: Record, files: dict[str, bytes]) -> None:
        """Put a paper that counts into the grading queue (graded assignments only; once per record)."""
        if self.grading is None or not assignment.graded:
            return
        try:
            job = self.grading.enqueue(record.course, record.assignment, record.user, files,
                                       timestamp=nbgrader_timestamp(record.server_time),
                                       source=f"exam-record:{record.id}", kind=record.kind)
        except Exception:  # the paper is kept all the same: never fail a hand-in for the queue's sake
            log.exception("the %s of %s to %s/%s is kept but could not be queued for grading; queue it with "
                          "'tremplin grade queue %s/%s'", record.kind, record.user, record.course, record.assignment,
                          record.course, record.assignment)
            return
        if job is not None:
            log.info("%s of %s to %s/%s queued for grading (job %d)", record.kind, record.user, record.course,
                     record.assignment, job)

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

    def queue_papers(self, course_id: str, assignment_id: str) -> int:
        """Queue for grading every paper that counts of an assignment (those already queued are skipped)."""
        _course, assignment = self.assignment(course_id, assignment_id)
        if self.grading is None:
            raise Unavailable("no grading queue is configured")
        before = self.grading.last_id()
        for record in self.final_records(course_id, assignment_id):
            self.queue_for_grading(assignment, record, self.store.read_folder(record.folder))
        return self.grading.last_id() - before

    # ---- reads for the API and the pages (nothing else reaches the store) --------------------
    def released(self, course_id: str) -> list[str]:
        """The assignments of a course released so far."""
        return self.store.released_assignments(self.course(course_id).id)

    def hand_ins(self, course_id: str, assignment_id: str) -> list[Record]:
        """Every submission and collection of an assignment, oldest first."""
        course, assignment = self.assignment(course_id, assignment_id)
        return self.store.records(course.id, assignment.id, None, ("submission", "collection"))

    def record_files(self, course_id: str, assignment_id: str, user: str, record_id: int) -> tuple[Record, dict]:
        """One record of ``user`` and its files (:class:`Gone` when they were thinned)."""
        course, assignment = self.assignment(course_id, assignment_id)
        record = self.store.record(record_id)
        if (record.course, record.assignment, record.user) != (course.id, assignment.id, user):
            raise NotFound(f"no record {record_id} of {user} in {course.id}/{assignment.id}; list the submissions "
                           "to get their ids")
        return record, self.store.read_folder(record.folder)

    def receipt_chain(self, course_id: str, assignment_id: str, user: str) -> list[Record]:
        """Every record of ``user`` (snapshots included), oldest first: their whole receipt chain."""
        course, assignment = self.assignment(course_id, assignment_id)
        return self.store.records(course.id, assignment.id, check_user(user))

    def feedback_files(self, course_id: str, assignment_id: str, user: str) -> list[dict]:
        """The feedback released to ``user``: ``timestamp``, ``released_at`` and ``files`` of each."""
        course, assignment = self.assignment(course_id, assignment_id)
        return [{"timestamp": f["timestamp"], "released_at": f["released_at"],
                 "files": self.store.read_folder(f["folder"])}
                for f in self.store.feedback(course.id, assignment.id, check_user(user))]

    def accommodations(self, course_id: str, assignment_id: str) -> list[dict]:
        """Every accommodation granted for an exam, oldest first."""
        course, assignment = self.assignment(course_id, assignment_id)
        return self.store.accommodations(course.id, assignment.id)

    def audit_log(self, course_id: str, assignment_id: str, by: str, ip: str = "") -> list[dict]:
        """The exam's audit log, its download logged in it first."""
        course, assignment = self.assignment(course_id, assignment_id)
        self.store.log_event(course.id, assignment.id, by, "audit_download", self.now(), ip=ip)
        return self.store.audit_log(course.id, assignment.id)

    # ---- automatic collection -------------------------------------------------------------
    def collect_due(self, groups_of: Callable[[str], set[str]] = lambda user: set()) -> list[Record]:
        """Hand in the latest autosave of every candidate whose time (and grace) is over."""
        now = self.now()
        collected = []
        for attempt in self.store.open_attempts():
            course = self.courses().get(attempt["course"])
            if course is None or course.kind != "exam":
                continue
            try:
                course, assignment = self.assignment(attempt["course"], attempt["assignment"])
            except ExamError:
                continue
            with self._candidate_lock(course.id, assignment.id, attempt["user"]):
                record = self._collect_one(course, assignment, attempt, groups_of, now)
            if record is not None:
                collected.append(record)
        return collected

    def _collect_one(self, course, assignment, attempt, groups_of, now) -> Record | None:
        user = attempt["user"]
        if self.store.final(course.id, assignment.id, user) is not None:  # handed in since the pass began
            return None
        try:
            st = candidate_state(course, assignment, self.store, user, groups_of(user), now)
        except ValueError as exc:  # a setting stored before today's checks: this candidate only waits
            log.error("cannot tell whether %s's time in %s/%s is over: %s; fix the setting (tremplin exam "
                      "grant or the session page) and the next pass collects them", user, course.id,
                      assignment.id, exc)
            return None
        if st.collect_at is None or now < st.collect_at:
            return None
        latest = self.store.last_record(course.id, assignment.id, user, ("snapshot",))
        files = self.store.read_folder(latest.folder if latest else attempt["folder"])
        record = self.store.add_record(course.id, assignment.id, user, "collection", files, now=now,
                                       state="on_time", actor="tremplin-exam")
        log.info("collected %s/%s of %s at its deadline (%s)", course.id, assignment.id, user,
                 "latest autosave" if latest else "no autosave: the copy handed out")
        self.queue_for_grading(assignment, record, files)
        return record

    # ---- feedback -------------------------------------------------------------------------
    def add_feedback(self, course_id, assignment_id, user, timestamp, files, by) -> None:
        """Feedback on one of ``user``'s hand-ins, named by its nbgrader timestamp (its ``timestamp.txt``).

        The timestamp becomes a folder name on the learner's side, so only the timestamp of a
        submission or collection of theirs is accepted.
        """
        course, assignment = self.assignment(course_id, assignment_id)
        check_user(user)
        stamps = {nbgrader_timestamp(r.server_time)
                  for r in self.store.records(course.id, assignment.id, user, ("submission", "collection"))}
        if timestamp not in stamps:
            raise NotFound(f"feedback for {user} in {course.id}/{assignment.id}: no hand-in of theirs has the "
                                  f"timestamp {timestamp[:80]!r}; collect their submission, then generate and release "
                                  "feedback from it (its timestamp.txt names it)")
        self.store.add_feedback(course.id, assignment.id, user, timestamp, files, by, self.now())

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
                    # (the candidate's own duration, extra time included: what starting would give them)
                    "minutes": round(st.timing.duration_for(st.accommodation).total_seconds() / 60),
                    "closed_reason": _closed_reason(st, final),
                    "last_snapshot": last.server_time.isoformat() if last else None,
                    "receipt": ({"chain": final.receipt.chain, "server_time": final.receipt.server_time,
                                 "kind": final.kind} if final else None),
                })
        return out

    # ---- coordinators -----------------------------------------------------------------------
    def candidates(self, course_id: str, assignment_id: str, members_of: Callable[[str], set[str]]) -> list[dict]:
        """One row per candidate of an exam (its hub group's members, course.toml's learners and whoever started
        it), by name: state, start, time left, last autosave, hand-in, lateness, accommodation. A few queries
        whatever the number of candidates (it was a dozen per candidate, and a hub request each);
        ``members_of(group)`` is asked for the course's group and for the groups granted an accommodation.
        A setting stored before today's checks is shown on the rows it concerns (``state`` ``error``), never
        stops the table."""
        course, assignment = self.assignment(course_id, assignment_id)
        now = self.now()
        outcomes = {user: (started, variant, final)
                    for user, started, variant, final in self.store.outcomes(course.id, assignment.id)}
        activity = self.store.activity(course.id, assignment.id)
        try:
            enrolled = members_of(course.student_group)
        except Unavailable:  # (the hub is busy: course.toml's learners and whoever started are still listed)
            log.warning("the hub did not say who is in %s; the table of %s/%s lists those who started",
                        course.student_group, course.id, assignment.id)
            enrolled = set()
        users = sorted(set(course.learners) | enrolled | set(outcomes))
        try:
            timing = timing_for(course, assignment, self.store) if course.kind == "exam" else None
            accommodation_of = self._accommodations(course.id, assignment.id, members_of)
        except ValueError as exc:
            return [{**UNKNOWN_ROW, "user": user, "state": "error", "error": str(exc)} for user in users]
        rows = []
        for user in users:
            started, variant, final = outcomes.get(user, (None, "", None))
            seen = activity.get(user, {})
            try:
                acc = accommodation_of(user)
                st = (exam_state(timing, acc, started, final is not None, now) if timing is not None
                      else CandidateState("submitted" if final else "open", False))
            except ValueError as exc:  # a setting stored before today's checks: shown on this row only
                rows.append({**UNKNOWN_ROW, "user": user, "state": "error", "error": str(exc)})
                continue
            late = seen.get("seconds_late")
            rows.append({
                "user": user, "state": st.state,
                "started": started.isoformat() if started else None,
                "deadline": st.deadline.isoformat() if st.deadline else None,
                # (while the candidate's time runs: once handed in or over, there is none left to show)
                "seconds_left": st.seconds_left if st.state == "running" else None,
                "last_snapshot": seen["last_snapshot"].isoformat() if seen.get("last_snapshot") else None,
                "snapshots": seen.get("snapshots", 0),
                "submitted": final.server_time.isoformat() if final else None,
                "final_kind": final.kind if final else None,
                "final_state": final.state if final else None,
                "late": late is not None, "seconds_late": late or 0,
                "ip": seen.get("ip", ""), "variant": variant,
                "accommodation": {"extra_minutes": acc.extra_minutes, "time_factor": acc.time_factor,
                                  "granted_by": acc.granted_by, "reason": acc.reason},
            })
        return rows

    def _accommodations(self, course_id: str, assignment_id: str,
                        members_of: Callable[[str], set[str]]) -> Callable[[str], Accommodation]:
        """The accommodation in force for each candidate of an exam (the rule of :func:`.policy.accommodation_in`),
        from one read of its grants; ``members_of`` is asked only for the granted groups. The function it returns
        raises ValueError for a grant stored before today's checks."""
        rows = self.store.accommodations(course_id, assignment_id)
        own: dict[str, list[dict]] = defaultdict(list)
        for row in rows:
            if row["target_kind"] == "user":
                own[row["target"]].append(row)
        group_rows = [r for r in rows if r["target_kind"] == "group"]
        groups_of: dict[str, set[str]] = defaultdict(set)  # (only the granted groups' members)
        for group in sorted({r["target"] for r in group_rows}):
            for name in members_of(group):
                groups_of[name].add(group)
        return lambda user: accommodation_in(own.get(user, []) + group_rows, user, groups_of.get(user, set()))

    def outcomes(self, course_id: str, assignment_id: str,
                 members_of: Callable[[str], set[str]]) -> dict[str, Outcome]:
        """Every candidate who started the exam, by user, in two queries (attempts with the hand-ins that
        count, accommodations), whatever the number of candidates. ``members_of(group)`` is asked only
        for the groups that were granted an accommodation. The exam need not be in ``courses/``
        any more: results outlive course folders.

        Raises:
            Conflict: an accommodation stored before today's checks cannot be applied (names the candidate).
        """
        accommodation_of = self._accommodations(course_id, assignment_id, members_of)
        out = {}
        for user, started, variant, final in self.store.outcomes(course_id, assignment_id):
            try:
                acc = accommodation_of(user)
            except ValueError as exc:
                raise Conflict(f"the accommodation of {user} in {course_id}/{assignment_id} cannot be applied: {exc}; "
                               "grant it again with valid values ('tremplin exam grant' or the session page)") from None
            out[user] = Outcome(user, variant, started, final, acc)
        return out

    def set_session(self, course_id, assignment_id, opens, closes, duration_minutes, grace_minutes, by) -> None:
        from .timing import ExamTiming, TimingError, Window, minutes

        course, assignment = self.assignment(course_id, assignment_id)
        if course.kind != "exam":
            raise Invalid(f"{course.id} is a {course.kind} course: only exams have sessions")
        try:
            ExamTiming(Window(opens, closes), minutes(duration_minutes, "duration_minutes"),
                       minutes(grace_minutes, "grace_minutes"))
        except TimingError as exc:
            raise Invalid(f"session of {course.id}/{assignment.id}: {exc}") from None
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
            raise Invalid(f"extra time for {target} in {course.id}/{assignment.id}: {exc}") from None
        if target_kind == "user" and target not in course.learners and course.student_group not in target_groups \
                and self.store.attempt(course.id, assignment.id, target) is None:
            raise NotFound(f"{target!r} is not a candidate of {course.id}; check the name")
        self.store.grant(course.id, assignment.id, target_kind, target, extra_minutes=extra_minutes,
                         time_factor=time_factor, opens=opens, closes=closes, by=by, reason=reason, now=self.now())

    def session_windows(self) -> list[dict]:
        """Every exam window a coordinator set (what the hub's home page shows instead of course.toml's)."""
        return [{"course": course, "assignment": assignment, "opens": opens.isoformat(), "closes": closes.isoformat()}
                for (course, assignment), (opens, closes) in sorted(self.store.session_windows().items())]

    def session_view(self, course_id: str, assignment_id: str) -> dict:
        course, assignment = self.assignment(course_id, assignment_id)
        timing = timing_for(course, assignment, self.store)
        saved = self.store.session(course.id, assignment.id)
        return {"opens": timing.window.opens.isoformat(), "closes": timing.window.closes.isoformat(),
                "duration_minutes": timing.duration.total_seconds() / 60,
                "grace_minutes": timing.grace.total_seconds() / 60,
                "set_by": saved["set_by"] if saved else "course.toml"}


def _closed_reason(st: CandidateState, final: Record | None) -> dict | None:
    if final is not None and final.kind == "submission":  # (the countdown adds when, in the candidate's zone)
        return _bilingual("Votre copie est remise. L'épreuve est terminée pour vous.",
                          "Your work is handed in. The exam is over for you.")
    if final is not None:
        return _bilingual("Temps écoulé : votre dernière sauvegarde a été remise automatiquement.",
                          "Time is up: your last autosave was handed in automatically.")
    if st.state == "ended":
        return _bilingual("Temps écoulé : votre travail va être remis automatiquement.",
                          "Time is up: your work is being handed in automatically.")
    return None
