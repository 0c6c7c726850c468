"""Root writes into folders that grader accounts own, so nothing planted there may steer them.

A grader account owns its course directory (and its professor's code runs as it): a link at a
temporary name, a folder swapped for a link while root walks the tree, or a file swapped between
its creation and its chown must not make root write or chown anything outside. Processes run as
graders get none of root's environment.
"""

from __future__ import annotations

import os
import pwd
import threading

import pytest

from hubfixture import is_root
from tremplin_hub import sync, system
from tremplin_hub.layout import write_atomic


def test_a_link_planted_at_the_temporary_or_final_name_is_never_written_through(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shadow").write_text("root's secret\n")
    (outside / "other").write_text("untouched\n")
    course = tmp_path / "course"
    course.mkdir()
    target = course / "nbgrader_config.py"
    for pid in range(os.getpid() - 5, os.getpid() + 5):  # the temporary names root used to pick
        (course / f".{target.name}.tmp{pid}").symlink_to(outside / "shadow")
    target.symlink_to(outside / "other")
    write_atomic(target, "c = get_config()\n")
    assert (outside / "shadow").read_text() == "root's secret\n" and (outside / "other").read_text() == "untouched\n"
    assert not target.is_symlink() and target.read_text() == "c = get_config()\n"
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert not [p for p in course.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]


@pytest.mark.skipif(not is_root(), reason="chown needs root")
def test_chown_never_follows_a_link_even_one_swapped_in_during_the_walk(tmp_path):
    nobody = pwd.getpwnam("nobody")
    outside = tmp_path / "outside"
    outside.mkdir()
    for i in range(50):
        (outside / f"secret{i}").write_text("root's")
    tree = tmp_path / "course"
    (tree / "a").mkdir(parents=True)
    for i in range(300):
        (tree / "a" / f"f{i}").write_text("x")
    (tree / "to-file").symlink_to(outside / "secret0")
    (tree / "to-dir").symlink_to(outside)
    stop = threading.Event()

    def swap():  # the grader's side: a folder of the tree becomes a link to root's folder, and back
        while not stop.is_set():
            try:
                os.rename(tree / "a", tree / "a.real")
                (tree / "a").symlink_to(outside)
                os.unlink(tree / "a")
                os.rename(tree / "a.real", tree / "a")
            except OSError:
                pass

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        for _ in range(40):
            try:
                system.chown_tree(tree, "nobody")
            except OSError:
                pass  # (the tree changed under it: refusing is fine, following is not)
    finally:
        stop.set()
        swapper.join()
    assert all(p.stat().st_uid == 0 for p in [outside, *outside.iterdir()])
    assert (tree / "to-file").lstat().st_uid == nobody.pw_uid and (tree / "to-dir").lstat().st_uid == nobody.pw_uid
    assert (tree / "a" / "f0").stat().st_uid == nobody.pw_uid


def test_a_graders_process_gets_none_of_roots_environment(monkeypatch, tmp_path):
    """``tremplin courses sync`` as root runs nbgrader as the grader: no database URL or password may follow."""
    from tremplin_grading.courses import load_course
    from tremplin_hub.layout import Layout

    from hubfixture import REPO

    monkeypatch.setenv("TREMPLIN_EXAM_DB_URL", "postgresql+psycopg://exam:SECRET@db/exam")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "SECRET-TOKEN")
    course = load_course(REPO / "courses" / "python-intro")
    layout = Layout(tmp_path / "data")
    layout.course_dir(course.id).mkdir(parents=True)
    seen = {}

    def run(cmd, **kwargs):  # records what sync hands the grader's process, instead of running nbgrader
        seen.update(kwargs["env"])
        return __import__("subprocess").CompletedProcess(cmd, 0, "{}", "")

    monkeypatch.setattr(sync.subprocess, "run", run)
    monkeypatch.setattr(sync, "_ids", lambda name: (os.getuid(), os.getgid()))
    monkeypatch.setattr(sync, "_home", lambda name: "/var/lib/tremplin/graders/" + name)
    sync.run_coursework(course, layout, None, as_root=True)
    assert "SECRET" not in repr(seen) and set(seen) <= {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL"}
    assert seen["HOME"].endswith(course.grader_account) and seen["PATH"].split(os.pathsep)[0].endswith("/bin")
