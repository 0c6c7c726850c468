"""System accounts: one Linux account per learner and per course grader.

When the hub runs as root, each learner's server runs as that learner's own account,
created on first use with a private home (mode 700), as The Littlest JupyterHub does.
Tremplin only ever uses accounts it created itself: they carry a marker in their
comment (GECOS) field, and a name that already belongs to another system account
(``root``, ``www-data``, a staff member) is refused rather than taken over.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("tremplin.system")

#: Written in the comment field of every account Tremplin creates.
MARKER = "Tremplin account"

#: The exam service's own account (the hub runs as root): it owns the exam store, the admissions
#: store, the grading queue and their signing keys, reads each course's variants key and gradebook
#: (as a member of the course's grader group), and nothing else. README, "Who runs what".
EXAM_ACCOUNT = "tremplin-exam"


class AccountError(Exception):
    """A system account cannot be created or used.

    ``message`` is for the person who sees it; ``detail`` is for the log.
    """

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail


def running_as_root() -> bool:
    return os.geteuid() == 0


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: Path


def _lookup(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def ensure_account(name: str, home: Path, *, private: bool = True, keep_existing_home: bool = False) -> Account:
    """Create, or reuse, the Tremplin system account ``name`` with its home at ``home``.

    Args:
        name: the account name (already validated by the caller).
        home: where its home directory must be; an existing Tremplin account whose
            home is elsewhere (another data directory) is moved to this one.
        private: make the home mode 700 (learners); False gives 750.
        keep_existing_home: an existing account keeps its home if that folder exists (grader
            accounts are shared by every data directory on the machine, and ``usermod`` fails
            while the account runs a formgrader for another one).

    Returns:
        the :class:`Account`.

    Raises:
        AccountError: the name belongs to an account Tremplin did not create, or a
            command failed.
    """
    home = Path(home)
    entry = _lookup(name)
    if entry is None:
        home.parent.mkdir(parents=True, exist_ok=True)
        _run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash",
              "--comment", MARKER, "--user-group", name], name)
        entry = pwd.getpwnam(name)
        log.info("created system account %s (uid %d) with home %s", name, entry.pw_uid, home)
    elif not entry.pw_gecos.startswith(MARKER):
        raise AccountError(
            f"the name '{name}' belongs to an existing system account that Tremplin did not create; "
            f"an administrator must rename the Tremplin user / le nom '{name}' appartient déjà à un compte "
            "système que Tremplin n'a pas créé ; un administrateur doit renommer ce compte Tremplin",
            f"passwd entry for {name}: uid={entry.pw_uid} gecos={entry.pw_gecos!r}",
        )
    elif Path(entry.pw_dir) != home:
        if keep_existing_home and Path(entry.pw_dir).is_dir():
            home = Path(entry.pw_dir)
        else:
            _run(["usermod", "--home", str(home), name], name)
            entry = pwd.getpwnam(name)
    if not home.is_dir():
        home.mkdir(parents=True)
    st = home.stat()
    if st.st_uid != entry.pw_uid:
        os.chown(home, entry.pw_uid, entry.pw_gid)
    home.chmod(0o700 if private else 0o750)
    return Account(name, entry.pw_uid, entry.pw_gid, home)


def ensure_service_account(name: str) -> Account:
    """Create, or reuse, a Tremplin system account that logs in nowhere and owns nothing.

    The grading service runs the sandboxes (``tremplin-sandbox-<n>``) and the judge
    (``tremplin-judge``) as such accounts: no home, no shell, no group of anyone else's.

    Raises:
        AccountError: the name belongs to an account Tremplin did not create, or useradd failed.
    """
    entry = _lookup(name)
    if entry is None:
        _run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
              "/usr/sbin/nologin", "--comment", MARKER, "--user-group", name], name)
        entry = pwd.getpwnam(name)
        log.info("created service account %s (uid %d)", name, entry.pw_uid)
    elif not entry.pw_gecos.startswith(MARKER):
        raise AccountError(
            f"the name '{name}' belongs to an existing system account that Tremplin did not create; grading "
            "needs its own accounts: an administrator must free that name",
            f"passwd entry for {name}: uid={entry.pw_uid} gecos={entry.pw_gecos!r}")
    return Account(name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))


def owner_of(path: Path) -> Account | None:
    """The account that owns ``path`` when this process is root and that is another account; else None."""
    if not running_as_root():
        return None
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if st.st_uid == 0:
        return None
    entry = pwd.getpwuid(st.st_uid)
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))


@contextmanager
def acting_as(account: Account | None) -> Iterator[None]:
    """Root's work done as ``account`` for a while: what it creates is that account's, and what that
    account may not read or write is refused, as it would be to the account's own processes. Root again
    afterwards. Nothing changes when ``account`` is None or this process is not root.

    Effective ids only (the real and saved ids stay root's, which is how the way back works):
    for root's commands that write a service's files, e.g. ``tremplin campaign add`` as the exam
    service's account. Single-threaded callers: the ids are the process's.
    """
    if account is None or not running_as_root():
        yield
        return
    groups = os.getgroups()
    os.setgroups(os.getgrouplist(account.name, account.gid))
    os.setegid(account.gid)
    os.seteuid(account.uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(groups)


def add_to_group(name: str, group: str) -> None:
    """Make the Tremplin account ``name`` a member of ``group`` (nothing if it is already)."""
    if name in grp.getgrnam(group).gr_mem:
        return
    _run(["usermod", "--append", "--groups", group, name], name)


def delete_account(name: str) -> None:
    """Remove a Tremplin account (not its files). Refuses accounts Tremplin did not create."""
    entry = _lookup(name)
    if entry is None:
        return
    if not entry.pw_gecos.startswith(MARKER):
        raise AccountError(f"refusing to delete '{name}': Tremplin did not create it")
    _run(["userdel", name], name)
    try:
        grp.getgrnam(name)
        _run(["groupdel", name], name)
    except KeyError:
        pass


def chown_tree(path: Path, name: str) -> None:
    """Give ``path`` and everything under it to the account ``name``, never through a symbolic link.

    The tree may belong to an account that swaps a folder for a link while root works:
    :func:`os.fwalk` holds each folder open (a link is never entered) and every change is
    made relative to that descriptor without following links.
    """
    entry = pwd.getpwnam(name)
    if Path(path).is_symlink():
        raise OSError(f"{path} is a symbolic link; refusing to chown through it")
    for _root, dirs, files, root_fd in os.fwalk(path, follow_symlinks=False):
        os.fchown(root_fd, entry.pw_uid, entry.pw_gid)
        for name in files + dirs:  # (a link among them: the link itself)
            os.chown(name, entry.pw_uid, entry.pw_gid, dir_fd=root_fd, follow_symlinks=False)


def minimal_env(name: str, home: str | Path, path: str) -> dict[str, str]:
    """The environment of a process run as account ``name``: nothing of root's (database URLs, passwords, tokens)."""
    return {"PATH": path, "HOME": str(home), "USER": name, "LOGNAME": name, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def as_user_command(name: str | None, argv: list[str]) -> list[str]:
    """Prefix ``argv`` so it runs as ``name`` (root only); unchanged when ``name`` is None."""
    if name is None:
        return list(argv)
    return ["runuser", "-u", name, "--", *argv]


def _run(cmd: list[str], name: str) -> None:
    # useradd, usermod and groupadd lock /etc/passwd and /etc/group and give up at once when another holds them
    # ("cannot lock /etc/passwd; try again later"): several servers of new people starting together, or two
    # hubs on one machine, must not fail for that. Retried for up to about 15 s.
    for delay in (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 4.8, 4.8, 0):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0 or "cannot lock" not in proc.stderr:
            break
        time.sleep(delay)
    if proc.returncode != 0:
        raise AccountError(
            f"could not set up the system account '{name}'; an administrator should read the hub log / "
            f"le compte système '{name}' n'a pas pu être préparé ; un administrateur doit lire le journal du hub",
            f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()}",
        )
