"""The exam service runs as its own system account: it holds its stores and signing keys, and little else.

Before, it ran as root (the hub's account): whoever took it over, through a flaw in the code that
parses candidates' bodies, held every secret of the machine. Now that is its own data: the
hub's secrets, the account store, learners' homes and courses' solutions stay out of its reach.
"""

from __future__ import annotations

import pwd
import re
import subprocess
from pathlib import Path

import pytest

from hubfixture import VENV_BIN, is_root, service_pid
from tremplin_hub.system import EXAM_ACCOUNT, as_user_command

pytestmark = [pytest.mark.hub, pytest.mark.skipif(not is_root(), reason="system accounts need root")]


def as_exam_account(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(as_user_command(EXAM_ACCOUNT, list(argv)), capture_output=True, text=True)


def uid_of(pid: int) -> int:
    return int(re.search(r"^Uid:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M).group(1))


def test_the_exam_service_runs_as_its_own_account_and_alone_holds_its_keys(hub):
    pid = service_pid(hub, "tremplin-exam")
    assert pid, "the exam service's process was not found"
    assert pwd.getpwuid(uid_of(pid)).pw_name == EXAM_ACCOUNT
    exam_uid = pwd.getpwnam(EXAM_ACCOUNT).pw_uid

    # the export signing key is made by root's command line, as the service's account
    proc = subprocess.run([str(VENV_BIN / "tremplin"), "export", "public-key"], env=hub.env(), capture_output=True,
                          text=True)
    assert proc.returncode == 0 and "BEGIN PUBLIC KEY" in proc.stdout, proc.stderr
    for key in (hub.data_dir / "exam" / "chain-signing-key.pem", hub.data_dir / "admissions" / "signing-key.pem"):
        st = key.stat()
        assert (st.st_uid, st.st_mode & 0o777) == (exam_uid, 0o600), (key, st.st_uid, oct(st.st_mode))
    for folder in ("exam", "admissions", "grading/queue"):
        st = (hub.data_dir / folder).stat()
        assert (st.st_uid, st.st_mode & 0o777) == (exam_uid, 0o700), folder

    math = hub.data_dir / "courses" / "preselection-math"
    if not any((hub.data_dir / "home").iterdir()):
        hub.start_server("learner1")
    learner_home = next(p for p in sorted((hub.data_dir / "home").iterdir()) if p.is_dir())
    out_of_reach = [
        hub.data_dir / "hub" / "jupyterhub_cookie_secret",
        hub.data_dir / "hub" / "sync-token",
        hub.data_dir / "hub" / "accounts.sqlite",
        math / "source" / "math-2027" / "math-2027.ipynb",  # solutions and hidden tests
        learner_home,
    ]
    for path in out_of_reach:
        assert path.exists(), path
        proc = as_exam_account("ls", "-d", str(path / "x")) if path.is_dir() else as_exam_account("cat", str(path))
        assert proc.returncode != 0 and "Permission denied" in proc.stderr, (path, proc.stdout[:100], proc.stderr)
    proc = as_exam_account("ls", str(math))
    assert proc.returncode != 0 and "Permission denied" in proc.stderr, "the service may not list a course's folder"
    # what it needs of a course: the variants key (copies are personalised) and the gradebook (exports)
    for needed in (math / "variants.key", math / "gradebook.db"):
        proc = as_exam_account("head", "-c", "1", str(needed))
        assert proc.returncode == 0, (needed, proc.stderr)
