"""Alembic migrations of the exam service's database (see :func:`upgrade`).

Every change to the tables in :mod:`tremplin_hub.exam.store` comes with a revision here, so a
campaign's database (SQLite or PostgreSQL) is brought to the code's schema when the service
starts, keeping its rows. ``python -m tremplin_hub.exam.migrations <url>`` does it by hand.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import sqlalchemy as sa

#: The revision the code's tables match (the last file in ``versions/``).
HEAD = "0004"
#: The first revision: the tables as the service created them before migrations existed.
BASE = "0001"
_lock = threading.Lock()


def current(conn: sa.Connection) -> str | None:
    """The database's revision, ``None`` when it has none (empty, or made before migrations)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: sa.Engine) -> None:
    """Bring the database to :data:`HEAD`; cheap when it is there already (one query).

    A database the service made before migrations existed (tables, no ``alembic_version``) is
    recognised by its tables and stamped with the revision it matches first.
    """
    with engine.connect() as conn:
        if current(conn) == HEAD:
            return
    from alembic import command
    from alembic.config import Config

    with _lock, engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent))
        config.attributes["connection"] = conn
        if current(conn) is None and sa.inspect(conn).has_table("records"):
            command.stamp(config, "0002" if sa.inspect(conn).has_table("heads") else BASE)
        command.upgrade(config, "head")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tremplin_hub.exam.migrations <SQLAlchemy URL of the exam database>")
    engine = sa.create_engine(sys.argv[1])
    upgrade(engine)
    with engine.connect() as conn:
        print(f"exam database at revision {current(conn)}")
