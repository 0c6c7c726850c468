"""Pre-selection campaigns and their exports for admissions.

A *campaign* (a ``campaign.toml`` admissions or a coordinator writes) groups exams as
weighted sections for one partner, country and session, with a pass threshold and its
version. Its *roster* is the CSV admissions provides (candidate id, names, email, partner,
country; optionally the hub ``account`` when it is not the candidate id in lower case).
Both are kept in ``<data>/admissions/admissions.sqlite``; ``tremplin campaign`` loads them.

:func:`gather` builds the campaign's results from the roster, the exam service's store
(start, hand-in, lateness, variant, receipt, extra time) and the courses' gradebooks (read
only); :func:`export` writes the files with :mod:`tremplin_grading.exports`, signs the
manifest with the deployment's Ed25519 key, keeps a copy, and logs who exported what.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from tremplin_grading.exports import formats, signing
from tremplin_grading.exports.model import (Campaign, CampaignResult, Candidate, CandidateResult, Section,
                                            SectionResult, finish)
from tremplin_grading.results import max_score, read_gradebook

from .exam.store import Store, UTCDateTime
from .layout import Layout

UTC = dt.timezone.utc
CAMPAIGN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")
SECTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ROSTER_COLUMNS = ("candidate_id", "last_name", "first_name", "email", "partner", "country")

metadata = sa.MetaData()
campaigns = sa.Table(
    "campaigns", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("loaded_at", UTCDateTime, nullable=False),
)
roster = sa.Table(
    "roster", metadata,
    sa.Column("campaign", sa.String(64), primary_key=True),
    sa.Column("candidate_id", sa.String(128), primary_key=True),
    sa.Column("account", sa.String(255), nullable=False),
    sa.Column("last_name", sa.Text, nullable=False),
    sa.Column("first_name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("partner", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
)
disqualifications = sa.Table(
    "disqualifications", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign", sa.String(64), nullable=False),
    sa.Column("candidate_id", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("by", sa.String(255), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
)
export_log = sa.Table(
    "export_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign", sa.String(64), nullable=False),
    sa.Column("by", sa.String(255), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("allow_incomplete", sa.Boolean, nullable=False),
    sa.Column("files", sa.Text, nullable=False),  # {name: sha256}
    sa.Column("folder", sa.String(1024), nullable=False),
)


class CampaignError(ValueError):
    """A campaign file, roster or export that cannot be used; the message names what and the fix."""


# ---- campaign files and rosters ----------------------------------------------------------------
def parse_campaign(text: str, source: str = "campaign.toml") -> Campaign:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError(f"{source}: not valid TOML ({exc}); fix the line it names") from None

    def need(key, kind, fix):
        value = data.get(key)
        if not isinstance(value, kind) or value in ("", None):
            raise CampaignError(f"{source}: field '{key}' is missing or not a {kind.__name__}; {fix}")
        return value

    cid = need("id", str, 'add id = "dd-2027-vn" (lower-case letters, digits, -)')
    if not CAMPAIGN_ID.match(cid):
        raise CampaignError(f"{source}: field 'id': {cid!r} is not valid; use lower-case letters, digits and '-'")
    threshold = data.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 100:
        raise CampaignError(f"{source}: field 'threshold': {threshold!r} is not a percentage; write e.g. threshold = 50")
    sections = []
    raw_sections = data.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        raise CampaignError(f"{source}: no [[sections]]; add one per exam with name, exam and weight")
    for i, sec in enumerate(raw_sections):
        name, exam, weight = sec.get("name"), sec.get("exam"), sec.get("weight", 1)
        if not isinstance(name, str) or not SECTION_NAME.match(name):
            raise CampaignError(f"{source}: sections[{i}].name {name!r} is not valid; use e.g. name = \"math\"")
        if not isinstance(exam, str) or exam.count("/") != 1:
            raise CampaignError(f"{source}: sections[{i}].exam {exam!r} is not <course>/<assignment>; write e.g. "
                                "exam = \"preselection-math/math-2027\"")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
            raise CampaignError(f"{source}: sections[{i}].weight {weight!r} must be a positive number")
        sections.append(Section(name, exam, float(weight)))
    if len({s.name for s in sections}) != len(sections):
        raise CampaignError(f"{source}: two sections share a name; give each its own")
    return Campaign(cid, need("title", str, 'add title = "..."'), need("partner", str, 'add partner = "..."'),
                    need("country", str, 'add country = "VN" (ISO 3166 code)'),
                    need("session", str, 'add session = "2027-03"'), tuple(sections), float(threshold),
                    need("threshold_version", str, 'add threshold_version = "2027-1"'))


def parse_roster(data: bytes, source: str = "roster.csv") -> list[Candidate]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CampaignError(f"{source}: not UTF-8 (byte {exc.start}); save it as CSV UTF-8 from the spreadsheet")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in ROSTER_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise CampaignError(f"{source}: columns {', '.join(missing)} are missing; the first line must name "
                            f"{', '.join(ROSTER_COLUMNS)} (and optionally account)")
    out, seen = [], set()
    for line, row in enumerate(reader, start=2):
        cid = (row.get("candidate_id") or "").strip()
        if not cid:
            raise CampaignError(f"{source}: line {line}: candidate_id is empty; every row needs the id admissions "
                                "knows")
        if cid in seen:
            raise CampaignError(f"{source}: line {line}: candidate_id {cid!r} appears twice; keep one row per "
                                "candidate")
        seen.add(cid)
        account = (row.get("account") or "").strip() or cid.lower()
        out.append(Candidate(cid, account, *((row.get(c) or "").strip() for c in ROSTER_COLUMNS[1:])))
    return out


# ---- the store --------------------------------------------------------------------------------
@dataclass
class Admissions:
    """Campaigns, rosters, disqualifications and the export log of one data directory."""

    layout: Layout

    def __post_init__(self):
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.engine = sa.create_engine(f"sqlite:///{self.folder / 'admissions.sqlite'}")
        metadata.create_all(self.engine)

    @property
    def folder(self) -> Path:
        return self.layout.data_dir / "admissions"

    @property
    def key_file(self) -> Path:
        return self.folder / "signing-key.pem"

    def close(self) -> None:
        self.engine.dispose()

    def add_campaign(self, text: str, source: str, now: dt.datetime) -> Campaign:
        campaign = parse_campaign(text, source)
        with self.engine.begin() as conn:
            conn.execute(campaigns.delete().where(campaigns.c.id == campaign.id))
            conn.execute(campaigns.insert().values(id=campaign.id, definition=text, loaded_at=now))
        return campaign

    def campaign(self, cid: str) -> Campaign:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(campaigns).where(campaigns.c.id == cid)).first()
        if row is None:
            raise CampaignError(f"no campaign {cid!r}; load it with 'tremplin campaign add <file.toml>' "
                                f"(known: {', '.join(self.campaign_ids()) or 'none'})")
        return parse_campaign(row.definition, cid)

    def campaign_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(r.id for r in conn.execute(sa.select(campaigns.c.id)))

    def set_roster(self, cid: str, candidates: list[Candidate]) -> None:
        self.campaign(cid)
        with self.engine.begin() as conn:
            conn.execute(roster.delete().where(roster.c.campaign == cid))
            for c in candidates:
                conn.execute(roster.insert().values(campaign=cid, candidate_id=c.candidate_id, account=c.account,
                                                    last_name=c.last_name, first_name=c.first_name, email=c.email,
                                                    partner=c.partner, country=c.country))

    def roster(self, cid: str) -> list[Candidate]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(roster).where(roster.c.campaign == cid).order_by(roster.c.candidate_id))
            return [Candidate(r.candidate_id, r.account, r.last_name, r.first_name, r.email, r.partner, r.country)
                    for r in rows]

    def disqualify(self, cid: str, candidate_id: str, reason: str, by: str, now: dt.datetime) -> None:
        if candidate_id not in {c.candidate_id for c in self.roster(cid)}:
            raise CampaignError(f"{candidate_id!r} is not on the roster of {cid}; check the id")
        if not reason.strip():
            raise CampaignError("give the reason of the disqualification (--reason); it is exported")
        with self.engine.begin() as conn:
            conn.execute(disqualifications.insert().values(campaign=cid, candidate_id=candidate_id, reason=reason,
                                                           by=by, at=now))

    def disqualified(self, cid: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(disqualifications).where(disqualifications.c.campaign == cid)
                                .order_by(disqualifications.c.id))
            return {r.candidate_id: r.reason for r in rows}

    def log_export(self, cid, by, now, allow_incomplete, files: dict[str, bytes], folder: Path) -> None:
        import hashlib

        digests = {n: hashlib.sha256(d).hexdigest() for n, d in sorted(files.items())}
        with self.engine.begin() as conn:
            conn.execute(export_log.insert().values(campaign=cid, by=by, at=now, allow_incomplete=allow_incomplete,
                                                    files=json.dumps(digests), folder=str(folder)))

    def exports(self, cid: str | None = None) -> list[dict]:
        q = sa.select(export_log).order_by(export_log.c.id)
        if cid:
            q = q.where(export_log.c.campaign == cid)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]


# ---- results ----------------------------------------------------------------------------------
def _accommodation(store: Store, course: str, assignment: str, account: str) -> str:
    mine = [a for a in store.accommodations(course, assignment) if a["target_kind"] == "user" and
            a["target"] == account]
    if not mine:
        return ""
    a = mine[-1]
    parts = []
    if a["extra_minutes"]:
        parts.append(f"+{a['extra_minutes']:g} min")
    if a["time_factor"] != 1:
        parts.append(f"x{a['time_factor']:g}")
    if a["opens"] and a["closes"]:
        parts.append(f"window {a['opens'].isoformat()}/{a['closes'].isoformat()}")
    return " ".join(parts) + (f" ({a['reason']})" if a["reason"] else "")


def section_result(store: Store, section: Section, account: str, graded: dict,
                   maximum: float | None) -> SectionResult:
    """One candidate's result in one section (``maximum``: the exam's, read once per section)."""
    course, assignment = section.exam.split("/", 1)
    attempt = store.attempt(course, assignment, account)
    if attempt is None:
        return SectionResult("absent", maximum=maximum)
    finals = store.records(course, assignment, account, ("submission", "collection"))
    final = finals[0] if finals else None
    common = dict(maximum=maximum, variant=attempt["variant"], started=attempt["started_at"],
                  accommodation=_accommodation(store, course, assignment, account))
    if final is None:
        return SectionResult("not_handed_in", **common)
    common.update(submitted=final.server_time, seconds_late=final.seconds_late, receipt=final.receipt.chain)
    grade = graded.get(account)
    if grade is None or grade.pending:
        return SectionResult("pending", **common)
    return SectionResult("graded", raw=grade.score, **{**common, "maximum": grade.max_score})


def gather(admissions: Admissions, cid: str, store: Store) -> CampaignResult:
    """The campaign's results: one row per candidate on the roster, absent ones included."""
    campaign = admissions.campaign(cid)
    candidates = admissions.roster(cid)
    if not candidates:
        raise CampaignError(f"campaign {cid} has no roster; load it with 'tremplin campaign roster {cid} <file.csv>'")
    disq = admissions.disqualified(cid)
    layout = admissions.layout
    gradebooks, maxima = {}, {}
    for section in campaign.sections:
        course, assignment = section.exam.split("/", 1)
        path = layout.course_dir(course) / "gradebook.db"
        gradebooks[section.name] = read_gradebook(path, assignment)
        maxima[section.name] = max_score(path, assignment)
    rows = [CandidateResult(c, {s.name: section_result(store, s, c.account, gradebooks[s.name], maxima[s.name])
                                for s in campaign.sections}, disq.get(c.candidate_id, ""))
            for c in candidates]
    return finish(CampaignResult(campaign, rows))


def export(admissions: Admissions, cid: str, store: Store, *, by: str, allow_incomplete: bool = False,
           now: dt.datetime | None = None, version: str = "") -> tuple[dict[str, bytes], Path]:
    """Write, sign, keep and log one export; returns the files and the folder keeping them.

    Raises:
        CampaignError: candidates still pending (unless ``allow_incomplete``).
    """
    now = now or dt.datetime.now(UTC)
    result = gather(admissions, cid, store)
    pending = [r.candidate.candidate_id for r in result.rows if r.status == "pending"]
    if pending and not allow_incomplete:
        raise CampaignError(f"campaign {cid}: {len(pending)} candidate(s) still running or waiting for grading "
                            f"({', '.join(pending[:5])}{'…' if len(pending) > 5 else ''}); finish the grading (collect, "
                            "autograde, manual grading) or export with --allow-incomplete: those rows then say 'pending'")
    files = formats.write_all(result)
    key = signing.load_or_create_key(admissions.key_file)
    files.update(signing.manifest(files, campaign=cid, version=version or _version(), counts=result.counts(),
                                  schema_version=formats.SCHEMA_VERSION, key=key, now=now))
    folder = admissions.folder / "exports" / cid / now.strftime("%Y%m%dT%H%M%S%fZ")
    folder.mkdir(parents=True, mode=0o700)
    for name, data in files.items():
        with open(folder / name, "xb") as f:
            f.write(data)
    admissions.log_export(cid, by, now, allow_incomplete, files, folder)
    return files, folder


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tremplin")
    except PackageNotFoundError:
        return "0+unknown"
