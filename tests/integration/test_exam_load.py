"""The exam service under load (issue 10, "Never blocking"), against the real hub: 20 candidates autosave for
10 s while a hostile candidate sends one request of each kind at the limits and ``api/health`` is polled.

The same load as ``bench/load_bench.py`` (``tests/loadkit.py``), smaller. Only outcomes are asserted, never
timings: no autosave lost or invented, each hostile request refused (or taken) as it should be, health
answering every time. The candidates are new accounts of this test's own.
"""

from __future__ import annotations

import pytest

import asynckit
from loadkit import HOSTILE_EXPECTED, HealthPoller, HostileBodies, check_kept, make_candidates, run_load, \
    service_urls

pytestmark = pytest.mark.hub


def test_under_load_every_autosave_is_kept_hostile_requests_get_their_answer_and_health_always_answers(hub):
    from tremplin_hub.exam.handlers import MAX_BODY_BYTES, MAX_FILE_BYTES, MAX_FILES

    urls = service_urls(hub)
    assert "direct" in urls, "the exam service's process (and its loopback URL) was not found"
    candidates = make_candidates(hub, 20, "ci")
    hostile = make_candidates(hub, 1, "hostile")[0]
    health = [urls["direct"] + "api/health", urls["proxy"] + "api/health"]
    poller = HealthPoller(health)
    try:
        report = asynckit.run(run_load(urls["direct"], candidates, 10, hostile=hostile, hostile_rounds=1,
                                      hostile_bodies=HostileBodies(MAX_BODY_BYTES, MAX_FILE_BYTES, MAX_FILES)))
    finally:
        report_health = poller.stop()

    assert report.fetch_status[200] == len(candidates), (report.fetch_status, report.error_samples)
    assert not report.errors, (report.errors, report.error_samples)
    assert all(report.kept.get(c.name) for c in candidates), "a candidate had no autosave kept in 10 s"

    outcomes = {h.kind: h.outcome for h in report.hostile}
    assert set(outcomes) == set(HOSTILE_EXPECTED) and len(report.hostile) == len(HOSTILE_EXPECTED), outcomes
    wrong = {kind: outcome for kind, outcome in outcomes.items() if outcome not in HOSTILE_EXPECTED[kind]}
    assert not wrong, wrong

    assert check_kept(urls["direct"], report.kept, [*candidates, hostile], hub.user_session("coordinator")) == []

    for url in health:
        during = [s for s in report_health[url] if report.began <= s[0] <= report.ended]
        assert during, f"{url} was not polled during the load"
        assert {status for _, _, status in report_health[url]} == {200}, url
