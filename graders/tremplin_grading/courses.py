"""Courses as data: read and validate ``courses/<course-id>/course.toml``.

A course is a folder holding a ``course.toml`` and nbgrader source notebooks under
``source/<assignment-id>/``. This module turns each folder into a :class:`Course`
or into :class:`CourseError` messages that name the file, the field and the fix, so
one bad course never stops the others from loading. It knows nothing about the hub:
the hub side turns courses into groups, services and releases.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

KINDS = ("mooc", "exam")
LANGUAGES = ("fr", "en")

#: Course ids become JupyterHub group and service names and a system account
#: ``grader-<id>`` (at most 32 characters on Linux), hence the length limit.
COURSE_ID = re.compile(r"^[a-z][a-z0-9-]{1,23}[a-z0-9]$")
#: nbgrader uses assignment ids as folder names and in its database.
ASSIGNMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: Account names, as JupyterHub and useradd both accept them.
ACCOUNT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


@dataclass(frozen=True)
class Assignment:
    """One nbgrader assignment of a course.

    Attributes:
        id: folder name under ``source/`` and nbgrader assignment id.
        title: ``{"fr": ..., "en": ...}``.
        graded: False for practice modules (instant feedback only).
        opens: release time (UTC, aware).
        due: due date (UTC, aware); nbgrader marks later submissions late.
        notebooks: names of the source notebooks, sorted.
        duration_minutes: exams only: time each candidate has from their fetch (default 120).
        grace_minutes: exams only: after a candidate's deadline, how long a submission still
            counts as on time (network delays, the last save); default 2.
    """

    id: str
    title: dict[str, str]
    graded: bool
    opens: dt.datetime
    due: dt.datetime
    notebooks: tuple[str, ...]
    duration_minutes: float = 120
    grace_minutes: float = 2

    def is_open(self, now: dt.datetime) -> bool:
        """Whether the assignment is released at ``now`` (aware datetime)."""
        return now >= self.opens


@dataclass(frozen=True)
class Course:
    """A validated course.

    Attributes:
        id: course id (folder name, nbgrader course id, JupyterHub service name).
        kind: ``"mooc"`` or ``"exam"``.
        title, description: ``{"fr": ..., "en": ...}``.
        instructors: account names of the professors who grade it.
        learners: account names of the enrolled learners or registered candidates.
        assignments: in file order.
        path: the course folder.
        grading: limits of the grading sandbox for this course's papers (the ``[grading]``
            table: ``cell_seconds``, ``call_seconds``, ``wall_seconds``, ``memory_mib``,
            ``output_chars``); the defaults of :class:`~tremplin_grading.sandbox.limits.Limits`
            for what it leaves out.
    """

    id: str
    kind: str
    title: dict[str, str]
    description: dict[str, str]
    instructors: tuple[str, ...]
    learners: tuple[str, ...]
    assignments: tuple[Assignment, ...]
    path: Path
    grading: dict = field(default_factory=dict)

    @property
    def source_dir(self) -> Path:
        return self.path / "source"

    @property
    def student_group(self) -> str:
        """JupyterHub group of the learners, as nbgrader's JupyterHubAuthPlugin expects."""
        return student_group(self.id)

    @property
    def grader_group(self) -> str:
        """JupyterHub group of the graders, as nbgrader's JupyterHubAuthPlugin expects."""
        return f"formgrade-{self.id}"

    @property
    def grader_account(self) -> str:
        """System account that owns the course directory and runs the formgrader."""
        return f"grader-{self.id}"


def student_group(course_id: str) -> str:
    """The JupyterHub group of a course's learners (``nbgrader-<course>``, nbgrader's JupyterHubAuthPlugin's)."""
    return f"nbgrader-{course_id}"


@dataclass
class CourseError(Exception):
    """A problem in one course file, worded for the person who edits it."""

    file: Path
    field: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}: field '{self.field}': {self.problem}; fix: {self.fix}"


@dataclass
class LoadReport:
    """The outcome of loading a courses folder: the good courses and every error."""

    courses: list[Course] = field(default_factory=list)
    errors: list[CourseError] = field(default_factory=list)


def _require(data: dict, key: str, file: Path, fix: str, where: str = ""):
    if key not in data:
        raise CourseError(file, where + key, "is missing", fix)
    return data[key]


def _bilingual(value, file: Path, name: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise CourseError(file, name, f"must be a table with 'fr' and 'en', got {value!r}",
                          f'write [{name}] with fr = "..." and en = "..."')
    missing = [lang for lang in LANGUAGES if not str(value.get(lang, "")).strip()]
    if missing:
        raise CourseError(file, f"{name}.{missing[0]}", "is missing or empty",
                          f"give the text in French (fr) and English (en) under {name}")
    return {lang: str(value[lang]).strip() for lang in LANGUAGES}


def _datetime(value, file: Path, name: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise CourseError(file, name, f"{value!r} is not a date and time",
                              "write it as a TOML date-time in UTC, e.g. 2027-03-31T23:59:00Z") from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        raise CourseError(file, name, f"{value} has no time of day",
                          "write a date and time in UTC, e.g. 2027-03-31T23:59:00Z")
    if not isinstance(value, dt.datetime):
        raise CourseError(file, name, f"{value!r} is not a date and time",
                          "write it as a TOML date-time in UTC, e.g. 2027-03-31T23:59:00Z")
    if value.tzinfo is None:
        raise CourseError(file, name, f"{value.isoformat()} has no time zone",
                          f"times are in UTC: write {value.isoformat()}Z")
    return value.astimezone(dt.timezone.utc)


def _names(value, file: Path, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CourseError(file, name, f"must be a list of account names, got {value!r}",
                          f'write {name} = ["name1", "name2"]')
    for v in value:
        if not ACCOUNT_NAME.match(v):
            raise CourseError(file, name, f"{v!r} is not a valid account name",
                              "use lower-case letters, digits and '-', starting with a letter")
    return tuple(value)


def _assignment(raw, index: int, course_dir: Path, file: Path) -> Assignment:
    where = f"assignments[{index}]."
    if not isinstance(raw, dict):
        raise CourseError(file, f"assignments[{index}]", "must be a table", "write it as [[assignments]]")
    aid = _require(raw, "id", file, "give the assignment's folder name under source/, e.g. id = \"week-1\"", where)
    if not isinstance(aid, str) or not ASSIGNMENT_ID.match(aid):
        raise CourseError(file, where + "id", f"{aid!r} is not a valid assignment id",
                          "use letters, digits, '-' and '_' (it is a folder name)")
    where = f"assignments[{aid}]."
    title = _bilingual(_require(raw, "title", file, "add [assignments.title] with fr and en", where),
                       file, where + "title")
    graded = raw.get("graded", True)
    if not isinstance(graded, bool):
        raise CourseError(file, where + "graded", f"{graded!r} is not true or false", "write graded = true or false")
    opens = _datetime(_require(raw, "opens", file, "add opens = 2027-01-10T08:00:00Z (UTC)", where),
                      file, where + "opens")
    due = _datetime(_require(raw, "due", file, "add due = 2027-01-31T23:59:00Z (UTC)", where), file, where + "due")
    if due <= opens:
        raise CourseError(file, where + "due", f"{due.isoformat()} is not after opens ({opens.isoformat()})",
                          "set due later than opens")
    folder = course_dir / "source" / aid
    notebooks = tuple(sorted(p.name for p in folder.glob("*.ipynb"))) if folder.is_dir() else ()
    if not notebooks:
        raise CourseError(file, where + "id", f"no notebook in {folder}",
                          f"put the nbgrader source notebooks of '{aid}' in {folder}/")
    timing = {}
    for name, default, fix in (("duration_minutes", 120, "e.g. duration_minutes = 90"),
                               ("grace_minutes", 2, "e.g. grace_minutes = 2")):
        value = raw.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or \
                (name == "duration_minutes" and value == 0):
            raise CourseError(file, where + name, f"{value!r} is not a positive number of minutes", fix)
        timing[name] = float(value)
    unknown = set(raw) - {"id", "title", "graded", "opens", "due", "duration_minutes", "grace_minutes"}
    if unknown:
        raise CourseError(file, where + sorted(unknown)[0], "unknown field",
                          "use only id, title, graded, opens, due, duration_minutes, grace_minutes")
    return Assignment(aid, title, graded, opens, due, notebooks, **timing)


def load_course(course_dir: Path, known_instructors: Iterable[str] | None = None) -> Course:
    """Read and validate one course folder.

    Args:
        course_dir: ``courses/<course-id>``.
        known_instructors: account names allowed as instructors; None skips that check.

    Returns:
        the :class:`Course`.

    Raises:
        CourseError: the first problem found, naming the file, the field and the fix.
    """
    course_dir = Path(course_dir)
    file = course_dir / "course.toml"
    if not file.is_file():
        raise CourseError(file, "(file)", "does not exist",
                          "every folder under courses/ needs a course.toml (see docs/courses.md)")
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(file, "(syntax)", f"is not valid TOML ({exc})", "fix the syntax at that line") from None
    except UnicodeDecodeError:
        raise CourseError(file, "(encoding)", "is not UTF-8", "save the file as UTF-8") from None

    cid = _require(data, "id", file, f'add id = "{course_dir.name}"')
    if not isinstance(cid, str) or not COURSE_ID.match(cid):
        raise CourseError(file, "id", f"{cid!r} is not a valid course id",
                          "use 3 to 25 lower-case letters, digits and '-', starting with a letter")
    if cid != course_dir.name:
        raise CourseError(file, "id", f"{cid!r} differs from the folder name {course_dir.name!r}",
                          f"rename the folder or write id = \"{course_dir.name}\"")
    kind = _require(data, "kind", file, 'add kind = "mooc" or kind = "exam"')
    if kind not in KINDS:
        raise CourseError(file, "kind", f"unknown kind {kind!r}", f"use one of: {', '.join(KINDS)}")
    title = _bilingual(_require(data, "title", file, "add [title] with fr and en"), file, "title")
    description = _bilingual(_require(data, "description", file, "add [description] with fr and en"),
                             file, "description")
    instructors = _names(_require(data, "instructors", file, 'add instructors = ["professor-account"]'),
                         file, "instructors")
    if not instructors:
        raise CourseError(file, "instructors", "is empty", "name at least one professor account")
    if known_instructors is not None:
        known = set(known_instructors)
        for name in instructors:
            if name not in known:
                raise CourseError(file, "instructors", f"unknown instructor {name!r}",
                                  "create that account with the professor role "
                                  f"(tremplin accounts add {name} --role professor) or fix the name")
    learners = _names(data.get("learners", []), file, "learners")
    raw_assignments = _require(data, "assignments", file, "add at least one [[assignments]] table")
    if not isinstance(raw_assignments, list) or not raw_assignments:
        raise CourseError(file, "assignments", "must hold at least one [[assignments]] table",
                          "add [[assignments]] with id, title, opens and due")
    assignments = tuple(_assignment(raw, i, course_dir, file) for i, raw in enumerate(raw_assignments))
    seen = set()
    for a in assignments:
        if a.id in seen:
            raise CourseError(file, f"assignments[{a.id}].id", "appears twice", "give each assignment its own id")
        seen.add(a.id)
    grading = _grading(data.get("grading", {}), file)
    known_fields = {"id", "kind", "title", "description", "instructors", "learners", "assignments", "grading"}
    unknown = sorted(set(data) - known_fields)
    if unknown:
        raise CourseError(file, unknown[0], "is not a course field (a typo?)",
                          f"remove it or use one of: {', '.join(sorted(known_fields))}")
    return Course(cid, kind, title, description, instructors, learners, assignments, course_dir, grading)


#: What a course may set in its ``[grading]`` table.
GRADING_FIELDS = ("cell_seconds", "call_seconds", "wall_seconds", "memory_mib", "output_chars")


def _grading(raw, file: Path) -> dict:
    from .sandbox.limits import Limits

    if not isinstance(raw, dict):
        raise CourseError(file, "grading", "must be a table", "write [grading] with e.g. cell_seconds = 10")
    for key, value in raw.items():
        if key not in GRADING_FIELDS:
            raise CourseError(file, f"grading.{key}", "unknown field", f"use only {', '.join(GRADING_FIELDS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e9:
            raise CourseError(file, f"grading.{key}", f"{value!r} is not a positive number",
                              f"e.g. {key} = {getattr(Limits(), key)}")
    try:
        Limits(**raw)
    except (ValueError, TypeError) as exc:
        raise CourseError(file, "grading", str(exc), "make wall_seconds at least cell_seconds") from None
    return dict(raw)


def load_courses(courses_dir: Path, known_instructors: Iterable[str] | None = None) -> LoadReport:
    """Load every course folder under ``courses_dir``; a bad course does not stop the others.

    Folders whose name starts with ``.`` or ``_`` are ignored.
    """
    report = LoadReport()
    courses_dir = Path(courses_dir)
    if not courses_dir.is_dir():
        report.errors.append(CourseError(courses_dir, "(folder)", "does not exist",
                                         "point TREMPLIN_COURSES_DIR at the folder holding the courses"))
        return report
    known = None if known_instructors is None else set(known_instructors)
    for child in sorted(courses_dir.iterdir()):
        if not child.is_dir() or child.name.startswith((".", "_")):
            continue
        try:
            report.courses.append(load_course(child, known))
        except CourseError as exc:
            report.errors.append(exc)
    return report
