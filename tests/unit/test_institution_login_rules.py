"""Institutional login's rules without a hub: the claim's groups mapped to Tremplin's, the role recorded, the
settings read from the environment with clear messages (the browser test runs the real protocol)."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from asynckit import run
from tremplin_hub.accounts import AccountStore, AccountStoreError
from tremplin_hub.hubconfig import configure_institution_login
from tremplin_hub.oidc import InstitutionLogin, role_of

ROLES = {"math-staff": ["professors", "formgrade-preselection-math"], "exam-office": ["coordinators"]}


@pytest.mark.parametrize("claim,groups", [
    (["math-staff", "library"], {"professors", "formgrade-preselection-math"}),
    ("exam-office", {"coordinators"}),
    (["students"], set()),
    ([], set()),
    (None, set()),
    ([42, {"x": 1}], set()),  # (what a claim may hold that is not a group's name)
])
def test_the_claim_gives_only_the_groups_the_mapping_names(claim, groups):
    login = InstitutionLogin(config=Config({"InstitutionLogin": {"roles": ROLES}}))
    state = {"oauth_user": {"groups": claim}} if claim is not None else {"oauth_user": {}}
    assert run(login.get_user_groups(state)) == groups
    assert login.managed_groups() == {"professors", "formgrade-preselection-math", "coordinators"}
    assert run(login.check_allowed("x", {"groups": sorted(groups)})) is bool(groups)


@pytest.mark.parametrize("groups,role", [
    ({"admins", "professors"}, "admin"), ({"coordinators"}, "coordinator"), ({"admissions"}, "admissions"),
    ({"professors", "formgrade-x"}, "professor"), ({"nbgrader-x"}, "learner"),
])
def test_the_recorded_role_is_the_highest_the_groups_give(groups, role):
    assert role_of(groups) == role


def test_an_institutions_login_is_recorded_without_password_and_never_takes_a_local_account(tmp_path):
    store = AccountStore(f"sqlite:///{tmp_path / 'accounts.sqlite'}")
    try:
        store.add("amina", "learner", "a-long-password")
        with pytest.raises(AccountStoreError, match="local Tremplin account"):
            store.record_institution_login("amina", "professor", "univ")
        assert store.get("amina").role == "learner" and store.check("amina", "a-long-password") is not None
        store.record_institution_login("marie", "professor", "univ")
        store.record_institution_login("marie", "coordinator", "univ")  # (the claim changed)
        assert store.get("marie").role == "coordinator" and store.check("marie", "institution:univ") is None
        with pytest.raises(AccountStoreError, match="not a valid Tremplin account name"):
            store.record_institution_login("Marie@univ.example", "learner", "univ")
    finally:
        store.close()


@pytest.mark.parametrize("env,message", [
    ({"TREMPLIN_OIDC_ISSUER": "http://127.0.0.1:9"}, "set TREMPLIN_OIDC_CLIENT_ID, TREMPLIN_OIDC_CLIENT_SECRET, "
                                                     "TREMPLIN_OIDC_ROLES too"),
    ({"TREMPLIN_OIDC_ISSUER": "http://127.0.0.1:9", "TREMPLIN_OIDC_CLIENT_ID": "a", "TREMPLIN_OIDC_CLIENT_SECRET": "b",
      "TREMPLIN_OIDC_ROLES": "{}"}, "discovery document http://127.0.0.1:9/.well-known/openid-configuration cannot "
                                    "be read"),
])
def test_missing_or_unreachable_settings_stop_the_hub_with_the_fix(env, message):
    with pytest.raises(SystemExit, match=message):
        configure_institution_login(Config(), env)
