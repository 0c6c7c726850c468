"""What the hub's home page shows each person: their courses, in French and English.

Learners see the courses of their ``nbgrader-<id>`` groups with each assignment's
opening and due dates (shown in the browser's own time zone); graders see the courses
of their ``formgrade-<id>`` groups with a link to the formgrader. The page template is
``templates/home.html``; this module only prepares plain data for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tremplin_grading.courses import Course

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


def course_cards(group_names: set[str], courses: list[Course], base_url: str = "/") -> list[CourseCard]:
    """The cards for someone in ``group_names``: grader cards first, then learner cards, by title."""
    cards = []
    for course in courses:
        if course.grader_group in group_names:
            role = "grader"
        elif course.student_group in group_names:
            role = "learner"
        else:
            continue
        assignments = tuple(
            {"id": a.id, "title": a.title, "graded": a.graded,
             "opens": a.opens.isoformat().replace("+00:00", "Z"), "due": a.due.isoformat().replace("+00:00", "Z")}
            for a in course.assignments
        )
        cards.append(CourseCard(course.id, KIND_LABELS[course.kind], course.title, course.description, role,
                                assignments, f"{base_url}services/{course.id}/formgrader"))
    return sorted(cards, key=lambda c: (c.role != "grader", c.title["fr"].lower()))


def template_vars(courses: list[Course], base_url: str = "/") -> dict:
    """``JupyterHub.template_vars``: JupyterHub calls the value with the current user."""

    def cards_for(user) -> list[CourseCard]:
        if user is None:
            return []
        return course_cards({g.name for g in user.groups}, courses, base_url)

    return {"tremplin_courses": cards_for}
