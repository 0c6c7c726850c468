"""Admissions downloads a campaign's export from the real hub; everyone else gets 403; the files verify."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import zipfile

import pytest
import requests

from hubfixture import VENV_BIN
from test_exam_service import Candidate, notebook

pytestmark = pytest.mark.hub


def tremplin(hub, *argv):
    return subprocess.run([str(VENV_BIN / "tremplin"), *argv], env=hub.env(), capture_output=True, text=True)


def test_admissions_downloads_a_signed_export_and_others_get_403(hub, tmp_path):
    cand = Candidate(hub, "export")
    assert cand.fetch().status_code == 200
    assert cand.submit({"physics-2027.ipynb": notebook("answer")}).status_code == 201  # collected, not graded yet
    cid = f"{cand.name}-campaign"
    (tmp_path / "campaign.toml").write_text(
        f'id = "{cid}"\ntitle = "Test"\npartner = "HUST"\ncountry = "VN"\nsession = "2027-03"\nthreshold = 50\n'
        'threshold_version = "t-1"\n[[sections]]\nname = "physics"\nexam = "preselection-physics/physics-2027"\n'
        "weight = 1\n")
    (tmp_path / "roster.csv").write_text(
        "candidate_id,last_name,first_name,email,partner,country,account\n"
        f"X-1,Nguyễn,An,a@x.org,HUST,VN,{cand.name}\n"
        "X-2,=HYPERLINK(\"http://evil\"),王,b@x.org,HUST,CN,nobody-here\n", encoding="utf-8")
    for argv in (("campaign", "add", str(tmp_path / "campaign.toml")),
                 ("campaign", "roster", cid, str(tmp_path / "roster.csv"), "--sheet", str(tmp_path / "links.csv"))):
        proc = tremplin(hub, *argv)
        assert proc.returncode == 0, proc.stderr

    base = f"{hub.url}/services/tremplin-exam/exports"
    admissions = hub.user_session("admissions")
    r = admissions.get(f"{base}/{cid}.zip")
    assert r.status_code == 409 and "--allow-incomplete" in r.text and "X-1" in r.text
    # the officer is pointed at the link beside the one they clicked, in French and English, and back to it
    assert "with papers still being graded" in r.text and "avec les copies en cours de correction" in r.text
    assert 'href="./"' in r.text and "This page is for" not in r.text
    r = admissions.get(f"{base}/{cid}.zip", params={"allow_incomplete": 1})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    # unzipped, the files are readable by the officer's colleagues and tools (they were 600)
    assert {(i.external_attr >> 16) & 0o777 for i in zipfile.ZipFile(io.BytesIO(r.content)).infolist()} == {0o644}
    files = {n: z for n, z in ((i.filename, zipfile.ZipFile(io.BytesIO(r.content)).read(i)) for i in
                               zipfile.ZipFile(io.BytesIO(r.content)).infolist())}
    rows = {row["candidate_id"]: row for row in csv.DictReader(io.StringIO(
        files[f"{cid}-results.csv"].decode("utf-8-sig")))}
    assert rows["X-1"]["status"] == "pending" and rows["X-2"]["status"] == "absent"
    assert rows["X-2"]["last_name"].startswith("'=") and rows["X-2"]["first_name"] == "王"
    assert len(rows["X-1"]["physics_receipt"]) == 64
    key = admissions.get(f"{base}/public-key.pem")
    assert key.status_code == 200 and b"BEGIN PUBLIC KEY" in key.content

    # admissions verifies what they downloaded; a changed byte is caught and named
    folder = tmp_path / "download"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (tmp_path / "key.pem").write_bytes(key.content)
    proc = tremplin(hub, "export", "verify", str(folder), "--public-key", str(tmp_path / "key.pem"))
    assert proc.returncode == 0, proc.stderr
    (folder / f"{cid}-results.json").write_bytes(files[f"{cid}-results.json"].replace(b"pending", b"present"))
    proc = tremplin(hub, "export", "verify", str(folder), "--public-key", str(tmp_path / "key.pem"))
    assert proc.returncode == 1 and f"{cid}-results.json: changed since the export" in proc.stderr

    # the export was logged: who, which campaign, which hashes
    from tremplin_hub.admissions import Admissions
    from tremplin_hub.layout import Layout

    adm = Admissions(Layout(hub.data_dir))
    try:
        (entry,) = adm.exports(cid)
    finally:
        adm.close()
    assert entry["by"] == hub.names["admissions"] and json.loads(entry["files"])["manifest.json"]

    for who in ("learner1", "professor", "coordinator"):
        s = hub.user_session(who)
        for url in (f"{base}/{cid}.zip", f"{base}/", f"{base}/public-key.pem"):
            assert s.get(url, params={"allow_incomplete": 1}).status_code == 403, (who, url)
    r = requests.get(f"{base}/{cid}.zip", allow_redirects=False)  # a browser with no session: to the hub login
    assert r.status_code == 302 and "/hub/api/oauth2/authorize" in r.headers["Location"]


def test_professors_read_the_item_analysis_and_learners_get_403(hub):
    # One graded paper at least: a candidate hands in their copy, the professor collects and autogrades it.
    import base64

    cand = Candidate(hub, "analysis")
    r = cand.fetch()
    copy = base64.b64decode(r.json()["files"]["physics-2027.ipynb"])
    assert cand.submit({"physics-2027.ipynb": copy}).status_code == 201
    professor = hub.user_session("professor")
    api = f"{hub.url}/services/preselection-physics/formgrader/api"
    assert professor.post(f"{api}/assignment/physics-2027/collect").json()["success"]
    assert professor.post(f"{api}/submission/physics-2027/{cand.name}/autograde").json()["success"]

    url = f"{hub.url}/services/tremplin-exam/exams/preselection-physics/physics-2027/analysis"
    r = professor.get(url)
    assert r.status_code == 200 and "Item analysis" in r.text and "Cronbach" in r.text and "<svg" in r.text
    assert "physics-2027/" in r.text  # one row per graded question
    assert hub.user_session("learner2").get(url).status_code == 403
    proc = tremplin(hub, "report", "items", "preselection-physics/physics-2027", "--out", str(hub.base / "a.html"))
    assert proc.returncode == 0, proc.stderr
    assert "Mean per variant" in (hub.base / "a.html").read_text()
