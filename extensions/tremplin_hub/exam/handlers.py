"""The exam service's REST API: nbgrader's exchange over HTTP, exam sessions, receipts, audit.

Every request is authenticated by JupyterHub (a token in the ``Authorization`` header, or
the service's OAuth cookie for pages) and must carry the scope
``access:services!service=<this service>``. Who may do what is then decided here, on
every request, from the caller's hub groups:

* a learner of course C (group ``nbgrader-C``) lists, fetches, autosaves and submits as
  themselves only, and reads their own receipts and feedback;
* a grader of C (group ``formgrade-C``, or the formgrader service named C) releases,
  collects and returns feedback;
* a coordinator (group ``coordinators``), a grader of C or an admin runs C's sessions:
  window, extra time, candidates' table, audit log.

Files travel as base64 in JSON. Errors leave as JSON ``{"status", "message"}`` (one
``write_error``), in the words of :class:`~.store.StoreError`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

from jupyterhub.services.auth import HubOAuthenticated
from tornado import web

from .store import StoreError

MAX_FILE_BYTES = 20 * 1024 * 1024
COORDINATORS = "coordinators"


def encode_files(files: dict[str, bytes]) -> dict[str, str]:
    return {name: base64.b64encode(data).decode() for name, data in files.items()}


def decode_files(body: dict, what: str) -> dict[str, bytes]:
    raw = body.get("files")
    if not isinstance(raw, dict):
        raise StoreError(400, f"{what}: the body needs \"files\": {{name: base64 content}}")
    files, total = {}, 0
    for name, data in raw.items():
        try:
            files[name] = base64.b64decode(data, validate=True)
        except (binascii.Error, TypeError):
            raise StoreError(400, f"{what}: file {name!r} is not valid base64") from None
        total += len(files[name])
    if total > MAX_FILE_BYTES:
        raise StoreError(413, f"{what}: {total} bytes is over the {MAX_FILE_BYTES} bytes limit; remove large data "
                              "files from the assignment folder")
    return files


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """Authentication, permissions and JSON errors shared by every handler."""

    @property
    def service(self):
        return self.settings["exam_service"]

    @property
    def groups_of(self):
        return self.settings["groups_of"]

    def check_xsrf_cookie(self):
        # Token-authenticated API calls carry no cookie; cookie-authenticated page forms do carry _xsrf.
        if self.request.headers.get("Authorization", "").lower().startswith(("token ", "bearer ")):
            return
        return super().check_xsrf_cookie()

    def prepare(self):
        if self.current_user is None:
            raise web.HTTPError(403, "a JupyterHub token with access to this service is required (log in to the "
                                     "hub, or use your server's token)")

    # ---- who is asking ----------------------------------------------------------------------
    @property
    def me(self) -> str:
        return self.current_user["name"]

    @property
    def kind(self) -> str:
        return self.current_user.get("kind", "user")

    def my_groups(self) -> set[str]:
        if self.kind != "user":
            return set()
        return self.groups_of(self.me)

    def is_admin(self) -> bool:
        return self.kind == "user" and bool(self.current_user.get("admin"))

    def is_learner(self, course) -> bool:
        return self.kind == "user" and course.student_group in self.my_groups()

    def is_grader(self, course) -> bool:
        if self.kind == "service":
            return self.me == course.id
        return self.is_admin() or course.grader_group in self.my_groups()

    def is_coordinator(self, course) -> bool:
        return self.is_grader(course) or (self.kind == "user" and COORDINATORS in self.my_groups())

    def require(self, allowed: bool, what: str, course_id: str) -> None:
        if not allowed:
            raise web.HTTPError(403, f"{self.kind} {self.me} may not {what} in course {course_id}; ask its "
                                     "professor or the exam coordinator if you should")

    def require_self(self, user: str, course) -> None:
        if user != self.me:
            raise web.HTTPError(403, f"{self.me} cannot act as {user} in {course.id}: you can only hand in "
                                     "your own work")
        self.require(self.is_learner(course), "take this assignment", course.id)

    def client_ip(self) -> str:
        # Reported by the learner's server (which sees the browser); recorded for the audit log only.
        return (self.request.headers.get("X-Tremplin-Client-IP") or self.request.remote_ip or "")[:64]

    def body(self) -> dict:
        try:
            data = json.loads(self.request.body or b"{}")
        except json.JSONDecodeError as exc:
            raise StoreError(400, f"the request body is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise StoreError(400, "the request body must be a JSON object")
        return data

    def send(self, data, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(data, ensure_ascii=False, default=str))

    def _handle_request_exception(self, e):
        if isinstance(e, StoreError):
            self.send_error(e.status, reason=None, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "message", None) or getattr(exc, "log_message", None) or self._reason
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"status": status_code, "message": message}, ensure_ascii=False))


def record_json(record) -> dict:
    return {"id": record.id, "user": record.user, "kind": record.kind, "server_time": record.server_time.isoformat(),
            "timestamp": record.server_time.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC"),
            "state": record.state, "seconds_late": record.seconds_late, "receipt": json.loads(record.receipt.to_json())}


def state_json(st) -> dict:
    return {"state": st.state, "timed": st.timed, "started": st.started.isoformat() if st.started else None,
            "deadline": st.deadline.isoformat() if st.deadline else None, "seconds_left": st.seconds_left}


class HealthHandler(web.RequestHandler):
    def get(self):
        self.finish({"ok": True})


class CoursesHandler(BaseHandler):
    """GET: the ids of the courses the caller takes (or grades)."""

    def get(self):
        self.send(sorted(c.id for c in self.service.courses().values() if self.is_learner(c) or self.is_grader(c)))


class AssignmentsHandler(BaseHandler):
    """GET: a learner's view of a course (or, for its graders, the released assignments)."""

    def get(self, course_id):
        course = self.service.course(course_id)
        if self.is_grader(course) and self.get_argument("as", "") != "learner":
            self.send([{"course_id": course.id, "assignment_id": a, "status": "released"}
                       for a in self.service.store.released_assignments(course.id)])
            return
        self.require(self.is_learner(course), "list the assignments", course_id)
        self.send(self.service.listing(course.id, self.me, self.my_groups()))


class ReleaseHandler(BaseHandler):
    def post(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.require(self.is_grader(course), "release assignments", course_id)
        files = decode_files(self.body(), f"release of {course_id}/{assignment_id}")
        result = self.service.release(course.id, assignment_id, files, f"{self.kind}:{self.me}")
        self.send({"version": result["version"], "new": result["new"], "digest": result["digest"]})


class FetchHandler(BaseHandler):
    def post(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.require(self.is_learner(course), "fetch assignments", course_id)
        got = self.service.fetch(course.id, assignment_id, self.me, self.my_groups(), self.client_ip())
        self.send({"files": encode_files(got["files"]), "status": state_json(got["status"]),
                   "variant": got["variant"]})


class SnapshotHandler(BaseHandler):
    def post(self, course_id, assignment_id, user):
        course = self.service.course(course_id)
        self.require_self(user, course)
        body = self.body()
        record = self.service.snapshot(course.id, assignment_id, user, self.my_groups(),
                                       decode_files(body, f"autosave of {user}"), str(body.get("timestamp", "")),
                                       self.client_ip())
        self.send(record_json(record), 201)


class SubmissionsHandler(BaseHandler):
    def get(self, course_id, assignment_id):
        """Graders: the record that counts for each candidate (``?all=1``: every submission and collection)."""
        course = self.service.course(course_id)
        self.require(self.is_grader(course), "collect submissions", course_id)
        if self.get_argument("all", ""):
            records = self.service.store.records(course.id, assignment_id, None, ("submission", "collection"))
        else:
            records = self.service.final_records(course.id, assignment_id)
        self.send([record_json(r) for r in records])


class SubmitHandler(BaseHandler):
    def post(self, course_id, assignment_id, user):
        course = self.service.course(course_id)
        self.require_self(user, course)
        body = self.body()
        if body.get("student", user) != user:
            raise web.HTTPError(403, f"{self.me} cannot submit as {body.get('student')!r}")
        record = self.service.submit(course.id, assignment_id, user, self.my_groups(),
                                     decode_files(body, f"submission of {user}"), str(body.get("timestamp", "")),
                                     self.client_ip())
        self.send(record_json(record), 201)


class RecordFilesHandler(BaseHandler):
    def get(self, course_id, assignment_id, user, record_id):
        course = self.service.course(course_id)
        if user != self.me or not self.is_learner(course):
            self.require(self.is_grader(course), "read another candidate's work", course_id)
        record = self.service.store.record(int(record_id))
        if (record.course, record.assignment, record.user) != (course.id, assignment_id, user):
            raise StoreError(404, f"no record {record_id} of {user} in {course.id}/{assignment_id}")
        self.send({**record_json(record), "files": encode_files(self.service.store.read_folder(record.folder))})


class ReceiptsHandler(BaseHandler):
    """A candidate's whole chain of receipts, for ``tremplin receipt verify``."""

    def get(self, course_id, assignment_id, user):
        course = self.service.course(course_id)
        if user != self.me:
            self.require(self.is_coordinator(course), "read another candidate's receipts", course_id)
        self.send([json.loads(r.receipt.to_json()) for r in self.service.store.records(course.id, assignment_id, user)])


class FeedbackHandler(BaseHandler):
    def post(self, course_id, assignment_id, user):
        course = self.service.course(course_id)
        self.require(self.is_grader(course), "return feedback", course_id)
        body = self.body()
        timestamp = str(body.get("timestamp", ""))
        if not timestamp:
            raise StoreError(400, f"feedback for {user}: give the \"timestamp\" of the submission it grades")
        self.service.add_feedback(course.id, assignment_id, user, timestamp,
                                  decode_files(body, f"feedback for {user}"), f"{self.kind}:{self.me}")
        self.send({"ok": True}, 201)

    def get(self, course_id, assignment_id, user):
        course = self.service.course(course_id)
        if user != self.me or not self.is_learner(course):
            self.require(self.is_grader(course), "read another learner's feedback", course_id)
        self.send([{"timestamp": f["timestamp"], "released_at": f["released_at"].isoformat(),
                    "files": encode_files(self.service.store.read_folder(f["folder"]))}
                   for f in self.service.store.feedback(course.id, assignment_id, user)])


class MyExamsHandler(BaseHandler):
    """The caller's exams and their time left: what the countdown in JupyterLab shows."""

    def get(self):
        self.send({"server_time": self.service.now().isoformat(),
                   "exams": self.service.my_exams(self.me, self.my_groups()) if self.kind == "user" else []})


class CandidatesHandler(BaseHandler):
    def get(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.require(self.is_coordinator(course), "follow the exam session", course_id)
        self.send({"server_time": self.service.now().isoformat(),
                   "session": self.service.session_view(course.id, assignment_id),
                   "candidates": self.service.candidates(course.id, assignment_id, self.groups_of)})


def parse_time(value, what: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise StoreError(400, f"{what} {value!r} is not an ISO 8601 time; write e.g. 2027-03-15T08:00:00Z") from None
    if moment.tzinfo is None:
        raise StoreError(400, f"{what} {value!r} has no time zone; add Z for UTC or an offset such as +05:30")
    return moment


def number(body: dict, name: str, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, str):
        value = value.strip() or default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise StoreError(400, f"{name} {value!r} is not a number") from None


class SessionHandler(BaseHandler):
    def get(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.require(self.is_coordinator(course), "read the exam session", course_id)
        self.send(self.service.session_view(course.id, assignment_id))

    def put(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.require(self.is_coordinator(course), "change the exam session", course_id)
        body = self.body()
        self.service.set_session(course.id, assignment_id, parse_time(body.get("opens"), "opens"),
                                 parse_time(body.get("closes"), "closes"), number(body, "duration_minutes", 120),
                                 number(body, "grace_minutes", 2), self.me)
        self.send(self.service.session_view(course.id, assignment_id))


class AccommodationsHandler(BaseHandler):
    def get(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.require(self.is_coordinator(course), "read the accommodations", course_id)
        self.send(self.service.store.accommodations(course.id, assignment_id))

    def post(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.require(self.is_coordinator(course), "grant extra time", course_id)
        body = self.body()
        if bool(body.get("user")) == bool(body.get("group")):
            raise StoreError(400, "give either \"user\" (one candidate) or \"group\" (a hub group), not both")
        opens = parse_time(body["opens"], "opens") if body.get("opens") else None
        closes = parse_time(body["closes"], "closes") if body.get("closes") else None
        kind, target = ("user", body["user"]) if body.get("user") else ("group", body["group"])
        self.service.grant(course.id, assignment_id, kind, str(target), self.me,
                           extra_minutes=number(body, "extra_minutes", 0), time_factor=number(body, "time_factor", 1),
                           opens=opens, closes=closes, reason=str(body.get("reason", ""))[:500],
                           target_groups=self.groups_of(str(target)) if kind == "user" else set())
        self.send(self.service.candidates(course.id, assignment_id, self.groups_of), 201)


class AuditHandler(BaseHandler):
    def get(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.service.assignment(course_id, assignment_id)
        self.require(self.is_coordinator(course), "download the audit log", course_id)
        send_audit_log(self, course.id, assignment_id)


def send_audit_log(handler: BaseHandler, course: str, assignment: str) -> None:
    """Answer with the exam's audit log as JSON lines; the download itself is logged first."""
    service = handler.service
    service.store.log_event(course, assignment, handler.me, "audit_download", service.now(),
                            ip=handler.request.remote_ip or "")
    stamp = service.now().strftime("%Y%m%dT%H%M%SZ")
    handler.set_header("Content-Type", "application/x-ndjson; charset=utf-8")
    handler.set_header("Content-Disposition", f'attachment; filename="audit-{course}-{assignment}-{stamp}.jsonl"')
    handler.finish("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in service.store.audit_log(course, assignment)))


ID = r"([A-Za-z0-9][A-Za-z0-9_-]*)"
USER = r"([^/]+)"


def api_handlers(prefix: str) -> list[tuple]:
    a = f"{prefix}api/courses/{ID}/assignments/{ID}"
    return [
        (f"{prefix}api/health", HealthHandler),
        (f"{prefix}api/exams/mine", MyExamsHandler),
        (f"{prefix}api/courses", CoursesHandler),
        (f"{prefix}api/courses/{ID}/assignments", AssignmentsHandler),
        (f"{a}/release", ReleaseHandler),
        (f"{a}/fetch", FetchHandler),
        (f"{a}/snapshots/{USER}", SnapshotHandler),
        (f"{a}/submissions", SubmissionsHandler),
        (f"{a}/submissions/{USER}", SubmitHandler),
        (f"{a}/submissions/{USER}/([0-9]+)", RecordFilesHandler),
        (f"{a}/receipts/{USER}", ReceiptsHandler),
        (f"{a}/feedback/{USER}", FeedbackHandler),
        (f"{a}/candidates", CandidatesHandler),
        (f"{a}/session", SessionHandler),
        (f"{a}/accommodations", AccommodationsHandler),
        (f"{a}/audit", AuditHandler),
    ]
