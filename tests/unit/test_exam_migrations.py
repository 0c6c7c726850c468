"""The exam database's tables change through Alembic migrations, on SQLite and PostgreSQL.

Before, the store ran ``create_all`` at start: a table added later (the signed heads) appeared,
but a changed column or a new index on an existing table never reached a campaign's database.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from tremplin_hub.exam import migrations
from tremplin_hub.exam.store import Store, metadata

T0 = dt.datetime(2027, 3, 15, 8, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'exam.sqlite'}"
    return request.getfixturevalue("postgres").new_database()


def differences(engine) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def test_a_new_database_is_built_by_the_migrations_and_matches_the_code(url, tmp_path):
    store = Store(url, tmp_path / "files")
    try:
        with store.engine.connect() as conn:
            assert migrations.current(conn) == migrations.HEAD
        assert differences(store.engine) == [], "a table was changed in store.py without a migration"
    finally:
        store.close()


def test_a_database_made_before_migrations_is_upgraded_and_keeps_its_rows(url, tmp_path):
    """The tables as the first exam service made them (no signed heads, fewer indexes), with a hand-in."""
    from tremplin_hub.exam import receipts

    old = sa.MetaData()
    for table in metadata.sorted_tables:
        if table.name != "heads":
            copy = table.to_metadata(old)
            for index in list(copy.indexes):
                if index.name != "records_by_candidate":
                    copy.indexes.discard(index)
    engine = sa.create_engine(url)
    old.create_all(engine)
    receipt = receipts.issue("maths/exam", "cand-a", "submission", T0, {"exam.ipynb": b"mine"})
    with engine.begin() as conn:
        conn.execute(old.tables["records"].insert().values(
            course="maths", assignment="exam", user="cand-a", kind="submission", server_time=T0, folder="f",
            receipt=receipt.to_json(), chain=receipt.chain, state="on_time", seconds_late=0, claimed_time="", ip=""))
    engine.dispose()
    store = Store(url, tmp_path / "files")
    try:
        with store.engine.connect() as conn:
            assert migrations.current(conn) == migrations.HEAD
        assert differences(store.engine) == []
        assert store.final("maths", "exam", "cand-a").receipt.chain == receipt.chain, "the hand-in is still there"
        assert store.signed_heads("maths", "exam") == []  # (the table the upgrade added works)
    finally:
        store.close()
