"""After login, the hub's home page lists the person's own courses, bilingual, with dates in their time zone."""

from __future__ import annotations

import pytest

from browserkit import login

pytestmark = [pytest.mark.hub, pytest.mark.browser]


def courses_on_home(browser, hub, demo_name, timezone):
    context = browser.new_context(timezone_id=timezone, locale="en-GB")
    page = context.new_page()
    login(page, hub, demo_name)
    page.wait_for_url("**/hub/home")
    page.wait_for_selector("#tremplin-courses")
    cards = {c.get_attribute("data-course"): c for c in page.query_selector_all(".tremplin-course")}
    return context, page, cards


def test_learner_sees_only_their_courses_with_due_dates_in_local_time(hub, browser):
    context, page, cards = courses_on_home(browser, hub, "learner1", "Asia/Jakarta")
    assert set(cards) == {"python-intro", "preselection-math"}
    math = cards["preselection-math"]
    assert "Présélection double diplôme — Mathématiques" in math.inner_text()
    assert "Dual-degree pre-selection — Mathematics" in math.inner_text()
    # due 2027-03-31T23:59:00Z is 1 April, 06:59 in Jakarta (UTC+7)
    due = math.query_selector("tbody tr td:nth-child(3) time")
    assert due.get_attribute("datetime") == "2027-03-31T23:59:00Z"
    assert "1 Apr 2027" in due.inner_text() and "06:59" in due.inner_text()
    start = math.query_selector("a.tremplin-open")  # one per assignment; an exam's says it asks first
    assert "Commencer" in start.inner_text() and "Start" in start.inner_text()
    assert start.get_attribute("href") == "/hub/spawn?next=%2Fhub%2Fuser-redirect%2Ftremplin%2Fopen%2F" \
        "preselection-math%2Fmath-2027"
    python = cards["python-intro"]
    assert [a.get_attribute("data-assignment") for a in python.query_selector_all("a.tremplin-open")] == [
        "m1-bases", "m2-controle", "m3-donnees", "devoir-1"]
    context.close()


def test_professor_sees_every_course_they_teach_with_its_formgrader(hub, browser):
    context, page, cards = courses_on_home(browser, hub, "professor", "America/Bogota")
    assert set(cards) == {"python-intro", "preselection-math", "preselection-physics"}
    link = cards["preselection-physics"].query_selector("a.btn")
    assert link.get_attribute("href") == "/services/preselection-physics/formgrader"
    context.close()


@pytest.mark.parametrize("demo_name,links", [
    ("coordinator", ["#tremplin-exam-sessions"]),
    ("admissions", ["#tremplin-exports"]),
    ("admin", ["#tremplin-exam-sessions", "#tremplin-exports"]),
])
def test_staff_homes_show_their_tools_and_no_server_of_their_own(hub, browser, demo_name, links):
    """They saw "Mes cours / My courses" over nothing, and a Start My Server that opened an empty JupyterLab."""
    context, page, cards = courses_on_home(browser, hub, demo_name, "Europe/Paris")
    assert cards == {}
    text = page.inner_text("#tremplin-courses")
    assert "Mon espace" in text and "My workspace" in text and "Mes cours" not in text
    for link in links:
        assert page.is_visible(link), link
    assert page.query_selector("#start") is None, "JupyterHub's Start My Server button"
    assert page.query_selector("a.dropdown-item[href*='tremplin-exam']") is None, "the Services menu"
    context.close()
