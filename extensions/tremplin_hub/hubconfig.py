"""Turn Tremplin's courses and accounts into JupyterHub configuration.

``jupyterhub_config.py`` calls :func:`configure_courses`: one formgrader service per
course (nbgrader's documented multi-course setup: the service is a
``jupyterhub-singleuser`` running as the course's grader account in the course
directory), the groups ``nbgrader-<course>`` (learners) and ``formgrade-<course>``
(graders), role groups from the account store, and the roles that give each group
its scopes. ``tremplin courses sync`` uses :func:`desired_groups` too, to push the same
groups to a running hub.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import sys
from pathlib import Path

from tremplin_grading.courses import Course, load_courses

from . import system
from .accounts import ROLE_GROUPS, AccountStore
from .dashboard import template_vars
from .layout import Layout, write_atomic

log = logging.getLogger("tremplin.hubconfig")

SYNC_SERVICE = "tremplin-sync"
EXAM_SERVICE = "tremplin-exam"
EXAM_ACCESS = f"access:services!service={EXAM_SERVICE}"

#: The exam service's own token: who is in which group (see tremplin_hub.exam.app).
EXAM_SERVICE_SCOPES = ["read:users", "read:users:groups", "list:users"]

#: Scopes of the token ``tremplin courses sync`` uses to create users and groups.
SYNC_SCOPES = ["admin:users", "admin:groups", "list:users", "read:users", "list:groups", "read:groups"]

#: What the token given to each learner's server may do: nbgrader's JupyterHubAuthPlugin
#: reads the learner's own groups to list only their courses.
SERVER_TOKEN_SCOPES = [
    "users:activity!user",
    "access:servers!server",
    "read:users:groups!user",
    "read:users:name!user",
    # nbgrader's exchange, autosave and the countdown go through the exam service.
    EXAM_ACCESS,
]

COORDINATOR_SCOPES = ["admin-ui", "list:users", "read:users", "list:groups", "read:groups", "read:servers"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def instructor_names(store: AccountStore) -> set[str]:
    return {a.name for a in store.all() if a.role in ("professor", "admin")}


def desired_groups(courses: list[Course], store: AccountStore) -> dict[str, list[str]]:
    """The hub groups and their members, from the courses and the account roles."""
    groups: dict[str, list[str]] = {}
    for course in courses:
        groups[course.student_group] = sorted(course.learners)
        groups[course.grader_group] = sorted(course.instructors)
    for group in ROLE_GROUPS.values():
        groups.setdefault(group, [])
    for account in store.all():
        if account.role in ROLE_GROUPS:
            groups[ROLE_GROUPS[account.role]].append(account.name)
    return groups


def course_roles(courses: list[Course]) -> list[dict]:
    roles = []
    for course in courses:
        roles.append({
            "name": f"formgrade-{course.id}",
            "description": f"Graders of {course.id}: its formgrader and its learners' names",
            "groups": [course.grader_group],
            "scopes": [
                f"access:services!service={course.id}",
                f"read:users:name!group={course.student_group}",
                f"read:groups!group={course.student_group}",
            ],
        })
    return roles


def exam_service(layout: Layout, courses_dir: Path, url: str) -> dict:
    """The exam service (tremplin_hub.exam), run by the hub as the hub's own account."""
    return {
        "name": EXAM_SERVICE,
        "display": True,
        "url": url,
        "command": [str(Path(sys.prefix) / "bin" / "tremplin-exam")],
        "environment": {
            "TREMPLIN_DATA_DIR": str(layout.data_dir),
            "TREMPLIN_COURSES_DIR": str(courses_dir),
            **({"TREMPLIN_EXAM_DB_URL": os.environ["TREMPLIN_EXAM_DB_URL"]}
               if os.environ.get("TREMPLIN_EXAM_DB_URL") else {}),
        },
        "oauth_no_confirm": True,
    }


def formgrader_service(course: Course, layout: Layout, exam_url: str, *, as_root: bool) -> dict:
    """nbgrader's formgrader for one course, as a hub-managed service."""
    service = {
        "name": course.id,
        "display": True,
        "url": f"http://127.0.0.1:{free_port()}",
        "command": [str(Path(sys.prefix) / "bin" / "jupyterhub-singleuser"), "--ServerApp.default_url=/formgrader"],
        "cwd": str(layout.course_dir(course.id)),
        "environment": {
            "JUPYTER_CONFIG_PATH": str(layout.grader_config),
            "TREMPLIN_EXAM_URL": exam_url,
            # autograde starts kernels and alembic by name: from this environment, not the system's.
            "PATH": os.pathsep.join([str(Path(sys.prefix) / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        },
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": [f"access:services!service={course.id}"],
    }
    if as_root:
        service["user"] = course.grader_account
    return service


def session_windows(layout: Layout):
    """What the home page shows of exam sessions: the window a coordinator set in the exam service."""
    from .exam.store import Store

    stores: list[Store] = []  # one store (and its connection pool) for the hub's life, opened at first use

    def window(course: str, assignment: str):
        if not stores:
            if not layout.exam_dir.is_dir():
                return None
            stores.append(Store(layout.exam_db_url, layout.exam_files))
        saved = stores[0].session(course, assignment)
        return (saved["opens"], saved["closes"]) if saved else None

    return window


def sync_token(layout: Layout) -> str:
    """The token of the ``tremplin-sync`` service, created once and kept in the hub folder (600)."""
    path = layout.sync_token_file
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_hex(32)
    write_atomic(path, token + "\n", mode=0o600)
    return token


def configure_courses(c, layout: Layout, courses_dir: Path) -> list[Course]:
    """Fill JupyterHub's services, roles and groups from the courses and the account store.

    Courses with errors are left out and logged; the hub still starts with the others.
    ``tremplin courses sync`` must have prepared the course directories first.
    """
    store = AccountStore(layout.accounts_url)
    try:
        report = load_courses(courses_dir, instructor_names(store))
        for error in report.errors:
            log.error("course not loaded: %s", error)
        courses = [course for course in report.courses if layout.course_dir(course.id).is_dir()]
        for course in report.courses:
            if course not in courses:
                log.error("course %s not loaded: its course directory %s does not exist; run 'tremplin courses "
                          "sync' and restart the hub", course.id, layout.course_dir(course.id))
        groups = desired_groups(courses, store)
    finally:
        store.close()
    as_root = system.running_as_root()
    exam_port = free_port()
    exam_url = f"http://127.0.0.1:{exam_port}/services/{EXAM_SERVICE}/"
    c.JupyterHub.services = [
        {"name": SYNC_SERVICE, "api_token": sync_token(layout), "display": False},
        exam_service(layout, courses_dir, f"http://127.0.0.1:{exam_port}"),
        *(formgrader_service(course, layout, exam_url, as_root=as_root) for course in courses),
    ]
    # Learners' servers reach the exam service directly on the loopback, with their own token.
    c.Spawner.environment = {"TREMPLIN_EXAM_URL": exam_url}
    c.JupyterHub.load_groups = {name: {"users": users} for name, users in groups.items()}
    # The home page lists each person's courses (bilingual); people land there after login.
    c.JupyterHub.template_paths = [str(Path(__file__).parent / "templates")]
    c.JupyterHub.template_vars = template_vars(courses, session_window=session_windows(layout))
    c.JupyterHub.default_url = "/hub/home"
    c.JupyterHub.load_roles = [
        {"name": SYNC_SERVICE, "services": [SYNC_SERVICE], "scopes": SYNC_SCOPES},
        {"name": "coordinator", "groups": [ROLE_GROUPS["coordinator"]], "scopes": COORDINATOR_SCOPES},
        {"name": EXAM_SERVICE, "services": [EXAM_SERVICE], "scopes": EXAM_SERVICE_SCOPES},
        {"name": "exam-users", "description": "Everyone who takes, grades or runs an exam or course",
         "groups": sorted({g for course in courses for g in (course.student_group, course.grader_group)}
                          | {ROLE_GROUPS["coordinator"], ROLE_GROUPS["admissions"]}),
         "services": [course.id for course in courses],
         "scopes": [EXAM_ACCESS]},
        *course_roles(courses),
    ]
    return courses
