"""A realistic data directory for ``tremplin export``: the export benchmark builds it, and a test checks it.

:func:`build` fills a data directory the way a campaign leaves it, through the same stores the
hub uses: the admissions store (the campaign file and its roster, through
:class:`~tremplin_hub.admissions.Admissions` and :func:`~tremplin_hub.admissions.parse_roster`),
the exam service's store (one attempt per candidate and section, 16–24 autosaves, one
submission or automatic collection, every record chained by :func:`receipts.issue
<tremplin_hub.exam.receipts.issue>`, accommodations granted to candidates and to one hub
group) and one real nbgrader gradebook per exam (its cells made by nbgrader's ``Gradebook``,
its students, submissions and grades bulk-inserted into nbgrader's own tables: nbgrader's API
takes minutes for 10,000 students). A few per cent of candidates miss a section, one per cent
miss all of them, a few are disqualified. Rows are written in bulk (:func:`bulk_insert`: the
tables' own SQLAlchemy types convert the values, the driver takes them all at once), in the
order of their server time, so the ids interleave candidates as a real exam day does.

Left out, since ``tremplin export`` reads none of it: the records' files (their folders are
named but not written, as once thinned) and the audit log.

:class:`HubGroups` answers ``GET /hub/api/groups/<name>`` on loopback as JupyterHub does, for
the group accommodation (``tremplin export`` asks the running hub who is in the group).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import sqlalchemy as sa

UTC = dt.timezone.utc
CAMPAIGN_ID = "dd-2027-bench"
GROUP = "tiers-temps-2027"
GROUP_GRANT = (20.0, "PAP")


@dataclass(frozen=True)
class Exam:
    """One section of the campaign: an exam course, its assignment and the points of its graded cells."""

    section: str
    course: str
    assignment: str
    weight: float
    points: tuple[float, ...]
    manual: tuple[int, ...]  # cells a grader scores by hand (markdown answers)

    @property
    def exam(self) -> str:
        return f"{self.course}/{self.assignment}"


#: The cells of the project's own exams (courses/preselection-*), and a third one alike.
EXAMS = (
    Exam("math", "preselection-math", "math-2027", 2, (1, 3, 1, 1, 1, 2, 3, 2, 1, 3, 2, 2, 1, 2, 3, 2), (6, 14)),
    Exam("physics", "preselection-physics", "physics-2027", 1, (2, 2, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2), (4, 11)),
    Exam("computing", "preselection-computing", "computing-2027", 1, (2,) * 10, (9,)),
)
DAY1 = dt.datetime(2027, 3, 15, 7, 0, tzinfo=UTC)
DURATION = dt.timedelta(minutes=120)
GRACE = dt.timedelta(minutes=5)
LAST_NAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "王", "李", "Conceição", "Souza", "Smith", "Đỗ", "Hoàng", "=cmd")
FIRST_NAMES = ("An", "Bình", "Thị Minh Khai", "小明", "João", "Ana", "Chi", "Dũng", "Mai", "Linh")


def campaign_toml(exams=EXAMS) -> str:
    sections = "".join(f'[[sections]]\nname = "{e.section}"\nexam = "{e.exam}"\nweight = {e.weight:g}\n'
                       for e in exams)
    return (f'id = "{CAMPAIGN_ID}"\ntitle = "Double diplôme 2027 — benchmark"\npartner = "HUST"\ncountry = "VN"\n'
            f'session = "2027-03"\nthreshold = 50\nthreshold_version = "2027-1"\n{sections}')


@dataclass
class Built:
    """What :func:`build` made, and what a correct export of it says.

    ``statuses``: candidate id -> expected status; ``accommodations`` and ``receipts``:
    ``(section, account)`` -> the accommodation column (non-empty ones only) and the chain of
    the hand-in that counts.
    """

    folder: Path
    layout: object
    courses_dir: Path
    n: int
    exams: tuple[Exam, ...]
    campaign: str = CAMPAIGN_ID
    group: str = GROUP
    group_members: set[str] = field(default_factory=set)
    statuses: dict[str, str] = field(default_factory=dict)
    accommodations: dict[tuple[str, str], str] = field(default_factory=dict)
    receipts: dict[tuple[str, str], str] = field(default_factory=dict)
    scores: dict[tuple[str, str], float] = field(default_factory=dict)

    def account(self, i: int) -> str:
        return f"c-{i:06d}"

    def export_args(self, out: Path) -> list[str]:
        """``tremplin`` arguments of the export admissions runs."""
        return ["--data-dir", str(self.layout.data_dir), "export", self.campaign, "--courses-dir",
                str(self.courses_dir), "--out", str(out), "--by", "admissions"]


def build(folder: Path, n: int, *, exam_urls: list[str] | None = None, seed: int = 7, progress=None) -> Built:
    """Fill ``folder`` (data directory ``folder/data``, courses ``folder/courses``) with a campaign of
    ``n`` candidates × 3 sections.

    ``exam_urls``: the exam stores to fill with the same rows (default: the data directory's SQLite,
    ``layout.exam_db_url`` without ``TREMPLIN_EXAM_DB_URL``); a PostgreSQL URL gives the same store there.
    """
    from tremplin_hub.admissions import Admissions, parse_roster
    from tremplin_hub.layout import Layout

    say = progress or (lambda text: None)
    rnd = random.Random(seed)
    layout = Layout(Path(folder) / "data")
    layout.data_dir.mkdir(parents=True, exist_ok=True)
    courses_dir = Path(folder) / "courses"
    courses_dir.mkdir(exist_ok=True)
    built = Built(Path(folder), layout, courses_dir, n, EXAMS)
    accounts = [built.account(i) for i in range(n)]

    # -- admissions: the campaign, its roster (admissions' CSV, read by the real parser), disqualifications
    say("admissions store: campaign and roster")
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["candidate_id", "last_name", "first_name", "email", "partner", "country"])
    people = {}  # account -> names and email, as nbgrader's student table has them
    for i, a in enumerate(accounts):
        people[a] = (rnd.choice(LAST_NAMES), rnd.choice(FIRST_NAMES), f"c{i}@example.org")
        writer.writerow([f"C-{i:06d}", *people[a], "HUST", "VN"])
    stamp = DAY1 - dt.timedelta(days=30)
    with Admissions(layout) as adm:
        adm.add_campaign(campaign_toml(), "campaign.toml", stamp)
        adm.set_roster(CAMPAIGN_ID, parse_roster(("\ufeff" + buf.getvalue()).encode(), "roster.csv"))

    # -- who sits which section
    gone = {a for a in accounts if rnd.random() < 0.01}  # registered, never came
    sits = {e.section: [a for a in accounts if a not in gone and rnd.random() >= 0.03] for e in EXAMS}
    sitting = {section: set(users) for section, users in sits.items()}
    disqualified = [a for a in accounts if all(a in sitting[e.section] for e in EXAMS)][3:n:max(n // 3, 1)][:3]
    with Admissions(layout) as adm:
        for a in disqualified:
            adm.disqualify(CAMPAIGN_ID, a.upper(), "identité non confirmée", "coordinator", stamp)
    for i, a in enumerate(accounts):
        present = [a in sitting[e.section] for e in EXAMS]
        built.statuses[f"C-{i:06d}"] = ("disqualified" if a in disqualified else "absent" if not any(present)
                                        else "present" if all(present) else "incomplete")
    built.group_members = {a for a in accounts if rnd.random() < 0.01}
    if n:
        built.group_members.add(accounts[-1])

    urls = exam_urls or [f"sqlite:///{layout.exam_dir / 'exam.sqlite'}"]
    for e_index, exam in enumerate(EXAMS):
        say(f"exam store: {exam.exam}")
        plan = _exam_rows(built, exam, e_index, sits[exam.section], rnd)
        for url in urls:
            _fill_store(url, layout, exam, plan)
        say(f"gradebook: {exam.course}")
        _gradebook(built, exam, people, plan["finals"], rnd)
    return built


def _exam_rows(built: Built, exam: Exam, e_index: int, sitting: list[str], rnd: random.Random) -> dict:
    """The attempts, records (chained receipts) and accommodations of one exam, oldest first."""
    from tremplin_hub.exam import receipts

    opens = DAY1 + dt.timedelta(days=e_index)
    name = f"{exam.assignment}.ipynb"
    attempts, records, finals = [], [], {}
    for user in sitting:
        started = opens + dt.timedelta(seconds=rnd.uniform(0, 1800))
        collected = rnd.random() < 0.15
        if collected:
            final_at, kind, state, late = started + DURATION + GRACE + dt.timedelta(seconds=rnd.uniform(5, 60)), \
                "collection", "on_time", 0
        elif rnd.random() < 0.03:
            late = rnd.randrange(1, 300)
            final_at, kind, state = started + DURATION + dt.timedelta(seconds=late), "submission", "in_grace"
        else:
            final_at, kind, state, late = started + dt.timedelta(seconds=rnd.uniform(2700, 7100)), "submission", \
                "on_time", 0
        span = (final_at - started).total_seconds()
        saves = sorted(rnd.uniform(60, span - 5) for _ in range(rnd.randint(16, 24)))
        ip = f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
        attempts.append(dict(course=exam.course, assignment=exam.assignment, user=user, started_at=started,
                             release_version=1, variant=f"{rnd.getrandbits(48):012x}",
                             folder=f"{exam.exam}/users/{user}/fetched-{rnd.getrandbits(32):08x}", last_ip=ip))
        previous = None
        for k, offset in enumerate([*saves, span]):
            now = started + dt.timedelta(seconds=offset)
            last = k == len(saves)
            kind_k = kind if last else "snapshot"
            files = {name: f"{user} {exam.exam} {k} {rnd.getrandbits(64)}".encode()}
            receipt = receipts.issue(exam.exam, user, kind_k, now, files, previous)
            previous = receipt
            records.append(dict(
                course=exam.course, assignment=exam.assignment, user=user, kind=kind_k, server_time=now,
                folder=f"{exam.exam}/users/{user}/{now.strftime('%Y%m%dT%H%M%S%fZ')}-{kind_k}-"
                       f"{rnd.getrandbits(32):08x}",
                # (Receipt.to_json's very bytes: asdict() deep-copies, 4× slower than the receipt itself)
                receipt=json.dumps(vars(receipt), sort_keys=True, ensure_ascii=False), chain=receipt.chain,
                state=state if last else "", seconds_late=late if last else 0,
                claimed_time="" if last else (now - dt.timedelta(seconds=rnd.uniform(0, 2))).isoformat(), ip=ip))
        finals[user] = final_at
        built.receipts[(exam.section, user)] = previous.chain
    records.sort(key=lambda r: r["server_time"])  # (stable: each candidate's chain stays in order)

    # Accommodations: a few candidates their own (the latest counts), a hub group one for all sections.
    grants = []
    granted_at = opens - dt.timedelta(days=7)
    group_rows = [dict(target_kind="group", target=GROUP, extra_minutes=GROUP_GRANT[0], time_factor=1.0,
                       reason=GROUP_GRANT[1])]
    present = set(sitting)
    for user in built.group_members & present:
        built.accommodations[(exam.section, user)] = f"+{GROUP_GRANT[0]:g} min ({GROUP_GRANT[1]})"
    for user in sorted(built.group_members)[::2] + rnd.sample(sitting, len(sitting) // 50):
        choice = rnd.random()
        if choice < 0.6:
            row, text = dict(extra_minutes=30.0, time_factor=1.0, reason="tiers-temps"), "+30 min (tiers-temps)"
        elif choice < 0.9:
            row, text = dict(extra_minutes=0.0, time_factor=1.33, reason="PAP"), "x1.33 (PAP)"
        else:
            o, c = opens + dt.timedelta(days=1), opens + dt.timedelta(days=1, hours=3)
            row = dict(extra_minutes=0.0, time_factor=1.0, opens=o, closes=c, reason="autre session")
            text = f"window {o.isoformat()}/{c.isoformat()} (autre session)"
        if rnd.random() < 0.1:  # granted twice: the latest is in force
            grants.append(dict(target_kind="user", target=user, extra_minutes=10.0, time_factor=1.0, reason="erreur"))
        grants.append(dict(target_kind="user", target=user, **row))
        if user in present:
            built.accommodations[(exam.section, user)] = text
    grants[len(grants) // 2:len(grants) // 2] = group_rows
    for row in grants:
        row.update(course=exam.course, assignment=exam.assignment, granted_by="coordinator", granted_at=granted_at)
        row.setdefault("opens", None)
        row.setdefault("closes", None)
    return {"attempts": attempts, "records": records, "accommodations": grants, "finals": finals}


def _fill_store(url: str, layout, exam: Exam, plan: dict) -> None:
    from tremplin_hub.exam import store as schema

    layout.exam_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    store = schema.Store(url, layout.exam_files)
    try:
        store.release(exam.course, exam.assignment, {f"{exam.assignment}.ipynb": b"{}"}, "professor",
                      DAY1 - dt.timedelta(days=1))
        with store.engine.begin() as conn:
            for table in ("accommodations", "attempts", "records"):
                bulk_insert(conn, getattr(schema, table), plan[table])
    finally:
        store.close()


def bulk_insert(conn, table: sa.Table, rows: list[dict]) -> None:
    """``rows`` into ``table``, each value converted by its column's type as SQLAlchemy converts it
    (aware times to the store's UTC, booleans...), then handed to the driver in bulk: ``COPY`` on
    PostgreSQL, one ``executemany`` on SQLite. (SQLAlchemy's own executemany spends ~50 µs per row
    on PostgreSQL, minutes for a campaign's 600,000 records.)"""
    if not rows:
        return
    names = list(rows[0])
    dialect = conn.dialect
    convert = [(i, p) for i, name in enumerate(names)
               if (p := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))]
    data = []
    for row in rows:
        values = [row[name] for name in names]
        for i, process in convert:
            values[i] = process(values[i])
        data.append(tuple(values))
    quote = dialect.identifier_preparer.quote
    into = f"{quote(table.name)} ({', '.join(map(quote, names))})"
    if dialect.name == "postgresql":
        with conn.connection.driver_connection.cursor() as cursor, cursor.copy(f"COPY {into} FROM STDIN") as copy:
            for values in data:
                copy.write_row(values)
    else:
        conn.exec_driver_sql(f"INSERT INTO {into} VALUES ({', '.join('?' * len(names))})", data)


@cache
def _alembic_head() -> str:
    """The schema version nbgrader stamps a new gradebook with (what its ``get_alembic_version`` asks a
    subprocess, seconds each time)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    return ScriptDirectory.from_config(config).get_current_head()


def _gradebook(built: Built, exam: Exam, people: dict[str, tuple[str, str, str]], finals: dict[str, dt.datetime],
               rnd: random.Random) -> None:
    """The course's nbgrader gradebook: cells by nbgrader, students, submissions and grades in bulk."""
    import warnings

    from nbgrader.api import Gradebook, Grade, Student, SubmittedAssignment, SubmittedNotebook

    folder = built.layout.course_dir(exam.course)
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'gradebook.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # nbgrader's stamp of a new gradebook, without its 'alembic heads' subprocess
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES (:v)"), {"v": _alembic_head()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy 2 deprecations
        with Gradebook(url, course_id=exam.course) as gb:  # its tables, assignment, notebook and cells
            gb.add_assignment(exam.assignment, duedate=(DAY1 + DURATION).replace(tzinfo=None))
            gb.add_notebook(exam.assignment, exam.assignment)
            cells = [gb.add_grade_cell(f"q{k + 1}", exam.assignment, exam.assignment, max_score=points,
                                       cell_type="markdown" if k in exam.manual else "code").id
                     for k, points in enumerate(exam.points)]
            assignment_id = gb.find_assignment(exam.assignment).id
            notebook_id = gb.find_notebook(exam.assignment, exam.assignment).id
    try:
        subs, nbs, grades = [], [], []
        students = [dict(id=a, last_name=last, first_name=first, email=email)
                    for a, (last, first, email) in people.items()]
        for user, when in sorted(finals.items(), key=lambda kv: kv[1]):
            sub_id, nb_id = f"{rnd.getrandbits(128):032x}", f"{rnd.getrandbits(128):032x}"
            subs.append(dict(id=sub_id, assignment_id=assignment_id, student_id=user,
                             timestamp=when.replace(tzinfo=None)))
            nbs.append(dict(id=nb_id, assignment_id=sub_id, notebook_id=notebook_id, flagged=False,
                            late_submission_penalty=None))
            ability = rnd.random()
            total = 0.0
            for k, (cell, points) in enumerate(zip(cells, exam.points)):
                extra = 0.5 if rnd.random() < 0.002 else None
                if k in exam.manual:
                    auto, manual = None, round(points * rnd.random() * ability * 2) / 2
                    manual = min(manual, points)
                else:
                    auto, manual = (float(points) if rnd.random() < ability else 0.0), None
                total += (manual if manual is not None else auto) + (extra or 0)
                grades.append(dict(id=f"{rnd.getrandbits(128):032x}", notebook_id=nb_id, cell_id=cell,
                                   auto_score=auto, manual_score=manual, extra_credit=extra,
                                   needs_manual_grade=False))
            built.scores[(exam.section, user)] = round(total, 4)
        with engine.begin() as conn:
            for table, rows in ((Student, students), (SubmittedAssignment, subs), (SubmittedNotebook, nbs),
                                (Grade, grades)):
                bulk_insert(conn, table.__table__, rows)
    finally:
        engine.dispose()


def check_gradebooks(built: Built, sample: int = 5) -> None:
    """nbgrader reads the bulk-inserted gradebooks back: a few submissions' scores and maximum, by its own API.

    Raises:
        AssertionError: a score differs from the one written.
    """
    import warnings

    from nbgrader.api import Gradebook

    for exam in built.exams:
        url = f"sqlite:///{built.layout.course_dir(exam.course) / 'gradebook.db'}"
        written = sorted(u for (s, u) in built.scores if s == exam.section)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Gradebook(url, course_id=exam.course) as gb:
                assert gb.find_assignment(exam.assignment).max_score == sum(exam.points)
                for user in written[:: max(len(written) // sample, 1)][:sample]:
                    sub = gb.find_submission(exam.assignment, user)
                    assert abs(sub.score - built.scores[(exam.section, user)]) < 1e-9, (exam.exam, user, sub.score)
                    assert not sub.needs_manual_grade and sub.max_score == sum(exam.points)


class HubGroups:
    """The hub's ``GET /hub/api/groups/<name>`` on 127.0.0.1, as JupyterHub answers it (token checked).

    Entering writes its URL where the hub writes its own (``layout.record_hub_api``) and the
    sync token the command line sends (``hubconfig.sync_token``); ``requests`` counts the calls.
    """

    def __init__(self, layout, groups: dict[str, set[str]]):
        self.layout, self.groups, self.requests = layout, groups, 0

    def __enter__(self) -> HubGroups:
        from tremplin_hub.hubconfig import sync_token

        self.layout.hub_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        token = sync_token(self.layout)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hub.requests += 1
                found = re.fullmatch(r"/hub/api/groups/([^/?]+)", self.path)
                if self.headers.get("Authorization") != f"token {token}":
                    self._send(403, {"status": 403, "message": "Action is not authorized"})
                elif not found or found.group(1) not in hub.groups:
                    self._send(404, {"status": 404, "message": "Not Found"})
                else:
                    name = found.group(1)
                    self._send(200, {"kind": "group", "name": name, "users": sorted(hub.groups[name]),
                                     "roles": [], "properties": {}})

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.layout.record_hub_api(f"http://127.0.0.1:{self.server.server_port}")
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
