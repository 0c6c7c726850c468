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
import hashlib
import json
import pickle
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING

from tremplin_grading.exports import formats
from tremplin_grading.exports.model import CampaignTable, SectionColumns, finish_table
from tremplin_grading.forked import forked
from tremplin_grading.results import max_score, read_totals

from ..exam.timing import Accommodation
from .store import Admissions, NoCampaign, StillGrading

if TYPE_CHECKING:  # (imported by the caller, after the gradebooks are being read: see gather)
    from ..exam.core import ExamService, Outcome

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


def section_columns(accounts: list[str], outcomes: dict[str, Outcome], grades: dict, maximum: float | None
                    ) -> SectionColumns:
    """One section's results down the roster's ``accounts``: each candidate's
    :class:`~tremplin_grading.exports.model.SectionResult` fields (``maximum``: the exam's, read once
    per section; ``grades``: ``(score, maximum, pending)`` by account, as :func:`_totals` reads them).

    The state is ``absent`` (never started), ``not_handed_in`` (started, nothing counted yet),
    ``pending`` (handed in, not fully graded) or ``graded``.
    """
    rows = []
    texts: dict[int, str] = {}  # (most candidates share one Accommodation: its text is made once)
    for account in accounts:
        outcome = outcomes.get(account)
        if outcome is None:
            rows.append(("absent", None, maximum, "", None, None, 0, "", ""))
            continue
        acc = outcome.accommodation
        text = texts.get(id(acc))
        if text is None:
            text = texts[id(acc)] = accommodation_text(acc)
        final = outcome.final
        if final is None:
            rows.append(("not_handed_in", None, maximum, outcome.variant, outcome.started, None, 0, text, ""))
            continue
        grade = grades.get(account)
        state, raw, top = ("pending", None, maximum) if grade is None or grade[2] else ("graded", *grade[:2])
        rows.append((state, raw, top, outcome.variant, outcome.started, final.server_time, final.seconds_late, text,
                     final.chain))
    return SectionColumns(*map(list, zip(*rows))) if rows else SectionColumns()


def gather(admissions: Admissions, cid: str, exams: ExamService | Callable[[], ExamService],
           members_of: Callable[[str], set[str]] = no_groups, *, processes: bool = False) -> CampaignTable:
    """The campaign's results, finished: one row per candidate on the roster, absent ones included,
    in candidate id order (:meth:`~tremplin_grading.exports.model.CampaignTable.rows` gives them as objects).

    ``exams``: the exam service's core, or a function that opens it. ``tremplin export`` passes a
    function: opening the exam store imports SQLAlchemy (a third of a second and more), and the
    gradebooks are read meanwhile. ``members_of(group)``: the hub accounts in a group, asked only
    for groups granted an accommodation. ``processes``: the gradebooks are read by forked copies of
    this process, which must have no other thread (the command line; the service uses threads).
    """
    campaign = admissions.campaign(cid)
    candidates = sorted(admissions.roster(cid), key=attrgetter("candidate_id"))
    if not candidates:
        raise NoCampaign(f"campaign {cid} has no roster; load it with 'tremplin campaign roster {cid} <file.csv>'",
                         fr=f"la campagne {cid} n'a pas de liste de candidats ; chargez-la avec 'tremplin campaign "
                            f"roster {cid} <fichier.csv>'")
    disq = admissions.disqualified(cid)
    layout = admissions.layout
    accounts = [c.account for c in candidates]
    exams_of = {section.name: section.exam.split("/", 1) for section in campaign.sections}
    gradebooks = {name: (layout.course_dir(course) / "gradebook.db", assignment)
                  for name, (course, assignment) in exams_of.items()}
    # The gradebooks are read from now on, while this thread opens and reads the exam store.
    with _reading(gradebooks, processes) as totals_of:
        if callable(exams):
            exams = exams()
        outcomes = {name: exams.outcomes(course, assignment, members_of) for name, (course, assignment)
                    in exams_of.items()}
        sections = {name: section_columns(accounts, outcomes.pop(name), *totals_of(name)) for name in exams_of}
    return finish_table(CampaignTable(campaign, candidates, sections,
                                      [disq.get(c.candidate_id, "") for c in candidates]))


def _totals(path: Path, assignment: str) -> tuple[dict[str, tuple[float, float, bool]], float | None]:
    """The gradebook's ``{student: (score, maximum, pending)}`` (plain tuples: they cross from a
    forked copy as a pickle, at a quarter of the cost of objects), and the exam's maximum."""
    return ({t.student: (t.score, t.max_score, t.pending) for t in read_totals(path, assignment).values()},
            max_score(path, assignment))


@contextmanager
def _reading(gradebooks: dict[str, tuple[Path, str]], processes: bool) -> Iterator[Callable]:
    """Each section's gradebook totals (``{section: (path, assignment)}``), read from now on; yields
    the function that waits for one section's.

    On threads, SQLite lets go of the interpreter's lock while it sums, but takes it again for each
    row it returns, and waits for it while this thread computes: with ``processes`` (a process with
    one thread, see :mod:`tremplin_grading.forked`) one forked copy reads them all instead, on the
    other core (this thread's work, opening and reading the exam store, takes about as long).
    """
    if processes:
        reading = forked(partial(_all_totals_pickled, gradebooks))
        totals = {}

        def totals_of(name):
            if not totals:
                totals.update(pickle.loads(reading()))
            return totals[name]

        try:
            yield totals_of
        finally:
            reading()  # (when the store's reads failed: the copy is waited for, not left behind)
        return
    with ThreadPoolExecutor(max_workers=max(len(gradebooks), 1), thread_name_prefix="gradebook") as pool:
        pending = {name: pool.submit(_totals, *where) for name, where in gradebooks.items()}
        yield lambda name: pending[name].result()


def _all_totals_pickled(gradebooks: dict[str, tuple[Path, str]]) -> bytes:
    return pickle.dumps({name: _totals(*where) for name, where in gradebooks.items()},
                        protocol=pickle.HIGHEST_PROTOCOL)


def export(admissions: Admissions, cid: str, exams: ExamService | Callable[[], ExamService], *, by: str,
           allow_incomplete: bool = False,
           members_of: Callable[[str], set[str]] = no_groups, now: dt.datetime | None = None,
           version: str = "", processes: bool = False) -> tuple[dict[str, bytes], Path]:
    """Write, sign, keep and log one export; returns the files and the folder keeping them
    (``processes``: see :func:`gather` and :func:`~tremplin_grading.exports.formats.write_table`).

    Raises:
        StillGrading: candidates still pending (unless ``allow_incomplete``).
    """
    now = now or dt.datetime.now(UTC)
    result = gather(admissions, cid, exams, members_of, processes=processes)
    pending = [c.candidate_id for c, status in zip(result.candidates, result.status) if status == "pending"]
    if pending and not allow_incomplete:
        raise StillGrading(f"campaign {cid}: {len(pending)} candidate(s) still sitting the exam or waiting for grading "
                           f"({', '.join(pending[:5])}{'…' if len(pending) > 5 else ''}); finish the grading "
                           "(collect, autograde, manual grading), or export them as 'pending': the link 'with papers "
                           "still being graded' on the exports page, or --allow-incomplete on the command line",
                           fr=f"campagne {cid} : {len(pending)} candidat(s) encore en épreuve ou en attente de "
                              f"correction ({', '.join(pending[:5])}{'…' if len(pending) > 5 else ''}) ; terminez la "
                              "correction, ou exportez-les comme « pending » : lien « avec les copies en cours de "
                              "correction » de la page des exports, ou --allow-incomplete en ligne de commande")
    from tremplin_grading.exports import signing

    files = formats.write_table(result, processes=processes)
    key = signing.load_or_create_key(admissions.key_file)
    files.update(signing.manifest(files, campaign=cid, version=version or _version(), counts=result.counts(),
                                  schema_version=formats.SCHEMA_VERSION, key=key, now=now))
    folder = admissions.folder / "exports" / cid / now.strftime("%Y%m%dT%H%M%S%fZ")
    folder.mkdir(parents=True, mode=0o700)
    for name, data in files.items():
        with open(folder / name, "xb") as f:
            f.write(data)
    listed = json.loads(files[signing.MANIFEST])["files"]  # (the data files' digests, computed once)
    admissions.log_export(cid, by, now, allow_incomplete, {name: listed[name]["sha256"] if name in listed else
                                                           hashlib.sha256(data).hexdigest()
                                                           for name, data in files.items()}, folder)
    return files, folder


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tremplin")
    except PackageNotFoundError:
        return "0+unknown"
