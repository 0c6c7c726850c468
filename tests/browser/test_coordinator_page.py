"""In headless Chromium: the exam coordinator opens a window, follows the candidates, grants extra
time and downloads the audit log from the exam sessions page; a learner is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from browserkit import login

pytestmark = [pytest.mark.hub, pytest.mark.browser]

COURSE, EXAM = "preselection-physics", "physics-2027"


def test_coordinator_runs_a_session_from_the_browser(hub, browser):
    context = browser.new_context(viewport={"width": 1300, "height": 900}, accept_downloads=True,
                                  timezone_id="Asia/Kolkata")
    page = context.new_page()
    page.set_default_timeout(60_000)
    login(page, hub, "coordinator")
    page.wait_for_url("**/hub/home")
    page.click("#tremplin-exam-sessions")  # first visit: the hub asks nothing (oauth_no_confirm)
    page.wait_for_selector("h1:has-text('Exam sessions')")
    page.click(f"a[href='exams/{COURSE}/{EXAM}']")
    page.wait_for_selector("h1:has-text('Physics exam 2027')")

    # Open a window: the settings are saved, shown back, and logged.
    page.fill("input[name=opens]", "2026-11-01T00:00:00Z")
    page.fill("input[name=closes]", "2027-06-30T23:59:00Z")
    page.fill("input[name=duration_minutes]", "90")
    page.click("form[action$='/session'] button")
    page.wait_for_selector(".msg:has-text('Window saved')")
    assert page.input_value("input[name=closes]") == "2027-06-30T23:59:00Z"
    # Times are shown in the coordinator's own time zone (UTC+5:30 here), the UTC value in the tooltip.
    closes = page.locator("fieldset time").nth(1)
    assert "GMT+5:30" in closes.inner_text() and "05:29" in closes.inner_text(), closes.inner_text()
    assert closes.get_attribute("title") == "2027-06-30T23:59:00+00:00 (UTC)"

    # learner2 is a candidate of this exam: a mistyped grant is refused with the reason, and the form
    # shown with the error (at the form's own URL) still works: grant them 20 minutes from there.
    learner2 = hub.names["learner2"]
    page.fill("form[action$='/extra-time'] input[name=user]", learner2)
    page.fill("input[name=extra_minutes]", "nan")
    page.click("form[action$='/extra-time'] button")
    page.wait_for_selector(".err:has-text(\"extra_minutes 'nan' is not a finite number\")")
    assert "n'est pas un nombre fini" in page.inner_text(".err"), "the coordinator reads the error in French too"
    page.fill("form[action$='/extra-time'] input[name=user]", learner2)
    page.fill("input[name=extra_minutes]", "20")
    page.fill("input[name=reason]", "tiers-temps")
    page.click("form[action$='/extra-time'] button")
    page.wait_for_selector(".msg:has-text('Extra time granted')")
    row = page.locator(f"tr[data-user='{learner2}']")
    assert "+20 min" in row.inner_text() and "tiers-temps" in row.inner_text()

    with page.expect_download() as download:
        page.click("a[href$='audit.jsonl']")
    lines = [json.loads(x) for x in Path(download.value.path()).read_text(encoding="utf-8").splitlines()]
    events = [(e["event"], e["actor"]) for e in lines]
    assert ("session", hub.names["coordinator"]) in events and ("accommodation", hub.names["coordinator"]) in events
    context.close()

    # A learner reaching the page is refused.
    context = browser.new_context()
    page = context.new_page()
    login(page, hub, "learner1")
    page.wait_for_url("**/hub/home")
    response = page.goto(f"{hub.url}/services/tremplin-exam/exams/{COURSE}/{EXAM}")
    assert response.status == 403
    assert "This page is for exam coordinators" in page.content()
    context.close()
