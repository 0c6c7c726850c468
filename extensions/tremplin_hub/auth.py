"""Password login against Tremplin's account store.

Every account is created by an administrator (``tremplin accounts add``) or as a demo
account at first start; passwords are stored hashed (argon2id, :mod:`.accounts`). The
store is the allow list: a name that is not in it cannot log in, whatever the password.

Guessing is slowed per account and per address (:class:`LoginThrottle`): after a few
failures each further one doubles the wait before the next try, up to 15 minutes, and the
login page says so in French and English (HTTP 429). A refused try never runs the hash.
An address gets many more tries than an account: a lab or a country's carrier puts many
learners behind one address.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from jupyterhub.auth import Authenticator
from jupyterhub.handlers.login import LoginHandler
from traitlets import Bool, Float, Integer, Unicode, default

from .accounts import AccountStore
from .layout import Layout, default_data_dir


class LoginThrottled(Exception):
    """Too many failed logins for this name or address: try again in ``seconds``."""

    def __init__(self, seconds: int):
        self.seconds = seconds
        wait = f"{seconds} s" if seconds < 90 else f"{math.ceil(seconds / 60)} min"
        super().__init__(f"Trop de tentatives de connexion : réessayez dans {wait}. / "
                         f"Too many login attempts: try again in {wait}.")


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


class LoginThrottle:
    """Failed logins per key (an account name, an address), with an exponential wait past ``free`` failures.

    The ``n``-th failure in a row past ``free`` makes the key wait ``2 ** (n - free)`` seconds
    (at most ``most``) after it; failures older than ``forget`` seconds are forgotten; a
    success clears the account's count (not the address's).
    """

    def __init__(self, free: int, most: float = 900.0, forget: float = 900.0, clock=time.monotonic):
        self.free, self.most, self.forget, self.clock = free, most, forget, clock
        self._failures: dict[str, _Failures] = {}

    def wait(self, key: str) -> int:
        """Seconds ``key`` must still wait before its next try (0: it may try now)."""
        f = self._failures.get(key)
        if f is None:
            return 0
        now = self.clock()
        if now - f.last > max(self.forget, self._delay(f.count)):
            del self._failures[key]
            return 0
        return max(0, math.ceil(f.last + self._delay(f.count) - now))

    def failed(self, key: str) -> None:
        now = self.clock()
        f = self._failures.get(key)
        if f is None or now - f.last > max(self.forget, self._delay(f.count)):
            f = self._failures[key] = _Failures()
        f.count += 1
        f.last = now
        if len(self._failures) > 100_000:  # an address spraying names: keep the memory bounded
            self._drop_oldest()

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def _delay(self, count: int) -> float:
        return 0.0 if count < self.free else min(self.most, 2.0 ** min(count - self.free, 40))  # (no overflow)

    def _drop_oldest(self) -> None:
        for key, _ in sorted(self._failures.items(), key=lambda kv: kv[1].last)[:10_000]:
            del self._failures[key]


class ThrottledLoginHandler(LoginHandler):
    """JupyterHub's login page, which says how long to wait when logins are throttled (HTTP 429)."""

    async def post(self):
        try:
            return await super().post()
        except LoginThrottled as exc:
            self.set_status(429)
            self.set_header("Retry-After", str(exc.seconds))
            self.finish(await self._render(login_error=str(exc), username=self.get_argument("username", "")[:32]))


class TremplinAuthenticator(Authenticator):
    """Checks name and password against Tremplin's accounts; administrators (role ``admin``) are in the
    hub group ``admins``, never JupyterHub admins."""

    accounts_url = Unicode(
        help="""SQLAlchemy URL of the account store.

        Default: ``sqlite:///<data dir>/hub/accounts.sqlite`` (data dir from $TREMPLIN_DATA_DIR).
        """,
    ).tag(config=True)

    @default("accounts_url")
    def _accounts_url_default(self):
        return Layout(default_data_dir()).accounts_url

    @default("allow_all")
    def _allow_all_default(self):
        # The account store is the allow list: authenticate() returns None for anyone else.
        return True

    failures_per_account = Integer(5, help="Failed logins of one account before each further one doubles the "
                                           "wait (default 5).").tag(config=True)
    failures_per_address = Integer(50, help="Failed logins from one address before each further one doubles the "
                                           "wait (default 50: labs and carriers put many people behind one "
                                           "address).").tag(config=True)
    longest_wait = Float(900.0, help="The longest wait imposed after failed logins, in seconds (default 900).").tag(
        config=True)

    _store = None
    _throttles = None

    @property
    def throttles(self) -> tuple[LoginThrottle, LoginThrottle]:
        if self._throttles is None:
            self._throttles = (LoginThrottle(self.failures_per_account, self.longest_wait, self.longest_wait),
                               LoginThrottle(self.failures_per_address, self.longest_wait, self.longest_wait))
        return self._throttles

    institution_login = Bool(False, help="""Also offer login through a partner institution's OpenID Connect
        provider (tremplin_hub.oidc.InstitutionLogin, configured as c.InstitutionLogin.*). Local accounts keep
        working beside it.""").tag(config=True)

    _institution = None

    @property
    def institution(self):
        """The institution's login (:class:`tremplin_hub.oidc.InstitutionLogin`), configured from this one's config."""
        if self._institution is None:
            from .oidc import InstitutionLogin

            self._institution = InstitutionLogin(parent=self)
        return self._institution

    def get_handlers(self, app):
        handlers = [("/login", ThrottledLoginHandler)]
        if self.institution_login:
            from .oidc import InstitutionCallbackHandler, InstitutionLoginHandler

            handlers += [("/oauth_login", InstitutionLoginHandler), ("/oauth_callback", InstitutionCallbackHandler)]
        return handlers

    async def record_institution_login(self, name: str, role: str, institution: str) -> None:
        """Record an institutional login in the account store (:meth:`AccountStore.record_institution_login`)."""
        await self._run_blocking(self.store.record_institution_login, name, role, institution)

    @property
    def store(self) -> AccountStore:
        if self._store is None:
            self._store = AccountStore(self.accounts_url)
        return self._store

    async def authenticate(self, handler, data):
        name = self.normalize_username((data or {}).get("username", ""))
        password = (data or {}).get("password", "")
        if not name or not password:
            return None
        by_name, by_address = self.throttles
        address = f"ip:{handler.request.remote_ip if handler is not None else ''}"
        wait = max(by_name.wait(f"name:{name}"), by_address.wait(address))
        if wait:
            self.log.warning("login of %r from %s refused for %d s more (too many failures)", name[:32], address, wait)
            raise LoginThrottled(wait)
        # argon2id takes ~40 ms of CPU: keep it off the event loop.
        account = await self._run_blocking(self.store.check, name, password)
        if account is None:
            by_name.failed(f"name:{name}")
            by_address.failed(address)
            self.log.warning("failed login for %r from %s", name[:32], address)
            return None
        by_name.succeeded(f"name:{name}")
        # Never a JupyterHub admin (its role opens every learner's server): role admin is the
        # group 'admins' and its role tremplin-admin (tremplin_hub.hubconfig.ADMIN_SCOPES).
        return {"name": account.name, "admin": False}

    async def _run_blocking(self, func, *args):
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, func, *args)
