"""A campaign's candidates from its roster: accounts, enrolment, invitations, withdrawal.

``tremplin campaign roster`` (and ``invite``, ``withdraw``) are this module's functions:

* **Accounts.** Each candidate on the roster gets a learner account named by the roster's
  ``account`` column (the candidate id in lower case by default), without a password. An account
  that exists already is kept as it is (a MOOC learner keeps their password); a staff account is
  refused (its invitation would set a professor's or administrator's password).
* **Enrolment.** The roster *is* the enrolment: the campaign's exam courses' groups are given to its
  candidates by the hub at their login (:meth:`tremplin_hub.auth.TremplinAuthenticator.apply_rosters`) and
  checked by the exam service at every request. No ``course.toml`` is edited, no hub user is created
  ahead: 10,000 candidates take seconds.
* **Invitations.** Each candidate without a password gets a one-time link (``/hub/invitation?token=``)
  that sets it, valid for ``valid_days`` days; the links go into a *sheet* (CSV, UTF-8 with BOM for
  spreadsheets, mode 600, never overwritten) for the partner university to send. Only the links' SHA-256
  is kept: a lost sheet means new invitations (``tremplin campaign invite``), which revoke the old ones.
* **Withdrawal.** A candidate missing from a newer roster, or withdrawn by ``tremplin campaign
  withdraw``, loses the campaign's exams at once in the exam service and its group at the hub's next
  refresh of their login (at most ``auth_refresh_age``, 5 minutes); their unused invitations are revoked
  (unless another campaign still lists them). Their rows and hand-ins are kept, not exported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from tremplin_grading.exports.model import Candidate

from .accounts import AccountStore
from .admissions.store import Admissions, RosterChange, parse_roster
from .layout import Layout

SHEET_COLUMNS = ("candidate_id", "last_name", "first_name", "email", "account", "invitation_url", "expires_utc")
DEFAULT_VALID_DAYS = 14


@dataclass
class RosterReport:
    change: RosterChange
    created: list[str]
    sheet: Path | None = None
    invited: int = 0
    invited_before: list[str] = field(default_factory=list)  # (still hold a usable link from an earlier load)

    def as_json(self) -> dict:
        c = self.change
        return {"added": len(c.added), "kept": len(c.kept), "back": len(c.back), "withdrawn": len(c.withdrawn),
                "created": len(self.created), "invited": self.invited, "invited_before": len(self.invited_before),
                "sheet": str(self.sheet) if self.sheet else ""}

    def summary(self, cid: str) -> str:
        c = self.change
        lines = [f"roster of {cid}: {len(c.added) + len(c.kept) + len(c.back)} candidate(s) "
                 f"({len(c.added)} new, {len(c.back)} back, {len(c.withdrawn)} withdrawn); "
                 f"{len(self.created)} account(s) created"]
        if self.sheet:
            lines.append(f"{self.invited} invitation(s) written to {self.sheet} (send each candidate their line; "
                         "the links are shown only there)")
        if self.invited_before:
            lines.append(f"{len(self.invited_before)} candidate(s) hold an invitation sent earlier and still valid; "
                         f"to send new ones: tremplin campaign invite {cid} --candidate <id> (or --pending)")
        return "\n".join(lines)


def invitation_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/hub/invitation?{urlencode({'token': token})}"


def write_sheet(path: Path, rows: list[tuple[Candidate, str, dt.datetime]], base_url: str) -> Path:
    """The sheet of invitations: one line per candidate. Created, never overwritten; readable by its owner only
    (it holds credentials)."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(SHEET_COLUMNS)
    for c, token, expires in sorted(rows, key=lambda r: r[0].candidate_id):
        writer.writerow((c.candidate_id, c.last_name, c.first_name, c.email, c.account, invitation_url(base_url, token),
                         expires.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ValueError(f"{path} exists already; the sheet is never overwritten: name another file with --sheet")
    with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as f:
        f.write(buf.getvalue())
    return path


def default_sheet(cid: str, now: dt.datetime) -> Path:
    return Path(f"{cid}-invitations-{now.astimezone(dt.timezone.utc):%Y%m%dT%H%M%SZ}.csv")


class Enrolment:
    """The doors: the account store (the hub's) and the admissions store (the exam service's account's), each
    opened where its owner may (``admissions()`` is a context manager, acting as that account when root)."""

    def __init__(self, layout: Layout, accounts: AccountStore,
                 admissions: Callable[[], AbstractContextManager[Admissions]], now: dt.datetime):
        self.layout, self.accounts, self.admissions, self.now = layout, accounts, admissions, now

    def load_roster(self, cid: str, data: bytes, source: str, *, sheet: Path | None, base_url: str,
                    valid_days: float = DEFAULT_VALID_DAYS) -> RosterReport:
        """Load admissions' roster CSV for campaign ``cid``: accounts, enrolment, withdrawals, invitations."""
        candidates = parse_roster(data, source)
        with self.admissions() as adm:
            adm.campaign(cid)  # (an unknown campaign changes nothing)
        created, without_password = self.accounts.enrol_learners([c.account for c in candidates], self.now)
        with self.admissions() as adm:
            change = adm.set_roster(cid, candidates, self.now)
            withdrawn = [c for c in adm.withdrawn(cid) if c.candidate_id in set(change.withdrawn)]
        self._revoke(withdrawn)
        pending = self.accounts.pending_invitations(without_password, self.now)
        to_invite = [c for c in candidates if c.account in set(without_password) and c.account not in pending]
        report = RosterReport(change, created, invited_before=sorted(pending))
        if to_invite:
            report.sheet, report.invited = self._invite(to_invite, sheet or default_sheet(cid, self.now), base_url,
                                                        valid_days), len(to_invite)
        return report

    def invite(self, cid: str, candidate_ids: Iterable[str], *, pending: bool, sheet: Path | None, base_url: str,
               valid_days: float = DEFAULT_VALID_DAYS) -> tuple[Path, int]:
        """New invitations (the earlier unused ones revoked) for candidates of ``cid``: those named, and with
        ``pending`` all who have not chosen a password yet."""
        with self.admissions() as adm:
            roster = {c.candidate_id: c for c in adm.roster(cid)}
        wanted = list(dict.fromkeys(candidate_ids))
        unknown = [k for k in wanted if k not in roster]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not on the roster of {cid} (or is withdrawn); check the id")
        chosen = {k: roster[k] for k in wanted}
        if pending:
            waiting = self.accounts.without_password([c.account for c in roster.values()])
            chosen.update({c.candidate_id: c for c in roster.values() if c.account in waiting})
        if not chosen:
            raise ValueError(f"no candidate to invite in {cid}: name them with --candidate, or use --pending for all "
                             "who have not chosen a password yet")
        return self._invite(list(chosen.values()), sheet or default_sheet(cid, self.now), base_url,
                            valid_days), len(chosen)

    def withdraw(self, cid: str, candidate_id: str) -> Candidate:
        with self.admissions() as adm:
            candidate = adm.withdraw(cid, candidate_id, self.now)
        self._revoke([candidate])
        return candidate

    def _invite(self, candidates: list[Candidate], sheet: Path, base_url: str, valid_days: float) -> Path:
        if not 0 < valid_days <= 366:
            raise ValueError(f"--valid-days {valid_days:g}: an invitation is valid between a moment and a year")
        if sheet.exists():  # (before any invitation is made: the old links stay valid)
            raise ValueError(f"{sheet} exists already; the sheet is never overwritten: name another file with --sheet")
        valid_for = dt.timedelta(days=valid_days)
        tokens = self.accounts.invite([c.account for c in candidates], self.now, valid_for)
        return write_sheet(sheet, [(c, tokens[c.account], self.now + valid_for) for c in candidates], base_url)

    def _revoke(self, withdrawn: list[Candidate]) -> None:
        """The unused invitations of withdrawn candidates whom no other campaign lists."""
        gone = [c.account for c in withdrawn if not Admissions.enrolment(self.layout, c.account)[0]]
        if gone:
            self.accounts.revoke_invitations(gone)
