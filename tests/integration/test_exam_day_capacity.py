"""Exam-day capacity on a real hub: the start queue and jupyterhub-idle-culler.

* Stock JupyterHub answers starts past its ``concurrent_spawn_limit`` with a 429 and lets the others
  race for the CPU until its timeouts (FACTS.md: 13 of 20 fail). Here the hub starts one server at a
  time (``TREMPLIN_START_SLOTS=1``), so the third learner to ask waits behind two and is told so.
* Servers nobody uses are stopped by the idle culler (``TREMPLIN_IDLE_TIMEOUT``, 20 s here, with
  activity reported every 5 s instead of 5 min), and a server in use is not.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from hubfixture import RunningHub, is_root, make_base

pytestmark = pytest.mark.skipif(not is_root(), reason="learners' accounts need root")

COURSE = "python-intro"
IDLE_S = 20


@pytest.fixture(scope="module")
def one_slot_hub():
    running = RunningHub(make_base(), extra_env={"TREMPLIN_START_SLOTS": "1", "TREMPLIN_IDLE_TIMEOUT": str(IDLE_S)},
                         extra_config="c.JupyterHub.last_activity_interval = 5\n"
                                      "c.Spawner.environment = {**c.Spawner.environment, "
                                      "'JUPYTERHUB_ACTIVITY_INTERVAL': '5'}\n")
    try:
        running.prepare(courses=[COURSE])
        running.start()
        yield running
    finally:
        running.cleanup()


def progress_events(hub: RunningHub, name: str, into: list[dict]) -> None:
    """Every event of ``name``'s start, as the waiting page's EventSource receives them."""
    with hub.admin() as admin, admin.get(f"{hub.api}/users/{name}/server/progress", stream=True,
                                         timeout=180) as stream:
        stream.raise_for_status()
        for line in stream.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                into.append(json.loads(line[5:]))


def test_learners_starting_together_wait_in_line_with_their_place_and_all_get_their_server(one_slot_hub):
    hub = one_slot_hub
    names = [hub.add_learner(f"rush{i}", COURSE) for i in range(3)]
    events: list[dict] = []
    with hub.admin() as admin, ThreadPoolExecutor(3) as pool:
        posts = [pool.submit(admin.post, f"{hub.api}/users/{name}/server") for name in names]
        time.sleep(1)  # (the starts are pending: the third learner's page opens its stream)
        reader = threading.Thread(target=progress_events, args=(hub, names[2], events))
        reader.start()
        statuses = [post.result().status_code for post in posts]
    assert set(statuses) <= {201, 202}, f"every start is accepted (stock JupyterHub answers some with 429): {statuses}"
    for tag in ("rush0", "rush1", "rush2"):
        hub.start_server(tag, timeout=150)
    reader.join(60)
    assert not reader.is_alive(), "the progress stream ends once the server is ready"

    messages = [e.get("message", "") for e in events]
    waiting = [m for m in messages if "dans la file" in m]
    assert waiting, f"the third learner was never told their place: {messages}"
    assert "place n° 2 dans la file (1 personne(s) avant vous)" in waiting[0], waiting[0]
    assert "place 2 in line (1 before you)" in waiting[0], waiting[0]
    assert any("place n° 1 dans la file" in m for m in waiting), "their place moves up as the line moves"
    assert any("Your turn: your workspace is starting" in m for m in messages), messages
    assert events[-1].get("ready") is True, events[-1]
    assert "Too many users" not in hub.log_tail(2000)
    with hub.admin() as admin:
        for name in names:
            admin.delete(f"{hub.api}/users/{name}/server")


def test_the_idle_culler_stops_a_server_nobody_uses_and_keeps_one_in_use(one_slot_hub):
    hub = one_slot_hub
    idle, busy = hub.add_learner("idle", COURSE), hub.add_learner("busy", COURSE)
    hub.start_server("idle")
    server = hub.start_server("busy")
    http = hub.user_session("busy")

    def running(name: str) -> bool:
        with hub.admin() as admin:
            return "" in admin.get(f"{hub.api}/users/{name}").json().get("servers", {})

    deadline = time.monotonic() + IDLE_S * 4
    while running(idle) and time.monotonic() < deadline:
        http.get(f"{server}/api/contents", timeout=10).raise_for_status()  # the busy learner works
        time.sleep(3)
    assert not running(idle), f"the idle server is still running after {IDLE_S * 4} s:\n{hub.log_tail(80)}"
    assert running(busy), "the server in use was stopped"
    assert "idle-culler" in hub.log_tail(3000)
    http.close()
    with hub.admin() as admin:
        admin.delete(f"{hub.api}/users/{busy}/server")
