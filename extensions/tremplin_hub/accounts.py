"""Tremplin's own accounts: names, roles and hashed passwords, in a SQLAlchemy database.

The hub's authenticator checks passwords against this store, and the hub's groups
(professors, coordinators, admissions) come from the roles stored here. Passwords are
hashed with scrypt (standard library) and never stored or logged in clear; demo
passwords are generated at first start and printed once.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from tremplin_grading.courses import ACCOUNT_NAME

ROLES = ("learner", "professor", "coordinator", "admissions", "admin")

#: JupyterHub group of each role; learners get the default ``user`` role only.
ROLE_GROUPS = {"professor": "professors", "coordinator": "coordinators", "admissions": "admissions"}

#: The demo deployment of ``make run``: two learners and one account per other role.
DEMO_ACCOUNTS = (
    ("learner1", "learner"),
    ("learner2", "learner"),
    ("professor", "professor"),
    ("coordinator", "coordinator"),
    ("admissions", "admissions"),
    ("admin", "admin"),
)

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}

metadata = sa.MetaData()
accounts_table = sa.Table(
    "accounts",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class AccountStoreError(Exception):
    """Bad input to the account store, worded for the administrator."""


def hash_password(password: str) -> str:
    """Return an scrypt hash of ``password`` with a random salt, as one string."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT, dklen=32)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Check ``password`` against a hash made by :func:`hash_password`, in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def generate_password() -> str:
    """A password a person can type: four groups of four lower-case letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


@dataclass(frozen=True)
class Account:
    name: str
    role: str


class AccountStore:
    """The accounts database (``sqlite:///...`` by default; any SQLAlchemy URL)."""

    def __init__(self, url: str):
        self.engine = sa.create_engine(url)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def add(self, name: str, role: str, password: str) -> Account:
        """Create an account. Refuses an existing name: use :meth:`set_password` to change one."""
        if not ACCOUNT_NAME.match(name):
            raise AccountStoreError(f"account name {name!r} is not valid: use lower-case letters, digits and "
                                    "'-', starting with a letter, at most 32 characters")
        if role not in ROLES:
            raise AccountStoreError(f"role {role!r} for account {name!r} is unknown: use one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise AccountStoreError(f"the password for {name!r} is too short: use at least 8 characters")
        with self.engine.begin() as conn:
            if conn.execute(sa.select(accounts_table.c.name).where(accounts_table.c.name == name)).first():
                raise AccountStoreError(f"account {name!r} already exists; to change its password use "
                                        f"'tremplin accounts password {name}'")
            conn.execute(accounts_table.insert().values(
                name=name, role=role, password_hash=hash_password(password),
                created_at=dt.datetime.now(dt.timezone.utc)))
        return Account(name, role)

    def set_password(self, name: str, password: str) -> None:
        if len(password) < 8:
            raise AccountStoreError(f"the password for {name!r} is too short: use at least 8 characters")
        with self.engine.begin() as conn:
            done = conn.execute(accounts_table.update().where(accounts_table.c.name == name)
                                .values(password_hash=hash_password(password))).rowcount
        if not done:
            raise AccountStoreError(f"no account named {name!r}")

    def get(self, name: str) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(accounts_table.c.name, accounts_table.c.role)
                               .where(accounts_table.c.name == name)).first()
        return Account(*row) if row else None

    def all(self) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(accounts_table.c.name, accounts_table.c.role)
                                .order_by(accounts_table.c.name)).all()
        return [Account(*row) for row in rows]

    def check(self, name: str, password: str) -> Account | None:
        """The account if ``password`` is right for ``name``, else None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(accounts_table.c.role, accounts_table.c.password_hash)
                               .where(accounts_table.c.name == name)).first()
        if row is None:
            # Spend the same time as a real check so names cannot be probed by timing.
            verify_password(password, hash_password("not-an-account"))
            return None
        return Account(name, row.role) if verify_password(password, row.password_hash) else None

    def ensure_demo(self) -> dict[str, str]:
        """Create the demo accounts that do not exist yet.

        Returns:
            ``{name: password}`` for the accounts created now (empty on later runs):
            the only time these passwords are ever shown.
        """
        created = {}
        for name, role in DEMO_ACCOUNTS:
            if self.get(name) is None:
                password = generate_password()
                self.add(name, role, password)
                created[name] = password
        return created
