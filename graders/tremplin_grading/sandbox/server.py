"""A sandbox slot's server: PID 1 of its sandbox, forks one fresh child per paper and cleans up after it.

Started by :mod:`.launch` under bubblewrap as the slot's own uid, with a control socket
(``--control-fd``) to the worker it serves. It imports the scientific stack once, then for
each ``{"op": "paper", "limits"}`` frame (which carries the paper's channel as a file
descriptor) forks a child that runs :func:`.child.main`. The paper ends when the worker
says ``stop``, or at the wall-time limit. Then, whatever the paper did:

* every other process of the sandbox is killed (``kill(-1)`` from PID 1 reaches exactly the
  sandbox's processes, daemons and threads included) and reaped;
* the writable folders (``/work``, ``/tmp``) are emptied and System V IPC objects removed;
* ``{"op": "done", "exit", "reason", "killed"}`` goes back to the worker.

The server is not dumpable, so the paper's processes (same uid) cannot trace it or read
its memory; as PID 1 it receives no signal from them that it does not handle.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import select
import shutil
import signal
import socket
import stat
import sys
import time

from . import wire
from .limits import Limits, apply_to_child, vm_size

WRITABLE = ("/work", "/tmp")
_PR_SET_DUMPABLE = 4
_IPC_RMID = 0


#: What a typical paper (or test) runs; :func:`warm_up` imports every module it loads lazily.
SAMPLE_CELLS = (
    "import math\nimport sympy as sp\nx, t, n = sp.symbols('x t n')\nsp.init_printing()",
    "sp.integrate(x * sp.sin(2 * x), (x, 0, sp.pi)), sp.limit(sp.sin(x) / x, x, 0), sp.diff(x**3 * sp.exp(-x), x)",
    "sp.series(sp.exp(x) * sp.cos(x), x, 0, 5), sp.rem(x**5 + 3*x**3 - x + 1, x**2 + 1, x), sp.expand((1 + sp.I)**7)",
    "sp.Matrix([[1, 2], [3, 4]]).eigenvals(), sp.solve(x**2 - 2, x), sp.Rational(1, 3) + sp.sqrt(2), {1, 2}",
    "from tremplin_grading import check\nfrom tremplin_grading.variants import Params\n"
    "check.expression('2x+1', '1+2*x'), check.number('3,14', 3.14), check.quantity('9,8 m/s²', '9.81 m/s**2', "
    "rel_tol=0.02), check.choice('B', ['B'])",
    "raise ValueError('warm-up')",
    "print('x'); import sys; print('y', file=sys.stderr); 1.5",
)


def warm_up() -> None:
    """Import what papers use, so no paper pays for it: the modules a sample paper loads, in this process.

    The sample runs in a forked child (its namespace and printing settings must not leak into
    papers); the child reports which modules it had to import and this process imports them.
    """
    import sympy  # noqa: F401

    from ..check import units
    from .shell import new_shell

    units.registry()
    try:
        import numpy  # noqa: F401
    except ImportError:
        pass
    shell = new_shell()
    before = set(sys.modules)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            for source in SAMPLE_CELLS:
                shell.run(source, timeout=60)
            loaded = "\n".join(sorted(set(sys.modules) - before)).encode()
            while loaded:
                loaded = loaded[os.write(write_end, loaded):]
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    import importlib

    for name in b"".join(chunks).decode().split():
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (a module that only imports in a context: left to papers)
            pass


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def clean_ipc() -> None:
    """Remove System V shared memory, semaphores and message queues left by a paper."""
    libc = _libc()
    for kind, ctl in (("shm", libc.shmctl), ("sem", libc.semctl), ("msg", libc.msgctl)):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 1 and parts[1].isdigit():
                if kind == "sem":
                    ctl(int(parts[1]), 0, _IPC_RMID)
                else:
                    ctl(int(parts[1]), _IPC_RMID, None)


def wipe(folder: str) -> None:
    """Empty ``folder`` (the paper may have made parts of it unwritable: make them writable again)."""
    def fix(func, path, exc_info):
        try:
            os.chmod(os.path.dirname(path), stat.S_IRWXU)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, stat.S_IRWXU)
            func(path)
        except OSError:
            pass

    try:
        entries = list(os.scandir(folder))
    except OSError:
        os.chmod(folder, 0o1777 if folder == "/tmp" else 0o777)
        entries = list(os.scandir(folder))
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if _holds_mount(entry.path):
                continue  # a read-only mount of the launcher's (never the paper's: it cannot mount)
            shutil.rmtree(entry.path, onerror=fix)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                fix(os.unlink, entry.path, None)


def _holds_mount(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path or line.split()[4].startswith(path + "/") for line in f)


def kill_everything_else() -> None:
    """SIGKILL every process of the sandbox but this one, and reap them all."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    reap(block=True)


def reap(block: bool = False) -> dict[int, int]:
    """Collect exited children (orphans of the paper come to PID 1): ``{pid: status}``."""
    done = {}
    while True:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        done[pid] = status


def _describe(status: int | None) -> str:
    if status is None:
        return "running"
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit {os.WEXITSTATUS(status)}"


class Server:
    def __init__(self, control: socket.socket):
        from .shell import new_shell

        self.control = control
        self.shell = new_shell()
        self.base_vm = vm_size()

    def serve(self) -> None:
        wire.send(self.control, {"op": "ready", "pid": os.getpid(), "vm": self.base_vm})
        while True:
            try:
                msg, fd = wire.recv_with_fd(self.control)
            except wire.WireError:
                return  # the worker is gone
            if not isinstance(msg, dict) or msg.get("op") == "quit":
                return
            if msg.get("op") == "paper" and fd is not None:
                self.paper(Limits.from_dict(msg.get("limits") or {}), fd)
            elif fd is not None:
                os.close(fd)

    def paper(self, limits: Limits, channel_fd: int) -> None:
        pid = os.fork()
        if pid == 0:
            self.become_child(limits, channel_fd)
        os.close(channel_fd)
        started = time.monotonic()
        deadline = started + limits.wall_seconds
        status, stop, reason, killed = None, False, "", False
        while not (stop and (status is not None or killed)):
            for p, st in reap().items():
                if p == pid:
                    status = st
            if status is not None and not killed:
                kill_everything_else()  # the paper is over: nothing it started may outlive it
                killed = True
            if not killed and time.monotonic() > deadline:
                reason = "wall_time"
                kill_everything_else()
                killed = True
            ready, _, _ = select.select([self.control], [], [], 0.01 if status is None else 0.5)
            if ready:
                try:
                    msg = wire.recv(self.control, deadline=time.monotonic() + 5)
                except wire.WireError:
                    msg = {"op": "stop"}
                if isinstance(msg, dict) and msg.get("op") == "stop":
                    stop = True
                    kill_everything_else()
                    killed = True
            for p, st in reap().items():
                if p == pid:
                    status = st
        kill_everything_else()
        for folder in WRITABLE:
            wipe(folder)
        clean_ipc()
        wire.send(self.control, {"op": "done", "exit": _describe(status), "reason": reason,
                                 "seconds": round(time.monotonic() - started, 3)})

    def become_child(self, limits: Limits, channel_fd: int) -> None:
        try:
            os.setsid()
            os.dup2(channel_fd, 3)
            devnull = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.closerange(4, 65536)  # the control socket and whatever the server had open
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            os.chdir("/work")
            os.environ.clear()
            os.environ.update(HOME="/work", TMPDIR="/tmp", PATH="/usr/bin:/bin", LANG="C.UTF-8",
                              OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg")
            sys.path.insert(0, "")  # as in a kernel: modules beside the notebook import
            apply_to_child(limits, self.base_vm)
            from .child import main

            main(3, limits, self.shell)
        finally:
            os._exit(70)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="A sandbox slot's server (started by tremplin_grading.sandbox.launch)")
    parser.add_argument("--control-fd", type=int, required=True)
    args = parser.parse_args(argv)
    if os.getpid() != 1:
        # kill(-1) would reach every process of this uid on the machine, not only the sandbox's
        sys.exit("the sandbox server must be PID 1 of its own PID namespace (bwrap --unshare-pid --as-pid-1)")
    _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    control = socket.socket(fileno=args.control_fd)
    warm_up()
    Server(control).serve()


if __name__ == "__main__":
    main()
