"""Tremplin's own accounts: names, roles and hashed passwords, in a SQLAlchemy database.

The hub's authenticator checks passwords against this store, and the hub's groups
(professors, coordinators, admissions) come from the roles stored here. Passwords are
hashed with argon2id at the setting of OWASP's Password Storage Cheat Sheet (19 MiB, 2
passes, 1 lane: 40 ms of one core, so a campaign's morning of logins fits on a small hub;
RFC 9106's 64 MiB profile costs five times more for the same guessing cost) and never
stored or logged in clear; a hash made with older settings (scrypt N=2^14 before 2026-12)
is replaced at the account's next successful login.
Demo passwords are generated at first start and printed once.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import argon2
import sqlalchemy as sa

from tremplin_grading.courses import ACCOUNT_NAME

from .roles import ROLES


#: The demo deployment of ``make run``: two learners and one account per other role.
DEMO_ACCOUNTS = (
    ("learner1", "learner"),
    ("learner2", "learner"),
    ("professor", "professor"),
    ("coordinator", "coordinator"),
    ("admissions", "admissions"),
    ("admin", "admin"),
)

#: The password hash in force; :func:`needs_rehash` tells which stored hashes are older.
_HASHER = argon2.PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=argon2.Type.ID)

metadata = sa.MetaData()
accounts_table = sa.Table(
    "accounts",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
#: One-time links that set an account's password (a campaign's candidates get one each): only the SHA-256 of
#: the token is kept (a token is 256 random bits, so a fast hash is enough and 10,000 are made in a moment).
invitations_table = sa.Table(
    "invitations",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(32), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)


#: The stored "hash" of someone who logs in through their institution (:mod:`.oidc`): no password matches it.
INSTITUTION = "institution:"
#: The stored "hash" of an account made from a roster whose invitation was not used yet: no password matches it.
INVITED = "invited:"


class AccountStoreError(ValueError):
    """Bad input to the account store, worded for the administrator."""


class InvitationError(AccountStoreError):
    """An invitation link that cannot be used (unknown, used, expired or revoked); the message is bilingual,
    for the person who followed it."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back: they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` with a random salt, as one string (``$argon2id$v=19$m=…``)."""
    return _HASHER.hash(password)


def verify_password(password: str, stored: str) -> bool:
    """Check ``password`` against a stored hash (argon2id, or an older scrypt one), in constant time."""
    if stored.startswith("$argon2"):
        try:
            return _HASHER.verify(stored, password)
        except argon2.exceptions.VerificationError:  # (wrong password, or a hash that is not one)
            return False
        except argon2.exceptions.InvalidHashError:
            return False
    return _verify_scrypt(password, stored)


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash was made with other settings than today's (then it is replaced at login)."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except argon2.exceptions.InvalidHashError:
        return True


def _verify_scrypt(password: str, stored: str) -> bool:
    """The hashes of Tremplin before argon2id: ``scrypt$n$r$p$salt$digest``."""
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


_UNKNOWN_NAME_HASH: list[str] = []


def _unknown_name_hash() -> str:
    """A hash with today's settings that no password matches: unknown names are checked against it."""
    if not _UNKNOWN_NAME_HASH:
        _UNKNOWN_NAME_HASH.append(hash_password(secrets.token_urlsafe(24)))
    return _UNKNOWN_NAME_HASH[0]


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

    def record_institution_login(self, name: str, role: str, institution: str) -> Account:
        """Record someone who logged in through their institution (:mod:`.oidc`): an account with no password
        (``tremplin accounts add`` then refuses the name), its role as the institution's claim gives it now.
        Refuses a name that is a local password account's: that is another person."""
        if not ACCOUNT_NAME.match(name):
            raise AccountStoreError(
                f"« {name[:64]} » n'est pas un nom de compte valide pour Tremplin ; l'administrateur doit choisir un "
                f"autre identifiant de l'établissement (InstitutionLogin.username_claim). / {name[:64]!r} is not a "
                "valid Tremplin account name (lower-case letters, digits and '-', starting with a letter, at most "
                "32 characters); the administrator must map another claim (InstitutionLogin.username_claim).")
        if role not in ROLES:
            raise AccountStoreError(f"role {role!r} for account {name!r} is unknown: use one of {', '.join(ROLES)}")
        marker = f"{INSTITUTION}{institution[:150]}"
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(accounts_table.c.password_hash).where(accounts_table.c.name == name)).first()
            if row is not None and not row.password_hash.startswith(INSTITUTION):
                raise AccountStoreError(
                    f"« {name} » est un compte local de Tremplin : la connexion par l'établissement ne peut pas "
                    f"l'utiliser. / {name!r} is a local Tremplin account: an institutional login cannot use it; "
                    "ask the administrator.")
            if row is None:
                conn.execute(accounts_table.insert().values(name=name, role=role, password_hash=marker,
                                                            created_at=dt.datetime.now(dt.timezone.utc)))
            else:
                conn.execute(accounts_table.update().where(accounts_table.c.name == name)
                             .values(role=role, password_hash=marker))
        return Account(name, role)

    def set_password(self, name: str, password: str) -> None:
        if self._is_institutional(name):
            raise AccountStoreError(f"{name!r} logs in through their institution: it has no password here")
        if len(password) < 8:
            raise AccountStoreError(f"the password for {name!r} is too short: use at least 8 characters")
        with self.engine.begin() as conn:
            done = conn.execute(accounts_table.update().where(accounts_table.c.name == name)
                                .values(password_hash=hash_password(password))).rowcount
        if not done:
            raise AccountStoreError(f"no account named {name!r}")

    def _is_institutional(self, name: str) -> bool:
        with self.engine.connect() as conn:
            stored = conn.execute(sa.select(accounts_table.c.password_hash).where(accounts_table.c.name == name)
                                  ).scalar()
        return bool(stored and stored.startswith(INSTITUTION))

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
        if row is None or row.password_hash.startswith((INSTITUTION, INVITED)):
            # One verification with today's settings, as for a real name: names cannot be probed by timing
            # (and an institution's people have no password here).
            verify_password(password, _unknown_name_hash())
            return None
        if not verify_password(password, row.password_hash):
            return None
        if needs_rehash(row.password_hash):  # the password is known right now: store it with today's settings
            with self.engine.begin() as conn:
                conn.execute(accounts_table.update().where(accounts_table.c.name == name,
                                                           accounts_table.c.password_hash == row.password_hash)
                             .values(password_hash=hash_password(password)))
        return Account(name, row.role)

    # ---- candidates of a roster and their invitations ------------------------------------------------------
    def _roles_and_hashes(self, names: list[str]) -> dict[str, tuple[str, str]]:
        """``{name: (role, stored hash)}`` of the accounts of ``names`` that exist, read 500 names at a time."""
        out = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(names)), 500):
                for r in conn.execute(sa.select(accounts_table.c.name, accounts_table.c.role,
                                                accounts_table.c.password_hash).where(accounts_table.c.name.in_(chunk))):
                    out[r.name] = (r.role, r.password_hash)
        return out

    def enrol_learners(self, names: list[str], now: dt.datetime) -> tuple[list[str], list[str]]:
        """Make the learner accounts of ``names`` that do not exist yet, without a password (an invitation sets
        it): one statement for all of them, so a roster of 10,000 takes a second.

        Returns:
            (created, invited): the names created now, and every name of ``names`` whose account still has no
            password (created now or earlier, invitation not used yet).

        Raises:
            AccountStoreError: a name is not valid, or is the account of staff (a roster must never reach a
                professor's, coordinator's or administrator's account: its invitation would set their password).
        """
        bad = [n for n in names if not ACCOUNT_NAME.match(n)]
        if bad:
            raise AccountStoreError(f"account name {bad[0][:64]!r} is not valid: use lower-case letters, digits and "
                                    "'-', starting with a letter, at most 32 characters")
        existing = self._roles_and_hashes(names)
        staff = sorted(n for n, (role, _) in existing.items() if role != "learner")
        if staff:
            raise AccountStoreError(f"account {staff[0]!r} belongs to staff (role {existing[staff[0]][0]}): a roster "
                                    "lists candidates only; give the candidate an account name of their own")
        created = sorted(set(names) - set(existing))
        if created:
            with self.engine.begin() as conn:
                conn.execute(accounts_table.insert(), [{"name": n, "role": "learner", "password_hash": INVITED,
                                                        "created_at": now} for n in created])
        invited = sorted(set(created) | {n for n, (_, stored) in existing.items() if stored.startswith(INVITED)})
        return created, invited

    def invite(self, names: list[str], now: dt.datetime, valid_for: dt.timedelta) -> dict[str, str]:
        """A new one-time invitation for each learner of ``names`` (their earlier unused ones are revoked).

        Returns:
            ``{name: token}``: the tokens, shown only now (the store keeps their SHA-256).
        Raises:
            AccountStoreError: a name has no account, or is not a learner's.
        """
        names = sorted(set(names))
        found = self._roles_and_hashes(names)
        roles = {name: role for name, (role, _) in found.items()}
        institutional = {name for name, (_, stored) in found.items() if stored.startswith(INSTITUTION)}
        missing = [n for n in names if n not in roles]
        if missing:
            raise AccountStoreError(f"no account named {missing[0]!r}; load the roster that lists it first")
        staff = [n for n in names if roles[n] != "learner"]
        if staff:
            raise AccountStoreError(f"{staff[0]!r} belongs to staff (role {roles[staff[0]]}): invitations are for "
                                    "candidates and learners only (staff change their password with 'tremplin "
                                    "accounts password')")
        if institutional:
            raise AccountStoreError(f"{min(institutional)!r} logs in through their institution: it has no password "
                                    "here, so no invitation")
        tokens = {n: secrets.token_urlsafe(32) for n in names}
        with self.engine.begin() as conn:
            for chunk in _chunks(names, 500):
                conn.execute(invitations_table.update().where(invitations_table.c.name.in_(chunk),
                                                              invitations_table.c.used_at.is_(None))
                             .values(revoked=True))
            if tokens:
                conn.execute(invitations_table.insert(), [
                    {"token_hash": token_hash(t), "name": n, "created_at": now, "expires_at": now + valid_for,
                     "used_at": None, "revoked": False} for n, t in tokens.items()])
        return tokens

    def revoke_invitations(self, names: list[str]) -> None:
        with self.engine.begin() as conn:
            for chunk in _chunks(sorted(set(names)), 500):
                conn.execute(invitations_table.update().where(invitations_table.c.name.in_(chunk),
                                                              invitations_table.c.used_at.is_(None))
                             .values(revoked=True))

    def invitation(self, token: str, now: dt.datetime) -> str:
        """The account an invitation is for, if it can still be used (it is not used by this).

        Raises:
            InvitationError: unknown, used, revoked or expired (bilingual, for the person who followed it).
        """
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(invitations_table).where(
                invitations_table.c.token_hash == token_hash(token[:200]))).first()
        if row is None or row.revoked:
            raise InvitationError(
                "Ce lien d'invitation n'est pas valide (il a peut-être été remplacé par un plus récent). Demandez un "
                "nouveau lien au coordinateur de votre session. / This invitation link is not valid (a newer one may "
                "have replaced it). Ask your session's coordinator for a new link.")
        if row.used_at is not None:
            raise InvitationError(
                "Ce lien d'invitation a déjà servi : connectez-vous avec votre nom de compte et le mot de passe "
                "choisi. Mot de passe oublié ? Demandez un nouveau lien au coordinateur. / This invitation link was "
                "already used: sign in with your account name and the password you chose. Forgot it? Ask the "
                "coordinator for a new link.")
        if _aware(row.expires_at) <= now:
            raise InvitationError(
                f"Ce lien d'invitation a expiré le {_aware(row.expires_at):%Y-%m-%d %H:%M} UTC. Demandez un nouveau "
                f"lien au coordinateur de votre session. / This invitation link expired on "
                f"{_aware(row.expires_at):%Y-%m-%d %H:%M} UTC. Ask your session's coordinator for a new link.")
        return row.name

    def redeem(self, token: str, password: str, now: dt.datetime) -> str:
        """Use an invitation: set its account's password, once. Returns the account's name.

        Raises:
            InvitationError: the link cannot be used (:meth:`invitation`), or another request used it first.
            AccountStoreError: the password is too short (the link stays usable).
        """
        name = self.invitation(token, now)
        if len(password) < 8:
            raise AccountStoreError("Le mot de passe doit compter au moins 8 caractères. / The password must have at "
                                    "least 8 characters.")
        digest = hash_password(password)  # (before the transaction: 40 ms of CPU)
        with self.engine.begin() as conn:
            used = conn.execute(invitations_table.update().where(
                invitations_table.c.token_hash == token_hash(token[:200]), invitations_table.c.used_at.is_(None),
                invitations_table.c.revoked.is_(False)).values(used_at=now)).rowcount
            if used != 1:  # (two tabs submitted the same link: the first one wins)
                raise InvitationError(
                    "Ce lien d'invitation vient de servir. Connectez-vous avec votre nom de compte et votre mot de "
                    "passe. / This invitation link was just used. Sign in with your account name and password.")
            conn.execute(invitations_table.update().where(invitations_table.c.name == name,
                                                          invitations_table.c.used_at.is_(None))
                         .values(revoked=True))
            conn.execute(accounts_table.update()
                         .where(accounts_table.c.name == name, accounts_table.c.role == "learner")
                         .values(password_hash=digest))
        return name

    def without_password(self, names: list[str]) -> set[str]:
        """The names whose account still waits for its invitation to be used (no password yet)."""
        out = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(names)), 500):
                out.update(conn.execute(sa.select(accounts_table.c.name).where(
                    accounts_table.c.name.in_(chunk), accounts_table.c.password_hash.startswith(INVITED))).scalars())
        return out

    def pending_invitations(self, names: list[str], now: dt.datetime) -> dict[str, dt.datetime]:
        """``{name: expiry}`` of the names that hold an invitation still usable."""
        out = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(names)), 500):
                for name, expires in conn.execute(sa.select(invitations_table.c.name, invitations_table.c.expires_at)
                                                  .where(invitations_table.c.name.in_(chunk),
                                                         invitations_table.c.used_at.is_(None),
                                                         invitations_table.c.revoked.is_(False))):
                    if _aware(expires) > now:
                        out[name] = max(out.get(name, _aware(expires)), _aware(expires))
        return out

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


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]
