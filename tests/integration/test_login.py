"""Password login on a real hub: guesses are slowed per account, the page says for how long (FR/EN)."""

from __future__ import annotations

import re
import time

import pytest
import requests

pytestmark = pytest.mark.hub


def attempt(hub, name: str, password: str) -> requests.Response:
    s = requests.Session()
    form = s.get(f"{hub.url}/hub/login")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text).group(1)
    return s.post(f"{hub.url}/hub/login", data={"username": name, "password": password, "_xsrf": xsrf},
                  allow_redirects=False)


def test_guessing_a_password_is_slowed_and_the_page_says_how_long(hub):
    name = hub.add_learner("guessed", "python-intro")
    other = hub.add_learner("neighbour", "python-intro")
    for _ in range(5):
        r = attempt(hub, name, "wrong-password")
        assert r.status_code == 403 and "Invalid username or password" in r.text
    r = attempt(hub, name, hub.passwords[name])  # even the right password waits its turn: no hash is run
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1, r.status_code
    assert "Trop de tentatives de connexion" in r.text and "Too many login attempts: try again in 1 s" in r.text
    assert attempt(hub, other, hub.passwords[other]).status_code == 302  # the same address, another account
    time.sleep(1.2)
    r = attempt(hub, name, hub.passwords[name])
    assert r.status_code == 302 and "/hub/" in r.headers["Location"], (r.status_code, r.text[:300])
    r = attempt(hub, name, "wrong-password")  # a success starts the count again
    assert r.status_code == 403


def test_the_login_page_and_its_refusal_speak_french_and_english(hub):
    page = requests.get(f"{hub.url}/hub/login").text
    for fr, en in (("Connexion", "Sign in"), ("Identifiant", "Username"), ("Mot de passe", "Password"),
                   ("Se connecter", "Sign in")):
        assert fr in page and en in page, (fr, en)
    assert 'id="username_input"' in page and 'id="password_input"' in page and 'id="login_submit"' in page
    r = attempt(hub, hub.add_learner("typo", "python-intro"), "not-the-password")
    assert r.status_code == 403
    assert "Identifiant ou mot de passe incorrect" in r.text and "Invalid username or password" in r.text
