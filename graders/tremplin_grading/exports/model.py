"""Campaign results: who was registered, what each scored per section, their status and rank.

Plain dataclasses and the rules that turn per-section results into a campaign result:
status, weighted total, rank, percentile and pass flag. They know nothing about any file
format (:mod:`.formats` reads them) and nothing about the hub (the hub side fills them
from its roster, the exam service and the gradebooks).

Rules (also in docs/exports.md):

* A section's percentage is raw / maximum × 100; the *total* is the weighted mean of the
  section percentages (weights from the campaign), a section not taken counting 0.
* *Status*: ``disqualified`` (set by a coordinator, whatever the scores), else ``absent``
  (no section started), else ``pending`` (a section still running, or handed in but not
  fully graded: manual grading or autograde still to do), else ``incomplete`` (some
  section not taken), else ``present``.
* *Rank*: among ``present`` and ``incomplete`` candidates, by total rounded to 2 decimals,
  highest first; equal totals share the best rank and the next rank skips ("1224",
  standard competition ranking). Ties are not broken by name or time.
* *Percentile*: 100 × (candidates ranked strictly below + half of those with the same total,
  self included) / candidates ranked (the mid-rank percentile rank), 1 decimal.
* *Pass*: status ``present`` and total ≥ the campaign's threshold; not known (empty) while
  ``pending``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

STATUSES = ("present", "absent", "incomplete", "disqualified", "pending")


@dataclass(frozen=True)
class Section:
    """One exam of a campaign: ``exam`` is ``course/assignment``; ``name`` prefixes its columns."""

    name: str
    exam: str
    weight: float = 1.0


@dataclass(frozen=True)
class Campaign:
    id: str
    title: str
    partner: str
    country: str
    session: str
    sections: tuple[Section, ...]
    threshold: float
    threshold_version: str


@dataclass(frozen=True)
class Candidate:
    """A registered candidate, as admissions knows them (``account`` is their hub login)."""

    candidate_id: str
    account: str
    last_name: str
    first_name: str
    email: str
    partner: str
    country: str


@dataclass(frozen=True)
class SectionResult:
    """What one candidate did in one section.

    ``state``: ``absent`` (never started), ``not_handed_in`` (started, nothing counted yet),
    ``pending`` (handed in, not fully graded), ``graded``.
    """

    state: str = "absent"
    raw: float | None = None
    maximum: float | None = None
    variant: str = ""
    started: dt.datetime | None = None
    submitted: dt.datetime | None = None
    seconds_late: int = 0
    accommodation: str = ""
    receipt: str = ""

    @property
    def percent(self) -> float | None:
        return percent(self.raw, self.maximum)

    @property
    def seconds_used(self) -> int | None:
        return seconds_between(self.started, self.submitted)


@dataclass
class CandidateResult:
    candidate: Candidate
    sections: dict[str, SectionResult]
    disqualified: str = ""  # the reason, when a coordinator disqualified them
    status: str = ""
    total: float | None = None
    rank: int | None = None
    percentile: float | None = None
    passed: bool | None = False  # (None while pending)


@dataclass
class CampaignResult:
    campaign: Campaign
    rows: list[CandidateResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {status: 0 for status in STATUSES}
        for row in self.rows:
            out[row.status] += 1
        return {"candidates": len(self.rows), **out}


# ---- the rules, on plain values: the rows above and the columns below both call them -----------
def percent(raw: float | None, maximum: float | None) -> float | None:
    """A section's percentage: raw / maximum × 100, 2 decimals (None when not graded)."""
    if raw is None or not maximum:
        return None
    return round(100.0 * raw / maximum, 2)


def seconds_between(started: dt.datetime | None, submitted: dt.datetime | None) -> int | None:
    if started is None or submitted is None:
        return None
    return int((submitted - started).total_seconds())


def status(disqualified: str, states) -> str:
    """A candidate's status from a coordinator's disqualification (its reason) and their sections' states."""
    if disqualified:
        return "disqualified"
    states = set(states)
    if states <= {"absent"}:
        return "absent"
    if "pending" in states or "not_handed_in" in states:
        return "pending"
    if states != {"graded"}:
        return "incomplete"
    return "present"


def weighted_total(campaign: Campaign, percents) -> float | None:
    """The weighted mean of the section percentages (``percents`` in the campaign's order), a section
    not taken counting 0."""
    weights = sum(s.weight for s in campaign.sections)
    if not weights:
        return None
    acc = 0.0
    for section, pct in zip(campaign.sections, percents):
        acc += section.weight * (pct or 0.0)
    return round(acc / weights, 2)


def ranks(totals: list[float | None]) -> tuple[list[int | None], list[float | None]]:
    """Each total's rank and percentile among those that are not None (competition ranking,
    mid-rank percentile); None for the others."""
    rank: list[int | None] = [None] * len(totals)
    pct: list[float | None] = [None] * len(totals)
    ranked = sorted((i for i, t in enumerate(totals) if t is not None), key=lambda i: -totals[i])
    n = len(ranked)
    i = 0
    while i < n:
        j = i + 1  # (at least one: a NaN equals nothing, not even itself)
        while j < n and totals[ranked[j]] == totals[ranked[i]]:
            j += 1
        percentile = round(100.0 * (n - j + 0.5 * (j - i)) / n, 1)
        for k in ranked[i:j]:
            rank[k], pct[k] = i + 1, percentile
        i = j
    return rank, pct


def passed(campaign: Campaign, status_: str, total: float | None) -> bool | None:
    """Whether the candidate passed; None (not known yet) while they are ``pending``."""
    if status_ == "pending":
        return None
    return status_ == "present" and total is not None and total >= campaign.threshold


def finish(result: CampaignResult) -> CampaignResult:
    """Fill status, total, rank, percentile and pass flag of every row; rows sorted by candidate id."""
    campaign = result.campaign
    names = [s.name for s in campaign.sections]
    for row in result.rows:
        row.status = status(row.disqualified, (s.state for s in row.sections.values()))
        row.total = (weighted_total(campaign, [row.sections[n].percent for n in names])
                     if row.status in ("present", "incomplete") else None)
        row.passed = passed(campaign, row.status, row.total)
    for row, r, p in zip(result.rows, *ranks([row.total for row in result.rows])):
        row.rank, row.percentile = r, p
    result.rows.sort(key=lambda r: r.candidate.candidate_id)
    return result


SECTION_RESULT_FIELDS = ("state", "raw", "maximum", "variant", "started", "submitted", "seconds_late", "accommodation",
                         "receipt")


# ---- the same results as columns: what exports of thousands are made of ------------------------
@dataclass
class SectionColumns:
    """One section's :class:`SectionResult` fields down the rows of a :class:`CampaignTable`."""

    state: list[str] = field(default_factory=list)
    raw: list[float | None] = field(default_factory=list)
    maximum: list[float | None] = field(default_factory=list)
    variant: list[str] = field(default_factory=list)
    started: list[dt.datetime | None] = field(default_factory=list)
    submitted: list[dt.datetime | None] = field(default_factory=list)
    seconds_late: list[int] = field(default_factory=list)
    accommodation: list[str] = field(default_factory=list)
    receipt: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, results: list[SectionResult]) -> SectionColumns:
        return cls(*([getattr(r, f) for r in results] for f in SECTION_RESULT_FIELDS))

    def percents(self) -> list[float | None]:
        return list(map(percent, self.raw, self.maximum))


@dataclass
class CampaignTable:
    """A campaign's results as columns, rows in candidate id order: what :func:`finish_table` and
    the export formats read, without an object per candidate and section."""

    campaign: Campaign
    candidates: list[Candidate]
    sections: dict[str, SectionColumns]
    disqualified: list[str]  # the reason, or ""
    status: list[str] = field(default_factory=list)
    total: list[float | None] = field(default_factory=list)
    rank: list[int | None] = field(default_factory=list)
    percentile: list[float | None] = field(default_factory=list)
    passed: list[bool | None] = field(default_factory=list)

    @classmethod
    def of(cls, result: CampaignResult) -> CampaignTable:
        """The table of finished rows."""
        rows = result.rows
        table = cls(result.campaign, [r.candidate for r in rows],
                    {s.name: SectionColumns.of([r.sections[s.name] for r in rows]) for s in result.campaign.sections},
                    [r.disqualified for r in rows])
        for name in ("status", "total", "rank", "percentile", "passed"):
            setattr(table, name, [getattr(r, name) for r in rows])
        return table

    def rows(self) -> list[CandidateResult]:
        """The rows as objects (for a few: exports read the columns)."""
        names = [s.name for s in self.campaign.sections]
        sections = [list(map(SectionResult, *(getattr(self.sections[n], f) for f in SECTION_RESULT_FIELDS)))
                    for n in names]
        return [CandidateResult(c, dict(zip(names, found)), d, st, t, r, p, ok)
                for c, d, st, t, r, p, ok, *found in zip(self.candidates, self.disqualified, self.status, self.total,
                                                         self.rank, self.percentile, self.passed, *sections)]

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        for s in self.status:
            out[s] += 1
        return {"candidates": len(self.status), **out}


def finish_table(table: CampaignTable) -> CampaignTable:
    """:func:`finish` for a table whose rows are already in candidate id order."""
    campaign = table.campaign
    columns = [table.sections[s.name] for s in campaign.sections]
    percents = list(zip(*(c.percents() for c in columns))) or [()] * len(table.candidates)
    table.status = list(map(status, table.disqualified, zip(*(c.state for c in columns))))
    table.total = [weighted_total(campaign, p) if s in ("present", "incomplete") else None
                   for s, p in zip(table.status, percents)]
    table.passed = [passed(campaign, s, t) for s, t in zip(table.status, table.total)]
    table.rank, table.percentile = ranks(table.total)
    return table
