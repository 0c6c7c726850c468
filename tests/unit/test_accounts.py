"""The account store: hashed passwords, roles, demo accounts shown once, clear refusals."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tremplin_hub.accounts import (DEMO_ACCOUNTS, AccountStore, AccountStoreError, accounts_table, generate_password,
                                   hash_password, needs_rehash, verify_password)
from tremplin_hub.auth import LoginThrottle


@pytest.fixture
def store(tmp_path):
    s = AccountStore(f"sqlite:///{tmp_path / 'accounts.sqlite'}")
    yield s
    s.close()


def test_password_hash_is_salted_and_verifies():
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and "correct horse" not in a
    assert verify_password("correct horse", a)
    assert not verify_password("correct hors", a)


@pytest.mark.parametrize("stored", ["", "plain-text", "md5$abc", "scrypt$x$8$1$AAAA$AAAA", "scrypt$16384$8$1$!!$!!"])
def test_malformed_stored_hash_never_verifies(stored):
    assert verify_password("anything", stored) is False


def test_check_accepts_the_right_password_only(store):
    store.add("amina", "learner", "s3cret-pass")
    assert store.check("amina", "s3cret-pass").role == "learner"
    assert store.check("amina", "wrong-pass") is None
    assert store.check("nobody", "s3cret-pass") is None


def test_database_holds_no_clear_password(store, tmp_path):
    store.add("amina", "learner", "s3cret-pass")
    store.close()
    assert b"s3cret-pass" not in (tmp_path / "accounts.sqlite").read_bytes()


@pytest.mark.parametrize("name,role,password,words", [
    ("Amina", "learner", "s3cret-pass", "not valid"),
    ("amina", "student", "s3cret-pass", "role 'student'"),
    ("amina", "learner", "short", "too short"),
])
def test_bad_account_input_is_refused_with_the_reason(store, name, role, password, words):
    with pytest.raises(AccountStoreError, match=words):
        store.add(name, role, password)


def test_existing_account_is_never_overwritten(store):
    store.add("amina", "learner", "s3cret-pass")
    with pytest.raises(AccountStoreError, match="already exists"):
        store.add("amina", "admin", "other-pass")
    assert store.check("amina", "s3cret-pass").role == "learner"


def test_demo_accounts_are_created_once_with_generated_passwords(store):
    created = store.ensure_demo()
    assert set(created) == {name for name, _ in DEMO_ACCOUNTS}
    assert len(set(created.values())) == len(created)
    for name, password in created.items():
        assert store.check(name, password) is not None
    assert store.ensure_demo() == {}
    assert {a.role for a in store.all()} == {"learner", "professor", "coordinator", "admissions", "admin"}


def test_generated_passwords_are_long_and_random():
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50 and all(len(p) == 19 for p in passwords)


# ---- login at current guidance (issue 10) --------------------------------------------------
def test_passwords_are_hashed_with_argon2id_at_owasp_settings():
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and not needs_rehash(stored)


def _scrypt_hash(password: str) -> str:
    """A hash as Tremplin stored them before argon2id."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def test_an_older_hash_still_logs_in_and_is_replaced_at_the_next_successful_login(store):
    store.add("amina", "learner", "s3cret-pass")
    with store.engine.begin() as conn:
        conn.execute(accounts_table.update().values(password_hash=_scrypt_hash("s3cret-pass")))
    assert store.check("amina", "wrong-pass") is None
    assert _stored(store, "amina").startswith("scrypt$")  # a failed try changes nothing
    assert store.check("amina", "s3cret-pass").role == "learner"
    assert _stored(store, "amina").startswith("$argon2id$")
    assert store.check("amina", "s3cret-pass").role == "learner"


def _stored(store, name):
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        return conn.execute(sa.select(accounts_table.c.password_hash).where(accounts_table.c.name == name)).scalar()


def test_an_unknown_name_costs_one_verification_with_todays_settings_as_a_known_one(store, monkeypatch):
    """Names cannot be probed by timing: both paths run exactly one argon2id verification, same settings."""
    from tremplin_hub import accounts

    store.add("amina", "learner", "s3cret-pass")
    store.check("nobody", "warm-up")  # (the unknown-name hash is made once per process)
    seen = []
    real = accounts.verify_password
    monkeypatch.setattr(accounts, "verify_password", lambda pw, stored: seen.append(stored[:31]) or real(pw, stored))
    monkeypatch.setattr(accounts, "hash_password", lambda pw: pytest.fail("a login must not hash anew"))
    assert store.check("nobody", "s3cret-pass") is None
    assert store.check("amina", "wrong-pass") is None
    assert len(seen) == 2 and seen[0] == seen[1] == "$argon2id$v=19$m=19456,t=2,p=1$"


def test_login_throttle_waits_double_past_the_free_failures_and_forgets():
    now = [1000.0]
    throttle = LoginThrottle(free=3, most=60, forget=300, clock=lambda: now[0])
    for _ in range(2):
        throttle.failed("name:amina")
    assert throttle.wait("name:amina") == 0
    throttle.failed("name:amina")  # third failure: 2**0 = 1 s
    assert throttle.wait("name:amina") == 1
    for expected in (2, 4, 8, 16, 32, 60, 60):
        throttle.failed("name:amina")
        assert throttle.wait("name:amina") == expected
    assert throttle.wait("name:other") == 0
    now[0] += 30
    assert throttle.wait("name:amina") == 30
    now[0] += 301
    assert throttle.wait("name:amina") == 0
    throttle.failed("name:amina")
    assert throttle.wait("name:amina") == 0  # forgotten: counting starts again
    throttle.succeeded("name:amina")
    assert "name:amina" not in throttle._failures
    for _ in range(2000):  # weeks of a patient guesser: the wait stays at its cap, nothing overflows
        throttle.failed("ip:203.0.113.9")
    assert throttle.wait("ip:203.0.113.9") == 60
