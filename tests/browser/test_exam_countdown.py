"""In headless Chromium: a candidate starts a timed exam, the countdown shows in JupyterLab,
their saved work reaches the exam service and the top bar says when it was kept; while the
service does not answer their saves still complete at once and the top bar says, in French and
English, that the work is NOT saved by the service and when it is retried, until it is kept;
they lose the connection and resume with the same deadline, and when the time ends the
notebook is closed and says why."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal

import pytest

from browserkit import login
from hubfixture import service_pid

pytestmark = [pytest.mark.hub, pytest.mark.browser]

COURSE, EXAM = "preselection-math", "math-2027"
UTC = dt.timezone.utc


def open_lab(browser, hub, tag):
    context = browser.new_context(viewport={"width": 1300, "height": 900}, timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    page.set_default_timeout(60_000)
    login(page, hub, tag)
    page.wait_for_url("**/hub/home")
    page.goto(f"{hub.url}/hub/spawn/{hub.names[tag]}")
    page.wait_for_url(f"**/user/{hub.names[tag]}/lab**", timeout=120_000)
    page.wait_for_selector(".jp-LabShell")
    return context, page


def test_countdown_shows_and_the_notebook_is_closed_after_the_end(hub, browser):
    name = hub.add_learner("clock", COURSE)
    coordinator = hub.user_session("coordinator")
    api = f"{hub.url}/services/tremplin-exam/api/courses/{COURSE}/assignments/{EXAM}"
    # A 3 s grace, so the test need not wait the usual 2 minutes after the end.
    session = coordinator.get(f"{api}/session").json()
    assert coordinator.put(f"{api}/session", json={**session, "grace_minutes": 0.05}).status_code == 200

    context, page = open_lab(browser, hub, "clock")
    # Started as from the home page, confirmed on the start page (test_exam_start_and_hand_in.py shows them).
    page.goto(f"{hub.url}/hub/user-redirect/tremplin/open/{COURSE}/{EXAM}")
    page.click("#start-confirm")
    page.wait_for_url(f"**/lab/tree/{COURSE}/{EXAM}/{EXAM}.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell")

    # The countdown: time left (the exam lasts 2 h) and the deadline in the browser's time zone.
    clock = page.locator("#tremplin-exam-clock")
    clock.wait_for(state="visible")
    page.wait_for_function("() => /\\d:\\d\\d:\\d\\d/.test(document.querySelector('#tremplin-exam-clock').textContent)")
    assert re.search(r"1:5\d:\d\d", clock.inner_text()), clock.inner_text()
    assert "GMT+7" in clock.inner_text()
    row = {r["user"]: r for r in coordinator.get(f"{api}/candidates").json()["candidates"]}[name]
    assert row["state"] == "running"
    deadline = row["deadline"]

    # The candidate types an answer and saves: the exam service keeps it as an autosave.
    cell = page.locator(".jp-Notebook .jp-CodeCell", has_text="YOUR CODE HERE").first
    cell.scroll_into_view_if_needed()
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text("answer = 42  # typed before the connection was lost")
    page.keyboard.press("Control+s")
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('Saving completed')")
    # "saved" only once the exam service kept it, at the service's time
    page.wait_for_selector("#tremplin-exam-clock[data-autosave='kept']", timeout=20_000)
    assert re.search(r"enregistrée à \d\d:\d\d:\d\d / saved at \d\d:\d\d:\d\d", clock.inner_text()), clock.inner_text()
    row = {r["user"]: r for r in coordinator.get(f"{api}/candidates").json()["candidates"]}[name]
    assert row["snapshots"] >= 1 and row["last_snapshot"], row

    # The exam service stops answering (frozen, as a service stuck on its disk): the save still completes
    # at once on the candidate's server, and the top bar never says "saved" until the service kept it.
    snapshots = row["snapshots"]
    exam_service = service_pid(hub, "tremplin-exam")
    assert exam_service is not None, "the exam service process was not found"
    os.kill(exam_service, signal.SIGSTOP)
    try:
        cell.locator(".cm-content").click()
        page.keyboard.press("End")
        page.keyboard.insert_text("  # and a change while the exam service is frozen")
        page.wait_for_function("() => document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')")
        page.keyboard.press("Control+s")
        page.wait_for_function("() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')",
                               timeout=3_000)  # the save returned: it did not wait for the service
        page.wait_for_selector("#tremplin-exam-clock[data-autosave='pending']", timeout=3_000)
        assert "Sending to the exam service" in clock.inner_text()
        # The learner's server gives up after 10 s: NOT saved, in French and English, with the next try.
        page.wait_for_selector("#tremplin-exam-clock[data-autosave='failed']", timeout=20_000)
        text = clock.inner_text()
        # (the next try at a time, or already on its way: the service still has not kept the change)
        assert re.search(r"Copie NON enregistrée par le service d'examen — nouvel essai (à \d\d:\d\d:\d\d|en cours)",
                         text), text
        assert re.search(r"NOT saved by the exam service — retrying (at \d\d:\d\d:\d\d|now)", text), text
        assert "saved at" not in text
    finally:
        os.kill(exam_service, signal.SIGCONT)
    # The service is back: the next try (5 s after the failed one began, then 10 s, ...) is kept, and the top
    # bar says so.
    page.wait_for_selector("#tremplin-exam-clock[data-autosave='kept']", timeout=30_000)
    assert "NOT saved" not in clock.inner_text() and "saved at" in clock.inner_text()
    row = {r["user"]: r for r in coordinator.get(f"{api}/candidates").json()["candidates"]}[name]
    assert row["snapshots"] > snapshots, row

    # Connection lost: the browser is gone. The candidate comes back and goes on with the time left.
    context.close()
    context, page = open_lab(browser, hub, "clock")
    page.goto(f"{hub.url}/user/{name}/lab/tree/{COURSE}/{EXAM}/{EXAM}.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell")
    page.wait_for_selector(".jp-Notebook .cm-content:has-text('typed before the connection was lost')")
    clock = page.locator("#tremplin-exam-clock")
    clock.wait_for(state="visible")
    row = {r["user"]: r for r in coordinator.get(f"{api}/candidates").json()["candidates"]}[name]
    assert row["deadline"] == deadline, "reconnecting must not restart the time"

    # The coordinator ends this candidate's window in 15 s (as when the exam's time runs out).
    closes = dt.datetime.now(UTC) + dt.timedelta(seconds=15)
    r = coordinator.post(f"{api}/accommodations", json={
        "user": name, "opens": (closes - dt.timedelta(hours=3)).isoformat(), "closes": closes.isoformat(),
        "reason": "test: end of the exam"})
    assert r.status_code == 201, r.text
    # The countdown asks the service again when the window gets the focus (and every 30 s anyway).
    for _ in range(20):
        page.evaluate("() => window.dispatchEvent(new Event('focus'))")
        page.wait_for_timeout(3_500)
        text = clock.inner_text()
        if re.search(r"0:00:\d\d", text) or clock.get_attribute("data-state") == "over":
            break
    else:
        raise AssertionError(f"the countdown did not take the new deadline: {text!r}")

    banner = page.locator(".tremplin-exam-closed")
    banner.wait_for(state="visible", timeout=60_000)
    # (closed by the local countdown first; the service's own words follow at its next answer)
    page.wait_for_selector(".tremplin-exam-closed:has-text('Time is up')", timeout=60_000)
    assert "Temps écoulé" in banner.inner_text() and "Time is up" in banner.inner_text()
    page.wait_for_function("() => document.querySelector('#tremplin-exam-clock').dataset.state === 'over'")

    # Closed: typing changes nothing, and the server refuses to save into the exam folder.
    code = page.locator(".jp-Notebook .jp-CodeCell .cm-content").first
    before = code.inner_text()
    code.click()
    page.keyboard.insert_text("print('after the end')")
    assert code.inner_text() == before
    # Once time and grace are over, the service collects the last autosave ...
    for _ in range(30):
        row = {r["user"]: r for r in coordinator.get(f"{api}/candidates").json()["candidates"]}[name]
        if row["final_kind"]:
            break
        page.wait_for_timeout(1_000)
    assert row["final_kind"] == "collection", row
    # ... and the learner's own server refuses any further save into the exam folder.
    page.wait_for_timeout(6_000)  # (the server re-reads the exam's state at most every 5 s)
    session = hub.user_session("clock")
    r = session.put(f"{hub.url}/user/{name}/api/contents/{COURSE}/{EXAM}/{EXAM}.ipynb",
                    json={"type": "notebook", "format": "json",
                          "content": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}})
    assert r.status_code == 403 and "The exam is over" in r.text
    context.close()
