"""Shared fixtures: one real JupyterHub for the whole session (see hubfixture.py)."""

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
