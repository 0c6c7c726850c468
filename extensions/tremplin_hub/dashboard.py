"""What the hub's home page shows each person: their courses, in French and English.

Learners see the courses of their ``nbgrader-<id>`` groups with each assignment's
opening and due dates (shown in the browser's own time zone); graders see the courses
of their ``formgrade-<id>`` groups with a link to the formgrader and, for exams, to the
exam sessions page; exam coordinators get that page too. The page template is
``templates/home.html``; this module only prepares plain data for it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote, urlencode

from tremplin_grading.courses import Course

#: ``(course id, assignment id) -> (opens, closes)`` of a session a coordinator set, or None.
SessionWindow = Callable[[str, str], "tuple[dt.datetime, dt.datetime] | None"]


def open_url(hub_prefix: str, course_id: str, assignment_id: str) -> str:
    """The link that opens a learner's assignment: the hub starts their server if it is not running (JupyterHub's
    ``spawn?next=``, no "server not running" page to click through), then their server's ``tremplin/open``
    (:mod:`tremplin_lab.serverext`) fetches their copy if needed and opens its notebook; a timed exam not started
    yet goes to its start page, which asks the candidate to confirm."""
    target = f"{hub_prefix}user-redirect/tremplin/open/{quote(course_id)}/{quote(assignment_id)}"
    return f"{hub_prefix}spawn?{urlencode({'next': target})}"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")

KIND_LABELS = {
    "mooc": {"fr": "Cours en ligne", "en": "Online course"},
    "exam": {"fr": "Test de présélection", "en": "Pre-selection test"},
}


@dataclass(frozen=True)
class CourseCard:
    """One course as shown on the home page."""

    id: str
    kind: dict[str, str]
    title: dict[str, str]
    description: dict[str, str]
    role: str  # "learner" or "grader"
    assignments: tuple[dict, ...]
    formgrader_url: str
    sessions_url: str = ""
    grading_url: str = ""


def course_cards(group_names: set[str], courses: list[Course], base_url: str = "/",
                 session_window: SessionWindow = lambda course, assignment: None,
                 now: dt.datetime | None = None) -> list[CourseCard]:
    """The cards for someone in ``group_names``: grader cards first, then learner cards, by title.

    An exam's dates are its session's window when a coordinator set one, else the course.toml's. A learner's
    assignment that has opened has its :func:`open_url`; a graded one of a MOOC, the link to its feedback.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    cards = []
    for course in courses:
        if course.grader_group in group_names:
            role = "grader"
        elif course.student_group in group_names:
            role = "learner"
        else:
            continue
        assignments = []
        for a in course.assignments:
            opens, due = (course.kind == "exam" and session_window(course.id, a.id)) or (a.opens, a.due)
            assignments.append({"id": a.id, "title": a.title, "graded": a.graded, "opens": _iso(opens),
                                "due": _iso(due), "available": opens <= now, "timed": course.kind == "exam",
                                "open_url": open_url(f"{base_url}hub/", course.id, a.id),
                                # (a graded MOOC assignment's feedback, one click away; exams return none)
                                "feedback_url": f"{base_url}services/tremplin-exam/feedback/{quote(course.id)}/"
                                                f"{quote(a.id)}" if a.graded and course.kind != "exam" else ""})
        assignments = tuple(assignments)
        cards.append(CourseCard(course.id, KIND_LABELS[course.kind], course.title, course.description, role,
                                assignments, f"{base_url}services/{course.id}/formgrader",
                                f"{base_url}services/tremplin-exam/" if course.kind == "exam" else "",
                                f"{base_url}services/tremplin-exam/grading/{course.id}/"
                                if any(a.graded for a in course.assignments) else ""))
    return sorted(cards, key=lambda c: (c.role != "grader", c.title["fr"].lower()))


def template_vars(courses: list[Course], base_url: str = "/",
                  session_window: SessionWindow = lambda course, assignment: None) -> dict:
    """``JupyterHub.template_vars``: JupyterHub calls the value with the current user."""

    def cards_for(user) -> list[CourseCard]:
        if user is None:
            return []
        return course_cards({g.name for g in user.groups}, courses, base_url, session_window)

    def in_groups(user, *groups: str) -> bool:
        return user is not None and (user.admin or bool(set(groups) & {g.name for g in user.groups}))

    def sessions_url(user) -> str:
        """The exam sessions page, for exam coordinators and admins (graders find it on their exam cards)."""
        return f"{base_url}services/tremplin-exam/" if in_groups(user, "admins", "coordinators") else ""

    def needs_server(user) -> bool:
        """Whether the home page offers a Jupyter server: to learners, who work in one. Staff work in the
        formgrader and the exam service's pages; a server of their own was an empty JupyterLab."""
        return any(card.role == "learner" for card in cards_for(user))

    def campaigns_url(user) -> str:
        """The coordinators' page of campaigns' candidates (rosters, invitations, withdrawals; roles.ROSTERS)."""
        return f"{base_url}hub/campaigns" if in_groups(user, "admins", "coordinators") else ""

    def exports_url(user) -> str:
        """Admissions' exports page, for the admissions office and admins."""
        return f"{base_url}services/tremplin-exam/exports/" if in_groups(user, "admins", "admissions") else ""

    return {"tremplin_courses": cards_for, "tremplin_exam_sessions": sessions_url, "tremplin_exports": exports_url,
            "tremplin_campaigns": campaigns_url, "tremplin_needs_server": needs_server}
