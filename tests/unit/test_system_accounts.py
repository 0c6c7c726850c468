"""System accounts: Tremplin never takes over an account it did not create."""

from __future__ import annotations

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
