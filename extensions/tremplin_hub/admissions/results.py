"""A campaign's results and their signed export.

:func:`gather` joins the roster, what the exam service knows of each candidate's exam
(:meth:`tremplin_hub.exam.core.ExamService.outcomes`: start, hand-in, lateness, variant,
receipt, accommodation in force, by the policy's own rule) and the courses' gradebooks (read
only), a few set-based reads per section whatever the number of candidates. :func:`export`
writes the files with :mod:`tremplin_grading.exports`, signs the manifest with the
deployment's Ed25519 key, keeps a copy, and logs who exported what.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tremplin_grading.exports import formats, signing
from tremplin_grading.exports.model import CampaignResult, CandidateResult, SectionResult, finish
from tremplin_grading.results import max_score, read_totals

from ..exam.core import ExamService, Outcome
from ..exam.timing import Accommodation
from .store import Admissions, NoCampaign, StillGrading

UTC = dt.timezone.utc


def no_groups(group: str) -> set[str]:
    """``members_of`` when no hub is at hand: then no candidate is in a group (see :func:`gather`)."""
    return set()


def accommodation_text(acc: Accommodation) -> str:
    """The export's accommodation column: ``+30 min x1.33 window <opens>/<closes> (reason)``, or empty."""
    parts = []
    if acc.extra_minutes:
        parts.append(f"+{acc.extra_minutes:g} min")
    if acc.time_factor != 1:
        parts.append(f"x{acc.time_factor:g}")
    if acc.window is not None:
        parts.append(f"window {acc.window.opens.isoformat()}/{acc.window.closes.isoformat()}")
    if not parts:
        return ""
    return " ".join(parts) + (f" ({acc.reason})" if acc.reason else "")


def section_result(outcome: Outcome | None, grade, maximum: float | None) -> SectionResult:
    """One candidate's result in one section (``maximum``: the exam's, read once per section; ``grade``:
    their :class:`~tremplin_grading.results.SubmissionTotal` or ``GradedSubmission``, if any)."""
    if outcome is None:
        return SectionResult("absent", maximum=maximum)
    # (positional: 30,000 of these for a campaign of 10,000)
    variant, started, acc = outcome.variant, outcome.started, accommodation_text(outcome.accommodation)
    final = outcome.final
    if final is None:
        return SectionResult("not_handed_in", None, maximum, variant, started, None, 0, acc, "")
    if grade is None or grade.pending:
        return SectionResult("pending", None, maximum, variant, started, final.server_time, final.seconds_late, acc,
                             final.chain)
    return SectionResult("graded", grade.score, grade.max_score, variant, started, final.server_time,
                         final.seconds_late, acc, final.chain)


def gather(admissions: Admissions, cid: str, exams: ExamService,
           members_of: Callable[[str], set[str]] = no_groups) -> CampaignResult:
    """The campaign's results: one row per candidate on the roster, absent ones included.

    ``members_of(group)``: the hub accounts in a group, asked only for groups granted an accommodation.
    """
    campaign = admissions.campaign(cid)
    candidates = admissions.roster(cid)
    if not candidates:
        raise NoCampaign(f"campaign {cid} has no roster; load it with 'tremplin campaign roster {cid} <file.csv>'",
                         fr=f"la campagne {cid} n'a pas de liste de candidats ; chargez-la avec 'tremplin campaign "
                            f"roster {cid} <fichier.csv>'")
    disq = admissions.disqualified(cid)
    layout = admissions.layout
    exams_of = {section.name: section.exam.split("/", 1) for section in campaign.sections}
    # The gradebooks are read on threads (SQLite lets go of the GIL while it reads) while this one
    # reads the exam store: on a machine with a core to spare, they cost no time.
    with ThreadPoolExecutor(max_workers=max(len(exams_of), 1), thread_name_prefix="gradebook") as pool:
        reading = {name: pool.submit(_totals, layout.course_dir(course) / "gradebook.db", assignment)
                  for name, (course, assignment) in exams_of.items()}
        sections = {name: (exams.outcomes(course, assignment, members_of), *reading[name].result())
                    for name, (course, assignment) in exams_of.items()}
    rows = [CandidateResult(c, {name: section_result(outcomes.get(c.account), graded.get(c.account), maximum)
                                for name, (outcomes, graded, maximum) in sections.items()},
                            disq.get(c.candidate_id, ""))
            for c in candidates]
    return finish(CampaignResult(campaign, rows))


def _totals(path: Path, assignment: str) -> tuple[dict, float | None]:
    return read_totals(path, assignment), max_score(path, assignment)


def export(admissions: Admissions, cid: str, exams: ExamService, *, by: str, allow_incomplete: bool = False,
           members_of: Callable[[str], set[str]] = no_groups, now: dt.datetime | None = None,
           version: str = "") -> tuple[dict[str, bytes], Path]:
    """Write, sign, keep and log one export; returns the files and the folder keeping them.

    Raises:
        StillGrading: candidates still pending (unless ``allow_incomplete``).
    """
    now = now or dt.datetime.now(UTC)
    result = gather(admissions, cid, exams, members_of)
    pending = [r.candidate.candidate_id for r in result.rows if r.status == "pending"]
    if pending and not allow_incomplete:
        raise StillGrading(f"campaign {cid}: {len(pending)} candidate(s) still running or waiting for grading "
                           f"({', '.join(pending[:5])}{'…' if len(pending) > 5 else ''}); finish the grading "
                           "(collect, autograde, manual grading) or export with --allow-incomplete: those rows then "
                           "say 'pending'",
                           fr=f"campagne {cid} : {len(pending)} candidat(s) encore en épreuve ou en attente de "
                              "correction ; terminez la correction, ou téléchargez « avec les copies en cours de "
                              "correction » : ces lignes diront alors 'pending'")
    files = formats.write_all(result)
    key = signing.load_or_create_key(admissions.key_file)
    files.update(signing.manifest(files, campaign=cid, version=version or _version(), counts=result.counts(),
                                  schema_version=formats.SCHEMA_VERSION, key=key, now=now))
    folder = admissions.folder / "exports" / cid / now.strftime("%Y%m%dT%H%M%S%fZ")
    folder.mkdir(parents=True, mode=0o700)
    for name, data in files.items():
        with open(folder / name, "xb") as f:
            f.write(data)
    admissions.log_export(cid, by, now, allow_incomplete, files, folder)
    return files, folder


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tremplin")
    except PackageNotFoundError:
        return "0+unknown"
