"""In headless Chromium, a candidate's first minutes and last click on a timed exam, where nothing may start or
end a timer without a confirmation that says what will happen and how long they have:

* the home page has one "Start…" per exam (the course's "Open my assignments" opened nbgrader's list on another
  course, whose first line started a 2-hour exam at one click);
* "Start…" shows the duration and the end in the candidate's zone; Cancel starts nothing;
* nbgrader's own Fetch button on that exam starts nothing, says what starting means and leads to the start page;
* Start opens the notebook itself, with the countdown at once (it used to wait for the next 30 s poll);
* "Hand in" saves, then asks, with the time left; Cancel hands in nothing; confirmed, the receipt shows in the
  candidate's zone, styled as information (it said UTC, in an error's red).
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from browserkit import login

pytestmark = [pytest.mark.hub, pytest.mark.browser]

COURSE, EXAM = "preselection-math", "math-2027"
ZONE = "Asia/Ho_Chi_Minh"  # GMT+7


def row_of(coordinator, api, name) -> dict:
    return {r["user"]: r for r in coordinator.get(f"{api}/candidates").json()["candidates"]}[name]


def test_an_exam_starts_and_ends_only_once_confirmed(hub, browser):
    name = hub.add_learner("starter", COURSE)
    coordinator = hub.user_session("coordinator")
    api = f"{hub.url}/services/tremplin-exam/api/courses/{COURSE}/assignments/{EXAM}"
    context = browser.new_context(viewport={"width": 1300, "height": 900}, timezone_id=ZONE)
    page = context.new_page()
    page.set_default_timeout(60_000)
    login(page, hub, "starter")
    page.wait_for_url("**/hub/home")

    # The home page: one "Start…" for the exam, saying that it asks first.
    start = page.locator(f"a.tremplin-open[data-assignment='{EXAM}']")
    assert "Commencer" in start.inner_text() and "Start" in start.inner_text()
    assert "Open my assignments" not in page.content()
    assert "asks you to confirm" in page.locator(f".tremplin-course[data-course='{COURSE}']").inner_text()

    # "Start…": the server starts (nothing else does), then the start page: duration, end in my zone.
    start.click()
    page.wait_for_url(f"**/services/tremplin-exam/start/{COURSE}/{EXAM}", timeout=120_000)
    assert page.locator("#start-duration").inner_text() == "2 h 00"
    assert re.search(r"GMT\+7", page.locator("#start-ends").inner_text()), page.locator("#start-ends").inner_text()
    text = page.locator("body").inner_text()
    assert "Le chronomètre démarre dès que vous cliquez" in text and "The clock starts when you click" in text
    page.click("#start-cancel")
    page.wait_for_url("**/hub/home")
    assert row_of(coordinator, api, name)["state"] == "open"  # (not started)
    assert row_of(coordinator, api, name)["started"] is None

    # nbgrader's own Fetch button on the exam: refused, with where to start, and nothing started.
    page.goto(f"{hub.url}/user/{name}/lab")
    page.wait_for_selector(".jp-LabShell")
    page.click(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
    page.click(".lm-Menu-itemLabel:text-is('Assignment List')")
    page.wait_for_selector(f"#course_list_default:text-is('{COURSE}')")
    page.locator("#released_assignments_list .list_item", has_text=EXAM).locator("button:has-text('Fetch')").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    said = dialog.inner_text()
    assert "épreuve chronométrée (durée : 2 h 00)" in said and "timed exam (duration: 2 h 00)" in said, said
    assert "nothing has started" in said
    dialog.locator("button:has-text('Annuler')").click()
    dialog.wait_for(state="detached")
    assert row_of(coordinator, api, name)["started"] is None
    # (and the service refuses such a fetch, whoever sends it: nbgrader's list only logs a refusal)
    refused = hub.user_session("starter").post(f"{api}/fetch", json={})
    assert refused.status_code == 409 and "this fetch started nothing" in refused.json()["message"]
    assert row_of(coordinator, api, name)["started"] is None

    # Start, confirmed: the notebook itself opens, and the countdown is there before any 30 s poll.
    page.goto(f"{hub.url}/hub/home")
    page.locator(f"a.tremplin-open[data-assignment='{EXAM}']").click()
    page.wait_for_url(f"**/services/tremplin-exam/start/{COURSE}/{EXAM}")
    page.click("#start-confirm")
    page.wait_for_url(f"**/user/{name}/lab/tree/{COURSE}/{EXAM}/{EXAM}.ipynb", timeout=60_000)
    page.wait_for_selector(".jp-Notebook .jp-CodeCell")
    clock = page.locator("#tremplin-exam-clock")
    page.wait_for_selector("#tremplin-exam-clock[data-state='running']", timeout=15_000)
    assert re.search(r"1:5\d:\d\d", clock.inner_text()) and "GMT+7" in clock.inner_text(), clock.inner_text()
    assert row_of(coordinator, api, name)["state"] == "running"

    # An answer typed and not saved yet; "Hand in" saves it first, then asks.
    cell = page.locator(".jp-Notebook .jp-CodeCell", has_text="YOUR CODE HERE").first
    cell.scroll_into_view_if_needed()
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text("answer = 'typed just before handing in'")
    hand_in = page.locator("#tremplin-exam-clock .tremplin-exam-handin")
    assert "Rendre ma copie" in hand_in.inner_text() and "Hand in" in hand_in.inner_text()
    hand_in.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    said = dialog.inner_text()
    assert "vous ne pourrez plus modifier vos réponses" in said and "will not be able to change your answers" in said
    assert re.search(r"Il vous reste 1:5\d:\d\d \(fin à \d\d:\d\d \(GMT\+7\)\)", said), said
    dialog.locator("button:has-text('Annuler')").click()
    dialog.wait_for(state="detached")
    row = row_of(coordinator, api, name)
    assert row["state"] == "running" and row["final_kind"] is None  # cancelled: nothing handed in

    hand_in.click()
    page.locator(".jp-Dialog button:has-text('Rendre ma copie')").click()
    banner = page.locator(".tremplin-exam-closed[data-kind='done']")
    banner.wait_for(timeout=30_000)
    text = banner.inner_text()
    assert "Votre copie est remise" in text and "Your work is handed in" in text
    assert re.search(r"Copie remise à \d\d:\d\d:\d\d \(GMT\+7\) / Handed in at \d\d:\d\d:\d\d \(GMT\+7\)", text), text
    assert "UTC" not in text
    background = banner.locator(".tremplin-exam-closed-body").evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(232, 241, 251)", background  # information's blue, not an error's red
    row = row_of(coordinator, api, name)
    assert row["state"] == "submitted" and row["final_kind"] == "submission", row
    # What was handed in holds the answer typed just before the click (saved first).
    records = hub.user_session("professor").get(f"{api}/submissions").json()
    mine = [r for r in records if r["user"] == name]
    assert len(mine) == 1
    files = hub.user_session("professor").get(f"{api}/submissions/{name}/{mine[0]['id']}").json()["files"]
    paper = json.loads(base64.b64decode(files[f"{EXAM}.ipynb"]))
    assert any("typed just before handing in" in "".join(c["source"]) for c in paper["cells"])
    # The countdown's button is gone: nothing more to hand in.
    assert hand_in.is_hidden()
    context.close()
