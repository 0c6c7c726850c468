"""``tremplin-exam``: the exam service (and admissions' exports), run by JupyterHub as a managed service.

A thin traitlets application (as jupyterhub-idle-culler is): it reads its settings, opens
the store, serves :mod:`.handlers` and :mod:`.pages` under the service prefix, and every
``collect_interval`` seconds hands in the work of candidates whose time is over.

Scopes it needs (given by ``tremplin_hub.hubconfig``): for its own token
``read:users``, ``read:users:groups``, ``list:users`` (who is in which course);
callers need ``access:services!service=tremplin-exam``.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from tornado import ioloop, web
from traitlets import Float, Integer, Unicode, default

from tremplin_grading.queue import GradingQueue

from ..admissions.store import Admissions
from ..layout import Layout
from ..serviceapp import TremplinServiceApp
from . import heads
from .core import ExamService
from .errors import Unavailable
from .grading_pages import grading_handlers
from .handlers import MAX_OTHER_BODY_BYTES, api_handlers
from .pages import page_handlers
from .store import Store

log = logging.getLogger("tremplin.exam")

SERVICE_NAME = "tremplin-exam"
#: How long a new exam service waits for its port while the previous one finishes stopping (hub restart).
PORT_WAIT_SECONDS = 20.0


class HubGroups:
    """Who is in which hub group, asked of the hub with the service's token, cached briefly.

    Called from the service's threads, never its event loop. When the hub is slow to answer
    (50 servers starting at once), a candidate whose groups were known a moment ago keeps
    them: an autosave never fails because the hub is busy. Someone never seen gets a 503 that
    says to retry.
    """

    def __init__(self, api_url: str, token: str, ttl: float, timeout: float = 3.0, rosters: Layout | None = None):
        self.rosters = rosters  # (the campaigns' rosters of this data directory: they enrol and withdraw at once)
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.ttl, self.timeout = ttl, timeout
        self._cache: dict[str, tuple[float, set[str]]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers["Authorization"] = f"token {self.token}"
        return self._local.session

    def __call__(self, user: str) -> set[str]:
        """``user``'s groups: the hub's, with the rosters' enrolments and withdrawals as they are now (the hub
        applies them at the person's next login or refresh; :meth:`Admissions.enrolment`)."""
        groups = self._hub_groups(user)
        if self.rosters is None:
            return groups
        enrolled, withdrawn = Admissions.enrolment(self.rosters, user)
        return (groups | enrolled) - withdrawn

    def _hub_groups(self, user: str) -> set[str]:
        with self._lock:
            hit = self._cache.get(user)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        try:
            r = self._session().get(f"{self.api_url}/users/{user}", timeout=self.timeout)
            if r.status_code not in (200, 404):
                raise requests.HTTPError(f"HTTP {r.status_code}: {r.text[:200]}")
        except requests.RequestException as exc:
            if hit:
                log.warning("the hub did not say %s's groups (%s); using those of %.0f s ago", user, exc,
                            time.monotonic() - hit[0])
                return hit[1]
            raise Unavailable(f"the hub did not say which courses {user} takes ({type(exc).__name__}); it is "
                              "busy: try again in a few seconds",
                              fr="le hub est occupé : réessayez dans quelques secondes") from None
        groups = set(r.json().get("groups", [])) if r.status_code == 200 else set()
        with self._lock:
            self._cache[user] = (time.monotonic(), groups)
        return groups

    def members(self, group: str) -> set[str]:
        """The accounts in ``group`` (none if the hub has no such group), asked of the hub now, with those a
        roster enrols there and without those it withdrew.

        Raises:
            Unavailable: the hub did not answer.
        """
        try:
            r = self._session().get(f"{self.api_url}/groups/{group}", timeout=self.timeout * 3)
            if r.status_code not in (200, 404):
                raise requests.HTTPError(f"HTTP {r.status_code}: {r.text[:200]}")
        except requests.RequestException as exc:
            raise Unavailable(f"the hub did not say who is in group {group!r} ({exc}); an accommodation was granted "
                              "to that group: retry in a few seconds",
                              fr="le hub n'a pas répondu ; réessayez dans quelques secondes") from None
        members = set(r.json().get("users", [])) if r.status_code == 200 else set()
        if self.rosters is None:
            return members
        enrolled, withdrawn = Admissions.group_roster(self.rosters, group)
        return (members | enrolled) - withdrawn


class ExamServiceApp(TremplinServiceApp):
    name = "tremplin-exam"
    description = "Tremplin's exam service: nbgrader's exchange over HTTP, with timed exam sessions"

    db_url = Unicode(
        help="SQLAlchemy URL of the service's database (default: SQLite in <data dir>/exam/exam.sqlite; "
             "postgresql+psycopg://user:pw@host/db for PostgreSQL).",
    ).tag(config=True)

    @default("db_url")
    def _db_url(self):
        return Layout(Path(self.data_dir)).exam_db_url

    collect_interval = Float(5.0, help="Seconds between two passes of the automatic collection (default 5).").tag(
        config=True)

    static_dir = Unicode(help="Folder of the scripts pages load from the platform instead of a CDN, served under "
                              "static/ (default: <prefix>/static/node_modules beside the venv, where make installs "
                              "deploy/static; today MathJax, for the formgrader's and feedback's pages).").tag(
        config=True)

    @default("static_dir")
    def _static_dir(self):
        return str(Path(sys.prefix).parent / "static" / "node_modules")

    groups_ttl = Float(10.0, help="Seconds a user's hub groups are cached (default 10).").tag(config=True)

    sign_interval = Float(60.0, help="Seconds between two signatures of each exam's audit chain head (default 60; "
                                     "see tremplin_hub.exam.heads).").tag(config=True)

    disk_reserve_mb = Integer(256, help="Disk space (MB) the service keeps for itself beside its files, given back "
                                        "to candidates' saves when learners fill a shared disk (default 256; 0: "
                                        "none). See Store.keep_reserve.").tag(config=True)

    threads = Integer(8, help="Threads that do the service's database, file and hub work, so that its event loop "
                              "never waits (default 8).").tag(config=True)

    aliases = {"data-dir": "ExamServiceApp.data_dir", "courses-dir": "ExamServiceApp.courses_dir",
               "db-url": "ExamServiceApp.db_url", "collect-interval": "ExamServiceApp.collect_interval"}

    def start(self):
        asyncio.run(self.serve())

    def handlers(self, prefix: str) -> list[tuple]:
        """The service's routes (a composition such as :mod:`tremplin_hub.exam_service` adds its own)."""
        return [*api_handlers(prefix), *page_handlers(prefix), *grading_handlers(prefix),
                (f"{prefix}oauth_callback", HubOAuthCallbackHandler),
                # (public files: MathJax; tornado keeps every path inside the folder)
                (f"{prefix}static/(mathjax/.*)", web.StaticFileHandler, {"path": self.static_dir})]

    async def serve(self):
        logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s")
        layout = Layout(Path(self.data_dir))
        layout.exam_dir.mkdir(mode=0o700, exist_ok=True)
        if not (Path(self.static_dir) / "mathjax" / "MathJax.js").exists():
            logging.getLogger(SERVICE_NAME).warning(
                "MathJax is not in %s: the formgrader's and feedback's formulas stay as LaTeX text; run 'make install' "
                "(it installs deploy/static) or set ExamServiceApp.static_dir", self.static_dir)
        store = Store(self.db_url, layout.exam_files, reserve_bytes=self.disk_reserve_mb * 2**20)
        layout.grading_private.mkdir(parents=True, mode=0o700, exist_ok=True)
        grading = GradingQueue(layout.grading_db_url)
        service = ExamService(store, Path(self.courses_dir), layout.course_dir, grading=grading)
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
        hub_auth = HubOAuth(cache_max_age=10)
        executor = ThreadPoolExecutor(self.threads, thread_name_prefix="exam")
        groups_of = HubGroups(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"], self.groups_ttl,
                              rosters=layout)
        app = web.Application(
            self.handlers(prefix),
            exam_service=service, groups_of=groups_of, hub_auth=hub_auth, xsrf_cookies=True, layout=layout,
            executor=executor, prefix=prefix,
            cookie_secret=os.urandom(32), compress_response=True,
        )
        url = os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")
        host, port = url.split("://", 1)[1].split("/")[0].rsplit(":", 1)
        waiting_since = time.monotonic()
        while True:
            try:
                app.listen(int(port), address=host, max_body_size=MAX_OTHER_BODY_BYTES)  # (files: StreamedBody)
                break
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                if time.monotonic() - waiting_since > PORT_WAIT_SECONDS:
                    self.log.error("port %s of the exam service (kept in %s) has been used by another program for "
                                   "%g s; stop that program, or delete that file and restart the hub (learners' "
                                   "running servers then need a restart to learn the new port)", port,
                                   layout.exam_port_file, PORT_WAIT_SECONDS)
                    raise SystemExit(1) from None
                await asyncio.sleep(0.25)  # the previous exam service is still stopping (a hub restart)
        self.log.info("exam service on %s%s (database %s)", url, prefix, self.db_url.split("@")[-1])

        loop = asyncio.get_running_loop()
        collecting = asyncio.Lock()

        async def collect():
            if collecting.locked():  # the last pass is still running: skip this one
                return
            async with collecting:
                try:
                    await loop.run_in_executor(executor, service.collect_due, groups_of)
                    await loop.run_in_executor(executor, store.keep_reserve)
                except Exception:  # the next pass retries; nothing is lost, attempts stay in the database
                    self.log.exception("automatic collection failed")

        key = heads.load_key(layout.exam_dir)

        async def sign():
            try:
                await loop.run_in_executor(executor, heads.sign_heads, store, key, service.now())
            except Exception:  # the next pass signs what this one missed
                self.log.exception("signing the audit chains' heads failed")

        await collect()
        await sign()
        collector = ioloop.PeriodicCallback(collect, self.collect_interval * 1000)
        collector.start()
        signer = ioloop.PeriodicCallback(sign, self.sign_interval * 1000)
        signer.start()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
        collector.stop()
        signer.stop()
        await sign()
        executor.shutdown(wait=True)
        store.close()
        grading.close()


def main(argv=None):
    ExamServiceApp.launch_instance(argv)


if __name__ == "__main__":
    main()
