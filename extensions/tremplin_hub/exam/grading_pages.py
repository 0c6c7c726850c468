"""The professors' view of the grading queue: progress, flags and errors, regrades (French and English).

``/services/tremplin-exam/grading/<course>/`` lists a course's graded assignments with their
progress; ``…/grading/<course>/<assignment>`` shows the queue of one (waiting, running, done,
flagged, errors, with the estimated time left; the page refreshes itself while papers are
waiting), its jobs with their scores, flags and errors, and forms to grade again: every paper,
one candidate's, or one question after its test was fixed. For the course's graders and
admins, checked on every request; the page is a template (``templates/grading.html``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import quote

from tornado import web

from tremplin_grading.variants_check import is_test_cell

from .pages import PageHandler

STATES = [("waiting", "en attente / waiting"), ("running", "en cours / running"), ("done", "corrigées / done"),
          ("flagged", "signalées / flagged"), ("error", "erreurs / errors"), ("superseded", "remplacées / superseded")]
#: One job's state, in its row.
STATE_OF_JOB = {"waiting": "en attente / waiting", "running": "en cours / running", "done": "corrigée / done",
                "flagged": "signalée / flagged", "error": "erreur / error", "superseded": "remplacée / superseded"}
REASONS = {"arrival": "remise / arrival", "regrade": "nouvelle correction / regrade"}
PAGE = 100


def duration(seconds) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s" if seconds < 3600 \
        else f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def test_ids(source_folder: Path) -> list[str]:
    """The grade ids of an assignment's test cells, in notebook order (what a one-question regrade names)."""
    ids = []
    for path in sorted(source_folder.glob("*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            continue
        ids += [c["metadata"]["nbgrader"]["grade_id"] for c in cells if is_test_cell(c)]
    return ids


def iso(timestamp: str) -> str:
    """nbgrader's ``2027-03-15 10:00:00.123456 UTC`` as ISO 8601 (for the reader's own time zone)."""
    try:
        return dt.datetime.strptime(timestamp, "%Y-%m-%d %H:%M:%S.%f %Z").replace(tzinfo=dt.timezone.utc).isoformat()
    except ValueError:
        return ""


class GradingPage(PageHandler):
    audience = ("Cette page est réservée aux enseignants qui corrigent ce cours et aux administrateurs.",
                "This page is for the course's graders and admins.")

    def course_for_grader(self, course_id):
        course = self.service.course(course_id)
        self.require(self.is_grader(course), "follow the grading of this course", course_id)
        if self.service.grading is None:
            raise web.HTTPError(503, "no grading queue is configured for this exam service")
        return course

    def render_grading(self, **values) -> None:
        """The grading page (the error pages are :meth:`PageHandler.write_error`'s, as on every page)."""
        course = values["course"]
        values.setdefault("assignment", None)
        values.setdefault("pending", False)
        services = self.hub_auth.hub_prefix.rsplit("hub/", 1)[0] + "services/"
        self.render_page("grading.html", **values, formgrader_url=f"{services}{course.id}/formgrader",
                         xsrf=self.xsrf_form_html(), states=STATES, state_labels=STATE_OF_JOB, reasons=REASONS, iso=iso)


class CourseGradingPage(GradingPage):
    @web.authenticated
    def get(self, course_id):
        course = self.course_for_grader(course_id)
        queue = self.service.grading
        rows = [{"id": a.id, "title": a.title, "progress": queue.progress(course.id, a.id)}
                for a in course.assignments if a.graded]
        self.render_grading(course=course, rows=rows, pending=any(r["progress"].pending for r in rows))


class AssignmentGradingPage(GradingPage):
    @web.authenticated
    def get(self, course_id, assignment_id):
        self.show(course_id, assignment_id, message={
            "regrade": "Copies remises en file. / Papers queued again.",
            "queued": "Copies mises en file. / Papers queued."}.get(self.get_argument("done", ""), ""))

    def show(self, course_id, assignment_id, message: str = "", error: str = "") -> None:
        course = self.course_for_grader(course_id)
        _, assignment = self.service.assignment(course.id, assignment_id)
        queue = self.service.grading
        state = self.get_argument("state", "")
        state = state if state in dict(STATES) else ""
        student = self.get_argument("student", "")[:255]
        try:
            offset = max(0, int(self.get_argument("offset", "0")))
        except ValueError:
            offset = 0
        jobs = queue.jobs(course.id, assignment.id, states=(state,) if state else (), student=student or None,
                          limit=PAGE + 1, offset=offset)
        progress = queue.progress(course.id, assignment.id)
        students = queue.students(course.id, assignment.id)
        self.render_grading(course=course, assignment=assignment, progress=progress, pending=progress.pending > 0,
                         eta=duration(progress.eta_seconds), jobs=jobs[:PAGE], more=len(jobs) > PAGE,
                         offset=offset, limit=PAGE, state=state, student=student, students=students,
                         questions=test_ids(course.source_dir / assignment.id), message=message, error=error)


class RegradeForm(AssignmentGradingPage):
    @web.authenticated
    def post(self, course_id, assignment_id):
        course = self.course_for_grader(course_id)
        _, assignment = self.service.assignment(course.id, assignment_id)
        candidate = self.get_argument("candidate", "").strip() or None
        question = self.get_argument("question", "").strip()
        if question and question not in test_ids(course.source_dir / assignment.id):
            self.set_status(400)
            return self.show(course_id, assignment_id, error=f"{question!r} n'est pas un test de {assignment.id} / "
                                                             f"is not a test of {assignment.id}")
        created = self.service.grading.regrade(course.id, assignment.id, student=candidate, question=question,
                                               requested_by=self.me)
        if not created:
            self.set_status(409)
            return self.show(course_id, assignment_id, error="Aucune copie à corriger de nouveau (déjà en attente, ou "
                                                             "aucune copie en file). / Nothing to regrade (already "
                                                             "waiting, or no paper in the queue).")
        self.redirect(f"../{quote(assignment.id)}?done=regrade")


class QueuePapersForm(AssignmentGradingPage):
    @web.authenticated
    def post(self, course_id, assignment_id):
        course = self.course_for_grader(course_id)
        self.service.queue_papers(course.id, assignment_id)
        self.redirect(f"../{quote(assignment_id)}?done=queued")


def grading_handlers(prefix: str) -> list[tuple]:
    from .handlers import ID

    return [
        (f"{prefix}grading/{ID}/?", CourseGradingPage),
        (f"{prefix}grading/{ID}/{ID}", AssignmentGradingPage),
        (f"{prefix}grading/{ID}/{ID}/regrade", RegradeForm),
        (f"{prefix}grading/{ID}/{ID}/queue", QueuePapersForm),
    ]
