"""Campaign exports: read back every format, ties, absent candidates, Unicode names, CSV injection,
the same bytes for the same data, and signed manifests that catch any change."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile

import jsonschema
import pytest
from openpyxl import load_workbook

from onethread import run_alone
from tremplin_grading.exports import formats, signing
from tremplin_grading.exports.model import (Campaign, CampaignResult, Candidate, CandidateResult, Section,
                                            SectionResult, finish)

UTC = dt.timezone.utc
CAMPAIGN = Campaign("dd-2027-vn", "Double diplôme 2027 — Viêt Nam", "HUST", "VN", "2027-03",
                    (Section("math", "preselection-math/math-2027", 2), Section("physics",
                                                                               "preselection-physics/physics-2027", 1)),
                    threshold=50, threshold_version="2027-1")
T0 = dt.datetime(2027, 3, 15, 1, 0, tzinfo=UTC)


def graded(raw, maximum=30, minutes=90, late=0, variant="a1b2c3"):
    return SectionResult("graded", raw, maximum, variant, T0, T0 + dt.timedelta(minutes=minutes), late, "",
                         "ab" * 32)


def person(cid, last="Nguyễn", first="Thị Minh Khai", email=None):
    return Candidate(cid, cid.lower(), last, first, email or f"{cid.lower()}@example.org", "HUST", "VN")


def build(extra: list[CandidateResult] = ()) -> CampaignResult:
    rows = [
        CandidateResult(person("C-001"), {"math": graded(24), "physics": graded(18)}),        # 80, 60 -> 73.33
        CandidateResult(person("C-002", "王", "小明"), {"math": graded(15), "physics": graded(30)}),  # 50, 100 -> 66.67
        CandidateResult(person("C-003", "Conceição", "João"), {"math": graded(15), "physics": graded(30)}),  # tie
        CandidateResult(person("C-004", "Trần", "Văn Bảo"), {"math": graded(3), "physics": graded(3)}),  # 10 -> fail
        CandidateResult(person("C-005"), {"math": SectionResult(), "physics": SectionResult()}),  # absent
        CandidateResult(person("C-006"), {"math": graded(30), "physics": SectionResult()}),  # incomplete: 66.67
        CandidateResult(person("C-007"), {"math": graded(30), "physics": graded(30)}, disqualified="fraud"),
        *extra,
    ]
    return finish(CampaignResult(CAMPAIGN, rows))


def by_id(result):
    return {r.candidate.candidate_id: r for r in result.rows}


def test_status_total_rank_percentile_and_pass_follow_the_documented_rules():
    rows = by_id(build())
    assert [(rows[c].status, rows[c].total, rows[c].rank, rows[c].passed) for c in sorted(rows)] == [
        ("present", 73.33, 1, True),
        ("present", 66.67, 2, True),
        ("present", 66.67, 2, True),   # a tie shares the rank ...
        ("present", 10.0, 5, False),   # ... and the next rank skips (1, 2, 2, 2, 5)
        ("absent", None, None, False),
        ("incomplete", 66.67, 2, False),  # ranked, never passed
        ("disqualified", None, None, False),
    ]
    # mid-rank percentile: (below + half of the equal ones, self included) / ranked
    assert rows["C-001"].percentile == 90.0 and rows["C-002"].percentile == 50.0 and rows["C-004"].percentile == 10.0


def test_pending_manual_grading_is_its_own_status():
    pending = CandidateResult(person("C-008"), {"math": SectionResult("pending", None, 30, "x", T0, T0),
                                                "physics": graded(20)})
    rows = by_id(build([pending]))
    assert rows["C-008"].status == "pending" and rows["C-008"].rank is None
    assert build([pending]).counts()["pending"] == 1


def test_passed_is_empty_while_pending_not_false():
    """A pending candidate exported passed=false could not be told from one who failed."""
    pending = CandidateResult(person("C-008"), {"math": SectionResult("pending", None, 30, "x", T0, T0),
                                                "physics": graded(20)})
    result = build([pending])
    assert by_id(result)["C-008"].passed is None and by_id(result)["C-004"].passed is False
    assert {r["candidate_id"]: r for r in read_csv(formats.to_csv(result))}["C-008"]["passed"] == ""
    data = json.loads(formats.to_json(result))
    jsonschema.validate(data, json.loads(formats.SCHEMA_FILE.read_text()))
    assert [c["passed"] for c in data["candidates"] if c["candidate_id"] == "C-008"] == [None]
    ws = load_workbook(io.BytesIO(formats.to_xlsx(result))).active
    header = [c.value for c in ws[1]]
    assert [ws.cell(r, header.index("passed") + 1).value for r in range(2, ws.max_row + 1)
            if ws.cell(r, 3).value == "C-008"] == [None]


def read_csv(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the UTF-8 byte-order mark"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_reads_back_with_one_row_per_registered_candidate_and_unicode_names_intact():
    result = build()
    rows = {r["candidate_id"]: r for r in read_csv(formats.to_csv(result))}
    assert set(rows) == {f"C-00{i}" for i in range(1, 8)}
    assert (rows["C-002"]["last_name"], rows["C-002"]["first_name"]) == ("王", "小明")
    assert rows["C-003"]["last_name"] == "Conceição" and rows["C-004"]["first_name"] == "Văn Bảo"
    assert rows["C-001"]["math_raw"] == "24" and rows["C-001"]["math_percent"] == "80"
    assert rows["C-001"]["math_started_utc"] == "2027-03-15T01:00:00Z" and rows["C-001"]["math_seconds_used"] == "5400"
    assert rows["C-001"]["total_percent"] == "73.33" and rows["C-001"]["passed"] == "true"
    assert rows["C-005"]["status"] == "absent" and rows["C-005"]["math_raw"] == "" and rows["C-005"]["rank"] == ""
    assert rows["C-001"]["schema_version"] == formats.SCHEMA_VERSION
    assert rows["C-001"]["threshold"] == "50" and rows["C-001"]["threshold_version"] == "2027-1"
    assert list(rows["C-001"]) == formats.columns(result)


INJECTIONS = ['=HYPERLINK("http://evil.example","click")', "+33 6 12", "-2+3", "@SUM(A1:A9)", "\tTab", "\rCR"]


@pytest.mark.parametrize("text", INJECTIONS)
def test_text_that_could_start_a_formula_is_neutralised_in_csv_and_kept_in_xlsx_and_json(text):
    """A spreadsheet runs a CSV cell that begins like a formula; an XLSX text cell (an inline string)
    is never a formula, so it keeps its text: ``+15 min`` stays ``+15 min``."""
    evil = CandidateResult(person("C-666", last=text, first="Ana"), {"math": graded(10), "physics": graded(10)})
    result = build([evil])
    row = {r["candidate_id"]: r for r in read_csv(formats.to_csv(result))}["C-666"]
    assert row["last_name"] == "'" + text
    ws = load_workbook(io.BytesIO(formats.to_xlsx(result))).active
    header = [c.value for c in ws[1]]
    cells = {ws.cell(r, 3).value: ws.cell(r, header.index("last_name") + 1) for r in range(2, ws.max_row + 1)}
    # (XML turns a carriage return into a line feed when read back)
    assert cells["C-666"].value.replace("\n", "\r") == text and cells["C-666"].data_type == "s"
    assert b"<f>" not in zipfile.ZipFile(io.BytesIO(formats.to_xlsx(result))).read("xl/worksheets/sheet1.xml")
    data = json.loads(formats.to_json(result))
    assert [c["last_name"] for c in data["candidates"] if c["candidate_id"] == "C-666"] == [text]


def test_an_accommodation_keeps_its_text_in_the_sheet():
    extra = SectionResult("graded", 20, 30, "v", T0, T0 + dt.timedelta(minutes=100), 0, "+15 min (tiers-temps)",
                          "ab" * 32)
    ws = load_workbook(io.BytesIO(formats.to_xlsx(build([CandidateResult(person("C-015"), {
        "math": extra, "physics": graded(10)})])))).active
    header = [c.value for c in ws[1]]
    (cell,) = [ws.cell(r, header.index("math_accommodation") + 1) for r in range(2, ws.max_row + 1)
               if ws.cell(r, 3).value == "C-015"]
    assert cell.value == "+15 min (tiers-temps)"


def test_xlsx_reads_back_with_numbers_as_numbers():
    ws = load_workbook(io.BytesIO(formats.to_xlsx(build()))).active
    header = [c.value for c in ws[1]]
    assert header == formats.columns(build())
    rows = {ws.cell(r, 3).value: {h: ws.cell(r, i + 1).value for i, h in enumerate(header)}
            for r in range(2, ws.max_row + 1)}
    assert rows["C-001"]["total_percent"] == 73.33 and rows["C-001"]["rank"] == 1
    assert rows["C-002"]["last_name"] == "王" and rows["C-005"]["status"] == "absent"
    assert rows["C-001"]["passed"] is True and rows["C-005"]["math_raw"] is None


def test_json_validates_against_the_published_schema():
    data = json.loads(formats.to_json(build()))
    jsonschema.validate(data, json.loads(formats.SCHEMA_FILE.read_text()))
    assert data["counts"] == {"candidates": 7, "present": 4, "absent": 1, "incomplete": 1, "disqualified": 1,
                              "pending": 0}
    c1 = [c for c in data["candidates"] if c["candidate_id"] == "C-001"][0]
    assert c1["sections"]["math"]["receipt"] == "ab" * 32 and c1["rank"] == 1
    broken = dict(data, candidates=[dict(data["candidates"][0], status="maybe")])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads(formats.SCHEMA_FILE.read_text()))


def test_the_same_data_gives_the_same_bytes():
    first, second = formats.write_all(build()), formats.write_all(build())
    assert first == second
    assert set(first) == {"dd-2027-vn-results.csv", "dd-2027-vn-results.xlsx", "dd-2027-vn-results.json",
                          "campaign-export.schema.json"}


TRICKY = [
    CandidateResult(person("C-020", ' "quoted", comma ', "line\nbreak\ttab"), {"math": graded(0.1 + 0.2),
                                                                               "physics": graded(-0.0)}),
    CandidateResult(person("C-021", "a&b<c>", "ctl\x01\x1f\\"), {"math": graded(1e-7),
                                                                 "physics": graded(2.5e10, 3e10)}),
    CandidateResult(person("C-022", "two  spaces", "\u3000ideo\xa0nbsp"),
                    {"math": SectionResult("not_handed_in", None, 30, "v", T0, None, 0, "+30 min (x)", ""),
                     "physics": SectionResult("pending", None, 30.0, "w", T0.astimezone(dt.timezone(dt.timedelta(
                         hours=7))), T0 + dt.timedelta(seconds=59.9), 12, "", "cd" * 32)}),
]


def reference_json(result) -> bytes:
    """The JSON document as ``json.dumps`` writes it from nested dictionaries: what the column-wise
    writer must give, byte for byte."""
    names = [s.name for s in result.campaign.sections]

    def section(r):
        return dict(zip(formats.SECTION_FIELDS, (
            r.variant or None, r.raw, r.maximum, r.percent, formats._utc(r.started), formats._utc(r.submitted),
            r.seconds_used, r.seconds_late if r.submitted else None, r.accommodation or None, r.receipt or None)))

    c = result.campaign
    doc = {"schema_version": formats.SCHEMA_VERSION,
           "campaign": {"id": c.id, "title": c.title, "partner": c.partner, "country": c.country, "session": c.session,
                        "threshold": c.threshold, "threshold_version": c.threshold_version,
                        "sections": [{"name": s.name, "exam": s.exam, "weight": s.weight} for s in c.sections]},
           "counts": result.counts(),
           "candidates": [{"candidate_id": r.candidate.candidate_id, "last_name": r.candidate.last_name,
                           "first_name": r.candidate.first_name, "email": r.candidate.email,
                           "partner": r.candidate.partner, "country": r.candidate.country, "status": r.status,
                           "sections": {n: section(r.sections[n]) for n in names}, "total_percent": r.total,
                           "rank": r.rank, "percentile": r.percentile, "passed": r.passed,
                           "disqualified_reason": r.disqualified or None} for r in result.rows]}
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def test_the_json_written_column_by_column_is_what_json_dumps_writes():
    result = build(TRICKY)
    assert formats.to_json(result) == reference_json(result)


def test_cells_with_spaces_tabs_and_line_breaks_read_back_intact_from_the_sheet():
    ws = load_workbook(io.BytesIO(formats.to_xlsx(build(TRICKY)))).active
    header = [c.value for c in ws[1]]
    rows = {ws.cell(r, 3).value: {h: ws.cell(r, i + 1).value for i, h in enumerate(header)}
            for r in range(2, ws.max_row + 1)}
    assert rows["C-020"]["last_name"] == ' "quoted", comma ' and rows["C-020"]["first_name"] == "line\nbreak\ttab"
    assert rows["C-022"]["last_name"] == "two  spaces" and rows["C-022"]["first_name"] == "\u3000ideo\xa0nbsp"
    # (characters XML cannot carry are replaced, the others escaped)
    assert rows["C-021"]["last_name"] == "a&b<c>" and rows["C-021"]["first_name"] == "ctl\ufffd\ufffd\\"
    assert rows["C-022"]["physics_started_utc"] == "2027-03-15T01:00:00Z"


def test_a_forked_copy_writes_the_same_files_and_falls_back_when_it_fails():
    """``tremplin export`` writes the sheet in a forked copy of itself: the bytes must not depend on it."""
    out = run_alone("""
        import os
        from tremplin_grading import forked as forked_module
        from tremplin_grading.exports import formats
        from tremplin_grading.exports.model import CampaignTable
        from test_exports import TRICKY, build

        table = CampaignTable.of(build(TRICKY))
        here = formats.write_table(table)
        assert formats.write_table(table, processes=True) == here

        def no_fork():
            raise OSError("no more processes")

        forked_module.os.fork = no_fork
        assert formats.write_table(table, processes=True) == here
        print("same bytes")
    """)
    assert out.strip() == "same bytes"


def test_no_copy_is_forked_where_another_thread_runs():
    """A copy forked beside another thread could wait forever for a lock that thread held: the work is
    done in place instead."""
    import os
    import threading

    from tremplin_grading.forked import forked

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert forked(lambda: str(os.getpid()).encode())() == str(os.getpid()).encode()
    finally:
        stop.set()
        other.join()


def test_a_failing_copy_is_computed_again_here():
    out = run_alone("""
        import os
        from tremplin_grading.forked import forked

        parent = os.getpid()

        def make():
            if os.getpid() != parent:
                raise MemoryError("the copy ran out of memory")
            return b"made here"

        print(forked(make)().decode())
    """)
    assert out.strip() == "made here"


def test_ranks_end_on_a_total_that_equals_nothing():
    from tremplin_grading.exports.model import ranks

    rank, percentile = ranks([1.0, float("nan"), 2.0, 2.0, None, 0.5])  # (it looped forever)
    assert rank[4] is None and None not in rank[:4] + rank[5:] and len(percentile) == 6


@pytest.fixture
def signed(tmp_path):
    key = signing.load_or_create_key(tmp_path / "key.pem")
    files = formats.write_all(build())
    result = build()
    files.update(signing.manifest(files, campaign=CAMPAIGN.id, version="0.1.0", schema_version=formats.SCHEMA_VERSION,
                                  counts=result.counts(), key=key, now=dt.datetime(2027, 4, 1, tzinfo=UTC)))
    public = signing.load_public_key(signing.public_pem(key))
    return files, public


def test_a_signed_export_verifies(signed):
    files, public = signed
    check = signing.verify(files, public)
    assert check.problems == [] and len(check.ok) == 5
    manifest = json.loads(files[signing.MANIFEST])
    assert manifest["exported_at"] == "2027-04-01T00:00:00Z" and manifest["counts"]["candidates"] == 7


def test_a_changed_data_file_is_named(signed):
    files, public = signed
    files["dd-2027-vn-results.csv"] = files["dd-2027-vn-results.csv"].replace(b"73.33", b"93.33")
    (problem,) = signing.verify(files, public).problems
    assert problem.startswith("dd-2027-vn-results.csv: changed since the export")


def test_a_changed_manifest_or_another_key_fails_the_signature(signed, tmp_path):
    files, public = signed
    forged = dict(files, **{signing.MANIFEST: files[signing.MANIFEST].replace(b'"candidates": 7', b'"candidates": 8')})
    assert "signature does not match" in signing.verify(forged, public).problems[0]
    other = signing.load_public_key(signing.public_pem(signing.load_or_create_key(tmp_path / "other.pem")))
    assert "signature does not match" in signing.verify(files, other).problems[0]


def test_missing_and_added_files_are_problems(signed):
    files, public = signed
    files.pop("dd-2027-vn-results.json")
    files["extra.csv"] = b"x"
    problems = signing.verify(files, public).problems
    assert "dd-2027-vn-results.json: listed in the manifest but missing" in problems
    assert "extra.csv: not in the manifest (added after the export)" in problems


def test_the_signing_key_is_private_and_kept(tmp_path):
    import stat

    key = signing.load_or_create_key(tmp_path / "k" / "key.pem")
    assert stat.S_IMODE((tmp_path / "k" / "key.pem").stat().st_mode) == 0o600
    again = signing.load_or_create_key(tmp_path / "k" / "key.pem")
    assert signing.public_pem(key) == signing.public_pem(again)
