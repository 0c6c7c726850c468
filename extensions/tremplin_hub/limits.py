"""CPU, memory and process limits for each learner's server, with Linux control groups.

JupyterHub's ``LocalProcessSpawner`` only passes ``mem_limit`` and ``cpu_limit`` to the
server as environment variables; nothing enforces them, so one learner's runaway loop or
``bytearray(10**10)`` slows or stops everyone's. Tremplin puts each learner's server in a
control group of its own, ``tremplin-learners/<user>``, before the server drops root: its
kernels, terminals and everything they start are counted together, and a learner cannot
leave it (the rule is the grading sandbox's, :mod:`tremplin_grading.sandbox.cgroups`).

* memory: ``mem_limit`` (no swap beyond it); past it the kernel's OOM killer stops the
  largest process of *that* learner (their kernel), never another learner's;
* CPU: ``cpu_limit`` cores at most (a quota per 100 ms period);
* processes and threads: ``tasks_limit`` (a fork bomb stops at it).

Where control groups cannot be written (not root, a locked-down container), the limits fall
back to ``setrlimit`` on the server (processes per account, address space per process) and
the hub logs that memory and CPU are then not limited per learner.
"""

from __future__ import annotations

import os
import resource
import signal
from dataclasses import dataclass
from pathlib import Path

from tremplin_grading.sandbox import cgroups

PARENT = "tremplin-learners"


@dataclass(frozen=True)
class Limits:
    """What one learner's server and everything it starts may use (``None``: no limit)."""

    mem_bytes: int | None
    cpu_cores: float | None
    tasks: int | None


def prepare(user: str, limits: Limits) -> list[Path]:
    """The user's control group, created or updated with ``limits`` (as root); the folders to join.

    Raises:
        OSError: control groups cannot be written here.
    """
    return cgroups.prepare(PARENT, user, memory_bytes=limits.mem_bytes, processes=limits.tasks,
                           cpu_cores=limits.cpu_cores)


def join(folders: list[Path]) -> None:
    """In the server's process, after fork and before it drops root: enter the user's group."""
    cgroups.join(folders, os.getpid())


def set_rlimits(limits: Limits, *, memory_per_process: bool) -> None:
    """A second layer, and the fallback without control groups: processes per account and, when
    ``memory_per_process``, address space per process (a weaker stand-in for the group's memory limit)."""
    if limits.tasks:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.tasks, limits.tasks))
    if memory_per_process and limits.mem_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (limits.mem_bytes, limits.mem_bytes))


def stop(user: str) -> int:
    """Kill what the user's server left running (kernels, their children) and remove the group;
    how many processes were killed."""
    folders = cgroups.folders(PARENT, user)
    killed = 0
    for pid in cgroups.members(folders):
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except ProcessLookupError:
            pass
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # (processes still exiting, or never created: it is reused at the next start)
            pass
    return killed
