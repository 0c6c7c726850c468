"""nbgrader's exchange over HTTP: ``ExchangeFactory`` plugins that talk to the exam service.

Configured in the learners' and graders' ``nbgrader_config.py``::

    c.ExchangeFactory.fetch_assignment = "tremplin_lab.exchange.FetchAssignment"
    ...

Learners' copies live in ``<server root>/<course>/<assignment>/`` as with nbgrader's
``path_includes_course``. Timestamps are never written by this side: the service's
clock stamps every submission, and its receipt is saved in ``receipts/``.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path

from nbgrader.exchange import abc
from traitlets import Bool

from tremplin_grading.autograde import paper_lock
from tremplin_grading.paths import is_plain_relative
from tremplin_grading.recorder import write_submission

from .client import ExamClient, ExamServiceError, decode, encode
from .transfer import TransferError, fetch_copy, gather, hand_in, save_feedback


def reported(start):
    """A plugin's ``start``, its :class:`~.transfer.TransferError` reported as nbgrader reports exchange errors."""

    @functools.wraps(start)
    def wrapper(self, *args, **kwargs):
        try:
            return start(self, *args, **kwargs)
        except TransferError as exc:
            self.fail(str(exc))

    return wrapper


class HttpExchange(abc.Exchange):
    """Shared by every plugin: the client, the current ids, errors worded for people."""

    @property
    def client(self) -> ExamClient:
        if not hasattr(self, "_client"):
            try:
                self._client = ExamClient()
            except ExamServiceError as exc:
                self.fail(exc.message)
        return self._client

    @property
    def course_id(self) -> str:
        if not self.coursedir.course_id:
            self.fail("no course id given: choose a course (--course)")
        return self.coursedir.course_id

    @property
    def assignment_id(self) -> str:
        if not self.coursedir.assignment_id:
            self.fail("no assignment id given")
        return self.coursedir.assignment_id

    @property
    def me(self) -> str:
        return os.environ.get("JUPYTERHUB_USER", "")

    def call(self, method, path, body=None, params=None):
        try:
            return self.client.call(method, path, body, params=params)
        except ExamServiceError as exc:
            self.fail(exc.message)

    def api(self, course=None, assignment=None) -> str:
        return self.client.assignment_path(course or self.course_id, assignment or self.assignment_id)

    def local_dir(self, course=None, assignment=None) -> Path:
        return Path(self.assignment_dir).resolve() / (course or self.course_id) / (assignment or self.assignment_id)

    # The abstract steps are not used: each plugin does its transfer in start().
    def init_src(self):
        pass

    def init_dest(self):
        pass

    def copy_files(self):
        pass


class FetchAssignment(abc.ExchangeFetchAssignment, HttpExchange):
    """The learner's own copy (personalized for exams with variants); for an exam this starts the time."""

    @reported
    def start(self):
        fetch_copy(self.client, Path(self.assignment_dir), self.course_id, self.assignment_id, self.log,
                   replace_missing_files=self.replace_missing_files)


class Submit(abc.ExchangeSubmit, HttpExchange):
    """Hand in the assignment folder; the service stamps it with its own clock and answers a receipt.

    An exam's hand-in ends it: the service takes it only ``confirmed``, which the hand-in button beside the
    countdown sets once the candidate confirmed (``tremplin/submit`` of :mod:`.serverext`); nbgrader's Submit
    button and command line leave it unset and are told where that button is.
    """

    confirmed = Bool(False, help="The candidate confirmed that this hand-in ends their exam.")

    @reported
    def start(self):
        record = hand_in(self.client, Path(self.assignment_dir), self.course_id, self.assignment_id, self.log,
                         confirmed=self.confirmed)
        self.timestamp = record["timestamp"]
        return record


class List(abc.ExchangeList, HttpExchange):
    """Released assignments, or the learner's submissions (``cached``), or for graders what is released."""

    def courses(self) -> list[str]:
        if self.coursedir.course_id:
            return [self.coursedir.course_id]
        return self.call("GET", "api/courses")

    def start(self):
        if self.remove:
            self.fail("releases and submissions are kept by the exam service and cannot be removed")
        if self.inbound:
            return self._inbound()
        out = []
        for course in self.courses():
            try:
                listed = self.client.call("GET", f"api/courses/{course}/assignments")
            except ExamServiceError as exc:
                if exc.status in (403, 404):  # not one of this person's courses: nothing to list, as nbgrader does
                    self.log.warning("%s", exc.message)
                    continue
                self.fail(exc.message)
            if listed and "state" not in listed[0]:  # a grader's view: what is released
                out.extend(listed)
                continue
            for item in listed:
                out.append(self._submitted(item) if self.cached else self._released(item))
        return [x for x in out if x]

    def _released(self, item: dict) -> dict:
        local = self.local_dir(item["course_id"], item["assignment_id"])
        fetched = local.is_dir()
        base = local if fetched else Path(item["course_id"]) / item["assignment_id"]
        return {
            "course_id": item["course_id"], "assignment_id": item["assignment_id"],
            "status": "fetched" if fetched else "released", "path": str(base),
            "notebooks": [{"notebook_id": nb[:-6], "path": str(base / nb)} for nb in item["notebooks"]],
            "tremplin": {k: item[k] for k in ("state", "timed", "deadline", "seconds_left", "title")},
        }

    def _submitted(self, item: dict) -> dict | None:
        if not item["submissions"]:
            return None
        local = self.local_dir(item["course_id"], item["assignment_id"])
        subs = []
        for sub in item["submissions"]:
            feedback_dir = local / "feedback" / sub["timestamp"]
            notebooks = []
            for nb in item["notebooks"]:
                html = feedback_dir / f"{nb[:-6]}.html"
                notebooks.append({"notebook_id": nb[:-6], "path": str(local / nb),
                                  "has_local_feedback": html.is_file(), "has_exchange_feedback": sub["has_feedback"],
                                  "local_feedback_path": str(html) if html.is_file() else None,
                                  "feedback_updated": False})
            has_local = bool(notebooks) and all(n["has_local_feedback"] for n in notebooks)
            subs.append({"course_id": item["course_id"], "assignment_id": item["assignment_id"],
                         "student_id": self.me, "timestamp": sub["timestamp"], "status": "submitted",
                         "path": str(local), "notebooks": notebooks, "has_local_feedback": has_local,
                         "has_exchange_feedback": sub["has_feedback"], "feedback_updated": False,
                         "local_feedback_path": str(feedback_dir) if has_local else None,
                         "tremplin": {"kind": sub["kind"], "state": sub["state"], "chain": sub["chain"]}})
        return {"course_id": item["course_id"], "student_id": self.me, "assignment_id": item["assignment_id"],
                "status": "submitted", "submissions": subs}

    def _inbound(self) -> list[dict]:
        out = []
        for course in self.courses():
            for aid in [a["assignment_id"] for a in self.call("GET", f"api/courses/{course}/assignments")]:
                if self.coursedir.assignment_id and aid != self.coursedir.assignment_id:
                    continue
                for rec in self.call("GET", f"{self.api(course, aid)}/submissions"):
                    out.append({"course_id": course, "assignment_id": aid, "student_id": rec["user"],
                                "timestamp": rec["timestamp"], "status": "submitted"})
        return out


class FetchFeedback(abc.ExchangeFetchFeedback, HttpExchange):
    @reported
    def start(self):
        local = self.local_dir()
        got = self.call("GET", f"{self.api()}/feedback/{self.me}")
        if not got:
            self.log.warning("no feedback yet for %s/%s", self.course_id, self.assignment_id)
        for fb in got:
            target = save_feedback(local, fb.get("timestamp"), decode(fb["files"]), dt.datetime.now(dt.timezone.utc))
            self.log.info("feedback of %s for %s/%s in %s", fb["timestamp"], self.course_id, self.assignment_id,
                          target)


class ReleaseAssignment(abc.ExchangeReleaseAssignment, HttpExchange):
    @reported
    def start(self):
        source = Path(self.coursedir.format_path(self.coursedir.release_directory, ".", self.assignment_id))
        if not source.is_dir():
            self.fail(f"{source} does not exist: generate {self.assignment_id} before releasing it")
        result = self.call("POST", f"{self.api()}/release", {"files": encode(gather(source))})
        self.log.info("released %s/%s as version %s%s", self.course_id, self.assignment_id, result["version"],
                      "" if result["new"] else " (unchanged)")


class Collect(abc.ExchangeCollect, HttpExchange):
    """Each candidate's submission that counts, into ``submitted/<student>/<assignment>/``."""

    def start(self):
        records = self.call("GET", f"{self.api()}/submissions")
        if self.coursedir.student_id not in ("", "*"):
            records = [r for r in records if r["user"] == self.coursedir.student_id]
        if not records:
            self.log.warning("no submission of %s in %s to collect", self.assignment_id, self.course_id)
        for rec in records:
            if not is_plain_relative(str(rec["user"])) or "/" in rec["user"]:
                self.fail(f"the service listed a submission of {str(rec['user'])[:80]!r}, which is not a user name; "
                          "nothing was collected")
            # The grading queue's recorder writes the papers it grades on arrival into the same folders:
            # one writer at a time, each replacing the folder in one rename.
            with paper_lock(Path(self.coursedir.root), self.assignment_id, rec["user"]):
                dest = Path(self.coursedir.format_path(self.coursedir.submitted_directory, rec["user"],
                                                       self.assignment_id))
                if dest.is_dir():
                    existing = self.coursedir.get_existing_timestamp(str(dest))
                    new = dt.datetime.fromisoformat(rec["server_time"])
                    if existing is not None and existing.replace(tzinfo=dt.timezone.utc) >= new or not self.update:
                        self.log.info("no newer submission to collect: %s %s", rec["user"], self.assignment_id)
                        continue
                got = self.call("GET", f"{self.api()}/submissions/{rec['user']}/{rec['id']}")
                try:
                    write_submission(Path(self.coursedir.root), rec["user"], self.assignment_id,
                                     decode(got["files"]), rec["timestamp"])
                except ValueError as exc:
                    self.fail(f"the service sent a submission of {rec['user']!r} that cannot be saved: {exc}")
            self.log.info("collected %s %s (%s, %s)", rec["user"], self.assignment_id, rec["kind"], rec["state"])


class ReleaseFeedback(abc.ExchangeReleaseFeedback, HttpExchange):
    def start(self):
        student = self.coursedir.student_id if self.coursedir.student_id not in ("", "*") else "*"
        pattern = self.coursedir.format_path(self.coursedir.feedback_directory, student, self.assignment_id)
        folders = sorted(Path("/").glob(pattern.lstrip("/"))) if pattern.startswith("/") else sorted(
            Path(".").glob(pattern))
        for folder in folders:
            user = folder.parent.name
            stamp_file = folder / "timestamp.txt"
            if not stamp_file.is_file():
                self.log.warning("no timestamp.txt in %s: feedback of %s not released", folder, user)
                continue
            files = {p.name: p.read_bytes() for p in folder.glob("*.html")}
            self.call("POST", f"{self.api()}/feedback/{user}",
                      {"timestamp": stamp_file.read_text().strip(), "files": encode(files)})
            self.log.info("released feedback of %s for %s", user, self.assignment_id)
