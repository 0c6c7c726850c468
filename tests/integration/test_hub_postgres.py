"""JupyterHub's own database on PostgreSQL (``TREMPLIN_HUB_DB_URL``), as a hub beyond one machine has it.

The rest of the suite runs the hub on SQLite (the embedded default); this module boots one on a real
PostgreSQL server (tests/pgfixture.py) and checks that users, groups, tokens and servers live there and
survive a restart of the hub.
"""

from __future__ import annotations

import signal

import pytest

from hubfixture import RunningHub, is_root, make_base

pytestmark = pytest.mark.skipif(not is_root(), reason="learners' accounts need root")

COURSE = "python-intro"


@pytest.fixture(scope="module")
def pg_hub(postgres):
    url = postgres.new_database()
    running = RunningHub(make_base(), extra_env={"TREMPLIN_HUB_DB_URL": url})
    try:
        running.prepare(courses=[COURSE])
        running.start()
        yield running, url
    finally:
        running.cleanup()


def test_users_groups_and_servers_live_in_postgresql_and_survive_a_restart(pg_hub):
    import sqlalchemy as sa

    hub, url = pg_hub
    learner = hub.names["learner1"]
    browser = hub.login("learner1")  # (the password form; the session cookie is in the database)
    assert browser.get(f"{hub.url}/hub/home").status_code == 200
    server = hub.start_server("learner1")
    token = hub.user_session("learner1")

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            users = {row[0] for row in conn.execute(sa.text("SELECT name FROM users"))}
            groups = {row[0] for row in conn.execute(sa.text("SELECT name FROM groups"))}
            servers = conn.execute(sa.text("SELECT count(*) FROM servers")).scalar()
    finally:
        engine.dispose()
    assert learner in users and f"nbgrader-{COURSE}" in groups and servers >= 1
    assert not (hub.data_dir / "hub" / "jupyterhub.sqlite").exists(), "the hub wrote a SQLite database anyway"

    hub.proc.send_signal(signal.SIGTERM)  # (the hub alone: hub.stop() also ends the servers under its folder)
    hub.proc.wait(120)
    hub.start()
    with hub.admin() as admin:
        model = admin.get(f"{hub.api}/users/{learner}").json()
    assert model["servers"].get("", {}).get("ready"), f"the restarted hub forgot the server:\n{hub.log_tail(120)}"
    assert f"nbgrader-{COURSE}" in model["groups"]
    assert token.get(f"{server}/api/status").status_code == 200, "the token from before the restart no longer works"
    assert browser.get(f"{hub.url}/hub/home", allow_redirects=False).status_code == 200, "the login was forgotten"
    token.close()
    browser.close()
    with hub.admin() as admin:
        admin.delete(f"{hub.api}/users/{learner}/server")
