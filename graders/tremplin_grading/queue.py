"""The grading queue: every paper to grade, kept in a database until it is graded, exactly once.

The exam service puts each paper that counts into the queue as it arrives (a submission, or
the automatic collection at the deadline), with its files; professors and the command line
add *regrades* (a whole exam, one candidate, one question after a test was fixed). Workers
of the ``tremplin-grader`` service *claim* jobs with a lease, renew it while they work and
*complete* them; a worker that dies (``kill -9``) stops renewing, its lease runs out and the
job is claimed again, from the beginning. A completion is accepted only from the worker that
holds the lease, so a job is recorded once even if two workers ever ran it.

SQLite by default (``<data>/grading/queue.sqlite``), any SQLAlchemy URL otherwise. Claims are
single ``UPDATE … WHERE state = …`` statements, safe with several workers on both.

Job states: ``waiting``, ``running``, ``done``, ``flagged`` (graded, but something cut the paper
short: see its flags), ``error`` (could not be graded; a person must look), ``superseded`` (a
newer submission of the same learner replaced it before it was graded).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import sqlalchemy as sa

UTC = dt.timezone.utc
metadata = sa.MetaData()
STATES = ("waiting", "running", "done", "flagged", "error", "superseded")
#: How many times a job is claimed before it is left in ``error`` (a paper that kills its worker).
MAX_ATTEMPTS = 3


class _UTC(sa.types.TypeDecorator):
    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


submissions = sa.Table(
    "submissions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("course", sa.String(64), nullable=False),
    sa.Column("assignment", sa.String(64), nullable=False),
    sa.Column("student", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.String(64), nullable=False),   # nbgrader's timestamp.txt (the service's time)
    sa.Column("source", sa.String(255), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("received_at", _UTC, nullable=False),
    sa.Index("submissions_by_paper", "course", "assignment", "student", "id"),
)

submission_files = sa.Table(
    "submission_files", metadata,
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False),
    sa.Column("name", sa.String(1024), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.PrimaryKeyConstraint("submission_id", "name"),
)

jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False),
    sa.Column("course", sa.String(64), nullable=False),
    sa.Column("assignment", sa.String(64), nullable=False),
    sa.Column("student", sa.String(255), nullable=False),
    sa.Column("reason", sa.String(16), nullable=False),       # arrival or regrade
    sa.Column("question", sa.String(255), nullable=False, default=""),
    sa.Column("requested_by", sa.String(255), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("owner", sa.String(64), nullable=False, default=""),
    sa.Column("lease_until", _UTC),
    sa.Column("created_at", _UTC, nullable=False),
    sa.Column("started_at", _UTC),
    sa.Column("finished_at", _UTC),
    sa.Column("score", sa.Float),
    sa.Column("max_score", sa.Float),
    sa.Column("flags", sa.Text, nullable=False, default="[]"),
    sa.Column("error", sa.Text, nullable=False, default=""),
    sa.Column("seconds", sa.Float),
    sa.Index("jobs_by_state", "state", "id"),
    sa.Index("jobs_by_exam", "course", "assignment", "state"),
)


@dataclass(frozen=True)
class Job:
    """One grading of one paper."""

    id: int
    submission_id: int
    course: str
    assignment: str
    student: str
    reason: str
    question: str
    requested_by: str
    state: str
    attempts: int
    owner: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    score: float | None
    max_score: float | None
    flags: list
    error: str
    seconds: float | None
    timestamp: str = ""

    @classmethod
    def from_row(cls, row) -> "Job":
        m = row._mapping
        return cls(m["id"], m["submission_id"], m["course"], m["assignment"], m["student"], m["reason"],
                   m["question"], m["requested_by"], m["state"], m["attempts"], m["owner"], m["created_at"],
                   m["started_at"], m["finished_at"], m["score"], m["max_score"], json.loads(m["flags"] or "[]"),
                   m["error"], m["seconds"], m.get("timestamp", "") or "")


@dataclass(frozen=True)
class Progress:
    """Counts by state for one exam (or all), and an estimate of the time left."""

    counts: dict
    eta_seconds: float | None
    seconds_per_paper: float | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        return sum(self.counts.get(s, 0) for s in ("done", "flagged", "error", "superseded"))

    @property
    def pending(self) -> int:
        return self.counts.get("waiting", 0) + self.counts.get("running", 0)


def files_digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


class GradingQueue:
    """The queue over a database (see the module docstring). ``now`` is injectable for tests."""

    def __init__(self, url: str, now=_now):
        kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
        self.engine = sa.create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            @sa.event.listens_for(self.engine, "connect")
            def _wal(conn, _record):  # readers never wait for the writer
                conn.execute("PRAGMA journal_mode=WAL")
        metadata.create_all(self.engine)
        self.now = now

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "GradingQueue":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- putting papers in -----------------------------------------------------------------
    def enqueue(self, course: str, assignment: str, student: str, files: dict[str, bytes], *, timestamp: str,
                source: str, kind: str = "submission", requested_by: str = "tremplin-exam") -> int | None:
        """Keep a paper and its files and queue its grading; None if ``source`` was queued already."""
        now = self.now()
        with self.engine.begin() as conn:
            if conn.execute(sa.select(submissions.c.id).where(submissions.c.source == source)).first():
                return None
            try:
                sub_id = conn.execute(submissions.insert().values(
                    course=course, assignment=assignment, student=student, timestamp=timestamp, source=source,
                    kind=kind, digest=files_digest(files), received_at=now)).inserted_primary_key[0]
            except sa.exc.IntegrityError:  # the same record raced in twice
                return None
            if files:
                conn.execute(submission_files.insert(), [{"submission_id": sub_id, "name": n, "data": d}
                                                         for n, d in files.items()])
            return conn.execute(jobs.insert().values(
                submission_id=sub_id, course=course, assignment=assignment, student=student, reason="arrival",
                question="", requested_by=requested_by, state="waiting", attempts=0, owner="", created_at=now,
                flags="[]", error="")).inserted_primary_key[0]

    def regrade(self, course: str, assignment: str, *, student: str | None = None, question: str = "",
                requested_by: str) -> list[int]:
        """Queue a new grading of the latest paper of each student (or of one), for all questions or one."""
        now = self.now()
        latest = (sa.select(sa.func.max(submissions.c.id).label("id"))
                  .where(submissions.c.course == course, submissions.c.assignment == assignment)
                  .group_by(submissions.c.student))
        if student is not None:
            latest = latest.where(submissions.c.student == student)
        created = []
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(submissions).where(submissions.c.id.in_(latest)).order_by(
                submissions.c.student)).all()
            for row in rows:
                already = conn.execute(sa.select(jobs.c.id).where(
                    jobs.c.submission_id == row.id, jobs.c.question == question,
                    jobs.c.state.in_(("waiting",)))).first()
                if already:
                    continue
                created.append(conn.execute(jobs.insert().values(
                    submission_id=row.id, course=course, assignment=assignment, student=row.student,
                    reason="regrade", question=question, requested_by=requested_by, state="waiting", attempts=0,
                    owner="", created_at=now, flags="[]", error="")).inserted_primary_key[0])
        return created

    # ---- workers -----------------------------------------------------------------------------
    def claim(self, owner: str, lease_seconds: float = 60.0) -> Job | None:
        """Take the oldest waiting job (or one whose lease ran out); None when there is none."""
        now = self.now()
        claimable = sa.or_(jobs.c.state == "waiting", sa.and_(jobs.c.state == "running", jobs.c.lease_until < now))
        for _ in range(20):
            with self.engine.begin() as conn:
                row = conn.execute(sa.select(jobs.c.id, jobs.c.state, jobs.c.attempts).where(claimable)
                                   .order_by(jobs.c.id).limit(1)).first()
                if row is None:
                    return None
                if row.attempts >= MAX_ATTEMPTS:
                    conn.execute(jobs.update().where(jobs.c.id == row.id, claimable).values(
                        state="error", finished_at=now, owner="",
                        error=f"grading stopped {row.attempts} times without finishing (a paper that crashes its "
                              "worker?); a grader must check it"))
                    continue
                taken = conn.execute(jobs.update().where(jobs.c.id == row.id, claimable).values(
                    state="running", owner=owner, attempts=jobs.c.attempts + 1, started_at=now,
                    lease_until=now + dt.timedelta(seconds=lease_seconds))).rowcount
            if taken == 1:
                job = self.job(row.id)
                newer = self._newer_submission(job)
                if newer:
                    self._finish(job.id, owner, state="superseded", error=f"submission {newer} replaced it")
                    continue
                return job
        return None

    def _newer_submission(self, job: Job) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(submissions.c.id).where(
                submissions.c.course == job.course, submissions.c.assignment == job.assignment,
                submissions.c.student == job.student, submissions.c.id > job.submission_id)
                .order_by(submissions.c.id.desc()).limit(1)).scalar()

    def renew(self, job_id: int, owner: str, lease_seconds: float = 60.0) -> bool:
        """Extend the lease of a job this owner holds; False if it lost it."""
        with self.engine.begin() as conn:
            return conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.owner == owner,
                                                    jobs.c.state == "running").values(
                lease_until=self.now() + dt.timedelta(seconds=lease_seconds))).rowcount == 1

    def complete(self, job_id: int, owner: str, *, score: float | None, max_score: float | None,
                 flags: list | None = None, error: str = "", seconds: float | None = None) -> bool:
        """Record the outcome; only the lease holder's is kept (returns whether it was)."""
        state = "error" if error else ("flagged" if flags else "done")
        return self._finish(job_id, owner, state=state, score=score, max_score=max_score, flags=flags or [],
                            error=error, seconds=seconds)

    def _finish(self, job_id, owner, *, state, score=None, max_score=None, flags=(), error="", seconds=None) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.owner == owner,
                                                    jobs.c.state == "running").values(
                state=state, score=score, max_score=max_score, flags=json.dumps(list(flags), ensure_ascii=False),
                error=error[:5000], seconds=seconds, finished_at=self.now(), lease_until=None)).rowcount == 1

    def release(self, owner: str) -> int:
        """Give back every job ``owner`` holds (a worker shutting down cleanly)."""
        with self.engine.begin() as conn:
            return conn.execute(jobs.update().where(jobs.c.owner == owner, jobs.c.state == "running").values(
                state="waiting", owner="", lease_until=None)).rowcount

    # ---- reading -------------------------------------------------------------------------------
    def job(self, job_id: int) -> Job:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(jobs, submissions.c.timestamp).join(
                submissions, submissions.c.id == jobs.c.submission_id).where(jobs.c.id == job_id)).first()
        if row is None:
            raise KeyError(f"no grading job {job_id}")
        return Job.from_row(row)

    def files(self, submission_id: int) -> dict[str, bytes]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(submission_files.c.name, submission_files.c.data).where(
                submission_files.c.submission_id == submission_id))
            return {r.name: bytes(r.data) for r in rows}

    def jobs(self, course: str | None = None, assignment: str | None = None, *, states: tuple = (),
             student: str | None = None, limit: int = 100, offset: int = 0) -> list[Job]:
        q = sa.select(jobs, submissions.c.timestamp).join(submissions, submissions.c.id == jobs.c.submission_id)
        if course is not None:
            q = q.where(jobs.c.course == course)
        if assignment is not None:
            q = q.where(jobs.c.assignment == assignment)
        if states:
            q = q.where(jobs.c.state.in_(states))
        if student:
            q = q.where(jobs.c.student == student)
        with self.engine.connect() as conn:
            return [Job.from_row(r) for r in conn.execute(q.order_by(jobs.c.id.desc()).limit(limit).offset(offset))]

    def students(self, course: str, assignment: str) -> list[str]:
        """Everyone with a paper of the exam in the queue, sorted."""
        q = sa.select(jobs.c.student).distinct().where(jobs.c.course == course, jobs.c.assignment == assignment)
        with self.engine.connect() as conn:
            return sorted(conn.execute(q).scalars())

    def progress(self, course: str | None = None, assignment: str | None = None, *, since: int = 0,
                 workers: int = 1) -> Progress:
        """Counts by state (of jobs with id > ``since``) and the time left at the recent pace."""
        where = [jobs.c.id > since]
        if course is not None:
            where.append(jobs.c.course == course)
        if assignment is not None:
            where.append(jobs.c.assignment == assignment)
        with self.engine.connect() as conn:
            counts = {s: 0 for s in STATES}
            counts.update({r.state: r.n for r in conn.execute(
                sa.select(jobs.c.state, sa.func.count().label("n")).where(*where).group_by(jobs.c.state))})
            recent = conn.execute(sa.select(jobs.c.started_at, jobs.c.finished_at).where(
                *where, jobs.c.finished_at.is_not(None), jobs.c.started_at.is_not(None))
                .order_by(jobs.c.finished_at.desc()).limit(50)).all()
        pace = None
        if len(recent) >= 2:
            span = (recent[0].finished_at - min(r.started_at for r in recent)).total_seconds()
            pace = max(span, 0.001) / len(recent)  # seconds per paper at the observed throughput
        elif recent:
            pace = max((recent[0].finished_at - recent[0].started_at).total_seconds(), 0.001) / max(1, workers)
        pending = counts["waiting"] + counts["running"]
        return Progress(counts, pending * pace if pace is not None else None, pace)

    def last_id(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(jobs.c.id))).scalar() or 0
