"""The ``tremplin`` command: one entry point, a thin layer over plain functions.

Examples::

    tremplin courses check                 # validate courses/*/course.toml, change nothing
    tremplin courses sync                  # validate and load every course into the hub
    tremplin accounts demo                 # create the demo accounts, print their passwords once
    tremplin accounts add amina --role learner --password-stdin
    tremplin accounts list
    tremplin variants check preselection-math math-2027 --count 20
    tremplin variants preview preselection-math math-2027 learner1
    tremplin receipt verify preselection-math/math-2027                  # every candidate, on the server
    tremplin receipt verify preselection-math/math-2027 --candidate learner1 --receipt kept.json
    tremplin receipt verify --chain chain.json --receipt kept.json       # offline, a downloaded chain
    tremplin campaign add deploy/demo/campaign.toml                      # load (or update) a campaign
    tremplin campaign roster dd-2027-demo roster.csv --sheet links.csv   # its candidates, invited
    tremplin campaign invite dd-2027-demo --candidate DD27-0003          # a new link (lost, expired)
    tremplin campaign withdraw dd-2027-demo DD27-0003                    # no more access to its exams
    tremplin export dd-2027-demo --out exports/                          # CSV, XLSX, JSON + signed manifest
    tremplin export verify exports/dd-2027-demo-... --public-key tremplin-exports.pem
    tremplin export public-key > tremplin-exports.pem                    # for admissions to keep
    tremplin report items preselection-math/math-2027 --out analysis.html  # item analysis, for professors
    tremplin grade status preselection-math/math-2027 --wait             # grading progress, with ETA
    tremplin grade regrade preselection-math/math-2027 --question q6-test  # after fixing a test
    tremplin deploy placeholders dd-2027-demo --node-cpu 4 --node-memory 15Gi --out placeholders.yaml

Expected failures are logged in one line and exit with status 1, without a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import getpass
import json
import sys
from contextlib import closing, contextmanager
from pathlib import Path

from tremplin_grading.courses import load_courses

from . import grading_cmd, sizing
from .layout import Layout, LayoutError, default_courses_dir, default_data_dir
from .roles import ROLES


# What a command needs, and SQLAlchemy with it, is imported by that command: ``tremplin export``
# starts reading the gradebooks before SQLAlchemy is imported.
def _account_store(url: str):
    from .accounts import AccountStore

    return AccountStore(url)


def _layout(args) -> Layout:
    return Layout(Path(args.data_dir).resolve() if args.data_dir else default_data_dir())


def cmd_courses_check(args) -> int:
    store = None
    layout = _layout(args)
    known = None
    if Path(layout.accounts_url.removeprefix("sqlite:///")).exists():
        store = _account_store(layout.accounts_url)
        known = {a.name for a in store.all() if a.role in ("professor", "admin")}
        store.close()
    report = load_courses(Path(args.courses_dir), known)
    for course in report.courses:
        print(f"ok    {course.id} ({course.kind}, {len(course.assignments)} assignments)")
    for error in report.errors:
        print(f"error {error}", file=sys.stderr)
    return 1 if report.errors else 0


def cmd_courses_sync(args) -> int:
    from .sync import sync

    now = dt.datetime.fromisoformat(args.now.replace("Z", "+00:00")) if args.now else None
    report = sync(Path(args.courses_dir), _layout(args), now=now, hub_api=args.hub_api,
                  progress=lambda line: print(line, flush=True))
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    print(f"{len(report.courses)} course(s) loaded; {report.hub}")
    return 1 if report.errors else 0


def cmd_accounts_demo(args) -> int:
    layout = _layout(args)
    layout.hub_dir.mkdir(parents=True, exist_ok=True)
    layout.hub_dir.chmod(0o700)
    store = _account_store(layout.accounts_url)
    created = store.ensure_demo()
    store.close()
    if created:
        print("Demo accounts created. Their passwords are shown now and never again:")
        width = max(map(len, created))
        for name, password in created.items():
            print(f"  {name.ljust(width)}  {password}")
        print("Change one with: tremplin accounts password NAME")
    else:
        print("Demo accounts already exist (their passwords were shown when they were created).")
    return 0


def _read_password(args, name: str) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass(f"Password for {name}: ")


def cmd_accounts_add(args) -> int:
    store = _account_store(_layout(args).accounts_url)
    try:
        store.add(args.name, args.role, _read_password(args, args.name))
    finally:
        store.close()
    print(f"account {args.name} ({args.role}) created; restart the hub or run 'tremplin courses sync' to update groups")
    return 0


def cmd_accounts_password(args) -> int:
    store = _account_store(_layout(args).accounts_url)
    try:
        store.set_password(args.name, _read_password(args, args.name))
    finally:
        store.close()
    print(f"password of {args.name} changed")
    return 0


def cmd_accounts_list(args) -> int:
    store = _account_store(_layout(args).accounts_url)
    for account in store.all():
        print(f"{account.name}\t{account.role}")
    store.close()
    return 0


def cmd_variants_check(args) -> int:
    from tremplin_grading.variants_check import check_assignment

    source = Path(args.courses_dir) / args.course / "source" / args.assignment
    if not source.is_dir():
        print(f"error: no assignment folder {source}; check the course and assignment ids", file=sys.stderr)
        return 1

    def progress(done, total):
        bar = "#" * (30 * done // total)
        print(f"\r[{bar:<30}] {done}/{total} variants", end="", file=sys.stderr, flush=True)

    report = check_assignment(source, f"{args.course}/{args.assignment}", args.count, progress)
    print(file=sys.stderr)
    if not report.notebooks:
        print(f"error: no notebook of {source} has a parameters cell (see docs/variants.md)", file=sys.stderr)
        return 1
    for failure in report.failures:
        print(f"FAIL  seed {failure.seed}  {failure.notebook}: {failure.problem}")
    bad = len({f.seed for f in report.failures})
    print(f"{report.variants} variants of {', '.join(report.notebooks)} checked: {report.variants - bad} good, "
          f"{bad} failing")
    return 1 if report.failures else 0


def cmd_variants_preview(args) -> int:
    import json

    from tremplin_grading.variants import VariantError, load_key, personalize, values_for, variant_seed

    course_dir = _layout(args).course_dir(args.course)
    release = course_dir / "release" / args.assignment
    try:
        key = load_key(course_dir)
    except (VariantError, PermissionError) as exc:
        print(f"error: {exc} (run as root or as grader-{args.course})", file=sys.stderr)
        return 1
    if not release.is_dir():
        print(f"error: {release} does not exist; run 'tremplin courses sync' first", file=sys.stderr)
        return 1
    seed = variant_seed(key, f"{args.course}/{args.assignment}", args.candidate)
    out = Path(args.out or f"preview-{args.course}-{args.assignment}-{args.candidate}")
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(release.glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        found = values_for(nb, seed)
        if found:
            print(f"{path.name}: {found[0]} = {found[1]!r}")
        (out / path.name).write_text(json.dumps(personalize(nb, seed), indent=1, ensure_ascii=False))
    print(f"{args.candidate}'s copy written to {out}/")
    return 0


def cmd_receipt_verify(args) -> int:
    from tremplin_grading.exports import signing

    from .exam.heads import PUBLIC_FILE
    from .exam.store import Store
    from .exam.verify import load_receipt, verify_downloaded, verify_store

    try:
        kept = [(Path(f).name, load_receipt(Path(f))) for f in args.receipt or []]
        if args.chain:
            report = verify_downloaded(Path(args.chain), kept)
        else:
            if not args.exam or "/" not in args.exam:
                print("error: give the exam as <course>/<assignment>, e.g. preselection-math/math-2027, or "
                      "--chain FILE for a downloaded chain", file=sys.stderr)
                return 1
            layout = _layout(args)
            if not layout.exam_dir.is_dir():
                print(f"error: no exam service data in {layout.exam_dir}; run this on the hub's machine as its "
                      "account, or pass --data-dir", file=sys.stderr)
                return 1
            public = layout.exam_dir / PUBLIC_FILE
            public_key = signing.load_public_key(public.read_bytes()) if public.exists() else None
            course, assignment = args.exam.split("/", 1)
            with _as_exam_service(args), closing(Store(layout.exam_db_url, layout.exam_files)) as store:
                report = verify_store(store, course, assignment, args.candidate or None, kept, public_key)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in report.checked:
        print(f"ok    {line}")
    for line in report.problems:
        print(f"FAIL  {line}", file=sys.stderr)
    if not report.checked and not report.problems:
        print("nothing to verify: no record for this exam (check its id)", file=sys.stderr)
        return 1
    return 1 if report.problems else 0


@contextmanager
def _as_exam_service(args):
    """The layout, and root's work in the exam service's stores done as its account (they are its:
    what root made there would be root's, and the service could not write it again)."""
    from .system import acting_as

    layout = _layout(args)
    with acting_as(layout.exam_account()):
        yield layout


def _exam_courses(args, layout: Layout) -> Path:
    """The courses as the exam service reads them: its copy when it has an account of its own
    (``--courses-dir`` may be where that account cannot read), else ``--courses-dir``."""
    return layout.exam_catalogue if layout.exam_account() else Path(args.courses_dir)


@contextmanager
def _admissions(args):
    from .admissions import Admissions

    with _as_exam_service(args) as layout, closing(Admissions(layout)) as adm:
        yield adm


def cmd_campaign_add(args) -> int:
    text = Path(args.file).read_text(encoding="utf-8")  # (read as root: the file may be in root's home)
    with _admissions(args) as adm:
        campaign = adm.add_campaign(text, args.file, dt.datetime.now(dt.timezone.utc))
    print(f"campaign {campaign.id} loaded: {', '.join(f'{s.name} ({s.exam}, weight {s.weight:g})' for s in campaign.sections)}"
          f"; pass threshold {campaign.threshold:g} % (version {campaign.threshold_version})")
    return 0


def _enrolment(args):
    import os

    from .enrolment import Enrolment

    layout = _layout(args)
    url = os.environ.get("TREMPLIN_PUBLIC_URL") or "http://127.0.0.1:8000"
    args.url = args.url or url
    return Enrolment(layout, _account_store(layout.accounts_url), lambda: _admissions(args),
                     dt.datetime.now(dt.timezone.utc))


def cmd_campaign_roster(args) -> int:
    data = Path(args.file).read_bytes()  # (read as root: the file may be in root's home)
    if args.if_empty:
        with _admissions(args) as adm:
            if adm.roster(args.campaign) or adm.withdrawn(args.campaign):
                print(f"roster of {args.campaign}: loaded already, kept as it is (--if-empty)")
                return 0
    enrolment = _enrolment(args)
    report = enrolment.load_roster(args.campaign, data, args.source or args.file,
                                   sheet=Path(args.sheet) if args.sheet else None, base_url=args.url,
                                   valid_days=args.valid_days)
    print(json.dumps(report.as_json()) if args.json else report.summary(args.campaign))
    return 0


def cmd_campaign_invite(args) -> int:
    enrolment = _enrolment(args)
    sheet, count = enrolment.invite(args.campaign, args.candidate or [], pending=args.pending,
                                    sheet=Path(args.sheet) if args.sheet else None, base_url=args.url,
                                    valid_days=args.valid_days)
    if args.json:
        print(json.dumps({"invited": count, "sheet": str(sheet)}))
    else:
        print(f"{count} invitation(s) written to {sheet}; the earlier unused links of these candidates no longer work")
    return 0


def cmd_campaign_withdraw(args) -> int:
    candidate = _enrolment(args).withdraw(args.campaign, args.candidate)
    if args.json:
        print(json.dumps({"withdrawn": candidate.candidate_id, "account": candidate.account}))
        return 0
    print(f"{candidate.candidate_id} ({candidate.account}) withdrawn from {args.campaign}: the exam service refuses "
          "them now, the hub takes the course away at their next login or within 5 minutes; their work is kept")
    return 0


def cmd_campaign_list(args) -> int:
    with _admissions(args) as adm:
        for cid in adm.campaign_ids():
            c = adm.campaign(cid)
            print(f"{cid}  {c.title}  ({c.partner}, {c.country}, {c.session}; {len(adm.roster(cid))} candidates)")
    return 0


def cmd_campaign_disqualify(args) -> int:
    by = args.by or getpass.getuser()
    with _admissions(args) as adm:
        adm.disqualify(args.campaign, args.candidate, args.reason or "", by, dt.datetime.now(dt.timezone.utc))
    print(f"{args.candidate} disqualified in {args.campaign}: {args.reason}")
    return 0


@contextmanager
def _no_cycle_collection():
    """Python's cycle collector off for a while: an export of 10,000 candidates makes about a million
    objects that all live until it ends, and the collector would walk them again and again to free
    nothing (10-20 % of the command's CPU time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def cmd_export(args) -> int:
    """``tremplin export <campaign>``, ``tremplin export verify``, ``tremplin export public-key``."""
    from tremplin_grading.exports import signing

    if args.campaign == "public-key":
        with _admissions(args) as adm:
            pem = signing.public_pem(signing.load_or_create_key(adm.key_file))
        sys.stdout.write(pem.decode())
        return 0
    if args.campaign == "verify":
        if not args.public_key or not args.paths:
            print("error: tremplin export verify <folder or files> --public-key <file.pem>", file=sys.stderr)
            return 1
        files = {}
        for path in map(Path, args.paths):
            for f in (sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]):
                files[f.name] = f.read_bytes()
        check = signing.verify(files, signing.load_public_key(Path(args.public_key).read_bytes()))
        for line in check.ok:
            print(f"ok    {line}")
        for line in check.problems:
            print(f"FAIL  {line}", file=sys.stderr)
        return 1 if check.problems else 0
    from .admissions import export
    from .exam.errors import ExamError
    from .hubapi import group_members

    layout = _layout(args)
    members_of = group_members(layout)  # (it reads the hub's token now, as root)
    by = args.by or getpass.getuser()
    stores = []

    def open_exams():
        # (called by the export once it is reading the gradebooks: this import costs a third of a second)
        from .exam.core import ExamService
        from .exam.store import Store

        stores.append(Store(layout.exam_db_url, layout.exam_files))
        return ExamService(stores[-1], _exam_courses(args, layout), layout.course_dir)

    try:
        with _admissions(args) as adm, _no_cycle_collection():
            files, kept = export(adm, args.campaign, open_exams, by=by, allow_incomplete=args.allow_incomplete,
                                 members_of=members_of, processes=True)  # (this process has one thread)
    except ExamError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        for store in stores:
            store.close()
    out = Path(args.out or ".") / f"{args.campaign}-{kept.name}"
    out.mkdir(parents=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    counts = json.loads(files["manifest.json"])["counts"]
    print(f"{args.campaign}: {counts['candidates']} candidates ({', '.join(f'{k} {v}' for k, v in counts.items() if k != 'candidates')}); "
          f"files in {out}/ (a copy is kept in {kept})")
    return 0


def cmd_report_items(args) -> int:
    from .exam.core import ExamService
    from .exam.errors import ExamError
    from .exam.pages import item_analysis_html
    from .exam.store import Store

    if "/" not in args.exam:
        print("error: give the exam as <course>/<assignment>, e.g. preselection-math/math-2027", file=sys.stderr)
        return 1
    try:
        with _as_exam_service(args) as layout, closing(Store(layout.exam_db_url, layout.exam_files)) as store:
            service = ExamService(store, _exam_courses(args, layout), layout.course_dir)
            page = item_analysis_html(service, layout, *args.exam.split("/", 1))
    except ExamError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    out = Path(args.out or f"analysis-{args.exam.replace('/', '-')}.html")
    out.write_text(page, encoding="utf-8")
    print(f"item analysis of {args.exam} written to {out}")
    return 0


def cmd_deploy_placeholders(args) -> int:
    """Kubernetes user placeholders for the campaigns' exam day (tremplin_hub.sizing)."""
    overrides = dict(map(sizing.parse_window, args.window or []))
    report = load_courses(Path(args.courses_dir))
    candidates: dict[str, set[str]] = {}
    with _admissions(args) as adm:
        for cid in args.campaign:
            accounts = {c.account for c in adm.roster(cid)}  # (an unknown campaign is named by the store)
            for section in adm.campaign(cid).sections:
                candidates.setdefault(section.exam, set()).update(accounts)
    sessions = {}
    layout = _layout(args)
    if layout.exam_dir.is_dir():
        from .exam.store import Store

        with _as_exam_service(args), closing(Store(layout.exam_db_url, layout.exam_files)) as store:
            sessions = store.session_windows()
    windows = sizing.exam_windows(candidates, report.courses, sessions, overrides)
    now = dt.datetime.now(dt.timezone.utc)
    found = sizing.peak(windows, dt.timedelta(minutes=args.lead_minutes), dt.timedelta(minutes=args.idle_minutes),
                        after=now)
    plan = sizing.plan(found, cpu=sizing.quantity(args.cpu, "--cpu"),
                       memory=int(sizing.quantity(args.memory, "--memory")),
                       node_cpu=sizing.quantity(args.node_cpu, "--node-cpu") if args.node_cpu else None,
                       node_memory=sizing.quantity(args.node_memory, "--node-memory") if args.node_memory else None,
                       max_pods=args.max_pods)
    values = sizing.placeholders_values(plan, "tremplin deploy placeholders " + " ".join(args.campaign), now)
    summary = (f"{found.servers} candidates' servers at most at once "
               f"({', '.join(found.exams) or 'no exam window ahead: give one with --window'})"
               + (f"; {plan.nodes} user node(s) of {plan.per_node} pods" if plan.nodes else ""))
    if args.out == "-":
        sys.stdout.write(values)
        print(summary, file=sys.stderr)
    else:
        Path(args.out).write_text(values, encoding="utf-8")
        print(f"{summary}; placeholders written to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tremplin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="data directory (default: $TREMPLIN_DATA_DIR, /var/lib/tremplin as root)")
    sub = parser.add_subparsers(dest="group", required=True)

    courses = sub.add_parser("courses", help="validate and load courses").add_subparsers(dest="action", required=True)
    for name, func, text in (("check", cmd_courses_check, "validate every course.toml, change nothing"),
                             ("sync", cmd_courses_sync, "validate and load every course into the hub")):
        p = courses.add_parser(name, help=text, description=f"{text}. Example: tremplin courses {name}")
        p.add_argument("--courses-dir", default=str(default_courses_dir()),
                       help="folder of course folders (default: $TREMPLIN_COURSES_DIR or ./courses)")
        p.set_defaults(func=func)
        if name == "sync":
            p.add_argument("--hub-api", help="hub REST API URL (default: the running hub's, if any)")
            p.add_argument("--now", help="decide which assignments are open at this UTC time (ISO 8601)")

    accounts = sub.add_parser("accounts", help="manage accounts").add_subparsers(dest="action", required=True)
    accounts.add_parser("demo", help="create the demo accounts; prints passwords once").set_defaults(
        func=cmd_accounts_demo)
    p = accounts.add_parser("add", help="create an account",
                            description="Example: echo 's3cret-pass' | tremplin accounts add amina --role learner "
                                        "--password-stdin")
    p.add_argument("name")
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_accounts_add)
    p = accounts.add_parser("password", help="change an account's password")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=cmd_accounts_password)
    accounts.add_parser("list", help="list accounts and roles").set_defaults(func=cmd_accounts_list)

    variants = sub.add_parser("variants", help="candidates' variants").add_subparsers(dest="action", required=True)
    p = variants.add_parser("check", help="run the solution on N variants; a blank answer must fail",
                            description="Example: tremplin variants check preselection-math math-2027 --count 20")
    p.add_argument("course")
    p.add_argument("assignment")
    p.add_argument("--count", type=int, default=50, help="how many variants (default 50)")
    p.add_argument("--courses-dir", default=str(default_courses_dir()))
    p.set_defaults(func=cmd_variants_check)
    p = variants.add_parser("preview", help="write one candidate's copy, with their values",
                            description="Example: tremplin variants preview preselection-math math-2027 learner1")
    p.add_argument("course")
    p.add_argument("assignment")
    p.add_argument("candidate")
    p.add_argument("--out", help="folder for the copy (default: preview-<course>-<assignment>-<candidate>)")
    p.set_defaults(func=cmd_variants_preview)

    receipt = sub.add_parser("receipt", help="exam receipts").add_subparsers(dest="action", required=True)
    p = receipt.add_parser("verify", help="check receipts, stored submissions and the audit log",
                           description="Example: tremplin receipt verify preselection-math/math-2027 "
                                       "--candidate learner1 --receipt 20270315T101500-submission.json")
    p.add_argument("exam", nargs="?", help="<course>/<assignment> (checked against the service's store)")
    p.add_argument("--receipt", action="append",
                   help="a receipt file a candidate kept; it must be a link of the chain (repeatable)")
    p.add_argument("--candidate", action="append", help="only this candidate (repeatable)")
    p.add_argument("--chain", help="a chain downloaded from the service, checked offline instead of the store")
    p.set_defaults(func=cmd_receipt_verify)

    campaign = sub.add_parser("campaign", help="pre-selection campaigns").add_subparsers(dest="action", required=True)
    p = campaign.add_parser("add", help="load or update a campaign from its campaign.toml",
                            description="Example: tremplin campaign add deploy/demo/campaign.toml")
    p.add_argument("file")
    p.set_defaults(func=cmd_campaign_add)
    p = campaign.add_parser("roster", help="load a campaign's roster: accounts, enrolment, invitations",
                            description="Columns: candidate_id, last_name, first_name, email, partner, country "
                                        "[, account]. Candidates not on it any more are withdrawn. New candidates "
                                        "get an invitation link each, in the sheet. Example: tremplin campaign "
                                        "roster dd-2027-demo roster.csv --sheet invitations.csv")
    p.add_argument("campaign")
    p.add_argument("file")
    p.add_argument("--source", help="the file's name in messages (default: its path)")
    p.add_argument("--if-empty", action="store_true", help="load it only if the campaign has no roster yet (make run's "
                                                           "demo: what a coordinator loaded since is kept)")
    _invitation_options(p)
    p.set_defaults(func=cmd_campaign_roster)
    p = campaign.add_parser("invite", help="new invitation links (the old unused ones stop working)",
                            description="Example: tremplin campaign invite dd-2027-demo --candidate DD27-0003 "
                                        "--sheet again.csv ; --pending: everyone who has not chosen a password yet")
    p.add_argument("campaign")
    p.add_argument("--candidate", action="append", help="a candidate id (repeatable)")
    p.add_argument("--pending", action="store_true", help="every candidate who has not chosen a password yet")
    _invitation_options(p)
    p.set_defaults(func=cmd_campaign_invite)
    p = campaign.add_parser("withdraw", help="withdraw a candidate: no more access to the campaign's exams",
                            description="Example: tremplin campaign withdraw dd-2027-demo DD27-0003")
    p.add_argument("campaign")
    p.add_argument("candidate")
    p.add_argument("--json", action="store_true", help="say what was done as JSON (for the coordinators' page)")
    p.set_defaults(func=cmd_campaign_withdraw, url=None)
    campaign.add_parser("list", help="the campaigns loaded").set_defaults(func=cmd_campaign_list)
    p = campaign.add_parser("disqualify", help="disqualify a candidate (exported with the reason)",
                            description="Example: tremplin campaign disqualify dd-2027-demo C-0413 --reason 'fraud'")
    p.add_argument("campaign")
    p.add_argument("candidate")
    p.add_argument("--reason", required=True)
    p.add_argument("--by", help="who decides (default: your account)")
    p.set_defaults(func=cmd_campaign_disqualify)

    p = sub.add_parser("export", help="a campaign's results for admissions; 'verify' and 'public-key' too",
                       description="Examples: tremplin export dd-2027-demo --out exports/ ; tremplin export verify "
                                   "exports/dd-2027-demo-20270401T120000Z --public-key tremplin-exports.pem ; "
                                   "tremplin export public-key > tremplin-exports.pem")
    p.add_argument("campaign", help="the campaign id, or 'verify', or 'public-key'")
    p.add_argument("paths", nargs="*", help="verify: the export's folder or files")
    p.add_argument("--out", help="folder for the export (default: the current one)")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="export although some candidates are still being graded (their rows say 'pending')")
    p.add_argument("--public-key", help="verify: the PEM file of the deployment's public key")
    p.add_argument("--by", help="who exports, for the log (default: your account)")
    p.add_argument("--courses-dir", default=str(default_courses_dir()))
    p.set_defaults(func=cmd_export)

    grading_cmd.add_parser(sub)

    report = sub.add_parser("report", help="reports for professors").add_subparsers(dest="action", required=True)
    p = report.add_parser("items", help="item analysis of an exam: difficulty, discrimination, alpha, variants",
                          description="Example: tremplin report items preselection-math/math-2027 --out a.html")
    p.add_argument("exam", help="<course>/<assignment>")
    p.add_argument("--out", help="the HTML file (default: analysis-<course>-<assignment>.html)")
    p.add_argument("--courses-dir", default=str(default_courses_dir()))
    p.set_defaults(func=cmd_report_items)

    deploy = sub.add_parser("deploy", help="deployment beyond one machine").add_subparsers(dest="action", required=True)
    p = deploy.add_parser("placeholders", help="Kubernetes user placeholders sized from campaigns' rosters",
                          description="Counts the most candidates' servers up at once (from --lead-minutes before "
                                      "each exam window to --idle-minutes after it) and writes the Helm values of "
                                      "that many user placeholders. Example: tremplin deploy placeholders "
                                      "dd-2027-demo --node-cpu 4 --node-memory 15Gi --out placeholders.yaml")
    p.add_argument("campaign", nargs="+", help="campaign ids (their candidates, withdrawn ones left out)")
    p.add_argument("--window", action="append", help="an exam's window, before a coordinator sets it: "
                   "course/assignment=OPENS/CLOSES (ISO 8601), e.g. preselection-math/math-2027="
                   "2027-03-15T08:00Z/2027-03-15T10:00Z (repeatable)")
    p.add_argument("--lead-minutes", type=float, default=20, help="servers started this long before a window "
                                                                  "(TREMPLIN_PRESTART_MINUTES; default 20)")
    p.add_argument("--idle-minutes", type=float, default=60, help="servers left this long after it (the culler's "
                                                                  "timeout, values.yaml cull.timeout; default 60)")
    p.add_argument("--cpu", default=f"{sizing.CANDIDATE_CPU:g}",
                   help="CPU each candidate's pod asks for (default: values.yaml's singleuser.cpu.guarantee)")
    p.add_argument("--memory", default=f"{sizing.CANDIDATE_MEMORY >> 20}Mi",
                   help="memory each candidate's pod asks for (default: values.yaml's singleuser.memory.guarantee)")
    p.add_argument("--node-cpu", help="a user node's allocatable CPU, e.g. 4 or 3920m (with --node-memory: nodes "
                                      "needed)")
    p.add_argument("--node-memory", help="a user node's allocatable memory, e.g. 15Gi")
    p.add_argument("--max-pods", type=int, default=110, help="pods a node may run (the kubelet's; default 110)")
    p.add_argument("--out", default="-", help="the values file to write (default: standard output)")
    p.add_argument("--courses-dir", default=str(default_courses_dir()))
    p.set_defaults(func=cmd_deploy_placeholders)
    return parser


def _invitation_options(p) -> None:
    p.add_argument("--sheet", help="the CSV of invitation links to write (default: "
                                   "<campaign>-invitations-<UTC time>.csv here); never overwritten")
    p.add_argument("--url", help="the hub's public address, for the links (default: $TREMPLIN_PUBLIC_URL, else "
                                 "http://127.0.0.1:8000)")
    p.add_argument("--valid-days", type=float, default=14, help="how long a link works (default 14 days)")
    p.add_argument("--json", action="store_true", help="say what was done as JSON (for the coordinators' page)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (LayoutError, ValueError, OSError) as exc:  # (AccountStoreError is a ValueError)
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
