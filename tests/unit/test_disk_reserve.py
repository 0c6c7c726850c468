"""A learner who fills the disk cannot stop candidates' autosaves.

Learners' homes and the exam service's store share the data directory's disk unless the
deployment gives homes their own volume (README: "Limits"). The exam service keeps a reserve
file on its disk; when a write finds the disk full, it gives the reserve back to itself and
the save is kept (the log says the disk is full). Tested on a real, small filesystem (tmpfs:
no blocks reserved for root either) filled to the last byte.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import subprocess
from pathlib import Path

import pytest

from hubfixture import is_root
from tremplin_hub.exam import errors
from tremplin_hub.exam.store import Store

pytestmark = pytest.mark.skipif(not is_root(), reason="mounting a small filesystem needs root")
T0 = dt.datetime(2027, 3, 15, 8, tzinfo=dt.timezone.utc)
PAPER = {"exam.ipynb": b"x" * 200_000}


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0755", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> None:
    """Write until the disk is full, to the last block, as a learner's runaway cell does."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "huge.bin", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (2**20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def store_on(disk: Path, reserve: int) -> Store:
    store = Store(f"sqlite:///{disk / 'exam' / 'exam.sqlite'}", disk / "exam" / "files", reserve_bytes=reserve)
    store.release("maths", "exam", {"exam.ipynb": b"{}"}, "prof", T0)
    store.start_attempt("maths", "exam", "cand-a", {"exam.ipynb": b"{}"}, release_version=1, variant="", now=T0,
                        ip="")
    store.keep_reserve()
    return store


def test_an_autosave_is_kept_on_a_disk_a_learner_filled(small_disk, caplog):
    store = store_on(small_disk, reserve=4 * 2**20)
    try:
        fill(small_disk / "home" / "learner")
        record = store.add_record("maths", "exam", "cand-a", "snapshot", PAPER, now=T0 + dt.timedelta(minutes=5))
        assert store.read_folder(record.folder) == PAPER
        assert "disk" in caplog.text and "full" in caplog.text, "the full disk is said loudly in the log"
    finally:
        store.close()


def test_without_the_reserve_the_same_autosave_is_refused_with_a_message_that_says_why(small_disk):
    store = store_on(small_disk, reserve=0)
    try:
        fill(small_disk / "home" / "learner")
        with pytest.raises(errors.Unavailable) as err:
            store.add_record("maths", "exam", "cand-a", "snapshot", PAPER, now=T0 + dt.timedelta(minutes=5))
        assert "full" in err.value.message and "plein" in err.value.fr
    finally:
        store.close()
