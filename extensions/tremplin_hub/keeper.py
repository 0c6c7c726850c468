"""Keep one of the hub's managed services running between the hub's checks, and end it with the hub.

JupyterHub notices that a managed service died only at its next poll, every 30 s for services
(not configurable), and leaves the service running when the hub itself is killed (services run
in sessions of their own): a hub started again would then find an old exam service on its port
and old formgraders nobody uses. So each managed service runs under this keeper
(``python -m tremplin_hub.keeper -- <command>``), the hub's direct child:

* the service dies (a crash, ``kill -9``): it is started again after half a second (doubled for
  each death within a minute, at most 30 s);
* the hub stops the keeper (SIGINT, SIGTERM): the signal goes on to the service and the keeper
  returns at once, so the hub, which stops its services one after the other, is not held up by
  each one's shutdown; a watchdog left behind kills the service if it is still there after
  ``TREMPLIN_KEEPER_STOP_SECONDS`` (default 20);
* the hub dies, even by ``kill -9``: the kernel sends the keeper SIGTERM (``PR_SET_PDEATHSIG``),
  which stops the service as above; the service gets SIGTERM the same way if the keeper dies.

A service that exits by itself (not killed by a signal) within 10 s of its first start is not
started again: the keeper exits with its status and the hub reports that the service could not
start, as it does without a keeper. Linux only (``prctl``), like the rest of the hub side.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
FIRST_RUN_SECONDS = 10.0
FIRST_DELAY, MAX_DELAY, CALM_SECONDS = 0.5, 30.0, 60.0
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies."""
    if _libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def say(text: str, who: str = "tremplin-keeper") -> None:
    print(f"[{who} {os.getpid()}] {text}", file=sys.stderr, flush=True)


def watch_stop(pid: int, seconds: float) -> None:
    """In a forked process that outlives the keeper: SIGKILL ``pid`` if it still runs after ``seconds``."""
    if os.fork() != 0:
        return
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not alive(pid):
                os._exit(0)
            time.sleep(0.2)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
            say(f"service {pid} still running {seconds:g} s after the stop signal: killed")
    finally:
        os._exit(0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m tremplin_hub.keeper -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    die_with_parent()
    hub = int(os.environ.get("TREMPLIN_HUB_PID") or 0)
    if hub and os.getppid() != hub:
        return 0  # the hub died before the keeper could ask to follow it
    stop_seconds = float(os.environ.get("TREMPLIN_KEEPER_STOP_SECONDS") or 20)
    stop: list[int] = []
    child: subprocess.Popen | None = None

    def on_signal(sig, _frame):
        if not stop:
            stop.append(sig)
            if child is not None and child.poll() is None:
                child.send_signal(sig)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    deaths: list[float] = []
    first = True
    while not stop:
        started = time.monotonic()
        child = subprocess.Popen(argv, preexec_fn=die_with_parent)  # noqa: PLW1509 (no threads here)
        if stop:  # a signal came while the service was being started
            child.send_signal(stop[0])
            break
        # Polled rather than waited for: a stop signal must return at once, not when the service is gone.
        while (status := child.poll()) is None and not stop:
            time.sleep(0.1)
        if stop:
            break
        if first and status >= 0 and time.monotonic() - started < FIRST_RUN_SECONDS:
            say(f"{argv[0]} exited with status {status} as it started; not starting it again")
            return status or 1
        first = False
        now = time.monotonic()
        deaths = [t for t in deaths if now - t < CALM_SECONDS] + [now]
        delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (len(deaths) - 1))
        say(f"{argv[0]} (pid {child.pid}) exited with status {status}; starting it again in {delay:g} s")
        while not stop and time.monotonic() - now < delay:
            time.sleep(0.05)
    if child is not None and child.poll() is None:
        watch_stop(child.pid, stop_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
