"""Institutional login: staff (or learners) of partner institutions sign in with their own OpenID Connect login.

oauthenticator's ``GenericOAuthenticator`` does the protocol (authorization code with PKCE,
token, userinfo). :class:`InstitutionLogin` adds what Tremplin needs:

* **Roles and courses from a claim.** ``roles`` maps each value of the ``groups`` claim (or
  ``groups_claim``) to Tremplin hub groups: ``admins``, ``coordinators``, ``admissions``,
  ``professors``, ``formgrade-<course>`` (a course's graders), ``nbgrader-<course>`` (its
  learners). At each login the person's mapped groups are set from the claim (a group taken
  away by the institution is taken away here); their other groups (a course's ``course.toml``
  lists, the roster) stay. A person whose claim maps to no group is refused (403, in French and
  English).
* **Never a JupyterHub admin** (its role opens every learner's server): administrators are the
  group ``admins``, as for local accounts.
* **Local accounts coexist.** Password accounts stay (candidates local, staff through their
  institution, for example). A login name is one person: an institutional login whose name is a
  local password account's is refused, and each institutional login is recorded in the account
  store (no password), so ``tremplin accounts add`` refuses that name later.

Enabled by ``TremplinAuthenticator.institution_login`` (``jupyterhub_config.py`` reads it from
``TREMPLIN_OIDC_*``: README, "Institutional login"). The login page then shows *Se connecter avec …
/ Sign in with …* beside the password form.
"""

from __future__ import annotations

from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthCallbackHandler, OAuthLoginHandler
from tornado import web
from traitlets import Dict, List, Unicode, default

from .admissions.store import Admissions
from .layout import Layout, default_data_dir
from .roles import ROLE_GROUPS

REFUSED = ("Votre établissement ne vous donne pas accès à Tremplin. Si vous devriez y avoir accès, demandez à votre "
           "service informatique de vous ajouter au groupe prévu. / Your institution gives you no access to Tremplin. "
           "If you should have access, ask your IT department to add you to the intended group.")


class InstitutionLogin(GenericOAuthenticator):
    """OpenID Connect login of a partner institution, mapped to Tremplin's groups (see the module docstring)."""

    roles = Dict(key_trait=Unicode(), value_trait=List(Unicode()), help="""Each value of the groups claim, and the
        Tremplin hub groups it gives: {"math-staff": ["professors", "formgrade-preselection-math"],
        "exam-office": ["coordinators"]}. A person none of whose values is here is refused.""").tag(config=True)

    groups_claim = Unicode("groups", help="The userinfo claim listing the person's groups at their institution "
                                          "(a list of strings, or one string).").tag(config=True)

    @default("manage_groups")
    def _manage_groups_default(self):
        return True

    @default("scope")
    def _scope_default(self):
        return ["openid", "profile", "email", "groups"]

    @default("username_claim")
    def _username_claim_default(self):
        return "preferred_username"

    @default("login_service")
    def _login_service_default(self):
        return ""  # (the login page then says "votre établissement / your institution")

    @default("custom_403_message")
    def _custom_403_message_default(self):
        return REFUSED

    def managed_groups(self) -> set[str]:
        """Every group the claim can give: the institution decides these, and only these."""
        return {group for groups in self.roles.values() for group in groups}

    async def get_user_groups(self, auth_state: dict) -> set[str]:
        claim = (auth_state.get(self.user_auth_state_key) or {}).get(self.groups_claim) or []
        values = [claim] if isinstance(claim, str) else [v for v in claim if isinstance(v, str)]
        return {group for value in values for group in self.roles.get(value, ())}

    async def authenticate(self, handler, data=None, **kwargs):
        model = await super().authenticate(handler, data, **kwargs)
        if model is None:
            return None
        local = handler.settings["authenticator"]  # (TremplinAuthenticator: the account store's door)
        name = self.normalize_username(model["name"])
        mapped = set(model.get("groups") or ())
        if mapped:  # (someone the claim gives nothing is refused by check_allowed, and not recorded)
            try:
                await local.record_institution_login(name, role_of(mapped), self.login_service or "institution")
            except ValueError as exc:  # not a valid name, or a local password account's
                self.log.warning("institution login of %r refused: %s", name[:64], exc)
                raise web.HTTPError(403, f"{exc}") from None
        user = handler.find_user(name)
        kept = {g.name for g in user.groups} - self.managed_groups() if user is not None else set()
        # (a campaign's roster may list them too: its exam courses, as at a local login)
        enrolled, withdrawn = await local.run_blocking(Admissions.enrolment, Layout(default_data_dir()), name)
        model["groups"] = sorted(((kept | enrolled) - withdrawn) | mapped)
        model["admin"] = False
        self.log.info("institution login of %s: groups %s from the claim", name, sorted(mapped) or "none")
        return model

    async def check_allowed(self, username, auth_model):
        if auth_model is None:
            return True
        return bool(set(auth_model.get("groups") or ()) & self.managed_groups())


def role_of(groups: set[str]) -> str:
    """The account store's role for someone in ``groups`` (its role groups, the highest first)."""
    for role in ("admin", "coordinator", "admissions", "professor"):
        if ROLE_GROUPS[role] in groups:
            return role
    return "learner"


class _ToInstitution:
    """JupyterHub's handlers ask ``self.authenticator``: these ask the institution's."""

    @property
    def authenticator(self):
        return self.settings["authenticator"].institution


class InstitutionLoginHandler(_ToInstitution, OAuthLoginHandler):
    pass


class InstitutionCallbackHandler(_ToInstitution, OAuthCallbackHandler):
    pass
