"""Without root the hub falls back to one system account for every server, and says loudly that it is a demo.

As root (CI), the hub is started as an ordinary account to get that mode; learners'
servers then run as that same account, and nbgrader still records each submission
under the hub user's name rather than the shared account's.
"""

from __future__ import annotations

import pwd
import secrets
import subprocess

import pytest

from hubfixture import RunningHub, is_root, make_base

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def demo_hub():
    running = RunningHub(make_base(), run_as=f"t{secrets.token_hex(2)}-hubdemo" if is_root() else None)
    try:
        running.prepare(courses=["python-intro"])
        running.start()
        yield running
    finally:
        running.cleanup()


def test_hub_without_root_warns_that_it_is_a_demo(demo_hub):
    log = demo_hub.log_tail(400)
    assert "DEMO MODE" in log and "NOT isolated" in log


def test_servers_share_the_hub_account_and_submissions_keep_the_hub_user_name(demo_hub):
    hub_account = demo_hub.run_as or pwd.getpwuid(subprocess.os.getuid()).pw_name
    learner = demo_hub.names["learner1"]
    session = demo_hub.user_session("learner1")
    server = demo_hub.start_server("learner1")
    owners = subprocess.run(["ps", "-o", "user=", "-C", "tremplin-singleuser"], capture_output=True, text=True)
    assert hub_account in owners.stdout.split()
    with pytest.raises(KeyError):
        pwd.getpwnam(learner)  # no system account was created for the learner

    r = session.post(f"{server}/assignments/fetch", data={"course_id": "python-intro", "assignment_id": "devoir-1"})
    r.raise_for_status()
    r = session.post(f"{server}/assignments/submit", data={"course_id": "python-intro", "assignment_id": "devoir-1"})
    r.raise_for_status()
    # The exam service took the name from the server's hub token, not from the shared system account.
    from tremplin_hub.exam.store import Store
    from tremplin_hub.layout import Layout

    layout = Layout(demo_hub.data_dir)
    store = Store(layout.exam_db_url, layout.exam_files)
    try:
        assert [r.user for r in store.records("python-intro", "devoir-1")] == [learner]
    finally:
        store.close()


def test_in_demo_mode_papers_are_still_graded_in_a_sandbox(demo_hub):
    """Without root the sandbox runs in a user namespace as the hub's account: the blank paper is graded."""
    from gradingkit import wait_for_jobs

    learner = demo_hub.names["learner1"]
    session = demo_hub.user_session("learner1")
    server = demo_hub.start_server("learner1")
    for verb in ("fetch", "submit"):
        session.post(f"{server}/assignments/{verb}", data={"course_id": "python-intro", "assignment_id": "devoir-1"})
    jobs = wait_for_jobs(demo_hub, [learner])[learner]
    newest = jobs[0]  # (an earlier submission of the same learner is superseded or graded too)
    assert newest.state == "done" and newest.score == 0 and newest.max_score == 10, newest
