"""Benchmark: ``tremplin export`` of a campaign of 10,000 candidates × 3 sections, end to end, on SQLite
and PostgreSQL, against nbgrader's own ``nbgrader export`` of the same gradebooks.

Run: ``make bench`` (or ``python bench/export_bench.py [N] [--stock-n 1000] [--no-postgres]``).

Goal (issue 10): the real command admissions runs, ``tremplin export <campaign> --out <folder>``
(a new process: imports, the roster, the exam store, the gradebooks, CSV + XLSX + JSON, the
signed manifest, the kept copy and the log), under 2 s for 10,000 candidates × 3 sections,
with the exam store on SQLite (the default) and on PostgreSQL (``TREMPLIN_EXAM_DB_URL``, a
throw-away cluster of Debian's binaries as in ``tests/pgfixture.py``).

The data is what a campaign leaves (``export_data.build``): the admissions store with the
campaign and its roster; per candidate and section an attempt, 16–24 autosaves and one
submission or collection, chained by real receipts; accommodations, one granted to a hub group,
whose members the command asks of a stand-in of the hub's REST API on loopback; one real
nbgrader gradebook per exam (13–16 graded cells per paper). Each run's content is checked
(status counts and rows) before its time is believed.

The stock baseline is ``nbgrader export`` (its ``CsvExportPlugin``: an 11-column CSV of totals),
run as a professor runs it in each of the three course directories, on the same gradebooks.
It asks the database once per student and per assignment, so it cannot do 10,000 in reasonable
time: the ratio is taken at ``--stock-n`` (default 1,000) candidates, both tools on the same
data in the same run, each as a command, end to end. Ratio = Tremplin / stock (below 1:
Tremplin is faster, while writing three formats and a signature). The formats alone, and the
other steps, are timed in process as a supplement. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "graders"), str(REPO / "extensions"), str(REPO / "bench"), str(REPO / "tests")]

import export_data  # noqa: E402

GOAL_SECONDS = 2.0


#: The command admissions runs: the ``tremplin`` that ``make`` installed (``make bench`` installs this
#: checkout first), with the bytecode pip compiled. Run from the checkout instead, every module would be
#: compiled again at each run wherever PYTHONDONTWRITEBYTECODE is set, which no user pays.
TREMPLIN = Path(sys.executable).parent / "tremplin"


def cli_env(exam_db_url: str | None = None) -> dict[str, str]:
    """The environment of a ``tremplin`` run (SQLite unless ``exam_db_url``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TREMPLIN_EXAM_DB_URL", "PYTHONPATH")}
    if exam_db_url:
        env["TREMPLIN_EXAM_DB_URL"] = exam_db_url
    return env


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_export(built: export_data.Built, out: Path, env: dict[str, str]) -> tuple[float, float, Path]:
    """``tremplin export`` as a new process; returns its seconds, its CPU seconds and the export's folder."""
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.iterdir())
    cpu = children_cpu()
    start = time.perf_counter()
    proc = subprocess.run([str(TREMPLIN), *built.export_args(out)], env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"tremplin export failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    (folder,) = set(out.iterdir()) - before
    return seconds, children_cpu() - cpu, folder


def check_export(built: export_data.Built, folder: Path) -> None:
    """The export says what the data holds: every candidate once, the expected statuses."""
    counts = json.loads((folder / "manifest.json").read_bytes())["counts"]
    expected = Counter(built.statuses.values())
    with open(folder / f"{built.campaign}-results.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    found = Counter(r["status"] for r in rows)
    if counts["candidates"] != built.n or len(rows) != built.n or found != expected or any(
            counts[s] != expected.get(s, 0) for s in found):
        raise SystemExit(f"the export of {folder} does not match the data: {counts} / {dict(found)}, expected "
                         f"{dict(expected)}")


def median_export(built, out: Path, env, runs: int) -> tuple[float, float]:
    """The median seconds and CPU seconds of ``runs`` exports, each checked."""
    times, cpus = [], []
    for _ in range(runs):
        seconds, cpu, folder = run_export(built, out, env)
        check_export(built, folder)
        times.append(seconds)
        cpus.append(cpu)
    return statistics.median(times), statistics.median(cpus)


def in_process(built: export_data.Built) -> dict[str, float]:
    """The steps of the export, timed one by one in this process (SQLite store; gradebooks on this thread)."""
    import datetime as dt

    from tremplin_grading.exports import formats, signing
    from tremplin_grading.exports.model import CampaignTable, finish_table
    from tremplin_hub.admissions import Admissions
    from tremplin_hub.admissions.results import _totals, section_columns
    from tremplin_hub.exam.core import ExamService
    from tremplin_hub.exam.store import Store
    from tremplin_hub.hubapi import group_members

    layout = built.layout
    out = {}
    with Admissions(layout) as adm:
        store = Store(f"sqlite:///{layout.exam_dir / 'exam.sqlite'}", layout.exam_files)
        try:
            exams = ExamService(store, built.courses_dir, layout.course_dir)
            t = time.perf_counter()
            campaign, roster, disq = adm.campaign(built.campaign), adm.roster(built.campaign), \
                adm.disqualified(built.campaign)
            out["roster"] = time.perf_counter() - t
            t = time.perf_counter()
            members_of = group_members(layout)
            outcomes = {s.name: exams.outcomes(*s.exam.split("/", 1), members_of) for s in campaign.sections}
            out["exam store"] = time.perf_counter() - t
            t = time.perf_counter()
            graded = {}
            for s in campaign.sections:
                course, assignment = s.exam.split("/", 1)
                graded[s.name] = _totals(layout.course_dir(course) / "gradebook.db", assignment)
            out["gradebooks"] = time.perf_counter() - t
            t = time.perf_counter()
            accounts = [c.account for c in roster]
            table = finish_table(CampaignTable(campaign, roster, {
                s.name: section_columns(accounts, outcomes[s.name], *graded[s.name]) for s in campaign.sections},
                [disq.get(c.candidate_id, "") for c in roster]))
            out["join and ranks"] = time.perf_counter() - t
            t = time.perf_counter()
            files = formats.write_table(table)
            out["formats (CSV, XLSX, JSON)"] = time.perf_counter() - t
            t = time.perf_counter()
            signing.manifest(files, campaign=built.campaign, version="bench", counts=table.counts(),
                             schema_version=formats.SCHEMA_VERSION, key=signing.load_or_create_key(adm.key_file),
                             now=dt.datetime.now(dt.timezone.utc))
            out["signed manifest"] = time.perf_counter() - t
        finally:
            store.close()
    return out


def stock_export(built: export_data.Built, out: Path) -> tuple[float, float]:
    """``nbgrader export`` in each course directory (seconds, end to end), and its plugin alone in process."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    command = plugin = 0.0
    for exam in built.exams:
        course_dir = built.layout.course_dir(exam.course)
        start = time.perf_counter()
        proc = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "export",
                               f"--CourseDirectory.root={course_dir}", f"--CourseDirectory.course_id={exam.course}",
                               f"--to={out / (exam.course + '.csv')}"], cwd=course_dir, capture_output=True,
                              text=True)
        command += time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"nbgrader export failed in {course_dir}: {proc.stderr[-2000:]}")
        lines = (out / (exam.course + ".csv")).read_text().count("\n") - 1
        if lines != built.n:  # nbgrader writes a row per student, a zero for no submission
            raise SystemExit(f"nbgrader export of {exam.course} wrote {lines} rows, not {built.n}")
        with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", course_id=exam.course) as gb:
            start = time.perf_counter()
            CsvExportPlugin(to=str(out / "plugin.csv")).export(gb)
            plugin += time.perf_counter() - start
    return command, plugin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=10_000, help="candidates (default 10,000)")
    parser.add_argument("--stock-n", type=int, default=1_000, help="candidates for the ratio to nbgrader (1,000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each export; the median is shown (3)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--keep", action="store_true", help="keep the data folder (its path is printed)")
    args = parser.parse_args()
    # (nbgrader's commands, beside this Python, may call its 'alembic' there)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    warnings.simplefilter("ignore")  # nbgrader's SQLAlchemy 2 warnings are not ours to fix here
    folder = Path(tempfile.mkdtemp(prefix="tremplin-export-bench-"))
    postgres = None
    try:
        urls = [f"sqlite:///{folder / 'big' / 'data' / 'exam' / 'exam.sqlite'}"]
        if not args.no_postgres:
            from pgfixture import Postgres

            postgres = Postgres()
            urls.append(postgres.new_database())
        start = time.perf_counter()
        built = export_data.build(folder / "big", args.n, exam_urls=urls,
                                  progress=lambda text: print(f"  building: {text}", file=sys.stderr, flush=True))
        export_data.check_gradebooks(built)
        print(f"data: {args.n} candidates × {len(built.exams)} sections, built in {time.perf_counter() - start:.0f} s "
              f"({len(built.receipts)} hand-ins, each after 16–24 chained autosaves; {len(built.group_members)} "
              "candidates in the accommodated hub group)")
        results = {}
        with export_data.HubGroups(built.layout, {built.group: built.group_members}):
            results["SQLite"] = median_export(built, folder / "out", cli_env(), args.runs)
            if postgres:
                results["PostgreSQL"] = median_export(built, folder / "out", cli_env(urls[1]), args.runs)
            steps = in_process(built)
        print(f"\ntremplin export {built.campaign} (store, gradebooks, CSV + XLSX + JSON, signed manifest), "
              f"{args.n} candidates × {len(built.exams)} sections, end to end as a new process, median of "
              f"{args.runs} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
        for backend, (seconds, cpu) in results.items():
            print(f"  exam store on {backend + ':':<12} {seconds:6.2f} s  (CPU {cpu:.2f} s)")
        worst = max(seconds for seconds, _ in results.values())
        verdict = ("met" if worst < GOAL_SECONDS else "NOT met") if args.n >= 10_000 else "not measured (N < 10,000)"
        print(f"  goal: under {GOAL_SECONDS:g} s for 10,000 × 3 on SQLite and PostgreSQL -> {verdict}"
              f"{'' if postgres else ' (SQLite only: --no-postgres)'}")
        print("  the steps, in process (SQLite): " + ", ".join(f"{k} {v:.2f} s" for k, v in steps.items()))

        small = export_data.build(folder / "small", args.stock_n)
        with export_data.HubGroups(small.layout, {small.group: small.group_members}):
            ours, _ = median_export(small, folder / "out-small", cli_env(), args.runs)
        stock, plugin = stock_export(small, folder / "out-small")
        print(f"\n{args.stock_n} candidates × {len(small.exams)} sections, both tools on the same gradebooks, "
              "each as a command, end to end:")
        print(f"  tremplin export (3 formats + signed manifest, one command):  {ours:7.2f} s")
        print(f"  nbgrader export (CSV of totals, once per course directory):  {stock:7.2f} s "
              f"(its CsvExportPlugin alone, in process: {plugin:.2f} s)")
        print(f"  ratio tremplin / nbgrader: {ours / stock:.3f}")
        if args.keep:
            print(f"data kept in {folder}")
    finally:
        if postgres:
            postgres.stop()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
