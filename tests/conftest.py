"""Shared fixtures: one real JupyterHub and one real PostgreSQL for the whole session (hubfixture.py, pgfixture.py)."""

from __future__ import annotations

import gc

import pytest

from hubfixture import RunningHub, make_base


@pytest.fixture(scope="module", autouse=True)
def collect_what_the_module_left():
    """A socket or file a module forgot to close is reported by its own last test, every run.

    Without this, the cycle collector finds it at a random later point, and the warning (an error
    here) lands on whichever test happens to be running then.
    """
    yield
    gc.collect()


@pytest.fixture(scope="session")
def hub():
    """A running hub serving the project's three courses to this run's accounts."""
    running = RunningHub(make_base())
    try:
        running.prepare()
        running.start()
        yield running
    finally:
        running.cleanup()


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server on 127.0.0.1 (Debian's binaries, a temporary cluster)."""
    from pgfixture import Postgres

    server = Postgres()
    try:
        yield server
    finally:
        server.stop()
