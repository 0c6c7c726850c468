"""The learner's server sends exam autosaves without ever making a save wait for the exam service.

A candidate of the physics exam saves through their real server while the exam service is
frozen (SIGSTOP: it accepts connections and never answers, as a service stuck on its disk
does): the save returns at once, the server answers other requests, and ``GET /tremplin/exams``
says the change is not kept yet. Once the service runs again the change is kept, at a time the
service gave.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import pytest

from hubfixture import service_pid

pytestmark = pytest.mark.hub

COURSE, EXAM = "preselection-physics", "physics-2027"


def notebook(text: str) -> dict:
    return {"cells": [{"cell_type": "markdown", "metadata": {}, "source": text}], "metadata": {},
            "nbformat": 4, "nbformat_minor": 5}


def wait_for(what, check, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.3)


def test_a_save_returns_at_once_while_the_exam_service_does_not_answer_and_says_not_kept(hub):
    hub.add_learner("frozen", COURSE)
    server = hub.start_server("frozen")
    me = hub.user_session("frozen")
    service = f"{hub.url}/services/tremplin-exam/api"
    r = me.post(f"{service}/courses/{COURSE}/assignments/{EXAM}/fetch", json={"start": True})  # (as the start page)
    assert r.status_code == 200, r.text
    contents = f"{server}/api/contents/{COURSE}/{EXAM}"
    for folder in (f"{server}/api/contents/{COURSE}", contents):
        assert me.put(folder, json={"type": "directory"}).status_code in (200, 201)
    saved = me.put(f"{contents}/answers.ipynb", json={"type": "notebook", "content": notebook("draft 1")})
    assert saved.status_code in (200, 201), saved.text

    def kept_by_service():
        mine = me.get(f"{service}/exams/mine").json()["exams"]
        return next(e for e in mine if e["assignment"] == EXAM)["last_snapshot"]
    first = wait_for("the first save reaching the service", kept_by_service, 20)

    pid = service_pid(hub, "tremplin-exam")
    assert pid is not None, "the exam service process was not found"
    time.sleep(2.1)  # (the service refuses autosaves closer than 2 s)
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        saved = me.put(f"{contents}/answers.ipynb", json={"type": "notebook", "content": notebook("draft 2")},
                       timeout=30)
        save_seconds = time.monotonic() - started
        listed = me.get(f"{server}/api/contents/{COURSE}", timeout=30)
        other_seconds = time.monotonic() - started - save_seconds
        status = me.get(f"{server}/tremplin/exams", params={"cached": "1"}, timeout=30)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert saved.status_code == 200 and save_seconds < 2, (saved.status_code, save_seconds)
    assert listed.status_code == 200 and other_seconds < 2, other_seconds
    assert status.status_code == 200, status.text
    (exam,) = [e for e in status.json()["exams"] if e["path"] == f"{COURSE}/{EXAM}"]
    assert exam["autosave"]["state"] == "pending", exam["autosave"]  # being sent: never "kept" while frozen

    def kept_again():
        got = me.get(f"{server}/tremplin/exams").json()
        (exam,) = [e for e in got["exams"] if e["path"] == f"{COURSE}/{EXAM}"]
        return exam["autosave"] if exam["autosave"]["state"] == "kept" else None
    autosave = wait_for("the frozen save kept once the service runs again", kept_again, 30)
    assert dt.datetime.fromisoformat(autosave["kept_at"]) > dt.datetime.fromisoformat(first)
    assert autosave["error"] is None and autosave["retry_at"] is None
    assert kept_by_service() == autosave["kept_at"]
