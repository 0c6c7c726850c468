"""Password login against Tremplin's account store.

Every account is created by an administrator (``tremplin accounts add``) or as a demo
account at first start; passwords are stored hashed (argon2id, :mod:`.accounts`). The
store is the allow list: a name that is not in it cannot log in, whatever the password.

Guessing is slowed per account and per address (:class:`LoginThrottle`): after a few
failures each further one doubles the wait before the next try, up to 15 minutes, and the
login page says so in French and English (HTTP 429). A refused try never runs the hash.
An address gets many more tries than an account: a lab or a country's carrier puts many
learners behind one address.

A campaign's candidates get their account from its roster (``tremplin campaign roster``) and set
their password by a one-time invitation link (:class:`InvitationHandler`, ``/hub/invitation?token=``).
The rosters also give them their exam courses' groups: applied at each login and at each refresh of
their authentication (every ``auth_refresh_age``, 5 minutes), so a withdrawn candidate loses the group
then (the exam service refuses them at once). Nothing is pushed to the hub per candidate: creating
10,000 hub users through its REST API takes minutes and holds its event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from dataclasses import dataclass

from jupyterhub.auth import Authenticator
from jupyterhub.handlers.base import BaseHandler
from jupyterhub.handlers.login import LoginHandler
from jupyterhub.user import User
from tornado import web
from traitlets import Bool, Float, Integer, Unicode, default

from .accounts import AccountStore, AccountStoreError, InvitationError
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


class InvitationHandler(BaseHandler):
    """``/hub/invitation?token=…``: a candidate chooses their password with the one-time link of their
    invitation, then is signed in. Following the link (GET) does not use it (mail scanners follow links);
    the form (POST) does. The token stays out of the hub's log (it scrubs ``token=``) and out of any
    ``Referer``."""

    def _page(self, token: str, *, name: str = "", error: str = "", usable: bool = True) -> str:
        return self.render_template("invitation.html", token=token, account=name, error=error, usable=usable,
                                    xsrf=self.xsrf_token.decode("ascii"))

    def _private_page(self) -> None:
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    async def get(self):
        token = self.get_argument("token", "")[:200]
        self._private_page()
        authenticator = self.authenticator
        try:
            name = await authenticator.run_blocking(authenticator.store.invitation, token, _utcnow())
        except InvitationError as exc:
            self.set_status(410)
            return self.finish(await self._page("", error=str(exc), usable=False))
        self.finish(await self._page(token, name=name))

    async def post(self):
        token = self.get_argument("token", "")[:200]
        password = self.get_argument("password", "")[:1024]
        self._private_page()
        authenticator = self.authenticator
        if password != self.get_argument("password2", "")[:1024]:
            try:
                name = await authenticator.run_blocking(authenticator.store.invitation, token, _utcnow())
            except InvitationError as exc:
                self.set_status(410)
                return self.finish(await self._page("", error=str(exc), usable=False))
            self.set_status(400)
            return self.finish(await self._page(token, name=name, error=(
                "Les deux mots de passe diffèrent : tapez le même deux fois. / The two passwords differ: type the same "
                "one twice.")))
        try:
            name = await authenticator.run_blocking(authenticator.store.redeem, token, password, _utcnow())
        except InvitationError as exc:
            self.set_status(410)
            return self.finish(await self._page("", error=str(exc), usable=False))
        except AccountStoreError as exc:  # (too short: the link is still usable)
            name = await authenticator.run_blocking(authenticator.store.invitation, token, _utcnow())
            self.set_status(400)
            return self.finish(await self._page(token, name=name, error=str(exc)))
        self.log.info("invitation of %s used: password set", name)
        try:
            user = await self.login_user({"username": name, "password": password})
        except LoginThrottled as exc:  # (their address failed many logins: the password is set all the same)
            self.set_status(429)
            self.set_header("Retry-After", str(exc.seconds))
            return self.finish(await self._page("", usable=False, error=(
                f"Votre mot de passe est enregistré. {exc} / Your password is saved.")))
        if user is None:  # (cannot happen but for a concurrent change of the account: say so, never loop)
            raise web.HTTPError(500, f"the password of {name} was set but the login failed; sign in at /hub/login")
        self.redirect(self.get_next_url(user))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


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
        from .campaign_pages import CampaignsPage

        handlers = [("/login", ThrottledLoginHandler), ("/invitation", InvitationHandler),
                    ("/campaigns", CampaignsPage)]
        if self.institution_login:
            from .oidc import InstitutionCallbackHandler, InstitutionLoginHandler

            handlers += [("/oauth_login", InstitutionLoginHandler), ("/oauth_callback", InstitutionCallbackHandler)]
        return handlers

    async def record_institution_login(self, name: str, role: str, institution: str) -> None:
        """Record an institutional login in the account store (:meth:`AccountStore.record_institution_login`)."""
        await self.run_blocking(self.store.record_institution_login, name, role, institution)

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
        account = await self.run_blocking(self.store.check, name, password)
        if account is None:
            by_name.failed(f"name:{name}")
            by_address.failed(address)
            self.log.warning("failed login for %r from %s", name[:32], address)
            return None
        by_name.succeeded(f"name:{name}")
        # Never a JupyterHub admin (its role opens every learner's server): role admin is the
        # group 'admins' and its role tremplin-admin (tremplin_hub.hubconfig.ADMIN_SCOPES).
        return {"name": account.name, "admin": False}

    async def run_blocking(self, func, *args):
        """``func(*args)`` on a thread: the account store's work (argon2id, SQL) never holds the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, func, *args)

    # ---- the rosters' groups ----------------------------------------------------------------------------
    async def apply_rosters(self, user) -> None:
        """Give ``user`` (a hub user) the exam courses' groups their campaigns' rosters give them, and take away
        those of a campaign that withdrew them (:meth:`Admissions.enrolment`); their other groups stay."""
        from .admissions.store import Admissions

        enrolled, withdrawn = await self.run_blocking(Admissions.enrolment, Layout(default_data_dir()), user.name)
        current = {group.name for group in user.groups}
        wanted = (current | enrolled) - withdrawn
        if wanted != current:
            user.sync_groups(sorted(wanted))

    async def add_user(self, user):
        """A hub user is created (at first login): their rosters' groups. (The hub also calls this at start for
        each user of its database, with the database's record: not then, it would read the rosters 10,000 times.)"""
        super().add_user(user)
        if isinstance(user, User):
            await self.apply_rosters(user)

    async def run_post_auth_hook(self, handler, authentication):
        """Every login of someone the hub knows already: their rosters' groups, as they are now."""
        authentication = await super().run_post_auth_hook(handler, authentication)
        user = handler.find_user(authentication["name"]) if authentication else None
        if user is not None:
            await self.apply_rosters(user)
        return authentication

    async def refresh_user(self, user, handler=None, **kwargs):
        """Every ``auth_refresh_age`` while someone uses the hub: a withdrawal takes their exam groups away."""
        await self.apply_rosters(user)
        return True
