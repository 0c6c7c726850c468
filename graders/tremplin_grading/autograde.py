"""nbgrader's autograde with the trust boundary: :class:`JudgeExecute` replaces nbgrader's ``Execute``.

In a course's ``nbgrader_config.py`` (written by ``tremplin courses sync``)::

    c.Autograde.autograde_preprocessors = ["tremplin_grading.autograde.JudgeExecute", ...]
    c.JudgeExecute.engine_socket = "/var/lib/tremplin/grading/engine.sock"

Everything else of nbgrader's autograde stays: the sanitizing steps (``OverwriteCells`` puts
back the author's locked and test cells, ``InjectVariant`` the candidate's parameters), then
``SaveAutoGrades`` scores each test cell from its outputs with nbgrader's own rules, and the
gradebook, the formgrader, manual grading and feedback work as before. Only the execution
changes: instead of one kernel running the candidate's cells and the hidden tests together,
:func:`build_task` splits the notebook into

* the *sandbox program*: the submitted notebook's cells (tests left out), with the files of
  its folder, run in a sandbox (:mod:`tremplin_grading.sandbox`);
* the *judge program*: the author's cells, read from the course's ``source/`` notebook (never
  from the submission): locked set-up cells, the parameters cell with this candidate's
  variant computed from the key, and the test cells with their hidden tests, run by
  :func:`tremplin_grading.judge.judge` with the candidate's answers as data;

sends it to the grading engine, and writes the outputs back into the notebook. A paper cut
short (a time or output limit, its process ending) is graded with what finished; the reason
is kept in ``.tremplin-grading.json`` beside the autograded notebook and shown in the first
cell's output.
"""

from __future__ import annotations

import base64
import copy
import fcntl
import json
import os
import stat
from contextlib import contextmanager
from pathlib import Path

import nbformat
from traitlets import Dict, Float, Unicode

from nbgrader.preprocessors import NbGraderPreprocessor

from .sandbox.limits import Limits
from .variants import KEY_FILE, parameters_cell, personalize, variant_seed
from .variants_check import cell_source, is_test_cell, nbgrader_meta

SIDECAR = ".tremplin-grading.json"
LOCKS = ".locks"
#: Files of a paper's folder sent into the sandbox, at most (nbgrader's submissions are smaller).
MAX_FILES_BYTES = 20 * 1024 * 1024
SKIPPED_DIRS = {".ipynb_checkpoints", "__pycache__", "feedback", "receipts"}


class TaskError(Exception):
    """The notebook cannot be graded as it stands (the author's side is missing or broken)."""


def is_author_code(cell) -> bool:
    """A code cell the author wrote and the candidate cannot change: locked or a test, not an answer."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and not meta.get("solution") and bool(meta.get("locked") or meta.get("grade"))


def read_folder(folder: Path, skip: set[str] = frozenset(), limit: int = MAX_FILES_BYTES) -> dict[str, str]:
    """Regular files under ``folder`` (links never followed), base64, by relative path."""
    files, total = {}, 0
    if not folder.is_dir():
        return files
    for top, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(names):
            path = Path(top) / name
            rel = str(path.relative_to(folder))
            if rel in skip or name.startswith("."):
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    continue
                data = f.read(limit - total + 1)
            total += len(data)
            if total > limit:
                raise TaskError(f"the files of {folder} are over {limit // 1024 // 1024} MiB; remove large data files")
            files[rel] = base64.b64encode(data).decode()
    return files


def author_cells(source_nb: dict, seed: str | None) -> list[dict]:
    """The judge program: the author's code cells in the author's order, with the variant of ``seed``."""
    nb = personalize(source_nb, seed) if seed and parameters_cell(source_nb) is not None else source_nb
    cells = []
    for index, cell in enumerate(nb.get("cells", [])):
        if not is_author_code(cell):
            continue
        meta = nbgrader_meta(cell)
        cells.append({"id": str(meta.get("grade_id") or f"author-{index}"), "source": cell_source(cell),
                      "test": is_test_cell(cell)})
    return cells


def build_task(nb, *, course_root: Path, course_id: str, assignment: str, notebook: str, student: str,
               folder: Path, limits: Limits, judge_cell_seconds: float = 60.0) -> dict:
    """The task for one notebook of one paper (see the module docstring)."""
    source_path = course_root / "source" / assignment / f"{notebook}.ipynb"
    try:
        source_nb = json.loads(source_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TaskError(f"the author's notebook {source_path} cannot be read ({exc}); run 'tremplin courses sync'") \
            from None
    seed = None
    if parameters_cell(source_nb) is not None:
        key_path = course_root / KEY_FILE
        try:
            key = key_path.read_text().strip().encode()
        except OSError as exc:
            raise TaskError(f"the variants key {key_path} cannot be read ({exc})") from None
        seed = variant_seed(key, f"{course_id}/{assignment}", student)
    judge = author_cells(source_nb, seed)
    tests = {c["id"] for c in judge if c["test"]}
    sandbox = [{"id": str(i), "source": cell_source(cell)} for i, cell in enumerate(nb.cells)
               if cell.cell_type == "code" and nbgrader_meta(cell).get("grade_id") not in tests]
    return {
        "version": 1, "course": course_id, "assignment": assignment, "notebook": notebook, "student": student,
        "sandbox": {"cells": sandbox, "files": read_folder(folder, skip={f"{notebook}.ipynb"})},
        "judge": {"cells": judge, "files": read_folder(source_path.parent, skip={p.name for p in
                                                                                 source_path.parent.glob("*.ipynb")})},
        "limits": limits.to_dict(), "judge_cell_seconds": judge_cell_seconds,
    }


def apply_result(nb, result: dict) -> None:
    """Put the outputs of ``result`` into ``nb``'s code cells (tests by grade id, the rest by position)."""
    judged = result.get("judge", {})
    ran = result.get("sandbox", {})
    count = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        grade_id = nbgrader_meta(cell).get("grade_id")
        if is_test_cell(cell) and grade_id in judged:
            outputs = judged[grade_id]["outputs"]
        elif is_test_cell(cell):
            outputs = [{"output_type": "error", "ename": "NotRun", "evalue": "this test was not run / ce test n'a "
                        "pas été exécuté", "traceback": []}]
        else:
            outputs = ran.get(str(index), {}).get("outputs", [])
        count += 1
        cell.execution_count = count
        cell.outputs = [nbformat.from_dict(copy.deepcopy(out)) for out in outputs]
        for out in cell.outputs:
            if out.output_type == "execute_result":
                out.execution_count = count
    flags = result.get("flags") or []
    first = next((c for c in nb.cells if c.cell_type == "code" and not is_test_cell(c)), None)
    if flags and first is not None:
        note = "".join(f"⚠ Tremplin : {f.get('fr', '')}\n⚠ Tremplin: {f.get('en', '')}\n" for f in flags)
        first.outputs.insert(0, nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": note}))


class DropForgedCells(NbGraderPreprocessor):
    """Sanitizing: nbgrader metadata that names no cell of the author's notebook is the candidate's own doing.

    A submitted cell may claim to be a locked or graded cell (``grade_id: "bonus"``, 1000
    points), copy the id of a real one, or carry half the metadata nbgrader needs; stock
    nbgrader then refuses the whole notebook (its ``DeduplicateIds`` leaves an empty metadata
    that ``OverwriteCells`` cannot read). Such a cell becomes an ordinary cell of the
    candidate's (it still runs, in the sandbox, and is never graded); of two cells with the
    same id the first is kept. Runs before nbgrader's own sanitizing steps.
    """

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook, MissingEntry

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            try:
                known = {c.name for c in gb.find_notebook(info["notebook"], info["assignment"]).source_cells}
            except MissingEntry:
                return nb, resources
        seen = set()
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader")
            if meta is None:
                continue
            grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
            if grade_id not in known or grade_id in seen:
                self.log.warning("cell with nbgrader metadata %r is not the author's: kept as an ordinary cell",
                                 {k: meta.get(k) for k in ("grade_id", "grade", "points")} if isinstance(meta, dict)
                                 else meta)
                del cell.metadata["nbgrader"]
            else:
                seen.add(grade_id)
        return nb, resources


class JudgeExecute(NbGraderPreprocessor):
    """nbgrader's execution step, replaced by the sandbox and the judge (see the module docstring)."""

    engine_socket = Unicode(
        "", help="Unix socket of the grading engine (the tremplin-grader service): "
                 "<data>/grading/engine.sock. Required.").tag(config=True)
    limits = Dict(help="Sandbox limits for each paper (tremplin_grading.sandbox.limits.Limits fields, e.g. "
                       "{'cell_seconds': 10, 'wall_seconds': 60}); unset fields keep their defaults.").tag(config=True)
    judge_cell_seconds = Float(60.0, help="Seconds one test cell may run in the judge (default 60).").tag(config=True)
    course_root = Unicode("", help="The course directory (default: CourseDirectory.root).").tag(config=True)
    course_id = Unicode("", help="The course id (default: CourseDirectory.course_id).").tag(config=True)

    def _setting(self, own: str, section: str, key: str) -> str:
        return own or str(self.config.get(section, {}).get(key, "") or "")

    def preprocess(self, nb, resources):
        from .engine.client import engine_for

        info = resources["nbgrader"]
        root = self._setting(self.course_root, "CourseDirectory", "root")
        if not root and str(info.get("db_url", "")).startswith("sqlite:///"):
            root = str(Path(info["db_url"][len("sqlite:///"):]).parent)
        course_id = self._setting(self.course_id, "CourseDirectory", "course_id")
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        task = build_task(nb, course_root=Path(root), course_id=course_id, assignment=info["assignment"],
                          notebook=info["notebook"], student=info["student"], folder=folder,
                          limits=Limits(**self.limits), judge_cell_seconds=self.judge_cell_seconds)
        result = engine_for(self.engine_socket).grade(task)
        if result.get("error") and not result.get("judge"):
            self.log.error("grading of %s/%s by %s failed: %s", info["assignment"], info["notebook"],
                           info["student"], result["error"])
        apply_result(nb, result)
        record_flags(folder, info["notebook"], result)
        for flag in result.get("flags") or []:
            self.log.warning("%s/%s of %s: %s", info["assignment"], info["notebook"], info["student"], flag.get("en"))
        return nb, resources


_held: set = set()


@contextmanager
def paper_lock(root: Path, assignment: str, student: str):
    """One autograde of a paper at a time in a course directory (the grading queue's recorder and a
    professor's *Autograde* button may ask at the same moment); re-entrant within a process."""
    key = (str(root), assignment, student)
    if key in _held:
        yield
        return
    folder = Path(root) / "autograded" / LOCKS
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{assignment}--{student}".replace("/", "_")
    with open(folder / f"{name}.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        _held.add(key)
        try:
            yield
        finally:
            _held.discard(key)
            fcntl.flock(f, fcntl.LOCK_UN)


def serialize_paper_grading() -> None:
    """Make nbgrader's autograde of one paper take :func:`paper_lock` (called from the course's
    ``nbgrader_config.py``, so the formgrader and ``nbgrader autograde`` do it too)."""
    from nbgrader.converters import Autograde

    if getattr(Autograde.start, "_tremplin_locked", False):
        return
    original = Autograde.start

    def start(self):
        assignment, student = self.coursedir.assignment_id, self.coursedir.student_id
        if assignment and student and not any(c in assignment + student for c in "*?["):
            with paper_lock(Path(self.coursedir.root), assignment, student):
                return original(self)
        return original(self)

    start._tremplin_locked = True
    Autograde.start = start


def record_flags(folder: Path, notebook: str, result: dict) -> None:
    """Keep the flags and timings of each notebook beside the autograded copy (read by the grading queue)."""
    path = folder / SIDECAR
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        data = {}
    data[notebook] = {"flags": result.get("flags") or [], "stats": result.get("stats") or {},
                      "error": result.get("error", "")}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False))
    tmp.replace(path)
