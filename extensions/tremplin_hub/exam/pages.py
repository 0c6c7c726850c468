"""The coordinator's pages: exam sessions, candidates, extra time, audit log (French and English).

Plain server-rendered HTML with forms (a few kilobytes, usable on a slow link, no
JavaScript needed except to show UTC times in the reader's own time zone). Browsers log
in through the hub (OAuth); permissions are the same checks as the REST API.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from tornado import web

from ..dashboard import open_url
from .errors import Conflict, Forbidden, Invalid, NotFound
from .core import ROW_STATES, table_view
from .handlers import (BaseHandler, audit_log_file, error_message, http_status, number, parse_time, send_audit_log,
                       whole_number)

STATE_LABELS = {
    "not_open": "pas encore ouvert / not open yet", "closed": "fermé / closed", "open": "pas commencé / not started",
    "running": "en cours / in progress", "ended": "temps écoulé / time over", "submitted": "remis / handed in",
    "error": "réglage invalide, voir le journal / invalid setting, see the log",
}

TEMPLATES = Environment(loader=FileSystemLoader(str(Path(__file__).resolve().parents[1] / "templates")),
                        autoescape=select_autoescape(["html"]))


class PageHandler(BaseHandler):
    #: Who the page is for, said on its error page (French, English).
    audience = ("Cette page est réservée aux coordinateurs d'épreuve, aux enseignants et aux administrateurs.",
                "This page is for exam coordinators, professors and admins.")

    async def prepare(self):  # browsers are sent to the hub's login (web.authenticated) instead of getting a 403
        await self.authenticate()

    def render_page(self, template: str, **values) -> None:
        values.setdefault("hub_home", f"{self.hub_auth.hub_prefix}home")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(TEMPLATES.get_template(template).render(**values))

    #: Where the error page leads back to, besides the hub (a relative link and its words), if anywhere.
    back: tuple[str, str] | None = None

    def write_error(self, status_code, **kwargs):
        self.render_page("exam_page.html", view="error", title=str(status_code), status=status_code,
                         error=error_message(self, kwargs), audience=self.audience, back=self.back)

    def exams_i_coordinate(self) -> list[tuple]:
        out = []
        for course in self.service.courses().values():
            if course.kind == "exam" and self.is_coordinator(course):
                out.extend((course, a) for a in course.assignments)
        return out


class IndexPage(PageHandler):
    @web.authenticated
    async def get(self):
        exams = await self.run(self.exams_i_coordinate)
        if not exams:
            raise Forbidden(f"{self.me} coordinates no exam; exam coordinators, professors and admins only")
        self.render_page("exam_page.html", view="index", title="Épreuves / Exams", exams=exams)


class ExamPage(PageHandler):
    """One exam's session: its window, its candidates, extra time. Store and hub work runs on the
    service's threads (:meth:`BaseHandler.run`); the page is rendered from a template."""

    def number(self, name: str, default: float) -> float:
        """A number from the page's form, checked as the API checks it (the message names the field)."""
        return number({name: self.get_argument(name, str(default))}, name, default)

    def check(self, course_id, assignment_id):
        course, assignment = self.service.assignment(course_id, assignment_id)
        self.require(self.is_coordinator(course), "run this exam session", course_id)
        return course, assignment

    @web.authenticated
    async def get(self, course_id, assignment_id):
        saved = {"session": "Fenêtre enregistrée. / Window saved.",
                 "extra-time": "Temps supplémentaire accordé. / Extra time granted."}
        await self.render_exam(course_id, assignment_id, message=saved.get(self.get_argument("saved", ""), ""))

    #: Candidates per page of the table (a campaign has thousands).
    per_page = 50

    async def render_exam(self, course_id, assignment_id, message="", error=""):
        """The exam's page, or with ``?fragment=1`` its live part only (the page asks it again every 10 s):
        counts by state, one page of the candidates matching ``?q=`` and ``?state=``."""
        query, state = self.get_argument("q", ""), self.get_argument("state", "")
        page = whole_number(self.get_argument("page", ""), "page", 1)
        fragment = self.get_argument("fragment", "") == "1"

        def values():
            course, assignment = self.check(course_id, assignment_id)
            rows = self.service.candidates(course.id, assignment.id, self.groups_of.members)
            out = dict(tv=table_view(rows, query, state, page, self.per_page), now=self.service.now().isoformat())
            if not fragment:
                out.update(course=course, assignment=assignment, grader=self.is_grader(course),
                           session=self.service.session_view(course.id, assignment.id))
            return out

        shown = {"q": query, "state": state, "page": str(page) if page > 1 else ""}
        fragment_url = "?" + urlencode({**{k: v for k, v in shown.items() if v}, "fragment": "1"})
        self.render_page("exam_page.html", view="rows" if fragment else "exam", title=f"{assignment_id} — session",
                         message=message, error=error, prefix=self.settings["prefix"],
                         xsrf=Markup(self.xsrf_form_html()), state_labels=STATE_LABELS, states=ROW_STATES,
                         fragment_url=fragment_url, xsrf_token=self.xsrf_token.decode("ascii"),
                         **await self.run(values))

    async def post_form(self, course_id, assignment_id, change, saved: str) -> None:
        """Run ``change(course, assignment)`` on the threads; the page again with the error, or a redirect."""
        def work():
            course, assignment = self.check(course_id, assignment_id)
            change(course, assignment)

        try:
            await self.run(work)
        except (Invalid, NotFound, Conflict) as exc:  # the form's own mistakes: shown above the form
            self.set_status(http_status(exc))
            return await self.render_exam(course_id, assignment_id, error=exc.bilingual())
        self.redirect(f"../{quote(assignment_id)}?saved={saved}")


class SessionForm(ExamPage):
    @web.authenticated
    async def post(self, course_id, assignment_id):
        def change(course, assignment):
            self.service.set_session(course.id, assignment.id, parse_time(self.get_argument("opens"), "opens"),
                                     parse_time(self.get_argument("closes"), "closes"),
                                     self.number("duration_minutes", 120), self.number("grace_minutes", 2), self.me)

        await self.post_form(course_id, assignment_id, change, "session")


class ExtraTimeForm(ExamPage):
    @web.authenticated
    async def post(self, course_id, assignment_id):
        def change(course, assignment):
            user = self.get_argument("user").strip().lower()
            self.service.grant(course.id, assignment.id, "user", user, self.me,
                               extra_minutes=self.number("extra_minutes", 0), time_factor=self.number("time_factor", 1),
                               reason=self.get_argument("reason", "")[:500], target_groups=self.groups_of(user))

        await self.post_form(course_id, assignment_id, change, "extra-time")


class AuditDownload(ExamPage):
    @web.authenticated
    async def get(self, course_id, assignment_id):
        def log():
            course, assignment = self.check(course_id, assignment_id)
            return audit_log_file(self, course.id, assignment.id)

        send_audit_log(self, *await self.run(log))


class StartPage(PageHandler):
    """A candidate's start page of a timed exam (``exam_start.html``): how long they have and until when; its
    "Start" is the one thing that starts an exam's time (a fetch without it starts nothing). Started, or not
    timed, it leads on to the candidate's copy in their own server (``tremplin/open`` of :mod:`tremplin_lab`)."""

    audience = ("Cette page est réservée aux candidat·es inscrit·es à cette épreuve.",
                "This page is for the candidates enrolled in this exam.")

    def open_url(self, course_id: str, assignment_id: str) -> str:
        return open_url(self.hub_auth.hub_prefix, course_id, assignment_id)

    def view(self, course_id: str, assignment_id: str) -> dict:
        course = self.service.course(course_id)
        self.require(self.is_learner(course), "start this exam", course_id)
        return self.service.start_view(course.id, assignment_id, self.me, self.my_groups())

    def render_start(self, view: dict, error: str = "") -> None:
        self.render_page("exam_start.html", v=view, error=error, xsrf=Markup(self.xsrf_form_html()))

    @web.authenticated
    async def get(self, course_id, assignment_id):
        view = await self.run(self.view, course_id, assignment_id)
        if not view["timed"] or view["state"] in ("running", "ended", "submitted"):
            return self.redirect(self.open_url(course_id, assignment_id))  # nothing left to confirm
        self.render_start(view)

    @web.authenticated
    async def post(self, course_id, assignment_id):
        def start():
            course = self.service.course(course_id)
            self.require(self.is_learner(course), "start this exam", course_id)
            self.service.fetch(course.id, assignment_id, self.me, self.my_groups(), self.client_ip(), start=True)

        try:
            await self.run(start)
        except Conflict as exc:  # not released, not open yet, closed: said on the page, nothing started
            self.set_status(http_status(exc))
            return self.render_start(await self.run(self.view, course_id, assignment_id), exc.bilingual())
        self.redirect(self.open_url(course_id, assignment_id))


class FeedbackPage(PageHandler):
    """``feedback/<course>/<assignment>``: a learner's feedback, one click from their home page, without starting
    their server. It is the latest feedback the professor returned to them (nbgrader's HTML, made by
    :mod:`tremplin_grading.feedback`: score and checkers' messages per question, never the tests); an assignment
    of several notebooks lists them first (``?notebook=<name>``). Only its learner reads it: graders have the
    formgrader."""

    audience = ("Cette page est réservée aux apprenant·es de ce cours.",
                "This page is for the learners of this course.")

    #: The feedback page is staff's HTML around a learner's answers (sanitised when it was made): it may run the
    #: platform's scripts and inline ones (MathJax 2 evaluates its inline configuration), and reach nothing, not
    #: even this service's API.
    POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
              "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'none'; "
              "form-action 'none'; base-uri 'none'; frame-ancestors 'self'")

    @web.authenticated
    async def get(self, course_id, assignment_id):
        def mine():
            course = self.service.course(course_id)
            self.require(self.is_learner(course), "read your feedback", course_id)
            _, assignment = self.service.assignment(course.id, assignment_id)
            return assignment, self.service.feedback_files(course.id, assignment.id, self.me)

        assignment, released = await self.run(mine)
        latest = max(released, key=lambda f: f["released_at"], default=None)
        files = {name: data for name, data in (latest or {}).get("files", {}).items() if name.endswith(".html")}
        notebook = self.get_argument("notebook", "")
        if notebook:
            if f"{notebook}.html" not in files:
                raise NotFound(f"feedback on {notebook!r} in {course_id}/{assignment_id}: no such notebook in your "
                               "feedback; go back to the list")
        elif len(files) == 1:
            notebook = next(iter(files))[:-5]
        if not notebook:  # none yet, or several notebooks to choose from
            return self.render_page("exam_page.html", view="feedback", title=f"{assignment.title['fr']} — retour",
                                    assignment=assignment, notebooks=sorted(n[:-5] for n in files),
                                    released_at=latest["released_at"].isoformat() if latest else "")
        self.set_header("Content-Security-Policy", self.POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "private, no-cache")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(files[f"{notebook}.html"])


def item_analysis_html(service, layout, course_id: str, assignment_id: str) -> str:
    """The item-analysis page of one exam (tremplin_grading.analysis), from its gradebook and variants."""
    from tremplin_grading.analysis import analyse, html_report
    from tremplin_grading.results import read_gradebook

    course, assignment = service.assignment(course_id, assignment_id)
    graded = read_gradebook(layout.course_dir(course.id) / "gradebook.db", assignment.id)
    variants = {user: o.variant for user, o in service.outcomes(course.id, assignment.id, lambda group: set()).items()}
    return html_report(analyse(f"{course.id}/{assignment.id}", graded, variants),
                       f"{assignment.title['fr']} / {assignment.title['en']}")


class AnalysisPage(ExamPage):
    @web.authenticated
    async def get(self, course_id, assignment_id):
        def report():
            self.check(course_id, assignment_id)
            return item_analysis_html(self.service, self.settings["layout"], course_id, assignment_id)

        self.finish(await self.run(report))


def page_handlers(prefix: str) -> list[tuple]:
    from .handlers import ID

    return [
        (f"{prefix}", IndexPage),
        (f"{prefix}exams/{ID}/{ID}", ExamPage),
        (f"{prefix}exams/{ID}/{ID}/session", SessionForm),
        (f"{prefix}exams/{ID}/{ID}/extra-time", ExtraTimeForm),
        (f"{prefix}exams/{ID}/{ID}/audit.jsonl", AuditDownload),
        (f"{prefix}exams/{ID}/{ID}/analysis", AnalysisPage),
        (f"{prefix}start/{ID}/{ID}", StartPage),
        (f"{prefix}feedback/{ID}/{ID}", FeedbackPage),
    ]
