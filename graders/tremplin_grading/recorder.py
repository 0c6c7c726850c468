"""A course's recorder: puts a queued paper into nbgrader's folders and autogrades it, as the course's grader.

The ``tremplin-grader`` service runs one or a few recorders per course that has papers
waiting, each as the course's grader account (the owner of the course directory and its
gradebook), and sends them jobs over a socket. They are forked from a warm template (nbgrader
takes seconds to import)::

    python -m tremplin_grading.recorder --control-fd 3     # as root: the template

For each job the recorder writes the paper into ``submitted/<student>/<assignment>/`` (a new
folder renamed into place, with the service's time in ``timestamp.txt``), runs nbgrader's own
autograde for that student (the course's configuration sends execution to the grading engine
through :class:`~tremplin_grading.autograde.JudgeExecute`), and answers the score from the
gradebook with the flags. A marker beside the autograded copy names the job that produced it:
a job claimed again after a crash finds it and is not graded twice.

A regrade of one question re-runs the paper but keeps every other question's automatic score
as it was, so fixing one test changes nothing else.

nbgrader is used as it is; internal steps are made cheaper for a long-lived process, with the
same results: its database engine is created (and its tables checked) once per gradebook
instead of once per step, and its cell-metadata schema is compiled once instead of once per cell.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import re
import secrets
import shutil
import socket
import time
from pathlib import Path

from .paths import plain_relative
from .sandbox import wire

MARKER = ".tremplin-job.json"
_STUDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,254}")
_ASSIGNMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
log = logging.getLogger("tremplin.recorder")


_sped_up = False


def speed_up_nbgrader() -> None:
    """The fast paths of the module docstring (same behaviour, fewer repeated set-ups); once per process."""
    global _sped_up
    if _sped_up:
        return
    _sped_up = True
    import jsonschema
    import nbgrader.api as api
    from nbformat.notebooknode import NotebookNode, from_dict
    from nbgrader.nbgraderformat import common

    # nbconvert deep-copies the whole notebook for each step; a notebook is JSON, copy it as JSON
    slow_copy = NotebookNode.__deepcopy__

    def json_copy(self, memo):
        try:
            return from_dict(json.loads(json.dumps(self)))
        except (TypeError, ValueError):
            return slow_copy(self, memo)

    NotebookNode.__deepcopy__ = json_copy

    engines: dict = {}
    create = api.create_engine

    def cached_engine(url, *args, **kwargs):
        key = (url, repr(sorted(kwargs.items())))
        if key not in engines:
            engines[key] = create(url, *args, **kwargs)
        return engines[key]

    api.create_engine = cached_engine
    # ...and, once a gradebook's tables exist, not checked again at each of the ~10 Gradebook() per paper
    checked: set = set()
    create_all, inspect = api.Base.metadata.create_all, api.inspect

    def create_all_once(bind=None, **kwargs):
        if bind is None or id(bind) not in checked:
            create_all(bind=bind, **kwargs)
            if bind is not None:
                checked.add(id(bind))

    class _Known:
        def get_table_names(self):
            return ["(checked)"]

    api.Base.metadata.create_all = create_all_once
    api.inspect = lambda engine: _Known() if id(engine) in checked else inspect(engine)
    validators: dict = {}
    original = common.BaseMetadataValidator.validate_cell

    def validate_cell(self, cell):
        if "nbgrader" not in cell.metadata:
            return
        version = cell.metadata["nbgrader"].get("schema_version", 0)
        if version != self.schema_version:
            return original(self, cell)  # the same errors as nbgrader for other versions
        key = id(self.schema)
        if key not in validators:
            cls = jsonschema.validators.validator_for(self.schema)
            cls.check_schema(self.schema)
            validators[key] = cls(self.schema)
        error = jsonschema.exceptions.best_match(validators[key].iter_errors(cell.metadata["nbgrader"]))
        if error is not None:
            raise error

    common.BaseMetadataValidator.validate_cell = validate_cell


def write_submission(root: Path, student: str, assignment: str, files: dict[str, bytes], timestamp: str) -> Path:
    """``submitted/<student>/<assignment>/`` holding exactly ``files``, replaced in one rename."""
    if not _STUDENT.fullmatch(student) or ".." in student:
        raise ValueError(f"student id {student!r} cannot be a folder name")
    if not _ASSIGNMENT.fullmatch(assignment):
        raise ValueError(f"assignment id {assignment!r} cannot be a folder name")
    parent = root / "submitted" / student
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / assignment
    incoming = parent / f".{assignment}.incoming-{secrets.token_hex(4)}"
    incoming.mkdir()
    try:
        for name, data in files.items():
            path = incoming / plain_relative(name, f"{student}'s paper")
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as f:
                f.write(data)
        (incoming / "timestamp.txt").write_text(timestamp)
        old = None
        if final.exists():
            old = parent / f".{assignment}.old-{secrets.token_hex(4)}"
            final.rename(old)
        incoming.rename(final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    return final


class Recorder:
    """Records jobs of one course (see the module docstring)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        speed_up_nbgrader()

    def config(self):
        from traitlets.config import Config
        from traitlets.config.loader import PyFileConfigLoader

        return Config(PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config())

    def record(self, job: dict) -> dict:
        from .autograde import paper_lock

        assignment, student, job_id = job["assignment"], job["student"], int(job["job"])
        if not _STUDENT.fullmatch(student) or ".." in student or not _ASSIGNMENT.fullmatch(assignment):
            raise ValueError(f"paper {student!r}/{assignment!r}: not a student and assignment id")
        autograded = self.root / "autograded" / student / assignment
        marker = autograded / MARKER
        files = {name: base64.b64decode(data) for name, data in job.get("files", {}).items()}
        with paper_lock(self.root, assignment, student):
            if marker.is_file():
                try:
                    done = json.loads(marker.read_text())
                    if done.get("job") == job_id:  # recorded before a crash: not graded twice
                        return {**done["summary"], "reused": True}
                except (OSError, ValueError, KeyError):
                    pass
            write_submission(self.root, student, assignment, files, job["timestamp"])
            question = job.get("question") or ""
            before = self.auto_scores(assignment, student) if question else {}
            error = self.autograde(assignment, student)
            if question and not error:
                self.restore_scores(assignment, student, before, keep=question)
            self.name_student(student)
            summary = self.summary(assignment, student, error)
            if autograded.is_dir():
                tmp = autograded / f"{MARKER}.tmp"
                tmp.write_text(json.dumps({"job": job_id, "summary": summary}))
                tmp.replace(marker)
        return summary

    def autograde(self, assignment: str, student: str) -> str:
        """Run nbgrader's autograde for one student; ``""`` or what went wrong."""
        from nbgrader.converters import Autograde
        from nbgrader.converters.base import NbGraderException
        from nbgrader.coursedir import CourseDirectory

        c = self.config()
        c.CourseDirectory.root = str(self.root)
        c.CourseDirectory.assignment_id = assignment
        c.CourseDirectory.student_id = student
        c.Autograde.force = True
        c.Autograde.create_student = True
        messages = _LogCapture()
        converter = Autograde(coursedir=CourseDirectory(config=c), config=c)
        converter.log.addHandler(messages)
        converter.log.setLevel(logging.WARNING)
        try:
            converter.start()
        except NbGraderException:
            return messages.last() or "nbgrader could not autograde this paper"
        except Exception as exc:  # noqa: BLE001 (the job records it; the next job goes on)
            return f"{type(exc).__name__}: {exc}"
        finally:
            converter.log.removeHandler(messages)
        return messages.last() if messages.failed else ""

    def _grades(self, assignment: str, student: str):
        from nbgrader.api import Gradebook, MissingEntry

        gb = Gradebook(f"sqlite:///{self.root / 'gradebook.db'}")
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            gb.close()
            return None, []
        return gb, [g for nb in submission.notebooks for g in nb.grades]

    def name_student(self, student: str) -> None:
        """A student the autograde just created gets their account as name until ``tremplin courses sync``
        brings the roster's (:func:`tremplin_grading.coursework.name_students`): never "None, None"."""
        from nbgrader.api import Gradebook, MissingEntry

        from .coursework import name_students

        gb = Gradebook(f"sqlite:///{self.root / 'gradebook.db'}")
        try:
            name_students(gb, {}, [gb.find_student(student)])
        except MissingEntry:
            pass
        finally:
            gb.close()

    def auto_scores(self, assignment: str, student: str) -> dict:
        gb, grades = self._grades(assignment, student)
        if gb is None:
            return {}
        try:
            return {(g.notebook.name, g.name): g.auto_score for g in grades}
        finally:
            gb.close()

    def restore_scores(self, assignment: str, student: str, before: dict, keep: str) -> None:
        gb, grades = self._grades(assignment, student)
        if gb is None:
            return
        try:
            for g in grades:
                key = (g.notebook.name, g.name)
                if g.name != keep and key in before:
                    g.auto_score = before[key]
            gb.db.commit()
        finally:
            gb.close()

    def summary(self, assignment: str, student: str, error: str) -> dict:
        from .autograde import SIDECAR
        from .results import read_gradebook

        graded = read_gradebook(self.root / "gradebook.db", assignment, student).get(student)
        sidecar = self.root / "autograded" / student / assignment / SIDECAR
        flags, problems = [], []
        try:
            for notebook, info in json.loads(sidecar.read_text()).items():
                flags += [{**f, "notebook": notebook} for f in info.get("flags", [])]
                if info.get("error"):
                    problems.append(f"{notebook}: {info['error']}")
        except (OSError, ValueError):
            if not error:
                error = "the grading engine left no report for this paper"
        judge_failed = [f for f in flags if f.get("reason") == "judge_error"]
        if judge_failed and not error:
            error = "; ".join(f.get("en", "") for f in judge_failed)
        return {"score": graded.score if graded else None, "max_score": graded.max_score if graded else None,
                "pending": graded.pending if graded else True, "flags": flags, "error": error or "; ".join(problems)}


class _LogCapture(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self.failed = False

    def emit(self, record):
        if record.levelno >= logging.ERROR:
            self.failed = True
            self.lines.append(record.getMessage())

    def last(self) -> str:
        """nbgrader's first error (its last one only says to read the ones above)."""
        return self.lines[0][:2000] if self.lines else ""


def serve(channel: socket.socket, root: Path) -> None:
    """Record the jobs that come on ``channel`` until it closes (a recorder's life)."""
    os.chdir(root)
    recorder = Recorder(root)
    wire.send(channel, {"op": "ready", "pid": os.getpid()})
    for job in wire.requests(channel, max_bytes=256 * 1024 * 1024):
        started = time.monotonic()
        try:
            result = recorder.record(job)
        except Exception as exc:  # noqa: BLE001 (the job fails, the recorder goes on)
            result = {"score": None, "max_score": None, "pending": True, "flags": [],
                      "error": f"{type(exc).__name__}: {exc}"}
        result["seconds"] = round(time.monotonic() - started, 3)
        try:
            wire.send(channel, {"op": "recorded", "job": job.get("job"), "result": result})
        except wire.WireError:
            return


def quiet_logs() -> None:
    # nbgrader's own notices (a restored cell's checksum...) are in each job's result when it fails;
    # SQLAlchemy 2's session warnings about nbgrader's relationships are not ours to act on.
    logging.basicConfig(level=logging.ERROR)
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)


def template(control: socket.socket) -> None:
    """The recorders' warm template: nbgrader imported once, a recorder forked per request.

    Each ``{"op": "spawn", "root", "uid", "gid", "home"}`` frame carries the new recorder's
    channel; the child becomes the course's grader account (no other group, no capability
    left), dies with this process, and serves that channel with :func:`serve`. Nothing but
    Tremplin's and nbgrader's code runs here; the template itself never records.
    """
    import ctypes
    import signal

    from nbgrader.converters import Autograde  # noqa: F401 (the import is the point: children start warm)

    from . import autograde, results  # noqa: F401

    speed_up_nbgrader()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    wire.send(control, {"op": "ready", "pid": os.getpid()})
    while True:
        try:
            msg, fd = wire.recv_with_fd(control)
        except wire.WireError:
            return
        if not isinstance(msg, dict) or msg.get("op") != "spawn" or fd is None:
            if fd is not None:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                control.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                if msg.get("uid") is not None:
                    os.setgroups([])
                    os.setgid(int(msg["gid"]))
                    os.setuid(int(msg["uid"]))
                ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # die with the template
                os.environ["HOME"] = str(msg.get("home") or "/tmp")
                serve(socket.socket(fileno=fd), Path(msg["root"]))
            except BaseException:  # noqa: BLE001
                code = 1
            finally:
                os._exit(code)
        os.close(fd)
        wire.send(control, {"op": "spawned", "pid": pid})


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="The recorders' template (started by the tremplin-grader service)")
    parser.add_argument("--control-fd", type=int, required=True)
    args = parser.parse_args(argv)
    quiet_logs()
    template(socket.socket(fileno=args.control_fd))


if __name__ == "__main__":
    main()
