"""Exam timing with an injected clock: on time, grace, late, accommodations, time zones, daylight saving."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tremplin_hub.exam.timing import Accommodation, ExamTiming, TimingError, Window, local

UTC = dt.timezone.utc


def at(hour, minute=0, second=0, day=15):
    return dt.datetime(2027, 3, day, hour, minute, second, tzinfo=UTC)


EXAM = ExamTiming(Window(at(8), at(20)), duration=dt.timedelta(hours=2), grace=dt.timedelta(minutes=2))
THIRD_MORE = Accommodation(time_factor=1.5, granted_by="coordinator", reason="medical certificate")


@pytest.mark.parametrize("submitted,state,ok,seconds", [
    (at(11, 0), "on_time", True, 0),
    (at(12, 0), "on_time", True, 0),           # exactly at the deadline
    (at(12, 1), "in_grace", True, 60),
    (at(12, 2), "in_grace", True, 120),
    (at(12, 2, 1), "late", False, 121),
    (at(15, 0), "late", False, 3 * 3600),
])
def test_submission_is_classified_by_the_service_clock(submitted, state, ok, seconds):
    verdict = EXAM.classify(started=at(10), submitted=submitted)
    assert (verdict.state, verdict.ok, verdict.seconds) == (state, ok, seconds)


def test_accommodation_applies_to_one_candidate_only():
    started, submitted = at(10), at(12, 30)
    assert EXAM.classify(started, submitted).state == "late"
    assert EXAM.classify(started, submitted, THIRD_MORE).state == "on_time"
    assert EXAM.deadline(started, THIRD_MORE) == at(13)
    assert EXAM.deadline(started, Accommodation(extra_minutes=25)) == at(12, 25)


def test_starting_late_in_the_window_leaves_less_time():
    assert EXAM.deadline(at(19)) == at(20)
    assert EXAM.time_left(at(19), now=at(19, 30)) == dt.timedelta(minutes=30)
    assert EXAM.time_left(at(19), now=at(21)) == dt.timedelta(0)


def test_extra_time_moves_the_close_of_the_window_by_the_same_amount():
    assert EXAM.window_for(THIRD_MORE).closes == at(21)
    assert EXAM.deadline(at(19), THIRD_MORE) == at(21)


def test_another_window_replaces_the_exams():
    other_day = Accommodation(window=Window(at(8, day=16), at(20, day=16)), granted_by="coordinator")
    assert not EXAM.can_start(at(9), other_day).ok
    assert EXAM.can_start(at(9, day=16), other_day).ok
    assert EXAM.can_start(at(9, day=16)).state == "closed"


@pytest.mark.parametrize("now,ok,state,delta", [
    (at(7, 59), False, "not_open", dt.timedelta(minutes=1)),
    (at(8), True, "open", dt.timedelta(hours=12)),
    (at(19, 59), True, "open", dt.timedelta(minutes=1)),
    (at(20), False, "closed", dt.timedelta(0)),
])
def test_can_start_only_inside_the_window(now, ok, state, delta):
    verdict = EXAM.can_start(now)
    assert (verdict.ok, verdict.state, verdict.delta) == (ok, state, delta)


def test_window_given_in_another_time_zone_is_the_same_instant():
    kolkata = ExamTiming(Window(dt.datetime(2027, 3, 15, 13, 30, tzinfo=ZoneInfo("Asia/Kolkata")),
                                dt.datetime(2027, 3, 16, 1, 30, tzinfo=ZoneInfo("Asia/Kolkata"))),
                         duration=dt.timedelta(hours=2))
    assert kolkata.window == EXAM.window
    assert local(at(8), "Asia/Kolkata").strftime("%H:%M %z") == "13:30 +0530"
    assert local(at(8), "America/Bogota").strftime("%d %H:%M %z") == "15 03:00 -0500"
    assert local(at(8), "Asia/Ho_Chi_Minh").strftime("%H:%M") == "15:00"


@pytest.mark.parametrize("zone,start_local,end_local", [
    # Europe/Paris springs forward at 02:00 on 28 March 2027: 01:30 + 2 h of exam ends at 04:30 local.
    ("Europe/Paris", dt.datetime(2027, 3, 28, 1, 30), "04:30 +0200"),
    # America/New_York falls back at 02:00 on 7 November 2027: 00:30 + 2 h ends at 01:30 local (EST).
    ("America/New_York", dt.datetime(2027, 11, 7, 0, 30), "01:30 -0500"),
])
def test_daylight_saving_change_during_an_exam_changes_no_duration(zone, start_local, end_local):
    start = start_local.replace(tzinfo=ZoneInfo(zone))
    exam = ExamTiming(Window(start - dt.timedelta(hours=1), start + dt.timedelta(hours=6)),
                      duration=dt.timedelta(hours=2))
    deadline = exam.deadline(start)
    assert deadline - start.astimezone(UTC) == dt.timedelta(hours=2)
    assert local(deadline, zone).strftime("%H:%M %z") == end_local
    assert exam.classify(start, deadline + dt.timedelta(seconds=1)).state == "in_grace"


@pytest.mark.parametrize("build,words", [
    (lambda: Window(dt.datetime(2027, 3, 15, 8), at(20)), "has no time zone"),
    (lambda: Window(at(20), at(8)), "closes"),
    (lambda: ExamTiming(Window(at(8), at(20)), duration=dt.timedelta(0)), "duration must be positive"),
    (lambda: Accommodation(extra_minutes=-5), "cannot be negative"),
    (lambda: Accommodation(time_factor=0.5), "between 1 and 4"),
    (lambda: local(at(8), "Mars/Olympus"), "unknown time zone"),
])
def test_bad_timing_is_refused_with_the_fix(build, words):
    with pytest.raises(TimingError, match=words):
        build()


def test_collection_happens_at_the_end_of_grace():
    assert EXAM.collect_at(at(10)) == at(12, 2)
    assert EXAM.collect_at(at(10), THIRD_MORE) == at(13, 2)
