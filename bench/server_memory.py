"""Benchmark: the memory of each learner's server, Tremplin's against stock JupyterHub's, in the same run.

Issue 12, "Learners' servers load only what learners need, to reach <= 100 MB each". Run as root (the
hub creates each candidate's system account), from the checkout::

    python bench/server_memory.py                 # 20 candidates with each server
    python bench/server_memory.py --candidates 5

Each run boots a real hub (``tests/hubfixture.py``) with the physics pre-selection exam and a roster of
candidates, as ``bench/exam_day.py`` does, and every candidate sits the exam over HTTP as their browser
would: logs in, follows the home page's link (their server starts), confirms the start, loads JupyterLab's
page and scripts, reads the notebook, starts its kernel and runs a cell over the websocket, autosaves, and
hands in. Then each server's memory is read from ``/proc/<pid>/smaps_rollup``: RSS, PSS (its share of the
pages servers share) and unique; then again after each candidate's JupyterLab asked for nbgrader's
Assignments tab (``/assignments``, ``/courses``), which is what a MOOC learner does.

The two runs differ only in the learners' server:

* **Tremplin**: ``tremplin-singleuser`` (``tremplin_lab.singleuser``) and the learners' configuration:
  nbgrader's learner extensions loaded at their first request, no language-server proxy.
* **stock**: ``jupyterhub-singleuser`` with every installed server extension loaded at start, as a stock
  JupyterHub with nbgrader runs it (``tremplin_lab`` too, which the exam needs).

The kernels are separate processes and the same in both runs; they are not counted. Figures are printed,
never asserted; the ratio is stock's over Tremplin's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "bench"), str(REPO / "graders"), str(REPO / "extensions"), str(REPO / "tests")]

GOAL_MB = 100.0
MIB_PER_MB = 1e6 / 2**20


def stock_config(base: Path) -> str:
    """Hub configuration: learners' servers as stock JupyterHub starts them (its command, every installed
    extension at start), with the rest of Tremplin's learner configuration (which ``--config`` replaces)."""
    from hubfixture import VENV_BIN

    from tremplin_hub.layout import Layout

    learner = Layout(base / "data").learner_config / "jupyter_server_config.py"
    server = base / "stock_server_config.py"
    server.write_text(
        "c = get_config()  # noqa\n"
        f"load_subconfig({str(learner)!r})  # noqa\n"
        "# every installed extension at start (as their jupyter_server_config.d files say), but the graders' own\n"
        "c.ServerApp.jpserver_extensions = {\"nbgrader.server_extensions.formgrader\": False,\n"
        "    \"nbgrader.server_extensions.course_list\": False, \"tremplin_lab\": True}\n"
        "c.TremplinLab.on_first_request = []\n")
    server.chmod(0o644)
    return (f"c.TremplinSpawner.cmd = [{str(VENV_BIN / 'jupyterhub-singleuser')!r}]\n"
            f"c.Spawner.args = ['--config={server}']\n")


def run(mode: str, n: int) -> dict:
    from exam_day import COURSE, Candidate, enrol, server_memory_by_name, set_window
    from hubfixture import RunningHub, make_base

    base = make_base()
    extra = stock_config(base) if mode == "stock" else ""
    hub = RunningHub(base, extra_env={"TREMPLIN_PRESTART_MINUTES": "0"}, extra_config=extra)
    try:
        hub.prepare(courses=[COURSE])
        hub.start()
        passwords = enrol(hub, n)
        names = sorted(passwords)
        opens = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)
        set_window(hub, opens)
        time.sleep(max(0.0, (opens - dt.datetime.now(dt.timezone.utc)).total_seconds()))
        candidates = [Candidate(hub, name, passwords[name]) for name in names]
        outcomes = [None] * n
        # A few at a time: this measures memory, not the opening's rush (bench/exam_day.py does that).
        for first in range(0, n, 5):
            def one(i: int) -> None:
                outcomes[i] = candidates[i].run(time.monotonic(), 1, 1.0)

            threads = [threading.Thread(target=one, args=(i,)) for i in range(first, min(n, first + 5))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        failed = [o for o in outcomes if o.failed]
        time.sleep(2)
        after_exam = server_memory_by_name(names)
        for c in candidates:  # the Assignments tab of nbgrader's JupyterLab extension
            for path in ("assignments?course_id=" + COURSE, "courses"):
                r = c.http.get(f"{c.user}/{path}", headers=c._xsrf_headers(c.user + "/"), timeout=120)
                if r.status_code != 200:
                    raise SystemExit(f"{mode}: {c.name}'s server answered {r.status_code} to /{path}: {r.text[:200]}")
        time.sleep(2)
        after_tab = server_memory_by_name(names)
        return {"mode": mode, "failed": failed, "exam": after_exam, "tab": after_tab}
    finally:
        hub.cleanup()


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def report(result: dict, n: int) -> dict[str, float]:
    print(f"  {result['mode']:<9} servers measured: {len(result['exam'])} of {n}; exams that failed: "
          f"{len(result['failed'])}" + (f" (e.g. {result['failed'][0].name}: {str(result['failed'][0].failed)[:200]})"
                                       if result["failed"] else ""))
    means = {}
    for key, label in (("exam", "after the exam"), ("tab", "after the Assignments tab")):
        found = result[key].values()
        m = {k: mean(x[k] for x in found) for k in ("rss", "pss", "uss")}
        means[key] = m
        print(f"  {'':<9} {label:<26} RSS {m['rss']:.0f} MiB (max {max((x['rss'] for x in found), default=0):.0f}), "
              f"PSS {m['pss']:.0f} MiB, unique {m['uss']:.0f} MiB = {m['uss'] / MIB_PER_MB:.0f} MB")
    return means


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--candidates", type=int, default=20, help="candidates in each run (default 20)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root: the hub creates each candidate's system account")
    results = [run(mode, args.candidates) for mode in ("tremplin", "stock")]
    print(f"learners' server memory, {args.candidates} candidates who sat the physics exam (kernels not counted):")
    means = {r["mode"]: report(r, args.candidates) for r in results}
    for key, label in (("exam", "after the exam"), ("tab", "after the Assignments tab")):
        t, s = means["tremplin"][key], means["stock"][key]
        print(f"  ratio stock / Tremplin, {label}: RSS {s['rss'] / t['rss']:.2f}x, PSS {s['pss'] / t['pss']:.2f}x, "
              f"unique {s['uss'] / t['uss']:.2f}x")
    t = means["tremplin"]["exam"]
    print(f"  goal: <= {GOAL_MB:.0f} MB each (unique memory, what each more server costs) after the exam: "
          + ("met" if t["uss"] / MIB_PER_MB <= GOAL_MB else "NOT met")
          + f" ({t['uss'] / MIB_PER_MB:.0f} MB; RSS {t['rss'] / MIB_PER_MB:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
