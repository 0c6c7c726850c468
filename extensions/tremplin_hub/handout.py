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
from pathlib import Path

from tremplin_grading.courses import Course
from tremplin_grading.variants import load_key, parameters_cell, personalize, variant_seed

from .layout import Layout

log = logging.getLogger("tremplin.handout")


def has_variants(release_dir: Path) -> bool:
    for path in release_dir.glob("*.ipynb"):
        if parameters_cell(json.loads(path.read_text(encoding="utf-8"))) is not None:
            return True
    return False


def hand_out(user: str, groups: set[str], courses: list[Course], layout: Layout, home: Path,
             owner: tuple[int, int] | None, now: dt.datetime | None = None) -> list[str]:
    """Write ``user``'s personalized copies into ``home``; return the ``course/assignment`` written.

    Args:
        owner: ``(uid, gid)`` to give the files to, or None to leave them to the hub's account.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    written = []
    for course in courses:
        if course.student_group not in groups:
            continue
        for assignment in course.assignments:
            release = layout.course_dir(course.id) / "release" / assignment.id
            target = home / course.id / assignment.id
            if not assignment.is_open(now) or target.exists() or not release.is_dir() or not has_variants(release):
                continue
            seed = variant_seed(load_key(layout.course_dir(course.id)), f"{course.id}/{assignment.id}", user)
            tmp = home / course.id / f".{assignment.id}.handout"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(release, tmp)
            for path in tmp.glob("*.ipynb"):
                nb = json.loads(path.read_text(encoding="utf-8"))
                path.write_text(json.dumps(personalize(nb, seed), indent=1, ensure_ascii=False), encoding="utf-8")
            if owner:
                for folder in (home / course.id, tmp):
                    os.chown(folder, *owner)
                for path in tmp.rglob("*"):
                    os.chown(path, *owner)
            tmp.rename(target)
            written.append(f"{course.id}/{assignment.id}")
            log.info("handed out %s/%s to %s", course.id, assignment.id, user)
    return written
