"""``tremplin-grader``: grades papers as they arrive, in sandboxes, and serves the grading engine to nbgrader.

A hub-managed service (as jupyterhub-idle-culler is: a thin traitlets app over plain parts)
that runs as root when the hub does, and needs no hub scope: it talks to nobody over HTTP.

* **The engine** (:mod:`tremplin_grading.engine`): ``workers`` slots, each a sandbox as its own
  account ``tremplin-sandbox-<n>`` paired with a judge process as ``tremplin-judge``; or, with
  ``engine = "dask"``, workers of a Dask cluster. It is served on the Unix socket
  ``<data>/grading/engine.sock`` to the courses' grader accounts (each for its own course,
  checked by the socket's peer credentials), so the formgrader's *Autograde* button and
  ``nbgrader autograde`` go through the sandbox too.
* **The queue** (:mod:`tremplin_grading.queue`): the exam service queues every paper that counts
  as it arrives; this service claims jobs, has each one recorded by a *recorder* running as the
  course's grader account (:mod:`tremplin_grading.recorder`: nbgrader's autograde into the
  course's gradebook), and completes the job with its score and flags. Killed at any moment,
  it loses nothing: on restart the jobs it held are taken again, and a job already recorded is
  not graded twice.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import pwd
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from traitlets import Float, Int, Unicode, default, validate

from tremplin_grading.courses import Course, load_courses
from tremplin_grading.engine.local import child_preexec
from tremplin_grading.queue import GradingQueue, Job
from tremplin_grading.sandbox import wire

from . import system
from .layout import Layout
from .serviceapp import TremplinServiceApp

log = logging.getLogger("tremplin.grader")
SERVICE_NAME = "tremplin-grader"
SANDBOX_ACCOUNT = "tremplin-sandbox-{}"
JUDGE_ACCOUNT = "tremplin-judge"


class RecorderTemplate:
    """The recorders' warm template (tremplin_grading.recorder, as the service's account): forks recorders."""

    def __init__(self):
        ours, theirs = socket.socketpair()
        env = {"PATH": os.pathsep.join([str(Path(sys.prefix) / "bin"), "/usr/bin", "/bin"]), "LANG": "C.UTF-8",
               "HOME": os.environ.get("HOME", "/tmp")}
        try:
            self.proc = subprocess.Popen(
                [str(Path(sys.prefix) / "bin" / "python"), "-I", "-m", "tremplin_grading.recorder",
                 "--control-fd", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, cwd="/", env=env, preexec_fn=child_preexec())
        finally:
            theirs.close()
        self.control = ours
        self.lock = threading.Lock()
        wire.expect(ours, "ready", 120)

    def spawn(self, course: Course, root: Path, as_root: bool) -> tuple[int, socket.socket]:
        """A new recorder of ``course`` (as its grader account when root): its pid and its channel."""
        msg = {"op": "spawn", "root": str(root), "uid": None, "gid": None, "home": os.environ.get("HOME", "/tmp")}
        if as_root:
            entry = pwd.getpwnam(course.grader_account)
            msg.update(uid=entry.pw_uid, gid=entry.pw_gid, home=entry.pw_dir)
        ours, theirs = socket.socketpair()
        with self.lock:
            wire.send_with_fd(self.control, msg, theirs.fileno())
            theirs.close()
            reply = wire.expect(self.control, "spawned", 30)
        return reply["pid"], ours

    def close(self) -> None:
        self.control.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class RecorderProcess:
    """One recorder of one course, forked from the template as the course's grader account."""

    def __init__(self, template: RecorderTemplate, course: Course, root: Path, as_root: bool):
        self.course, self.root = course, root
        self.pid, self.channel = template.spawn(course, root, as_root)
        wire.expect(self.channel, "ready", 60)
        self.idle_since = time.monotonic()

    @property
    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
            return True
        except OSError:
            return False

    def record(self, job: dict, timeout: float) -> dict:
        wire.send(self.channel, job, timeout=60)
        reply = wire.recv(self.channel, deadline=time.monotonic() + timeout)
        if not isinstance(reply, dict) or not isinstance(reply.get("result"), dict):
            raise wire.WireError("malformed", "the recorder's answer is malformed")
        return reply["result"]

    def close(self) -> None:
        try:
            wire.send(self.channel, {"op": "quit"}, timeout=1)
        except wire.WireError:
            pass
        self.channel.close()  # the recorder exits when its channel closes (the template reaps it)


class RecorderPool:
    """Recorders per course, started on demand (at most ``per_course``), closed when idle."""

    def __init__(self, template: RecorderTemplate, layout: Layout, per_course: int, idle_seconds: float,
                 as_root: bool):
        self.template = template
        self.layout, self.per_course, self.idle_seconds, self.as_root = layout, per_course, idle_seconds, as_root
        self.idle: dict[str, list[RecorderProcess]] = {}
        self.busy: dict[str, int] = {}
        self.changed = asyncio.Condition()

    async def acquire(self, course: Course) -> RecorderProcess:
        async with self.changed:
            while not self.idle.get(course.id) and self.busy.get(course.id, 0) >= self.per_course:
                await self.changed.wait()
            self.busy[course.id] = self.busy.get(course.id, 0) + 1
            if self.idle.get(course.id):
                return self.idle[course.id].pop()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                None, RecorderProcess, self.template, course, self.layout.course_dir(course.id), self.as_root)
        except BaseException:
            async with self.changed:
                self.busy[course.id] -= 1
                self.changed.notify_all()
            raise

    async def release(self, recorder: RecorderProcess, healthy: bool) -> None:
        async with self.changed:
            self.busy[recorder.course.id] -= 1
            if healthy and recorder.alive:
                recorder.idle_since = time.monotonic()
                self.idle.setdefault(recorder.course.id, []).append(recorder)
            else:
                recorder.close()
            self.changed.notify_all()

    async def reap(self) -> None:
        """Close recorders idle for longer than ``idle_seconds`` (a course's papers are all done)."""
        async with self.changed:
            now = time.monotonic()
            for course, recorders in self.idle.items():
                keep = [r for r in recorders if now - r.idle_since < self.idle_seconds]
                for r in recorders:
                    if r not in keep:
                        r.close()
                recorders[:] = keep

    def close(self) -> None:
        for recorders in self.idle.values():
            for r in recorders:
                r.close()
        self.template.close()


class GraderApp(TremplinServiceApp):
    name = SERVICE_NAME
    description = "Tremplin's grading service: papers graded on arrival, in sandboxes, into nbgrader's gradebooks"

    db_url = Unicode(help="SQLAlchemy URL of the grading queue (default: $TREMPLIN_GRADING_DB_URL, else SQLite "
                          "in <data>/grading/queue).").tag(config=True)

    @default("db_url")
    def _db_url(self):
        return Layout(Path(self.data_dir)).grading_db_url

    workers = Int(help="Papers graded at the same time on this machine (default: the number of cores; "
                       "$TREMPLIN_GRADING_WORKERS).").tag(config=True)

    @default("workers")
    def _workers(self):
        return int(os.environ.get("TREMPLIN_GRADING_WORKERS") or os.cpu_count() or 2)

    @validate("workers")
    def _check_workers(self, proposal):
        if not 1 <= proposal.value <= 256:
            raise ValueError(f"workers={proposal.value}: give a number of papers between 1 and 256")
        return proposal.value

    engine = Unicode(help="'local' (worker slots on this machine, the default) or 'dask' (a Dask distributed "
                          "cluster, see dask_scheduler; $TREMPLIN_GRADING_ENGINE).").tag(config=True)

    @default("engine")
    def _engine(self):
        return os.environ.get("TREMPLIN_GRADING_ENGINE", "local")

    @validate("engine")
    def _check_engine(self, proposal):
        if proposal.value not in ("local", "dask"):
            raise ValueError(f"engine={proposal.value!r}: use 'local' or 'dask'")
        return proposal.value

    dask_scheduler = Unicode(help="Address of the Dask scheduler for engine = 'dask', e.g. tcp://10.0.0.5:8786 "
                                  "($TREMPLIN_DASK_SCHEDULER).").tag(config=True)

    @default("dask_scheduler")
    def _dask_scheduler(self):
        return os.environ.get("TREMPLIN_DASK_SCHEDULER", "")

    lease_seconds = Float(60.0, help="Seconds a claimed job stays this service's without renewal; after a crash "
                                     "it is taken again once its lease has run out (default 60).").tag(config=True)
    poll_seconds = Float(1.0, help="Seconds between two looks at the queue when it is empty (default 1).").tag(
        config=True)
    recorders_per_course = Int(help="Recorders one course may have at once (default: twice the workers: a "
                                    "recorder waits for the engine and the disk).").tag(config=True)

    @default("recorders_per_course")
    def _recorders(self):
        return 2 * self.workers

    recorder_idle_seconds = Float(300.0, help="Seconds an idle recorder is kept (default 300).").tag(config=True)
    record_timeout = Float(1800.0, help="Seconds one paper may take to record, engine included (default 1800).").tag(
        config=True)
    slot_memory_mib = Int(3072, help="Memory of one sandbox slot, all its processes together, in MiB, when cgroups "
                                     "are available (default 3072).").tag(config=True)

    aliases = {"data-dir": "GraderApp.data_dir", "courses-dir": "GraderApp.courses_dir",
               "workers": "GraderApp.workers", "engine": "GraderApp.engine", "db-url": "GraderApp.db_url"}

    def start(self):
        asyncio.run(self.serve())

    # ---- set-up ----------------------------------------------------------------------------
    def accounts(self) -> tuple[tuple, tuple | None]:
        """The sandbox slots' and the judge's ``(uid, gid)``, created if needed (root only)."""
        if not system.running_as_root():
            return (), None
        slots = tuple((a.uid, a.gid) for a in (system.ensure_service_account(SANDBOX_ACCOUNT.format(i))
                                               for i in range(self.workers)))
        judge = system.ensure_service_account(JUDGE_ACCOUNT)
        return slots, (judge.uid, judge.gid)

    def build_engine(self):
        from tremplin_grading.engine.local import EngineSettings, LocalEngine

        if self.engine == "dask":
            from tremplin_grading.engine.dask import DaskEngine

            if not self.dask_scheduler:
                raise ValueError("engine = 'dask' needs dask_scheduler (the scheduler's address)")
            return DaskEngine(self.dask_scheduler)
        slots, judge = self.accounts()
        return LocalEngine(EngineSettings(workers=self.workers, sandbox_ids=slots, judge_id=judge,
                                          slot_memory_mib=self.slot_memory_mib))

    def courses(self) -> dict[str, Course]:
        report = load_courses(Path(self.courses_dir))
        for error in report.errors:
            log.error("course not loaded: %s", error)
        return {c.id: c for c in report.courses}

    def authorize(self, courses_of_uid):
        def check(uid: int, course: str) -> bool:
            return uid == 0 or uid == os.getuid() or course in courses_of_uid(uid)
        return check

    # ---- running ---------------------------------------------------------------------------
    async def serve(self):
        logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s")
        for key in [k for k in os.environ if k.startswith(("JUPYTERHUB_", "JPY_"))]:
            del os.environ[key]  # the hub's token for this service: nothing here needs it, nothing inherits it
        from tremplin_grading.engine.service import EngineServer

        layout = Layout(Path(self.data_dir))
        layout.grading_dir.mkdir(mode=0o711, exist_ok=True)
        layout.grading_private.mkdir(mode=0o700, exist_ok=True)
        loop = asyncio.get_running_loop()
        # Listen at once: grading asked for while the slots warm up waits for them instead of failing.
        starting = loop.run_in_executor(None, self.build_engine)
        template = loop.run_in_executor(None, RecorderTemplate)
        courses = self.courses()
        as_root = system.running_as_root()

        def courses_of_uid(uid: int) -> set[str]:
            out = set()
            for course in self.courses_cache.values():
                try:
                    if pwd.getpwnam(course.grader_account).pw_uid == uid:
                        out.add(course.id)
                except KeyError:
                    pass
            return out

        self.courses_cache = courses
        server = EngineServer(starting, str(layout.grading_socket), self.authorize(courses_of_uid))
        await server.start()
        engine = await starting
        queue = GradingQueue(self.db_url)
        owner = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        owner_file = layout.grading_private / "owner"
        if owner_file.exists():
            previous = owner_file.read_text().strip()
            released = await loop.run_in_executor(None, queue.release, previous)
            if released:
                log.info("took back %d job(s) of the previous run (%s)", released, previous)
        owner_file.write_text(owner + "\n")
        pool = RecorderPool(await template, layout, self.recorders_per_course, self.recorder_idle_seconds, as_root)
        log.info("grading service ready: engine %s with %d worker(s), socket %s, queue %s", self.engine,
                 getattr(engine, "capacity", 0), layout.grading_socket, self.db_url.split("@")[-1])
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        consumer = Consumer(queue, pool, owner, self, max(self.recorders_per_course,
                                                          getattr(engine, "capacity", self.workers) + 1))
        tasks = [asyncio.create_task(consumer.run(stop)), asyncio.create_task(consumer.renew_leases(stop))]
        await stop.wait()
        for t in tasks:
            t.cancel()
        await server.close()
        await loop.run_in_executor(None, queue.release, owner)
        pool.close()
        await loop.run_in_executor(None, engine.close)
        queue.close()


class Consumer:
    """Claims jobs while there is room, records each one, completes it."""

    def __init__(self, queue: GradingQueue, pool: RecorderPool, owner: str, app: GraderApp, capacity: int):
        self.queue, self.pool, self.owner, self.app, self.capacity = queue, pool, owner, app, capacity
        self.inflight: dict[int, asyncio.Task] = {}

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        last_reap = time.monotonic()
        while not stop.is_set():
            claimed = False
            while len(self.inflight) < self.capacity:
                job = await loop.run_in_executor(None, self.queue.claim, self.owner, self.app.lease_seconds)
                if job is None:
                    break
                claimed = True
                task = asyncio.create_task(self.process(job))
                self.inflight[job.id] = task
                task.add_done_callback(lambda _t, jid=job.id: self.inflight.pop(jid, None))
            if time.monotonic() - last_reap > 30:
                await self.pool.reap()
                last_reap = time.monotonic()
            if not claimed or len(self.inflight) >= self.capacity:
                waits = list(self.inflight.values())
                if waits:
                    await asyncio.wait(waits, timeout=self.app.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
                else:
                    try:
                        await asyncio.wait_for(stop.wait(), self.app.poll_seconds)
                    except asyncio.TimeoutError:
                        pass

    async def renew_leases(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            await asyncio.sleep(max(1.0, self.app.lease_seconds / 3))
            for job_id in list(self.inflight):
                await loop.run_in_executor(None, self.queue.renew, job_id, self.owner, self.app.lease_seconds)

    async def process(self, job: Job) -> None:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        course = self.app.courses_cache.get(job.course)
        if course is None:
            self.app.courses_cache = await loop.run_in_executor(None, self.app.courses)
            course = self.app.courses_cache.get(job.course)
        if course is None:
            await loop.run_in_executor(None, lambda: self.queue.complete(
                job.id, self.owner, score=None, max_score=None,
                error=f"course {job.course} is not loaded (check its course.toml); regrade once it is"))
            return
        result, healthy = None, False
        recorder = None
        try:
            files = await loop.run_in_executor(None, self.queue.files, job.submission_id)
            request = {"op": "record", "job": job.id, "assignment": job.assignment, "student": job.student,
                       "timestamp": job.timestamp, "question": job.question,
                       "files": {n: base64.b64encode(d).decode() for n, d in files.items()}}
            recorder = await self.pool.acquire(course)
            result = await loop.run_in_executor(None, recorder.record, request, self.app.record_timeout)
            healthy = True
        except Exception as exc:  # noqa: BLE001 (recorded as the job's error; the queue goes on)
            log.exception("job %d (%s/%s of %s) failed", job.id, job.course, job.assignment, job.student)
            result = {"score": None, "max_score": None, "flags": [], "error": f"{type(exc).__name__}: {exc}"}
        finally:
            if recorder is not None:
                await self.pool.release(recorder, healthy)
        kept = await loop.run_in_executor(None, lambda: self.queue.complete(
            job.id, self.owner, score=result.get("score"), max_score=result.get("max_score"),
            flags=result.get("flags") or [], error=result.get("error") or "",
            seconds=round(time.monotonic() - started, 3)))
        log.info("job %d: %s/%s of %s graded: %s/%s%s%s", job.id, job.course, job.assignment, job.student,
                 result.get("score"), result.get("max_score"),
                 f", {len(result['flags'])} flag(s)" if result.get("flags") else "",
                 f", error: {result['error']}" if result.get("error") else "")
        if not kept:
            log.warning("job %d was taken by another worker meanwhile; this result was not kept", job.id)


def main(argv=None):
    GraderApp.launch_instance(argv)


if __name__ == "__main__":
    main()
