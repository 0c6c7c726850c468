"""Test helpers for grading: candidates that fetch and hand in through the exam service, and the queue's outcome.

A :class:`Candidate` is a hub user in a course's group with a token of their own, the way a
learner's server holds one: they may send the exam service any files at all, which is what a
hostile candidate does. :func:`wait_for_jobs` waits until the grading service has finished
every job of some candidates, and :func:`outcome` reads what it left: the job, the
gradebook's score and the autograded notebook.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from hubfixture import REPO
from nbhelpers import solutions

FINISHED = ("done", "flagged", "error", "superseded")


class Candidate:
    def __init__(self, hub, course: str, assignment: str, tag: str):
        self.hub, self.course, self.assignment = hub, course, assignment
        self.name = f"{hub.names['learner1'].split('-')[0]}-{tag}-{secrets.token_hex(2)}"
        admin = hub.admin()
        assert admin.post(f"{hub.api}/users/{self.name}").status_code == 201
        r = admin.post(f"{hub.api}/groups/nbgrader-{course}/users", json={"users": [self.name]})
        assert r.status_code == 200, r.text
        r = admin.post(f"{hub.api}/users/{self.name}/tokens", json={"note": "test", "expires_in": 3600})
        r.raise_for_status()
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {r.json()['token']}"
        self.base = f"{hub.url}/services/tremplin-exam/api/courses/{course}/assignments/{assignment}"

    def fetch(self) -> dict[str, bytes]:
        r = self.http.post(f"{self.base}/fetch", json={"start": True})  # (as the start page, once confirmed)
        r.raise_for_status()
        return {k: base64.b64decode(v) for k, v in r.json()["files"].items()}

    def copy(self, notebook: str) -> dict:
        return json.loads(self.fetch()[notebook])

    def submit(self, files: dict[str, bytes]) -> dict:
        r = self.http.post(f"{self.base}/submissions/{self.name}",
                           json={"files": {k: base64.b64encode(v).decode() for k, v in files.items()},
                                 "confirmed": True})  # (as the hand-in button, once confirmed)
        assert r.status_code == 201, r.text
        return r.json()


def solution_code(course: str, assignment: str, notebook: str) -> dict[str, str]:
    """``{grade_id: the author's solution}`` (it computes with the candidate's own ``p``)."""
    return solutions(REPO / "courses" / course / "source" / assignment / notebook)


def with_cells(nb: dict, answers: dict[str, str], *, after: dict[str, list[str]] | None = None,
               test_sources: str | None = None, drop_tests: bool = False, extra: list[dict] | None = None) -> dict:
    """A copy of ``nb`` with answer cells replaced, new cells inserted after given grade ids, tests edited."""
    out = copy.deepcopy(nb)
    cells = []
    for cell in out["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        is_test = meta.get("grade") and not meta.get("solution") and cell["cell_type"] == "code"
        if is_test and drop_tests:
            continue
        if is_test and test_sources is not None:
            cell["source"] = test_sources
        if gid in answers:
            cell["source"] = answers[gid]
        cells.append(cell)
        for code in (after or {}).get(gid, []):
            cells.append({"cell_type": "code", "metadata": {}, "source": code, "outputs": [], "execution_count": None})
    cells.extend(extra or [])
    out["cells"] = cells
    return out


def queue_for(hub):
    from tremplin_grading.queue import GradingQueue
    from tremplin_hub.layout import Layout

    return GradingQueue(Layout(hub.data_dir).grading_db_url)


def wait_for_jobs(hub, students: list[str], timeout: float = 300) -> dict[str, list]:
    """Every job of ``students``, once none is waiting or running: ``{student: [jobs, newest first]}``."""
    queue = queue_for(hub)
    try:
        deadline = time.monotonic() + timeout
        while True:
            jobs = [j for j in queue.jobs(limit=100_000) if j.student in students]
            mine = {s: [j for j in jobs if j.student == s] for s in students}
            if all(mine[s] and all(j.state in FINISHED for j in mine[s]) for s in students):
                return mine
            if time.monotonic() > deadline:
                late = {s: [(j.id, j.state) for j in mine[s]] for s in students
                        if not mine[s] or any(j.state not in FINISHED for j in mine[s])}
                raise AssertionError(f"grading did not finish in {timeout} s: {late}\n{hub.log_tail(80)}")
            time.sleep(1)
    finally:
        queue.close()


@dataclass
class Outcome:
    job: object
    score: float | None
    notebook: dict | None

    def outputs_text(self) -> str:
        """Every output of every cell of the autograded notebook, as one text."""
        parts = []
        for cell in (self.notebook or {}).get("cells", []):
            for out in cell.get("outputs", []):
                parts.append(json.dumps(out, ensure_ascii=False))
        return "\n".join(parts)

    def flag_reasons(self) -> set[str]:
        return {f.get("reason") for f in self.job.flags}


def outcome(hub, course: str, assignment: str, notebook: str, student: str, job) -> Outcome:
    from tremplin_grading.results import read_gradebook

    root = Path(hub.data_dir) / "courses" / course
    graded = read_gradebook(root / "gradebook.db", assignment, student).get(student)
    path = root / "autograded" / student / assignment / notebook
    nb = json.loads(path.read_text()) if path.exists() else None
    return Outcome(job, graded.score if graded else None, nb)


class EngineProcess:
    """The installed grading engine, served on a Unix socket by a subprocess (as the hub's service does).

    The installed copy, like the hub's (``make test`` installs the checkout first): its workers
    run as other accounts, which may not be able to read a checkout in a private home. As root
    its slots run as the real ``tremplin-sandbox-<n>`` accounts and the judge as
    ``tremplin-judge`` (created if missing, as the grading service does).
    """

    def __init__(self, folder: Path, workers: int = 2, dask: str = ""):
        import os
        import subprocess
        import sys

        from hubfixture import is_root

        self.socket = folder / "engine.sock"
        args = [sys.executable, "-I", "-m", "tremplin_grading.engine.service", "--socket", str(self.socket),
                "--workers", str(workers), "--allow-uid", f"0,{os.getuid()}"]
        if dask:
            args += ["--dask-scheduler", dask]
        elif is_root():
            from tremplin_hub.system import ensure_service_account

            slots = [ensure_service_account(f"tremplin-sandbox-{i}") for i in range(workers)]
            judge = ensure_service_account("tremplin-judge")
            args += ["--sandbox-ids", ",".join(f"{a.uid}:{a.gid}" for a in slots), "--judge-id",
                     f"{judge.uid}:{judge.gid}"]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        self.log = folder / "engine.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the grading engine did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        import signal

        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except Exception:
            self.proc.kill()
            self.proc.wait()
