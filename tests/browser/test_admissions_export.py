"""In headless Chromium: the admissions officer downloads a campaign's export from the hub's home
page, and `tremplin export verify` accepts it with the public key downloaded next to it."""

from __future__ import annotations

import subprocess
import zipfile

import pytest

from browserkit import login
from hubfixture import VENV_BIN

pytestmark = [pytest.mark.hub, pytest.mark.browser]


def test_admissions_downloads_the_export_from_the_browser_and_it_verifies(hub, browser, tmp_path):
    cid = f"{hub.names['admissions'].split('-')[0]}-browser"
    (tmp_path / "campaign.toml").write_text(
        f'id = "{cid}"\ntitle = "Présélection — navigateur"\npartner = "UFRJ"\ncountry = "BR"\nsession = "2027-03"\n'
        'threshold = 50\nthreshold_version = "b-1"\n[[sections]]\nname = "math"\n'
        'exam = "preselection-math/math-2027"\nweight = 1\n')
    (tmp_path / "roster.csv").write_text("candidate_id,last_name,first_name,email,partner,country,account\n"
                                         "BR-1,Conceição,João,j@x.org,UFRJ,BR,nobody-registered\n", encoding="utf-8")
    for argv in (["campaign", "add", str(tmp_path / "campaign.toml")],
                 ["campaign", "roster", cid, str(tmp_path / "roster.csv"), "--sheet", str(tmp_path / "links.csv")]):
        proc = subprocess.run([str(VENV_BIN / "tremplin"), *argv], env=hub.env(), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr

    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    login(page, hub, "admissions")
    page.wait_for_url("**/hub/home")
    page.click("#tremplin-exports")
    page.wait_for_selector("h1:has-text('Pre-selection exports')")
    with page.expect_download() as download:
        page.click(f"a.export[href='{cid}.zip']")
    export_zip = tmp_path / download.value.suggested_filename
    download.value.save_as(export_zip)
    with page.expect_download() as key:
        page.click("a[href='public-key.pem']")
    key.value.save_as(tmp_path / "key.pem")
    context.close()

    # Hub administrators may download exports too (their home page links to them).
    context = browser.new_context()
    page = context.new_page()
    login(page, hub, "admin")
    page.wait_for_url("**/hub/home")
    page.click("#tremplin-exports")
    page.wait_for_selector(f"a.export[href='{cid}.zip']")
    context.close()

    folder = tmp_path / "export"
    with zipfile.ZipFile(export_zip) as z:
        z.extractall(folder)
    assert (folder / f"{cid}-results.xlsx").exists()
    proc = subprocess.run([str(VENV_BIN / "tremplin"), "export", "verify", str(folder), "--public-key",
                           str(tmp_path / "key.pem")], env=hub.env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"ok    {cid}-results.csv: SHA-256 matches" in proc.stdout
