"""In headless Chromium: a practice exercise's "Vérifier" button gives instant feedback in the learner's kernel."""

from __future__ import annotations

import pytest

from hubfixture import REPO
from browserkit import login
from nbhelpers import solutions

pytestmark = [pytest.mark.hub, pytest.mark.browser]

COURSE, MODULE, NOTEBOOK = "python-intro", "m1-bases", "m1-bases-fr.ipynb"


def test_check_button_says_not_yet_then_bravo_in_french(hub, browser):
    learner = hub.names["learner2"]
    session = hub.user_session("learner2")
    server = hub.start_server("learner2")
    session.post(f"{server}/assignments/fetch", data={"course_id": COURSE, "assignment_id": MODULE}).raise_for_status()
    answer = solutions(REPO / "courses" / COURSE / "source" / MODULE / NOTEBOOK)["ex1-answer"]

    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    login(page, hub, "learner2")
    page.wait_for_url("**/hub/home")
    page.goto(f"{hub.url}/user/{learner}/lab/tree/{COURSE}/{MODULE}/{NOTEBOOK}")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)

    blank = page.locator(".jp-Notebook .jp-CodeCell", has_text="YOUR CODE HERE").first
    blank.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")  # the blank answer raises NotImplementedError
    # (a cell queued behind an error is aborted: wait before running the next one)
    page.wait_for_selector(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    page.keyboard.press("Shift+Enter")  # the check cell shows the button
    button = page.locator(".jp-OutputArea button.widget-button:has-text('Vérifier')").first
    button.click()
    status = page.locator(".jp-OutputArea div[role='status']").first
    status.wait_for()
    assert "pas encore défini" in status.inner_text()

    answer_cell = page.locator(".jp-Notebook .jp-CodeCell", has_text="YOUR CODE HERE").first
    answer_cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(answer)
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    button.click()
    page.wait_for_function("() => document.querySelector(\".jp-OutputArea div[role='status']\")"
                           ".textContent.includes('Bravo')")
    assert "✔ Bravo, c'est juste !" in status.inner_text()
    context.close()
