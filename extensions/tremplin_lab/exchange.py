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
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from nbgrader.exchange import abc
from nbgrader.exchange.abc.exchange import ExchangeError
from traitlets import Bool

from tremplin_grading.autograde import paper_lock
from tremplin_grading.paths import is_plain_relative
from tremplin_grading.recorder import write_submission

from .client import ExamClient, ExamServiceError, decode, encode

#: Never sent with a submission: nbgrader's own folders, our receipts, hidden files.
SKIPPED = {"feedback", "receipts", ".ipynb_checkpoints", "__pycache__"}
MAX_BYTES = 20 * 1024 * 1024


def gather(folder: Path) -> dict[str, bytes]:
    """The files of an assignment folder to hand in, by relative path."""
    files, total = {}, 0
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in SKIPPED or part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        total += path.stat().st_size
        if total > MAX_BYTES:
            raise ExchangeError(f"{folder} holds more than {MAX_BYTES // 1024 // 1024} MB; remove large data files "
                                "(the largest is probably a dataset you downloaded) and submit again")
        files[str(rel)] = path.read_bytes()
    return files


def write_new_folder(target: Path, files: dict[str, bytes]) -> None:
    """Create ``target`` with ``files``, all at once (a temporary folder renamed into place)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, data in files.items():
            if not is_plain_relative(name):
                raise ExchangeError(f"the service sent an unsafe file name {name!r}; nothing was written")
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        tmp.chmod(0o755)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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

    def start(self):
        target = self.local_dir()
        if target.exists() and not self.replace_missing_files:
            self.fail(f"{target} exists already: your copy of {self.course_id}/{self.assignment_id} was fetched "
                      "before. Rename that folder to fetch a fresh copy")
        got = self.call("POST", f"{self.api()}/fetch", {})
        files = decode(got["files"])
        if target.exists():
            for name, data in files.items():
                path = target / name
                if not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
                    self.log.info("restored missing file %s", path)
        else:
            write_new_folder(target, files)
        self.log.info("fetched %s/%s into %s", self.course_id, self.assignment_id, target)


class Submit(abc.ExchangeSubmit, HttpExchange):
    """Hand in the assignment folder; the service stamps it with its own clock and answers a receipt.

    An exam's hand-in ends it: the service takes it only ``confirmed``, which the hand-in button beside the
    countdown sets once the candidate confirmed (``tremplin/submit`` of :mod:`.serverext`); nbgrader's Submit
    button and command line leave it unset and are told where that button is.
    """

    confirmed = Bool(False, help="The candidate confirmed that this hand-in ends their exam.")

    def start(self):
        source = self.local_dir()
        if not source.is_dir():
            self.fail(f"{source} does not exist: fetch {self.course_id}/{self.assignment_id} first")
        files = gather(source)
        # The client's clock is sent only so the audit log shows when the learner's machine thought it was.
        claimed = dt.datetime.now(dt.timezone.utc).isoformat()
        record = self.call("POST", f"{self.api()}/submissions/{self.me}", {"files": encode(files), "timestamp": claimed,
                                                                       "confirmed": self.confirmed})
        receipts = source / "receipts"
        receipts.mkdir(exist_ok=True)
        stamp = record["server_time"].replace(":", "").replace("-", "")[:15]
        (receipts / f"{stamp}-submission.json").write_text(json.dumps(record["receipt"], indent=1))
        self.log.info("submitted %s/%s at %s (service time), %s; receipt %s", self.course_id, self.assignment_id,
                      record["timestamp"], record["state"], record["receipt"]["chain"])
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


#: nbgrader's timestamp of a hand-in, the only name a feedback folder may have (``2027-03-15 08:00:00.000000 UTC``).
FEEDBACK_NAME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})? UTC")


def save_feedback(assignment: Path, timestamp, files: dict[str, bytes], now: dt.datetime) -> Path:
    """Write one feedback into ``assignment/feedback/<timestamp>/``, never anywhere else; return that folder.

    ``timestamp`` comes from the service and becomes a folder name, so it must be an nbgrader
    timestamp, nothing more. A folder of that name already there (an earlier version of the
    feedback, perhaps with the learner's notes) is renamed aside, never deleted.
    """
    if not isinstance(timestamp, str) or not FEEDBACK_NAME.fullmatch(timestamp):
        raise ExchangeError(f"the service sent feedback named {str(timestamp)[:80]!r}, which is not a submission "
                            "timestamp; nothing was written (tell the course's professor)")
    folder = assignment / "feedback"
    target = folder / timestamp
    if target.is_symlink() or target.exists():
        aside = folder / f"{timestamp} (before {now.strftime('%Y-%m-%d %H%M%S')})"
        os.rename(target, aside)
    write_new_folder(target, files)
    return target


class FetchFeedback(abc.ExchangeFetchFeedback, HttpExchange):
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
