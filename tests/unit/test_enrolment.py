"""A campaign's candidates from its roster: accounts without a password, one-time invitations, enrolment in
the campaign's exam courses and withdrawal (tremplin_hub.enrolment, accounts, admissions.store)."""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
import stat
from contextlib import closing, contextmanager
from urllib.parse import parse_qs, urlparse

import pytest

from tremplin_hub.accounts import AccountStore, AccountStoreError, InvitationError
from tremplin_hub.admissions import Admissions
from tremplin_hub.enrolment import Enrolment
from tremplin_hub.layout import Layout

UTC = dt.timezone.utc
T0 = dt.datetime(2027, 3, 1, 8, tzinfo=UTC)
CAMPAIGN = """
id = "dd-2027-vn"
title = "Double diplôme 2027"
partner = "HUST"
country = "VN"
session = "2027-03"
threshold = 50
threshold_version = "2027-1"
[[sections]]
name = "math"
exam = "maths/exam"
weight = 2
[[sections]]
name = "physics"
exam = "physique/exam"
weight = 1
"""
HEADER = "candidate_id,last_name,first_name,email,partner,country,account\n"
ROSTER = (HEADER + "C-1,Nguyễn,An,an@x.org,HUST,VN,\nC-2,Lê,Bình,binh@x.org,HUST,VN,\n"
          "C-3,Phạm,Chi,chi@x.org,HUST,VN,chi\n")


class Setup:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.layout = Layout(tmp_path / "data")
        (tmp_path / "data" / "hub").mkdir(parents=True)
        self.accounts = AccountStore(self.layout.accounts_url)
        with closing(Admissions(self.layout)) as adm:
            adm.add_campaign(CAMPAIGN, "campaign.toml", T0)
        self.now = T0

    @contextmanager
    def admissions(self):
        with closing(Admissions(self.layout)) as adm:
            yield adm

    def enrolment(self) -> Enrolment:
        return Enrolment(self.layout, self.accounts, self.admissions, self.now)

    def load(self, text: str, sheet: str = "sheet.csv", **kw):
        return self.enrolment().load_roster("dd-2027-vn", text.encode(), "roster.csv", sheet=self.tmp / sheet,
                                            base_url="https://tremplin.example.org/", **kw)

    def sheet(self, name: str = "sheet.csv") -> dict[str, dict]:
        with open(self.tmp / name, encoding="utf-8-sig", newline="") as f:
            return {row["account"]: row for row in csv.DictReader(f)}


def token_of(row: dict) -> str:
    url = urlparse(row["invitation_url"])
    assert url.scheme == "https" and url.netloc == "tremplin.example.org" and url.path == "/hub/invitation"
    return parse_qs(url.query)["token"][0]


@pytest.fixture
def s(tmp_path):
    setup = Setup(tmp_path)
    yield setup
    setup.accounts.close()


def test_a_roster_makes_accounts_without_password_and_a_sheet_of_one_time_links(s):
    report = s.load(ROSTER)
    assert report.created == ["c-1", "c-2", "chi"] and report.invited == 3
    assert report.change.added == ["C-1", "C-2", "C-3"]
    assert stat.S_IMODE((s.tmp / "sheet.csv").stat().st_mode) == 0o600
    rows = s.sheet()
    assert rows["c-1"]["candidate_id"] == "C-1" and rows["c-1"]["last_name"] == "Nguyễn"
    assert rows["c-1"]["expires_utc"] == "2027-03-15 08:00"
    assert (s.tmp / "sheet.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # (spreadsheets read it as UTF-8)
    # No password works before the invitation is used, not even the marker the store keeps.
    assert s.accounts.check("c-1", "invited:") is None and s.accounts.check("c-1", "") is None
    # The store keeps the token's hash only.
    token = token_of(rows["c-1"])
    with closing(sqlite3.connect(s.layout.accounts_url.removeprefix("sqlite:///"))) as conn:
        dump = "\n".join(conn.iterdump())
    assert token not in dump
    assert s.accounts.invitation(token, T0) == "c-1"
    assert s.accounts.redeem(token, "un mot de passe", T0) == "c-1"
    assert s.accounts.check("c-1", "un mot de passe").name == "c-1"
    with pytest.raises(InvitationError, match="already used.*déjà servi|déjà servi.*already used"):
        s.accounts.redeem(token, "another password", T0)
    assert s.accounts.check("c-1", "another password") is None


def test_an_invitation_expires_and_a_new_one_revokes_the_old(s):
    s.load(ROSTER)
    old = token_of(s.sheet()["c-2"])
    with pytest.raises(InvitationError, match="expired.*2027-03-15 08:00"):
        s.accounts.redeem(old, "un mot de passe", T0 + dt.timedelta(days=15))
    sheet, count = s.enrolment().invite("dd-2027-vn", ["C-2"], pending=False, sheet=s.tmp / "again.csv",
                                        base_url="https://tremplin.example.org")
    assert count == 1 and sheet == s.tmp / "again.csv"
    new = token_of(s.sheet("again.csv")["c-2"])
    with pytest.raises(InvitationError, match="not valid"):
        s.accounts.redeem(old, "un mot de passe", T0)
    with pytest.raises(AccountStoreError, match="8 caractères"):
        s.accounts.redeem(new, "court", T0)
    assert s.accounts.redeem(new, "un mot de passe", T0) == "c-2"
    # A sheet is never overwritten, and refusing it changes no link.
    with pytest.raises(ValueError, match="never overwritten"):
        s.enrolment().invite("dd-2027-vn", ["C-3"], pending=False, sheet=s.tmp / "again.csv",
                             base_url="https://tremplin.example.org")
    assert s.accounts.invitation(token_of(s.sheet()["chi"]), T0) == "chi"
    # --pending: whoever has not chosen a password yet (c-2 has).
    _, count = s.enrolment().invite("dd-2027-vn", [], pending=True, sheet=s.tmp / "pending.csv",
                                    base_url="https://tremplin.example.org")
    assert count == 2 and sorted(s.sheet("pending.csv")) == ["c-1", "chi"]


def test_loading_the_roster_again_invites_only_the_new_and_keeps_passwords(s):
    s.load(ROSTER)
    s.accounts.redeem(token_of(s.sheet()["c-1"]), "un mot de passe", T0)
    report = s.load(ROSTER + "C-4,Đỗ,Dũng,dung@x.org,HUST,VN,\n", sheet="second.csv")
    assert report.created == ["c-4"] and report.invited == 1 and report.invited_before == ["c-2", "chi"]
    assert list(s.sheet("second.csv")) == ["c-4"]
    assert s.accounts.check("c-1", "un mot de passe") is not None
    # Nothing new: no sheet is written.
    report = s.load(ROSTER + "C-4,Đỗ,Dũng,dung@x.org,HUST,VN,\n", sheet="third.csv")
    assert report.sheet is None and not (s.tmp / "third.csv").exists()


def test_the_roster_enrols_in_the_campaigns_exam_courses_and_withdrawal_takes_them_away(s):
    s.load(ROSTER)
    groups = {"nbgrader-maths", "nbgrader-physique"}
    assert Admissions.enrolment(s.layout, "c-1") == (groups, set())
    assert Admissions.group_roster(s.layout, "nbgrader-maths") == ({"c-1", "c-2", "chi"}, set())
    assert Admissions.enrolment(s.layout, "someone-else") == (set(), set())
    # C-2 is not on the next roster: withdrawn, their unused invitation revoked, their row kept.
    token = token_of(s.sheet()["c-2"])
    report = s.load(HEADER + "C-1,Nguyễn,An,an@x.org,HUST,VN,\nC-3,Phạm,Chi,chi@x.org,HUST,VN,chi\n", sheet="b.csv")
    assert report.change.withdrawn == ["C-2"]
    assert Admissions.enrolment(s.layout, "c-2") == (set(), groups)
    assert Admissions.group_roster(s.layout, "nbgrader-maths") == ({"c-1", "chi"}, {"c-2"})
    with pytest.raises(InvitationError):
        s.accounts.redeem(token, "un mot de passe", T0)
    with s.admissions() as adm:
        assert [c.candidate_id for c in adm.roster("dd-2027-vn")] == ["C-1", "C-3"]
        assert [c.candidate_id for c in adm.withdrawn("dd-2027-vn")] == ["C-2"]
    # Withdrawn by the command, then back on a roster.
    s.enrolment().withdraw("dd-2027-vn", "C-3")
    assert Admissions.enrolment(s.layout, "chi") == (set(), groups)
    with pytest.raises(ValueError, match="not on the roster"):
        s.enrolment().withdraw("dd-2027-vn", "C-3")
    report = s.load(ROSTER, sheet="c.csv")
    assert report.change.back == ["C-2", "C-3"]
    assert Admissions.enrolment(s.layout, "c-2") == (groups, set())


def test_a_roster_never_reaches_a_staff_account(s):
    """Attack: a roster row names the administrator's account; its invitation would set the admin's password."""
    s.accounts.add("admin", "admin", "le mot de passe de l'admin")
    s.accounts.add("prof", "professor", "le mot de passe du prof")
    with pytest.raises(AccountStoreError, match=r"'admin' belongs to staff \(role admin\)"):
        s.load(ROSTER + "C-9,X,Y,y@x.org,HUST,VN,admin\n")
    with s.admissions() as adm:
        assert adm.roster("dd-2027-vn") == []  # (nothing loaded)
    assert not (s.tmp / "sheet.csv").exists()
    with pytest.raises(AccountStoreError, match="invitations are for candidates"):
        s.accounts.invite(["prof"], T0, dt.timedelta(days=1))
    assert s.accounts.check("admin", "le mot de passe de l'admin").name == "admin"


def test_an_institutions_account_is_enrolled_but_never_invited(s):
    s.accounts.record_institution_login("chi", "learner", "HUST")
    report = s.load(ROSTER)
    assert report.invited == 2 and "chi" not in s.sheet()
    assert Admissions.enrolment(s.layout, "chi")[0] == {"nbgrader-maths", "nbgrader-physique"}
    with pytest.raises(AccountStoreError, match="through their institution"):
        s.accounts.invite(["chi"], T0, dt.timedelta(days=1))


@pytest.mark.parametrize(("row", "message"), [
    ("C-9,X,Y,y@x.org,HUST,VN,Bad Name", r"line 5: account 'Bad Name' of 'C-9' is not a valid account name"),
    ("C-9,X,Y,y@x.org,HUST,VN,chi", r"line 5: account 'chi' is also line 4's"),
    ("C-9,X,Y,y@x.org,HUST,VN,../../etc", r"line 5: account '../../etc'"),
])
def test_bad_roster_lines_are_named(s, row, message):
    with pytest.raises(ValueError, match=message):
        s.load(ROSTER + row + "\n")


def test_forged_tokens_are_refused(s):
    s.load(ROSTER)
    for forged in ("", "x" * 5000, "' OR 1=1 --", token_of(s.sheet()["c-1"])[:-1]):
        with pytest.raises(InvitationError, match="not valid"):
            s.accounts.redeem(forged, "un mot de passe", T0)


def test_a_store_from_before_withdrawals_is_read_then_upgraded(tmp_path):
    layout = Layout(tmp_path / "data")
    layout.admissions_dir.mkdir(parents=True)
    path = layout.admissions_dir / "admissions.sqlite"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(
            "CREATE TABLE campaigns (id VARCHAR(64) NOT NULL, definition TEXT NOT NULL, loaded_at DATETIME NOT NULL, "
            "PRIMARY KEY (id));"
            "CREATE TABLE roster (campaign VARCHAR(64) NOT NULL, candidate_id VARCHAR(128) NOT NULL, account "
            "VARCHAR(255) NOT NULL, last_name TEXT NOT NULL, first_name TEXT NOT NULL, email TEXT NOT NULL, partner "
            "TEXT NOT NULL, country TEXT NOT NULL, PRIMARY KEY (campaign, candidate_id));")
        conn.execute("INSERT INTO campaigns VALUES ('dd-2027-vn', ?, '2027-01-01 00:00:00')", (CAMPAIGN,))
        conn.execute("INSERT INTO roster VALUES ('dd-2027-vn', 'C-1', 'c-1', 'A', 'B', 'a@x.org', 'HUST', 'VN')")
    # The hub and the exam service read it as it is (read only)...
    assert Admissions.enrolment(layout, "c-1") == ({"nbgrader-maths", "nbgrader-physique"}, set())
    assert Admissions.group_roster(layout, "nbgrader-physique") == ({"c-1"}, set())
    # ...and the first command that opens it adds the column.
    with closing(Admissions(layout)) as adm:
        assert [c.account for c in adm.roster("dd-2027-vn")] == ["c-1"]
        change = adm.set_roster("dd-2027-vn", [], T0)
    assert change.withdrawn == ["C-1"]
    assert Admissions.enrolment(layout, "c-1") == (set(), {"nbgrader-maths", "nbgrader-physique"})
