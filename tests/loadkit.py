"""Load on a running exam service: candidates autosaving, one hostile candidate, ``api/health`` polled.

Shared by ``bench/load_bench.py`` (100 candidates, a minute, numbers printed) and
``tests/integration/test_exam_load.py`` (20 candidates, a few seconds, outcomes asserted):
both run :func:`run_load` against a real hub's exam service.

* Candidates are hub users in the exam's group, each with a token of their own, calling the
  service as their Jupyter server does (tornado's HTTP client, one event loop for all of
  them): fetch once (that starts their attempt), then an autosave of a realistic notebook
  (50–200 KB: the personalised exam with answers and a plot) every 2–3 s after the last
  answer. A 429 is respected (``Retry-After``) and counted apart from errors.
* The hostile candidate sends requests at the limits, over raw sockets so that nothing
  corrects them: the largest legal autosave (then fetched back), a body just under the limit whose files are
  over it, 500 and 501 tiny files, a declared ``Content-Length`` over the limit, a chunked
  body that keeps coming, and a 27 MB form with no token to a route that takes no files.
* ``api/health`` is polled every 100 ms by a separate process (this file run as a script),
  so that the load generator's own work never shows up as the service's latency; each poll
  opens a new connection, as a monitor does.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import math
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

COURSE, EXAM, NB = "preselection-physics", "physics-2027", "physics-2027.ipynb"
SERVICE = "tremplin-exam"
MIN_AUTOSAVE_SECONDS = 2.0

#: What the service must answer to each hostile request ("cut": it closed the connection mid-body).
HOSTILE_EXPECTED: dict[str, set[str]] = {
    "largest_legal": {"201", "429"},   # 20 MB of files: accepted (or too soon after the last one)
    "refetch_largest": {"200"},        # ... and fetched back at once (gzip accepted): 27 MB of JSON to send
    "body_at_limit": {"413"},          # a body just under the limit, whose files are over 20 MB
    "files_500": {"201", "429"},       # 500 tiny files: the most allowed
    "files_501": {"413"},
    "declared_over": {"413"},          # Content-Length over the limit: answered before the body is read
    # no length, and it keeps coming: cut at the limit (the hub's proxy then says 400, or 503)
    "chunked_endless": {"400", "413", "503", "cut"},
    # a 27 MB form, no token, to a route without files: refused unread (the proxy may say 503)
    "form_no_token": {"400", "503", "cut"},
}


# ---- accounts --------------------------------------------------------------------------------
@dataclass
class Account:
    name: str
    token: str


def make_candidates(hub, n: int, tag: str = "load") -> list[Account]:
    """``n`` new hub users in the exam's group, each with an API token of their own (as their server has)."""
    admin = hub.admin()
    prefix = hub.names["learner1"].split("-")[0]
    run = secrets.token_hex(2)
    names = [f"{prefix}-{tag}{run}-{i:03d}" for i in range(n)]
    r = admin.post(f"{hub.api}/users", json={"usernames": names})
    r.raise_for_status()
    admin.post(f"{hub.api}/groups/nbgrader-{COURSE}/users", json={"users": names}).raise_for_status()
    accounts = []
    for name in names:
        r = admin.post(f"{hub.api}/users/{name}/tokens", json={"note": "load", "expires_in": 7200})
        r.raise_for_status()
        accounts.append(Account(name, r.json()["token"]))
    return accounts


def service_urls(hub) -> dict[str, str]:
    """The exam service's base URL through the hub's proxy (browsers) and directly (learners' servers,
    ``TREMPLIN_EXAM_URL``), the latter read from the service process's environment."""
    from hubfixture import service_pid

    urls = {"proxy": f"{hub.url}/services/{SERVICE}/"}
    pid = service_pid(hub, SERVICE)
    if pid is not None:
        env = dict(item.split(b"=", 1) for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                   if b"=" in item)
        url = env.get(b"JUPYTERHUB_SERVICE_URL", b"").decode().rstrip("/")
        prefix = env.get(b"JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE}/".encode()).decode()
        if url:
            urls["direct"] = url + prefix
    return urls


# ---- what candidates send ----------------------------------------------------------------------
class Notebook:
    """A candidate's exam notebook as it grows: the fetched copy, answers typed, one plot, ~``size`` bytes."""

    def __init__(self, fetched: bytes, size: int, rng: random.Random):
        nb = json.loads(fetched)
        for cell in nb["cells"]:
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                cell["source"] = f"answer = {rng.uniform(1, 100):.4g} * ureg.meter / ureg.second\n"
        base = len(json.dumps(nb))
        # A plot's PNG (incompressible, as real ones nearly are) brings the notebook to its size.
        png = base64.b64encode(rng.randbytes(max(1024, (size - base) * 3 // 4))).decode()
        nb["cells"].append({"cell_type": "code", "execution_count": 1, "id": "load-plot", "metadata": {},
                            "source": "plot(trajectory)", "outputs": [
                                {"output_type": "display_data", "metadata": {},
                                 "data": {"image/png": png, "text/plain": "<Figure size 640x480>"}}]})
        nb["cells"].append({"cell_type": "markdown", "id": "load-draft", "metadata": {}, "source": ""})
        self.nb = nb

    def save(self, i: int) -> bytes:
        self.nb["cells"][-1]["source"] = f"Brouillon {i}: v = d / t, {time.time():.3f}"
        return json.dumps(self.nb, indent=1, ensure_ascii=False).encode()


def snapshot_body(files: dict[str, bytes]) -> bytes:
    return json.dumps({"files": {k: base64.b64encode(v).decode() for k, v in files.items()},
                       "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode()


# ---- results ---------------------------------------------------------------------------------
@dataclass
class HostileResult:
    kind: str
    outcome: str      # the status ("413"), or "cut" (the connection closed mid-body), or "error: ..."
    started: float    # time.monotonic()
    seconds: float
    sent: int         # body bytes the server took before answering or cutting


@dataclass
class LoadReport:
    url: str
    candidates: int
    seconds: float
    began: float = 0.0    # time.monotonic() when the candidates began to fetch
    started: float = 0.0  # ... and when the autosaves began (the fetches done)
    stop_at: float = math.inf
    ended: float = 0.0
    fetch_status: collections.Counter = field(default_factory=collections.Counter)
    fetch_seconds: list[float] = field(default_factory=list)
    kept: dict[str, list[dict]] = field(default_factory=dict)  # candidate -> receipts of their 201s
    refused: int = 0                                            # 429
    errors: collections.Counter = field(default_factory=collections.Counter)  # status -> count
    error_samples: list[str] = field(default_factory=list)
    save_seconds: list[float] = field(default_factory=list)
    hostile: list[HostileResult] = field(default_factory=list)
    health: dict[str, list[tuple[float, float, int]]] = field(default_factory=dict)  # url -> (t, s, status)

    @property
    def kept_count(self) -> int:
        return sum(len(v) for v in self.kept.values())

    def health_during(self, url: str, start: float | None = None, end: float | None = None) -> list:
        start = self.started if start is None else start
        end = self.ended if end is None else end
        return [s for s in self.health.get(url, []) if start <= s[0] <= end]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0–100); NaN when there is no value."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# ---- candidates ------------------------------------------------------------------------------
async def _candidate(client, account: Account, exam: str, report: LoadReport, fetched: asyncio.Future,
                     go: asyncio.Event, rng: random.Random, sizes: tuple[int, int]) -> None:
    """Fetch (retrying a 503 as a server does), say so through ``fetched``, then autosave from ``go`` until the
    report's ``stop_at``."""
    from tornado.httpclient import HTTPRequest

    headers = {"Authorization": f"token {account.token}", "Content-Type": "application/json"}
    try:
        await asyncio.sleep(rng.uniform(0, 1))  # people do not all click Fetch in the same millisecond
        for attempt in range(10):
            t0 = time.perf_counter()
            r = await client.fetch(HTTPRequest(f"{exam}/fetch", method="POST", body=b'{"start": true}', headers=headers,
                                               request_timeout=120), raise_error=False)
            report.fetch_seconds.append(time.perf_counter() - t0)
            report.fetch_status[r.code] += 1
            if r.code == 200:
                break
            if r.code not in (503, 599):  # (503: the hub was too busy to say their groups: retry)
                report.error_samples.append(f"fetch of {account.name}: {r.code} {(r.body or b'')[:200]!r}")
                return
            await asyncio.sleep(1 + attempt)
        else:
            return
        notebook = Notebook(base64.b64decode(json.loads(r.body)["files"][NB]), rng.randint(*sizes), rng)
    finally:
        fetched.set_result(None)
    kept = report.kept.setdefault(account.name, [])
    url = f"{exam}/snapshots/{account.name}"
    await go.wait()
    await asyncio.sleep(rng.uniform(0, MIN_AUTOSAVE_SECONDS + 1))  # (spread over the first interval)
    i = 0
    while time.monotonic() < report.stop_at:
        body = snapshot_body({NB: notebook.save(i)})
        i += 1
        t0 = time.perf_counter()
        r = await client.fetch(HTTPRequest(url, method="POST", body=body, headers=headers, request_timeout=120),
                               raise_error=False)
        report.save_seconds.append(time.perf_counter() - t0)
        pause = rng.uniform(MIN_AUTOSAVE_SECONDS, MIN_AUTOSAVE_SECONDS + 1)  # after the answer: never too soon
        if r.code == 201:
            kept.append(json.loads(r.body).get("receipt") or {})
        elif r.code == 429:
            report.refused += 1
            pause = max(pause, float(r.headers.get("Retry-After", MIN_AUTOSAVE_SECONDS)))
        else:
            report.errors[r.code] += 1
            if len(report.error_samples) < 20:
                report.error_samples.append(f"autosave of {account.name}: {r.code} {r.error or ''} "
                                            f"{(r.body or b'')[:200]!r}")
        await asyncio.sleep(pause)


# ---- the hostile candidate ---------------------------------------------------------------------
async def raw_post(url: str, token: str | None, *, body: bytes = b"", declared: int | None = None,
                   chunked: bytes | None = None, chunk_cap: int = 0, content_type: str = "application/json",
                   headers: tuple[str, ...] = (), timeout: float = 120) -> tuple[str, int, bytes]:
    """POST over a bare socket: ``body`` whole, or only its start under a larger ``declared`` length, or
    ``chunked`` pieces sent again and again up to ``chunk_cap`` bytes. Returns the outcome (the status, or
    ``cut`` when the server closed the connection without an answer), the body bytes the server took, and
    the answer's body."""
    u = urlsplit(url)
    reader, writer = await asyncio.open_connection(u.hostname, u.port)
    head = [f"POST {u.path} HTTP/1.1", f"Host: {u.netloc}", f"Content-Type: {content_type}", "Connection: close"]
    if token:
        head.append(f"Authorization: token {token}")
    head += headers
    head.append("Transfer-Encoding: chunked" if chunked is not None else
                f"Content-Length: {declared if declared is not None else len(body)}")
    # The head and the first piece of the body in one write: the server reads both at once, so that when
    # it refuses and closes, no byte waits unread in its socket (that close would be a reset, which can
    # discard its answer), and a proxy sends the head on at once (node's waits for a first byte of body).
    first = body[:1 << 20] if chunked is None else b""
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + first)
    sent = len(first)

    async def send():
        nonlocal sent
        try:
            if chunked is not None:
                frame = b"%x\r\n" % len(chunked) + chunked + b"\r\n"
                while sent < chunk_cap:
                    writer.write(frame)
                    await writer.drain()
                    sent += len(chunked)
                writer.write(b"0\r\n\r\n")
            else:
                for i in range(1 << 20, len(body), 1 << 20):
                    writer.write(body[i:i + (1 << 20)])
                    await writer.drain()
                    sent += len(body[i:i + (1 << 20)])
            await writer.drain()
        except (ConnectionError, OSError):
            pass  # the server stopped reading: what a refusal looks like from here

    sender = asyncio.create_task(send())
    try:
        status_line = await asyncio.wait_for(reader.readline(), timeout)
        if not status_line:
            return "cut", sent, b""
        answer_headers = {}
        while (line := await asyncio.wait_for(reader.readline(), timeout)) not in (b"\r\n", b"\n", b""):
            key, _, value = line.decode("latin-1").partition(":")
            answer_headers[key.strip().lower()] = value.strip()
        if "content-length" in answer_headers:
            answer = await asyncio.wait_for(reader.readexactly(int(answer_headers["content-length"])), timeout)
        else:
            answer = await asyncio.wait_for(reader.read(1 << 16), timeout)
        return status_line.split()[1].decode(), sent, answer
    except (ConnectionError, asyncio.IncompleteReadError):
        return "cut", sent, b""
    except asyncio.TimeoutError:
        return f"error: no answer in {timeout:g} s", sent, b""
    finally:
        sender.cancel()
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


class HostileBodies:
    """The hostile candidate's bodies, built once (they are large)."""

    def __init__(self, max_body: int, max_files_bytes: int, max_files: int):
        self.max_body = max_body
        legal = os.urandom(max_files_bytes - 4096)
        self.largest_legal = snapshot_body({NB: legal})
        prefix, suffix = b'{"files": {"a.ipynb": "', b'"}}'
        # just under the body limit; its base64 decodes to more than the files' limit
        self.body_at_limit = prefix + b"A" * (max_body - 16 - len(prefix) - len(suffix)) + suffix
        self.files_at_limit = snapshot_body({f"f{i:03d}.txt": b"x" for i in range(max_files)})
        self.files_over = snapshot_body({f"f{i:03d}.txt": b"x" for i in range(max_files + 1)})
        self.form = b"a=" + b"%41" * ((max_body - 16) // 3)
        assert len(self.largest_legal) < max_body and len(self.body_at_limit) < max_body


async def _hostile(account: Account, exam: str, report: LoadReport, stop_at: float, bodies: HostileBodies,
                   rounds: int | None, pause: float) -> None:
    url = f"{exam}/snapshots/{account.name}"
    requests_ = [
        ("largest_legal", dict(body=bodies.largest_legal)),
        ("refetch_largest", dict(body=b"{}", url=f"{exam}/fetch", headers=("Accept-Encoding: gzip",))),
        ("body_at_limit", dict(body=bodies.body_at_limit)),
        ("files_500", dict(body=bodies.files_at_limit)),
        ("files_501", dict(body=bodies.files_over)),
        ("declared_over", dict(body=b'{"files": {"a.ipynb": "', declared=bodies.max_body * 2)),
        ("chunked_endless", dict(chunked=b"A" * (256 * 1024), chunk_cap=bodies.max_body * 3)),
        ("form_no_token", dict(body=bodies.form, url=f"{exam}/fetch", token=None,
                               content_type="application/x-www-form-urlencoded")),
    ]
    done = 0
    while rounds is None or done < rounds:
        for kind, kwargs in requests_:
            if rounds is None and time.monotonic() >= stop_at:
                return
            started = time.monotonic()
            kwargs = {"url": url, "token": account.token, **kwargs}
            try:
                outcome, sent, answer = await raw_post(**kwargs)
            except OSError as exc:
                outcome, sent, answer = f"error: {exc}", 0, b""
            if outcome == "201" and kind != "refetch_largest":  # (kept: with everyone's, to be found in the store)
                report.kept.setdefault(account.name, []).append(json.loads(answer).get("receipt") or {})
            report.hostile.append(HostileResult(kind, outcome, started, time.monotonic() - started, sent))
            await asyncio.sleep(pause)
        done += 1


# ---- health, polled from a process of its own ---------------------------------------------------
def _poll(url: str, interval: float, stop: threading.Event, out: list) -> None:
    import http.client

    u = urlsplit(url)
    next_at = time.monotonic()
    while not stop.is_set():
        t0 = time.monotonic()
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            conn.request("GET", u.path)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except OSError:
            status = 0
        finally:
            conn.close()
        out.append((t0, time.monotonic() - t0, status))
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))
        next_at = max(next_at, time.monotonic() - interval)  # (after a slow answer: no burst to catch up)


def _health_main(urls: list[str], interval: float) -> None:
    """Poll each URL every ``interval`` s (a thread each) until stdin closes; print the samples as JSON."""
    stop = threading.Event()
    samples = {url: [] for url in urls}
    threads = [threading.Thread(target=_poll, args=(url, interval, stop, samples[url])) for url in urls]
    for t in threads:
        t.start()
    sys.stdin.read()
    stop.set()
    for t in threads:
        t.join()
    json.dump(samples, sys.stdout)


class HealthPoller:
    """``api/health`` of each URL polled every ``interval`` s by a separate process, from start to stop."""

    def __init__(self, urls: list[str], interval: float = 0.1):
        self.urls = urls
        self.proc = subprocess.Popen([sys.executable, __file__, "health", str(interval), *urls],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def stop(self) -> dict[str, list[tuple[float, float, int]]]:
        out, _ = self.proc.communicate(b"", timeout=120)
        return {url: [tuple(s) for s in samples] for url, samples in json.loads(out).items()}


# ---- one run -------------------------------------------------------------------------------------
async def run_load(service: str, candidates: list[Account], seconds: float, *, hostile: Account | None = None,
                   hostile_bodies: HostileBodies | None = None, hostile_rounds: int | None = None,
                   hostile_pause: float = 0.5, sizes: tuple[int, int] = (50_000, 200_000), seed: int = 2027,
                   ) -> LoadReport:
    """Candidates fetch (all at once, as at an exam's start), then autosave for ``seconds`` through
    ``service`` (the exam service's base URL) while the hostile candidate repeats its requests
    (``hostile_rounds`` times, or until the end).

    Health is not polled here: run a :class:`HealthPoller` around this call and put its samples in
    the report's ``health``.
    """
    from tornado.httpclient import AsyncHTTPClient

    exam = f"{service.rstrip('/')}/api/courses/{COURSE}/assignments/{EXAM}"
    report = LoadReport(url=service, candidates=len(candidates), seconds=seconds, began=time.monotonic())
    client = AsyncHTTPClient(force_instance=True, max_clients=len(candidates) + 8, max_body_size=64 * 2**20)
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    go = asyncio.Event()
    fetched = [loop.create_future() for _ in candidates]
    tasks = [asyncio.create_task(_candidate(client, a, exam, report, f, go, random.Random(rng.random()), sizes))
             for a, f in zip(candidates, fetched)]
    try:
        if hostile:
            r = await client.fetch(f"{exam}/fetch", method="POST", body=b'{"start": true}', raise_error=False,
                                   headers={"Authorization": f"token {hostile.token}"}, request_timeout=120)
            if r.code != 200:
                report.error_samples.append(f"fetch of the hostile candidate: {r.code}")
        await asyncio.gather(*fetched)
        report.started = time.monotonic()
        report.stop_at = report.started + seconds
        go.set()
        if hostile:
            tasks.append(asyncio.create_task(_hostile(hostile, exam, report, report.stop_at, hostile_bodies,
                                                      hostile_rounds, hostile_pause)))
        await asyncio.gather(*tasks)
    finally:
        report.ended = time.monotonic()
        for task in tasks:
            task.cancel()
        client.close()
    return report


def check_kept(service: str, kept: dict[str, list[dict]], accounts: list[Account], coordinator) -> list[str]:
    """What the store lost or invented: for each candidate, the receipts of their 201s (``kept``, as in
    :attr:`LoadReport.kept`) must be exactly the snapshots in their chain of receipts (``receipts/<user>``),
    and the coordinator's table must count as many. ``coordinator`` is a requests session with a
    coordinator's token. Returns the problems found."""
    import requests

    exam = f"{service.rstrip('/')}/api/courses/{COURSE}/assignments/{EXAM}"
    r = coordinator.get(f"{exam}/candidates", timeout=120)
    r.raise_for_status()
    table = {row["user"]: row for row in r.json()["candidates"]}
    problems = []
    for account in accounts:
        sent = [k.get("chain") for k in kept.get(account.name, [])]
        if not all(sent):
            problems.append(f"{account.name}: a 201 without a receipt")
        r = requests.get(f"{exam}/receipts/{account.name}", headers={"Authorization": f"token {account.token}"},
                         timeout=120)
        r.raise_for_status()
        stored = [c["chain"] for c in r.json() if c["kind"] == "snapshot"]
        if stored != sent:
            problems.append(f"{account.name}: {len(sent)} autosaves kept (201), {len(stored)} snapshot receipts "
                            "stored, or not the same")
        if table.get(account.name, {}).get("snapshots") != len(sent):
            problems.append(f"{account.name}: the coordinator's table counts "
                            f"{table.get(account.name, {}).get('snapshots')} snapshots, {len(sent)} were kept")
    return problems


if __name__ == "__main__" and sys.argv[1:2] == ["health"]:
    _health_main(sys.argv[3:], float(sys.argv[2]))
