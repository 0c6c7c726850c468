"""Learner server extension: exam autosave, the countdown's data, and closing at the end.

* Every save of a file inside a running exam's folder (``<course>/<assignment>/``) sends
  the whole folder to the exam service as a snapshot, on a worker thread (:mod:`.autosave`):
  the save itself never waits for the service. A pass every ``autosave_interval`` seconds
  (60 by default) sends it again if it changed since the last snapshot the service kept (a
  file written by the kernel); a snapshot the service did not keep is sent again after
  ``retry_after_failure`` seconds (5 by default: a restart of the service takes seconds), then
  twice as long each time, up to the interval. JupyterLab's countdown saves open exam
  notebooks every 30 s.
* ``GET /tremplin/exams`` returns the candidate's exams and time left, as the service
  computes them, and what became of each exam's last save (``autosave``), which the
  JupyterLab countdown shows; it also tells the service the browser's address, for the audit
  log. ``?cached=1`` answers from the list as last fetched, without asking the service.
* Once the service says a candidate's time and grace are over, or they handed in, saving
  into that exam's folder is refused with a message in French and English.

Everything goes through the service's REST API with this server's own hub token.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import ioloop, web
from traitlets import Float, TraitError, validate
from traitlets.config import Configurable

from .autosave import ExamWatcher
from .client import ExamClient, ExamServiceError

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


def _load_jupyter_server_extension(serverapp):
    root = Path(serverapp.root_dir).resolve()
    settings = TremplinLab(config=serverapp.config)
    try:
        client = ExamClient(timeout=settings.service_timeout)
    except ExamServiceError as exc:
        serverapp.log.warning("Tremplin exam features off: %s", exc.message)
        client = None
    watcher = ExamWatcher(root, client, serverapp.log, interval=settings.autosave_interval,
                          retry_after_failure=settings.retry_after_failure)
    serverapp.web_app.settings["tremplin_exam_watcher"] = watcher
    serverapp.web_app.add_handlers(".*$", [(url_path_join(serverapp.base_url, "tremplin/exams"), ExamsHandler)])

    # Both hooks run on the event loop: they read the exam list as last fetched and never wait for the service.
    def pre_save(model, path, contents_manager, **kwargs):
        exam = watcher.exam_of(root / path)
        if exam is not None and not exam.get("saving") and exam["state"] in ("ended", "submitted"):
            raise web.HTTPError(403, CLOSED_MESSAGE)

    def post_save(model, os_path, contents_manager, **kwargs):
        watcher.saved(Path(os_path))

    serverapp.contents_manager.register_pre_save_hook(pre_save)
    serverapp.contents_manager.register_post_save_hook(post_save)
    ioloop.PeriodicCallback(watcher.tick, 1000).start()
    serverapp.log.info("Tremplin exam autosave every %g s and at every save, off the event loop; a failed one is "
                       "sent again after %g s", settings.autosave_interval, settings.retry_after_failure)
