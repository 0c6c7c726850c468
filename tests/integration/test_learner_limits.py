"""Each learner's server and everything it starts has its own memory, CPU and process limits.

Before, ``LocalProcessSpawner`` only passed ``mem_limit`` to the server as an environment
variable: a learner's ``bytearray`` or fork bomb took the machine's memory and process table
from every other learner and from the exam service.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from hubfixture import is_root
from kernelkit import execute, start_kernel

pytestmark = pytest.mark.skipif(not is_root(), reason="control groups and learners' accounts need root")


def cgroups_of(pid: int) -> str:
    return Path(f"/proc/{pid}/cgroup").read_text()


def pids_of(uid: int) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if proc.stat().st_uid == uid:
                    out.append(int(proc.name))
            except OSError:
                pass
    return out


@pytest.fixture(scope="module")
def learner(hub):
    import pwd

    name = hub.add_learner("limits", "python-intro")
    server = hub.start_server("limits")
    http = hub.user_session("limits")
    yield name, pwd.getpwnam(name).pw_uid, http, server
    http.close()
    with hub.admin() as admin:
        admin.delete(f"{hub.api}/users/{name}/server")


def test_the_server_and_its_kernel_are_in_the_learners_own_group_with_its_limits(hub, learner):
    name, uid, http, server = learner
    kernel = start_kernel(http, server)
    assert execute(http, server, kernel, "print('up')")["stdout"].strip() == "up"
    procs = pids_of(uid)
    assert len(procs) >= 2, "a server and a kernel, both run as the learner"
    for pid in procs:
        assert f"tremplin-learners/{name}" in cgroups_of(pid), f"process {pid} of {name} is outside their group"
    found = [p.read_text().strip() for p in (
        Path(f"/sys/fs/cgroup/memory/tremplin-learners/{name}/memory.limit_in_bytes"),
        Path(f"/sys/fs/cgroup/tremplin-learners/{name}/memory.max")) if p.exists()]
    assert found == [str(hub.mem_limit_bytes)]


def oom_kills(name: str) -> int:
    """How many of the learner's processes their group's memory limit stopped (cgroup v1 or v2)."""
    for path in (Path(f"/sys/fs/cgroup/memory/tremplin-learners/{name}/memory.oom_control"),
                 Path(f"/sys/fs/cgroup/tremplin-learners/{name}/memory.events")):
        if path.exists():
            return int(dict(line.split() for line in path.read_text().splitlines()).get("oom_kill", 0))
    return 0


def test_a_kernel_past_the_memory_limit_is_stopped_and_the_server_goes_on(hub, learner):
    name, uid, http, server = learner
    kernel = start_kernel(http, server)
    before = oom_kills(name)
    # Touch every page, as a learner's array computation does, past the limit.
    result = execute(http, server, kernel, f"x = bytearray({hub.mem_limit_bytes + 200 * 2**20})\nprint('kept')",
                     timeout=60)
    assert "kept" not in result["stdout"], "the learner used more memory than their limit"
    assert result["status"] in ("died", "error"), result
    assert oom_kills(name) > before, "their own group's limit stopped the kernel"
    assert http.get(f"{server}/api/status").status_code == 200, "the learner's server itself stopped"


def test_a_fork_bomb_stops_at_the_task_limit(hub, learner):
    name, uid, http, server = learner
    kernel = start_kernel(http, server)
    bomb = """
import os, time
children = []
try:
    for i in range(5000):
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
except OSError as exc:
    print("refused after", len(children), type(exc).__name__, flush=True)
finally:
    for pid in children:
        os.kill(pid, 9)
    for pid in children:
        os.waitpid(pid, 0)
"""
    # In a process of its own started from the kernel, as a learner would: the kernel waits for it.
    code = f"import subprocess, sys\nprint(subprocess.run([sys.executable, '-c', {bomb!r}], capture_output=True, " \
           f"text=True, timeout=90).stdout)"
    result = execute(http, server, kernel, code, timeout=120)
    assert "refused after" in result["stdout"], result
    made = int(result["stdout"].split("refused after", 1)[1].split()[0])
    assert made < 512, f"{made} processes: the task limit did not hold"
    assert http.get(f"{server}/api/status").status_code == 200


def test_stopping_the_server_stops_what_it_left_running(hub, learner):
    name, uid, http, server = learner
    kernel = start_kernel(http, server)
    execute(http, server, kernel, "import subprocess; subprocess.Popen(['sleep', '600'], start_new_session=True)")
    assert any(b"sleep" in Path(f"/proc/{p}/cmdline").read_bytes() for p in pids_of(uid))
    with hub.admin() as admin:
        admin.delete(f"{hub.api}/users/{name}/server")
    deadline = time.monotonic() + 30
    while pids_of(uid):
        assert time.monotonic() < deadline, f"{name}'s processes outlived their server: {pids_of(uid)}"
        time.sleep(0.5)
    hub.start_server("limits")  # (for the fixture's teardown)
    os.sync()
