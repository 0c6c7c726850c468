"""A small HTTP client of the exam service, authenticated with the server's own hub token.

The URL comes from ``$TREMPLIN_EXAM_URL`` (set by the hub for learners' servers and
formgraders), the token from ``$JUPYTERHUB_API_TOKEN``: the service identifies the caller
from that token, so nothing here can claim to be someone else.
"""

from __future__ import annotations

import base64
import os
import threading

import requests


class ExamServiceError(Exception):
    """The service refused or could not be reached; ``message`` is meant for the person."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def encode(files: dict[str, bytes]) -> dict[str, str]:
    return {name: base64.b64encode(data).decode() for name, data in files.items()}


def decode(files: dict[str, str]) -> dict[str, bytes]:
    return {name: base64.b64decode(data) for name, data in files.items()}


class ExamClient:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30):
        self.url = (url or os.environ.get("TREMPLIN_EXAM_URL", "")).rstrip("/") + "/"
        if self.url == "/":
            raise ExamServiceError(0, "TREMPLIN_EXAM_URL is not set: this server was not started by Tremplin's "
                                      "hub; ask an administrator")
        self.token = token or os.environ.get("JUPYTERHUB_API_TOKEN", "")
        self.timeout = timeout
        self._local = threading.local()
        self._sessions: list[requests.Session] = []

    @property
    def session(self) -> requests.Session:
        """This thread's session: the learner's server calls from several threads, and a Session is not thread-safe."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["Authorization"] = f"token {self.token}"
            self._sessions.append(session)
        return session

    def close(self) -> None:
        for session in self._sessions:
            session.close()

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None,
             params: dict | None = None, timeout: float | None = None):
        try:
            r = self.session.request(method, self.url + path, json=body, headers=headers, params=params,
                                     timeout=timeout or self.timeout)
        except requests.RequestException as exc:
            raise ExamServiceError(0, f"the exam service at {self.url} cannot be reached ({exc.__class__.__name__}); "
                                      "your work is safe on your server, try again in a minute") from None
        if r.status_code >= 400:
            try:
                message = r.json().get("message") or r.text
            except ValueError:
                message = r.text[:300]
            raise ExamServiceError(r.status_code, message)
        return r.json()

    def assignment_path(self, course: str, assignment: str) -> str:
        return f"api/courses/{course}/assignments/{assignment}"
