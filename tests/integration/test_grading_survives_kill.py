"""``kill -9`` of the grading service in the middle of the queue loses nothing and grades nothing twice.

Ten candidates hand in right answers; as soon as a paper is being graded the service is killed
with SIGKILL. JupyterHub starts it again; it takes back the jobs the dead run held, and every
paper ends graded once, with full marks, while nothing the dead run started (recorders,
workers, sandboxes) is left running.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from gradingkit import Candidate, outcome, queue_for, solution_code, wait_for_jobs, with_cells
from hubfixture import is_root, service_pid

pytestmark = [pytest.mark.hub, pytest.mark.skipif(not is_root(), reason="sandbox accounts need root")]

COURSE, EXAM, NB = "preselection-math", "math-2027", "math-2027.ipynb"


def grader_pid(hub) -> int | None:
    return service_pid(hub, "tremplin-grader")


def descendants(pid: int) -> set[int]:
    children = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, set()).add(int(proc.name))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def test_kill_9_in_the_middle_of_the_queue_loses_nothing_and_grades_nothing_twice(hub):
    deadline = time.monotonic() + 120
    while (old := grader_pid(hub)) is None or not (hub.data_dir / "grading" / "engine.sock").exists():
        assert time.monotonic() < deadline, hub.log_tail(60)
        time.sleep(0.5)
    candidates = [Candidate(hub, COURSE, EXAM, f"k{i}") for i in range(10)]
    S = solution_code(COURSE, EXAM, NB)
    for cand in candidates:
        cand.submit({NB: json.dumps(with_cells(cand.copy(NB), S)).encode()})
    queue = queue_for(hub)
    try:
        names = {c.name for c in candidates}  # (the session's hub: other tests' papers may be in the queue)
        while not any(j.state == "running" and j.student in names for j in queue.jobs()):
            assert time.monotonic() < deadline, "no paper started grading"
            time.sleep(0.05)
        left_behind = descendants(old)
        assert left_behind, "the service had no worker, recorder or sandbox process"
        os.kill(old, signal.SIGKILL)
        killed_at = time.monotonic()
        jobs = wait_for_jobs(hub, [c.name for c in candidates], timeout=300)
    finally:
        queue.close()
    new = grader_pid(hub)
    assert new is not None and new != old, "JupyterHub did not start the grading service again"
    for cand in candidates:
        (job,) = jobs[cand.name]  # one job per paper: nothing queued twice
        assert job.state == "done", (job.state, job.error)
        assert outcome(hub, COURSE, EXAM, NB, cand.name, job).score == 27
    assert any(j.attempts == 2 for js in jobs.values() for j in js), "no job was interrupted by the kill"
    assert time.monotonic() - killed_at < 240
    alive = {pid for pid in left_behind if Path(f"/proc/{pid}").exists()}
    assert not alive, f"processes of the killed run are still there: {alive}"
