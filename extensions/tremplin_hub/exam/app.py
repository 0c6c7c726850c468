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
import logging
import os
import signal
import time
from pathlib import Path

import requests
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from tornado import ioloop, web
from traitlets import Float, Unicode, default
from traitlets.config import Application

from ..layout import Layout, default_courses_dir, default_data_dir
from .core import ExamService
from .exports import export_handlers
from .handlers import api_handlers
from .pages import page_handlers
from .store import Store

SERVICE_NAME = "tremplin-exam"


class HubGroups:
    """Who is in which hub group, asked of the hub with the service's token, cached briefly."""

    def __init__(self, api_url: str, token: str, ttl: float):
        self.api_url = api_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.ttl = ttl
        self._cache: dict[str, tuple[float, set[str]]] = {}

    def __call__(self, user: str) -> set[str]:
        hit = self._cache.get(user)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        r = self.session.get(f"{self.api_url}/users/{user}", timeout=10)
        groups = set(r.json().get("groups", [])) if r.status_code == 200 else set()
        if r.status_code not in (200, 404):
            logging.getLogger("tremplin.exam").error("hub answered %s for user %s: %s", r.status_code, user,
                                                     r.text[:200])
        self._cache[user] = (time.monotonic(), groups)
        return groups


class ExamServiceApp(Application):
    name = "tremplin-exam"
    description = "Tremplin's exam service: nbgrader's exchange over HTTP, with timed exam sessions"

    data_dir = Unicode(help="Tremplin's data directory (default: $TREMPLIN_DATA_DIR).").tag(config=True)

    @default("data_dir")
    def _data_dir(self):
        return str(default_data_dir())

    courses_dir = Unicode(help="Folder of the course folders (default: $TREMPLIN_COURSES_DIR).").tag(config=True)

    @default("courses_dir")
    def _courses_dir(self):
        return str(default_courses_dir())

    db_url = Unicode(
        help="SQLAlchemy URL of the service's database (default: SQLite in <data dir>/exam/exam.sqlite; "
             "postgresql+psycopg://user:pw@host/db for PostgreSQL).",
    ).tag(config=True)

    @default("db_url")
    def _db_url(self):
        return Layout(Path(self.data_dir)).exam_db_url

    collect_interval = Float(5.0, help="Seconds between two passes of the automatic collection (default 5).").tag(
        config=True)

    groups_ttl = Float(10.0, help="Seconds a user's hub groups are cached (default 10).").tag(config=True)

    aliases = {"data-dir": "ExamServiceApp.data_dir", "courses-dir": "ExamServiceApp.courses_dir",
               "db-url": "ExamServiceApp.db_url", "collect-interval": "ExamServiceApp.collect_interval"}

    def start(self):
        asyncio.run(self.serve())

    async def serve(self):
        logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s")
        layout = Layout(Path(self.data_dir))
        layout.exam_dir.mkdir(mode=0o700, exist_ok=True)
        store = Store(self.db_url, layout.exam_files)
        service = ExamService(store, Path(self.courses_dir), layout.course_dir)
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
        hub_auth = HubOAuth(cache_max_age=10)
        groups_of = HubGroups(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"], self.groups_ttl)
        app = web.Application(
            [*api_handlers(prefix), *page_handlers(prefix), *export_handlers(prefix),
             (f"{prefix}oauth_callback", HubOAuthCallbackHandler)],
            exam_service=service, groups_of=groups_of, hub_auth=hub_auth, xsrf_cookies=True, layout=layout,
            cookie_secret=os.urandom(32), compress_response=True,
        )
        url = os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")
        host, port = url.split("://", 1)[1].split("/")[0].rsplit(":", 1)
        app.listen(int(port), address=host)
        self.log.info("exam service on %s%s (database %s)", url, prefix, self.db_url.split("@")[-1])

        def collect():
            try:
                service.collect_due(groups_of)
            except Exception:  # the next pass retries; nothing is lost, attempts stay in the database
                self.log.exception("automatic collection failed")

        collect()
        collector = ioloop.PeriodicCallback(collect, self.collect_interval * 1000)
        collector.start()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
        collector.stop()
        store.close()


def main(argv=None):
    ExamServiceApp.launch_instance(argv)


if __name__ == "__main__":
    main()
