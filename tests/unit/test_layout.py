"""The data directory: folder modes, server configuration, and a clear error when learners cannot reach it."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from tremplin_hub.layout import Layout, LayoutError, check_reachable


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_prepare_sets_modes_and_writes_learner_config(tmp_path):
    tmp_path.chmod(0o755)
    layout = Layout(tmp_path / "data")
    layout.prepare(shared_accounts=True)
    assert mode(layout.hub_dir) == 0o700
    assert mode(layout.exam_dir) == 0o700  # the exam service's store; no world-writable exchange folder
    assert not (layout.data_dir / "exchange").exists()
    assert mode(layout.data_dir) == 0o711
    server = (layout.learner_config / "jupyter_server_config.py").read_text()
    assert '"compress_response": True' in server
    assert '"nbgrader.server_extensions.formgrader": False' in server
    assert '"tremplin_lab": True' in server
    for config in (layout.learner_config, layout.grader_config):
        nbgrader = (config / "nbgrader_config.py").read_text()
        assert 'c.ExchangeFactory.submit = "tremplin_lab.exchange.Submit"' in nbgrader
        assert 'c.ExchangeFactory.collect = "tremplin_lab.exchange.Collect"' in nbgrader
        assert "Exchange.root" not in nbgrader
    assert "JupyterHubAuthPlugin" in (layout.learner_config / "nbgrader_config.py").read_text()
    page = json.loads((layout.learner_config / "labconfig" / "page_config.json").read_text())
    assert page["lockedExtensions"]["@jupyter/nbgrader:formgrader"] is True
    assert "tremplin_lab" not in (layout.grader_config / "jupyter_server_config.py").read_text()
    assert '"tremplin_hub.formgrader_links": True' in (layout.grader_config / "jupyter_server_config.py").read_text()
    for config in (layout.learner_config, layout.grader_config):  # (JupyterLab's news prompt reaches the internet)
        page = json.loads((config / "labconfig" / "page_config.json").read_text())
        assert page["disabledExtensions"]["@jupyterlab/apputils-extension:announcements"] is True


def test_unreachable_folder_is_named_with_the_fix():
    base = Path(tempfile.mkdtemp(dir="/tmp"))  # pytest's own tmp folder is private already
    base.chmod(0o755)
    private = base / "private"
    (private / "data").mkdir(parents=True)
    private.chmod(0o700)
    with pytest.raises(LayoutError) as info:
        check_reachable(private / "data", "the data directory")
    private.chmod(0o755)
    shutil.rmtree(base)
    assert str(private) in str(info.value) and f"chmod o+x {private}" in str(info.value)


def test_the_exam_database_url_comes_from_the_environment_for_every_user_of_it(tmp_path, monkeypatch):
    layout = Layout(tmp_path / "data")
    monkeypatch.delenv("TREMPLIN_EXAM_DB_URL", raising=False)
    assert layout.exam_db_url == f"sqlite:///{tmp_path / 'data' / 'exam' / 'exam.sqlite'}"
    monkeypatch.setenv("TREMPLIN_EXAM_DB_URL", "postgresql+psycopg://tremplin@db/exam")
    assert layout.exam_db_url == "postgresql+psycopg://tremplin@db/exam"


def test_the_exam_service_reads_its_own_copy_of_the_course_files(tmp_path):
    layout = Layout(tmp_path / "data")
    layout.prepare(shared_accounts=True)
    courses = tmp_path / "courses"
    for cid in ("alpha", "beta", "_drafts"):
        (courses / cid).mkdir(parents=True)
        (courses / cid / "course.toml").write_text(f'id = "{cid}"\n')
    (courses / "alpha" / "source" / "a1").mkdir(parents=True)
    test_cell = {"cell_type": "code", "source": "assert answer == 42  # hidden", "outputs": [],
                 "metadata": {"nbgrader": {"grade": True, "grade_id": "t1", "points": 2}}}
    solution = {"cell_type": "code", "source": "answer = 42  # the solution", "outputs": [],
                "metadata": {"nbgrader": {"solution": True, "grade_id": "q1"}}}
    (courses / "alpha" / "source" / "a1" / "a1.ipynb").write_text(json.dumps({"cells": [solution, test_cell]}))
    layout.publish_catalogue(courses)
    assert sorted(p.name for p in layout.exam_catalogue.iterdir()) == ["alpha", "beta"]
    assert (layout.exam_catalogue / "beta" / "course.toml").read_text() == 'id = "beta"\n'
    # the service learns the notebooks' names and test ids, never their text
    stub = (layout.exam_catalogue / "alpha" / "source" / "a1" / "a1.ipynb").read_text()
    assert "42" not in stub and "hidden" not in stub and "solution" in stub
    assert [c["metadata"]["nbgrader"]["grade_id"] for c in json.loads(stub)["cells"]] == ["q1", "t1"]
    shutil.rmtree(courses / "beta")
    (courses / "alpha" / "course.toml").write_text('id = "alpha"\ntitle = "changed"\n')
    layout.publish_catalogue(courses)
    shutil.rmtree(courses / "alpha" / "source" / "a1")
    layout.publish_catalogue(courses)
    assert sorted(p.name for p in layout.exam_catalogue.iterdir()) == ["alpha"]
    assert "changed" in (layout.exam_catalogue / "alpha" / "course.toml").read_text()
    assert list((layout.exam_catalogue / "alpha").iterdir()) == [layout.exam_catalogue / "alpha" / "course.toml"]


@pytest.mark.skipif(os.geteuid() != 0, reason="system accounts need root")
def test_an_older_data_directory_is_given_to_the_exam_services_account():
    """Made when the exam service ran as root: its folders, files and databases become tremplin-exam's."""
    import pwd

    from hubfixture import make_base

    base = make_base()
    try:
        layout = Layout(base / "data")
        layout.prepare(shared_accounts=True)  # (as before: everything root's)
        (layout.exam_files / "a" / "b").mkdir(parents=True)
        (layout.exam_files / "a" / "b" / "copy.ipynb").write_text("{}")
        (layout.exam_dir / "exam.sqlite").write_text("")
        layout.prepare(shared_accounts=False)
        uid = pwd.getpwnam("tremplin-exam").pw_uid
        for path in (layout.exam_dir, layout.exam_files / "a" / "b" / "copy.ipynb", layout.exam_dir / "exam.sqlite",
                     layout.admissions_dir / "admissions.sqlite", layout.grading_private / "queue.sqlite"):
            assert path.stat().st_uid == uid, path
        assert mode(layout.exam_dir) == mode(layout.admissions_dir) == mode(layout.grading_private) == 0o700
        assert layout.exam_account().name == "tremplin-exam"
    finally:
        shutil.rmtree(base)


def test_pages_of_notebooks_load_mathjax_from_the_platform_under_the_hubs_base_url(tmp_path):
    """nbgrader's formgrader and feedback pages called MathJax from a CDN (unreachable offline)."""
    from tremplin_hub.hubconfig import mathjax_url

    assert mathjax_url("http://127.0.0.1:8000").startswith("/services/tremplin-exam/static/mathjax/MathJax.js?")
    url = mathjax_url("https://exams.example.org/tremplin/")
    assert url == "/tremplin/services/tremplin-exam/static/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
    layout = Layout(tmp_path / "data")
    layout.prepare(shared_accounts=True, mathjax_url=url)
    macro = (layout.jupyter_data / "nbconvert" / "templates" / "base" / "mathjax.html.j2").read_text()
    assert f'macro mathjax(url="{url}")' in macro and "cdnjs" not in macro
    assert f'c.HTMLExporter.mathjax_url = "{url}"' in (layout.grader_config / "nbgrader_config.py").read_text()
    # 'tremplin courses sync' prepares the layout too, without the URL: the hub's is kept (it was dropped, and the
    # running formgraders' pages asked the CDN until the hub restarted).
    layout.prepare(shared_accounts=True)
    macro = (layout.jupyter_data / "nbconvert" / "templates" / "base" / "mathjax.html.j2").read_text()
    assert f'macro mathjax(url="{url}")' in macro
    assert f'c.HTMLExporter.mathjax_url = "{url}"' in (layout.grader_config / "nbgrader_config.py").read_text()
    layout.prepare(shared_accounts=True, mathjax_url="")  # (said empty: nbconvert's own again)
    assert not (layout.jupyter_data / "nbconvert" / "templates" / "base" / "mathjax.html.j2").exists()
