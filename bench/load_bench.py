"""Benchmark: the exam service's health check while 100 candidates autosave and one sends hostile snapshots.

Issue 10, "Never blocking": ``api/health`` must keep answering in under 100 ms while 100
candidates autosave and one candidate sends snapshots at the limits. Run as root (the hub it
boots creates the course's grader account), from the checkout::

    python bench/load_bench.py                       # 100 candidates, 60 s, direct then proxy
    python bench/load_bench.py --candidates 50 --seconds 30 --via direct
    python bench/load_bench.py --asyncio-debug       # the service logs callbacks that hold its loop > 100 ms
    python bench/load_bench.py --from-checkout       # this checkout's code, before it is installed

It boots a real hub (``tests/hubfixture.py``, as the integration tests do: a temporary data
directory, free ports, the installed code) with the pre-selection physics exam,
creates the candidates (hub users in the exam's group, a token each) and, for each path in
``--via``, runs :func:`loadkit.run_load`: every candidate fetches the exam (the burst of an
exam's first minute), then autosaves a 50–200 KB notebook every 2–3 s for ``--seconds``
while the hostile candidate cycles through its requests (the largest legal autosave, 20 MB,
and fetching it back; a body just under the 27.7 MB limit; 500 and 501 tiny files; a
declared ``Content-Length`` over the limit; a chunked body that keeps coming; a 27 MB form
without a token to a route that takes no files). The two paths:

* ``direct``: to the service's loopback URL, as learners' servers do (``TREMPLIN_EXAM_URL``);
* ``proxy``: through the hub's proxy (``/services/tremplin-exam/``), as browsers do.

Meanwhile a separate process polls ``api/health`` every 100 ms on both paths (a new
connection each time, as a monitor does) and the client's clock gives each latency, end to
end. The goal is judged on the health check's 99th percentile during the autosaves, on the
direct path (the service itself; the proxy's own latency is printed beside it); the maximum
is printed too. At the end every candidate's kept autosaves (each 201's receipt) are looked
up in the store (their chain of receipts and the coordinator's table); a lost or invented
autosave makes the run exit 1. Timings are never asserted.

There is no stock tool to compare with: nbgrader's exchange is a shared folder with no
service, no autosave and nothing to poll, so no ratio is printed. The load average (the
machine is shared) is printed before and after each phase.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "graders"), str(REPO / "extensions"), str(REPO / "tests")]

GOAL_MS = 100.0
GOAL_PERCENTILE = 99


def loadavg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (1/5/15 min, {os.cpu_count()} cores)"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds == seconds else "—"


def latency_line(values: list[float], percentiles=(50, 95, 99)) -> str:
    from loadkit import percentile

    parts = [f"p{p} {ms(percentile(values, p))}" for p in percentiles]
    return f"n={len(values)}, " + ", ".join(parts) + f", max {ms(max(values, default=float('nan')))}"


def health_summary(report, url: str, label: str, start: float, end: float) -> tuple[list[float], str]:
    samples = report.health_during(url, start, end)
    ok = [s[1] for s in samples if s[2] == 200]
    failed = [s for s in samples if s[2] != 200]
    text = f"    health {label:<24} {latency_line(ok, (50, 95, 99))}"
    if failed:
        statuses = sorted({s[2] for s in failed})
        text += f"; {len(failed)} failed (status {statuses}; 0: no answer)"
    return ok, text


def slow_health_causes(report, url: str, threshold: float) -> str:
    """Which hostile requests were in flight during the slow health checks of the autosave window."""
    slow = [s for s in report.health_during(url) if s[1] > threshold]
    if not slow:
        return ""
    kinds: dict[str, int] = {}
    alone = 0
    for t, seconds, _ in slow:
        over = {h.kind for h in report.hostile if h.started <= t + seconds and t <= h.started + h.seconds}
        for kind in over:
            kinds[kind] = kinds.get(kind, 0) + 1
        alone += not over
    return (f"      {len(slow)} over {threshold * 1000:.0f} ms; hostile request in flight: "
            + (", ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])) or "none")
            + f"; with none in flight: {alone}")


def print_phase(report, via: str, urls: dict[str, str], idle_from: float) -> dict[str, list[float]]:
    from loadkit import HOSTILE_EXPECTED

    print(f"  autosaves sent {via} ({report.url}), {report.candidates} candidates, {report.seconds:g} s; "
          f"load average after: {loadavg()}")
    statuses = ", ".join(f"{n}×{code}" for code, n in sorted(report.fetch_status.items()))
    print(f"    fetch (all at once)          {latency_line(report.fetch_seconds, (50, 95))} ({statuses}) "
          f"in {report.started - report.began:.1f} s")
    errors = ", ".join(f"{n}×{code}" for code, n in sorted(report.errors.items())) or "none"
    kept = report.kept_count - sum(1 for h in report.hostile if h.outcome == "201")
    print(f"    autosaves                    kept {kept} (201) · refused {report.refused} (429) · "
          f"errors {sum(report.errors.values())} ({errors})")
    print(f"    autosave latency             {latency_line(report.save_seconds, (50, 95))}")
    for line in report.error_samples[:5]:
        print(f"      e.g. {line[:300]}")
    by_kind: dict[str, list] = {}
    for h in report.hostile:
        by_kind.setdefault(h.kind, []).append(h)
    for kind, results in by_kind.items():
        outcomes: dict[str, int] = {}
        for h in results:
            outcomes[h.outcome] = outcomes.get(h.outcome, 0) + 1
        wrong = sum(n for o, n in outcomes.items() if o not in HOSTILE_EXPECTED[kind])
        sent = max(h.sent for h in results) / 2**20
        print(f"    hostile {kind:<20} {', '.join(f'{n}×{o}' for o, n in sorted(outcomes.items()))}; "
              f"slowest {max(h.seconds for h in results):.2f} s; up to {sent:.1f} MiB sent"
              + (f"; {wrong} NOT AS EXPECTED ({sorted(HOSTILE_EXPECTED[kind])})" if wrong else ""))
    during = {}
    for label, url in (("direct", urls["direct"]), ("through the proxy", urls["proxy"])):
        health = url + "api/health"
        _, idle = health_summary(report, health, f"{label}, idle:", idle_from, report.began)
        print(idle)
        _, burst = health_summary(report, health, f"{label}, fetch burst:", report.began, report.started)
        print(burst)
        during[label], text = health_summary(report, health, f"{label}, autosaves:", report.started, report.ended)
        print(text)
        causes = slow_health_causes(report, health, GOAL_MS / 1000)
        if causes:
            print(causes)
    return during


def service_log_evidence(hub, since: int) -> list[str]:
    """The service's own words from the hub's log since byte ``since``: slow callbacks (asyncio debug),
    health checks' handler times as tornado logged them."""
    text = hub.log_path.read_bytes()[since:].decode(errors="replace")
    slow = [line for line in text.splitlines() if "took" in line and ("Executing" in line or "seconds" in line)]
    handler_ms = [float(m) for m in re.findall(r"GET /services/tremplin-exam/api/health \(.*?\) ([0-9.]+)ms", text)]
    out = []
    if handler_ms:
        from loadkit import percentile

        out.append(f"    the service's own time in the health handler (tornado's log): p99 "
                   f"{percentile(handler_ms, 99):.1f} ms, max {max(handler_ms):.1f} ms over {len(handler_ms)}")
    if slow:
        out.append(f"    asyncio: {len(slow)} callbacks held the service's loop over 100 ms; the longest:")
        def took(line):
            m = re.search(r"took ([0-9.]+) seconds", line)
            return float(m.group(1)) if m else 0
        out += [f"      {line.strip()[:400]}" for line in sorted(slow, key=took, reverse=True)[:5]]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="example: python bench/load_bench.py --candidates 100 --seconds 60")
    parser.add_argument("--candidates", type=int, default=100, help="candidates autosaving (default 100)")
    parser.add_argument("--seconds", type=float, default=60, help="seconds of autosaves per path (default 60)")
    parser.add_argument("--via", default="direct,proxy",
                        help="paths the candidates use, in order: direct (as learners' servers), proxy (as browsers)")
    parser.add_argument("--no-hostile", action="store_true", help="no hostile candidate (to compare)")
    parser.add_argument("--asyncio-debug", action="store_true",
                        help="run the service with PYTHONASYNCIODEBUG=1 (slow callbacks logged; adds overhead)")
    parser.add_argument("--from-checkout", action="store_true",
                        help="run this checkout's code (PYTHONPATH: sync, hub and exam service), not the installed "
                             "copy: to measure a change before it is installed")
    args = parser.parse_args(argv)
    vias = [v.strip() for v in args.via.split(",") if v.strip()]

    from hubfixture import RunningHub, make_base
    from loadkit import COURSE, EXAM, HealthPoller, HostileBodies, check_kept, make_candidates, percentile, \
        run_load, service_urls
    from tremplin_hub.exam.handlers import MAX_BODY_BYTES, MAX_FILE_BYTES, MAX_FILES

    hub = RunningHub(make_base())
    env = {}
    if args.asyncio_debug:
        env["PYTHONASYNCIODEBUG"] = "1"
    if args.from_checkout:  # (the hub hands PYTHONPATH on to its services)
        os.environ["PYTHONPATH"] = f"{REPO / 'extensions'}:{REPO / 'graders'}"
    if env:
        hub.extra_config = ("for _s in c.JupyterHub.services:\n"
                            "    if _s['name'] == 'tremplin-exam':\n"
                            f"        _s['environment'].update({env!r})\n")
    print(f"load average before: {loadavg()}")
    t0 = time.monotonic()
    try:
        hub.prepare(courses=[COURSE])
        hub.start()
        urls = service_urls(hub)
        if "direct" not in urls:
            raise SystemExit("the exam service's process was not found: its loopback URL is unknown")
        accounts = make_candidates(hub, args.candidates)
        hostile = None if args.no_hostile else make_candidates(hub, 1, "hostile")[0]
        bodies = None if args.no_hostile else HostileBodies(MAX_BODY_BYTES, MAX_FILE_BYTES, MAX_FILES)
        coordinator = hub.user_session("coordinator")
        print(f"hub up with {COURSE}/{EXAM} and {args.candidates} candidates in {time.monotonic() - t0:.0f} s; "
              f"service {urls['direct']} (direct), {urls['proxy']} (proxy)"
              + ("; asyncio debug on" if args.asyncio_debug else "")
              + ("; this checkout's code" if args.from_checkout else "; the installed code"))
        kept: dict[str, list] = {}
        verdicts = []
        for via in vias:
            log_mark = hub.log_path.stat().st_size
            poller = HealthPoller([urls["direct"] + "api/health", urls["proxy"] + "api/health"])
            idle_from = time.monotonic()
            time.sleep(5)  # health while idle, to compare
            try:
                report = asyncio.run(run_load(urls[via], accounts, args.seconds, hostile=hostile,
                                              hostile_bodies=bodies))
            finally:
                time.sleep(0.5)
                health = poller.stop()
            report.health = health
            for name, receipts in report.kept.items():
                kept.setdefault(name, []).extend(receipts)
            during = print_phase(report, via, urls, idle_from)
            for line in service_log_evidence(hub, log_mark):
                print(line)
            direct = during["direct"]
            verdicts.append((via, percentile(direct, GOAL_PERCENTILE), max(direct, default=float("nan")),
                             percentile(during["through the proxy"], GOAL_PERCENTILE)))
        problems = check_kept(urls["direct"], kept, accounts + ([hostile] if hostile else []), coordinator)
        total = sum(len(v) for v in kept.values())
        print(f"store: {total} kept autosaves (hostile's included) looked up in the candidates' receipt chains and "
              f"the coordinator's table: " + ("all there, none extra" if not problems else f"{len(problems)} PROBLEMS"))
        for p in problems[:20]:
            print(f"  {p}")
        for via, p99, worst, proxy_p99 in verdicts:
            met = p99 < GOAL_MS / 1000
            print(f"goal (health p{GOAL_PERCENTILE} under {GOAL_MS:.0f} ms, direct, during autosaves sent {via}): "
                  f"{'MET' if met else 'NOT MET'}: p{GOAL_PERCENTILE} {ms(p99)}, max {ms(worst)}; "
                  f"through the proxy p{GOAL_PERCENTILE} {ms(proxy_p99)}")
        print(f"load average after: {loadavg()}")
        return 1 if problems else 0
    finally:
        hub.cleanup()


if __name__ == "__main__":
    sys.exit(main())
