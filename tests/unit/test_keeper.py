"""The keeper of a hub-managed service: started again at once after ``kill -9``, ended with the hub.

Real processes (a sleeping Python stands for the service), no hub: what JupyterHub sees of a
service is its keeper, the hub's child.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tremplin_hub.keeper import alive

REPO = Path(__file__).resolve().parents[2]
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
#: a service that ignores the polite signals: only the watchdog's SIGKILL ends it
STUBBORN = [sys.executable, "-c", ("import signal, time\nfor s in (signal.SIGINT, signal.SIGTERM): "
                                   "signal.signal(s, signal.SIG_IGN)\ntime.sleep(120)")]


def env(**extra) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "extensions"), str(REPO / "graders")]), **extra}


def keeper(command: list[str], **extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tremplin_hub.keeper", "--", *command], env=env(**extra))


def children(pid: int) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(stat[1]) == pid and stat[0] != "Z":
                out.append(int(proc.name))
    return out


def wait_for(condition, seconds: float = 15.0, what: str = ""):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds:g} s: {what}")


def service_of(kept: subprocess.Popen) -> int:
    return wait_for(lambda: (children(kept.pid) or [None])[0], what="the keeper's service started")


@pytest.fixture
def cleanup():
    procs: list[int] = []
    yield procs
    for pid in procs:
        for p in [pid, *children(pid)]:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass


def test_a_service_killed_with_sigkill_is_started_again_within_a_second(cleanup):
    kept = keeper(SLEEPER)
    cleanup.append(kept.pid)
    first = service_of(kept)
    os.kill(first, signal.SIGKILL)
    killed = time.monotonic()
    second = wait_for(lambda: [p for p in children(kept.pid) if p != first], what="a new service")[0]
    assert time.monotonic() - killed < 3
    assert alive(second) and kept.poll() is None
    kept.send_signal(signal.SIGTERM)
    assert kept.wait(5) == 0
    wait_for(lambda: not alive(second), what="the service ended with its keeper")


def test_a_stop_returns_at_once_and_a_service_that_ignores_it_is_killed_later(cleanup):
    kept = keeper(STUBBORN, TREMPLIN_KEEPER_STOP_SECONDS="1")
    cleanup.append(kept.pid)
    service = service_of(kept)
    time.sleep(0.5)  # (its handlers installed)
    asked = time.monotonic()
    kept.send_signal(signal.SIGINT)  # what JupyterHub sends first when it stops a service
    assert kept.wait(5) == 0
    assert time.monotonic() - asked < 1.5, "the hub waited for the service's own shutdown"
    assert alive(service), "the service had no time to stop by itself"
    wait_for(lambda: not alive(service), seconds=10, what="the watchdog killed the stubborn service")


def test_the_service_ends_when_the_hub_is_killed(cleanup):
    # A stand-in hub: it starts the keeper as JupyterHub does, with its own pid in the environment.
    hub = subprocess.Popen([sys.executable, "-c", (
        "import os, subprocess, sys, time\n"
        "os.environ['TREMPLIN_HUB_PID'] = str(os.getpid())\n"
        f"subprocess.Popen([sys.executable, '-m', 'tremplin_hub.keeper', '--', *{SLEEPER!r}])\n"
        "time.sleep(120)\n")], env=env())
    cleanup.append(hub.pid)
    kept = wait_for(lambda: (children(hub.pid) or [None])[0], what="the keeper started")
    cleanup.append(kept)
    service = wait_for(lambda: (children(kept) or [None])[0], what="the service started")
    os.kill(hub.pid, signal.SIGKILL)
    hub.wait(5)
    wait_for(lambda: not alive(kept) and not alive(service), seconds=10,
             what="the keeper and its service ended with the hub")


def test_a_service_that_cannot_start_is_not_started_again():
    kept = keeper([sys.executable, "-c", "import sys; sys.exit(3)"])
    assert kept.wait(15) == 3
