"""Bring one nbgrader course directory up to date with its course.toml.

Run inside the course directory as the course's grader account (``tremplin courses
sync`` starts it with ``runuser`` when root), so every file nbgrader writes belongs to
the account whose formgrader will later read and rewrite it:

    python -m tremplin_grading.coursework <course-dir> <plan.json>

The plan lists the learners and the assignments with due dates. For each assignment the
gradebook gets its due date and the student version (``release/<id>/``) is generated
when the source changed. Releasing it to learners is the exam service's job (the hub
side of ``tremplin courses sync`` hands it over): grading code knows no exchange.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .variants import KEY_FILE, load_key

STATE_FILE = ".tremplin-sync.json"


@dataclass
class CourseworkReport:
    """What happened to one course directory; ``errors`` name the assignment and the fix."""

    course_id: str
    generated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


#: nbgrader's autograde steps, with its kernel execution replaced by the sandbox and the judge.
JUDGED_AUTOGRADE = ["tremplin_grading.autograde.JudgeExecute", "nbgrader.preprocessors.IgnorePattern",
                    "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
                    "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
                    "nbgrader.preprocessors.CheckCellMetadata"]


def feedback_templates() -> tuple[list[str], list[str]]:
    """``extra_template_basedirs`` and ``extra_template_paths`` of the learners' feedback exporter: our
    ``tremplin_feedback`` (beside this module) extends nbgrader's ``feedback``, whose folder must be on the
    search path too, with the CSS nbgrader's ``GenerateFeedback`` adds. Written into the course's config as
    paths: loading that config imports nothing."""
    formgrader = Path(importlib.util.find_spec("nbgrader").origin).parent / "server_extensions" / "formgrader"
    templates = str(formgrader / "templates")
    return ([str(Path(__file__).resolve().parent / "templates"), templates],
            [str(formgrader / "static" / "node_modules" / "bootstrap" / "dist" / "css"), templates])


def nbgrader_config_text(course_id: str, course_dir: Path, engine_socket: Path | str | None = None,
                         limits: dict | None = None) -> str:
    """The ``nbgrader_config.py`` of a course directory.

    With ``engine_socket`` (what ``tremplin courses sync`` writes), autograde runs learners'
    cells in the grading service's sandbox and the tests in its judge; without it, in one
    kernel as stock nbgrader does (kept for comparisons: never for real papers).
    """
    judged = "" if engine_socket is None else (
        "# Learners' cells run in a sandbox, the tests in the trusted judge, answers cross as data\n"
        "# (tremplin_grading.autograde); scores, comments and feedback stay nbgrader's.\n"
        f"c.Autograde.autograde_preprocessors = {json.dumps(JUDGED_AUTOGRADE)}\n"
        f"c.JudgeExecute.engine_socket = {json.dumps(str(engine_socket))}\n"
        "# nbconvert checks the notebook once, after the last step, rather than after each of them.\n"
        "c.Exporter.optimistic_validation = True\n"
        "# One autograde of a paper at a time (the grading queue and the formgrader's button).\n"
        "__import__('tremplin_grading.autograde').autograde.serialize_paper_grading()\n"
        + (f"c.JudgeExecute.limits = {json.dumps(limits)}  # course.toml [grading]\n" if limits else ""))
    basedirs, paths = feedback_templates()
    return (
        "# Written by 'tremplin courses sync': edits are lost at the next sync.\n"
        "c = get_config()  # noqa\n"
        f"c.CourseDirectory.course_id = {json.dumps(course_id)}\n"
        f"c.CourseDirectory.root = {json.dumps(str(course_dir))}\n"
        "# A deleted test cell must not be silently left ungraded (FACTS.md).\n"
        "c.OverwriteCells.add_missing_cells = True\n"
        "# Cells whose nbgrader metadata names no author's cell are the candidate's own (DropForgedCells).\n"
        "# Variants: after OverwriteCells restores the author's parameters cell, write in the\n"
        "# values of the student being graded (tremplin_grading.variants).\n"
        "c.Autograde.sanitize_preprocessors = [\n"
        "    'nbgrader.preprocessors.ClearOutput', 'tremplin_grading.autograde.DropForgedCells',\n"
        "    'nbgrader.preprocessors.DeduplicateIds',\n"
        "    'nbgrader.preprocessors.OverwriteKernelspec', 'nbgrader.preprocessors.OverwriteCells',\n"
        "    'tremplin_grading.variants.InjectVariant', 'nbgrader.preprocessors.CheckCellMetadata']\n"
        f"c.InjectVariant.key_file = {json.dumps(str(Path(course_dir) / KEY_FILE))}\n"
        f"c.InjectVariant.exam_prefix = {json.dumps(course_id)}\n"
        "# Candidates' notebooks are shown to staff (formgrader) and in feedback: their HTML and Markdown\n"
        "# are sanitised (tremplin_grading.sanitize).\n"
        "c.HTMLExporter.sanitize_html = True\n"
        "c.HTMLExporter.filters = {'markdown2html': 'tremplin_grading.sanitize.markdown2html'}\n"
        "# Learners' feedback: the score and checkers' messages of each question in French and English, never\n"
        "# the tests' code nor what the candidate's code printed or raised under them (tremplin_grading.feedback).\n"
        "c.GenerateFeedback.preprocessors = ['nbgrader.preprocessors.GetGrades',\n"
        "    'tremplin_grading.feedback.LearnerFeedback', 'nbconvert.preprocessors.CSSHTMLHeaderPreprocessor']\n"
        "c.GenerateFeedback.HTMLExporter.template_name = 'tremplin_feedback'\n"
        f"c.GenerateFeedback.HTMLExporter.extra_template_basedirs = {json.dumps(basedirs)}\n"
        f"c.GenerateFeedback.HTMLExporter.extra_template_paths = {json.dumps(paths)}\n"
        + judged
    )


def source_digest(folder: Path) -> str:
    """SHA-256 over the names and bytes of every file under ``folder``."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def _last_lines(result: dict) -> str:
    text = (result.get("error") or result.get("log") or "").strip().splitlines()
    return " | ".join(text[-3:])


def enrol(gb, plan: dict) -> None:
    """The gradebook's students, as the plan says, with their names (:func:`name_students`).

    A MOOC's gradebook lists its learners. An exam's holds the candidates who handed in (the
    grading service adds each with their paper): one still sitting the exam, or absent, was
    listed at 0/30 like a fail, so students with no submission are taken out.
    """
    if plan.get("kind") == "exam":
        for student in list(gb.students):
            if not student.submissions:
                gb.remove_student(student.id)
    else:
        for learner in plan["learners"]:
            gb.update_or_create_student(learner)
    name_students(gb, plan.get("names", {}))


def name_students(gb, names: dict[str, list[str]], students: list | None = None) -> None:
    """Give the students of the gradebook (or ``students``) the names the formgrader shows (it showed
    "None, None"): the roster's (``names``: ``{account: [last name, first name, email]}``, admissions'
    word), else their account as last name, for those who have none yet (a professor's edits stay)."""
    for student in gb.students if students is None else students:
        found = names.get(student.id)
        if found:
            student.last_name, student.first_name, student.email = found
        elif student.last_name is None and student.first_name is None:
            student.last_name, student.first_name, student.email = student.id, "", student.email or ""
    gb.db.commit()


def apply_plan(course_dir: Path, plan: dict) -> CourseworkReport:
    """Update the gradebook, generate and release, as the plan says.

    Args:
        course_dir: the nbgrader course root (holds ``source/`` and ``nbgrader_config.py``).
        plan: ``{"course_id", "kind", "learners": [...], "names": {account: [last, first, email]},
            "assignments": [{"id", "due"}]}`` with ``due``
            an ISO date-time in UTC.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    course_id = plan["course_id"]
    report = CourseworkReport(course_id)
    config = Config()
    config.CourseDirectory.root = str(course_dir)
    config.CourseDirectory.course_id = course_id
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir, config=config)
    # The key of the candidates' variants; only the grader account can read it.
    load_key(course_dir, create=True)
    state_path = course_dir / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.exists() else {}

    with api.gradebook as gb:
        enrol(gb, plan)
        for a in plan["assignments"]:
            due = dt.datetime.fromisoformat(a["due"]).astimezone(dt.timezone.utc).replace(tzinfo=None)
            gb.update_or_create_assignment(a["id"], duedate=due)

    for a in plan["assignments"]:
        aid = a["id"]
        digest = source_digest(course_dir / "source" / aid)
        previous = state.get(aid, {})
        if previous.get("digest") != digest or not (course_dir / "release" / aid).is_dir():
            result = api.generate_assignment(aid, force=True, create=True)
            if not result["success"]:
                report.errors.append(f"assignment '{aid}' of {course_id}: nbgrader could not generate the student "
                                     f"version ({_last_lines(result)}); fix the source notebook and sync again")
                continue
            report.generated.append(aid)
            state[aid] = {"digest": digest}
        else:
            report.unchanged.append(aid)

    tmp = state_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    tmp.replace(state_path)
    return report


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m tremplin_grading.coursework <course-dir> <plan.json>", file=sys.stderr)
        return 2
    course_dir, plan_file = Path(argv[0]), Path(argv[1])
    report = apply_plan(course_dir, json.loads(plan_file.read_text()))
    print(json.dumps(asdict(report)))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
