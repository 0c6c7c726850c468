"""The embedded grading engine: as many worker slots as cores, on this machine.

A :class:`WorkerSlot` is a sandbox slot (:mod:`tremplin_grading.sandbox.launch`, as the
slot's own uid) plus a worker process (:mod:`.worker`, as the judge's uid) that owns its
control socket. A slot that dies (a crash, an out-of-memory kill) is started again and the
paper it was grading comes back with a ``judge_error`` flag; other slots go on.
:class:`LocalEngine` lends slots to callers, one paper each at a time.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from ..sandbox import wire
from ..sandbox.launch import SOURCE_MOUNT, SandboxError, SandboxProcess, SandboxSpec
from ..sandbox.limits import Limits
from .worker import JUDGE_MARGIN, error_result

log = logging.getLogger("tremplin.grading")


@dataclass(frozen=True)
class EngineSettings:
    """How to start the local slots.

    Attributes:
        workers: how many slots (papers graded at the same time).
        sandbox_ids: ``(uid, gid)`` of each slot's sandbox account (root only); empty: the
            caller's own uid in a user namespace (demo mode).
        judge_id: ``(uid, gid)`` the workers run as (root only); None: the caller's.
        pythonpath: a checkout's ``graders`` folder to import from instead of the installed package.
        work_mib, tmp_mib: the sandbox's writable folders.
        slot_memory_mib, slot_processes: cgroup caps of a whole slot (when available).
    """

    workers: int = 2
    sandbox_ids: tuple = ()
    judge_id: tuple | None = None
    pythonpath: str | None = None
    work_mib: int = 64
    tmp_mib: int = 64
    slot_memory_mib: int = 3072
    slot_processes: int = 64
    default_limits: Limits = field(default_factory=Limits)

    def sandbox_spec(self, index: int) -> SandboxSpec:
        uid, gid = self.sandbox_ids[index] if self.sandbox_ids else (None, None)
        return SandboxSpec(uid=uid, gid=gid, work_mib=self.work_mib, tmp_mib=self.tmp_mib, pythonpath=self.pythonpath,
                           cgroup=(self.slot_memory_mib, self.slot_processes) if uid is not None else None)


def child_preexec(uid: int | None = None, gid: int | None = None):
    """For ``subprocess.Popen(preexec_fn=...)``: become ``uid``/``gid`` (no other group), then die with us.

    The parent-death signal must be set after the change of account, which clears it
    (``Popen(user=...)`` changes it after ``preexec_fn``, so it is not used).
    """
    def preexec():
        import ctypes

        if uid is not None:
            os.setgroups([])
            os.setgid(gid if gid is not None else uid)
            os.setuid(uid)
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    return preexec


def _python_argv(module: str, pythonpath: str | None) -> list[str]:
    python = os.path.join(sys.prefix, "bin", "python")
    if pythonpath:
        code = f"import sys; sys.path.insert(0, {pythonpath!r}); from {module} import main; main()"
        return [python, "-I", "-c", code]
    return [python, "-I", "-m", module]


class WorkerSlot:
    """One sandbox slot and its worker process (see the module docstring)."""

    def __init__(self, index: int, settings: EngineSettings):
        self.index, self.settings = index, settings
        self.sandbox: SandboxProcess | None = None
        self.worker: subprocess.Popen | None = None
        self.channel: socket.socket | None = None
        self.start()

    def start(self) -> None:
        self.sandbox = SandboxProcess(self.settings.sandbox_spec(self.index))
        ours, theirs = socket.socketpair()
        control = self.sandbox.control
        judge = self.settings.judge_id or (None, None)
        try:
            self.worker = subprocess.Popen(
                _python_argv("tremplin_grading.engine.worker", self.settings.pythonpath)
                + ["--channel-fd", str(theirs.fileno()), "--control-fd", str(control.fileno())],
                pass_fds=[theirs.fileno(), control.fileno()], stdin=subprocess.DEVNULL,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", "OPENBLAS_NUM_THREADS": "1"},
                cwd="/", start_new_session=True, preexec_fn=child_preexec(*judge))
        finally:
            theirs.close()
        control.close()  # the worker owns it now
        self.channel = ours
        try:
            wire.expect(ours, "ready", 120)
        except wire.WireError as exc:
            self.stop()
            raise SandboxError(f"grading worker {self.index} did not start ({exc})") from None

    def grade(self, task: dict) -> dict:
        """Grade one task; a slot that fails is restarted and the task comes back as an error."""
        limits = Limits.from_dict(task.get("limits") or {})
        try:
            wire.send(self.channel, task, timeout=60)
            reply = wire.recv(self.channel, max_bytes=256 * 1024 * 1024,
                              deadline=time.monotonic() + limits.wall_seconds + JUDGE_MARGIN + 60)
            if isinstance(reply, dict) and reply.get("op") == "result" and isinstance(reply.get("result"), dict):
                return reply["result"]
            detail = "the worker's answer was malformed"
        except wire.WireError as exc:
            detail = f"the grading worker stopped ({exc})"
        log.error("slot %d: %s; restarting it", self.index, detail)
        self.restart()
        return error_result("judge_error", detail)

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.channel is not None:
            try:
                wire.send(self.channel, {"op": "quit"}, timeout=1)
            except wire.WireError:
                pass
            self.channel.close()
            self.channel = None
        if self.worker is not None:
            try:
                self.worker.wait(5)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()
            self.worker = None
        if self.sandbox is not None:
            self.sandbox.kill()
            self.sandbox = None


class LocalEngine:
    """``workers`` slots on this machine; :meth:`grade` blocks until a slot is free and the paper is graded."""

    name = "local"

    def __init__(self, settings: EngineSettings):
        self.settings = settings
        self.slots: queue.Queue[WorkerSlot] = queue.Queue()
        self._all: list[WorkerSlot] = []
        self._lock = threading.Lock()
        for i in range(settings.workers):
            slot = WorkerSlot(i, settings)
            self._all.append(slot)
            self.slots.put(slot)

    @property
    def capacity(self) -> int:
        return len(self._all)

    def grade(self, task: dict) -> dict:
        slot = self.slots.get()
        try:
            return slot.grade(task)
        finally:
            self.slots.put(slot)

    def close(self) -> None:
        for slot in self._all:
            slot.stop()


def source_pythonpath() -> str | None:
    """The checkout's ``graders`` folder when this package is imported from one (not installed)."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return None if "site-packages" in here else here


__all__ = ["EngineSettings", "LocalEngine", "WorkerSlot", "SOURCE_MOUNT", "source_pythonpath"]
