"""What the exam service decides for one candidate: their timing, their state, their verdict.

Glue between the course definitions (``course.toml``: opens, due, duration, grace), what
coordinators changed at run time (session settings and accommodations in the store) and
the pure rules of :mod:`.timing`. Only the service's clock (``now``) is ever used.

MOOC assignments are not timed: they can be fetched once released and resubmitted
without limit; a submission after ``due`` is kept and flagged late, as nbgrader does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tremplin_grading.courses import Assignment, Course

from .store import Store
from .timing import NO_ACCOMMODATION, Accommodation, ExamTiming, Window

UTC = dt.timezone.utc


def timing_for(course: Course, assignment: Assignment, store: Store) -> ExamTiming:
    """The exam's timing: the coordinator's latest session settings, else the course.toml's."""
    saved = store.session(course.id, assignment.id)
    if saved:
        return ExamTiming(Window(saved["opens"], saved["closes"]), dt.timedelta(seconds=saved["duration_s"]),
                          dt.timedelta(seconds=saved["grace_s"]))
    return ExamTiming(Window(assignment.opens, assignment.due), dt.timedelta(minutes=assignment.duration_minutes),
                      dt.timedelta(minutes=assignment.grace_minutes))


def accommodation_for(store: Store, course: str, assignment: str, user: str, groups: set[str]) -> Accommodation:
    """The accommodation in force for ``user``: their own latest one, else their groups' latest."""
    return accommodation_in(store.accommodations(course, assignment), user, groups)


def accommodation_in(rows: list[dict], user: str, groups: set[str]) -> Accommodation:
    """The rule of :func:`accommodation_for`, over an exam's accommodation rows (oldest first)."""
    mine, theirs = None, None
    for row in rows:
        if row["target_kind"] == "user" and row["target"] == user:
            mine = row
        elif row["target_kind"] == "group" and row["target"] in groups:
            theirs = row
    row = mine or theirs
    if row is None:
        return NO_ACCOMMODATION
    window = Window(row["opens"], row["closes"]) if row["opens"] and row["closes"] else None
    return Accommodation(row["extra_minutes"], row["time_factor"], window, row["granted_by"], row["reason"])


@dataclass(frozen=True)
class CandidateState:
    """Where one candidate stands in one assignment, by the service's clock.

    ``state``: ``not_open`` (window not open yet), ``closed`` (window over, never started),
    ``open`` (may fetch), ``running``, ``ended`` (time over, not submitted yet: it will be or
    was collected), ``submitted``; MOOC assignments are ``open`` or ``submitted``.
    """

    state: str
    timed: bool
    started: dt.datetime | None = None
    deadline: dt.datetime | None = None
    collect_at: dt.datetime | None = None
    seconds_left: int | None = None
    accommodation: Accommodation = NO_ACCOMMODATION
    timing: ExamTiming | None = None


def candidate_state(course: Course, assignment: Assignment, store: Store, user: str, groups: set[str],
                    now: dt.datetime) -> CandidateState:
    final = store.final(course.id, assignment.id, user)
    if course.kind != "exam":
        return CandidateState("open", False)
    timing = timing_for(course, assignment, store)
    acc = accommodation_for(store, course.id, assignment.id, user, groups)
    attempt = store.attempt(course.id, assignment.id, user)
    return exam_state(timing, acc, attempt["started_at"] if attempt else None, final is not None, now)


def exam_state(timing: ExamTiming, acc: Accommodation, started: dt.datetime | None, handed_in: bool,
               now: dt.datetime) -> CandidateState:
    """The rule of :func:`candidate_state` for an exam, over what the store said (for one or thousands)."""
    if started is None:
        verdict = timing.can_start(now, acc)
        state = "open" if verdict.ok else verdict.state
        return CandidateState(state, True, accommodation=acc, timing=timing)
    deadline = timing.deadline(started, acc)
    left = int(timing.time_left(started, now, acc).total_seconds())
    if handed_in:
        state = "submitted"
    else:
        state = "running" if now < deadline else "ended"
    return CandidateState(state, True, started, deadline, timing.collect_at(started, acc), left, acc, timing)


def verdict_for(course: Course, assignment: Assignment, store: Store, user: str, groups: set[str],
                now: dt.datetime) -> tuple[str, int]:
    """``(state, seconds_late)`` of a submission received now: on_time, in_grace or late."""
    if course.kind != "exam":
        if now <= assignment.due:
            return "on_time", 0
        return "late", int((now - assignment.due).total_seconds())
    st = candidate_state(course, assignment, store, user, groups, now)
    verdict = st.timing.classify(st.started, now, st.accommodation)
    return verdict.state, (verdict.seconds if verdict.state != "on_time" else 0)
