"""Learner server extension: exam autosave, the countdown's data, and closing at the end.

* Every save of a file inside a running exam's folder (``<course>/<assignment>/``) sends
  the whole folder to the exam service as a snapshot, on a worker thread (:mod:`.autosave`):
  the save itself never waits for the service. A pass every ``autosave_interval`` seconds
  (60 by default) sends it again if it changed since the last snapshot the service kept (a
  file written by the kernel); a snapshot the service did not keep is sent again after
  ``retry_after_failure`` seconds (5 by default: a restart of the service takes seconds), then
  twice as long each time, up to the interval. JupyterLab's countdown saves open exam
  notebooks every 30 s.
* ``GET /tremplin/open/<course>/<assignment>`` opens an assignment from the hub's home page
  (:class:`OpenHandler`).
* ``GET /tremplin/exams`` returns the candidate's exams and time left, as the service
  computes them, and what became of each exam's last save (``autosave``), which the
  JupyterLab countdown shows; it also tells the service the browser's address, for the audit
  log. ``?cached=1`` answers from the list as last fetched, without asking the service.
* Once the service says a candidate's time and grace are over, or they handed in, saving
  into that exam's folder is refused with a message in French and English.

Everything goes through the service's REST API with this server's own hub token.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from urllib.parse import urlparse

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_escape, url_path_join
from tornado import ioloop, web
from traitlets import Float, List, TraitError, Unicode, validate
from traitlets.config import Configurable

from .autosave import ExamWatcher
from .client import ExamClient, ExamServiceError
from .kernels import WarmKernelManager
from .lazy import NBGRADER_LEARNER, OnFirstRequest, url_pattern
from .transfer import TransferError, fetch_copy, hand_in

NOT_CONNECTED = ("Ce serveur n'est pas relié au service d'examen ; prévenez un administrateur. / "
                 "This server is not connected to the exam service; tell an administrator.")
CLOSED_MESSAGE = ("L'épreuve est terminée pour vous : ce dossier ne peut plus être modifié. / "
                  "The exam is over for you: this folder can no longer be changed.")


class TremplinLab(Configurable):
    """Settings of the learner's server extension (``c.TremplinLab.<name>``)."""

    autosave_interval = Float(60.0, help="Seconds between two passes that send a running exam's folder to the "
                                         "exam service if it changed (default 60).").tag(config=True)
    retry_after_failure = Float(5.0, help="Seconds after a failed autosave began before it is sent again; "
                                          "doubled at each failure in a row, up to autosave_interval (default 5: "
                                          "the exam service restarts in seconds).",
                                ).tag(config=True)
    service_timeout = Float(10.0, help="Seconds an autosave waits for the exam service's answer before it counts as "
                                       "not kept (default 10).").tag(config=True)

    on_first_request = List(Unicode(), help="Server extensions loaded at the first request to their URLs rather than "
                                            "at start (nbgrader's learner extensions: "
                                            f"{', '.join(NBGRADER_LEARNER)}); turn them off in "
                                            "ServerApp.jpserver_extensions.").tag(config=True)

    @validate("on_first_request")
    def _known(self, proposal):
        unknown = [name for name in proposal["value"] if name not in NBGRADER_LEARNER]
        if unknown:
            raise TraitError(f"TremplinLab.on_first_request = {unknown!r}: only {', '.join(NBGRADER_LEARNER)} can be "
                             "loaded at their first request (their URLs are known); load the others at start")
        return proposal["value"]

    @validate("autosave_interval", "retry_after_failure", "service_timeout")
    def _positive(self, proposal):
        value = proposal["value"]
        if not math.isfinite(value) or not 1 <= value <= 3600:
            raise TraitError(f"TremplinLab.{proposal['trait'].name} = {value!r}: give a number of seconds between 1 "
                             "and 3600 in the server's configuration")
        return value


class ExamsHandler(APIHandler):
    @web.authenticated
    async def get(self):
        watcher: ExamWatcher = self.settings["tremplin_exam_watcher"]
        error = None
        if self.get_argument("cached", "") != "1" or watcher.age() is None:
            try:
                await watcher.refresh_async(client_ip=self.request.remote_ip or "")
            except ExamServiceError as exc:
                if watcher.age() is None:
                    raise web.HTTPError(502, exc.message) from None
                error = exc.message  # the list as last fetched still says what became of the saves
        # (the service's clock, never this server's)
        self.finish(json.dumps({**watcher.describe(), "service_error": error}))


#: A course's or an assignment's id, as the exam service takes them.
ID = r"[A-Za-z0-9][A-Za-z0-9_-]*"


def language_of(accept_language: str) -> str:
    """``fr`` or ``en``, whichever the browser lists first (``fr`` when it lists neither)."""
    for part in accept_language.lower().split(","):
        tag = part.split(";")[0].strip()[:2]
        if tag in ("fr", "en"):
            return tag
    return "fr"


def notebook_to_open(folder: Path, lang: str) -> str | None:
    """The notebook of an assignment to open first: the one in the reader's language (``<name>-fr.ipynb``,
    ``<name>-en.ipynb``) when the assignment has one per language, else the first by name."""
    names = sorted(p.name for p in folder.glob("*.ipynb") if p.is_file())
    mine = [n for n in names if n.endswith(f"-{lang}.ipynb")]
    return (mine or names or [None])[0]


class OpenHandler(JupyterHandler):
    """``GET tremplin/open/<course>/<assignment>``: the link of each assignment on the hub's home page (through
    ``/hub/user-redirect/``, which starts this server first). The learner's copy is fetched if it has not been
    (as nbgitpuller's link clones: nothing is ever overwritten) and its notebook opens in JupyterLab. A timed
    exam not started yet goes to the exam service's start page instead, which asks the candidate to confirm:
    nothing here starts an exam's time."""

    @web.authenticated
    async def get(self, course_id, assignment_id):
        root: Path = self.settings["tremplin_root"]
        client: ExamClient | None = self.settings["tremplin_exam_watcher"].client
        if client is None:
            raise web.HTTPError(503, NOT_CONNECTED)
        folder = root / course_id / assignment_id
        if not folder.is_dir():
            try:
                listing = await asyncio.to_thread(client.call, "GET", f"api/courses/{course_id}/assignments")
            except ExamServiceError as exc:
                raise web.HTTPError(exc.status if 400 <= exc.status < 500 else 502, exc.message) from None
            item = next((i for i in listing if isinstance(i, dict) and i.get("assignment_id") == assignment_id), None)
            if item is None:
                raise web.HTTPError(404, f"« {course_id}/{assignment_id} » n'est pas (encore) distribué dans vos cours "
                                         "; revenez à votre page d'accueil. / "
                                         f"{course_id}/{assignment_id} is not (yet) released in your courses; go back "
                                         "to your home page.")
            if item.get("timed") and item.get("state") not in ("running", "ended", "submitted"):
                start = urlparse(client.url).path + f"start/{course_id}/{assignment_id}"
                return self.redirect(start)
            try:
                await asyncio.to_thread(fetch_copy, self.settings["tremplin_transfer_client"], root, course_id,
                                        assignment_id, self.log)
            except TransferError as exc:
                raise web.HTTPError(409, str(exc)) from None
        notebook = notebook_to_open(folder, language_of(self.request.headers.get("Accept-Language", "")))
        where = f"{course_id}/{assignment_id}" + (f"/{notebook}" if notebook else "")
        self.redirect(url_path_join(self.base_url, "lab/tree", url_escape(where)))


class HandInHandler(APIHandler):
    """``POST tremplin/submit/<course>/<assignment>``: the hand-in button beside the countdown, after the candidate
    confirmed in its dialog (the page saved their open notebooks first). Answers the service's record (its
    receipt) as JSON, or the service's refusal with its status."""

    @web.authenticated
    async def post(self, course_id, assignment_id):
        root: Path = self.settings["tremplin_root"]
        watcher: ExamWatcher = self.settings["tremplin_exam_watcher"]
        client: ExamClient | None = self.settings["tremplin_transfer_client"]
        if client is None:
            raise web.HTTPError(503, NOT_CONNECTED)
        try:
            # (the candidate's confirmed hand-in: the same step as nbgrader's Submit, tremplin_lab.exchange)
            record = await asyncio.to_thread(hand_in, client, root, course_id, assignment_id, self.log,
                                             confirmed=True)
        except TransferError as exc:
            raise web.HTTPError(409, str(exc)) from None
        try:  # the countdown then shows the exam as handed in at once
            await watcher.refresh_async(client_ip=self.request.remote_ip or "")
        except ExamServiceError:
            pass  # (its next poll will)
        self.finish(json.dumps({"timestamp": record["timestamp"], "server_time": record["server_time"],
                                "receipt": record["receipt"]}))


def _load_jupyter_server_extension(serverapp):
    root = Path(serverapp.root_dir).resolve()
    settings = TremplinLab(config=serverapp.config)
    try:
        client = ExamClient(timeout=settings.service_timeout)
        # (copies and hand-ins move whole folders: the exchange's longer wait)
        transfer_client = ExamClient()
    except ExamServiceError as exc:
        serverapp.log.warning("Tremplin exam features off: %s", exc.message)
        client = transfer_client = None
    watcher = ExamWatcher(root, client, serverapp.log, interval=settings.autosave_interval,
                          retry_after_failure=settings.retry_after_failure)
    serverapp.web_app.settings["tremplin_exam_watcher"] = watcher
    serverapp.web_app.settings["tremplin_transfer_client"] = transfer_client
    serverapp.web_app.settings["tremplin_root"] = root
    serverapp.web_app.add_handlers(".*$", [
        (url_path_join(serverapp.base_url, "tremplin/exams"), ExamsHandler),
        (url_path_join(serverapp.base_url, f"tremplin/open/({ID})/({ID})"), OpenHandler),
        (url_path_join(serverapp.base_url, f"tremplin/submit/({ID})/({ID})"), HandInHandler),
    ])
    deferred = [name for name in settings.on_first_request if not serverapp.jpserver_extensions.get(name)]
    if deferred:  # (an extension also turned on in jpserver_extensions was loaded at start, as configured)
        # Tornado's own add_handlers: Jupyter Server's checks that request handlers require a login, and this is a
        # router; the handlers it routes to pass that check when their extension adds them.
        web.Application.add_handlers(serverapp.web_app, ".*$", [
            (url_path_join(serverapp.base_url, url_pattern([NBGRADER_LEARNER[name] for name in deferred])),
             OnFirstRequest(serverapp, deferred)),
        ])

    # Both hooks run on the event loop: they read the exam list as last fetched and never wait for the service.
    def pre_save(model, path, contents_manager, **kwargs):
        exam = watcher.exam_of(root / path)
        if exam is not None and not exam.get("saving") and exam["state"] in ("ended", "submitted"):
            raise web.HTTPError(403, CLOSED_MESSAGE)

    def post_save(model, os_path, contents_manager, **kwargs):
        watcher.saved(Path(os_path))

    if isinstance(serverapp.kernel_manager, WarmKernelManager):  # (a kernel ahead, when the spawner asked for one)
        ioloop.IOLoop.current().add_callback(serverapp.kernel_manager.start_warm)

    serverapp.contents_manager.register_pre_save_hook(pre_save)
    serverapp.contents_manager.register_post_save_hook(post_save)
    ioloop.PeriodicCallback(watcher.tick, 1000).start()
    serverapp.log.info("Tremplin exam autosave every %g s and at every save, off the event loop; a failed one is "
                       "sent again after %g s", settings.autosave_interval, settings.retry_after_failure)
