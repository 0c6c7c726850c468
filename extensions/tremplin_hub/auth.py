"""Password login against Tremplin's account store.

Every account is created by an administrator (``tremplin accounts add``) or as a demo
account at first start; passwords are stored hashed (scrypt). The store is the allow
list: a name that is not in it cannot log in, whatever the password.
"""

from __future__ import annotations

from jupyterhub.auth import Authenticator
from traitlets import Unicode, default

from .accounts import AccountStore
from .layout import Layout, default_data_dir


class TremplinAuthenticator(Authenticator):
    """Checks name and password against Tremplin's accounts; admins are the accounts with role ``admin``."""

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

    _store = None

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
        # scrypt takes ~50 ms of CPU: keep it off the event loop.
        account = await self._run_blocking(self.store.check, name, password)
        if account is None:
            self.log.warning("failed login for %r", name)
            return None
        return {"name": account.name, "admin": account.role == "admin"}

    async def _run_blocking(self, func, *args):
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, func, *args)
