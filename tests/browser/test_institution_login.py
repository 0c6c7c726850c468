"""Institutional login in headless Chromium, against a real OpenID Connect provider on loopback (npm oidc-provider,
tests/oidc): staff sign in with their institution's login and get the Tremplin groups its claim maps to; someone
the claim gives nothing is refused, in French and English; an institution's name that is a local account's is
refused; local accounts keep logging in with their password beside it; logout ends the hub session."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest
import requests

from browserkit import login
from hubfixture import RunningHub, free_port, make_base
from tremplin_hub.accounts import AccountStore, AccountStoreError
from tremplin_hub.layout import Layout

pytestmark = [pytest.mark.hub, pytest.mark.browser]

ROLES = {"math-staff": ["professors", "formgrade-preselection-math"], "exam-office": ["coordinators"]}


@pytest.fixture(scope="module")
def institution():
    provider_dir = Path(os.environ.get("TREMPLIN_TEST_OIDC_DIR", "/opt/tremplin/oidc-test"))
    if not (provider_dir / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(f"the test OpenID Connect provider is not installed in {provider_dir}: run 'make test' (it "
                    "installs tests/oidc with npm ci)")
    hub = RunningHub(make_base())
    provider = None
    try:
        hub.prepare(courses=["preselection-math"])
        hub.choose_ports()
        suffix = hub.names["learner1"].split("-")[0]
        people = {  # the provider's accounts: their login there, and the claims it gives
            "marie": {"preferred_username": f"{suffix}-marie", "name": "Marie Curie", "groups": ["math-staff"]},
            "paul": {"preferred_username": f"{suffix}-paul", "groups": ["exam-office", "library"]},
            "eve": {"preferred_username": f"{suffix}-eve", "groups": ["students"]},
            "clash": {"preferred_username": hub.names["learner1"], "groups": ["math-staff"]},
        }
        port, secret = free_port(), secrets.token_urlsafe(24)
        conf = {"port": port, "accounts": people,
                "clients": [{"client_id": "tremplin-hub", "client_secret": secret,
                             "redirect_uris": [f"{hub.url}/hub/oauth_callback"]}]}
        # (installed beside its node_modules by make: an ES module finds its packages from its own folder)
        log = hub.base / "oidc-provider.log"
        with open(log, "wb") as out:
            provider = subprocess.Popen(["node", str(provider_dir / "provider.mjs"), json.dumps(conf)],
                                        cwd=provider_dir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        issuer = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert provider.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        hub.extra_env = {"TREMPLIN_OIDC_ISSUER": issuer, "TREMPLIN_OIDC_CLIENT_ID": "tremplin-hub",
                         "TREMPLIN_OIDC_CLIENT_SECRET": secret, "TREMPLIN_OIDC_ROLES": json.dumps(ROLES),
                         "TREMPLIN_OIDC_NAME": "Université partenaire"}
        hub.start()
        hub.people = people
        yield hub
    finally:
        if provider is not None:
            provider.terminate()
            provider.wait(10)
        hub.cleanup()


def sign_in_at_institution(page, hub, login_there: str) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.click("#institution_login")
    page.fill("input[name=login]", login_there)  # (oidc-provider's development login page: any password)
    page.fill("input[name=password]", "anything")
    page.click("button[type=submit]")
    page.click("button[type=submit]:has-text('Continue')")  # its consent page


def groups_of(hub, name: str) -> set[str]:
    r = hub.admin().get(f"{hub.api}/users/{name}")
    return set(r.json()["groups"]) if r.status_code == 200 else set()


def test_staff_sign_in_with_their_institution_and_get_the_groups_its_claim_maps_to(institution, browser):
    hub = institution
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{hub.url}/hub/login")
    button = page.locator("#institution_login")
    assert "Se connecter avec Université partenaire" in button.inner_text() and "Sign in with" in button.inner_text()
    sign_in_at_institution(page, hub, "marie")
    page.wait_for_url("**/hub/home")
    marie = hub.people["marie"]["preferred_username"]
    assert groups_of(hub, marie) >= {"professors", "formgrade-preselection-math"}
    assert hub.admin().get(f"{hub.api}/users/{marie}").json()["admin"] is False
    card = page.locator(".tremplin-course[data-course='preselection-math']")
    assert card.locator("a[href$='/services/preselection-math/formgrader']").count() == 1
    # logout ends the hub's session: the home page asks to log in again
    page.click("#logout")
    page.goto(f"{hub.url}/hub/home")
    page.wait_for_url("**/hub/login**")
    context.close()

    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    sign_in_at_institution(page, hub, "paul")
    page.wait_for_url("**/hub/home")
    paul = hub.people["paul"]["preferred_username"]
    assert "coordinators" in groups_of(hub, paul) and "professors" not in groups_of(hub, paul)
    assert page.is_visible("#tremplin-exam-sessions")
    context.close()


def test_someone_the_claim_gives_nothing_is_refused_in_french_and_english(institution, browser):
    hub = institution
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    sign_in_at_institution(page, hub, "eve")
    page.wait_for_load_state("networkidle")
    text = page.inner_text("body")
    assert "Votre établissement ne vous donne pas accès" in text and "Your institution gives you no access" in text
    assert groups_of(hub, hub.people["eve"]["preferred_username"]) == set()
    context.close()
    store = AccountStore(Layout(hub.data_dir).accounts_url)
    try:
        assert store.get(hub.people["eve"]["preferred_username"]) is None, "a refused person is not recorded"
    finally:
        store.close()


def test_an_institution_cannot_sign_in_as_a_local_account_and_local_accounts_still_sign_in(institution, browser):
    hub = institution
    local = hub.names["learner1"]
    before = groups_of(hub, local)
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    sign_in_at_institution(page, hub, "clash")
    page.wait_for_load_state("networkidle")
    assert "compte local" in page.inner_text("body") and "local Tremplin account" in page.inner_text("body")
    assert groups_of(hub, local) == before and "professors" not in before
    context.close()
    # the local account signs in with its password on the same page
    context = browser.new_context()
    page = context.new_page()
    login(page, hub, "learner1")
    page.wait_for_url("**/hub/home")
    context.close()


def test_an_institutions_name_cannot_be_given_a_local_account_later(institution):
    hub = institution
    marie = hub.people["marie"]["preferred_username"]
    store = AccountStore(Layout(hub.data_dir).accounts_url)
    try:
        assert store.get(marie) is not None and store.get(marie).role == "professor"
        with pytest.raises(AccountStoreError, match="already exists"):
            store.add(marie, "learner", "a-long-password")
        with pytest.raises(AccountStoreError, match="through their institution"):
            store.set_password(marie, "a-long-password")
        assert store.check(marie, "anything") is None
    finally:
        store.close()
