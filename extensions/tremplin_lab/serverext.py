"""Learner server extension: exam autosave, the countdown's data, and closing at the end.

* Every save of a file inside a running exam's folder (``<course>/<assignment>/``) sends
  the whole folder to the exam service as a snapshot; a pass every ``autosave_interval``
  seconds (60 by default) sends it again if it changed since the last snapshot that went
  through (the service was unreachable, a file was written by the kernel). JupyterLab's
  countdown saves open exam notebooks every 30 s, so a crash costs under a minute.
* ``GET /tremplin/exams`` returns the candidate's exams and time left, as the service
  computes them (the JupyterLab countdown polls it); it also tells the service the
  browser's address, for the audit log.
* Once the service says a candidate's time and grace are over, or they handed in, saving
  into that exam's folder is refused with a message in French and English.

Everything goes through the service's REST API with this server's own hub token.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import ioloop, web

from .client import ExamClient, ExamServiceError, encode
from .exchange import gather

CLOSED_MESSAGE = ("L'épreuve est terminée pour vous : ce dossier ne peut plus être modifié. / "
                  "The exam is over for you: this folder can no longer be changed.")


class ExamWatcher:
    """The candidate's exams as the service last described them, and what was sent to it."""

    def __init__(self, root: Path, client: ExamClient | None, log, ttl: float = 5.0):
        self.root = root
        self.client = client
        self.log = log
        self.ttl = ttl
        self._exams: list[dict] = []
        self.server_time = ""
        self._fetched_at = 0.0
        self._sent: dict[str, str] = {}

    def exams(self, fresh: bool = False, client_ip: str = "") -> list[dict]:
        if self.client is None:
            return []
        if fresh or time.monotonic() - self._fetched_at > self.ttl:
            headers = {"X-Tremplin-Client-IP": client_ip} if client_ip else None
            try:
                answer = self.client.call("GET", "api/exams/mine", headers=headers)
                self._exams, self.server_time = answer["exams"], answer["server_time"]
                self._fetched_at = time.monotonic()
            except ExamServiceError as exc:
                self.log.warning("exam service: %s", exc.message)
                if fresh:
                    raise
        return self._exams

    def exam_of(self, os_path: Path) -> dict | None:
        """The exam whose folder holds ``os_path`` (a path on disk), if any."""
        try:
            rel = Path(os_path).resolve().relative_to(self.root)
        except ValueError:
            return None
        for exam in self.exams():
            if rel.parts[:2] == tuple(exam["path"].split("/")):
                return exam
        return None

    def snapshot(self, exam: dict) -> bool:
        """Send the exam folder if it changed since the last snapshot the service kept."""
        folder = self.root / exam["path"]
        if not folder.is_dir() or not exam.get("saving"):
            return False
        files = gather(folder)
        digest = hashlib.sha256(json.dumps(sorted((k, hashlib.sha256(v).hexdigest()) for k, v in files.items()))
                                .encode()).hexdigest()
        if self._sent.get(exam["path"]) == digest:
            return False
        try:
            self.client.call("POST", f"{self.client.assignment_path(exam['course'], exam['assignment'])}"
                                     f"/snapshots/{os.environ.get('JUPYTERHUB_USER', '')}", {"files": encode(files)})
        except ExamServiceError as exc:
            self.log.warning("autosave of %s not kept by the exam service: %s", exam["path"], exc.message)
            return False
        self._sent[exam["path"]] = digest
        return True

    def autosave_pass(self) -> None:
        for exam in self.exams(fresh=False):
            try:
                self.snapshot(exam)
            except Exception:  # the next pass retries; a failed autosave must not stop the server
                self.log.exception("autosave of %s failed", exam.get("path"))


class ExamsHandler(APIHandler):
    @web.authenticated
    def get(self):
        watcher: ExamWatcher = self.settings["tremplin_exam_watcher"]
        try:
            exams = watcher.exams(fresh=True, client_ip=self.request.remote_ip or "")
        except ExamServiceError as exc:
            raise web.HTTPError(502, exc.message) from None
        # (the service's clock, never this server's)
        self.finish(json.dumps({"server_time": watcher.server_time, "exams": exams}))


def _load_jupyter_server_extension(serverapp):
    root = Path(serverapp.root_dir).resolve()
    try:
        client = ExamClient(timeout=10)
    except ExamServiceError as exc:
        serverapp.log.warning("Tremplin exam features off: %s", exc.message)
        client = None
    watcher = ExamWatcher(root, client, serverapp.log)
    serverapp.web_app.settings["tremplin_exam_watcher"] = watcher
    serverapp.web_app.add_handlers(".*$", [(url_path_join(serverapp.base_url, "tremplin/exams"), ExamsHandler)])

    def pre_save(model, path, contents_manager, **kwargs):
        exam = watcher.exam_of(root / path)
        if exam is not None and not exam.get("saving") and exam["state"] in ("ended", "submitted"):
            raise web.HTTPError(403, CLOSED_MESSAGE)

    def post_save(model, os_path, contents_manager, **kwargs):
        exam = watcher.exam_of(Path(os_path))
        if exam is not None and exam.get("saving"):
            watcher.snapshot(exam)

    serverapp.contents_manager.register_pre_save_hook(pre_save)
    serverapp.contents_manager.register_post_save_hook(post_save)
    interval = float(serverapp.config.get("TremplinLab", {}).get("autosave_interval", 60))
    ioloop.PeriodicCallback(watcher.autosave_pass, interval * 1000).start()
    serverapp.log.info("Tremplin exam autosave every %g s and at every save", interval)
