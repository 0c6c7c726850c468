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
* *Pass*: status ``present`` and total ≥ the campaign's threshold.
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
        if self.raw is None or not self.maximum:
            return None
        return round(100.0 * self.raw / self.maximum, 2)

    @property
    def seconds_used(self) -> int | None:
        if self.started is None or self.submitted is None:
            return None
        return int((self.submitted - self.started).total_seconds())


@dataclass
class CandidateResult:
    candidate: Candidate
    sections: dict[str, SectionResult]
    disqualified: str = ""  # the reason, when a coordinator disqualified them
    status: str = ""
    total: float | None = None
    rank: int | None = None
    percentile: float | None = None
    passed: bool = False


@dataclass
class CampaignResult:
    campaign: Campaign
    rows: list[CandidateResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {status: 0 for status in STATUSES}
        for row in self.rows:
            out[row.status] += 1
        return {"candidates": len(self.rows), **out}


def status_of(row: CandidateResult) -> str:
    if row.disqualified:
        return "disqualified"
    states = [s.state for s in row.sections.values()]
    if all(s == "absent" for s in states):
        return "absent"
    if any(s in ("pending", "not_handed_in") for s in states):
        return "pending"
    if any(s != "graded" for s in states):
        return "incomplete"
    return "present"


def total_of(campaign: Campaign, row: CandidateResult) -> float | None:
    weights = sum(s.weight for s in campaign.sections)
    if not weights:
        return None
    acc = 0.0
    for section in campaign.sections:
        pct = row.sections[section.name].percent
        acc += section.weight * (pct or 0.0)
    return round(acc / weights, 2)


def finish(result: CampaignResult) -> CampaignResult:
    """Fill status, total, rank, percentile and pass flag of every row; rows sorted by candidate id."""
    campaign = result.campaign
    for row in result.rows:
        row.status = status_of(row)
        row.total = total_of(campaign, row) if row.status in ("present", "incomplete") else None
        row.passed = row.status == "present" and row.total is not None and row.total >= campaign.threshold
        row.rank = row.percentile = None
    ranked = sorted((r for r in result.rows if r.total is not None), key=lambda r: -r.total)
    n = len(ranked)
    i = 0
    while i < n:
        j = i
        while j < n and ranked[j].total == ranked[i].total:
            j += 1
        below = n - j
        for r in ranked[i:j]:
            r.rank = i + 1
            r.percentile = round(100.0 * (below + 0.5 * (j - i)) / n, 1)
        i = j
    result.rows.sort(key=lambda r: r.candidate.candidate_id)
    return result
