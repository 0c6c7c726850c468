"""The account store: hashed passwords, roles, demo accounts shown once, clear refusals."""

from __future__ import annotations

import pytest

from tremplin_hub.accounts import (DEMO_ACCOUNTS, AccountStore, AccountStoreError, generate_password, hash_password,
                                   verify_password)


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
