"""Benchmark: a campaign's candidates from its roster, then their invitations used (issue 12, part 2).

Goal: **10,000 candidates enrolled in under a minute**, and a campaign of 500 candidates logging in with
their invitations. Run as root from the checkout (``make bench`` does), after ``make install``::

    python bench/roster_bench.py                           # 10,000 enrolled; 500 log in; stock with 10,000
    python bench/roster_bench.py --candidates 2000 --logins 100 --stock 2000

Three figures, each what a person runs, end to end:

1. **Ours, enrolment**: ``tremplin campaign roster <campaign> roster.csv`` (the command admissions' roster
   goes through) on a data directory of a real hub, for ``--candidates`` candidates: accounts, enrolment in
   the campaign's two exam courses, one invitation each, the sheet.
2. **Stock, enrolment**: what a stock JupyterHub offers for the same, its REST API (``POST /hub/api/users``
   with every name, then ``POST /hub/api/groups/<course>/users`` for each of the two courses' groups), against
   a real ``jupyterhub`` with its default SQLite database, for ``--stock`` candidates. (Stock JupyterHub has no
   passwords nor invitations: this is only the part it can do.) The ratio is per candidate.
3. **Ours, invitations used**: ``--logins`` candidates of the roster each open their link, choose a password
   and land on their home page with the exam (GET the link, POST the form: the password hashed with argon2id,
   then the login), 20 at a time, against the real hub started on that data directory; then each one's
   exams are asked of the exam service. A failure makes the run exit 1. Timings are never asserted.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "graders"), str(REPO / "extensions"), str(REPO / "tests")]

GOAL_SECONDS = 60.0
CAMPAIGN = """id = "{cid}"
title = "Banc d'essai / Benchmark"
partner = "Bench university"
country = "VN"
session = "2027-03"
threshold = 50
threshold_version = "bench-1"
[[sections]]
name = "math"
exam = "preselection-math/math-2027"
weight = 2
[[sections]]
name = "physics"
exam = "preselection-physics/physics-2027"
weight = 1
"""


def roster(path: Path, prefix: str, count: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["candidate_id", "last_name", "first_name", "email", "partner", "country", "account"])
        for i in range(count):
            w.writerow([f"VN-{i:05d}", "Nguyễn", f"Văn {i}", f"c{i}@example.org", "Bench university", "VN",
                        f"{prefix}-c{i:05d}"])


def stock_enrolment(count: int, workdir: Path) -> float:
    """Seconds for a stock JupyterHub's REST API to create ``count`` users and put them in two groups."""
    import requests

    from hubfixture import VENV_BIN, free_port

    port, hub_port, proxy_api = free_port(), free_port(), free_port()
    token = "bench-" + os.urandom(16).hex()
    (workdir / "stock_config.py").write_text(
        f"c.JupyterHub.ip = '127.0.0.1'\nc.JupyterHub.port = {port}\nc.JupyterHub.hub_port = {hub_port}\n"
        f"c.JupyterHub.services = [{{'name': 'bench', 'api_token': {token!r}}}]\n"
        "c.JupyterHub.load_roles = [{'name': 'bench', 'services': ['bench'], "
        "'scopes': ['admin:users', 'admin:groups', 'list:users', 'list:groups']}]\n"
        "c.JupyterHub.authenticator_class = 'dummy'\n"
        f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{proxy_api}'\n"
        f"c.ConfigurableHTTPProxy.command = [{os.environ.get('TREMPLIN_PROXY', 'configurable-http-proxy')!r}]\n")
    log = open(workdir / "stock_hub.log", "wb")
    proc = subprocess.Popen([str(VENV_BIN / "jupyterhub"), "-f", str(workdir / "stock_config.py")], cwd=workdir,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        s = requests.Session()
        s.headers["Authorization"] = f"token {token}"
        api = f"http://127.0.0.1:{hub_port}/hub/api"
        deadline = time.monotonic() + 60
        while True:
            try:
                if s.get(f"{api}/", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the stock hub did not start in 60 s; its log: {workdir / 'stock_hub.log'}")
            time.sleep(0.5)
        names = [f"stock-c{i:05d}" for i in range(count)]
        t = time.perf_counter()
        s.post(f"{api}/users", json={"usernames": names}, timeout=3600).raise_for_status()
        for group in ("nbgrader-preselection-math", "nbgrader-preselection-physics"):
            s.post(f"{api}/groups/{group}", timeout=60).raise_for_status()
            s.post(f"{api}/groups/{group}/users", json={"users": names}, timeout=3600).raise_for_status()
        return time.perf_counter() - t
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def use_invitation(hub, url: str, account: str) -> tuple[float, str]:
    """(seconds, error or ''): open the link, choose a password, land on the home page, see the exam."""
    import requests

    t = time.perf_counter()
    try:
        s = requests.Session()
        form = s.get(url, timeout=120)
        if form.status_code != 200:
            return time.perf_counter() - t, f"{account}: link answered {form.status_code}"
        fields = dict(re.findall(r'name="(_xsrf|token)" value="([^"]+)"', form.text))
        password = f"pw-{account}-bench"
        r = s.post(f"{hub.url}/hub/invitation", data={**fields, "password": password, "password2": password},
                   timeout=120)
        if r.status_code != 200 or not r.url.endswith("/hub/home") or "preselection-math" not in r.text:
            return time.perf_counter() - t, f"{account}: {r.status_code} {r.url}"
        return time.perf_counter() - t, ""
    except requests.RequestException as exc:
        return time.perf_counter() - t, f"{account}: {type(exc).__name__} {exc}"


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--logins", type=int, default=500)
    parser.add_argument("--stock", type=int, default=10_000, help="candidates for stock JupyterHub's REST API")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("run as root (the hub it boots creates the courses' grader accounts)", file=sys.stderr)
        return 2
    from hubfixture import VENV_BIN, RunningHub, make_base

    hub = RunningHub(make_base())
    failures: list[str] = []
    try:
        hub.prepare(courses=["preselection-math", "preselection-physics"])
        prefix = hub.names["learner1"].split("-")[0]
        cid = f"{prefix}-bench"
        work = Path(tempfile.mkdtemp(prefix="tremplin-roster-bench-"))
        (work / "campaign.toml").write_text(CAMPAIGN.format(cid=cid))
        roster(work / "roster.csv", prefix, args.candidates)
        tremplin = [str(VENV_BIN / "tremplin")]
        subprocess.run([*tremplin, "campaign", "add", str(work / "campaign.toml")], env=hub.env(), check=True,
                       capture_output=True)
        hub.start()
        t = time.perf_counter()
        proc = subprocess.run([*tremplin, "campaign", "roster", cid, str(work / "roster.csv"), "--sheet",
                               str(work / "sheet.csv"), "--url", hub.url], env=hub.env(), capture_output=True,
                              text=True)
        ours = time.perf_counter() - t
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        print(proc.stdout.strip())
        with open(work / "sheet.csv", encoding="utf-8-sig", newline="") as f:
            links = [(row["invitation_url"], row["account"]) for row in csv.DictReader(f)]
        print(f"\nours:  tremplin campaign roster, {args.candidates} candidates (accounts, 2 exam courses, "
              f"invitations, sheet): {ours:.1f} s ({ours / args.candidates * 1000:.2f} ms per candidate); "
              f"goal < {GOAL_SECONDS:.0f} s: {'met' if ours < GOAL_SECONDS else 'NOT met'}")

        times = []
        t = time.perf_counter()
        with ThreadPoolExecutor(20) as pool:
            for seconds, error in pool.map(lambda link: use_invitation(hub, *link), links[:args.logins]):
                times.append(seconds)
                if error:
                    failures.append(error)
        wall = time.perf_counter() - t
        print(f"ours:  {len(times)} candidates used their invitation (link, password, home page with the exam), "
              f"20 at a time: {wall:.1f} s in all; each p50 {percentile(times, 50):.2f} s, p95 "
              f"{percentile(times, 95):.2f} s, p99 {percentile(times, 99):.2f} s; failures {len(failures)}")
        for error in failures[:10]:
            print(f"   failure: {error}")

        stock = stock_enrolment(args.stock, work)
        print(f"stock: JupyterHub REST API, {args.stock} users created and put in 2 groups: {stock:.1f} s "
              f"({stock / args.stock * 1000:.2f} ms per candidate; no passwords, no invitations)")
        print(f"ratio (stock / ours, per candidate): {(stock / args.stock) / (ours / args.candidates):.1f}x")
    finally:
        hub.cleanup()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
