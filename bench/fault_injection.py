"""Kill parts of a running Tremplin with ``kill -9`` while candidates autosave and submit; count what is lost.

Run as root from the checkout, with the Python environment ``make`` installed::

    /opt/tremplin/venv/bin/python bench/fault_injection.py              # 50 trials
    /opt/tremplin/venv/bin/python bench/fault_injection.py --trials 8 --candidates 10 --seed 3

It boots a real hub as the tests do (``tests/hubfixture.py``: its own data directory and free
ports, the ``preselection-physics`` exam, real system accounts), then runs trials. In each trial a
few new candidates fetch the exam and autosave every 2 s or so, then submit at a random moment,
through the proxy with their own tokens (the exam service's REST API, which their servers call),
while one part is killed with SIGKILL at a random moment, in turn:

* ``hub``: the script then plays the supervisor (systemd's ``Restart=always``, see
  ``deploy/systemd/``) and starts the hub again at once on the same data directory and ports;
* ``proxy``: the hub's proxy check starts a new configurable-http-proxy and restores its routes;
* ``exam``: the exam service, started again by its keeper (``tremplin_hub.keeper``);
* ``formgrader``: the course's formgrader, started again by its keeper.

A failed save is tried again every half second. A trial ends when every candidate holds the
receipt of their submission (after an error, a candidate whose submission had in fact been kept
is told so, 409, and takes the receipt from their chain). Every receipt a candidate got is then
checked against the exam service's store with the project's receipt verification
(``tremplin_hub.exam.verify``, what ``tremplin receipt verify`` runs), and the script prints the
trials, the submissions lost (a receipt whose submission is not in the store; goal 0), the
receipts invalid (goal 0), the longest time a candidate could not save, and the time each kind of
part took to come back. The grading service is left out (``--grading`` keeps it): papers would
only queue up for it, and its own ``kill -9`` is tested in ``tests/integration``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from hubfixture import RunningHub, is_root, make_base, service_pid

COURSE, EXAM = "preselection-physics", "physics-2027"
KINDS = ("hub", "proxy", "exam", "formgrader")
NO_GRADER = "c.JupyterHub.services = [s for s in c.JupyterHub.services if s['name'] != 'tremplin-grader']\n"
AUTOSAVE_SECONDS = 2.2  # (the service keeps at most one autosave every 2 s)
RETRY_SECONDS = 0.5
RECOVERY_TIMEOUT = 180.0


def notebook(text: str) -> bytes:
    return json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": text}], "metadata": {},
                       "nbformat": 4, "nbformat_minor": 5}).encode()


@dataclass
class Candidate:
    """A hub user in the exam's group with a token of their own, autosaving then submitting in a thread."""

    hub: RunningHub
    name: str
    submit_at: float
    http: requests.Session = field(default_factory=requests.Session)
    receipts: list[dict] = field(default_factory=list)  # every receipt the service answered with
    sent: dict[str, dict[str, str]] = field(default_factory=dict)  # receipt chain -> SHA-256 of the files sent
    submission: dict | None = None
    recovered_from_chain: bool = False
    longest_gap: float = 0.0
    failures: int = 0
    error: str = ""

    @property
    def base(self) -> str:
        return f"{self.hub.url}/services/tremplin-exam/api/courses/{COURSE}/assignments/{EXAM}"

    def enrol(self) -> None:
        admin = self.hub.admin()
        admin.post(f"{self.hub.api}/users/{self.name}").raise_for_status()
        admin.post(f"{self.hub.api}/groups/nbgrader-{COURSE}/users", json={"users": [self.name]}).raise_for_status()
        r = admin.post(f"{self.hub.api}/users/{self.name}/tokens", json={"note": "fault injection", "expires_in": 7200})
        r.raise_for_status()
        self.http.headers["Authorization"] = f"token {r.json()['token']}"
        deadline = time.monotonic() + 60
        while (r := self.post("fetch", {"start": True})) is None or r.status_code != 200:  # (as the start page)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} could not fetch the exam: {r and r.text}")
            time.sleep(RETRY_SECONDS)

    def post(self, path: str, body: dict) -> requests.Response | None:
        try:
            return self.http.post(f"{self.base}/{path}", json=body, timeout=15)
        except requests.RequestException:
            return None

    def send(self, kind: str, text: str) -> requests.Response | None:
        files = {f"{EXAM}.ipynb": notebook(text)}
        # (a hand-in is confirmed, as the hand-in button sends it)
        r = self.post(f"{kind}s/{self.name}", {"files": {k: base64.b64encode(v).decode() for k, v in files.items()},
                                              "confirmed": kind == "submission"})
        if r is not None and r.status_code == 201:
            receipt = r.json()["receipt"]
            self.receipts.append(receipt)
            self.sent[receipt["chain"]] = {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}
        return r

    def run(self, t0: float) -> None:
        """Autosave until ``submit_at`` (seconds after ``t0``), then submit until a receipt comes back."""
        try:
            self._run(t0)
        except Exception as exc:  # noqa: BLE001 (reported with the trial)
            self.error = f"{type(exc).__name__}: {exc}"

    def _run(self, t0: float) -> None:
        down_since = None
        last_kept = 0.0
        n = 0
        deadline = t0 + self.submit_at + RECOVERY_TIMEOUT
        while self.submission is None:
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError(f"no receipt for the submission {RECOVERY_TIMEOUT:g} s after its time")
            submitting = now - t0 >= self.submit_at
            if not submitting and now - last_kept < AUTOSAVE_SECONDS:
                time.sleep(min(RETRY_SECONDS, AUTOSAVE_SECONDS - (now - last_kept)))
                continue
            n += 1
            # (a submission sent again after an error is the same: the service may have kept the first)
            r = self.send("submission", f"{self.name}: final") if submitting else \
                self.send("snapshot", f"{self.name}: draft {n}")
            done = time.monotonic()
            if r is not None and r.status_code == 201:
                if down_since is not None:
                    self.longest_gap = max(self.longest_gap, done - down_since)
                down_since, last_kept = None, done
                if submitting:
                    self.submission = self.receipts[-1]
                continue
            if r is not None and r.status_code == 429:  # an autosave was kept under 2 s ago: the service is up
                if down_since is not None:
                    self.longest_gap = max(self.longest_gap, done - down_since)
                down_since, last_kept = None, done
                continue
            if submitting and r is not None and r.status_code == 409 and "one attempt" in r.text:
                self.take_submission_from_chain(f"{self.name}: final")
                if down_since is not None:
                    self.longest_gap = max(self.longest_gap, done - down_since)
                continue
            self.failures += 1
            if down_since is None:
                down_since = now
            time.sleep(RETRY_SECONDS)

    def take_submission_from_chain(self, text: str) -> None:
        """The submission was kept but its answer lost (the part died meanwhile): its receipt is in the chain."""
        r = self.http.get(f"{self.base}/receipts/{self.name}", timeout=15)
        r.raise_for_status()
        (receipt,) = [link for link in r.json() if link["kind"] == "submission"]
        self.receipts.append(receipt)
        self.sent[receipt["chain"]] = {f"{EXAM}.ipynb": hashlib.sha256(notebook(text)).hexdigest()}
        self.submission, self.recovered_from_chain = receipt, True


@dataclass
class Trial:
    number: int
    kind: str
    killed: int | None = None
    recovered: bool = False
    recovery_seconds: float = float("nan")
    longest_gap: float = 0.0
    candidates: list[Candidate] = field(default_factory=list)
    problem: str = ""

    def line(self) -> str:
        saved = sum(len(c.receipts) for c in self.candidates)
        state = f"back in {self.recovery_seconds:5.1f} s" if self.recovered else f"NOT BACK: {self.problem}"
        return (f"trial {self.number:3d}: kill -9 {self.kind:<10} pid {self.killed or '?':<7} {state}; "
                f"{len(self.candidates)} candidates, {saved} receipts, longest without saving {self.longest_gap:4.1f} s"
                + "".join(f"; {c.name}: {c.error}" for c in self.candidates if c.error))


@dataclass
class Report:
    trials: list[Trial] = field(default_factory=list)
    submissions: int = 0
    receipts: int = 0
    recovered_from_chain: int = 0
    lost: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)

    def summary(self) -> str:
        gaps = [(t.longest_gap, t) for t in self.trials]
        worst = max(gaps, key=lambda g: g[0]) if gaps else (0.0, None)
        per_kind = ", ".join(f"{k} {sum(t.kind == k for t in self.trials)}" for k in KINDS)
        candidates = sum(len(t.candidates) for t in self.trials)
        lines = [
            f"trials: {len(self.trials)} ({per_kind}), recovered: {sum(t.recovered for t in self.trials)}",
            (f"candidates: {candidates}, submissions with a receipt: {self.submissions} ({self.recovered_from_chain} "
             f"taken from the chain after a lost answer), receipts checked: {self.receipts}"),
            f"submissions lost: {len(self.lost)}",
            f"receipts invalid: {len(self.invalid)}",
            f"longest time a candidate could not save: {worst[0]:.1f} s"
            + (f" (trial {worst[1].number}, {worst[1].kind})" if worst[1] else ""),
        ]
        for kind in KINDS:
            back = [t.recovery_seconds for t in self.trials if t.kind == kind and t.recovered]
            gap = [t.longest_gap for t in self.trials if t.kind == kind]
            if back:
                lines.append(f"  {kind:<10} back after kill -9: median {statistics.median(back):4.1f} s, max "
                             f"{max(back):4.1f} s; longest without saving: median {statistics.median(gap):4.1f} s, "
                             f"max {max(gap):4.1f} s")
        lines += [f"LOST     {x}" for x in self.lost] + [f"INVALID  {x}" for x in self.invalid]
        return "\n".join(lines)


# ---- the parts and their pids ---------------------------------------------------------------
def formgrader_pid(hub: RunningHub) -> int | None:
    """The pid of the course's formgrader (jupyterhub-singleuser in the course directory; not its keeper)."""
    course_dir = str(hub.data_dir / "courses" / COURSE)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if any(part.endswith(b"jupyterhub-singleuser") for part in cmd[:2]) and cwd == course_dir:
            return int(proc.name)
    return None


def part_pid(hub: RunningHub, kind: str) -> int | None:
    if kind == "hub":
        return hub.proc.pid if hub.proc and hub.proc.poll() is None else None
    if kind == "proxy":
        try:
            return int((hub.data_dir / "hub" / "proxy.pid").read_text())
        except (OSError, ValueError):
            return None
    if kind == "exam":
        return service_pid(hub, "tremplin-exam")
    return formgrader_pid(hub)


def answers(url: str, session: requests.Session | None = None) -> bool:
    try:
        return (session or requests).get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def everything_answers(hub: RunningHub, professor: requests.Session) -> bool:
    """The hub's API, the exam service and the formgrader all answer through the proxy."""
    return (answers(f"{hub.api}/") and answers(f"{hub.url}/services/tremplin-exam/api/health")
            and answers(f"{hub.url}/services/{COURSE}/formgrader/api/assignments", professor))


def restart_hub(hub: RunningHub, log) -> None:
    """What systemd's ``Restart=always`` does: start the hub again as soon as it died."""
    hub.proc.wait()
    for attempt in range(3):
        try:
            hub.start(timeout=RECOVERY_TIMEOUT)
            return
        except RuntimeError as exc:
            log(f"  the hub did not start again (attempt {attempt + 1}): {str(exc)[:2000]}")
    raise RuntimeError("the hub did not start again after three attempts")


def wait_back(hub: RunningHub, kind: str, old: int, professor: requests.Session, killed_at: float) -> float:
    """Seconds from the kill until a new process of that kind runs and everything answers again."""
    while time.monotonic() - killed_at < RECOVERY_TIMEOUT:
        pid = part_pid(hub, kind)
        if pid is not None and pid != old and everything_answers(hub, professor):
            return time.monotonic() - killed_at
        time.sleep(0.2)
    raise TimeoutError(f"{kind} not back {RECOVERY_TIMEOUT:g} s after kill -9")


def run_trial(hub: RunningHub, number: int, kind: str, candidates: int, rng: random.Random,
              professor: requests.Session, log, submit_window: tuple[float, float] = (-1.0, 6.0)) -> Trial:
    """Candidates start autosaving; 1 to 4 s later ``kind`` is killed; each submits at ``submit_window`` from then."""
    trial = Trial(number, kind)
    kill_at = rng.uniform(1.0, 4.0)
    run = secrets.token_hex(2)
    trial.candidates = [Candidate(hub, f"{hub.names['learner1'].split('-')[0]}-fi{number}-{i}-{run}",
                                  submit_at=kill_at + rng.uniform(*submit_window)) for i in range(candidates)]
    for cand in trial.candidates:
        cand.enrol()
    t0 = time.monotonic()
    threads = [threading.Thread(target=c.run, args=(t0,), daemon=True) for c in trial.candidates]
    for t in threads:
        t.start()
    time.sleep(max(0.0, t0 + kill_at - time.monotonic()))
    trial.killed = part_pid(hub, kind)
    if trial.killed is None:
        trial.problem = f"no {kind} process found to kill"
    else:
        os.kill(trial.killed, signal.SIGKILL)
        killed_at = time.monotonic()
        try:
            if kind == "hub":
                restart_hub(hub, log)
            trial.recovery_seconds = wait_back(hub, kind, trial.killed, professor, killed_at)
            trial.recovered = True
        except (RuntimeError, TimeoutError) as exc:
            trial.problem = str(exc)[:300]
    for t in threads:
        t.join(RECOVERY_TIMEOUT + 30)
    trial.longest_gap = max(c.longest_gap for c in trial.candidates)
    log(trial.line())
    return trial


def check(hub: RunningHub, report: Report) -> None:
    """Every receipt the candidates got, against the exam service's store (``tremplin receipt verify``)."""
    from tremplin_grading.exports import signing
    from tremplin_hub.exam.heads import PUBLIC_FILE
    from tremplin_hub.exam.receipts import Receipt
    from tremplin_hub.exam.store import Store
    from tremplin_hub.exam.verify import verify_store
    from tremplin_hub.layout import Layout

    layout = Layout(hub.data_dir)
    candidates = [c for t in report.trials for c in t.candidates]
    kept = []
    for cand in candidates:
        for i, receipt in enumerate(cand.receipts):
            label = f"{cand.name} receipt {i + 1} ({receipt['kind']})"
            kept.append((label, Receipt(**receipt)))
            if receipt["files"] != cand.sent.get(receipt["chain"]):
                report.invalid.append(f"{label}: its files' SHA-256 are not those of the files sent")
        if cand.submission is not None:
            report.submissions += 1
            report.recovered_from_chain += cand.recovered_from_chain
    report.receipts = len(kept)
    public = layout.exam_dir / PUBLIC_FILE
    public_key = signing.load_public_key(public.read_bytes()) if public.exists() else None
    store = Store(layout.exam_db_url, layout.exam_files)
    try:
        for cand in candidates:
            if cand.submission is None:
                continue
            stored = [r for r in store.records(COURSE, EXAM, cand.name, ("submission",))
                      if r.receipt.chain == cand.submission["chain"]]
            if not stored:
                report.lost.append(f"{cand.name}: submission {cand.submission['chain'][:16]}… "
                                   f"({cand.submission['server_time']}) is not in the store")
        names = [c.name for c in candidates]
        verdict = verify_store(store, COURSE, EXAM, names, kept, public_key) if names else None
    finally:
        store.close()
    if verdict is not None:
        report.invalid.extend(verdict.problems)
        report.verified = verdict.checked


def run_trials(hub: RunningHub, trials: int = 50, candidates: int = 6, kinds=KINDS, seed: int | None = None,
               log=print, submit_window: tuple[float, float] = (-1.0, 6.0)) -> Report:
    """``trials`` trials against ``hub`` (running), killing ``kinds`` in turn; the report, receipts checked."""
    rng = random.Random(seed)
    professor = hub.user_session("professor")
    report = Report()
    for number in range(1, trials + 1):
        report.trials.append(run_trial(hub, number, kinds[(number - 1) % len(kinds)], candidates, rng, professor,
                                       log, submit_window))
    check(hub, report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Example: python bench/fault_injection.py --trials 50 --candidates 6")
    parser.add_argument("--trials", type=int, default=50, help="trials (default 50), each killing one part")
    parser.add_argument("--candidates", type=int, default=6, help="candidates per trial (default 6)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"parts killed in turn (default {','.join(KINDS)})")
    parser.add_argument("--seed", type=int, default=None, help="random seed (moments of kills and submissions)")
    parser.add_argument("--grading", action="store_true", help="keep the grading service running")
    parser.add_argument("--hub-log", default="/tmp/tremplin-fault-injection-hub.log",
                        help="where the hub's log is copied at the end (default %(default)s)")
    args = parser.parse_args(argv)
    kinds = tuple(args.kinds.split(","))
    if not set(kinds) <= set(KINDS) or not kinds:
        parser.error(f"--kinds takes some of {','.join(KINDS)}")
    if not is_root():
        print("error: run as root (learners' system accounts); e.g. sudo /opt/tremplin/venv/bin/python "
              "bench/fault_injection.py", file=sys.stderr)
        return 1
    hub = RunningHub(make_base(), extra_config="" if args.grading else NO_GRADER)
    try:
        print(f"booting a hub in {hub.base} ...", flush=True)
        hub.prepare(courses=[COURSE])
        hub.start(timeout=RECOVERY_TIMEOUT)
        report = run_trials(hub, args.trials, args.candidates, kinds, args.seed,
                            log=lambda line: print(line, flush=True))
        print()
        print(report.summary())
        ok = not report.lost and not report.invalid and all(t.recovered for t in report.trials)
        return 0 if ok else 1
    finally:
        if hub.log_path and hub.log_path.exists():
            shutil.copy(hub.log_path, args.hub_log)
            print(f"the hub's log: {args.hub_log}")
        hub.cleanup()


if __name__ == "__main__":
    sys.exit(main())
