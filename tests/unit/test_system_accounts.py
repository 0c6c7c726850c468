"""System accounts: Tremplin never takes over an account it did not create."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tremplin_hub.system import AccountError, as_user_command, delete_account, ensure_account


@pytest.mark.parametrize("name", ["root", "nobody", "daemon"])
def test_existing_foreign_account_is_refused_not_taken_over(tmp_path, name):
    with pytest.raises(AccountError) as info:
        ensure_account(name, tmp_path / name)
    assert f"'{name}' belongs to an existing system account" in info.value.message
    assert "Tremplin n'a pas créé" in info.value.message
    assert not (tmp_path / name).exists()


def test_foreign_account_is_never_deleted():
    with pytest.raises(AccountError, match="Tremplin did not create it"):
        delete_account("nobody")


def test_commands_run_as_the_account_through_runuser():
    assert as_user_command("grader-x", ["nbgrader", "list"]) == ["runuser", "-u", "grader-x", "--", "nbgrader", "list"]
    assert as_user_command(None, ["nbgrader", "list"]) == ["nbgrader", "list"]


@pytest.mark.skipif(os.geteuid() != 0, reason="changing ids needs root")
def test_root_acting_as_an_account_writes_its_files_and_is_refused_what_it_is_refused(crossable):
    from tremplin_hub.system import acting_as, owner_of

    tmp_path = crossable
    nobody = owner_of_nobody()
    mine = tmp_path / "service"
    mine.mkdir(mode=0o700)
    os.chown(mine, nobody.uid, nobody.gid)
    secret = tmp_path / "secret"
    secret.write_text("root's")
    secret.chmod(0o600)
    assert owner_of(mine) == nobody and owner_of(secret) is None
    with acting_as(owner_of(mine)):
        (mine / "made.txt").write_text("x")
        with pytest.raises(PermissionError):
            secret.read_text()
    assert (mine / "made.txt").stat().st_uid == nobody.uid
    assert os.geteuid() == 0 and os.getegid() == 0 and secret.read_text() == "root's"  # root again
    with acting_as(None):
        assert os.geteuid() == 0


@pytest.fixture
def crossable():
    """A temporary folder other accounts can cross (pytest's own is inside a folder of mode 700)."""
    from hubfixture import make_base

    folder = make_base()
    yield folder
    shutil.rmtree(folder)


def owner_of_nobody():
    import pwd

    from tremplin_hub.system import Account

    entry = pwd.getpwnam("nobody")
    return Account("nobody", entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))
