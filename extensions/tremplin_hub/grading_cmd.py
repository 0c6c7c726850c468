"""``tremplin grade``: follow, fill and re-run the grading queue from the command line.

Examples::

    tremplin grade status preselection-math/math-2027 --wait     # progress bar until every paper is graded
    tremplin grade regrade preselection-math/math-2027             # every candidate, every question
    tremplin grade regrade preselection-math/math-2027 --candidate learner1
    tremplin grade regrade preselection-math/math-2027 --question q6-test   # after fixing that test
    tremplin grade jobs preselection-math/math-2027 --state flagged
    tremplin grade queue preselection-math/math-2027   # papers handed in before grading on arrival existed

The ``tremplin-grader`` service (started by the hub) does the grading; these commands only
read and add jobs, so they work while it runs.
"""

from __future__ import annotations

import sys
import time
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from .layout import Layout, default_courses_dir, default_data_dir

if TYPE_CHECKING:  # (the queue, and SQLAlchemy with it, is imported by the commands that use it)
    from tremplin_grading.queue import GradingQueue, Progress

BAR = 30


def _exam(text: str) -> tuple[str, str]:
    if "/" not in text:
        raise ValueError(f"give the exam as <course>/<assignment> (e.g. preselection-math/math-2027), not {text!r}")
    course, assignment = text.split("/", 1)
    return course, assignment


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_line(p: Progress) -> str:
    """``[#####.....] 12/300 graded · 3 flagged · 0 errors · 2 running · ETA 1 min 20 s``."""
    total = max(p.total, 1)
    filled = BAR * p.finished // total
    parts = [f"[{'#' * filled}{'.' * (BAR - filled)}] {p.finished}/{p.total} graded"]
    for state, word in (("flagged", "flagged"), ("error", "errors"), ("running", "running")):
        if p.counts.get(state):
            parts.append(f"{p.counts[state]} {word}")
    if p.pending:
        parts.append(f"ETA {_duration(p.eta_seconds)}")
    return " · ".join(parts)


def follow(queue: GradingQueue, course: str, assignment: str, since: int, *, poll: float = 1.0,
           out=sys.stderr) -> Progress:
    """Draw the progress bar until no job (with id > ``since``) of the exam is waiting or running."""
    quiet_since, last_finished = time.monotonic(), -1
    while True:
        p = queue.progress(course, assignment, since=since)
        print("\r" + progress_line(p), end="", file=out, flush=True)
        if not p.pending:
            print(file=out)
            return p
        if p.finished != last_finished or p.counts.get("running"):
            quiet_since, last_finished = time.monotonic(), p.finished
        elif time.monotonic() - quiet_since > 30:
            print("\nnothing is being graded: is the hub (and its tremplin-grader service) running? "
                  "Jobs wait in the queue until it is.", file=out)
            quiet_since = time.monotonic()
        time.sleep(poll)


def _layout(args) -> Layout:
    return Layout(Path(args.data_dir).resolve() if args.data_dir else default_data_dir())


def _queue(args) -> GradingQueue:
    from tremplin_grading.queue import GradingQueue

    layout = _layout(args)
    layout.grading_private.mkdir(parents=True, mode=0o700, exist_ok=True)
    return GradingQueue(layout.grading_db_url)


def cmd_status(args) -> int:
    course, assignment = _exam(args.exam)
    with _queue(args) as queue:
        if args.wait:
            p = follow(queue, course, assignment, 0)
        else:
            p = queue.progress(course, assignment)
            print(progress_line(p))
    print(" · ".join(f"{state} {n}" for state, n in p.counts.items() if n) or "no paper queued for this exam")
    return 0


def cmd_regrade(args) -> int:
    course, assignment = _exam(args.exam)
    with _queue(args) as queue:
        since = queue.last_id()
        created = queue.regrade(course, assignment, student=args.candidate, question=args.question or "",
                                requested_by=args.by or _me())
        what = f"question {args.question}" if args.question else "every question"
        who = args.candidate or "every candidate"
        if not created:
            print(f"nothing to regrade: no paper of {who} in {course}/{assignment} is in the grading queue "
                  "(see 'tremplin grade queue' for papers handed in earlier)", file=sys.stderr)
            return 1
        print(f"{len(created)} paper(s) of {course}/{assignment} queued again ({what}, {who})")
        if not args.no_wait:
            follow(queue, course, assignment, since)
    return 0


def cmd_jobs(args) -> int:
    course, assignment = _exam(args.exam)
    with _queue(args) as queue:
        found = queue.jobs(course, assignment, states=tuple(args.state or ()), limit=args.limit)
    for job in found:
        score = "" if job.score is None else f"{job.score:g}/{job.max_score:g}"
        note = job.error or "; ".join(f.get("en", f.get("reason", "")) for f in job.flags)
        print(f"{job.id}\t{job.student}\t{job.reason}{'(' + job.question + ')' if job.question else ''}\t"
              f"{job.state}\t{score}\t{note}")
    return 0


def cmd_queue(args) -> int:
    """Queue the papers that count of an exam from the exam service's store (idempotent)."""
    from .exam.core import ExamService
    from .exam.errors import ExamError
    from .exam.store import Store

    course, assignment = _exam(args.exam)
    layout = _layout(args)
    with _queue(args) as queue, closing(Store(layout.exam_db_url, layout.exam_files)) as store:
        service = ExamService(store, Path(args.courses_dir), layout.course_dir, grading=queue)
        since = queue.last_id()
        try:
            count = service.queue_papers(course, assignment)
        except ExamError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        print(f"{count} paper(s) of {course}/{assignment} added to the grading queue")
        if count and not args.no_wait:
            follow(queue, course, assignment, since)
    return 0


def _me() -> str:
    import getpass

    return getpass.getuser()


def add_parser(sub) -> None:
    grade = sub.add_parser("grade", help="the grading queue: progress, regrades").add_subparsers(dest="action",
                                                                                                required=True)
    p = grade.add_parser("status", help="how far the grading of an exam has got",
                         description="Example: tremplin grade status preselection-math/math-2027 --wait")
    p.add_argument("exam", help="<course>/<assignment>")
    p.add_argument("--wait", action="store_true", help="show a progress bar until every paper is graded")
    p.set_defaults(func=cmd_status)
    p = grade.add_parser("regrade", help="grade papers again (all, one candidate, one question)",
                         description="Example: tremplin grade regrade preselection-math/math-2027 --question q6-test")
    p.add_argument("exam", help="<course>/<assignment>")
    p.add_argument("--candidate", help="only this candidate's paper")
    p.add_argument("--question", help="only this question (the grade id of its test cell); other scores stay")
    p.add_argument("--by", help="who asks, for the queue's record (default: your account)")
    p.add_argument("--no-wait", action="store_true", help="queue and return, without the progress bar")
    p.set_defaults(func=cmd_regrade)
    p = grade.add_parser("jobs", help="list an exam's grading jobs",
                         description="Example: tremplin grade jobs preselection-math/math-2027 --state flagged")
    p.add_argument("exam", help="<course>/<assignment>")
    p.add_argument("--state", action="append", help="only jobs in this state (repeatable)")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=cmd_jobs)
    p = grade.add_parser("queue", help="queue an exam's papers handed in before grading on arrival",
                         description="Example: tremplin grade queue preselection-math/math-2027")
    p.add_argument("exam", help="<course>/<assignment>")
    p.add_argument("--courses-dir", default=str(default_courses_dir()))
    p.add_argument("--no-wait", action="store_true")
    p.set_defaults(func=cmd_queue)
