"""Grading beyond one machine: a real Dask cluster (a scheduler and two worker processes) grades papers
through ``nbgrader autograde`` with the same scores as the local engine, each worker with its own sandbox."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gradingkit import EngineProcess, with_cells
from hubfixture import REPO, free_port, is_root
from nbhelpers import run_nbgrader, solutions
from tremplin_grading.coursework import nbgrader_config_text
from tremplin_grading.variants import load_key, personalize, variant_seed

pytestmark = pytest.mark.skipif(not is_root(), reason="sandbox accounts need root")

COURSE, EXAM, NB = "preselection-math", "math-2027", "math-2027.ipynb"
BIN = Path(sys.prefix) / "bin"


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``dask scheduler`` and ``dask worker --nworkers 2`` on the loopback, as separate processes."""
    from tremplin_hub.system import ensure_service_account

    folder = tmp_path_factory.mktemp("dask")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    slots = [ensure_service_account(f"tremplin-sandbox-{i}") for i in range(2)]
    judge = ensure_service_account("tremplin-judge")
    env.update(TREMPLIN_SANDBOX_IDS=",".join(f"{a.uid}:{a.gid}" for a in slots),
               TREMPLIN_JUDGE_ID=f"{judge.uid}:{judge.gid}", DASK_DISTRIBUTED__WORKER__DAEMON="False")
    procs = []
    log = open(folder / "dask.log", "wb")
    try:
        procs.append(subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                       "--no-dashboard"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))
        wait_port(port)
        procs.append(subprocess.Popen([str(BIN / "dask"), "worker", f"tcp://127.0.0.1:{port}", "--nworkers", "2",
                                       "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
                                       "--local-directory", str(folder)], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True))
        from distributed import Client

        with Client(f"tcp://127.0.0.1:{port}", timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield f"tcp://127.0.0.1:{port}", folder
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def test_a_dask_cluster_grades_papers_with_the_local_engines_scores(cluster, tmp_path):
    address, folder = cluster
    engine = EngineProcess(folder, dask=address)
    try:
        root = tmp_path / "course"
        shutil.copytree(REPO / "courses" / COURSE / "source" / EXAM, root / "source" / EXAM)
        (root / "nbgrader_config.py").write_text(nbgrader_config_text(COURSE, root, engine_socket=engine.socket))
        run_nbgrader(root, "generate_assignment", EXAM, "--force")
        key = load_key(root, create=True)
        released = json.loads((root / "release" / EXAM / NB).read_text())
        S = solutions(REPO / "courses" / COURSE / "source" / EXAM / NB)
        students = [f"d{i}" for i in range(6)]
        for i, student in enumerate(students):
            copy = personalize(released, variant_seed(key, f"{COURSE}/{EXAM}", student))
            nb = with_cells(copy, {g: a for g, a in S.items() if i % 2 == 0 and not g.startswith("q10")})
            target = root / "submitted" / student / EXAM
            target.mkdir(parents=True)
            (target / NB).write_text(json.dumps(nb))
        # two autogrades at once (as two formgraders would), so both Dask workers get papers
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda pattern: run_nbgrader(root, "autograde", EXAM, "--create", "--force",
                                                       "--student", pattern), ["d[024]", "d[135]"]))
        from tremplin_grading.results import read_gradebook

        graded = read_gradebook(root / "gradebook.db", EXAM)
        assert {s: graded[s].score for s in students} == {s: (27.0 if i % 2 == 0 else 0.0)
                                                          for i, s in enumerate(students)}
        workers = set()
        for student in students:
            sidecar = json.loads((root / "autograded" / student / EXAM / ".tremplin-grading.json").read_text())
            stats = sidecar["math-2027"]["stats"]
            assert stats["dask_worker"].startswith("tcp://127.0.0.1:")
            workers.add((stats["dask_worker"], stats["worker_pid"]))
        assert len(workers) == 2, f"both Dask worker processes should have graded papers: {workers}"
    finally:
        engine.stop()
