"""Exam-day capacity on a real hub: the start queue and jupyterhub-idle-culler.

* Stock JupyterHub answers starts past its ``concurrent_spawn_limit`` with a 429 and lets the others
  race for the CPU until its timeouts (FACTS.md: 13 of 20 fail). Here the hub starts one server at a
  time (``TREMPLIN_START_SLOTS=1``), so the third learner to ask waits behind two and is told so.
* Before an exam window opens, ``tremplin-prestart`` starts its candidates' servers: those of the
  course's group and those a roster enrols who never logged in (their hub user is created), not others.
* Servers nobody uses are stopped by the idle culler (``TREMPLIN_IDLE_TIMEOUT``, 20 s here, with
  activity reported every 5 s instead of 5 min), and a server in use is not.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from hubfixture import VENV_BIN, RunningHub, is_root, make_base

pytestmark = pytest.mark.skipif(not is_root(), reason="learners' accounts need root")

COURSE = "python-intro"
EXAM_COURSE, EXAM = "preselection-physics", "physics-2027"
IDLE_S = 20
#: Each server takes 3 s more to start, as on a busy machine: the first start holds the one slot long enough for
#: the third learner to find two ahead (a server can start in under a second here).
SLOW_START = (f"c.TremplinSpawner.cmd = ['/bin/sh', '-c', 'sleep 3; exec \"$0\" \"$@\"', "
              f"{str(VENV_BIN / 'tremplin-singleuser')!r}]\n")


@pytest.fixture(scope="module")
def one_slot_hub():
    running = RunningHub(make_base(), extra_env={"TREMPLIN_START_SLOTS": "1", "TREMPLIN_IDLE_TIMEOUT": str(IDLE_S),
                                                 "TREMPLIN_PRESTART_MINUTES": "20"},
                         extra_config="c.JupyterHub.last_activity_interval = 5\n"
                                      "c.Spawner.environment = {**c.Spawner.environment, "
                                      "'JUPYTERHUB_ACTIVITY_INTERVAL': '5'}\n" + SLOW_START)
    try:
        running.prepare(courses=[COURSE, EXAM_COURSE])
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
        # The first two ask together; the third once both are starting (one in the slot, one in line), so that
        # two are ahead of them whatever order the first two arrived in.
        posts = [pool.submit(admin.post, f"{hub.api}/users/{name}/server") for name in names[:2]]
        deadline = time.monotonic() + 60
        while not all(admin.get(f"{hub.api}/users/{name}").json().get("pending") == "spawn" for name in names[:2]):
            assert time.monotonic() < deadline, "the first two starts never began"
            time.sleep(0.1)
        posts.append(pool.submit(admin.post, f"{hub.api}/users/{names[2]}/server"))
        time.sleep(0.5)  # (the third learner's page opens its stream)
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


def test_servers_of_an_exam_window_start_before_it_opens(one_slot_hub, tmp_path):
    hub = one_slot_hub
    prefix = hub.names["learner1"].split("-")[0]
    # A candidate a roster enrols, who never logged in: no hub user yet.
    cid, newcomer = f"{prefix}-early", f"{prefix}-early1"
    (tmp_path / "campaign.toml").write_text(
        f'id = "{cid}"\ntitle = "Early"\npartner = "IIT"\ncountry = "IN"\nsession = "2027-03"\nthreshold = 50\n'
        f'threshold_version = "e-1"\n[[sections]]\nname = "physics"\nexam = "{EXAM_COURSE}/{EXAM}"\nweight = 1\n')
    (tmp_path / "roster.csv").write_text("candidate_id,last_name,first_name,email,partner,country,account\n"
                                         f"IN-1,Rao,Asha,a@x.org,IIT,IN,{newcomer}\n", encoding="utf-8")
    for argv in (["campaign", "add", str(tmp_path / "campaign.toml")],
                 ["campaign", "roster", cid, str(tmp_path / "roster.csv"), "--sheet", str(tmp_path / "s.csv")]):
        proc = subprocess.run([str(VENV_BIN / "tremplin"), *argv], env=hub.env(), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    with hub.admin() as admin:
        assert admin.get(f"{hub.api}/users/{newcomer}").status_code == 404
    candidate, outsider = hub.names["learner2"], hub.names["learner1"]  # (physics; python-intro only)

    coordinator = hub.user_session("coordinator")
    base = f"{hub.url}/services/tremplin-exam/api/courses/{EXAM_COURSE}/assignments/{EXAM}"
    before = coordinator.get(f"{base}/session").json()
    now = dt.datetime.now(dt.timezone.utc)
    r = coordinator.put(f"{base}/session", json={**before, "opens": (now + dt.timedelta(minutes=5)).isoformat(),
                                                 "closes": (now + dt.timedelta(hours=3)).isoformat()})
    assert r.status_code == 200, r.text

    def server(name: str) -> dict | None:
        with hub.admin() as admin:
            r = admin.get(f"{hub.api}/users/{name}")
            return r.json().get("servers", {}).get("") if r.status_code == 200 else None

    # (a round every 30 s, then one start after the other; the culler of this hub may stop the first by the end)
    deadline, seen_ready = time.monotonic() + 150, set()
    while seen_ready != {candidate, newcomer}:
        assert time.monotonic() < deadline, f"not started ahead: only {seen_ready}\n{hub.log_tail(60)}"
        seen_ready |= {n for n in (candidate, newcomer) if (server(n) or {}).get("ready")}
        time.sleep(1)
    assert server(outsider) is None, "a learner of another course got a server"
    with hub.admin() as admin:
        groups = admin.get(f"{hub.api}/users/{newcomer}").json()["groups"]
    assert f"nbgrader-{EXAM_COURSE}" in groups, groups
    assert f"{EXAM_COURSE}/{EXAM}" in hub.log_tail(3000) and "servers started ahead" in hub.log_tail(3000)
    coordinator.close()
    with hub.admin() as admin:
        for name in (candidate, newcomer):
            admin.delete(f"{hub.api}/users/{name}/server")


def test_a_server_started_ahead_has_a_kernel_ready_for_the_first_notebook_in_its_folder(one_slot_hub):
    from kernelkit import execute

    hub = one_slot_hub
    name = hub.add_learner("warm", COURSE)
    with hub.admin() as admin:  # (as tremplin-prestart asks)
        r = admin.post(f"{hub.api}/users/{name}/server", json={"user_options": {"warm_kernel": True}})
        assert r.status_code in (201, 202), r.text
    server = hub.start_server("warm")
    http = hub.user_session("warm")
    deadline = time.monotonic() + 60
    while not (kernels := http.get(f"{server}/api/kernels").json()):
        assert time.monotonic() < deadline, "no kernel was started ahead"
        time.sleep(0.5)
    assert len(kernels) == 1 and not http.get(f"{server}/api/sessions").json()
    ahead = kernels[0]["id"]

    http.put(f"{server}/api/contents/exam", json={"type": "directory"}).raise_for_status()
    for notebook in ("exam/a.ipynb", "b.ipynb"):
        http.put(f"{server}/api/contents/{notebook}", json={"type": "notebook"}).raise_for_status()
    first = http.post(f"{server}/api/sessions", json={"path": "exam/a.ipynb", "type": "notebook", "name": "a.ipynb",
                                                      "kernel": {"name": "python3"}})
    assert first.status_code == 201, first.text
    assert first.json()["kernel"]["id"] == ahead, "the first notebook did not get the kernel started ahead"
    ran = execute(http, server, ahead, "import os; print(os.getcwd()); print(get_ipython().execution_count)")
    assert ran["status"] == "ok", ran
    folder, count = ran["stdout"].split()
    assert folder.endswith(f"/{name}/exam"), f"the kernel runs in {folder}, not the notebook's folder"
    assert count == "1", "moving the kernel to the folder counted as a run of the notebook"

    second = http.post(f"{server}/api/sessions", json={"path": "b.ipynb", "type": "notebook", "name": "b.ipynb",
                                                       "kernel": {"name": "python3"}})
    assert second.status_code == 201 and second.json()["kernel"]["id"] != ahead  # (only one is started ahead)
    http.close()
    with hub.admin() as admin:
        admin.delete(f"{hub.api}/users/{name}/server")

    plain = hub.add_learner("cold", COURSE)
    server = hub.start_server("cold")
    with hub.user_session("cold") as http:
        time.sleep(5)
        assert http.get(f"{server}/api/kernels").json() == [], "a server not started ahead started a kernel"
    with hub.admin() as admin:
        admin.delete(f"{hub.api}/users/{plain}/server")
