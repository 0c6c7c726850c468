"""A real PostgreSQL for the tests: Debian's server binaries, a throw-away cluster on a free port.

``make test`` installs the ``postgresql`` package; this starts its ``initdb`` and ``pg_ctl``
(as the ``postgres`` account when the tests run as root: the server refuses root) in a
temporary folder, listening on 127.0.0.1 only, and removes everything at the end.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from hubfixture import free_port, is_root


class Postgres:
    def __init__(self):
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise RuntimeError("PostgreSQL's server is not installed: run 'make test' (it installs the Debian "
                               "package postgresql) or apt-get install postgresql")
        self.bin = found[-1].parent
        self.base = Path(tempfile.mkdtemp(prefix="tremplin-pg-", dir="/tmp"))
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if is_root() else []
        if is_root():
            shutil.chown(self.base, "postgres", "postgres")
        self.data = self.base / "data"
        self._run("initdb", "-D", str(self.data), "-U", "tremplin", "--auth=trust", "-E", "UTF8", "--locale=C")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-w", "-o",
                  f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1", "start")

    def _run(self, tool: str, *args: str) -> None:
        proc = subprocess.run([*self.as_user, str(self.bin / tool), *args], capture_output=True, text=True,
                              cwd=self.base, env={**os.environ, "LC_ALL": "C"})
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed: {proc.stderr or proc.stdout}")

    def new_database(self) -> str:
        """The SQLAlchemy URL of a new, empty database."""
        import sqlalchemy as sa

        name = f"t_{secrets.token_hex(4)}"
        engine = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://tremplin@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
