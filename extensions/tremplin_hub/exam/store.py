"""The exam service's storage: a SQLAlchemy database plus files that are never overwritten.

Everything the exchange receives is kept: each release version, each candidate's fetched
copy, every autosave (snapshot), submission and automatic collection, every feedback
file. Files are written into a private temporary folder, flushed to disk, then renamed
into a fresh folder whose name no other record uses; the database row that points to
them is committed last, and only then does the service answer. A crash can leave an
orphan folder, never a row without its files, and never a changed file.

The database (SQLite by default, any SQLAlchemy URL such as ``postgresql+psycopg://...``)
holds releases, exam session settings, accommodations, attempts, the receipts of the
chained records, feedback, and the audit log. The audit log is append-only: rows are
only ever inserted, each chained to the previous one of its exam by SHA-256.
Its tables change only through the Alembic revisions in :mod:`.migrations`, run when a store opens.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import sqlalchemy as sa

from tremplin_grading.paths import is_plain_relative
from tremplin_grading.queue import files_digest

from . import receipts
from .errors import Broken, Gone, Invalid, NotFound, Unavailable

log = logging.getLogger("tremplin.exam.store")

UTC = dt.timezone.utc
metadata = sa.MetaData()


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite keeps no time zone)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the exam service stores aware UTC times only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


def _utc_time(value: str | dt.datetime) -> dt.datetime:
    """A stored time as :class:`UTCDateTime` gives it, from the database's own value (SQLite: text)."""
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value + "+00:00")
    return value.replace(tzinfo=UTC)


def _id():
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


releases = sa.Table(
    "releases", metadata, _id(),
    sa.Column("course", sa.String(64), nullable=False),
    sa.Column("assignment", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("released_at", UTCDateTime, nullable=False),
    sa.Column("released_by", sa.String(255), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("folder", sa.String(1024), nullable=False),
    sa.UniqueConstraint("course", "assignment", "version"),
)

sessions = sa.Table(
    "sessions", metadata, _id(),
    sa.Column("course", sa.String(64), nullable=False),
    sa.Column("assignment", sa.String(64), nullable=False),
    sa.Column("opens", UTCDateTime, nullable=False),
    sa.Column("closes", UTCDateTime, nullable=False),
    sa.Column("duration_s", sa.Float, nullable=False),
    sa.Column("grace_s", sa.Float, nullable=False),
    sa.Column("set_by", sa.String(255), nullable=False),
    sa.Column("set_at", UTCDateTime, nullable=False),
)

accommodations = sa.Table(
    "accommodations", metadata, _id(),
    sa.Column("course", sa.String(64), nullable=False),
    sa.Column("assignment", sa.String(64), nullable=False),
    sa.Column("target_kind", sa.String(8), nullable=False),  # "user" or "group"
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("extra_minutes", sa.Float, nullable=False, default=0),
    sa.Column("time_factor", sa.Float, nullable=False, default=1),
    sa.Column("opens", UTCDateTime),
    sa.Column("closes", UTCDateTime),
    sa.Column("granted_by", sa.String(255), nullable=False),
    sa.Column("granted_at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Index("accommodations_by_exam", "course", "assignment", "id"),
)

attempts = sa.Table(
    "attempts", metadata, _id(),
    sa.Column("course", sa.String(64), nullable=False),
    sa.Column("assignment", sa.String(64), nullable=False),
    sa.Column("user", sa.String(255), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("release_version", sa.Integer, nullable=False),
    sa.Column("variant", sa.String(64), nullable=False, default=""),
    sa.Column("folder", sa.String(1024), nullable=False),
    sa.Column("last_ip", sa.String(64), nullable=False, default=""),
    sa.UniqueConstraint("course", "assignment", "user"),
)

records = sa.Table(
    "records", metadata, _id(),
    sa.Column("course", sa.String(64), nullable=False),
    sa.Column("assignment", sa.String(64), nullable=False),
    sa.Column("user", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # snapshot, submission, collection
    sa.Column("server_time", UTCDateTime, nullable=False),
    sa.Column("folder", sa.String(1024), nullable=False),
    sa.Column("receipt", sa.Text, nullable=False),
    sa.Column("chain", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, default=""),  # on_time, in_grace, late ("" for snapshots)
    sa.Column("seconds_late", sa.Integer, nullable=False, default=0),
    sa.Column("claimed_time", sa.String(64), nullable=False, default=""),
    sa.Column("ip", sa.String(64), nullable=False, default=""),
    sa.Index("records_by_candidate", "course", "assignment", "user", "id"),
    # the hand-ins of an exam (finals, exports) without reading its autosaves: a few per cent of its rows
    sa.Index("records_by_kind", "course", "assignment", "kind", "user", "id"),
)

feedback = sa.Table(
    "feedback", metadata, _id(),
    sa.Column("course", sa.String(64), nullable=False),
    sa.Column("assignment", sa.String(64), nullable=False),
    sa.Column("user", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.String(64), nullable=False),  # of the submission it grades
    sa.Column("released_at", UTCDateTime, nullable=False),
    sa.Column("released_by", sa.String(255), nullable=False),
    sa.Column("folder", sa.String(1024), nullable=False),
)

audit = sa.Table(
    "audit", metadata, _id(),
    sa.Column("course", sa.String(64), nullable=False),
    sa.Column("assignment", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("candidate", sa.String(255), nullable=False, default=""),
    sa.Column("ip", sa.String(64), nullable=False, default=""),
    sa.Column("detail", sa.Text, nullable=False, default="{}"),
    sa.Column("previous", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("audit_by_exam", "course", "assignment", "id"),
)


#: The exam service's signatures of each exam's audit chain head, at intervals (:mod:`.heads`).
heads = sa.Table(
    "heads", metadata, _id(),
    sa.Column("course", sa.String(64), nullable=False),
    sa.Column("assignment", sa.String(64), nullable=False),
    sa.Column("entries", sa.Integer, nullable=False),
    sa.Column("audit_hash", sa.String(64), nullable=False),
    sa.Column("signed_at", UTCDateTime, nullable=False),
    sa.Column("key", sa.String(80), nullable=False),
    sa.Column("signature", sa.String(100), nullable=False),
    sa.Index("heads_by_exam", "course", "assignment", "id"),
)


#: A hub user name as it may appear in a URL and a folder name (JupyterHub lower-cases names).
USER_NAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,63}")
#: One component of a stored folder's path: course, assignment, user or kind.
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")


def check_user(name: str) -> str:
    """A user name from the wire, after URL decoding: a hub account name, or a 400 that names it."""
    if not isinstance(name, str) or not USER_NAME.fullmatch(name):
        raise Invalid(f"user name {name!r} is not a hub account name (lower-case letters, digits and . _ @ + -, "
                              "starting with a letter or digit, at most 64); check the URL")
    return name


def check_relative(name: str) -> str:
    """A file name sent by a client, as a safe relative POSIX path (no '..', no absolute path)."""
    if not is_plain_relative(name) or "\\" in name:
        raise Invalid(f"file name {name!r} is not a plain relative path; send names such as "
                              "'exam.ipynb' or 'data/table.csv'")
    return str(PurePosixPath(name))


@dataclass(frozen=True)
class Record:
    id: int
    course: str
    assignment: str
    user: str
    kind: str
    server_time: dt.datetime
    folder: str
    receipt: receipts.Receipt
    state: str
    seconds_late: int
    claimed_time: str
    ip: str


@dataclass(frozen=True)
class HandIn:
    """A candidate's hand-in that counts (see :meth:`Store.final`), as results and exports need it:
    without its folder and receipt, only the receipt's ``chain`` hash."""

    id: int
    user: str
    kind: str
    server_time: dt.datetime
    state: str
    seconds_late: int
    chain: str


def _record(row) -> Record:
    return Record(row.id, row.course, row.assignment, row.user, row.kind, row.server_time, row.folder,
                  receipts.Receipt.from_json(row.receipt), row.state, row.seconds_late, row.claimed_time, row.ip)


class Store:
    """Database and files of the exam service.

    Args:
        url: SQLAlchemy URL of the database.
        files_root: folder of the stored files (private to the service's account).
        reserve_bytes: disk space the service keeps for itself beside ``files_root`` (a file it gives
            back to itself when a write finds the disk full: learners' homes may share the disk).
    """

    def __init__(self, url: str, files_root: Path, reserve_bytes: int = 0):
        self.files_root = Path(files_root)
        self.files_root.mkdir(parents=True, exist_ok=True)
        self.reserve_bytes = reserve_bytes
        self.reserve_file = self.files_root.parent / "disk-reserve.bin"
        kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
        self.engine = sa.create_engine(url, **kwargs)
        from .migrations import upgrade  # (the tables change only through migrations)

        upgrade(self.engine)
        self._audit_lock = threading.Lock()

    def close(self) -> None:
        self.engine.dispose()

    # ---- disk space -------------------------------------------------------------------------
    def keep_reserve(self) -> None:
        """Make the reserve file ``reserve_bytes`` long, space allowing (the service calls this at start and
        after each collection pass, so the reserve comes back once an administrator has freed the disk)."""
        if not self.reserve_bytes:
            return
        have = self.reserve_file.stat().st_size if self.reserve_file.exists() else 0
        if have >= self.reserve_bytes:
            return
        if shutil.disk_usage(self.files_root).free < 2 * (self.reserve_bytes - have):
            return  # (the disk is nearly full: keep what is left for the candidates' saves)
        fd = os.open(self.reserve_file, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            os.posix_fallocate(fd, 0, self.reserve_bytes)
        except OSError as exc:
            log.warning("the exam service's disk reserve (%s) could not be made: %s", self.reserve_file, exc)
        finally:
            os.close(fd)

    def _give_back_reserve(self) -> bool:
        try:
            size = self.reserve_file.stat().st_size
            self.reserve_file.unlink()
        except FileNotFoundError:
            return False
        log.error("the disk of %s is full: the exam service used its %d MB reserve to keep saving candidates' work. "
                  "Free space now (learners' homes should have their own volume: README, Limits)",
                  self.files_root, size // 2**20)
        return size > 0

    def _with_space(self, write):
        """``write()``, once more after giving the reserve back if the disk was full."""
        for attempt in (1, 2):
            try:
                return write()
            except (OSError, sa.exc.OperationalError) as exc:
                full = getattr(exc, "errno", None) == errno.ENOSPC or "disk is full" in str(exc) \
                    or "No space left" in str(exc)
                if not full:
                    raise
                if attempt == 1 and self._give_back_reserve():
                    continue
                raise Unavailable(f"the exam service's disk is full ({self.files_root}); nothing was kept this "
                                  "time: your work is safe on your server and is sent again in a moment; "
                                  "administrators: free space now",
                                  fr="le disque du service d'examen est plein ; rien n'a été enregistré cette fois : "
                                     "votre travail est en sécurité sur votre serveur et sera renvoyé dans un "
                                     "instant") from None

    # ---- files ----------------------------------------------------------------------------
    def write_folder(self, parts: list[str], files: dict[str, bytes]) -> str:
        return self._with_space(lambda: self._write_folder(parts, files))

    def _write_folder(self, parts: list[str], files: dict[str, bytes]) -> str:
        """Write ``files`` into a new folder under ``files_root/parts...``; return its relative path.

        The folder name carries a random suffix: two records never share one, and an
        existing folder is never written into.
        """
        for part in parts:
            if not _SEGMENT.fullmatch(part):
                raise Invalid(f"{part!r} cannot name a stored folder (from {'/'.join(map(repr, parts))}); "
                                      "ids and user names are letters, digits and . _ @ + -")
        parent = self.files_root.joinpath(*parts[:-1])
        parent.mkdir(parents=True, exist_ok=True)
        final = parent / f"{parts[-1]}-{secrets.token_hex(4)}"
        tmp = parent / f".incoming-{secrets.token_hex(8)}"
        tmp.mkdir(mode=0o700)
        try:
            for name, data in files.items():
                target = tmp / check_relative(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "xb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            if final.exists():  # (random names: practically impossible, but never overwrite)
                raise Broken(f"{final} exists already; nothing was overwritten, retry")
            os.rename(tmp, final)
            dir_fd = os.open(parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return str(final.relative_to(self.files_root))

    def read_folder(self, folder: str) -> dict[str, bytes]:
        root = self.files_root / folder
        if not root.is_dir():
            raise Gone(f"the files of {folder} are no longer kept (older autosaves and resubmissions are "
                                  "thinned: the latest ones are kept); its receipt remains")
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    def folder_bytes(self, folder: str) -> int | None:
        """The size of a stored folder's files, or None once thinned."""
        root = self.files_root / folder
        if not root.is_dir():
            return None
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())

    def thin(self, course, assignment, user, kind: str, keep: int, quota_bytes: int, now: dt.datetime,
             slack: int = 10) -> list[int]:
        """Remove the files of ``user``'s older ``kind`` records beyond the latest ``keep`` or ``quota_bytes``.

        The latest record's files are always kept; receipts stay; the removal is an audit event
        (``thinned``, with the records' ids), so a verification knows these folders went on purpose.
        To keep saves cheap, the count is brought down only once it is ``slack`` over ``keep``.
        Returns the ids of the records thinned.
        """
        kept = [(r, size) for r in self.records(course, assignment, user, (kind,))
                if (size := self.folder_bytes(r.folder)) is not None]
        total = sum(size for _, size in kept)
        if len(kept) <= keep + slack and total <= quota_bytes:
            return []
        drop = []
        while len(kept) > 1 and (len(kept) > keep or total > quota_bytes):
            record, size = kept.pop(0)
            drop.append(record)
            total -= size
        for record in drop:
            shutil.rmtree(self.files_root / record.folder)
        ids = [r.id for r in drop]
        self.log_event(course, assignment, "tremplin-exam", "thinned", now, candidate=user,
                       detail={"kind": kind, "records": ids, "kept": len(kept), "bytes_kept": total})
        return ids

    # ---- releases -------------------------------------------------------------------------
    def release(self, course: str, assignment: str, files: dict[str, bytes], by: str, now: dt.datetime,
                only_if_new: bool = False) -> dict:
        """Store a new release version; with ``only_if_new``, do nothing when one exists already."""
        if not files:
            raise Invalid(f"release of {course}/{assignment} has no file; generate the assignment first")
        digest = files_digest(files)
        latest = self.latest_release(course, assignment)
        if latest and (only_if_new or latest["digest"] == digest):
            return {**latest, "new": False}
        version = (latest["version"] + 1) if latest else 1
        folder = self.write_folder([course, assignment, "release", f"v{version}"], files)
        with self.engine.begin() as conn:
            conn.execute(releases.insert().values(course=course, assignment=assignment, version=version,
                                                  released_at=now, released_by=by, digest=digest, folder=folder))
        self.log_event(course, assignment, by, "release", now, detail={"version": version, "digest": digest})
        return {"version": version, "digest": digest, "folder": folder, "released_at": now, "new": True}

    def latest_release(self, course: str, assignment: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(releases).where(releases.c.course == course,
                                                         releases.c.assignment == assignment)
                               .order_by(releases.c.version.desc()).limit(1)).first()
        return dict(row._mapping) if row else None

    def released_assignments(self, course: str) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(releases.c.assignment).where(releases.c.course == course).distinct())
            return sorted(r.assignment for r in rows)

    # ---- sessions and accommodations ------------------------------------------------------
    def set_session(self, course, assignment, opens, closes, duration_s, grace_s, by, now) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.insert().values(course=course, assignment=assignment, opens=opens, closes=closes,
                                                  duration_s=duration_s, grace_s=grace_s, set_by=by, set_at=now))
        self.log_event(course, assignment, by, "session", now, detail={
            "opens": opens.isoformat(), "closes": closes.isoformat(), "duration_s": duration_s, "grace_s": grace_s})

    def session_windows(self) -> dict[tuple[str, str], tuple[dt.datetime, dt.datetime]]:
        """The window of every exam whose session a coordinator set (the latest setting), in one query."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(sessions.c.course, sessions.c.assignment, sessions.c.opens, sessions.c.closes)
                                .order_by(sessions.c.id))
            return {(r.course, r.assignment): (r.opens, r.closes) for r in rows}

    def session(self, course: str, assignment: str) -> dict | None:
        """The latest session settings a coordinator saved (None: the course.toml defaults)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sessions).where(sessions.c.course == course,
                                                         sessions.c.assignment == assignment)
                               .order_by(sessions.c.id.desc()).limit(1)).first()
        return dict(row._mapping) if row else None

    def grant(self, course, assignment, target_kind, target, *, extra_minutes=0.0, time_factor=1.0,
              opens=None, closes=None, by, reason="", now) -> None:
        if target_kind not in ("user", "group"):
            raise Invalid(f"accommodation target kind {target_kind!r}: use 'user' or 'group'")
        with self.engine.begin() as conn:
            conn.execute(accommodations.insert().values(
                course=course, assignment=assignment, target_kind=target_kind, target=target,
                extra_minutes=extra_minutes, time_factor=time_factor, opens=opens, closes=closes,
                granted_by=by, granted_at=now, reason=reason))
        self.log_event(course, assignment, by, "accommodation", now, candidate=target if target_kind == "user" else "",
                       detail={"target_kind": target_kind, "target": target, "extra_minutes": extra_minutes,
                               "time_factor": time_factor, "reason": reason,
                               "opens": opens.isoformat() if opens else None,
                               "closes": closes.isoformat() if closes else None})

    def accommodations(self, course: str, assignment: str) -> list[dict]:
        """Every accommodation granted, oldest first (the latest per target is the one in force)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(accommodations).where(accommodations.c.course == course,
                                                                accommodations.c.assignment == assignment)
                                .order_by(accommodations.c.id))
            return [dict(r._mapping) for r in rows]

    # ---- attempts -------------------------------------------------------------------------
    def attempt(self, course: str, assignment: str, user: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(attempts).where(attempts.c.course == course,
                                                         attempts.c.assignment == assignment,
                                                         attempts.c.user == user)).first()
        return dict(row._mapping) if row else None

    def attempts(self, course: str, assignment: str | None = None) -> list[dict]:
        q = sa.select(attempts).where(attempts.c.course == course)
        if assignment:
            q = q.where(attempts.c.assignment == assignment)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q.order_by(attempts.c.id))]

    def open_attempts(self) -> list[dict]:
        """Attempts not handed in yet (no submission, no collection): all that collection needs to look at."""
        handed_in = sa.select(records.c.id).where(
            records.c.course == attempts.c.course, records.c.assignment == attempts.c.assignment,
            records.c.user == attempts.c.user, records.c.kind.in_(("submission", "collection"))).exists()
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(attempts).where(~handed_in))]

    def start_attempt(self, course, assignment, user, files: dict[str, bytes], *, release_version: int,
                      variant: str, now: dt.datetime, ip: str) -> dict:
        """Record the fetch (the start of the candidate's time) and keep the copy handed out."""
        existing = self.attempt(course, assignment, user)
        if existing:
            return existing
        folder = self.write_folder([course, assignment, "users", user, "fetched"], files)
        try:
            with self.engine.begin() as conn:
                conn.execute(attempts.insert().values(course=course, assignment=assignment, user=user,
                                                      started_at=now, release_version=release_version,
                                                      variant=variant, folder=folder, last_ip=ip))
        except sa.exc.IntegrityError:  # a second fetch raced the first: keep the first
            return self.attempt(course, assignment, user)
        self.log_event(course, assignment, user, "fetch", now, candidate=user, ip=ip,
                       detail={"release_version": release_version, "variant": variant})
        return self.attempt(course, assignment, user)

    def note_ip(self, course, assignment, user, ip: str, now: dt.datetime) -> None:
        """Record an IP address change of a candidate during an attempt (audit log)."""
        if not ip:
            return
        attempt = self.attempt(course, assignment, user)
        if attempt is None or attempt["last_ip"] == ip:
            return
        with self.engine.begin() as conn:
            conn.execute(attempts.update().where(attempts.c.id == attempt["id"]).values(last_ip=ip))
        self.log_event(course, assignment, user, "ip_change", now, candidate=user, ip=ip,
                       detail={"previous": attempt["last_ip"], "new": ip})

    # ---- chained records: snapshots, submissions, collections -----------------------------
    def add_record(self, course, assignment, user, kind: str, files: dict[str, bytes], *, now: dt.datetime,
                   state: str = "", seconds_late: int = 0, claimed_time: str = "", ip: str = "",
                   actor: str | None = None) -> Record:
        """Keep ``files`` as a new record of ``user``, with its receipt chained to their previous one."""
        previous = self.last_record(course, assignment, user)
        receipt = receipts.issue(f"{course}/{assignment}", user, kind, now, files,
                                 previous.receipt if previous else None)
        stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
        folder = self.write_folder([course, assignment, "users", user, f"{stamp}-{kind}"], files)
        def insert() -> int:
            with self.engine.begin() as conn:
                # (one service process, and ExamService serves one request of a candidate at a time)
                return conn.execute(records.insert().values(
                    course=course, assignment=assignment, user=user, kind=kind, server_time=now, folder=folder,
                    receipt=receipt.to_json(), chain=receipt.chain, state=state, seconds_late=seconds_late,
                    claimed_time=claimed_time[:64], ip=ip)).inserted_primary_key[0]

        new_id = self._with_space(insert)
        detail = {"record": new_id, "chain": receipt.chain, "files": receipt.files}
        if state:
            detail.update(state=state, seconds_late=seconds_late)
        if claimed_time:
            detail["claimed_time_ignored"] = claimed_time[:64]
        self._with_space(lambda: self.log_event(course, assignment, actor or user, kind, now, candidate=user, ip=ip,
                                                detail=detail))
        return self.record(new_id)

    def record(self, record_id: int) -> Record:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(records).where(records.c.id == record_id)).first()
        if row is None:
            raise NotFound(f"no record {record_id}; list the submissions to get their ids")
        return _record(row)

    def records(self, course: str, assignment: str, user: str | None = None,
                kinds: tuple[str, ...] | None = None, *, newest_first: bool = False,
                limit: int | None = None) -> list[Record]:
        q = sa.select(records).where(records.c.course == course, records.c.assignment == assignment)
        if user is not None:
            q = q.where(records.c.user == user)
        if kinds:
            q = q.where(records.c.kind.in_(kinds))
        q = q.order_by(records.c.id.desc() if newest_first else records.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(q)]

    def last_record(self, course, assignment, user, kinds: tuple[str, ...] | None = None) -> Record | None:
        # (one row from the database: a two-hour exam holds over a hundred autosaves per candidate)
        found = self.records(course, assignment, user, kinds, newest_first=True, limit=1)
        return found[0] if found else None

    def finals(self, course: str, assignment: str) -> dict[str, Record]:
        """:meth:`final` of every candidate of an exam, in one query."""
        out: dict[str, Record] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(sa.select(records).where(records.c.id.in_(self._first_hand_ins(course,
                                                                                                  assignment)))
                                    .order_by(records.c.id)):
                out.setdefault(row.user, row)
        return {user: _record(row) for user, row in out.items()}

    def outcomes(self, course: str, assignment: str) -> list[tuple[str, dt.datetime, str, HandIn | None]]:
        """``(user, started_at, variant, hand-in that counts or None)`` of every attempt of an exam, oldest
        first, in one query whatever the number of candidates: what results and exports need of
        :meth:`attempts` and :meth:`finals` (no folder, no parsed receipt).

        The two times are read as the database gives them and made aware here, in one step (SQLite's
        text by ``fromisoformat``, PostgreSQL's naive times by ``replace``): a third of this read's time
        for an export of 10,000 candidates went to the column type's conversions.
        """
        first = self._first_hand_ins(course, assignment).add_columns(records.c.user).subquery()
        final = sa.select(first.c.user, sa.func.min(first.c.id).label("id")).group_by(first.c.user).subquery()
        q = (sa.select(attempts.c.user, sa.type_coerce(attempts.c.started_at, sa.String), attempts.c.variant,
                       records.c.id, records.c.kind, sa.type_coerce(records.c.server_time, sa.String), records.c.state,
                       records.c.seconds_late, records.c.chain)
             .select_from(attempts.outerjoin(final, final.c.user == attempts.c.user)
                          .outerjoin(records, records.c.id == final.c.id))
             .where(attempts.c.course == course, attempts.c.assignment == assignment).order_by(attempts.c.id))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [(user, _utc_time(started), variant,
                 None if rid is None else HandIn(rid, user, kind, _utc_time(at), state, late, chain))
                for user, started, variant, rid, kind, at, state, late, chain in rows]

    def activity(self, course: str, assignment: str) -> dict[str, dict]:
        """Per candidate who started an exam: their last IP, autosaves (how many, the last one's time) and the
        longest lateness of their hand-ins, in three queries whatever the number of candidates (the
        autosaves are counted from ``records_by_kind``'s entries, not from their rows)."""
        out: dict[str, dict] = {}
        exam = (records.c.course == course, records.c.assignment == assignment)
        snaps = (sa.select(records.c.user, sa.func.count().label("n"), sa.func.max(records.c.id).label("last"))
                 .where(*exam, records.c.kind == "snapshot").group_by(records.c.user).subquery())
        with self.engine.connect() as conn:
            for user, ip in conn.execute(sa.select(attempts.c.user, attempts.c.last_ip).where(
                    attempts.c.course == course, attempts.c.assignment == assignment)):
                out[user] = {"ip": ip, "snapshots": 0, "last_snapshot": None, "seconds_late": None}
            for user, n, at in conn.execute(sa.select(snaps.c.user, snaps.c.n, records.c.server_time)
                                            .select_from(snaps.join(records, records.c.id == snaps.c.last))):
                if user in out:
                    out[user].update(snapshots=n, last_snapshot=at)
            for user, late in conn.execute(sa.select(records.c.user, sa.func.max(records.c.seconds_late))
                                           .where(*exam, records.c.kind.in_(("submission", "collection")),
                                                  records.c.state == "late").group_by(records.c.user)):
                if user in out:
                    out[user]["seconds_late"] = late
        return out

    @staticmethod
    def _first_hand_ins(course: str, assignment: str):
        # The first of each kind per candidate, from records_by_kind's entries alone (not the rows of
        # the autosaves around them); the caller keeps the first of a candidate's two.
        return (sa.select(sa.func.min(records.c.id).label("id"))
                .where(records.c.course == course, records.c.assignment == assignment,
                       records.c.kind.in_(("submission", "collection")))
                .group_by(records.c.kind, records.c.user))

    def final(self, course: str, assignment: str, user: str) -> Record | None:
        """The record that counts for grading: the first submission or collection."""
        found = self.records(course, assignment, user, ("submission", "collection"), limit=1)
        return found[0] if found else None

    # ---- feedback -------------------------------------------------------------------------
    def add_feedback(self, course, assignment, user, timestamp: str, files: dict[str, bytes], by: str,
                     now: dt.datetime) -> None:
        folder = self.write_folder([course, assignment, "users", user, "feedback"], files)
        with self.engine.begin() as conn:
            conn.execute(feedback.insert().values(course=course, assignment=assignment, user=user,
                                                  timestamp=timestamp, released_at=now, released_by=by,
                                                  folder=folder))
        self.log_event(course, assignment, by, "feedback", now, candidate=user,
                       detail={"timestamp": timestamp, "files": sorted(files)})

    def feedback(self, course: str, assignment: str, user: str) -> list[dict]:
        """The latest feedback released for each graded submission timestamp of ``user``."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(feedback).where(feedback.c.course == course,
                                                          feedback.c.assignment == assignment,
                                                          feedback.c.user == user).order_by(feedback.c.id))
            latest = {r.timestamp: dict(r._mapping) for r in rows}
        return list(latest.values())

    # ---- audit log ------------------------------------------------------------------------
    def log_event(self, course, assignment, actor, event, now, *, candidate="", ip="", detail=None) -> None:
        """Append one event to the exam's audit log, chained by SHA-256 to the previous one."""
        detail_json = json.dumps(detail or {}, sort_keys=True, ensure_ascii=False, default=str)
        with self._audit_lock, self.engine.begin() as conn:  # (the service's threads: one link at a time)
            prev = conn.execute(sa.select(audit.c.hash).where(audit.c.course == course,
                                                              audit.c.assignment == assignment)
                                .order_by(audit.c.id.desc()).limit(1)).scalar() or receipts.GENESIS
            entry = {"course": course, "assignment": assignment, "at": now.astimezone(UTC).isoformat(),
                     "actor": actor, "event": event, "candidate": candidate, "ip": ip, "detail": detail_json,
                     "previous": prev}
            digest = audit_hash(entry)
            conn.execute(audit.insert().values(course=course, assignment=assignment, at=now, actor=actor,
                                               event=event, candidate=candidate, ip=ip, detail=detail_json,
                                               previous=prev, hash=digest))

    def audit_log(self, course: str, assignment: str) -> list[dict]:
        """The exam's audit entries, oldest first, as written (``at`` in ISO UTC)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit).where(audit.c.course == course, audit.c.assignment == assignment)
                                .order_by(audit.c.id))
            return [{"course": r.course, "assignment": r.assignment, "at": r.at.isoformat(), "actor": r.actor,
                     "event": r.event, "candidate": r.candidate, "ip": r.ip, "detail": r.detail,
                     "previous": r.previous, "hash": r.hash} for r in rows]


    # ---- signed heads of the audit chains ---------------------------------------------------
    def audit_heads(self) -> list[dict]:
        """For each exam with an audit log: its number of entries and the hash of its last one."""
        last = (sa.select(audit.c.course, audit.c.assignment, sa.func.count().label("entries"),
                          sa.func.max(audit.c.id).label("last_id"))
                .group_by(audit.c.course, audit.c.assignment).subquery())
        query = sa.select(last.c.course, last.c.assignment, last.c.entries, audit.c.hash).join(
            audit, audit.c.id == last.c.last_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def add_head(self, course, assignment, entries: int, audit_hash: str, signed_at, key: str,
                 signature: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(heads.insert().values(course=course, assignment=assignment, entries=entries,
                                               audit_hash=audit_hash, signed_at=signed_at, key=key,
                                               signature=signature))

    def signed_heads(self, course: str, assignment: str) -> list[dict]:
        """The exam's signed heads, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(heads).where(heads.c.course == course, heads.c.assignment == assignment)
                                .order_by(heads.c.id))
            return [dict(r._mapping) for r in rows]


def audit_hash(entry: dict) -> str:
    body = {k: entry[k] for k in ("course", "assignment", "at", "actor", "event", "candidate", "ip", "detail",
                                  "previous")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False,
                                     separators=(",", ":")).encode()).hexdigest()


def verify_audit(entries: list[dict]) -> list[str]:
    """Problems in an exported audit log (JSON lines as :meth:`Store.audit_log` gives them)."""
    problems = []
    previous = receipts.GENESIS
    for i, entry in enumerate(entries):
        if entry.get("previous") != previous:
            problems.append(f"entry {i}: link broken (an entry was removed or reordered before it)")
        if audit_hash(entry) != entry.get("hash"):
            problems.append(f"entry {i}: content does not match its hash (edited)")
        previous = entry.get("hash")
    return problems
