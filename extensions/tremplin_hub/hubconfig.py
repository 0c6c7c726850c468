"""Turn Tremplin's courses and accounts into JupyterHub configuration.

``jupyterhub_config.py`` calls :func:`configure_courses`: one formgrader service per
course (nbgrader's documented multi-course setup: the service is a
``jupyterhub-singleuser`` running as the course's grader account in the course
directory), the groups ``nbgrader-<course>`` (learners) and ``formgrade-<course>``
(graders), role groups from the account store, and the roles that give each group
its scopes. ``tremplin courses sync`` uses :func:`desired_groups` too, to push the same
groups to a running hub.

Every managed service runs under :mod:`.keeper` (started again at once when it dies, ended with
the hub), and what outlives a hub restart stays where it was: the exam service's port (learners'
running servers were given its URL) and the proxy's token are chosen once and kept in the hub folder.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import secrets
import socket
import sys
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from tremplin_grading.courses import Course, load_courses

from . import system
from .roles import ROLE_GROUPS, ROSTERS, ROSTERS_DESCRIPTION
from .dashboard import template_vars
from .layout import Layout, write_atomic

if TYPE_CHECKING:  # (the account store, and SQLAlchemy with it, is imported where it is opened)
    from .accounts import AccountStore

log = logging.getLogger("tremplin.hubconfig")

SYNC_SERVICE = "tremplin-sync"
EXAM_SERVICE = "tremplin-exam"
EXAM_ACCESS = f"access:services!service={EXAM_SERVICE}"

#: The exam service's own token: who is in which group (see tremplin_hub.exam.app).
EXAM_SERVICE_SCOPES = ["read:users", "read:users:groups", "list:users", "read:groups"]

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

#: Tremplin's administrators (group ``admins``) are not JupyterHub admins: they have everything of
#: JupyterHub's admin role but ``access:servers``, ``tokens`` and ``shares``, so a learner's server
#: (which shares the hub's origin) never runs in their browser, and they cannot mint a token that
#: would open it (tests/integration/test_origin_guard.py).
ADMIN_SCOPES = ["admin-ui", "admin:users", "admin:servers", "admin:groups", "admin:services", "list:services",
                "read:services", "read:hub", "access:services", "read:roles", "read:metrics"]


def mathjax_url(bind_url: str) -> str:
    """Where pages load MathJax from: the exam service's static folder (ExamServiceApp.static_dir), under
    the hub's public URL (``bind_url``; its path is the hub's base URL)."""
    base = urllib.parse.urlsplit(bind_url).path.rstrip("/")
    return f"{base}/services/{EXAM_SERVICE}/static/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"


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


def under_keeper(command: list[str]) -> list[str]:
    """``command`` run under :mod:`tremplin_hub.keeper`: started again when it dies, ended with the hub."""
    # -I: nothing from the working directory (a course directory) or PYTHON* variables is imported.
    return [sys.executable, "-I", "-m", "tremplin_hub.keeper", "--", *command]


def keeper_environment() -> dict[str, str]:
    """What the keeper needs to know: the hub's pid (this configuration is loaded by the hub itself)."""
    return {"TREMPLIN_HUB_PID": str(os.getpid())}


def exam_service(layout: Layout, url: str, *, as_root: bool) -> dict:
    """The exam service (tremplin_hub.exam): as its own account when the hub is root
    (:data:`system.EXAM_ACCOUNT`), else as the hub's. It reads the courses from its copy
    (:meth:`Layout.publish_catalogue`)."""
    service = {
        "name": EXAM_SERVICE,
        # Not in the Services menu: learners may reach it (their servers and pages call it) but have no
        # page there; staff follow the links of their home page to the pages that are theirs.
        "display": False,
        "url": url,
        "command": under_keeper([str(Path(sys.prefix) / "bin" / "tremplin-exam")]),
        "cwd": str(layout.exam_dir),
        "environment": {
            **keeper_environment(),
            "TREMPLIN_DATA_DIR": str(layout.data_dir),
            "TREMPLIN_COURSES_DIR": str(layout.exam_catalogue),
            **({"TREMPLIN_EXAM_DB_URL": os.environ["TREMPLIN_EXAM_DB_URL"]}
               if os.environ.get("TREMPLIN_EXAM_DB_URL") else {}),
        },
        "oauth_no_confirm": True,
    }
    if as_root:
        service["user"] = system.EXAM_ACCOUNT
    return service


GRADER_SERVICE = "tremplin-grader"


def grader_service(layout: Layout, courses_dir: Path) -> dict:
    """The grading service (tremplin_hub.grader): no URL, no scope; papers graded on arrival, in sandboxes."""
    passed = ("TREMPLIN_GRADING_DB_URL", "TREMPLIN_GRADING_WORKERS", "TREMPLIN_GRADING_ENGINE", "TREMPLIN_DASK_SCHEDULER")
    return {
        "name": GRADER_SERVICE,
        "display": False,
        "command": under_keeper([str(Path(sys.prefix) / "bin" / "tremplin-grader")]),
        "environment": {
            **keeper_environment(),
            "TREMPLIN_DATA_DIR": str(layout.data_dir),
            "TREMPLIN_COURSES_DIR": str(courses_dir),
            **{k: os.environ[k] for k in passed if os.environ.get(k)},
        },
    }


def formgrader_service(course: Course, layout: Layout, exam_url: str, *, as_root: bool) -> dict:
    """nbgrader's formgrader for one course, as a hub-managed service that runs while it is used
    (:mod:`tremplin_hub.ondemand`: started at the first visit, stopped after ``TREMPLIN_FORMGRADER_IDLE``
    seconds unused, default 1800)."""
    service = {
        "name": course.id,
        "display": True,
        "url": f"http://127.0.0.1:{free_port()}",
        # -I: nothing from the working directory (the course directory) or PYTHON* variables is imported.
        "command": [sys.executable, "-I", "-m", "tremplin_hub.ondemand", "--",
                    str(Path(sys.prefix) / "bin" / "jupyterhub-singleuser"), "--ServerApp.default_url=/formgrader"],
        "cwd": str(layout.course_dir(course.id)),
        "environment": {
            **keeper_environment(),
            **({"TREMPLIN_FORMGRADER_IDLE": os.environ["TREMPLIN_FORMGRADER_IDLE"]}
               if os.environ.get("TREMPLIN_FORMGRADER_IDLE") else {}),
            "JUPYTER_CONFIG_PATH": str(layout.grader_config),
            "JUPYTER_PATH": str(layout.jupyter_data),  # (nbconvert's MathJax macro, local: Layout.prepare)
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


class SessionWindows:
    """What the home page shows of exam sessions: the windows coordinators set, asked of the exam service.

    The hub renders its pages on its event loop, so this never waits: it answers from what the
    service said last, and asks again in the background (with the sync token, over HTTP, like
    every other client of the service) when that is older than ``ttl`` seconds. Until the first
    answer, or while the service is down, the home page shows the course.toml's dates.
    """

    def __init__(self, api_url: str, token: str, ttl: float = 15.0):
        self.api_url, self.token, self.ttl = api_url.rstrip("/"), token, ttl
        self._windows: dict[tuple[str, str], tuple[dt.datetime, dt.datetime]] = {}
        self._asked = -float("inf")
        self._asking = False

    def __call__(self, course: str, assignment: str):
        if not self._asking and time.monotonic() - self._asked > self.ttl:
            try:
                asyncio.get_running_loop().create_task(self.refresh())
                self._asking = True
            except RuntimeError:  # no event loop (a script): the cached windows only
                pass
        return self._windows.get((course, assignment))

    async def refresh(self) -> None:
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError

        try:
            r = await AsyncHTTPClient().fetch(f"{self.api_url}/api/sessions", request_timeout=5,
                                              headers={"Authorization": f"token {self.token}"})
            self._windows = {(w["course"], w["assignment"]): (dt.datetime.fromisoformat(w["opens"]),
                                                             dt.datetime.fromisoformat(w["closes"]))
                             for w in json.loads(r.body)}
        except (HTTPClientError, OSError, ValueError, KeyError) as exc:
            log.warning("exam windows not refreshed from the exam service (%s); the home page shows the last "
                        "known ones", exc)
        finally:
            self._asked = time.monotonic()
            self._asking = False


def kept_value(path: Path, make) -> str:
    """The text kept in ``path`` (in the hub folder, mode 600), written from ``make()`` the first time."""
    if path.exists():
        text = path.read_text().strip()
        if text:
            return text
    text = str(make())
    write_atomic(path, text + "\n", mode=0o600)
    return text


def sync_token(layout: Layout) -> str:
    """The token of the ``tremplin-sync`` service, created once and kept in the hub folder (600)."""
    return kept_value(layout.sync_token_file, lambda: secrets.token_hex(32))


def proxy_token(layout: Layout) -> str:
    """The proxy's API token, kept across hub restarts so that a starting hub can use the proxy still running."""
    return kept_value(layout.proxy_token_file, lambda: secrets.token_hex(32))


def exam_port(layout: Layout) -> int:
    """The exam service's port, chosen once: learners' servers that outlive a hub restart were given its URL."""
    path = layout.exam_port_file
    try:
        return int(kept_value(path, free_port))
    except ValueError:
        path.unlink()
        return int(kept_value(path, free_port))


def configure_courses(c, layout: Layout, courses_dir: Path) -> list[Course]:
    """Fill JupyterHub's services, roles and groups from the courses and the account store.

    Courses with errors are left out and logged; the hub still starts with the others.
    ``tremplin courses sync`` must have prepared the course directories first.
    """
    from .accounts import AccountStore

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
    layout.publish_catalogue(courses_dir)
    port = exam_port(layout)
    exam_url = f"http://127.0.0.1:{port}/services/{EXAM_SERVICE}/"
    c.JupyterHub.services = [
        {"name": SYNC_SERVICE, "api_token": sync_token(layout), "display": False},
        exam_service(layout, f"http://127.0.0.1:{port}", as_root=as_root),
        grader_service(layout, courses_dir),
        *(formgrader_service(course, layout, exam_url, as_root=as_root) for course in courses),
    ]
    # Learners' servers reach the exam service directly on the loopback, with their own token.
    c.Spawner.environment = {"TREMPLIN_EXAM_URL": exam_url}
    c.JupyterHub.load_groups = {name: {"users": users} for name, users in groups.items()}
    # The home page lists each person's courses (bilingual); people land there after login.
    c.JupyterHub.template_paths = [str(Path(__file__).parent / "templates")]
    c.JupyterHub.template_vars = template_vars(courses, session_window=SessionWindows(exam_url, sync_token(layout)))
    c.JupyterHub.default_url = "/hub/home"
    # The coordinators' page of campaigns' candidates (tremplin_hub.campaign_pages), by a scope of its own.
    c.JupyterHub.custom_scopes = {ROSTERS: {"description": ROSTERS_DESCRIPTION}}
    c.JupyterHub.load_roles = [
        # (and the exam windows for the home page, read from the exam service with the same token)
        {"name": SYNC_SERVICE, "services": [SYNC_SERVICE], "scopes": [*SYNC_SCOPES, EXAM_ACCESS]},
        {"name": "coordinator", "groups": [ROLE_GROUPS["coordinator"]], "scopes": [*COORDINATOR_SCOPES, ROSTERS]},
        {"name": "tremplin-admin", "description": "Tremplin's administrators: all but opening others' servers",
         "groups": [ROLE_GROUPS["admin"]], "scopes": [*ADMIN_SCOPES, ROSTERS]},
        {"name": EXAM_SERVICE, "services": [EXAM_SERVICE], "scopes": EXAM_SERVICE_SCOPES},
        {"name": "exam-users", "description": "Everyone who takes, grades or runs an exam or course",
         "groups": sorted({g for course in courses for g in (course.student_group, course.grader_group)}
                          | {ROLE_GROUPS["coordinator"], ROLE_GROUPS["admissions"]}),
         "services": [course.id for course in courses],
         "scopes": [EXAM_ACCESS]},
        *course_roles(courses),
    ]
    return courses


PRESTART_SERVICE = "tremplin-prestart"
#: Its token: who is in an exam's group, create a candidate's hub user, start their server, the exam windows.
PRESTART_SCOPES = ["list:users", "read:users", "admin:users", "servers", "read:groups", "read:users:groups",
                   EXAM_ACCESS]


def configure_prestart(c, layout: Layout, courses_dir: Path, lead_minutes: float) -> None:
    """Exam candidates' servers started ``lead_minutes`` before their window opens (:mod:`.prestart`); 0: never."""
    if lead_minutes < 0:
        raise ValueError(f"TREMPLIN_PRESTART_MINUTES is {lead_minutes}: give minutes (20), or 0 to start no server "
                         "ahead")
    if not lead_minutes:
        return
    c.JupyterHub.services.append({
        "name": PRESTART_SERVICE,
        "display": False,
        "command": under_keeper([str(Path(sys.prefix) / "bin" / "tremplin-prestart"),
                                 f"--lead-minutes={lead_minutes}"]),
        "environment": {
            **keeper_environment(),
            "TREMPLIN_DATA_DIR": str(layout.data_dir),
            "TREMPLIN_COURSES_DIR": str(courses_dir),
            "TREMPLIN_EXAM_URL": f"http://127.0.0.1:{exam_port(layout)}/services/{EXAM_SERVICE}/",
        },
    })
    c.JupyterHub.load_roles.append({"name": PRESTART_SERVICE, "services": [PRESTART_SERVICE],
                                    "scopes": PRESTART_SCOPES})


IDLE_CULLER = "idle-culler"
#: jupyterhub-idle-culler's scopes (its README): read activity, stop servers; users themselves stay.
IDLE_CULLER_SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]


def configure_idle_culler(c, timeout_s: int) -> None:
    """Stop servers nobody used for ``timeout_s`` seconds, with jupyterhub-idle-culler as a hub-managed service.

    Activity is what JupyterHub records: the browser's requests through the proxy and the server's own
    reports (kernels and API calls), each sent every ``last_activity_interval`` (5 min). A learner's work is
    in their home, and an exam's autosaves are in the exam service: the next login starts the server again.
    ``timeout_s`` 0: no culler.
    """
    if timeout_s < 0:
        raise ValueError(f"TREMPLIN_IDLE_TIMEOUT is {timeout_s}: give seconds (3600 for an hour), or 0 for no culler")
    if not timeout_s:
        return
    c.JupyterHub.services.append({
        "name": IDLE_CULLER,
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={timeout_s}",
                    f"--cull-every={min(600, max(10, timeout_s // 4))}"],
        "display": False,
    })
    c.JupyterHub.load_roles.append({"name": IDLE_CULLER, "services": [IDLE_CULLER], "scopes": IDLE_CULLER_SCOPES})


def configure_institution_login(c, env) -> None:
    """Institutional login (:mod:`.oidc`) from ``TREMPLIN_OIDC_*`` in ``env``: the provider's endpoints come
    from its discovery document (``<issuer>/.well-known/openid-configuration``), read once at hub start."""
    import urllib.request

    issuer = env["TREMPLIN_OIDC_ISSUER"].rstrip("/")
    missing = [k for k in ("TREMPLIN_OIDC_CLIENT_ID", "TREMPLIN_OIDC_CLIENT_SECRET", "TREMPLIN_OIDC_ROLES")
               if not env.get(k)]
    if missing:
        raise SystemExit(f"institutional login ({issuer}): set {', '.join(missing)} too (README, "
                         "\"Institutional login\")")
    try:
        with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=10) as r:
            discovery = json.loads(r.read())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"institutional login: the provider's discovery document "
                         f"{issuer}/.well-known/openid-configuration cannot be read ({exc}); check "
                         "TREMPLIN_OIDC_ISSUER and that the provider answers") from None
    roles_text = env["TREMPLIN_OIDC_ROLES"].strip()
    try:
        roles = json.loads(roles_text if roles_text.startswith("{") else Path(roles_text).read_text())
        if not isinstance(roles, dict) or not all(isinstance(v, list) and all(isinstance(g, str) for g in v)
                                                  for v in roles.values()):
            raise ValueError("give an object mapping each group of the institution to a list of Tremplin groups")
    except (OSError, ValueError) as exc:
        raise SystemExit(f"institutional login: TREMPLIN_OIDC_ROLES cannot be read ({exc}); example: "
                         '{"math-staff": ["professors", "formgrade-preselection-math"]}') from None
    c.TremplinAuthenticator.institution_login = True
    c.InstitutionLogin.client_id = env["TREMPLIN_OIDC_CLIENT_ID"]
    c.InstitutionLogin.client_secret = env["TREMPLIN_OIDC_CLIENT_SECRET"]
    c.InstitutionLogin.authorize_url = discovery["authorization_endpoint"]
    c.InstitutionLogin.token_url = discovery["token_endpoint"]
    c.InstitutionLogin.userdata_url = discovery["userinfo_endpoint"]
    c.InstitutionLogin.roles = roles
    if env.get("TREMPLIN_OIDC_NAME"):  # the button says "Se connecter avec <name> / Sign in with <name>"
        c.InstitutionLogin.login_service = env["TREMPLIN_OIDC_NAME"]
    if env.get("TREMPLIN_OIDC_USERNAME_CLAIM"):
        c.InstitutionLogin.username_claim = env["TREMPLIN_OIDC_USERNAME_CLAIM"]
    if env.get("TREMPLIN_OIDC_GROUPS_CLAIM"):
        c.InstitutionLogin.groups_claim = env["TREMPLIN_OIDC_GROUPS_CLAIM"]
