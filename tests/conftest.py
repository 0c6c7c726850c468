"""Shared fixtures: one real JupyterHub and one real PostgreSQL for the whole session (hubfixture.py, pgfixture.py)."""

from __future__ import annotations

import pytest

from hubfixture import RunningHub, make_base


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
