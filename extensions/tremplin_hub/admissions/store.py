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
import io
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from tremplin_grading.exports.model import Campaign, Candidate, Section

from ..exam.errors import Conflict, Invalid, NotFound
from ..exam.store import UTCDateTime
from ..layout import Layout

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
    out, seen = [], set()
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
        return self.layout.admissions_dir

    @property
    def key_file(self) -> Path:
        return self.folder / "signing-key.pem"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Admissions:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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
            known = ", ".join(self.campaign_ids()) or "none"
            raise NoCampaign(f"no campaign {cid!r}; load it with 'tremplin campaign add <file.toml>' (known: {known})",
                             fr=f"aucune campagne {cid!r} ; chargez-la avec 'tremplin campaign add <fichier.toml>' "
                                f"(connues : {known})")
        return parse_campaign(row.definition, cid)

    def campaign_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(r.id for r in conn.execute(sa.select(campaigns.c.id)))

    def set_roster(self, cid: str, candidates: list[Candidate]) -> None:
        self.campaign(cid)
        with self.engine.begin() as conn:
            conn.execute(roster.delete().where(roster.c.campaign == cid))
            if candidates:
                conn.execute(roster.insert(), [dict(campaign=cid, candidate_id=c.candidate_id, account=c.account,
                                                    last_name=c.last_name, first_name=c.first_name, email=c.email,
                                                    partner=c.partner, country=c.country) for c in candidates])

    def roster(self, cid: str) -> list[Candidate]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(roster).where(roster.c.campaign == cid).order_by(roster.c.candidate_id))
            return [Candidate(r.candidate_id, r.account, r.last_name, r.first_name, r.email, r.partner, r.country)
                    for r in rows]

    def disqualify(self, cid: str, candidate_id: str, reason: str, by: str, now: dt.datetime) -> None:
        if candidate_id not in {c.candidate_id for c in self.roster(cid)}:
            raise NoCampaign(f"{candidate_id!r} is not on the roster of {cid}; check the id")
        if not reason.strip():
            raise BadCampaign("give the reason of the disqualification (--reason); it is exported")
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
