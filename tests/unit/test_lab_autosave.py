"""The learner's server's exam autosave: what each exam's last save became, against a real HTTP server.

A small exam service on 127.0.0.1 answers as the real one does (201 with the service's time,
429 for autosaves too close together, 409 once the exam is over, 500, or no answer at all).
The watcher's clock is injected, so retries are tested by moving it, never by sleeping.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tremplin_lab.autosave import ExamWatcher
from tremplin_lab.client import ExamClient

EXAM = {"course": "preselection-math", "assignment": "math-2027", "path": "preselection-math/math-2027",
        "state": "running", "saving": True, "seconds_left": 3600, "deadline": "2027-03-15T10:00:00+00:00"}
SNAPSHOTS = "/api/courses/preselection-math/assignments/math-2027/snapshots/cand"


class FakeService:
    """Answers snapshots in the order of ``answers`` (then 201); ``hang`` waits for ``release``."""

    def __init__(self):
        self.exam = dict(EXAM)
        self.answers: list[str] = []
        self.received: list[dict[str, bytes]] = []
        self.release = threading.Event()
        self.kept = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                assert self.path == "/api/exams/mine"
                self.reply(200, {"exams": [fake.exam], "server_time": "2027-03-15T08:00:00+00:00"})

            def do_POST(self):
                assert self.path == SNAPSHOTS and self.headers["Authorization"] == "token secret"
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.received.append({k: base64.b64decode(v) for k, v in body["files"].items()})
                answer = fake.answers.pop(0) if fake.answers else "kept"
                if answer == "hang":
                    fake.release.wait(10)
                    answer = "kept"
                if answer == "kept":
                    fake.kept += 1
                    self.reply(201, {"kind": "snapshot", "server_time": f"2027-03-15T08:00:{fake.kept:02d}+00:00"})
                elif answer == "429":
                    self.reply(429, {"message": "autosave of cand: the last one was kept 0.4 s ago; send at most "
                                                "one every 2 s"})
                elif answer == "409":
                    self.reply(409, {"message": "time is over for cand in preselection-math/math-2027"})
                else:
                    self.reply(500, {"message": "database is locked"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def service():
    fake = FakeService()
    yield fake
    fake.stop()


@pytest.fixture
def setup(tmp_path, service):
    folder = tmp_path / EXAM["path"]
    folder.mkdir(parents=True)
    (folder / "math-2027.ipynb").write_text("draft 1")
    client = ExamClient(service.url, token="secret", timeout=0.5)
    clock = Clock()
    watcher = ExamWatcher(tmp_path, client, logging.getLogger("test"), user="cand", clock=clock,
                          wall=lambda: 1_800_000_000.0)
    watcher.refresh()
    yield watcher, folder, clock
    service.release.set()
    watcher.flush(10)
    watcher.close()
    client.close()


def save(watcher, folder, text):
    (folder / "math-2027.ipynb").write_text(text)
    watcher.saved(folder / "math-2027.ipynb")


def test_a_save_shows_pending_then_kept_at_the_services_time(setup, service):
    watcher, folder, clock = setup
    save(watcher, folder, "draft 2")
    assert watcher.status(EXAM["path"])["state"] == "pending"
    watcher.flush(10)
    assert watcher.status(EXAM["path"]) == {"state": "kept", "kept_at": "2027-03-15T08:00:01+00:00", "error": None,
                                            "sending": False, "retry_in": None, "retry_at": None}
    assert service.received == [{"math-2027.ipynb": b"draft 2"}]
    watcher.saved(folder / "math-2027.ipynb")  # saved again, unchanged: nothing to send
    watcher.flush(10)
    assert len(service.received) == 1 and watcher.status(EXAM["path"])["state"] == "kept"


def test_a_save_never_waits_for_a_service_that_does_not_answer_and_is_then_shown_failed(setup, service):
    watcher, folder, clock = setup
    service.answers = ["hang"]
    started = time.monotonic()
    save(watcher, folder, "draft 2")
    assert time.monotonic() - started < 0.2
    status = watcher.status(EXAM["path"])
    assert status["state"] == "pending" and status["sending"]
    watcher.flush(10)  # the client gives up after its 0.5 s timeout
    status = watcher.status(EXAM["path"])
    assert status["state"] == "failed" and "cannot be reached" in status["error"], status
    assert status["retry_in"] == 15.0 and status["retry_at"] == "2027-01-15T08:00:15+00:00"


def test_a_failed_save_is_retried_after_15_s_then_30_s_and_kept_when_the_service_is_back(setup, service):
    watcher, folder, clock = setup
    service.answers = ["500", "500"]
    save(watcher, folder, "draft 2")
    watcher.flush(10)
    assert watcher.status(EXAM["path"])["state"] == "failed"
    assert watcher.status(EXAM["path"])["error"] == "database is locked"
    watcher.tick()  # the regular pass is not due
    clock.t += 14
    watcher.tick()
    watcher.flush(10)
    assert len(service.received) == 1
    clock.t += 1
    watcher.tick()
    watcher.flush(10)
    assert len(service.received) == 2
    status = watcher.status(EXAM["path"])
    assert status["state"] == "failed" and status["retry_in"] == 30.0, status
    clock.t += 30
    watcher.tick()
    watcher.flush(10)
    assert len(service.received) == 3 and service.received[-1] == {"math-2027.ipynb": b"draft 2"}
    assert watcher.status(EXAM["path"])["state"] == "kept"


def test_429_is_pending_not_failed_and_the_folder_is_sent_again_shortly(setup, service):
    watcher, folder, clock = setup
    service.answers = ["429"]
    save(watcher, folder, "draft 2")
    watcher.flush(10)
    status = watcher.status(EXAM["path"])
    assert status["state"] == "pending" and status["error"] is None and status["retry_in"] == 2.5, status
    clock.t += 2.5
    watcher.tick()
    watcher.flush(10)
    assert watcher.status(EXAM["path"])["state"] == "kept" and len(service.received) == 2


def test_saves_while_one_is_in_flight_are_sent_once_afterwards_with_the_latest_folder(setup, service):
    watcher, folder, clock = setup
    watcher.client.timeout = 10
    service.answers = ["hang"]
    save(watcher, folder, "draft 2")
    deadline = time.monotonic() + 10
    while not service.received and time.monotonic() < deadline:
        time.sleep(0.01)
    for text in ("draft 3", "draft 4", "draft 5"):
        save(watcher, folder, text)
    watcher.tick()  # (a snapshot is in flight: the pass waits for it)
    service.release.set()
    watcher.flush(10)
    assert service.received == [{"math-2027.ipynb": b"draft 2"}]
    status = watcher.status(EXAM["path"])
    # draft 2 was kept, but not the latest change: still pending, sent once the service takes it (2 s apart)
    assert status["state"] == "pending" and status["kept_at"] and status["retry_in"] == 2.5, status
    clock.t += 2.5
    watcher.tick()
    watcher.flush(10)
    assert service.received == [{"math-2027.ipynb": b"draft 2"}, {"math-2027.ipynb": b"draft 5"}]
    assert watcher.status(EXAM["path"])["state"] == "kept"


def test_the_regular_pass_sends_a_change_the_kernel_made_and_nothing_when_unchanged(setup, service):
    watcher, folder, clock = setup
    watcher.tick()  # first pass: this server has not sent anything yet
    watcher.flush(10)
    assert len(service.received) == 1 and watcher.status(EXAM["path"])["state"] == "kept"
    (folder / "data.csv").write_text("1,2")  # written by the kernel, no save hook
    clock.t += 59
    watcher.tick()
    watcher.flush(10)
    assert len(service.received) == 1
    clock.t += 1
    watcher.tick()
    watcher.flush(10)
    assert service.received[-1] == {"math-2027.ipynb": b"draft 1", "data.csv": b"1,2"}
    clock.t += 60
    watcher.tick()
    watcher.flush(10)
    assert len(service.received) == 2


def test_a_save_the_service_refuses_as_too_late_is_failed_and_not_retried(setup, service):
    watcher, folder, clock = setup
    service.answers = ["409"]
    save(watcher, folder, "after the end")
    watcher.flush(10)
    status = watcher.status(EXAM["path"])
    assert status["state"] == "failed" and "time is over" in status["error"] and status["retry_in"] is None


def test_an_exam_fetched_just_now_is_found_at_its_first_save(setup, service):
    watcher, folder, clock = setup
    service.exam = {**EXAM, "state": "open", "saving": False, "seconds_left": None}
    watcher.refresh()
    service.exam = dict(EXAM)  # the candidate fetched it since
    save(watcher, folder, "draft 2")
    deadline = time.monotonic() + 10
    while not service.received and time.monotonic() < deadline:
        time.sleep(0.01)
    watcher.flush(10)
    assert service.received == [{"math-2027.ipynb": b"draft 2"}]


def test_the_list_as_last_fetched_counts_its_age_off_the_time_left(setup, service):
    watcher, folder, clock = setup
    clock.t += 10
    described = watcher.describe()
    (exam,) = described["exams"]
    assert exam["seconds_left"] == 3590 and described["server_time"] == "2027-03-15T08:00:10+00:00"
    assert exam["autosave"] is None  # nothing checked yet: nothing claimed


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0, -5, 1e9])
def test_a_wrong_autosave_setting_fails_at_start_and_names_itself(value):
    from traitlets import TraitError
    from traitlets.config import Config

    from tremplin_lab.serverext import TremplinLab

    config = Config()
    config.TremplinLab.retry_after_failure = value
    with pytest.raises(TraitError, match=r"TremplinLab.retry_after_failure = .*between 1 and 3600"):
        TremplinLab(config=config)
    assert TremplinLab(config=Config()).autosave_interval == 60
