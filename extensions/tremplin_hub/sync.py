"""``tremplin courses sync``: validate every course and load it into the hub.

For each course that validates: its grader account and course directory (source
notebooks copied from ``courses/``), its nbgrader configuration, then the gradebook and
the student version, done by :mod:`tremplin_grading.coursework` running as the grader
account; open assignments are then released once into the exam service's store (the
HTTP exchange; professors release changed versions from the formgrader). Finally the groups
(``nbgrader-<id>``, ``formgrade-<id>``, role groups) are pushed to the hub if it is
running; otherwise the hub loads the same groups when it starts. A course with errors
is reported and skipped; the others still load.
"""

from __future__ import annotations

import datetime as dt
import grp
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tremplin_grading.courses import Course, CourseError, load_courses
from tremplin_grading.coursework import nbgrader_config_text
from tremplin_grading.variants import KEY_FILE

from . import system
from .accounts import AccountStore
from .admissions.store import Admissions
from .hubconfig import desired_groups, instructor_names, sync_token
from .layout import Layout, write_atomic


@dataclass
class SyncReport:
    courses: dict[str, dict] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    hub: str = ""


def prepare_course_dir(course: Course, layout: Layout, as_root: bool) -> Path:
    """Create the course directory, copy the sources in, hand it to the grader account."""
    course_dir = layout.course_dir(course.id)
    course_dir.mkdir(parents=True, exist_ok=True)
    target = course_dir / "source"
    # The grader account owns this folder (and runs learners' code at autograde): never let a
    # symbolic link planted there steer root's writes elsewhere.
    for path in (course_dir, target, *(target / a.id for a in course.assignments), course_dir / "nbgrader_config.py"):
        if path.is_symlink():
            raise OSError(f"{path} is a symbolic link; refusing to write through it as root. "
                          "An administrator should inspect the course directory")
    for assignment in course.assignments:
        src = course.source_dir / assignment.id
        dst = target / assignment.id
        tmp = target / f".{assignment.id}.incoming"
        if tmp.exists():
            shutil.rmtree(tmp)
        shutil.copytree(src, tmp)
        if dst.exists():
            shutil.rmtree(dst)
        tmp.rename(dst)
    write_atomic(course_dir / "nbgrader_config.py",
                 nbgrader_config_text(course.id, course_dir, engine_socket=layout.grading_socket,
                                      limits=course.grading))
    if as_root:
        system.ensure_account(course.grader_account, layout.graders_home / course.grader_account, private=True,
                              keep_existing_home=True)
        system.chown_tree(course_dir, course.grader_account)
        # The exam service's account is in the grader's group: it may cross the course directory
        # (not list it) to read the variants key and the gradebook; solutions and hidden tests
        # (source/) stay the grader's alone.
        system.add_to_group(system.EXAM_ACCOUNT, grp.getgrgid(_ids(course.grader_account)[1]).gr_name)
        course_dir.chmod(0o710)
        target.chmod(0o700)
    return course_dir


def let_exam_service_read(course: Course, layout: Layout) -> None:
    """Root: the course's variants key readable by its group (the grader's, which the exam service's
    account is in), after coursework made it (mode 600, as the grader)."""
    key = layout.course_dir(course.id) / KEY_FILE
    try:
        fd = os.open(key, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, 0o640)
    finally:
        os.close(fd)


def run_coursework(course: Course, layout: Layout, now: dt.datetime, as_root: bool) -> dict:
    """Run :mod:`tremplin_grading.coursework` for ``course`` (as its grader account when root)."""
    course_dir = layout.course_dir(course.id)
    plan = {
        "course_id": course.id,
        "kind": course.kind,
        "learners": list(course.learners),
        # (names for the formgrader: from admissions' rosters, for learners and every candidate there)
        "names": Admissions.people(layout),
        "assignments": [{"id": a.id, "due": a.due.isoformat()} for a in course.assignments],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, dir=course_dir) as f:
        json.dump(plan, f)
        plan_file = Path(f.name)
        if as_root:  # by descriptor: the grader owns the folder and could swap the name for a link
            os.fchown(f.fileno(), *_ids(course.grader_account))
    try:
        cmd = system.as_user_command(course.grader_account if as_root else None,
                                     [sys.executable, "-m", "tremplin_grading.coursework", str(course_dir),
                                      str(plan_file)])
        # nbgrader runs alembic and kernels by name: they must come from this environment.
        path = os.pathsep.join([str(Path(sys.prefix) / "bin"), os.environ.get("PATH", os.defpath)])
        if as_root:  # the grader's process gets nothing of root's environment (database URLs, passwords)
            env = system.minimal_env(course.grader_account, _home(course.grader_account), path)
        else:
            env = {**{k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}, "PATH": path}
        proc = subprocess.run(cmd, cwd=course_dir, capture_output=True, text=True, env=env)
    finally:
        plan_file.unlink(missing_ok=True)
    last = proc.stdout.strip().splitlines()[-1:] or ["{}"]
    try:
        result = json.loads(last[0])
    except json.JSONDecodeError:
        result = {}
    if not result:
        last_error = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        result = {"errors": [f"course {course.id}: nbgrader failed (exit {proc.returncode}): {last_error}; "
                             f"run 'python -m tremplin_grading.coursework' by hand in {course_dir} to see why"]}
    return result


def read_tree(folder: Path) -> dict[str, bytes]:
    """The regular files under ``folder``, read as root without following any symbolic link.

    The grader account owns the course directory and runs learners' code at autograde: a
    link planted there must not make root copy another file into a release.
    """
    if folder.is_symlink():
        raise OSError(f"{folder} is a symbolic link; refusing to read through it as root. An administrator "
                      "should inspect the course directory")
    files = {}
    for top, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")
        for name in sorted(names):
            path = Path(top) / name
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise OSError(f"{path} is not a regular file; refusing to release it")
                files[str(path.relative_to(folder))] = f.read()
    return files


def release_open(course: Course, layout: Layout, now: dt.datetime, courses_dir: Path) -> tuple[list[str], list[str]]:
    """Release each open assignment's student version into the exam service's store, once.

    Returns:
        (released, warnings): the assignments released now, and one warning per assignment
        whose student version changed after its release (learners keep what they fetched).
    """
    from tremplin_grading.queue import files_digest

    from .exam.core import ExamService
    from .exam.store import Store

    released, warnings = [], []
    papers = {}
    for assignment in course.assignments:
        folder = layout.course_dir(course.id) / "release" / assignment.id
        if assignment.is_open(now) and folder.is_dir():
            papers[assignment.id] = read_tree(folder)
    # Through the exam service's core (its one door to the store), as its account: sync runs
    # before the hub and its services start, so the service's HTTP API may not be up yet.
    with system.acting_as(layout.exam_account()), \
            closing(Store(layout.exam_db_url, layout.exam_files)) as store:
        exams = ExamService(store, courses_dir, layout.course_dir, now=lambda: now)
        for assignment_id, files in papers.items():
            result = exams.release(course.id, assignment_id, files, "tremplin-sync", only_if_new=True)
            if result["new"]:
                released.append(assignment_id)
            elif result["digest"] != files_digest(files):
                warnings.append(f"assignment '{assignment_id}' of {course.id} changed after its release; learners "
                                "who fetched it keep the old version. If the change must reach them, release it "
                                "again from the formgrader")
    return released, warnings


def _home(name: str) -> str:
    import pwd

    return pwd.getpwnam(name).pw_dir


def _ids(name: str) -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def push_groups(hub_api: str, token: str, groups: dict[str, list[str]]) -> None:
    """Create missing users and groups in a running hub and add the members.

    Membership is only added, never removed, so a learner dropped from a roster keeps
    access until an administrator removes them (nothing is lost by a typo).
    """
    s = requests.Session()
    s.headers["Authorization"] = f"token {token}"
    existing_users = {u["name"] for u in _get_all(s, f"{hub_api}/users")}
    existing_groups = {g["name"] for g in _get_all(s, f"{hub_api}/groups")}
    wanted_users = sorted({u for members in groups.values() for u in members} - existing_users)
    if wanted_users:
        _check(s.post(f"{hub_api}/users", json={"usernames": wanted_users}), "create users")
    for name, members in groups.items():
        if name not in existing_groups:
            _check(s.post(f"{hub_api}/groups/{name}"), f"create group {name}")
        if members:
            _check(s.post(f"{hub_api}/groups/{name}/users", json={"users": members}), f"fill group {name}")


def _get_all(s: requests.Session, url: str) -> list[dict]:
    r = s.get(url, params={"limit": 10000})
    _check(r, f"GET {url}")
    data = r.json()
    return data["items"] if isinstance(data, dict) and "items" in data else data


def _check(r: requests.Response, what: str) -> None:
    if r.status_code >= 400:
        raise RuntimeError(f"hub refused to {what}: HTTP {r.status_code} {r.text[:200]}")


def sync(courses_dir: Path, layout: Layout, *, now: dt.datetime | None = None, hub_api: str | None = None,
         progress: Callable[[str], None] = lambda msg: None) -> SyncReport:
    """Validate and load every course; see the module docstring.

    Args:
        courses_dir: the folder of course folders.
        layout: the data directory.
        now: the time that decides which assignments are open (default: now, UTC).
        hub_api: the hub's REST API URL; default: the one the running hub wrote, if any.
        progress: called with one line per step.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    as_root = system.running_as_root()
    layout.prepare(shared_accounts=not as_root)
    layout.publish_catalogue(courses_dir)
    report = SyncReport()
    store = AccountStore(layout.accounts_url)
    try:
        loaded = load_courses(courses_dir, instructor_names(store))
        report.errors.extend(str(e) for e in loaded.errors)
        good: list[Course] = []
        for course in loaded.courses:
            progress(f"{course.id}: preparing")
            try:
                prepare_course_dir(course, layout, as_root)
            except (OSError, system.AccountError) as exc:
                report.errors.append(f"course {course.id}: {getattr(exc, 'message', exc)}")
                continue
            result = run_coursework(course, layout, now, as_root)
            if as_root:
                let_exam_service_read(course, layout)
            if not result.get("errors"):
                try:
                    result["released"], release_warnings = release_open(course, layout, now,
                                                                        layout.exam_catalogue)
                    result["warnings"] = [*result.get("warnings", []), *release_warnings]
                except OSError as exc:  # (ELOOP: a symbolic link in the release folder)
                    result["errors"] = [f"course {course.id}: release refused: {exc}"]
            report.courses[course.id] = result
            report.errors.extend(result.get("errors", []))
            report.warnings.extend(result.get("warnings", []))
            good.append(course)
            progress(f"{course.id}: generated {result.get('generated', [])}, released {result.get('released', [])}")
        groups = desired_groups(good, store)
    finally:
        store.close()

    if hub_api is None and layout.hub_api_file.exists():
        hub_api = layout.hub_api_file.read_text().strip()
    if hub_api:
        try:
            push_groups(hub_api, sync_token(layout), groups)
            report.hub = f"groups pushed to the hub at {hub_api}"
        except requests.ConnectionError:
            report.hub = "hub not running: it will load the groups when it starts"
        except RuntimeError as exc:
            report.errors.append(f"{exc}; is the hub running with this data directory ({layout.data_dir})?")
    else:
        report.hub = "hub not running: it will load the groups when it starts"
    return report


__all__ = ["CourseError", "SyncReport", "push_groups", "sync"]
