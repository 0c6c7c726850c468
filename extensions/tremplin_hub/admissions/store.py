"""Admissions' own store: campaigns, rosters, disqualifications and the export log.

A *campaign* (a ``campaign.toml`` admissions or a coordinator writes) groups exams as
weighted sections for one partner, country and session, with a pass threshold and its
version. Its *roster* is the CSV admissions provides (candidate id, names, email, partner,
country; optionally the hub ``account`` when it is not the candidate id in lower case).
Both are kept in ``<data>/admissions/admissions.sqlite``; ``tremplin campaign`` loads them.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import itertools
import json
import re
import sqlite3
import tomllib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tremplin_grading.courses import ACCOUNT_NAME, student_group
from tremplin_grading.exports.model import Campaign, Candidate, Section

from ..exam.errors import Conflict, Invalid, NotFound
from ..layout import Layout

CAMPAIGN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")
SECTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ROSTER_COLUMNS = ("candidate_id", "last_name", "first_name", "email", "partner", "country")

#: The store's tables (as SQLAlchemy made them before: a store of an earlier version opens as it is, and gets
#: the columns added since, :data:`ADDED_COLUMNS`).
#: Times are kept in UTC as ``YYYY-MM-DD HH:MM:SS.ffffff``.
SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    id VARCHAR(64) NOT NULL, definition TEXT NOT NULL, loaded_at DATETIME NOT NULL, PRIMARY KEY (id));
CREATE TABLE IF NOT EXISTS roster (
    campaign VARCHAR(64) NOT NULL, candidate_id VARCHAR(128) NOT NULL, account VARCHAR(255) NOT NULL,
    last_name TEXT NOT NULL, first_name TEXT NOT NULL, email TEXT NOT NULL, partner TEXT NOT NULL,
    country TEXT NOT NULL, withdrawn_at DATETIME, PRIMARY KEY (campaign, candidate_id));
CREATE INDEX IF NOT EXISTS roster_account ON roster (account);
CREATE TABLE IF NOT EXISTS disqualifications (
    id INTEGER NOT NULL, campaign VARCHAR(64) NOT NULL, candidate_id VARCHAR(128) NOT NULL, reason TEXT NOT NULL,
    "by" VARCHAR(255) NOT NULL, at DATETIME NOT NULL, PRIMARY KEY (id));
CREATE TABLE IF NOT EXISTS export_log (
    id INTEGER NOT NULL, campaign VARCHAR(64) NOT NULL, "by" VARCHAR(255) NOT NULL, at DATETIME NOT NULL,
    allow_incomplete BOOLEAN NOT NULL, files TEXT NOT NULL, folder VARCHAR(1024) NOT NULL, PRIMARY KEY (id));
"""


#: Columns added to a table after its first version: ``(table, column, definition)``.
ADDED_COLUMNS = (("roster", "withdrawn_at", "DATETIME"),)


@dataclass(frozen=True)
class RosterChange:
    """What loading a roster changed: candidate ids added, kept, withdrawn (not on the new roster any more)
    and back (withdrawn before, on it again)."""

    added: list[str]
    kept: list[str]
    withdrawn: list[str]
    back: list[str]


def _time(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the admissions store keeps aware UTC times only")
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")


def _read_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


class CampaignError(ValueError):
    """A campaign file, roster or export that cannot be used; the message names what and the fix."""


class BadCampaign(CampaignError, Invalid):
    """A campaign file or roster that cannot be read."""

    def __init__(self, message: str, *, fr: str = ""):
        Invalid.__init__(self, message, fr=fr)


class NoCampaign(CampaignError, NotFound):
    """No such campaign, roster or candidate."""

    def __init__(self, message: str, *, fr: str = ""):
        NotFound.__init__(self, message, fr=fr)


class StillGrading(CampaignError, Conflict):
    """Candidates still running or waiting for grading: the export needs ``allow_incomplete``."""

    def __init__(self, message: str, *, fr: str = ""):
        Conflict.__init__(self, message, fr=fr)


# ---- campaign files and rosters ----------------------------------------------------------------
def parse_campaign(text: str, source: str = "campaign.toml") -> Campaign:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadCampaign(f"{source}: not valid TOML ({exc}); fix the line it names") from None

    def need(key, kind, fix):
        value = data.get(key)
        if not isinstance(value, kind) or value in ("", None):
            raise BadCampaign(f"{source}: field '{key}' is missing or not a {kind.__name__}; {fix}")
        return value

    cid = need("id", str, 'add id = "dd-2027-vn" (lower-case letters, digits, -)')
    if not CAMPAIGN_ID.match(cid):
        raise BadCampaign(f"{source}: field 'id': {cid!r} is not valid; use lower-case letters, digits and '-'")
    threshold = data.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 100:
        raise BadCampaign(f"{source}: field 'threshold': {threshold!r} is not a percentage; write e.g. threshold = 50")
    sections = []
    raw_sections = data.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        raise BadCampaign(f"{source}: no [[sections]]; add one per exam with name, exam and weight")
    for i, sec in enumerate(raw_sections):
        name, exam, weight = sec.get("name"), sec.get("exam"), sec.get("weight", 1)
        if not isinstance(name, str) or not SECTION_NAME.match(name):
            raise BadCampaign(f"{source}: sections[{i}].name {name!r} is not valid; use e.g. name = \"math\"")
        if not isinstance(exam, str) or exam.count("/") != 1:
            raise BadCampaign(f"{source}: sections[{i}].exam {exam!r} is not <course>/<assignment>; write e.g. "
                                "exam = \"preselection-math/math-2027\"")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
            raise BadCampaign(f"{source}: sections[{i}].weight {weight!r} must be a positive number")
        sections.append(Section(name, exam, float(weight)))
    if len({s.name for s in sections}) != len(sections):
        raise BadCampaign(f"{source}: two sections share a name; give each its own")
    return Campaign(cid, need("title", str, 'add title = "..."'), need("partner", str, 'add partner = "..."'),
                    need("country", str, 'add country = "VN" (ISO 3166 code)'),
                    need("session", str, 'add session = "2027-03"'), tuple(sections), float(threshold),
                    need("threshold_version", str, 'add threshold_version = "2027-1"'))


def parse_roster(data: bytes, source: str = "roster.csv") -> list[Candidate]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadCampaign(f"{source}: not UTF-8 (byte {exc.start}); save it as CSV UTF-8 from the spreadsheet")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in ROSTER_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise BadCampaign(f"{source}: columns {', '.join(missing)} are missing; the first line must name "
                            f"{', '.join(ROSTER_COLUMNS)} (and optionally account)")
    out, seen, accounts = [], set(), {}
    for line, row in enumerate(reader, start=2):
        cid = (row.get("candidate_id") or "").strip()
        if not cid:
            raise BadCampaign(f"{source}: line {line}: candidate_id is empty; every row needs the id admissions "
                                "knows")
        if cid in seen:
            raise BadCampaign(f"{source}: line {line}: candidate_id {cid!r} appears twice; keep one row per "
                                "candidate")
        seen.add(cid)
        account = (row.get("account") or "").strip() or cid.lower()
        if not ACCOUNT_NAME.match(account):
            raise BadCampaign(f"{source}: line {line}: account {account[:64]!r} of {cid!r} is not a valid account "
                                "name; use lower-case letters, digits and '-', starting with a letter, at most 32 characters "
                                "(fill the account column when the candidate id is not one)")
        if account in accounts:
            raise BadCampaign(f"{source}: line {line}: account {account!r} is also line {accounts[account]}'s; each "
                                "candidate needs an account of their own")
        accounts[account] = line
        out.append(Candidate(cid, account, *((row.get(c) or "").strip() for c in ROSTER_COLUMNS[1:])))
    return out


# ---- the store --------------------------------------------------------------------------------
@dataclass
class Admissions:
    """Campaigns, rosters, disqualifications and the export log of one data directory."""

    layout: Layout

    def __post_init__(self):
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._connect() as conn:
            for table, column, definition in ADDED_COLUMNS:
                if conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone() and \
                        column not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            conn.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one operation (pages run on threads), committed when the block ends well.

        The store is one local SQLite file, read and written through the standard library: the export
        starts reading the gradebooks before anything imports SQLAlchemy (see :func:`.results.gather`).
        """
        conn = sqlite3.connect(self.folder / "admissions.sqlite", timeout=30)
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    @property
    def folder(self) -> Path:
        return self.layout.admissions_dir

    @property
    def key_file(self) -> Path:
        return self.folder / "signing-key.pem"

    def close(self) -> None:
        """Nothing stays open between operations; kept for ``with`` and ``closing``."""

    def __enter__(self) -> Admissions:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add_campaign(self, text: str, source: str, now: dt.datetime) -> Campaign:
        campaign = parse_campaign(text, source)
        with self._connect() as conn:
            conn.execute("DELETE FROM campaigns WHERE id = ?", (campaign.id,))
            conn.execute("INSERT INTO campaigns (id, definition, loaded_at) VALUES (?, ?, ?)",
                         (campaign.id, text, _time(now)))
        return campaign

    def campaign(self, cid: str) -> Campaign:
        with self._connect() as conn:
            row = conn.execute("SELECT definition FROM campaigns WHERE id = ?", (cid,)).fetchone()
        if row is None:
            known = ", ".join(self.campaign_ids()) or "none"
            raise NoCampaign(f"no campaign {cid!r}; load it with 'tremplin campaign add <file.toml>' (known: {known})",
                             fr=f"aucune campagne {cid!r} ; chargez-la avec 'tremplin campaign add <fichier.toml>' "
                                f"(connues : {known})")
        return parse_campaign(row[0], cid)

    def campaign_ids(self) -> list[str]:
        with self._connect() as conn:
            return sorted(r[0] for r in conn.execute("SELECT id FROM campaigns"))

    def set_roster(self, cid: str, candidates: list[Candidate], now: dt.datetime | None = None) -> RosterChange:
        """Load a campaign's roster: its candidates are the campaign's now. A candidate of the previous roster who
        is not on this one is *withdrawn* (kept, marked, no longer enrolled in the campaign's exams, not exported);
        one withdrawn before and listed again is back. Nothing is deleted."""
        now = now or dt.datetime.now(dt.timezone.utc)
        self.campaign(cid)
        with self._connect() as conn:
            before = {row[0]: row[1] for row in conn.execute(
                "SELECT candidate_id, withdrawn_at FROM roster WHERE campaign = ?", (cid,))}
            listed = {c.candidate_id for c in candidates}
            conn.executemany("INSERT INTO roster (campaign, candidate_id, account, last_name, first_name, email, "
                             "partner, country, withdrawn_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL) "
                             "ON CONFLICT (campaign, candidate_id) DO UPDATE SET account = excluded.account, "
                             "last_name = excluded.last_name, first_name = excluded.first_name, "
                             "email = excluded.email, partner = excluded.partner, country = excluded.country, "
                             "withdrawn_at = NULL",
                             [(cid, c.candidate_id, c.account, c.last_name, c.first_name, c.email, c.partner,
                               c.country) for c in candidates])
            withdrawn = sorted(k for k, at in before.items() if k not in listed and at is None)
            conn.executemany("UPDATE roster SET withdrawn_at = ? WHERE campaign = ? AND candidate_id = ?",
                             [(_time(now), cid, k) for k in withdrawn])
        return RosterChange(added=sorted(listed - set(before)),
                            kept=sorted(k for k in listed & set(before) if before[k] is None),
                            withdrawn=withdrawn,
                            back=sorted(k for k in listed & set(before) if before[k] is not None))

    def withdraw(self, cid: str, candidate_id: str, now: dt.datetime) -> Candidate:
        """Withdraw one candidate of a campaign (see :meth:`set_roster`)."""
        found = [c for c in self.roster(cid) if c.candidate_id == candidate_id]
        if not found:
            raise NoCampaign(f"{candidate_id!r} is not on the roster of {cid} (or is withdrawn already); check the id "
                             "in the roster's candidate_id column",
                             fr=f"{candidate_id!r} n'est pas sur la liste de {cid} (ou s'est déjà retiré) ; vérifiez "
                                "l'identifiant")
        with self._connect() as conn:
            conn.execute("UPDATE roster SET withdrawn_at = ? WHERE campaign = ? AND candidate_id = ?",
                         (_time(now), cid, candidate_id))
        return found[0]

    def roster(self, cid: str) -> list[Candidate]:
        """The campaign's candidates, withdrawn ones left out."""
        with self._connect() as conn:
            rows = conn.execute("SELECT candidate_id, account, last_name, first_name, email, partner, country "
                                "FROM roster WHERE campaign = ? AND withdrawn_at IS NULL ORDER BY candidate_id", (cid,))
            return list(itertools.starmap(Candidate, rows))

    def withdrawn(self, cid: str) -> list[Candidate]:
        with self._connect() as conn:
            rows = conn.execute("SELECT candidate_id, account, last_name, first_name, email, partner, country "
                                "FROM roster WHERE campaign = ? AND withdrawn_at IS NOT NULL ORDER BY candidate_id",
                                (cid,))
            return list(itertools.starmap(Candidate, rows))

    @staticmethod
    def people(layout: Layout) -> dict[str, tuple[str, str, str]]:
        """``{account: (last name, first name, email)}`` of every roster (the latest loaded campaign's,
        for an account on several); ``{}`` when there is no store yet (it is read, never created nor changed: ``tremplin
        courses sync`` gives the formgraders these names, as root)."""
        with _read_only(layout) as conn:
            if conn is None:
                return {}  # (no store, or made ahead for the exam service's account and never opened yet)
            rows = conn.execute("SELECT r.account, r.last_name, r.first_name, r.email FROM roster r "
                                "JOIN campaigns c ON c.id = r.campaign ORDER BY c.loaded_at, c.id")
            return {account: (last, first, email) for account, last, first, email in rows}

    @staticmethod
    def summary(layout: Layout) -> list[dict]:
        """Each campaign's id, title and numbers of candidates and withdrawn ones (read only)."""
        with _read_only(layout) as conn:
            if conn is None:
                return []
            counts = {(cid, bool(gone)): n for cid, gone, n in conn.execute(
                f"SELECT r.campaign, {_withdrawn_at(conn)} IS NOT NULL, COUNT(*) FROM roster r GROUP BY 1, 2")}
            return [{"id": cid, "title": parse_campaign(definition, cid).title,
                     "candidates": counts.get((cid, False), 0), "withdrawn": counts.get((cid, True), 0)}
                    for cid, definition in conn.execute("SELECT id, definition FROM campaigns ORDER BY id")]

    @staticmethod
    def accounts(layout: Layout, cid: str) -> list[str]:
        """The accounts of a campaign's candidates, withdrawn ones left out (read only)."""
        with _read_only(layout) as conn:
            if conn is None:
                return []
            return [r[0] for r in conn.execute(
                f"SELECT r.account FROM roster r WHERE r.campaign = ? AND {_withdrawn_at(conn)} IS NULL", (cid,))]

    @staticmethod
    def enrolment(layout: Layout, account: str) -> tuple[set[str], set[str]]:
        """The course groups the rosters give ``account`` and those they take away: ``(enrolled, withdrawn)``,
        the learner groups (``nbgrader-<course>``) of a campaign's exam courses, for each campaign where the account
        is a candidate, or was one and is withdrawn (a group another campaign still gives is not taken away).

        Read only, never created: the hub asks at each login and refresh (:mod:`tremplin_hub.auth`), the exam
        service at each check of a person's groups."""
        enrolled, withdrawn = set(), set()
        with _read_only(layout) as conn:
            if conn is not None:
                for definition, gone in conn.execute(
                        f"SELECT c.definition, {_withdrawn_at(conn)} FROM roster r "
                        "JOIN campaigns c ON c.id = r.campaign WHERE r.account = ?", (account,)):
                    (withdrawn if gone else enrolled).update(_groups(definition))
        return enrolled, withdrawn - enrolled

    @staticmethod
    def group_roster(layout: Layout, group: str) -> tuple[set[str], set[str]]:
        """Who the rosters enrol in the course whose learner group is ``group``, and who they withdrew from it
        (and no other roster enrols there): ``(enrolled, withdrawn)``."""
        enrolled, withdrawn = set(), set()
        with _read_only(layout) as conn:
            if conn is not None:
                campaigns = [cid for cid, definition in conn.execute("SELECT id, definition FROM campaigns")
                             if group in _groups(definition)]
                for cid in campaigns:
                    for account, gone in conn.execute(f"SELECT r.account, {_withdrawn_at(conn)} FROM roster r "
                                                      "WHERE r.campaign = ?", (cid,)):
                        (withdrawn if gone else enrolled).add(account)
        return enrolled, withdrawn - enrolled

    def disqualify(self, cid: str, candidate_id: str, reason: str, by: str, now: dt.datetime) -> None:
        if candidate_id not in {c.candidate_id for c in self.roster(cid)}:
            raise NoCampaign(f"{candidate_id!r} is not on the roster of {cid}; check the id")
        if not reason.strip():
            raise BadCampaign("give the reason of the disqualification (--reason); it is exported")
        with self._connect() as conn:
            conn.execute('INSERT INTO disqualifications (campaign, candidate_id, reason, "by", at) '
                         "VALUES (?, ?, ?, ?, ?)", (cid, candidate_id, reason, by, _time(now)))

    def disqualified(self, cid: str) -> dict[str, str]:
        with self._connect() as conn:
            return dict(conn.execute("SELECT candidate_id, reason FROM disqualifications WHERE campaign = ? "
                                     "ORDER BY id", (cid,)))

    def log_export(self, cid, by, now, allow_incomplete, digests: dict[str, str], folder: Path) -> None:
        """Log an export: who, when, and the SHA-256 of each of its files (``digests``, by name)."""
        digests = dict(sorted(digests.items()))
        with self._connect() as conn:
            conn.execute('INSERT INTO export_log (campaign, "by", at, allow_incomplete, files, folder) '
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         (cid, by, _time(now), allow_incomplete, json.dumps(digests), str(folder)))

    def exports(self, cid: str | None = None) -> list[dict]:
        query = 'SELECT id, campaign, "by", at, allow_incomplete, files, folder FROM export_log'
        with self._connect() as conn:
            rows = conn.execute(query + (" WHERE campaign = ?" if cid else "") + " ORDER BY id",
                                (cid,) if cid else ())
            return [{"id": i, "campaign": c, "by": by, "at": _read_time(at), "allow_incomplete": bool(allow),
                     "files": files, "folder": folder} for i, c, by, at, allow, files, folder in rows]


@functools.lru_cache(maxsize=256)
def _groups(definition: str) -> frozenset[str]:
    """The learner groups of a campaign's exam courses."""
    return frozenset(student_group(section.exam.split("/", 1)[0]) for section in parse_campaign(definition).sections)


@contextmanager
def _read_only(layout: Layout) -> Iterator[sqlite3.Connection | None]:
    """The store opened read only, or None when there is no store or roster yet (nothing is created)."""
    path = layout.admissions_dir / "admissions.sqlite"
    if not path.exists():
        yield None
        return
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'roster'").fetchone():
            yield None
        else:
            yield conn


def _withdrawn_at(conn: sqlite3.Connection) -> str:
    """``r.withdrawn_at``, or NULL in a store of before withdrawals (opened read only, so not migrated yet)."""
    return "r.withdrawn_at" if "withdrawn_at" in {r[1] for r in conn.execute("PRAGMA table_info(roster)")} else "NULL"
