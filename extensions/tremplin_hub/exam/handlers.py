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

Files travel as base64 in JSON. The core raises the errors of :mod:`.errors`; they are
mapped to HTTP statuses here, once (:data:`HTTP_STATUS`), and leave as JSON
``{"status", "message"}`` (one ``write_error``); pages show the same message in HTML.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import math

from jupyterhub.services.auth import HubOAuthenticated, UserNotAllowed
from tornado import web
from tornado.iostream import StreamClosedError

from . import bodies, errors
from .core import nbgrader_timestamp, table_view
from .errors import ExamError, Invalid, TooLarge
from .store import check_relative, check_user

#: The one place where the exam service's refusals become HTTP statuses.
HTTP_STATUS: dict[type[ExamError], int] = {
    errors.Invalid: 400, errors.Forbidden: 403, errors.NotFound: 404, errors.Conflict: 409, errors.Gone: 410,
    errors.TooLarge: 413, errors.TooSoon: 429, errors.Broken: 500, errors.Unavailable: 503,
}


def http_status(exc: ExamError) -> int:
    return next(status for kind, status in HTTP_STATUS.items() if isinstance(exc, kind))

MAX_FILE_BYTES = 20 * 1024 * 1024  # the files of one hand-in, autosave or release, together
MAX_FILES = 500                    # files in one of them
#: The largest request body: the files in base64 (4/3) and the JSON around them. Counted as it
#: arrives, before anything is decoded; the HTTP server closes a connection that sends more.
MAX_BODY_BYTES = MAX_FILE_BYTES * 4 // 3 + 1024 * 1024
#: The largest body of any other request (JSON or a page's form), whoever sends it: tornado reads
#: and parses those on the event loop before the caller is known (a 27 MB form took 0.5 s).
MAX_OTHER_BODY_BYTES = 64 * 1024
COORDINATORS = "coordinators"


def encode_files(files: dict[str, bytes]) -> dict[str, str | bodies.Base64Text]:
    """Files for an answer (:func:`.bodies.dumps` writes a large one out a step at a time)."""
    return {name: bodies.b64encode(data) for name, data in files.items()}


def decode_files(body: dict, what: str) -> dict[str, bytes]:
    raw = body.get("files")
    if not isinstance(raw, dict):
        raise Invalid(f"{what}: the body needs \"files\": {{name: base64 content}}")
    if len(raw) > MAX_FILES:
        raise TooLarge(f"{what}: {len(raw)} files is over the limit of {MAX_FILES}; remove generated or "
                       "downloaded files from the assignment folder",
                       fr=f"{len(raw)} fichiers, au-delà de la limite de {MAX_FILES} : retirez du dossier du devoir "
                          "les fichiers générés ou téléchargés")
    files, total = {}, 0
    for name, data in raw.items():
        check_relative(name)
        if not isinstance(data, (str, memoryview)):  # (memoryview: a long one, from bodies.loads)
            raise Invalid(f"{what}: file {name!r} is not base64 text")
        total += len(data) * 3 // 4  # (its decoded size, known before decoding)
        if total > MAX_FILE_BYTES:
            raise TooLarge(f"{what}: more than {MAX_FILE_BYTES // 1024 // 1024} MB of files; remove large data "
                           "files from the assignment folder",
                           fr=f"plus de {MAX_FILE_BYTES // 1024 // 1024} Mo de fichiers : retirez du dossier du "
                              "devoir les gros fichiers de données")
        try:
            files[name] = bodies.b64decode(data)  # (in steps: the event loop is never kept waiting)
        except ValueError:  # (binascii.Error, and text that is not even ASCII)
            raise Invalid(f"{what}: file {name!r} is not valid base64") from None
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
        # A request the hub authenticated by its token carries no cookie, so no XSRF risk; any other
        # (cookie, or a token the hub refused, then the cookie) must carry _xsrf like a page form.
        # Tornado calls this before prepare(), where the caller is not known yet: the check is then
        # made at the end of the (asynchronous) authentication. The hub's client calls it too, from
        # within that authentication (for a cookie): then it is made at once.
        if not hasattr(self, "_cached_hub_user"):
            self._xsrf_pending = True
            return None
        if getattr(self, "_token_authenticated", False):
            return None
        return super().check_xsrf_cookie()

    async def authenticate(self) -> None:
        """Who is asking, asked of the hub without blocking the event loop (the hub's client caches tokens)."""
        model = await self.hub_auth.get_user(self, sync=False)
        user = None
        if model:
            try:
                user = self.check_hub_user(model)
            except UserNotAllowed:
                user = None
        self._hub_auth_user_cache = user
        self.current_user = user
        if user is not None and getattr(self, "_xsrf_pending", False) \
                and not getattr(self, "_token_authenticated", False):  # (no user: prepare's 403 says why)
            self._xsrf_pending = False
            super().check_xsrf_cookie()

    async def prepare(self):
        await self.authenticate()
        if self.current_user is None:
            raise web.HTTPError(403, "a JupyterHub token with access to this service is required (log in to the "
                                     "hub, or use your server's token)")
        if "user" in self.path_kwargs:  # decoded by tornado after routing: '%2F' is a '/' by now
            check_user(self.path_kwargs["user"])

    async def run(self, work, *args):
        """``work(*args)`` on the service's threads: database, files and group lookups never block the loop."""
        return await asyncio.get_running_loop().run_in_executor(self.settings["executor"], work, *args)

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
        return self.kind == "user" and ("admins" in self.my_groups() or bool(self.current_user.get("admin")))

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
        """The JSON body (on the service's threads); a large one is parsed in steps (:mod:`.bodies`)."""
        data = bodies.loads((self._body if self._streamed() else self.request.body) or b"{}")
        if not isinstance(data, dict):
            raise Invalid("the request body must be a JSON object")
        return data

    def _streamed(self) -> bool:
        return False  # (StreamedBody: the body came in chunks)

    def accepts_gzip(self) -> bool:
        accepted = self.request.headers.get("Accept-Encoding", "")
        return bool(self.settings.get("compress_response")) and "gzip" in accepted

    async def send(self, pieces: list[bytes], gzipped: bool, status: int = 200) -> None:
        """An answer that :func:`.bodies.dumps` made on the service's threads: the loop only writes it out,
        a piece at a time (tornado would join the pieces into one buffer, and gzip it, on the loop)."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        if gzipped:
            self.set_header("Content-Encoding", "gzip")  # (so tornado does not compress it again)
        self.set_header("Content-Length", str(sum(map(len, pieces))))
        try:
            for piece in pieces[:-1]:
                self.write(piece)
                await self.flush()
            await self.finish(pieces[-1] if pieces else b"")
        except StreamClosedError:
            pass  # the caller left; nothing to tell anyone

    def _handle_request_exception(self, e):
        if isinstance(e, ExamError):
            if isinstance(e, errors.TooSoon):
                self.set_header("Retry-After", "2")
            self.send_error(http_status(e), reason=None, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)

    def write_error(self, status_code, **kwargs):
        self.set_header("Content-Type", "application/json; charset=utf-8")
        if getattr(self, "_stream_request_body", False) and self.request.method in ("POST", "PUT") \
                and not getattr(self, "_body_complete", False):
            # Refused before its body was read: tornado drops the connection after this answer,
            # and a proxy that kept it for the next request would get a reset (its client a 503).
            self.set_header("Connection", "close")
        self.finish(json.dumps({"status": status_code, "message": error_message(self, kwargs)}, ensure_ascii=False))


def error_message(handler: web.RequestHandler, kwargs: dict) -> str:
    """What a refused request is told: the exam error's words (French too when it has them), else tornado's."""
    exc = kwargs.get("exc_info", (None, None, None))[1]
    if isinstance(exc, ExamError):
        return exc.bilingual()
    return getattr(exc, "log_message", None) or handler._reason


def answered_on_threads(method):
    """A handler method written as plain code that returns ``(data, status)``: run on the service's threads
    (:meth:`BaseHandler.run`) with its answer's JSON and gzip (:func:`.bodies.dumps`), sent from the event loop."""
    @functools.wraps(method)
    async def on_threads(self, *args, **kwargs):
        gzip = self.accepts_gzip()

        def work():
            data, status = method(self, *args, **kwargs)
            return (*bodies.dumps(data, gzip), status)

        await self.send(*await self.run(work))

    return on_threads


class StreamedBody:
    """For handlers that take files: the body is counted as it arrives, and refused past :data:`MAX_BODY_BYTES`.

    A declared ``Content-Length`` over the limit is answered (413, JSON) before a byte of the
    body is read, and only after the caller is authenticated; a chunked body is cut by the
    HTTP server at the same size. Until the caller is known, the server's limit is that of
    any other request (:data:`MAX_OTHER_BODY_BYTES`); it is raised here, for them.
    """

    async def prepare(self):
        await super().prepare()
        declared = self.request.headers.get("Content-Length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            raise TooLarge(f"the request body ({declared} bytes) is over the {MAX_BODY_BYTES // 1024 // 1024} "
                           f"MB limit: hand in at most {MAX_FILE_BYTES // 1024 // 1024} MB of files",
                           fr=f"envoi trop gros : remettez au plus {MAX_FILE_BYTES // 1024 // 1024} Mo de fichiers")
        self.request.connection.set_max_body_size(MAX_BODY_BYTES)
        self._body, self._received = bytearray(), 0

    def data_received(self, chunk: bytes) -> None:  # (then the method runs, with _body_complete)
        self._received += len(chunk)
        if self._received <= MAX_BODY_BYTES:
            self._body += chunk  # (one buffer: no 27 MB join later, GIL held)

    def _streamed(self) -> bool:
        self._body_complete = True
        if self._received > MAX_BODY_BYTES:
            raise TooLarge(f"the request body is over the {MAX_BODY_BYTES // 1024 // 1024} MB limit: hand in at "
                           f"most {MAX_FILE_BYTES // 1024 // 1024} MB of files",
                           fr=f"envoi trop gros : remettez au plus {MAX_FILE_BYTES // 1024 // 1024} Mo de fichiers")
        return True


def record_json(record) -> dict:
    return {"id": record.id, "user": record.user, "kind": record.kind, "server_time": record.server_time.isoformat(),
            "timestamp": nbgrader_timestamp(record.server_time),
            "state": record.state, "seconds_late": record.seconds_late, "receipt": json.loads(record.receipt.to_json())}


def state_json(st) -> dict:
    return {"state": st.state, "timed": st.timed, "started": st.started.isoformat() if st.started else None,
            "deadline": st.deadline.isoformat() if st.deadline else None, "seconds_left": st.seconds_left}


class HealthHandler(web.RequestHandler):
    def get(self):
        self.finish({"ok": True})


class CoursesHandler(BaseHandler):
    """GET: the ids of the courses the caller takes (or grades)."""

    @answered_on_threads
    def get(self):
        return sorted(c.id for c in self.service.courses().values() if self.is_learner(c) or self.is_grader(c)), 200


class AssignmentsHandler(BaseHandler):
    """GET: a learner's view of a course (or, for its graders, the released assignments)."""

    @answered_on_threads
    def get(self, course_id):
        course = self.service.course(course_id)
        if self.is_grader(course) and self.get_argument("as", "") != "learner":
            return [{"course_id": course.id, "assignment_id": a, "status": "released"}
                    for a in self.service.released(course.id)], 200
        self.require(self.is_learner(course), "list the assignments", course_id)
        return self.service.listing(course.id, self.me, self.my_groups()), 200


@web.stream_request_body
class ReleaseHandler(StreamedBody, BaseHandler):
    @answered_on_threads
    def post(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.require(self.is_grader(course), "release assignments", course_id)
        files = decode_files(self.body(), f"release of {course_id}/{assignment_id}")
        result = self.service.release(course.id, assignment_id, files, f"{self.kind}:{self.me}")
        return {"version": result["version"], "new": result["new"], "digest": result["digest"]}, 200


class FetchHandler(BaseHandler):
    @answered_on_threads
    def post(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.require(self.is_learner(course), "fetch assignments", course_id)
        got = self.service.fetch(course.id, assignment_id, self.me, self.my_groups(), self.client_ip(),
                                 start=self.body().get("start") is True)
        return {"files": encode_files(got["files"]), "status": state_json(got["status"]),
                "variant": got["variant"]}, 200


@web.stream_request_body
class SnapshotHandler(StreamedBody, BaseHandler):
    @answered_on_threads
    def post(self, course_id, assignment_id, user):
        course = self.service.course(course_id)
        self.require_self(user, course)
        body = self.body()
        record = self.service.snapshot(course.id, assignment_id, user, self.my_groups(),
                                       decode_files(body, f"autosave of {user}"), str(body.get("timestamp", "")),
                                       self.client_ip())
        return record_json(record), 201


class SubmissionsHandler(BaseHandler):
    @answered_on_threads
    def get(self, course_id, assignment_id):
        """Graders: the record that counts for each candidate (``?all=1``: every submission and collection)."""
        course = self.service.course(course_id)
        self.require(self.is_grader(course), "collect submissions", course_id)
        if self.get_argument("all", ""):
            records = self.service.hand_ins(course.id, assignment_id)
        else:
            records = self.service.final_records(course.id, assignment_id)
        return [record_json(r) for r in records], 200


@web.stream_request_body
class SubmitHandler(StreamedBody, BaseHandler):
    @answered_on_threads
    def post(self, course_id, assignment_id, user):
        course = self.service.course(course_id)
        self.require_self(user, course)
        body = self.body()
        if body.get("student", user) != user:
            raise web.HTTPError(403, f"{self.me} cannot submit as {body.get('student')!r}")
        record = self.service.submit(course.id, assignment_id, user, self.my_groups(),
                                     decode_files(body, f"submission of {user}"), str(body.get("timestamp", "")),
                                     self.client_ip(), confirmed=body.get("confirmed") is True)
        return record_json(record), 201


class RecordFilesHandler(BaseHandler):
    @answered_on_threads
    def get(self, course_id, assignment_id, user, record_id):
        course = self.service.course(course_id)
        if user != self.me or not self.is_learner(course):
            self.require(self.is_grader(course), "read another candidate's work", course_id)
        record, files = self.service.record_files(course.id, assignment_id, user, int(record_id))
        return {**record_json(record), "files": encode_files(files)}, 200


class ReceiptsHandler(BaseHandler):
    """A candidate's whole chain of receipts, for ``tremplin receipt verify``."""

    @answered_on_threads
    def get(self, course_id, assignment_id, user):
        course = self.service.course(course_id)
        if user != self.me:
            self.require(self.is_coordinator(course), "read another candidate's receipts", course_id)
        chain = self.service.receipt_chain(course.id, assignment_id, user)
        return [json.loads(r.receipt.to_json()) for r in chain], 200


@web.stream_request_body
class FeedbackHandler(StreamedBody, BaseHandler):
    @answered_on_threads
    def post(self, course_id, assignment_id, user):
        course = self.service.course(course_id)
        self.require(self.is_grader(course), "return feedback", course_id)
        body = self.body()
        timestamp = str(body.get("timestamp", ""))
        if not timestamp:
            raise Invalid(f"feedback for {user}: give the \"timestamp\" of the submission it grades")
        self.service.add_feedback(course.id, assignment_id, user, timestamp,
                                  decode_files(body, f"feedback for {user}"), f"{self.kind}:{self.me}")
        return {"ok": True}, 201

    @answered_on_threads
    def get(self, course_id, assignment_id, user):
        course = self.service.course(course_id)
        if user != self.me or not self.is_learner(course):
            self.require(self.is_grader(course), "read another learner's feedback", course_id)
        return [{"timestamp": f["timestamp"], "released_at": f["released_at"].isoformat(),
                 "files": encode_files(f["files"])}
                for f in self.service.feedback_files(course.id, assignment_id, user)], 200


class MyExamsHandler(BaseHandler):
    """The caller's exams and their time left: what the countdown in JupyterLab shows."""

    @answered_on_threads
    def get(self):
        return {"server_time": self.service.now().isoformat(),
                "exams": self.service.my_exams(self.me, self.my_groups()) if self.kind == "user" else []}, 200


class CandidatesHandler(BaseHandler):
    """GET: the candidates' table (:func:`.core.table_view`): ``?q=`` (name or IP), ``?state=``, ``?page=`` and
    ``?per_page=`` (all rows when it is not given), with how many are in each state."""

    @answered_on_threads
    def get(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.require(self.is_coordinator(course), "follow the exam session", course_id)
        view = table_view(self.service.candidates(course.id, assignment_id, self.groups_of.members),
                          self.get_argument("q", ""), self.get_argument("state", ""),
                          whole_number(self.get_argument("page", ""), "page", 1),
                          whole_number(self.get_argument("per_page", ""), "per_page", 0))
        return {"server_time": self.service.now().isoformat(),
                "session": self.service.session_view(course.id, assignment_id), **view}, 200


def parse_time(value, what: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{what} {value!r} is not an ISO 8601 time; write e.g. 2027-03-15T08:00:00Z",
                      fr=f"{what} {value!r} n'est pas une heure ISO 8601 ; écrivez par exemple 2027-03-15T08:00:00Z") \
            from None
    if moment.tzinfo is None:
        raise Invalid(f"{what} {value!r} has no time zone; add Z for UTC or an offset such as +05:30",
                      fr=f"{what} {value!r} n'a pas de fuseau horaire ; ajoutez Z pour UTC ou un décalage comme +05:30")
    return moment


def number(body: dict, name: str, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, str):
        value = value.strip() or default
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        raise Invalid(f"{name} {value!r} is not a number; give minutes (or a factor) such as 30",
                      fr=f"{name} {value!r} n'est pas un nombre ; donnez des minutes (ou un facteur), par exemple 30") \
            from None
    if not math.isfinite(result):
        raise Invalid(f"{name} {value!r} is not a finite number; give minutes (or a factor) such as 30",
                      fr=f"{name} {value!r} n'est pas un nombre fini ; donnez des minutes (ou un facteur), "
                         "par exemple 30")
    return result


def whole_number(value: str, name: str, default: int) -> int:
    """A whole number from a query argument, ``default`` when it is empty (the message names the argument)."""
    if not value.strip():
        return default
    try:
        return int(value)
    except ValueError:
        raise Invalid(f"{name}={value[:20]!r} is not a whole number; give one such as 2",
                      fr=f"{name}={value[:20]!r} n'est pas un nombre entier ; donnez-en un, par exemple 2") from None


class SessionWindowsHandler(BaseHandler):
    """GET: the exam windows coordinators set, for anyone the hub authenticated (learners see them on the
    hub's home page; the hub reads them with its sync token)."""

    @answered_on_threads
    def get(self):
        return self.service.session_windows(), 200


class SessionHandler(BaseHandler):
    @answered_on_threads
    def get(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.require(self.is_coordinator(course), "read the exam session", course_id)
        return self.service.session_view(course.id, assignment_id), 200

    @answered_on_threads
    def put(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.require(self.is_coordinator(course), "change the exam session", course_id)
        body = self.body()
        self.service.set_session(course.id, assignment_id, parse_time(body.get("opens"), "opens"),
                                 parse_time(body.get("closes"), "closes"), number(body, "duration_minutes", 120),
                                 number(body, "grace_minutes", 2), self.me)
        return self.service.session_view(course.id, assignment_id), 200


class AccommodationsHandler(BaseHandler):
    @answered_on_threads
    def get(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.require(self.is_coordinator(course), "read the accommodations", course_id)
        return self.service.accommodations(course.id, assignment_id), 200

    @answered_on_threads
    def post(self, course_id, assignment_id):
        course = self.service.course(course_id)
        self.require(self.is_coordinator(course), "grant extra time", course_id)
        body = self.body()
        if bool(body.get("user")) == bool(body.get("group")):
            raise Invalid("give either \"user\" (one candidate) or \"group\" (a hub group), not both")
        opens = parse_time(body["opens"], "opens") if body.get("opens") else None
        closes = parse_time(body["closes"], "closes") if body.get("closes") else None
        kind, target = ("user", body["user"]) if body.get("user") else ("group", body["group"])
        self.service.grant(course.id, assignment_id, kind, str(target), self.me,
                           extra_minutes=number(body, "extra_minutes", 0), time_factor=number(body, "time_factor", 1),
                           opens=opens, closes=closes, reason=str(body.get("reason", ""))[:500],
                           target_groups=self.groups_of(str(target)) if kind == "user" else set())
        return self.service.candidates(course.id, assignment_id, self.groups_of.members), 201


class AuditHandler(BaseHandler):
    async def get(self, course_id, assignment_id):
        def work():
            course = self.service.course(course_id)
            self.service.assignment(course_id, assignment_id)
            self.require(self.is_coordinator(course), "download the audit log", course_id)
            return audit_log_file(self, course.id, assignment_id)

        send_audit_log(self, *await self.run(work))


def audit_log_file(handler: BaseHandler, course: str, assignment: str) -> tuple[str, str]:
    """The exam's audit log as JSON lines, and its file name; the download itself is logged first (a thread's work)."""
    service = handler.service
    entries = service.audit_log(course, assignment, handler.me, handler.request.remote_ip or "")
    stamp = service.now().strftime("%Y%m%dT%H%M%SZ")
    text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
    return f"audit-{course}-{assignment}-{stamp}.jsonl", text


def send_audit_log(handler: BaseHandler, filename: str, text: str) -> None:
    handler.set_header("Content-Type", "application/x-ndjson; charset=utf-8")
    handler.set_header("Content-Disposition", f'attachment; filename="{filename}"')
    handler.finish(text)


ID_CHARS = r"[A-Za-z0-9][A-Za-z0-9_-]*"
ID = f"({ID_CHARS})"
COURSE = f"(?P<course_id>{ID_CHARS})"
# Any segment: the name is checked after tornado decodes it (BaseHandler.prepare), with a message.
USER = r"(?P<user>[^/]+)"


def api_handlers(prefix: str) -> list[tuple]:
    a = f"{prefix}api/courses/{COURSE}/assignments/(?P<assignment_id>{ID_CHARS})"
    return [
        (f"{prefix}api/health", HealthHandler),
        (f"{prefix}api/exams/mine", MyExamsHandler),
        (f"{prefix}api/courses", CoursesHandler),
        (f"{prefix}api/sessions", SessionWindowsHandler),
        (f"{prefix}api/courses/{COURSE}/assignments", AssignmentsHandler),
        (f"{a}/release", ReleaseHandler),
        (f"{a}/fetch", FetchHandler),
        (f"{a}/snapshots/{USER}", SnapshotHandler),
        (f"{a}/submissions", SubmissionsHandler),
        (f"{a}/submissions/{USER}", SubmitHandler),
        (f"{a}/submissions/{USER}/(?P<record_id>[0-9]+)", RecordFilesHandler),
        (f"{a}/receipts/{USER}", ReceiptsHandler),
        (f"{a}/feedback/{USER}", FeedbackHandler),
        (f"{a}/candidates", CandidatesHandler),
        (f"{a}/session", SessionHandler),
        (f"{a}/accommodations", AccommodationsHandler),
        (f"{a}/audit", AuditHandler),
    ]
