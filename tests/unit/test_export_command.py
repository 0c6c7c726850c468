"""``tremplin export`` as admissions runs it (a new process), on a campaign made by the export
benchmark's own builder (``bench/export_data.py``), with the exam store on SQLite and on PostgreSQL.

The export must say what the stores hold: one row per registered candidate with the status the
data implies, each hand-in's receipt, each accommodation (a hub group's included: the command
asks the hub, here a stand-in on loopback), each gradebook total. This keeps the benchmark's
data honest too: what it times is a correct export of what it built.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tremplin_grading.exports.model import STATUSES
from tremplin_hub.exam import receipts
from tremplin_hub.exam.store import Store

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import export_data  # noqa: E402

N = 300


@pytest.fixture(scope="module")
def campaign(tmp_path_factory, postgres):
    """One campaign of N candidates × 3 sections, its exam store both in SQLite and in PostgreSQL."""
    folder = tmp_path_factory.mktemp("campaign")
    sqlite_url = f"sqlite:///{folder / 'data' / 'exam' / 'exam.sqlite'}"
    pg_url = postgres.new_database()
    built = export_data.build(folder, N, exam_urls=[sqlite_url, pg_url])
    with export_data.HubGroups(built.layout, {built.group: built.group_members}) as hub:
        yield built, {"sqlite": sqlite_url, "postgresql": pg_url}, hub


def run_export(built, out: Path, exam_db_url: str | None) -> Path:
    env = {k: v for k, v in os.environ.items() if k != "TREMPLIN_EXAM_DB_URL"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "graders"), str(REPO / "extensions")])
    if exam_db_url:
        env["TREMPLIN_EXAM_DB_URL"] = exam_db_url
    proc = subprocess.run([sys.executable, "-m", "tremplin_hub.cli", *built.export_args(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (folder,) = out.iterdir()
    return folder


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_export_command_says_what_the_stores_and_gradebooks_hold(campaign, backend, tmp_path):
    built, urls, hub = campaign
    asked = hub.requests
    folder = run_export(built, tmp_path, urls[backend] if backend == "postgresql" else None)

    with open(folder / f"{built.campaign}-results.csv", encoding="utf-8-sig", newline="") as f:
        assert sum(1 for _ in csv.DictReader(f)) == N
    counts = json.loads((folder / "manifest.json").read_bytes())["counts"]
    expected = Counter(built.statuses.values())
    assert counts == {"candidates": N, **{s: expected.get(s, 0) for s in STATUSES}}
    doc = json.loads((folder / f"{built.campaign}-results.json").read_bytes())
    assert {c["candidate_id"]: c["status"] for c in doc["candidates"]} == built.statuses

    found = {(name, c["candidate_id"].lower()): s for c in doc["candidates"] for name, s in c["sections"].items()}
    assert {k: s["accommodation"] for k, s in found.items() if s["accommodation"]} == built.accommodations
    assert {k: s["receipt"] for k, s in found.items() if s["receipt"]} == built.receipts
    assert {k: s["raw"] for k, s in found.items() if s["raw"] is not None} == built.scores
    # Members of the accommodated hub group: the group's extra time, unless they have their own grant.
    in_group = sorted(k for k in built.accommodations if k[1] in built.group_members)
    group_only = [k for k in in_group if built.accommodations[k] == "+20 min (PAP)"]
    assert group_only and len(group_only) < len(in_group)
    assert all(found[k]["accommodation"] == "+20 min (PAP)" for k in group_only)
    assert all(found[k]["accommodation"] != "+20 min (PAP)" for k in in_group if k not in group_only)
    assert hub.requests - asked == len(built.exams), "the hub is asked once per section's group grant"


def test_the_built_receipts_are_real_chains(campaign):
    """The builder's records chain as the exam service's do: verify_chain finds nothing wrong."""
    built, urls, _ = campaign
    exam = built.exams[0]
    user = sorted(u for (s, u) in built.receipts if s == exam.section)[0]
    store = Store(urls["sqlite"], built.layout.exam_files)
    try:
        chain = [r.receipt for r in store.records(exam.course, exam.assignment, user)]
    finally:
        store.close()
    assert len(chain) >= 17 and chain[-1].kind in ("submission", "collection")
    assert receipts.verify_chain(chain) == [] and chain[-1].chain == built.receipts[(exam.section, user)]
