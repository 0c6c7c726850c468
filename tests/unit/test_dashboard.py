"""The home page's course cards: who sees which course, in which role."""

from __future__ import annotations

from pathlib import Path

import pytest

from tremplin_grading.courses import load_courses
from tremplin_hub.dashboard import course_cards

COURSES = load_courses(Path(__file__).resolve().parents[2] / "courses").courses


@pytest.mark.parametrize("groups,expected", [
    (set(), []),
    ({"nbgrader-python-intro"}, [("python-intro", "learner")]),
    ({"nbgrader-python-intro", "nbgrader-preselection-math"},
     [("python-intro", "learner"), ("preselection-math", "learner")]),
    ({"formgrade-preselection-physics", "nbgrader-python-intro"},
     [("preselection-physics", "grader"), ("python-intro", "learner")]),
    ({"formgrade-python-intro", "nbgrader-python-intro"}, [("python-intro", "grader")]),
    ({"nbgrader-unknown-course", "professors"}, []),
])
def test_cards_follow_the_groups(groups, expected):
    cards = course_cards(groups, COURSES)
    assert [(c.id, c.role) for c in cards] == expected


def test_card_dates_are_utc_iso_strings_and_titles_bilingual():
    (card,) = course_cards({"nbgrader-preselection-math"}, COURSES)
    (assignment,) = card.assignments
    assert assignment["due"] == "2027-03-31T23:59:00Z"
    assert card.title["fr"] != card.title["en"]
    assert card.kind == {"fr": "Test de présélection", "en": "Pre-selection test"}
    assert card.formgrader_url == "/services/preselection-math/formgrader"


def test_exam_graders_and_coordinators_get_the_exam_sessions_page_and_others_do_not():
    from types import SimpleNamespace

    from tremplin_hub.dashboard import template_vars

    cards = {c.id: c for c in course_cards({"formgrade-preselection-math", "formgrade-python-intro"}, COURSES)}
    assert cards["preselection-math"].sessions_url == "/services/tremplin-exam/"
    assert cards["python-intro"].sessions_url == ""  # a MOOC has no timed sessions
    sessions = template_vars(COURSES)["tremplin_exam_sessions"]

    def user(*groups, admin=False):
        return SimpleNamespace(groups=[SimpleNamespace(name=g) for g in groups], admin=admin)

    assert sessions(user("coordinators")) == "/services/tremplin-exam/"
    # (admins had Exports but no sessions link)
    assert sessions(user(admin=True)) == sessions(user("admins")) == "/services/tremplin-exam/"
    assert sessions(user("nbgrader-preselection-math")) == ""
    assert sessions(None) == ""
    exports = template_vars(COURSES)["tremplin_exports"]
    assert exports(user("admissions")) == exports(user("admins")) == "/services/tremplin-exam/exports/"
    assert exports(user("professors")) == exports(user("nbgrader-preselection-math")) == exports(None) == ""


def test_an_exam_shows_the_window_its_coordinator_set_and_a_mooc_keeps_its_dates():
    import datetime as dt

    utc = dt.timezone.utc
    window = (dt.datetime(2027, 3, 15, 8, tzinfo=utc), dt.datetime(2027, 3, 15, 12, tzinfo=utc))
    cards = {c.id: c for c in course_cards({"nbgrader-preselection-math", "nbgrader-python-intro"}, COURSES,
                                           session_window=lambda course, assignment: window)}
    (exam,) = cards["preselection-math"].assignments
    assert (exam["opens"], exam["due"]) == ("2027-03-15T08:00:00Z", "2027-03-15T12:00:00Z")
    assert cards["python-intro"].assignments[0]["due"] == "2027-12-31T23:59:00Z"


def test_only_learners_are_offered_a_server_of_their_own():
    """Coordinators, admissions and admins got a big Start My Server that opened an empty JupyterLab."""
    from types import SimpleNamespace

    from tremplin_hub.dashboard import template_vars

    needs = template_vars(COURSES)["tremplin_needs_server"]

    def user(*groups, admin=False):
        return SimpleNamespace(groups=[SimpleNamespace(name=g) for g in groups], admin=admin)

    assert needs(user("nbgrader-python-intro")) is True
    assert needs(user("formgrade-python-intro", "nbgrader-python-intro")) is False  # its grader
    for staff in (user("coordinators"), user("admissions"), user("admins", admin=True), user("professors"), None):
        assert needs(staff) is False


def test_each_opened_assignment_has_one_link_to_open_it_and_later_ones_say_soon():
    """The course's "Open my assignments" opened nbgrader's list on another course, whose first line started an
    exam at one click: each assignment now has its own link, through the hub (which starts the server first)."""
    import datetime as dt

    utc = dt.timezone.utc
    window = (dt.datetime(2027, 3, 15, 8, tzinfo=utc), dt.datetime(2027, 3, 15, 12, tzinfo=utc))
    groups = {"nbgrader-preselection-math", "nbgrader-python-intro"}
    before = {c.id: c for c in course_cards(groups, COURSES, "/base/", lambda c, a: window,
                                            now=dt.datetime(2027, 3, 15, 7, 59, tzinfo=utc))}
    (exam,) = before["preselection-math"].assignments
    assert exam["available"] is False and exam["timed"] is True
    # (the hub starts the server first, then its tremplin/open)
    assert exam["open_url"] == ("/base/hub/spawn?next=%2Fbase%2Fhub%2Fuser-redirect%2Ftremplin%2Fopen%2F"
                                "preselection-math%2Fmath-2027")
    during = {c.id: c for c in course_cards(groups, COURSES, "/base/", lambda c, a: window,
                                            now=dt.datetime(2027, 3, 15, 8, tzinfo=utc))}
    assert during["preselection-math"].assignments[0]["available"] is True
    assert not any(a["timed"] for a in during["python-intro"].assignments)


def test_a_graded_mooc_assignment_links_to_its_feedback_in_one_click_and_practice_and_exams_do_not():
    """Feedback needed nbgrader's list, a Fetch Feedback and a file to open: the home page links to it."""
    groups = {"nbgrader-preselection-math", "nbgrader-python-intro"}
    cards = {c.id: c for c in course_cards(groups, COURSES, "/base/")}
    links = {a["id"]: a["feedback_url"] for a in cards["python-intro"].assignments}
    assert links == {"m1-bases": "", "m2-controle": "", "m3-donnees": "",
                     "devoir-1": "/base/services/tremplin-exam/feedback/python-intro/devoir-1"}
    assert [a["feedback_url"] for a in cards["preselection-math"].assignments] == [""]
