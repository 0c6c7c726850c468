"""When may a candidate start, how long do they have, and was a submission on time?

Pure rules over aware UTC datetimes; the clock is an argument (``now``), so tests move
time instead of sleeping and the service decides with its own clock, never a candidate's.

* An exam has a *window* (opens, closes), a *duration* that starts when the candidate
  fetches the exam, and a *grace* period after the deadline during which a submission is
  still on time (network delays, a last save).
* An *accommodation* for one candidate (or their group) gives extra minutes and/or a time
  factor (1.33 for a third more time), and/or another window. Extra time also moves the
  window's close by the same amount, so a candidate who starts at the opening can use all
  of it; an explicit window replaces the exam's.
* The deadline is the earlier of (start + duration) and the window's close: starting late
  in the window leaves less time, as in Moodle.
* Everything is computed in UTC; a time zone only changes how times are *shown*
  (:func:`local`), so a daylight-saving change during an exam changes no duration.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = dt.timezone.utc


class TimingError(ValueError):
    """A window, duration or accommodation that makes no sense; the message says which and the fix."""


#: The longest exam, extra time or grace the rules accept: beyond, it is a typing mistake (and past
#: about 10^9 days, a number Python's dates cannot even hold).
MAX_MINUTES = {"duration_minutes": 7 * 24 * 60, "extra_minutes": 7 * 24 * 60, "grace_minutes": 24 * 60}


def minutes(value, name: str) -> dt.timedelta:
    """``value`` minutes as a duration, or a :class:`TimingError` saying why not (NaN, infinite, negative, absurd)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TimingError(f"{name} is {value!r}; give a number of minutes, e.g. 30")
    most = MAX_MINUTES[name]
    if value < 0:
        raise TimingError(f"{name} is {value:g} minutes; it cannot be negative")
    if value > most:
        raise TimingError(f"{name} is {value:g} minutes; give at most {most} ({most // 60} hours)")
    return dt.timedelta(minutes=value)


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None:
        raise TimingError(f"{name} ({value.isoformat()}) has no time zone; give it in UTC, e.g. "
                          f"{value.isoformat()}+00:00")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """When an exam can be taken (aware datetimes, stored in UTC)."""

    opens: dt.datetime
    closes: dt.datetime

    def __post_init__(self):
        object.__setattr__(self, "opens", _aware(self.opens, "opens"))
        object.__setattr__(self, "closes", _aware(self.closes, "closes"))
        if self.closes <= self.opens:
            raise TimingError(f"the window closes ({self.closes.isoformat()}) before it opens "
                              f"({self.opens.isoformat()}); set closes after opens")


@dataclass(frozen=True)
class Accommodation:
    """Extra time or another window for one candidate (or a group), granted by a named person."""

    extra_minutes: float = 0
    time_factor: float = 1.0
    window: Window | None = None
    granted_by: str = ""
    reason: str = ""

    def __post_init__(self):
        minutes(self.extra_minutes, "extra_minutes")
        if isinstance(self.time_factor, bool) or not isinstance(self.time_factor, (int, float)) \
                or not 1.0 <= self.time_factor <= 4.0:
            raise TimingError(f"time_factor is {self.time_factor}; use a factor between 1 and 4 (1.33 = a third more)")


NO_ACCOMMODATION = Accommodation()


@dataclass(frozen=True)
class ExamTiming:
    """The timing rules of one exam."""

    window: Window
    duration: dt.timedelta
    grace: dt.timedelta = dt.timedelta(minutes=2)

    def __post_init__(self):
        if self.duration <= dt.timedelta(0):
            raise TimingError("the duration must be positive, e.g. 2 hours")
        minutes(self.duration.total_seconds() / 60, "duration_minutes")
        minutes(self.grace.total_seconds() / 60, "grace_minutes")

    # ---- for one candidate --------------------------------------------------------------
    def duration_for(self, acc: Accommodation = NO_ACCOMMODATION) -> dt.timedelta:
        return self.duration * acc.time_factor + dt.timedelta(minutes=acc.extra_minutes)

    def window_for(self, acc: Accommodation = NO_ACCOMMODATION) -> Window:
        if acc.window is not None:
            return acc.window
        extra = self.duration_for(acc) - self.duration
        return Window(self.window.opens, self.window.closes + extra)

    def deadline(self, started: dt.datetime, acc: Accommodation = NO_ACCOMMODATION) -> dt.datetime:
        """When the candidate's time ends (before grace)."""
        started = _aware(started, "started")
        return min(started + self.duration_for(acc), self.window_for(acc).closes)

    def can_start(self, now: dt.datetime, acc: Accommodation = NO_ACCOMMODATION) -> "Verdict":
        now = _aware(now, "now")
        window = self.window_for(acc)
        if now < window.opens:
            return Verdict(False, "not_open", window.opens - now)
        if now >= window.closes:
            return Verdict(False, "closed", now - window.closes)
        return Verdict(True, "open", window.closes - now)

    def time_left(self, started: dt.datetime, now: dt.datetime,
                  acc: Accommodation = NO_ACCOMMODATION) -> dt.timedelta:
        """Time left before the deadline (zero once it has passed; grace is not shown to candidates)."""
        return max(dt.timedelta(0), self.deadline(started, acc) - _aware(now, "now"))

    def classify(self, started: dt.datetime, submitted: dt.datetime,
                 acc: Accommodation = NO_ACCOMMODATION) -> "Verdict":
        """On time, in grace (on time, noted), or late by how much — by the service's clock."""
        submitted = _aware(submitted, "submitted")
        deadline = self.deadline(started, acc)
        if submitted <= deadline:
            return Verdict(True, "on_time", dt.timedelta(0))
        if submitted <= deadline + self.grace:
            return Verdict(True, "in_grace", submitted - deadline)
        return Verdict(False, "late", submitted - deadline)

    def collect_at(self, started: dt.datetime, acc: Accommodation = NO_ACCOMMODATION) -> dt.datetime:
        """When the service collects the latest autosave as the submission: end of grace."""
        return self.deadline(started, acc) + self.grace


@dataclass(frozen=True)
class Verdict:
    """``ok``: allowed / on time; ``state``: a stable word for logs and exports; ``delta``: how far from the limit."""

    ok: bool
    state: str
    delta: dt.timedelta

    @property
    def seconds(self) -> int:
        return int(self.delta.total_seconds())


def local(moment: dt.datetime, zone: str) -> dt.datetime:
    """``moment`` shown in the IANA time zone ``zone`` (e.g. "Asia/Kolkata")."""
    try:
        return _aware(moment, "moment").astimezone(ZoneInfo(zone))
    except (KeyError, ValueError) as exc:
        raise TimingError(f"unknown time zone {zone!r}; use an IANA name such as 'Asia/Ho_Chi_Minh'") from exc
