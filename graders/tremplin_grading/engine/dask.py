"""Grading beyond one machine: papers sent to the workers of a Dask distributed cluster.

Chosen in the grading service's configuration (``c.GraderApp.engine = "dask"`` and
``c.GraderApp.dask_scheduler = "tcp://10.0.0.5:8786"``, or ``$TREMPLIN_GRADING_ENGINE`` and
``$TREMPLIN_DASK_SCHEDULER``). Each machine of the cluster runs, as root, with Tremplin installed::

    TREMPLIN_SANDBOX_IDS=991:991,990:990 TREMPLIN_JUDGE_ID=989:989 \\
        dask worker tcp://10.0.0.5:8786 --nworkers 2 --nthreads 1

Every Dask worker process grades with a slot of its own (:class:`~.local.WorkerSlot`: a
sandbox as one of ``$TREMPLIN_SANDBOX_IDS``, claimed with a lock file so two processes never
share one, paired with a judge as ``$TREMPLIN_JUDGE_ID``), started at its first paper. A task
carries everything a paper needs (the author's cells, the candidate's cells and files): the
workers need no course directory, key or gradebook; results come back to the grading service,
which records them. The cluster's own traffic (pickled tasks and results) must stay on a
network the platform controls (Dask's TLS settings for anything wider than one rack).
"""

from __future__ import annotations

import fcntl
import os
import threading

from .local import EngineSettings, WorkerSlot

_slot: WorkerSlot | None = None
_slot_lock = threading.Lock()
_claim = None


def _ids(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in item.split(":")) for item in text.split(",") if item.strip()]


def _claim_index(count: int) -> int:
    """The first sandbox account no other process of this machine holds (an exclusive lock file)."""
    global _claim
    for index in range(max(count, 1)):
        f = open(f"/tmp/tremplin-dask-slot-{index}.lock", "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        _claim = f  # held for the life of this process
        return index
    raise RuntimeError(f"all {count} sandbox accounts of $TREMPLIN_SANDBOX_IDS are in use on this machine; give "
                       "one per Dask worker process")


def local_slot() -> WorkerSlot:
    """This Dask worker process's slot, started on first use."""
    global _slot
    with _slot_lock:
        if _slot is None:
            sandboxes = _ids(os.environ.get("TREMPLIN_SANDBOX_IDS", ""))
            judge = _ids(os.environ.get("TREMPLIN_JUDGE_ID", ""))
            index = _claim_index(len(sandboxes))
            settings = EngineSettings(workers=1, sandbox_ids=(sandboxes[index],) if sandboxes else (),
                                      judge_id=judge[0] if judge else None)
            _slot = WorkerSlot(0, settings)
        return _slot


def grade_on_worker(task: dict) -> dict:
    """What a Dask worker runs for one paper."""
    slot = local_slot()
    with _slot_lock:
        result = slot.grade(task)
    result.setdefault("stats", {})["dask_worker"] = _worker_address()
    return result


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return ""


class DaskEngine:
    """Sends each task to the cluster and waits for its result (blocking, like :class:`~.local.LocalEngine`)."""

    name = "dask"

    def __init__(self, address: str, timeout: float = 3600.0):
        from distributed import Client

        self.client = Client(address, timeout=60, set_as_default=False)
        self.timeout = timeout

    @property
    def capacity(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def grade(self, task: dict) -> dict:
        future = self.client.submit(grade_on_worker, task, pure=False)
        return future.result(timeout=self.timeout)

    def close(self) -> None:
        self.client.close()
