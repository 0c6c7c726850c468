"""Benchmark: exam day. N candidates of a roster open their exam when its window opens, against stock settings.

Issue 12, "Exam-day capacity". Goal on 2 cores: 100 candidates working at most 60 s after the
window opens, 0 failures. Run as root (the hub creates the candidates' system accounts), from
the checkout::

    python bench/exam_day.py                     # 100 candidates, Tremplin then stock settings
    python bench/exam_day.py --candidates 20 --autosaves 1
    python bench/exam_day.py --only tremplin

Each run boots a real hub (``tests/hubfixture.py``: a temporary data directory, free ports, the
installed code) with the physics pre-selection exam. Its candidates come from a roster
(``tremplin campaign add`` and ``campaign roster``) and have set their password, as with their
invitation. A coordinator sets the exam's window. At its opening every candidate, in a thread of
their own, does what their browser does, over HTTP with cookies:

1. logs in (``/hub/login``);
2. follows the home page's link to the exam (``/hub/user-redirect/tremplin/open/…``): their server
   starts if it is not running (the waiting page is polled as its script would), then the exam
   service's start page;
3. confirms the start (its form), lands on the notebook in JupyterLab (the page and its scripts),
   reads the notebook (contents API), starts its kernel (sessions API) and runs a cell over the
   kernel's websocket:
   **working**, timed from the window's opening;
4. autosaves every 30 s (``--autosaves`` times: a contents PUT, which Tremplin copies to the exam
   service), then hands in (the hand-in button's POST) and gets a receipt.

Any step that fails (an HTTP error, a timeout, a page that never comes) is a failure, named.
The two runs differ only in how servers start:

* **Tremplin**: its defaults. ``tremplin-prestart`` starts the candidates' servers before the window
  opens (the bench opens the window far enough ahead, and prints how long that took); the start
  queue; ``http_timeout``/``start_timeout`` 120 s.
* **stock settings**: JupyterHub's defaults: no server started ahead, no queue,
  ``concurrent_spawn_limit`` 100, ``http_timeout`` 30 s, ``start_timeout`` 60 s.

Printed for each: p50/p95/p99/max time to working, failures by step, autosaves kept, hand-ins, and
the learners' servers' memory (RSS and unique, per server, at the end); then the ratio of stock's
p95 to Tremplin's. The candidates' threads run on the same two cores as the hub, which a real exam
does not have to share. Timings are never asserted.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "graders"), str(REPO / "extensions"), str(REPO / "tests")]

COURSE, EXAM = "preselection-physics", "physics-2027"
GOAL_S, GOAL_CANDIDATES = 60.0, 100
#: What a page waiting for a server is allowed before the step counts as failed.
STEP_TIMEOUT_S = 600
STOCK_CONFIG = ("c.JupyterHub.concurrent_spawn_limit = 100\n"
                "c.Spawner.http_timeout = 30\n"
                "c.Spawner.start_timeout = 60\n")


class StepFailed(Exception):
    def __init__(self, step: str, detail: str):
        super().__init__(f"{step}: {detail}")
        self.step, self.detail = step, detail


@dataclass
class Outcome:
    name: str
    working_s: float | None = None
    failed: StepFailed | None = None
    autosaves_kept: int = 0
    receipt: bool = False
    timings: dict[str, float] = field(default_factory=dict)


def percentile(values: list[float], p: float) -> float:
    from loadkit import percentile as pct

    return pct(values, p)


class Candidate:
    """One candidate's browser, over HTTP."""

    def __init__(self, hub, name: str, password: str):
        import requests

        self.hub, self.name, self.password = hub, name, password
        self.http = requests.Session()
        self.user = f"{hub.url}/user/{name}"

    def _xsrf_headers(self, url: str) -> dict[str, str]:
        """The ``_xsrf`` cookie of the server ``url`` goes to (the hub's and each server's have their own path)."""
        from urllib.parse import urlparse

        path = urlparse(url).path
        mine = [c for c in self.http.cookies if c.name == "_xsrf" and path.startswith(c.path or "/")]
        return {"X-XSRFToken": max(mine, key=lambda c: len(c.path or "")).value} if mine else {}

    def _get(self, step: str, url: str, **kw):
        import requests

        try:
            r = self.http.get(url, timeout=120, **kw)
        except requests.RequestException as exc:
            raise StepFailed(step, f"{type(exc).__name__}: {exc}") from None
        return r

    def _send(self, step: str, method: str, url: str, ok=(200, 201), **kw):
        import requests

        try:
            r = self.http.request(method, url, timeout=120, headers=self._xsrf_headers(url), **kw)
        except requests.RequestException as exc:
            raise StepFailed(step, f"{type(exc).__name__}: {exc}") from None
        if r.status_code not in ok:
            raise StepFailed(step, f"HTTP {r.status_code} {r.url}: {r.text[:200]}")
        return r

    def run(self, opens_at: float, autosaves: int, every_s: float) -> Outcome:
        out = Outcome(self.name)
        try:
            self._exam(out, opens_at, autosaves, every_s)
        except StepFailed as exc:
            out.failed = exc
        finally:
            self.http.close()
        return out

    def _exam(self, out: Outcome, opens_at: float, autosaves: int, every_s: float) -> None:
        def mark(step):
            out.timings[step] = time.monotonic() - opens_at

        form = self._get("login", f"{self.hub.url}/hub/login")
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text)
        if form.status_code != 200 or not xsrf:
            raise StepFailed("login", f"HTTP {form.status_code}: no login form")
        r = self._send("login", "POST", f"{self.hub.url}/hub/login",
                       data={"username": self.name, "password": self.password, "_xsrf": xsrf.group(1)})
        if not r.url.endswith("/hub/home"):
            raise StepFailed("login", f"landed on {r.url}")
        mark("login")

        # The home page's link (/hub/spawn?next=…): the server starts if needed, then the exam's start page.
        from html import unescape

        from tremplin_hub.dashboard import open_url

        r = self._get("server", f"{self.hub.url}{open_url('/hub/', COURSE, EXAM)}")
        if "spawn-pending" in r.url:  # (the waiting page: its script follows the progress, then goes on)
            progress = re.search(r'new EventSource\("([^"]+)"\)', r.text)
            if not progress:
                raise StepFailed("server", f"a waiting page without its progress: {r.url}")
            self._until_ready(f"{self.hub.url}{unescape(progress.group(1))}")
            r = self._get("server", f"{self.hub.url}/hub/user-redirect/tremplin/open/{COURSE}/{EXAM}")
        if r.status_code != 200 or f"/services/tremplin-exam/start/{COURSE}/{EXAM}" not in r.url:
            text = re.sub(r"<[^>]+>|\s+", " ", r.text)
            raise StepFailed("server", f"HTTP {r.status_code} {r.url}: {text[:200]}")
        mark("server")

        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text)
        if not xsrf:
            raise StepFailed("start", "no start form on the start page")
        r = self._send("start", "POST", r.url, data={"_xsrf": xsrf.group(1)})
        notebook = f"{COURSE}/{EXAM}/{EXAM}.ipynb"
        if not r.url.endswith(f"/lab/tree/{notebook}"):
            raise StepFailed("start", f"landed on {r.url}")
        for src in re.findall(r'<script[^>]+src="([^"]+)"', r.text):  # (the page's scripts, as the browser loads)
            if src.startswith("/"):
                self._send("start", "GET", f"{self.hub.url}{src}")
        mark("notebook page")

        model = self._send("notebook", "GET", f"{self.user}/api/contents/{notebook}?content=1").json()
        session = self._send("notebook", "POST", f"{self.user}/api/sessions",
                             json={"path": notebook, "name": f"{EXAM}.ipynb", "type": "notebook",
                                   "kernel": {"name": "python3"}}).json()
        self._run_code(session, "1 + 1", opens_at + STEP_TIMEOUT_S)
        out.working_s = time.monotonic() - opens_at

        content = model["content"]
        for i in range(autosaves):
            time.sleep(max(0.0, opens_at + out.working_s + every_s * (i + 1) - time.monotonic()))
            edited = copy.deepcopy(content)
            edited["cells"].append({"cell_type": "code", "execution_count": None, "id": f"bench{i}", "metadata": {},
                                    "outputs": [], "source": f"answer_{i} = {i} * 2"})
            self._send("autosave", "PUT", f"{self.user}/api/contents/{notebook}",
                       json={"type": "notebook", "format": "json", "content": edited})
            out.autosaves_kept += 1
        receipt = self._send("hand-in", "POST", f"{self.user}/tremplin/submit/{COURSE}/{EXAM}").json()
        out.receipt = bool(receipt.get("receipt"))
        self._send("hand-in", "DELETE", f"{self.user}/api/sessions/{session['id']}", ok=(204,))

    def _run_code(self, session: dict, code: str, deadline: float) -> None:
        """What JupyterLab does with a notebook's kernel: connect its websocket and run a cell, until its reply."""
        import uuid
        from urllib.parse import urlparse

        import websocket

        url = f"{self.user}/api/kernels/{session['kernel']['id']}/channels?session_id={uuid.uuid4().hex}"
        path = urlparse(url).path
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies if path.startswith(c.path or "/"))
        msg_id = uuid.uuid4().hex
        request = {"header": {"msg_id": msg_id, "username": self.name, "session": uuid.uuid4().hex,
                              "msg_type": "execute_request", "version": "5.3",
                              "date": dt.datetime.now(dt.timezone.utc).isoformat()},
                   "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                   "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                               "allow_stdin": False, "stop_on_error": True}}
        for attempt in range(1, 8):  # (JupyterLab reconnects a kernel's websocket 7 times, with a growing delay)
            try:
                ws = websocket.create_connection(url.replace("http://", "ws://", 1), cookie=cookie,
                                                 origin=self.hub.url, timeout=max(1.0, deadline - time.monotonic()))
                break
            except (OSError, websocket.WebSocketException) as exc:
                if attempt == 7 or time.monotonic() > deadline:
                    raise StepFailed("notebook", f"kernel websocket, {attempt} attempts: {type(exc).__name__}: "
                                                 f"{exc}") from None
                time.sleep(min(2 ** attempt, 30))
        ws.settimeout(5)  # (the server's pings every 30 s would keep a longer wait alive forever)
        try:
            ws.send(json.dumps(request))
            while time.monotonic() < deadline:
                try:
                    reply = json.loads(ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                if reply.get("parent_header", {}).get("msg_id") == msg_id and reply.get("msg_type") == "execute_reply":
                    if reply["content"].get("status") != "ok":
                        raise StepFailed("notebook", f"the cell failed: {reply['content']}")
                    return
        except (OSError, websocket.WebSocketException, ValueError) as exc:
            raise StepFailed("notebook", f"kernel websocket: {type(exc).__name__}: {exc}") from None
        finally:
            ws.close()
        raise StepFailed("notebook", "the kernel never ran the cell")

    def _until_ready(self, progress_url: str) -> None:
        """What the waiting page's script does: follow the progress events until ready or failed."""
        import requests

        try:
            with self.http.get(progress_url, stream=True, timeout=STEP_TIMEOUT_S,
                               headers={"Accept": "text/event-stream"}) as events:
                if events.status_code != 200:
                    raise StepFailed("server", f"progress: HTTP {events.status_code} {events.text[:200]}")
                for line in events.iter_lines(decode_unicode=True):
                    if line and line.startswith("data:"):
                        event = json.loads(line[5:])
                        if event.get("failed"):
                            raise StepFailed("server", f"the waiting page said: {event.get('message', '')[:300]}")
                        if event.get("ready"):
                            return
        except requests.RequestException as exc:
            raise StepFailed("server", f"{type(exc).__name__} while waiting: {exc}") from None
        raise StepFailed("server", "the progress ended without ready")


def tremplin_cli(hub, *argv: str) -> str:
    from hubfixture import VENV_BIN

    proc = subprocess.run([str(VENV_BIN / "tremplin"), *argv], env=hub.env(), capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"tremplin {' '.join(argv)} failed: {proc.stderr}")
    return proc.stdout


def enrol(hub, n: int) -> dict[str, str]:
    """A roster of ``n`` candidates for the exam; each has chosen a password (as with their invitation)."""
    import secrets

    from tremplin_hub.accounts import AccountStore
    from tremplin_hub.layout import Layout

    prefix = hub.names["learner1"].split("-")[0]
    cid, folder = f"{prefix}-examday", hub.base / "campaign"
    folder.mkdir()
    (folder / "campaign.toml").write_text(
        f'id = "{cid}"\ntitle = "Exam day"\npartner = "IIT"\ncountry = "IN"\nsession = "2027-03"\nthreshold = 50\n'
        f'threshold_version = "b-1"\n[[sections]]\nname = "physics"\nexam = "{COURSE}/{EXAM}"\nweight = 1\n')
    names = [f"{prefix}-d{i:04d}" for i in range(n)]
    (folder / "roster.csv").write_text("candidate_id,last_name,first_name,email,partner,country,account\n" + "".join(
        f"IN-{i},Kumar,Ravi {i},r{i}@x.org,IIT,IN,{name}\n" for i, name in enumerate(names)), encoding="utf-8")
    tremplin_cli(hub, "campaign", "add", str(folder / "campaign.toml"))
    tremplin_cli(hub, "campaign", "roster", cid, str(folder / "roster.csv"), "--sheet", str(folder / "links.csv"))
    passwords = {name: secrets.token_urlsafe(12) for name in names}
    store = AccountStore(Layout(hub.data_dir).accounts_url)
    try:
        for name, password in passwords.items():
            store.set_password(name, password)
    finally:
        store.close()
    hub.names.update({name: name for name in names})  # (cleanup deletes their system accounts)
    return passwords


def set_window(hub, opens: dt.datetime) -> None:
    coordinator = hub.user_session("coordinator")
    base = f"{hub.url}/services/tremplin-exam/api/courses/{COURSE}/assignments/{EXAM}"
    before = coordinator.get(f"{base}/session").json()
    r = coordinator.put(f"{base}/session", json={**before, "opens": opens.isoformat(),
                                                 "closes": (opens + dt.timedelta(hours=3)).isoformat()})
    if r.status_code != 200:
        raise SystemExit(f"the coordinator could not set the window: {r.status_code} {r.text}")
    coordinator.close()


def running_servers(hub, names: list[str]) -> int:
    with hub.admin() as admin:
        users = admin.get(f"{hub.api}/users", params={"state": "ready", "limit": 100000}).json()
    wanted = set(names)
    return sum(1 for u in users if u["name"] in wanted)


#: The learners' server commands: Tremplin's and stock JupyterHub's (bench/server_memory.py runs both).
SERVER_COMMANDS = (b"tremplin-singleuser", b"jupyterhub-singleuser")


def server_memory_by_name(names: list[str]) -> dict[str, dict[str, float]]:
    """RSS, PSS and unique memory (MiB) of each of these learners' server process, by learner."""
    import pwd

    uids = {}
    for name in names:
        try:
            uids[pwd.getpwnam(name).pw_uid] = name
        except KeyError:
            pass
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if proc.stat().st_uid not in uids:
                continue
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if not any(part.endswith(SERVER_COMMANDS) for part in argv[:2]):
                continue
            fields = dict(line.split(":", 1) for line in (proc / "smaps_rollup").read_text().splitlines()[1:])
        except OSError:
            continue
        kib = {k: int(v.split()[0]) for k, v in fields.items()}
        found[uids[proc.stat().st_uid]] = {"rss": kib["Rss"] / 1024, "pss": kib["Pss"] / 1024,
                                          "uss": (kib["Private_Clean"] + kib["Private_Dirty"]) / 1024}
    return found


def server_memory(names: list[str]) -> tuple[list[float], list[float]]:
    """RSS and unique memory (MiB) of each candidate's server process."""
    found = server_memory_by_name(names).values()
    return [m["rss"] for m in found], [m["uss"] for m in found]


def run(mode: str, n: int, autosaves: int, every_s: float) -> dict:
    from hubfixture import RunningHub, make_base

    stock = mode == "stock"
    if stock:
        hub = RunningHub(make_base(), extra_env={"TREMPLIN_PRESTART_MINUTES": "0", "TREMPLIN_START_SLOTS": "100000"},
                         extra_config=STOCK_CONFIG)
        lead_s = 5.0
    else:
        lead_s = 60 + n * 6.5  # (a round of the service every 30 s, then one start after the other)
        hub = RunningHub(make_base(), extra_env={"TREMPLIN_PRESTART_MINUTES": f"{lead_s / 60 + 1:.1f}"})
    label = "stock settings" if stock else "Tremplin"
    try:
        hub.prepare(courses=[COURSE])
        hub.start()
        passwords = enrol(hub, n)
        names = sorted(passwords)
        opens = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=lead_s)
        set_window(hub, opens)
        opens_at = time.monotonic() + (opens - dt.datetime.now(dt.timezone.utc)).total_seconds()
        ahead = None
        while time.monotonic() < opens_at:
            up = running_servers(hub, names) if not stock else 0
            if up == n and ahead is None:
                ahead = time.monotonic() - (opens_at - lead_s)
            time.sleep(min(5.0, max(0.0, opens_at - time.monotonic())))
        up_at_opening = running_servers(hub, names)
        print(f"  {label}: window opens; {up_at_opening} of {n} servers running"
              + (f" (all started ahead in {ahead:.0f} s)" if ahead else ""), flush=True)
        outcomes: list[Outcome] = [None] * n  # type: ignore[list-item]

        def one(i: int) -> None:
            outcomes[i] = Candidate(hub, names[i], passwords[names[i]]).run(opens_at, autosaves, every_s)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rss, uss = server_memory(names)
        coordinator = hub.user_session("coordinator")
        rows = coordinator.get(f"{hub.url}/services/tremplin-exam/api/courses/{COURSE}/assignments/{EXAM}/candidates")
        rows = [r for r in rows.json()["candidates"] if r["user"] in passwords]
        coordinator.close()
        return {"label": label, "outcomes": outcomes, "up_at_opening": up_at_opening, "ahead_s": ahead,
                "rss": rss, "uss": uss, "kept_snapshots": sum(r["snapshots"] for r in rows),
                "kept_hand_ins": sum(1 for r in rows if r["final_kind"])}
    finally:
        hub.cleanup()


def report(result: dict, n: int, autosaves: int) -> None:
    outcomes: list[Outcome] = result["outcomes"]
    working = [o.working_s for o in outcomes if o.working_s is not None]
    failed = [o for o in outcomes if o.failed]
    by_step: dict[str, int] = {}
    for o in failed:
        by_step[o.failed.step] = by_step.get(o.failed.step, 0) + 1
    line = ", ".join(f"p{p} {percentile(working, p):.1f} s" for p in (50, 95, 99)) if working else "nobody"
    print(f"  {result['label']:<15} working: {len(working)} of {n}; {line}"
          + (f", max {max(working):.1f} s" if working else ""))
    print(f"  {'':<15} failures: {len(failed)}"
          + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(by_step.items())) + ")" if failed else ""))
    for o in failed[:3]:
        print(f"  {'':<15}   e.g. {o.name}: {str(o.failed)[:240]}")
    within = sum(1 for t in working if t <= GOAL_S)
    print(f"  {'':<15} working within {GOAL_S:.0f} s: {within} of {n}")
    steps = [step for step in ("login", "server", "notebook page") if any(step in o.timings for o in outcomes)]
    if working:
        print(f"  {'':<15} each step done, p50 after the opening: " + ", ".join(
            f"{step} {percentile([o.timings[step] for o in outcomes if step in o.timings], 50):.1f} s"
            for step in steps) + f", a cell run {percentile(working, 50):.1f} s")
    kept = sum(o.autosaves_kept for o in outcomes)
    print(f"  {'':<15} autosaves saved {kept} of {n * autosaves}; handed in with a receipt: "
          f"{sum(o.receipt for o in outcomes)} of {n}; the exam service's table: {result['kept_snapshots']} "
          f"snapshots, {result['kept_hand_ins']} hand-ins")
    if result["rss"]:
        rss, uss = result["rss"], result["uss"]
        print(f"  {'':<15} learners' servers at the end: {len(rss)}; RSS mean {sum(rss) / len(rss):.0f} MiB "
              f"(max {max(rss):.0f}), unique mean {sum(uss) / len(uss):.0f} MiB")


def main(argv=None) -> int:
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--candidates", type=int, default=GOAL_CANDIDATES, help="candidates (default 100)")
    parser.add_argument("--autosaves", type=int, default=2, help="autosaves each, 30 s apart (default 2)")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between autosaves (default 30)")
    parser.add_argument("--only", choices=("tremplin", "stock"), help="one of the two runs")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root: the hub creates each candidate's system account")
    print(f"exam day: {args.candidates} candidates open the physics exam at its window's opening, "
          f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}", flush=True)
    results = [run(mode, args.candidates, args.autosaves, args.every)
               for mode in ("tremplin", "stock") if args.only in (None, mode)]
    print(f"exam day, {args.candidates} candidates: time from the window's opening to a working notebook "
          "(logged in, server up, exam started, notebook read, a cell run)")
    for result in results:
        report(result, args.candidates, args.autosaves)
    times = {r["label"]: [o.working_s for o in r["outcomes"] if o.working_s is not None] for r in results}
    if len(results) == 2:
        worked = {label: len(t) for label, t in times.items()}
        print(f"  candidates working: Tremplin {worked['Tremplin']}, stock settings {worked['stock settings']}"
              + (f" ({worked['Tremplin'] / worked['stock settings']:.1f}x)" if worked["stock settings"] else ""))
        if times["Tremplin"] and times["stock settings"]:
            ratio = percentile(times["stock settings"], 50) / percentile(times["Tremplin"], 50)
            print(f"  ratio of the p50 of those working (stock settings / Tremplin): {ratio:.1f}x")
    if "Tremplin" in times:
        tremplin = next(r for r in results if r["label"] == "Tremplin")
        failures = sum(1 for o in tremplin["outcomes"] if o.failed)
        met = (args.candidates >= GOAL_CANDIDATES and failures == 0 and len(times["Tremplin"]) == args.candidates
               and max(times["Tremplin"]) <= GOAL_S)
        print(f"  goal: {GOAL_CANDIDATES} candidates working <= {GOAL_S:.0f} s after the opening, 0 failures: "
              + ("met" if met else "NOT met") + f" (here: {args.candidates} candidates, "
              f"max {max(times['Tremplin'], default=float('nan')):.1f} s, {failures} failures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
