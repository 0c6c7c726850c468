"""Exam servers started before their window opens: the ``tremplin-prestart`` service.

A server's start costs a few seconds of CPU (FACTS.md), so a hundred candidates who log in at the
opening minute would wait for a hundred starts on two cores. This hub-managed service starts their
servers in the minutes before instead: every ``ROUND_S`` seconds it looks for exam windows opening
within ``lead`` (the window a coordinator set in the exam service, else the course.toml's), and
starts the servers of that exam's candidates (the course's learner group on the hub, with the
rosters' enrolments and without their withdrawals: :meth:`HubGroups.members`, the exam service's
rule), ``at_once`` at a time, one after another, so the machine stays responsive:

* no new start while the load average is above twice the cores (it waits, a minute at most), or while less than
  ``reserve_bytes`` of memory is available (it stops for that round, and says how many are left);
* a candidate with a server running or starting is left alone; one whose server was started once
  for a window is not started again for it (the idle culler may stop it if they never come);
* candidates who never logged in get their hub user first (``POST /users/<name>``), which applies
  the rosters' groups (:meth:`TremplinAuthenticator.add_user`).

Each server starts its first kernel ahead too (:mod:`tremplin_lab.kernels`): the candidate's exam
notebook gets it when they open it. The starts go through the hub's start queue like any other
(:mod:`.startqueue`): a candidate who arrives early waits behind at most ``at_once`` of them. Keep
the idle culler's timeout longer than ``lead`` (README, "Running an exam session").
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tremplin_grading.courses import Course, load_courses

from .exam.errors import Unavailable

log = logging.getLogger("tremplin.prestart")

#: Seconds between two looks at the windows.
ROUND_S = 30
#: How long a start may take before the service gives up on it and goes on with the next.
START_TIMEOUT_S = 180
#: How long a window's starts may wait, in all, for a high load average to come down.
LOAD_PATIENCE_S = 60


@dataclass(frozen=True)
class Window:
    """An exam window about to open: whose servers to start."""

    course: str
    assignment: str
    opens: dt.datetime
    group: str

    def __str__(self) -> str:
        return f"{self.course}/{self.assignment} (opens {self.opens.isoformat()})"


def windows_opening(courses: list[Course], sessions: dict[tuple[str, str], dt.datetime], now: dt.datetime,
                    lead: dt.timedelta) -> list[Window]:
    """The exam windows that open within ``lead`` of ``now`` (not those already open), soonest first.

    ``sessions``: the opening a coordinator set for ``(course, assignment)``, which replaces the course.toml's.
    """
    found = []
    for course in courses:
        if course.kind != "exam":
            continue
        for a in course.assignments:
            opens = sessions.get((course.id, a.id), a.opens)
            if now < opens <= now + lead:
                found.append(Window(course.id, a.id, opens, course.student_group))
    return sorted(found, key=lambda w: (w.opens, w.course, w.assignment))


def available_memory() -> int:
    """Bytes of memory the kernel says can be used without swapping (MemAvailable)."""
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise OSError("no MemAvailable in /proc/meminfo")


class Prestarter:
    """One look at the windows and the starts it calls for (:meth:`round`); :meth:`run` repeats it."""

    def __init__(self, hub_api: str, token: str, exam_api: str, courses_dir: Path, members, *,
                 lead: dt.timedelta, at_once: int = 1, reserve_bytes: int = 2 << 30, max_load: float | None = None,
                 memory=available_memory, load=lambda: os.getloadavg()[0]):
        self.hub_api, self.exam_api = hub_api.rstrip("/"), exam_api.rstrip("/")
        self.courses_dir, self.members = courses_dir, members
        self.lead, self.at_once, self.reserve_bytes = lead, max(1, at_once), reserve_bytes
        self.max_load = max_load if max_load is not None else 2.0 * (os.cpu_count() or 1)
        self.memory, self.load = memory, load
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"
        self.started: set[tuple[Window, str]] = set()

    def sessions(self) -> dict[tuple[str, str], dt.datetime]:
        """The openings coordinators set, from the exam service (none when it does not answer: course.toml's)."""
        try:
            r = self.http.get(f"{self.exam_api}/api/sessions", timeout=10)
            r.raise_for_status()
            return {(w["course"], w["assignment"]): dt.datetime.fromisoformat(w["opens"]) for w in r.json()}
        except (requests.RequestException, ValueError, KeyError) as exc:
            log.warning("the exam service did not give the exam windows (%s); using the course.toml's", exc)
            return {}

    def round(self, now: dt.datetime | None = None) -> dict[Window, list[str]]:
        """Start the servers the windows opening now call for; what was started, by window."""
        now = now or dt.datetime.now(dt.timezone.utc)
        report = load_courses(self.courses_dir)
        for error in report.errors:
            log.warning("course not read: %s", error)
        done: dict[Window, list[str]] = {}
        for window in windows_opening(report.courses, self.sessions(), now, self.lead):
            done[window] = self.start_window(window)
        return done

    def start_window(self, window: Window) -> list[str]:
        candidates = sorted(self.members(window.group))
        todo = [name for name in candidates if (window, name) not in self.started]
        self._patience = LOAD_PATIENCE_S
        started: list[str] = []
        pending: dict[str, float] = {}
        for name in todo:
            self._wait_for_room(pending)
            if self.memory() < self.reserve_bytes:
                log.warning("%s: %d candidates' servers not started ahead: less than %d MiB of memory left; they "
                            "start when the candidates log in", window, len(todo) - len(started),
                            self.reserve_bytes >> 20)
                break
            try:
                if self._start(name):
                    pending[name] = time.monotonic()
                    started.append(name)
            except requests.RequestException as exc:  # (this one is tried again next round; the others go on)
                log.warning("%s: %s's server not started ahead (%s); trying again in %d s", window, name, exc, ROUND_S)
                continue
            self.started.add((window, name))
        while pending:
            self._settle(pending)
        if started:
            log.info("%s: %d servers started ahead, %d candidates", window, len(started), len(candidates))
        return started

    def _wait_for_room(self, pending: dict[str, float]) -> None:
        """Until fewer than ``at_once`` of ours are starting and the load average is under ``max_load`` (waiting
        for the load at most ``LOAD_PATIENCE_S`` per window: past that the starts go on, ``at_once`` at a time)."""
        while len(pending) >= self.at_once:
            self._settle(pending)
        while self.load() > self.max_load and self._patience > 0:
            began = time.monotonic()
            self._settle(pending)
            self._patience -= time.monotonic() - began

    def _start(self, name: str) -> bool:
        """Ask the hub for ``name``'s server (creating their hub user first); False when it runs already."""
        r = self.http.get(f"{self.hub_api}/users/{name}", timeout=30)
        if r.status_code == 404:
            self.http.post(f"{self.hub_api}/users/{name}", timeout=30).raise_for_status()
        elif r.status_code == 200 and r.json().get("servers", {}).get(""):
            return False
        else:
            r.raise_for_status()
        # (with its first kernel started ahead too: tremplin_lab.kernels)
        r = self.http.post(f"{self.hub_api}/users/{name}/server", json={"user_options": {"warm_kernel": True}},
                           timeout=60)
        if r.status_code == 400 and "already" in r.text:
            return False
        r.raise_for_status()
        return True

    def _settle(self, pending: dict[str, float]) -> None:
        """Wait a little, then drop from ``pending`` the servers that are up, failed or too slow."""
        time.sleep(1)
        for name, since in list(pending.items()):
            r = self.http.get(f"{self.hub_api}/users/{name}", timeout=30)
            server = r.json().get("servers", {}).get("") if r.status_code == 200 else None
            if not server or server.get("ready"):
                if not server:
                    log.warning("%s's server did not start ahead (see the hub's log); it starts when they log in",
                                name)
                del pending[name]
            elif time.monotonic() - since > START_TIMEOUT_S:
                log.warning("%s's server still starting after %d s; going on with the next", name, START_TIMEOUT_S)
                del pending[name]

    def run(self) -> None:
        while True:
            try:
                self.round()
            except (requests.RequestException, OSError, Unavailable) as exc:
                log.warning("this round of starts ahead stopped (%s); next round in %d s", exc, ROUND_S)
            time.sleep(ROUND_S)


def main(argv: list[str] | None = None) -> None:
    """The hub-managed service (JUPYTERHUB_API_URL and JUPYTERHUB_API_TOKEN come from the hub)."""
    from .exam.app import HubGroups
    from .layout import Layout, default_courses_dir, default_data_dir

    parser = argparse.ArgumentParser(prog="tremplin-prestart", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lead-minutes", type=float, default=20.0,
                        help="start the servers this many minutes before a window opens (default 20)")
    parser.add_argument("--at-once", type=int, default=max(1, (os.cpu_count() or 1) // 2),
                        help="servers starting at the same time (default half the cores)")
    parser.add_argument("--reserve-mib", type=int, default=2048,
                        help="stop starting while less memory than this is available (default 2048)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s tremplin-prestart] %(message)s")
    hub_api, token = os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"]
    layout = Layout(default_data_dir())
    groups = HubGroups(hub_api, token, ttl=0, rosters=layout)
    Prestarter(hub_api, token, os.environ["TREMPLIN_EXAM_URL"], default_courses_dir(), groups.members,
               lead=dt.timedelta(minutes=args.lead_minutes), at_once=args.at_once,
               reserve_bytes=args.reserve_mib << 20).run()


if __name__ == "__main__":
    sys.exit(main())
