"""In headless Chromium: a practice exercise's "Vérifier" button gives instant feedback in the learner's kernel."""

from __future__ import annotations

import pytest

from hubfixture import REPO
from browserkit import login, run_cell
from nbhelpers import solutions

pytestmark = [pytest.mark.hub, pytest.mark.browser]

COURSE, MODULE, NOTEBOOK = "python-intro", "m1-bases", "m1-bases-fr.ipynb"
IDLE = ".jp-Notebook-ExecutionIndicator[data-status='idle']:visible"


def test_check_button_says_not_yet_then_bravo_in_french(hub, browser):
    # A learner of their own: no exam or tab another test left (its clock's warnings are dialogs) comes in the way.
    learner = hub.add_learner("practice", COURSE)
    session = hub.user_session("practice")
    server = hub.start_server("practice")
    session.post(f"{server}/assignments/fetch", data={"course_id": COURSE, "assignment_id": MODULE}).raise_for_status()
    answer = solutions(REPO / "courses" / COURSE / "source" / MODULE / NOTEBOOK)["ex1-answer"]

    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    login(page, hub, "practice")
    page.wait_for_url("**/hub/home")
    # ?reset: a fresh workspace, not the tabs this learner left open in an earlier test
    page.goto(f"{hub.url}/user/{learner}/lab/tree/{COURSE}/{MODULE}/{NOTEBOOK}?reset")
    page.wait_for_selector(IDLE, timeout=120_000)

    answer_cell = page.locator(".jp-Notebook .jp-CodeCell", has_text="YOUR CODE HERE").first
    check_cell = page.locator(".jp-Notebook .jp-CodeCell", has_text="check_button(check_ex1")
    run_cell(page, answer_cell)  # the blank answer raises NotImplementedError
    run_cell(page, check_cell)  # shows the button
    button = page.locator(".jp-OutputArea button.widget-button:has-text('Vérifier')").first
    button.wait_for()
    assert check_cell.locator("button.widget-button").count() == 1, "one button per check (it was shown twice)"
    button.click()
    status = page.locator(".jp-OutputArea div[role='status']").first
    status.wait_for()
    assert "pas encore défini" in status.inner_text()

    answer_cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(answer)
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(IDLE)
    button.click()
    page.wait_for_function("() => document.querySelector(\".jp-OutputArea div[role='status']\")"
                           ".textContent.includes('Bravo')")
    assert "✔ Bravo, c'est juste !" in status.inner_text()
    context.close()
