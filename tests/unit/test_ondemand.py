"""Formgraders on demand (tremplin_hub.ondemand): started by the first visit through the proxy, stopped when unused.

A real ``python -m tremplin_hub.ondemand`` process in front of a small HTTP service that stands for the formgrader
(it records its pid), on loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from hubfixture import free_port
from tremplin_hub.keeper import alive

REPO = Path(__file__).resolve().parents[2]

SERVICE = """
import http.server, os, sys, urllib.parse
url = urllib.parse.urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
with open(sys.argv[1], "a") as f:
    f.write(f"{os.getpid()}\\n")

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"formgrader {os.getpid()} for {self.headers.get('X-Forwarded-For')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer((url.hostname, url.port), Handler).serve_forever()
"""


@pytest.fixture
def ondemand(tmp_path):
    port = free_port()
    pids = tmp_path / "pids"
    (tmp_path / "service.py").write_text(SERVICE)
    env = {k: v for k, v in os.environ.items() if k != "TREMPLIN_HUB_PID"}
    env.update(JUPYTERHUB_SERVICE_URL=f"http://127.0.0.1:{port}/", JUPYTERHUB_SERVICE_NAME="python-intro",
               PYTHONPATH=os.pathsep.join([str(REPO / "extensions"), str(REPO / "graders")]))
    # (-I as the hub runs it would drop PYTHONPATH: the checkout's code is the one under test here)
    log = open(tmp_path / "ondemand.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "tremplin_hub.ondemand", "--idle-seconds", "3", "--",
                             sys.executable, str(tmp_path / "service.py"), str(pids)], env=env, stderr=log)
    url = f"http://127.0.0.1:{port}/services/python-intro/"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url, timeout=5)
            break
        except requests.ConnectionError:
            assert proc.poll() is None and time.monotonic() < deadline, "ondemand did not listen"
            time.sleep(0.1)
    try:
        yield proc, url, pids
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        log.close()


def started(pids: Path) -> list[int]:
    return [int(x) for x in pids.read_text().split()] if pids.exists() else []


def test_the_hubs_checks_never_start_it_a_visit_through_the_proxy_does_and_it_stops_when_unused(ondemand):
    proc, url, pids = ondemand
    check = requests.get(url, timeout=5)
    assert check.status_code == 200 and "stopped, starts at the next visit" in check.text
    assert started(pids) == [], "the hub's health check started the formgrader"

    visit = requests.get(url, headers={"X-Forwarded-For": "203.0.113.9"}, timeout=60)
    assert visit.status_code == 200 and visit.text.endswith("for 203.0.113.9"), visit.text
    [first] = started(pids)
    assert alive(first)
    # while it runs, the hub's checks reach it
    assert requests.get(url, timeout=5).text.startswith(f"formgrader {first}")

    deadline = time.monotonic() + 30
    while alive(first) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(first), "the formgrader still runs 3 s after its last visit"
    assert "stopped, starts at the next visit" in requests.get(url, timeout=5).text

    again = requests.get(url, headers={"X-Forwarded-For": "203.0.113.9"}, timeout=60)
    assert again.status_code == 200
    assert len(started(pids)) == 2 and again.text.startswith(f"formgrader {started(pids)[1]}")

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    time.sleep(0.5)
    assert not alive(started(pids)[1]), "the formgrader outlived its service"


def test_visitors_arriving_together_start_it_once(ondemand):
    from concurrent.futures import ThreadPoolExecutor

    _proc, url, pids = ondemand
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda i: requests.get(url, headers={"X-Forwarded-For": f"203.0.113.{i}"},
                                                       timeout=60), range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert len(started(pids)) == 1


def test_a_request_head_too_long_is_refused_and_the_formgrader_not_started(ondemand):
    _proc, url, pids = ondemand
    r = requests.get(url, headers={"X-Forwarded-For": "203.0.113.9", "X-Padding": "a" * 70000}, timeout=10)
    assert r.status_code == 431 and "Request headers too long" in r.text
    assert started(pids) == []


def test_a_killed_stand_in_takes_its_formgrader_with_it(ondemand):
    """As when the hub dies: nothing is left running on a port a restarted hub would give again."""
    proc, url, pids = ondemand
    assert requests.get(url, headers={"X-Forwarded-For": "203.0.113.9"}, timeout=60).status_code == 200
    [formgrader] = started(pids)
    proc.kill()
    proc.wait(30)
    deadline = time.monotonic() + 30
    while alive(formgrader) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(formgrader), "the formgrader outlived its killed stand-in"
