"""Start a sandbox slot: bubblewrap around :mod:`.server`, as a uid of its own, and talk to it.

What the sandbox sees (``bwrap``):

* ``/usr`` (and the ``/lib``, ``/bin`` links) and Tremplin's Python environment, read-only;
* a fresh ``/proc`` of its own PID namespace, a minimal ``/dev`` (``/dev/shm`` not writable);
* ``/work`` and ``/tmp``: small tmpfs folders, the only writable places, emptied after each paper;
* nothing else: no ``/etc``, no home, no data directory (gradebooks, keys, ``source/``, other
  submissions, exam storage), no sockets of the machine;
* no network (its own, empty, network namespace), its own IPC and UTS namespaces, a new
  session, no environment but a few fixed variables (no token);
* it dies with the process that started it.

As root the server then runs as ``uid``/``gid`` (``setpriv``: no capabilities, no new
privileges): an account that is neither the grader account nor the judge's. Without root
(the demo mode) it runs in an unprivileged user namespace as the caller's uid, which is
weaker: :attr:`SandboxSpec.isolated_uid` says which.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import wire

BWRAP = "/usr/bin/bwrap"
SETPRIV = "/usr/bin/setpriv"
#: Where a checkout's ``graders`` folder is mounted when :attr:`SandboxSpec.pythonpath` is set.
SOURCE_MOUNT = "/opt/tremplin-source"


class SandboxError(Exception):
    """The sandbox cannot be started or stopped working; the message says what to check."""


@dataclass(frozen=True)
class SandboxSpec:
    """How to start one slot.

    Attributes:
        uid, gid: the slot's own account (root only); None runs as the caller in a user namespace.
        work_mib, tmp_mib: sizes of the writable tmpfs folders.
        python: the interpreter; its environment (``sys.prefix``) is mounted read-only.
        pythonpath: a source tree to import ``tremplin_grading`` from instead of the installed
            package (development and tests of a checkout); mounted read-only.
        cgroup: ``(memory_mib, processes)`` for the whole slot when cgroups can be used (root).
    """

    uid: int | None = None
    gid: int | None = None
    work_mib: int = 64
    tmp_mib: int = 64
    python: str = sys.executable
    pythonpath: str | None = None
    cgroup: tuple[int, int] | None = None
    extra_ro: tuple[str, ...] = field(default_factory=tuple)

    @property
    def isolated_uid(self) -> bool:
        return self.uid is not None


def _ancestors(path: str) -> list[str]:
    parts = Path(path).parts[1:]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def bwrap_argv(spec: SandboxSpec, control_fd: int) -> list[str]:
    """The command line that starts the slot's server with its control socket on ``control_fd``."""
    mib = 1024 * 1024
    argv = [BWRAP, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--as-pid-1", "--new-session", "--hostname", "sandbox",
            # the writable folders first: a read-only mount below /tmp (a checkout there) stays visible
            "--size", str(spec.work_mib * mib), "--perms", "0777", "--tmpfs", "/work",
            "--size", str(spec.tmp_mib * mib), "--perms", "1777", "--tmpfs", "/tmp",
            "--ro-bind", "/usr", "/usr"]
    for link in ("lib", "lib64", "bin", "sbin"):
        if os.path.islink(f"/{link}"):
            argv += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
        elif os.path.isdir(f"/{link}"):
            argv += ["--ro-bind", f"/{link}", f"/{link}"]
    mounted = {"/usr"}
    roots = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(os.path.realpath(spec.python))),
             *spec.extra_ro]
    for root in roots:
        root = os.path.realpath(root) if os.path.exists(root) else root
        if any(root == m or root.startswith(m + "/") for m in mounted):
            continue
        for parent in _ancestors(root):
            argv += ["--perms", "0755", "--dir", parent]
        argv += ["--ro-bind", root, root]
        mounted.add(root)
    if sys.prefix != os.path.realpath(sys.prefix):
        argv += ["--ro-bind", os.path.realpath(sys.prefix), sys.prefix]
    if spec.pythonpath:  # a checkout, at a fixed place of its own
        argv += ["--ro-bind", os.path.realpath(spec.pythonpath), SOURCE_MOUNT]
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8",
             "--setenv", "HOME", "/work", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
             "--setenv", "IPYTHONDIR", "/tmp/.ipython",
             "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
             "--chdir", "/work"]
    if spec.uid is None:
        argv += ["--unshare-user", "--disable-userns"]
    argv.append("--")
    if spec.uid is not None:
        argv += [SETPRIV, f"--reuid={spec.uid}", f"--regid={spec.gid if spec.gid is not None else spec.uid}",
                 "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    python = sys.prefix + "/bin/python" if os.path.exists(sys.prefix + "/bin/python") else spec.python
    if spec.pythonpath:
        code = (f"import sys; sys.path.insert(0, {SOURCE_MOUNT!r}); "
                "from tremplin_grading.sandbox.server import main; main()")
        argv += [python, "-I", "-c", code]
    else:
        argv += [python, "-I", "-m", "tremplin_grading.sandbox.server"]
    argv += ["--control-fd", str(control_fd)]
    return argv


class SandboxProcess:
    """One running slot: its server process and the control socket to it."""

    def __init__(self, spec: SandboxSpec, *, ready_timeout: float = 60.0):
        self.spec = spec
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # (a file, not a pipe: nobody reads it while the slot works, and a full pipe would block it)
        self.stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(bwrap_argv(spec, theirs.fileno()), pass_fds=[theirs.fileno()],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=self.stderr, env={"PATH": "/usr/bin:/bin"},
                                         start_new_session=True)
        finally:
            theirs.close()
        self.control = ours
        if spec.cgroup and spec.uid is not None:
            from .cgroups import confine

            confine(f"slot-{spec.uid}", self.proc.pid, *spec.cgroup)
        try:
            wire.expect(self.control, "ready", ready_timeout)
        except wire.WireError as exc:
            self.kill()
            raise SandboxError(f"the sandbox did not start ({exc}); {self.stderr_tail()}") from None

    def stderr_tail(self) -> str:
        self.stderr.seek(0)
        text = self.stderr.read()[-4000:].decode(errors="replace").strip().splitlines()
        return " | ".join(text[-5:]) or f"bubblewrap exited with {self.proc.returncode}"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def start_paper(self, channel: socket.socket, limits: dict) -> None:
        start_paper(self.control, channel, limits)

    def end_paper(self, timeout: float = 30.0) -> dict:
        return end_paper(self.control, timeout)

    def kill(self) -> None:
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.control.close()
        self.stderr.close()

    def close(self) -> None:
        if self.alive:
            try:
                wire.send(self.control, {"op": "quit"}, timeout=2)
                self.proc.wait(5)
            except (wire.WireError, subprocess.TimeoutExpired):
                pass
        self.kill()


def start_paper(control: socket.socket, channel: socket.socket, limits: dict) -> None:
    """Hand one end of a paper's channel to the slot's server, which forks the paper's process on it."""
    wire.send_with_fd(control, {"op": "paper", "limits": limits}, channel.fileno())


def end_paper(control: socket.socket, timeout: float = 30.0) -> dict:
    """Stop the paper (if still running) and wait until the slot is clean again: the server's report."""
    wire.send(control, {"op": "stop"}, timeout=5)
    deadline = time.monotonic() + timeout
    while True:
        msg = wire.recv(control, deadline=deadline)
        if isinstance(msg, dict) and msg.get("op") == "done":
            return msg
