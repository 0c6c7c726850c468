"""`tremplin courses sync` on real nbgrader: good courses load and release, a bad one is reported by file,
field and fix, and a second sync changes nothing."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess

import pytest

from hubfixture import REPO, VENV_BIN, is_root, make_base

GOOD_TOML = (REPO / "courses" / "python-intro" / "course.toml").read_text()


@pytest.fixture
def workspace():
    base = make_base()
    suffix = secrets.token_hex(2)
    good, bad = f"sync{suffix}-good", f"sync{suffix}-bad"
    courses = base / "courses"
    for cid in (good, bad):
        shutil.copytree(REPO / "courses" / "python-intro" / "source", courses / cid / "source")
        (courses / cid / "course.toml").write_text(GOOD_TOML.replace('id = "python-intro"', f'id = "{cid}"'))
    text = (courses / bad / "course.toml").read_text().replace('kind = "mooc"', 'kind = "seminar"')
    (courses / bad / "course.toml").write_text(text)
    env = {**os.environ, "TREMPLIN_DATA_DIR": str(base / "data"), "TREMPLIN_COURSES_DIR": str(courses)}
    subprocess.run([str(VENV_BIN / "tremplin"), "accounts", "demo"], env=env, check=True, capture_output=True)
    yield base, env, good, bad
    if is_root():
        from tremplin_hub.system import delete_account

        for cid in (good, bad):
            delete_account(f"grader-{cid}")
    shutil.rmtree(base, ignore_errors=True)


def exam_store(base):
    from tremplin_hub.exam.store import Store
    from tremplin_hub.layout import Layout

    layout = Layout(base / "data")
    return Store(layout.exam_db_url, layout.exam_files)


def sync(env):
    return subprocess.run([str(VENV_BIN / "tremplin"), "courses", "sync"], env=env, capture_output=True, text=True)


def test_bad_course_is_reported_and_the_good_one_is_loaded(workspace):
    base, env, good, bad = workspace
    proc = sync(env)
    assert proc.returncode == 1
    assert f"courses/{bad}/course.toml: field 'kind': unknown kind 'seminar'; fix: use one of: mooc, exam" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{good}: generated" in proc.stdout
    store = exam_store(base)
    assert store.released_assignments(good) == ["devoir-1", "m1-bases", "m2-controle", "m3-donnees"]
    released = store.read_folder(store.latest_release(good, "devoir-1")["folder"])["devoir-1.ipynb"]
    assert b"### BEGIN SOLUTION" not in released
    store.close()
    assert not (base / "data" / "courses" / bad).exists()
    if is_root():
        course_dir = base / "data" / "courses" / good
        assert course_dir.stat().st_uid == __import__("pwd").getpwnam(f"grader-{good}").pw_uid
        # crossed (not listed) by the grader's group, which holds the exam service's account; the
        # solutions only the grader's
        assert oct(course_dir.stat().st_mode & 0o777) == "0o710"
        assert oct((course_dir / "source").stat().st_mode & 0o777) == "0o700"
        assert "tremplin-exam" in __import__("grp").getgrgid(course_dir.stat().st_gid).gr_mem
        assert oct((course_dir / "variants.key").stat().st_mode & 0o777) == "0o640"

    # A second sync regenerates and re-releases nothing.
    again = sync(env)
    assert f"{good}: generated [], released []" in again.stdout


def test_assignments_not_yet_open_are_not_released(workspace):
    base, env, good, bad = workspace
    (base / "courses" / bad).rename(base / f"{bad}-aside")  # only the good course
    proc = subprocess.run([str(VENV_BIN / "tremplin"), "courses", "sync", "--now", "2025-12-31T00:00:00Z"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    store = exam_store(base)
    assert store.released_assignments(good) == []
    store.close()
    assert (base / "data" / "courses" / good / "release" / "devoir-1").is_dir()


@pytest.mark.skipif(not is_root(), reason="only root's writes need the guard")
def test_sync_refuses_to_write_through_a_symlink_in_the_course_directory(workspace):
    base, env, good, bad = workspace
    assert sync(env).returncode == 1  # first sync (the bad course is reported)
    source = base / "data" / "courses" / good / "source"
    shutil.rmtree(source)
    decoy = base / "decoy"
    decoy.mkdir()
    source.symlink_to(decoy)
    proc = sync(env)
    assert "is a symbolic link; refusing to write through it as root" in proc.stderr
    assert list(decoy.iterdir()) == []


def test_the_formgrader_gets_names_from_the_roster_else_the_account(workspace, tmp_path):
    """The formgrader listed every student as "None, None" with email "None"."""
    import sqlite3
    from contextlib import closing

    base, env, good, bad = workspace
    campaign = (REPO / "deploy" / "demo" / "campaign.toml").read_text()
    (tmp_path / "campaign.toml").write_text(campaign)
    (tmp_path / "roster.csv").write_text("candidate_id,last_name,first_name,email,partner,country,account\n"
                                         "DD-1,Nguyễn,Thị Minh Khai,ntmk@example.org,HUST,VN,learner1\n")
    cid = next(line.split('"')[1] for line in campaign.splitlines() if line.startswith("id ="))
    for args in (["campaign", "add", str(tmp_path / "campaign.toml")],
                 ["campaign", "roster", cid, str(tmp_path / "roster.csv"), "--sheet", str(tmp_path / "links.csv")]):
        subprocess.run([str(VENV_BIN / "tremplin"), *args], env=env, check=True, capture_output=True)
    sync(env)
    gradebook = base / "data" / "courses" / good / "gradebook.db"
    with closing(sqlite3.connect(f"file:{gradebook}?mode=ro", uri=True)) as db:
        names = {row[0]: row[1:] for row in db.execute("SELECT id, last_name, first_name, email FROM student")}
    assert names["learner1"] == ("Nguyễn", "Thị Minh Khai", "ntmk@example.org")
    assert names["learner2"] == ("learner2", "", "")  # on no roster: their account, never None
