"""Nobody's browser but the learner's own ever runs what a learner's server serves.

Learners' servers share the hub's origin with the staff pages (the exam service, formgraders,
the admin page): whatever a learner's server sends (a file of their home, or a whole JupyterLab
they changed) runs with the visitor's cookies for the whole site. Hub administrators could open
any learner's server (JupyterHub's admin role has ``access:servers``), so one link from a
learner, opened by an administrator, acted as that administrator. Tremplin's administrators
are therefore not JupyterHub admins: their role (``tremplin-admin``) has everything of the admin
role but opening other people's servers and creating tokens for them. The production setup
adds separate origins (README: "Origins").
"""

from __future__ import annotations

import re

import requests


def browse(s: requests.Session, url: str) -> requests.Response:
    """A browser's GET, OAuth redirects followed (the learner server sends a visitor to the hub and back),
    and the hub's "authorize access" form accepted as a visitor would, by one click."""
    r = s.get(url, allow_redirects=True, timeout=60)
    if "/oauth2/authorize" in r.url and r.status_code == 200 and "<form" in r.text:
        form = r.text[r.text.index("<form"):]
        fields = [(m.group(1), m.group(2)) for m in re.finditer(
            r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form[:form.index("</form>")])]
        r = s.post(r.url, data=fields, allow_redirects=True, timeout=60)
    return r


def test_an_administrator_cannot_open_a_learners_server_or_mint_a_token_for_them(hub):
    learner = hub.names["learner1"]
    server = hub.start_server("learner1")
    planted = "<script>fetch('/services/tremplin-exam/exports/')</script>planted-by-learner1"
    with hub.user_session("learner1") as own:
        r = own.put(f"{server}/api/contents/planted.html", json={"type": "file", "format": "text", "content": planted})
    assert r.status_code in (200, 201), r.text
    with hub.login("admin") as admin:
        check_admin(hub, admin, learner, server)


def check_admin(hub, admin: requests.Session, learner: str, server: str) -> None:
    r = browse(admin, f"{server}/files/planted.html")
    assert r.status_code == 403 and "planted-by-learner1" not in r.text, \
        f"an administrator's browser loaded {learner}'s page: {r.status_code} {r.url}"
    # The admin page still works for them, and the admin API for users.
    assert browse(admin, f"{hub.url}/hub/admin").status_code == 200
    xsrf = admin.cookies.get("_xsrf", path="/hub/")
    headers = {"X-XSRFToken": xsrf} if xsrf else {}
    assert admin.get(f"{hub.api}/users/{learner}", headers=headers).status_code == 200, "admin:users still works"
    r = admin.post(f"{hub.api}/users/{learner}/tokens", json={"note": "help"}, headers=headers)
    assert r.status_code == 403, f"an administrator made a token for {learner}: {r.status_code}"
    model = admin.get(f"{hub.api}/user", headers=headers).json()
    assert model["admin"] is False and "admins" in model["groups"], model


def test_another_learner_and_a_coordinator_are_refused_too(hub):
    server = hub.start_server("learner1")
    for who in ("learner2", "coordinator", "professor"):
        with hub.login(who) as visitor:
            r = browse(visitor, f"{server}/api/contents")
        assert r.status_code == 403, f"{who} reached learner1's server: {r.status_code}"
        assert not re.search(r'"type":\s*"directory"', r.text)
