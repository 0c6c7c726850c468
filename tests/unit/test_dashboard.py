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
