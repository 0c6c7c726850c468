"""The learner's side of the exchange writes what the service sends only inside the assignment's folder.

Feedback is named by a timestamp that the service sends; it once became ``feedback/<timestamp>``
as it came, so ``../../../.ipython/profile_default/startup`` planted a file that the learner's
next kernel ran, after an ``rmtree`` of whatever had that name.
"""

from __future__ import annotations

import datetime as dt

import pytest
from tremplin_lab.transfer import TransferError, save_feedback, write_new_folder

NOW = dt.datetime(2027, 3, 15, 9, 30, tzinfo=dt.timezone.utc)
STAMP = "2027-03-15 08:59:59.123456 UTC"


@pytest.fixture
def home(tmp_path):
    (tmp_path / ".ipython" / "profile_default" / "startup").mkdir(parents=True)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    assignment = tmp_path / "preselection-math" / "math-2027"
    assignment.mkdir(parents=True)
    return tmp_path, assignment


@pytest.mark.parametrize("stamp", ["../../../.ipython/profile_default/startup", "../../../notes", "/tmp/x", "..",
                                   f"{STAMP}/../../x", f"{STAMP}\n", "", None, 3])
def test_feedback_named_by_anything_but_a_timestamp_writes_and_deletes_nothing(home, stamp):
    root, assignment = home
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    with pytest.raises(TransferError, match="not a submission timestamp"):
        save_feedback(assignment, stamp, {"00-startup.py": b"import os; os.system('id')"}, NOW)
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert (root / "notes" / "mine.txt").read_text() == "keep me"


def test_feedback_lands_in_its_folder_and_an_earlier_version_is_kept_aside(home):
    _root, assignment = home
    first = save_feedback(assignment, STAMP, {"math-2027.html": b"v1"}, NOW)
    assert first == assignment / "feedback" / STAMP and (first / "math-2027.html").read_bytes() == b"v1"
    (first / "my-notes.txt").write_text("the learner's")
    again = save_feedback(assignment, STAMP, {"math-2027.html": b"v2"}, NOW + dt.timedelta(hours=1))
    assert (again / "math-2027.html").read_bytes() == b"v2"
    aside = assignment / "feedback" / f"{STAMP} (before 2027-03-15 103000)"
    assert (aside / "my-notes.txt").read_text() == "the learner's" and (aside / "math-2027.html").read_bytes() == b"v1"


@pytest.mark.parametrize("name", ["../x.py", "/etc/x", "a/../../x", "./x", "a//b"])
def test_a_file_name_from_the_service_outside_the_folder_writes_nothing(tmp_path, name):
    with pytest.raises(TransferError, match="unsafe file name"):
        write_new_folder(tmp_path / "a" / "copy", {"ok.ipynb": b"{}", name: b"x"})
    assert not (tmp_path / "a" / "copy").exists() and not (tmp_path / "x.py").exists()
    assert [p.name for p in (tmp_path / "a").iterdir()] == []




HOLDER = """
import sys, time
from pathlib import Path
from tremplin_grading.autograde import paper_lock
from tremplin_grading.recorder import write_submission
root = Path(sys.argv[1])
with paper_lock(root, "math-2027", "cand-1"):
    (root / "holding").touch()
    time.sleep(1)
    write_submission(root, "cand-1", "math-2027", {"math-2027.ipynb": b"{}", "extra.txt": b"queue"}, sys.argv[2])
    (root / "released").touch()
"""


def test_collect_waits_for_the_grading_queue_writing_the_same_paper(tmp_path):
    """CI once failed on this race: the grading queue's recorder (another process) put the paper that had
    just arrived in ``submitted/`` between the professor's *Collect* clearing the folder and renaming its own
    copy into place. Collect now takes the recorder's lock on the paper, and replaces the folder as it does."""
    import subprocess
    import sys
    import time

    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from tremplin_lab.client import encode
    from tremplin_lab.exchange import Collect

    stamp = "2027-03-15 08:59:59.123456 UTC"
    later = "2027-03-15 09:00:30.000000 UTC"
    record = {"user": "cand-1", "id": 7, "server_time": "2027-03-15T09:00:30+00:00", "timestamp": later,
              "kind": "final", "state": "ok"}
    downloads = []

    class Professor(Collect):
        def call(self, method, path, body=None, params=None):
            if path.endswith("/submissions"):
                return [record]
            downloads.append((tmp_path / "released").exists())
            return {"files": encode({"math-2027.ipynb": b'{"cells": []}'})}

        def api(self, course=None, assignment=None):
            return "/courses/preselection-math/assignments/math-2027"

    import os
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo / "graders"), str(repo / "extensions")])}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), stamp], env=env)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "holding").exists():
            assert holder.poll() is None and time.monotonic() < deadline, "the lock holder did not start"
            time.sleep(0.02)
        c = Config()
        c.CourseDirectory.root = str(tmp_path)
        c.CourseDirectory.course_id = "preselection-math"
        c.CourseDirectory.assignment_id = "math-2027"
        c.ExchangeCollect.update = True  # as the formgrader's Collect button does
        Professor(coursedir=CourseDirectory(config=c), authenticator=None, config=c).start()
    finally:
        assert holder.wait(30) == 0
    assert downloads == [True], "Collect wrote the paper while the grading queue was writing it"
    folder = tmp_path / "submitted" / "cand-1" / "math-2027"
    assert sorted(p.name for p in folder.iterdir()) == ["math-2027.ipynb", "timestamp.txt"]
    assert (folder / "timestamp.txt").read_text() == later, "the newer submission is the one collected"
    assert [p.name for p in folder.parent.iterdir()] == ["math-2027"], "no half-written folder is left behind"


class _Service:
    """Answers a fetch with the files given (as the exam service's client would)."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files

    def assignment_path(self, course: str, assignment: str) -> str:
        return f"api/courses/{course}/assignments/{assignment}"

    def call(self, method, path, body=None):
        from tremplin_lab.client import encode

        return {"files": encode(self.files)}


def test_restoring_missing_files_never_writes_outside_the_copy(home):
    """*Fetch* with ``replace_missing_files`` (nbgrader's button after a learner deleted a notebook) wrote each
    name the service sent where it pointed; now a copy is written back only when every name stays inside it."""
    import logging

    from tremplin_lab.transfer import fetch_copy

    root, assignment = home
    (assignment / "math-2027.ipynb").write_text("mine")
    service = _Service({"math-2027.ipynb": b"theirs", "data.csv": b"1,2", "../../../notes/mine.txt": b"overwritten"})
    with pytest.raises(TransferError, match="unsafe file name '../../../notes/mine.txt'; nothing was written"):
        fetch_copy(service, root, "preselection-math", "math-2027", logging.getLogger("t"), replace_missing_files=True)
    assert (root / "notes" / "mine.txt").read_text() == "keep me"
    assert sorted(p.name for p in assignment.iterdir()) == ["math-2027.ipynb"]
    service.files.pop("../../../notes/mine.txt")
    fetch_copy(service, root, "preselection-math", "math-2027", logging.getLogger("t"), replace_missing_files=True)
    assert (assignment / "math-2027.ipynb").read_text() == "mine", "a learner's file is never overwritten"
    assert (assignment / "data.csv").read_bytes() == b"1,2"


def test_nbgrader_reports_a_step_that_failed_as_its_own_exchange_error(home, monkeypatch):
    """nbgrader's Assignments tab shows an ``ExchangeError``'s message; anything else is a traceback."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.abc.exchange import ExchangeError
    from traitlets.config import Config

    from tremplin_lab import exchange

    root, assignment = home
    monkeypatch.setenv("TREMPLIN_EXAM_URL", "http://127.0.0.1:9/services/exam/")
    c = Config()
    c.CourseDirectory.course_id = "preselection-math"
    c.CourseDirectory.assignment_id = "math-2027"
    c.Exchange.assignment_dir = str(root)
    fetch = exchange.FetchAssignment(coursedir=CourseDirectory(config=c), authenticator=Authenticator(config=c),
                                     config=c)
    with pytest.raises(ExchangeError, match="exists already: your copy of preselection-math/math-2027 was fetched"):
        fetch.start()
