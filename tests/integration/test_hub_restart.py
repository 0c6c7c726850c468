"""A hub restart in the middle of an exam keeps learners' servers and kernels, and takes seconds.

The hub gets SIGTERM (as ``systemctl restart`` sends) while a learner's server runs a kernel
holding a variable; while the hub is down the learner's browser still reaches their server
through the proxy; the hub is started again on the same data directory and ports. The same
server process answers, the kernel still has the variable, the server reaches the exam
service again, and the stop + start takes seconds. Then ``bench/fault_injection.py`` runs one
trial per kind of process it kills (hub, proxy, exam service, formgrader) against the same
hub: no submission lost, no receipt invalid.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import time

import pytest
import requests
import kernelkit
from hubfixture import REPO, RunningHub, find_pid, is_root, make_base

pytestmark = [pytest.mark.hub, pytest.mark.skipif(not is_root(), reason="learners' system accounts need root")]

COURSE = "preselection-physics"
#: No grading service in this hub: the fault trials' papers would only queue up for it (its own
#: kill -9 is tested in test_grading_survives_kill).
NO_GRADER = "c.JupyterHub.services = [s for s in c.JupyterHub.services if s['name'] != 'tremplin-grader']\n"


@pytest.fixture(scope="module")
def hub():
    running = RunningHub(make_base(), extra_config=NO_GRADER)
    try:
        running.prepare(courses=[COURSE])
        running.start()
        yield running
    finally:
        running.cleanup()


def server_pid(hub: RunningHub, user: str) -> int | None:
    """The pid of ``user``'s single-user server (found by its command and its user's environment)."""
    return find_pid("tremplin-singleuser", f"JUPYTERHUB_USER={user}")


def proxied_status(url: str, token: str) -> int:
    try:
        return requests.get(url, headers={"Authorization": f"token {token}"}, timeout=5).status_code
    except requests.RequestException:
        return 0


def test_a_hub_restart_keeps_the_learners_server_and_kernel_and_takes_seconds(hub):
    name = hub.names["learner2"]
    server = hub.start_server("learner2")
    http = hub.user_session("learner2")
    token = http.headers["Authorization"].split()[1]
    pid = server_pid(hub, name)
    assert pid, "the learner's server process was not found"
    r = requests.post(f"{server}/api/kernels", json={"name": "python3"}, headers={"Authorization": f"token {token}"})
    assert r.status_code == 201, r.text
    kernel = r.json()["id"]
    assert kernelkit.execute(http, server, kernel, "restart_marker = 6 * 7\nprint('set')")["stdout"].strip() == "set"
    assert proxied_status(f"{server}/tremplin/exams", token) == 200  # the server reaches the exam service

    proxy_pid = (hub.data_dir / "hub" / "proxy.pid").read_text()
    stopping = time.monotonic()
    hub.proc.send_signal(signal.SIGTERM)
    hub.proc.wait(120)
    stop_seconds = time.monotonic() - stopping
    # The hub is down: the learner's browser still reaches their server through the proxy.
    down = proxied_status(f"{server}/api/status", token)
    starting = time.monotonic()
    hub.start()
    start_seconds = time.monotonic() - starting
    health = f"{hub.url}/services/tremplin-exam/api/health"
    while proxied_status(health, token) != 200:
        assert time.monotonic() - starting < 60, f"the exam service did not answer again:\n{hub.log_tail()}"
        time.sleep(0.2)
    exam_seconds = time.monotonic() - starting
    print(f"\nhub restart: stop {stop_seconds:.1f} s, start {start_seconds:.1f} s (hub API through the proxy), "
          f"exam service answering {exam_seconds:.1f} s after the start; server reached while the hub was down: "
          f"HTTP {down}")

    assert down == 200, "the learner's server could not be reached while the hub was down"
    assert server_pid(hub, name) == pid, "the learner's server was stopped (or replaced) by the restart"
    assert (hub.data_dir / "hub" / "proxy.pid").read_text() == proxy_pid, "the proxy was replaced: routes were lost"
    model = hub.admin().get(f"{hub.api}/users/{name}").json()
    assert model["servers"][""]["ready"], model
    assert proxied_status(f"{server}/api/status", token) == 200
    assert kernel in [k["id"] for k in requests.get(f"{server}/api/kernels",
                                                    headers={"Authorization": f"token {token}"}).json()]
    assert kernelkit.execute(http, server, kernel, "print(restart_marker)")["stdout"].strip() == "42"
    assert proxied_status(f"{server}/tremplin/exams", token) == 200, "the server no longer reaches the exam service"
    assert stop_seconds + start_seconds < 60, (stop_seconds, start_seconds)


def load_fault_injection():
    spec = importlib.util.spec_from_file_location("fault_injection", REPO / "bench" / "fault_injection.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up while it loads)
    spec.loader.exec_module(module)
    return module


def test_kill_9_of_each_part_in_the_middle_of_autosaves_loses_no_submission_and_no_receipt(hub):
    fi = load_fault_injection()
    report = fi.run_trials(hub, trials=4, candidates=3, kinds=fi.KINDS, seed=7, log=print,
                           submit_window=(-1.0, 3.0))
    print(report.summary())
    assert [t.kind for t in report.trials] == list(fi.KINDS)
    assert all(t.recovered for t in report.trials), report.summary()
    assert report.submissions > 0 and report.receipts > report.submissions
    assert report.lost == [] and report.invalid == [], report.summary()
