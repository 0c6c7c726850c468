"""Exam autosave off the server's event loop, and what became of each exam's last save.

The contents manager's save hooks and the periodic pass run on the Jupyter server's event
loop, where one blocking HTTP call stalls every request of the candidate's server while the
exam service is slow or down. Here they only *ask* for a snapshot: one worker thread reads
the exam folder and sends it, at most one snapshot in flight per exam. Saves that come while
one is in flight are coalesced: the folder is read again and sent once afterwards, so the
service ends up with the latest state. The exam list is fetched on threads of its own, so a
stalled snapshot never holds up the countdown.

Each exam's :class:`Autosave` is what the countdown shows the candidate:

* ``kept``: the service kept the folder as it was at the last check, at ``kept_at`` (the
  service's time);
* ``pending``: a change is being sent, or the service asked to wait (HTTP 429, autosaves
  closer than 2 s): it is sent again at ``retry_at``;
* ``failed``: the service did not keep the last change; ``error`` says why, and it is sent
  again at ``retry_at`` (15 s after the attempt began, then 30 s, 60 s, ... up to the autosave
  interval), or never when the service said the exam is closed for the candidate (HTTP 409).

Nothing here says ``kept`` unless the service answered that it kept that very folder.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .client import ExamClient, ExamServiceError, encode
from .transfer import TransferError, gather

UTC = dt.timezone.utc


@dataclass
class Autosave:
    """One exam's autosave, as this server last saw it (guarded by the watcher's lock)."""

    #: ``None`` until this server checked the folder once; then ``kept``, ``pending`` or ``failed``
    state: str | None = None
    #: the service's time of the last snapshot it kept from this server (ISO 8601)
    kept_at: str | None = None
    kept_digest: str | None = None
    #: why the last change was not kept (for the candidate, French and English where the service gives both)
    error: str | None = None
    #: when it is sent again, on the watcher's clock (``None``: no retry planned)
    retry_at: float | None = None
    failures: int = 0
    in_flight: bool = False
    #: a save came while a snapshot was in flight: send the folder again afterwards
    again: bool = False
    #: when the regular pass checks this folder next, on the watcher's clock
    next_pass: float = 0.0


def folder_digest(files: dict[str, bytes]) -> str:
    return hashlib.sha256(json.dumps(sorted((k, hashlib.sha256(v).hexdigest()) for k, v in files.items()))
                          .encode()).hexdigest()


class ExamWatcher:
    """The candidate's exams as the service last described them, and their autosaves.

    ``request``, ``saved``, ``exam_of`` and ``tick`` never wait for the network: they are
    what the event loop calls. ``refresh`` does wait, and runs on the watcher's threads
    (``refresh_async`` from a coroutine). ``clock`` (seconds, monotonic) and ``wall`` (seconds
    since the epoch) are injected so tests can move time.
    """

    def __init__(self, root: Path, client: ExamClient | None, log, *, interval: float = 60.0,
                 retry_after_failure: float = 15.0, spacing: float = 2.5, ttl: float = 5.0,
                 list_timeout: float = 5.0, user: str | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self.root = Path(root)
        self.client = client
        self.log = log
        self.interval = interval
        self.retry_after_failure = retry_after_failure
        self.spacing = spacing
        self.ttl = ttl
        self.list_timeout = list_timeout
        self.user = user if user is not None else os.environ.get("JUPYTERHUB_USER", "")
        self.clock = clock
        self.wall = wall
        self._lock = threading.Lock()
        # (exams, the service's time, when fetched on self.clock): replaced whole, read without the lock
        self._list: tuple[list[dict], str, float | None] = ([], "", None)
        self._autosaves: dict[str, Autosave] = {}
        self._refreshing: Future | None = None
        self._after_refresh: list[Callable[[], None]] = []
        self._snapshots = ThreadPoolExecutor(1, thread_name_prefix="tremplin-autosave")
        self._lists = ThreadPoolExecutor(2, thread_name_prefix="tremplin-exams")

    # ---- the exam list -------------------------------------------------------------------
    def exams(self) -> list[dict]:
        """The exams as last fetched (never waits)."""
        return self._list[0]

    def age(self) -> float | None:
        """Seconds since the list was fetched, ``None`` if it never was."""
        fetched = self._list[2]
        return None if fetched is None else self.clock() - fetched

    def refresh(self, client_ip: str = "") -> list[dict]:
        """Fetch the list from the service (waits up to ``list_timeout``; run it on a thread)."""
        if self.client is None:
            self._list = ([], "", self.clock())
            return []
        headers = {"X-Tremplin-Client-IP": client_ip} if client_ip else None
        answer = self.client.call("GET", "api/exams/mine", headers=headers, timeout=self.list_timeout)
        self._list = (answer["exams"], answer["server_time"], self.clock())
        return answer["exams"]

    async def refresh_async(self, client_ip: str = "") -> list[dict]:
        return await asyncio.get_running_loop().run_in_executor(self._lists, self.refresh, client_ip)

    def refresh_later(self, then: Callable[[], None] | None = None, max_age: float = 1.0) -> None:
        """Fetch the list on a thread unless it is younger than ``max_age`` s; ``then`` runs after (on that thread)."""
        with self._lock:
            if then is not None:
                self._after_refresh.append(then)
            age = self.age()
            if self._refreshing is not None or (age is not None and age < max_age and then is None):
                return
            self._refreshing = self._lists.submit(self._refresh_in_background)

    def _refresh_in_background(self) -> None:
        try:
            self.refresh()
        except ExamServiceError as exc:
            self.log.warning("exam service: %s", exc.message)
        finally:
            with self._lock:
                self._refreshing = None
                callbacks, self._after_refresh = self._after_refresh, []
            for callback in callbacks:
                try:
                    callback()
                except Exception:  # one caller's mistake must not stop the others
                    self.log.exception("after the exam list was fetched")

    def exam_of(self, os_path: Path) -> dict | None:
        """The exam whose folder holds ``os_path`` (a path on disk), from the list as last fetched.

        A list older than ``ttl`` is fetched again on a thread, for the next save to see.
        """
        try:
            rel = Path(os_path).resolve().relative_to(self.root)
        except ValueError:
            return None
        age = self.age()
        if age is None or age > self.ttl:
            self.refresh_later()
        for exam in self.exams():
            if rel.parts[:2] == tuple(exam["path"].split("/")):
                return exam
        return None

    def _exam(self, path: str) -> dict | None:
        return next((e for e in self.exams() if e["path"] == path), None)

    # ---- snapshots -----------------------------------------------------------------------
    def saved(self, os_path: Path) -> None:
        """A file was saved: send its exam's folder if it is in a running exam (never waits)."""
        exam = self.exam_of(os_path)
        if exam is not None and exam.get("saving"):
            self.request(exam["path"], saved=True)
            return
        try:
            depth = len(Path(os_path).resolve().relative_to(self.root).parts)
        except ValueError:
            return
        age = self.age()
        stale = age is None or age > self.ttl
        if depth >= 3 and (exam.get("state") in ("open", "not_open") if exam is not None else stale):
            # Perhaps an exam the candidate has just fetched (or one this list is too old to know of):
            # ask the service, then look again.
            def look_again():
                exam = self.exam_of(os_path)
                if exam is not None and exam.get("saving"):
                    self.request(exam["path"], saved=True)
            self.refresh_later(then=look_again)

    def request(self, path: str, saved: bool = False) -> Future | None:
        """Send exam ``path``'s folder on the worker thread; coalesced with one in flight (never waits).

        ``saved``: a save asked for it, so the folder has probably changed: until the service
        answers, the exam's state is ``pending`` (``failed`` stays ``failed``).
        """
        with self._lock:
            st = self._autosaves.setdefault(path, Autosave())
            if saved and st.state != "failed":
                st.state = "pending"
            st.next_pass = self.clock() + self.interval  # (this send is the pass's)
            if st.in_flight:
                st.again = True
                return None
            st.in_flight, st.again = True, False
        return self._snapshots.submit(self._send, path)

    def _send(self, path: str) -> None:
        """Read the folder and send it if it changed since the last snapshot the service kept (worker thread)."""
        st = self._autosaves[path]
        started = self.clock()
        try:
            exam = self._exam(path)
            folder = self.root / path
            if exam is None or not exam.get("saving"):
                if st.state == "pending":
                    self._failed(st, started, "the exam service no longer takes autosaves of this exam: it is over "
                                              "for you / le service d'examen ne prend plus de sauvegarde de cette "
                                              "épreuve : elle est terminée pour vous", retry=False)
                return
            if not folder.is_dir():
                with self._lock:
                    st.state = None  # nothing on disk to send (the candidate works elsewhere)
                return
            try:
                files = gather(folder)
            except (TransferError, OSError) as exc:
                self._failed(st, started, f"{exc} / le dossier de l'épreuve n'a pas pu être lu : {exc}")
                return
            digest = folder_digest(files)
            with self._lock:
                unchanged = digest == st.kept_digest
                if not unchanged and st.state != "failed":  # (a retry: still not kept until the service says so)
                    st.state = "pending"
            if unchanged:
                self._kept(st, st.kept_at, digest)
                return
            try:
                answer = self.client.call(
                    "POST", f"{self.client.assignment_path(exam['course'], exam['assignment'])}/snapshots/{self.user}",
                    {"files": encode(files)})
            except ExamServiceError as exc:
                self.log.warning("autosave of %s not kept by the exam service: %s", path, exc.message)
                if exc.status == 429:  # too close to the previous one: not an error, sent again shortly
                    with self._lock:
                        st.state, st.error, st.retry_at = "pending", None, self.clock() + self.spacing
                elif exc.status == 409:  # over, handed in, not started: the service will not take it
                    self._failed(st, started, exc.message, retry=False)
                    self.refresh_later(max_age=0)
                else:
                    self._failed(st, started, exc.message)
                return
            self._kept(st, str(answer.get("server_time") or ""), digest)
        except Exception as exc:  # a bug here must show as "not kept", never as kept nor as a dead worker
            self.log.exception("autosave of %s failed", path)
            self._failed(st, started, f"{exc.__class__.__name__}: {exc}")
        finally:
            with self._lock:
                st.in_flight = False
                if st.again and st.retry_at is None and st.state != "failed":
                    # A save came meanwhile: send the folder once more, as soon as the service takes it.
                    st.state, st.retry_at = "pending", self.clock() + self.spacing
                st.again = False

    def _kept(self, st: Autosave, kept_at: str | None, digest: str) -> None:
        with self._lock:
            st.state, st.kept_at, st.kept_digest = "kept", kept_at, digest
            st.error, st.retry_at, st.failures = None, None, 0

    def _failed(self, st: Autosave, started: float, message: str, retry: bool = True) -> None:
        with self._lock:
            st.state, st.error = "failed", message
            st.failures += 1
            if retry:
                cap = max(self.interval, self.retry_after_failure)
                delay = min(self.retry_after_failure * 2 ** (st.failures - 1), cap)
                st.retry_at = max(started + delay, self.clock() + 1.0)
            else:
                st.retry_at = None

    # ---- the periodic pass (event loop) --------------------------------------------------
    def tick(self) -> None:
        """Due retries, the regular pass every ``interval`` s, and the list kept fresh; never waits."""
        now = self.clock()
        age = self.age()
        exams = self.exams()
        # Near the end (past the deadline by this server's reckoning, or in grace) the list is
        # fetched every ``ttl`` s, so a save is refused soon after the service closed the exam.
        near_end = age is not None and any(
            e.get("saving") and (e.get("state") != "running" or (e.get("seconds_left") or 0) - age <= 0)
            for e in exams)
        if age is None or age > (self.ttl if near_end else self.interval):
            self.refresh_later()
        due = []
        with self._lock:
            for exam in exams:
                if not exam.get("saving"):
                    continue
                st = self._autosaves.setdefault(exam["path"], Autosave())
                if st.in_flight:
                    continue
                if st.retry_at is not None and st.retry_at <= now:
                    st.retry_at = None
                    due.append(exam["path"])
                elif st.next_pass <= now:
                    due.append(exam["path"])
        for path in due:
            self.request(path)

    # ---- what the countdown shows ----------------------------------------------------------
    def status(self, path: str) -> dict | None:
        """The exam's autosave for ``GET /tremplin/exams``; ``None`` before the first check."""
        with self._lock:
            st = self._autosaves.get(path)
            if st is None or st.state is None:
                return None
            retry_in = None if st.retry_at is None else max(0.0, st.retry_at - self.clock())
            if st.state == "failed" and st.in_flight and retry_in is None:
                retry_in = 0.0  # (the retry is being sent now: "retrying at <now>")
            return {
                "state": st.state,
                "kept_at": st.kept_at,
                "error": st.error,
                "sending": st.in_flight,
                "retry_in": None if retry_in is None else round(retry_in, 1),
                "retry_at": None if retry_in is None else
                dt.datetime.fromtimestamp(self.wall() + retry_in, UTC).isoformat(timespec="seconds"),
            }

    def describe(self) -> dict:
        """The list as last fetched, its times moved on by its age, with each exam's autosave."""
        exams, server_time, fetched = self._list
        age = 0.0 if fetched is None else max(0.0, self.clock() - fetched)
        out = []
        for exam in exams:
            exam = dict(exam)
            if isinstance(exam.get("seconds_left"), (int, float)):
                exam["seconds_left"] = max(0, int(exam["seconds_left"] - age))
            exam["autosave"] = self.status(exam["path"])
            out.append(exam)
        if server_time and age:
            server_time = (dt.datetime.fromisoformat(server_time) + dt.timedelta(seconds=age)).isoformat()
        return {"server_time": server_time, "exams": out, "age": round(age, 1)}

    def flush(self, timeout: float | None = None) -> None:
        """Wait until the snapshots asked for so far are done (tests; never from the event loop)."""
        self._snapshots.submit(lambda: None).result(timeout)

    def close(self) -> None:
        self._snapshots.shutdown(wait=False, cancel_futures=True)
        self._lists.shutdown(wait=False, cancel_futures=True)
