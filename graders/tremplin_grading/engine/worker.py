"""A grading worker process: the judge's warm template, paired with one sandbox slot.

Started by :class:`~tremplin_grading.engine.local.WorkerSlot` as the judge's own account (not
root, not a grader account, not the sandbox's), with two sockets: ``--channel-fd`` to the
process that sends tasks, ``--control-fd`` to its sandbox slot's server. It imports the
scientific stack once; then for each task it:

1. asks the slot's server for a fresh paper process, on a new socket pair;
2. hands the task and its end of that pair to a *judge process* forked for this assignment,
   which runs :func:`tremplin_grading.judge.judge` in a private folder holding the author's
   data files and answers the result;
3. ends the paper (the server kills whatever is left of it and cleans the slot) and adds the
   server's report to the result's flags.

A judge process serves the consecutive papers of one assignment (its namespace is emptied
between papers; sympy's caches stay warm, and what the author's tests computed with the
functions of :data:`~tremplin_grading.judge.MEMOIZED` is reused for the next paper of the same
variant, which is most of the speed) and is replaced by a
fresh fork for another assignment, after :data:`PAPERS_PER_JUDGE` papers, or if it fails: the
author code of one course never runs in a process that judges another's, and no candidate
code ever runs in a judge at all. This process is single-threaded, so forking is safe.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import tempfile
import time

from ..paths import is_plain_relative
from ..sandbox import wire
from ..sandbox.launch import end_paper, start_paper
from ..sandbox.limits import Limits

#: Seconds a judge may take beyond the paper's wall time (its own checks have time limits).
JUDGE_MARGIN = 120
#: A judge process is replaced after this many papers (memory, and the author's state).
PAPERS_PER_JUDGE = 500


def error_result(reason: str, detail: str) -> dict:
    from ..judge import Flag, flag_dicts

    return {"sandbox": {}, "judge": {}, "flags": flag_dicts([Flag(reason, detail)]), "stats": {}, "error": detail}


def write_judge_files(folder: str, files: dict) -> None:
    for name, data in (files or {}).items():
        if not is_plain_relative(name):
            continue
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


def judge_key(task: dict) -> str:
    """What a judge process is for: one notebook of one assignment, with the same author files."""
    files = json.dumps(task.get("judge", {}).get("files", {}), sort_keys=True).encode()
    return f"{task.get('course')}/{task.get('assignment')}/{task.get('notebook')}/{hashlib.sha256(files).hexdigest()}"


class JudgeProcess:
    """A forked judge for one assignment (see the module docstring), reached over a socket pair."""

    def __init__(self, worker: "Worker", task: dict):
        self.key, self.papers = judge_key(task), 0
        self.folder = tempfile.mkdtemp(prefix="tremplin-judge-")
        ours, theirs = socket.socketpair()
        self.pid = os.fork()
        if self.pid == 0:
            ours.close()
            self._serve(worker, theirs, task)
        theirs.close()
        self.sock = ours

    def _serve(self, worker: "Worker", sock: socket.socket, first: dict) -> None:
        code = 0
        try:
            worker.channel.close()
            worker.control.close()
            write_judge_files(self.folder, first.get("judge", {}).get("files"))
            os.chdir(self.folder)
            from ..judge import judge, memoize_sympy

            memoize_sympy()

            shell = worker.shell
            while True:
                try:
                    task, fd = wire.recv_with_fd(sock, max_bytes=256 * 1024 * 1024)
                except wire.WireError:
                    break
                if fd is None:
                    break
                shell.reset(new_session=False)
                try:
                    result = judge(task, socket.socket(fileno=fd), shell).to_dict()
                except Exception as exc:  # noqa: BLE001 (a broken task: reported, never a lost paper)
                    result = error_result("judge_error", f"{type(exc).__name__}: {exc}")
                wire.send(sock, result)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)

    def grade(self, task: dict, paper: socket.socket, deadline: float) -> dict | None:
        """The judge's result for ``task`` with the paper on ``paper``; None if it failed or ran out of time."""
        self.papers += 1
        try:
            wire.send_with_fd(self.sock, task, paper.fileno())
            result = wire.recv(self.sock, max_bytes=256 * 1024 * 1024, deadline=deadline)
        except wire.WireError:
            return None
        return result if isinstance(result, dict) else None

    def stop(self) -> None:
        self.sock.close()
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        shutil.rmtree(self.folder, ignore_errors=True)


class Worker:
    def __init__(self, channel: socket.socket, control: socket.socket):
        from ..sandbox.server import warm_up
        from ..sandbox.shell import new_shell

        self.channel, self.control = channel, control
        warm_up()
        self.shell = new_shell()
        self.judge: JudgeProcess | None = None

    def serve(self) -> None:
        wire.send(self.channel, {"op": "ready", "pid": os.getpid()})
        for task in wire.requests(self.channel, max_bytes=256 * 1024 * 1024):
            started = time.monotonic()
            try:
                result = self.grade(task)
            except Exception as exc:  # a broken task or slot: the caller gets a result that says so
                result = error_result("judge_error", f"{type(exc).__name__}: {exc}")
            result.setdefault("stats", {})["worker_seconds"] = round(time.monotonic() - started, 3)
            result["stats"]["worker_pid"] = os.getpid()
            result["stats"]["host"] = socket.gethostname()
            wire.send(self.channel, {"op": "result", "result": result})
        if self.judge is not None:
            self.judge.stop()

    def judge_for(self, task: dict) -> JudgeProcess:
        if self.judge is not None and (self.judge.key != judge_key(task) or self.judge.papers >= PAPERS_PER_JUDGE):
            self.judge.stop()
            self.judge = None
        if self.judge is None:
            self.judge = JudgeProcess(self, task)
        return self.judge

    def grade(self, task: dict) -> dict:
        limits = Limits.from_dict(task.get("limits") or {})
        ours, theirs = socket.socketpair()
        start_paper(self.control, theirs, limits.to_dict())
        theirs.close()
        judge = self.judge_for(task)
        try:
            result = judge.grade(task, ours, time.monotonic() + limits.wall_seconds + JUDGE_MARGIN)
        finally:
            ours.close()
        if result is None:  # a judge that failed or hung is not reused
            judge.stop()
            self.judge = None
        report = end_paper(self.control)
        if result is None:
            result = error_result("judge_error", "the judge did not finish in time")
        flags = result.setdefault("flags", [])
        from ..judge import Flag, flag_dicts

        if report.get("reason") == "wall_time":
            flags[:] = [f for f in flags if f.get("reason") != "ended"]
            flags.extend(flag_dicts([Flag("wall_time", f"{limits.wall_seconds:g} s")]))
        for flag in flags:
            if flag.get("reason") == "ended" and report.get("exit"):
                flag.update(Flag("ended", report["exit"]).messages, detail=report["exit"])
        result.setdefault("stats", {})["sandbox_exit"] = report.get("exit", "")
        return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="A grading worker (started by tremplin_grading.engine.local)")
    parser.add_argument("--channel-fd", type=int, required=True)
    parser.add_argument("--control-fd", type=int, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["IPYTHONDIR"] = tempfile.mkdtemp(prefix="tremplin-judge-ipython-")  # private, not a shared /tmp one
    Worker(socket.socket(fileno=args.channel_fd), socket.socket(fileno=args.control_fd)).serve()


if __name__ == "__main__":
    main()
