"""As root, exam copies are written by the learner's own account: a symbolic link planted in the learner's
home cannot make the hub write anywhere else."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from hubfixture import is_root, make_base
from tremplin_grading.courses import load_course
from tremplin_grading.variants import load_key
from tremplin_hub.handout import hand_out
from tremplin_hub.layout import Layout
from tremplin_hub.system import delete_account, ensure_account

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_handout import OPEN, TOML  # noqa: E402
from test_variants_in_nbgrader import source_notebook  # noqa: E402

pytestmark = pytest.mark.skipif(not is_root(), reason="learners' system accounts need root")


@pytest.fixture
def world():
    base = make_base()
    name = f"t{secrets.token_hex(2)}-cand"
    folder = base / "courses" / "algebra-101"
    (folder / "source" / "exam").mkdir(parents=True)
    (folder / "course.toml").write_text(TOML.replace('"cand-a"', f'"{name}"'))
    nbformat.write(source_notebook(), folder / "source" / "exam" / "exam.ipynb")
    layout = Layout(base / "data")
    release = layout.course_dir("algebra-101") / "release" / "exam"
    release.mkdir(parents=True)
    nbformat.write(source_notebook(), release / "exam.ipynb")
    load_key(layout.course_dir("algebra-101"), create=True)
    account = ensure_account(name, base / "home" / name)
    yield load_course(folder), layout, account, base
    delete_account(name)
    shutil.rmtree(base, ignore_errors=True)


def test_copy_belongs_to_the_learner(world):
    course, layout, account, _ = world
    assert hand_out(account.name, {"nbgrader-algebra-101"}, [course], layout, account.home, True, OPEN)
    copy = account.home / "algebra-101" / "exam" / "exam.ipynb"
    assert copy.stat().st_uid == account.uid


def test_a_planted_symlink_cannot_redirect_the_hubs_writes(world):
    course, layout, account, base = world
    victim = base / "victim"  # a folder of root's that the learner cannot write to
    victim.mkdir()
    victim.chmod(0o755)
    os.symlink(victim, account.home / "algebra-101")
    with pytest.raises(RuntimeError, match="Permission denied"):
        hand_out(account.name, {"nbgrader-algebra-101"}, [course], layout, account.home, True, OPEN)
    assert list(victim.iterdir()) == []
