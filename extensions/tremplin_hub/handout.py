"""Hand each candidate their own copy of an exam with variants, before their server starts.

nbgrader's filesystem exchange gives everyone the same released files, and a candidate's
values must not be computable in their own kernel (the course key stays on the graders'
side). So when a learner's server starts, the hub (which can read the course key) writes,
for every open assignment of the learner's courses whose notebooks have a parameters cell,
that learner's personalized copy into ``~/<course>/<assignment>/``, where nbgrader's
assignment list shows it as fetched. An existing folder is never touched: a copy is
handed out once, and the learner's work is never overwritten.

Limit: a learner whose server is already running when an exam opens gets their copy at
their next server start (the exam service will hand copies out at fetch time).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tremplin_grading.courses import Course
from tremplin_grading.variants import load_key, parameters_cell, personalize, variant_seed

from .layout import Layout
from .system import as_user_command

log = logging.getLogger("tremplin.handout")


def has_variants(release_dir: Path) -> bool:
    for path in release_dir.glob("*.ipynb"):
        if parameters_cell(json.loads(path.read_text(encoding="utf-8"))) is not None:
            return True
    return False


def hand_out(user: str, groups: set[str], courses: list[Course], layout: Layout, home: Path,
             as_user: bool, now: dt.datetime | None = None) -> list[str]:
    """Write ``user``'s personalized copies into ``home``; return the ``course/assignment`` written.

    Args:
        as_user: write as the learner's own account (root only). The hub must not write into
            a folder the learner controls as root: a symbolic link there would send root's
            writes anywhere. The copies are staged in a private folder, then copied by the
            learner's own account, with the learner's own rights.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    written = []
    for course in courses:
        if course.student_group not in groups:
            continue
        for assignment in course.assignments:
            release = layout.course_dir(course.id) / "release" / assignment.id
            target = home / course.id / assignment.id
            if not assignment.is_open(now) or os.path.lexists(target) or not release.is_dir() \
                    or not has_variants(release):
                continue
            seed = variant_seed(load_key(layout.course_dir(course.id)), f"{course.id}/{assignment.id}", user)
            with tempfile.TemporaryDirectory(prefix="tremplin-handout-") as staging:
                os.chmod(staging, 0o755)
                copy = Path(staging) / assignment.id
                shutil.copytree(release, copy)
                for path in copy.glob("*.ipynb"):
                    nb = json.loads(path.read_text(encoding="utf-8"))
                    path.write_text(json.dumps(personalize(nb, seed), indent=1, ensure_ascii=False),
                                    encoding="utf-8")
                for path in [copy, *copy.rglob("*")]:
                    path.chmod(0o755 if path.is_dir() else 0o644)
                _copy(copy, target, user if as_user else None)
            written.append(f"{course.id}/{assignment.id}")
            log.info("handed out %s/%s to %s", course.id, assignment.id, user)
    return written


def _copy(source: Path, target: Path, user: str | None) -> None:
    if user is None:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target)
        return
    for argv in (["mkdir", "-p", str(target.parent)], ["cp", "-r", str(source), str(target)]):
        proc = subprocess.run(as_user_command(user, argv), capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} as {user} failed: {proc.stderr.strip()}")
