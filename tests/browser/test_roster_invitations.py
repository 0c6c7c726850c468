"""In headless Chromium against a real hub: a campaign's candidates come from admissions' roster CSV
(``tremplin campaign roster``), each sets their password with their one-time invitation link and finds the
campaign's exam on their home page; a used or forged link is refused in French and English; a withdrawn
candidate loses the exam in the exam service at once."""

from __future__ import annotations

import csv
import html
import re
import subprocess

import pytest
import requests

from hubfixture import VENV_BIN

pytestmark = [pytest.mark.hub, pytest.mark.browser]


def tremplin(hub, *argv: str) -> str:
    proc = subprocess.run([str(VENV_BIN / "tremplin"), *argv], env=hub.env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def redeem(hub, url: str, password: str) -> requests.Session:
    """What a candidate's browser does with their link, over plain HTTP: the form, then its POST."""
    s = requests.Session()
    form = s.get(url)
    assert form.status_code == 200, form.text[:300]
    fields = dict(re.findall(r'name="(_xsrf|token)" value="([^"]+)"', form.text))
    r = s.post(f"{hub.url}/hub/invitation", data={**fields, "password": password, "password2": password})
    assert r.status_code == 200 and r.url.endswith("/hub/home"), (r.status_code, r.url)
    return s


def as_their_server(hub, name: str) -> requests.Session:
    """A session with a token of ``name``'s, as their Jupyter server calls the exam service."""
    r = hub.admin().post(f"{hub.api}/users/{name}/tokens", json={"expires_in": 600})
    r.raise_for_status()
    s = requests.Session()
    s.headers["Authorization"] = f"token {r.json()['token']}"
    return s


def my_exams(hub, server: requests.Session) -> list[str]:
    mine = server.get(f"{hub.url}/services/tremplin-exam/api/exams/mine")
    mine.raise_for_status()
    return [e["path"] for e in mine.json()["exams"]]


def test_candidates_of_a_roster_set_their_password_by_invitation_and_find_their_exam(hub, browser, tmp_path):
    prefix = hub.names["learner1"].split("-")[0]
    cid = f"{prefix}-invitations"
    (tmp_path / "campaign.toml").write_text(
        f'id = "{cid}"\ntitle = "Présélection — invitations"\npartner = "IIT"\ncountry = "IN"\nsession = "2027-03"\n'
        'threshold = 50\nthreshold_version = "i-1"\n[[sections]]\nname = "physics"\n'
        'exam = "preselection-physics/physics-2027"\nweight = 1\n')
    accounts = [f"{prefix}-cand{i}" for i in range(1, 4)]
    (tmp_path / "roster.csv").write_text(
        "candidate_id,last_name,first_name,email,partner,country,account\n"
        + "".join(f"IN-{i},Sharma,Priya {i},p{i}@x.org,IIT,IN,{a}\n" for i, a in enumerate(accounts, 1)),
        encoding="utf-8")
    tremplin(hub, "campaign", "add", str(tmp_path / "campaign.toml"))
    out = tremplin(hub, "campaign", "roster", cid, str(tmp_path / "roster.csv"), "--sheet", str(tmp_path / "s.csv"),
                   "--url", hub.url)
    assert "3 new" in out and "3 invitation(s) written" in out
    with open(tmp_path / "s.csv", encoding="utf-8-sig", newline="") as f:
        links = {row["account"]: row["invitation_url"] for row in csv.DictReader(f)}
    assert sorted(links) == accounts

    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(links[accounts[0]])
    assert page.text_content("#invitation-account") == accounts[0]
    page.fill("#invitation-password", "un bon mot de passe")
    page.fill("#invitation-password2", "un autre mot de passe")
    page.click("#invitation-submit")
    assert "The two passwords differ" in page.text_content("#invitation-error")
    assert "Les deux mots de passe diffèrent" in page.text_content("#invitation-error")
    page.fill("#invitation-password", "un bon mot de passe")
    page.fill("#invitation-password2", "un bon mot de passe")
    page.click("#invitation-submit")
    page.wait_for_url("**/hub/home")
    page.wait_for_selector("section.tremplin-course[data-course='preselection-physics']")
    # The link served once: followed again, it says so in both languages, and the password it set works.
    page.goto(links[accounts[0]])
    assert "already used" in page.text_content("#invitation-error")
    assert "déjà servi" in page.text_content("#invitation-error")
    context.close()
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", accounts[0])
    page.fill("#password_input", "un bon mot de passe")
    page.click("#login_submit")
    page.wait_for_url("**/hub/home")
    page.wait_for_selector("section.tremplin-course[data-course='preselection-physics']")
    context.close()

    # Forged or truncated links are refused with the same bilingual page, and sign no one in.
    s = requests.Session()
    for forged in ("nope", links[accounts[1]].split("token=")[1][:-2]):
        r = s.get(f"{hub.url}/hub/invitation", params={"token": forged})
        text = html.unescape(r.content.decode())
        assert r.status_code == 410 and "not valid" in text and "n'est pas valide" in text
    form = s.get(links[accounts[1]])
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text).group(1)
    r = s.post(f"{hub.url}/hub/invitation", data={"_xsrf": xsrf, "token": "forged", "password": "x" * 12,
                                                  "password2": "x" * 12}, allow_redirects=False)
    assert r.status_code == 410
    assert s.get(f"{hub.url}/hub/api/user").status_code == 403

    # The others, as their browsers would; the second is then withdrawn: the exam service refuses them at once.
    for a in accounts[1:]:
        redeem(hub, links[a], f"mot de passe {a}")
    second, third = (as_their_server(hub, a) for a in accounts[1:])
    assert "preselection-physics/physics-2027" in my_exams(hub, second)
    assert "preselection-physics/physics-2027" in my_exams(hub, third)
    assert "withdrawn" in tremplin(hub, "campaign", "withdraw", cid, "IN-2")
    assert "preselection-physics/physics-2027" not in my_exams(hub, second)
    assert "preselection-physics/physics-2027" in my_exams(hub, third)
    fetch = "/services/tremplin-exam/api/courses/preselection-physics/assignments/physics-2027/fetch"
    r = second.post(f"{hub.url}{fetch}")
    assert r.status_code == 403, r.text[:300]


def test_a_coordinator_loads_the_roster_invites_and_withdraws_from_the_page(hub, browser, tmp_path):
    from browserkit import login

    prefix = hub.names["learner1"].split("-")[0]
    cid = f"{prefix}-page"
    (tmp_path / "campaign.toml").write_text(
        f'id = "{cid}"\ntitle = "Présélection — page"\npartner = "UNAL"\ncountry = "CO"\nsession = "2027-03"\n'
        'threshold = 50\nthreshold_version = "p-1"\n[[sections]]\nname = "math"\n'
        'exam = "preselection-math/math-2027"\nweight = 1\n')
    tremplin(hub, "campaign", "add", str(tmp_path / "campaign.toml"))
    (tmp_path / "roster.csv").write_text(
        "candidate_id,last_name,first_name,email,partner,country,account\n"
        f"CO-1,García,Ana,ana@x.org,UNAL,CO,{prefix}-ana\nCO-2,Pérez,Luis,luis@x.org,UNAL,CO,{prefix}-luis\n",
        encoding="utf-8")
    (tmp_path / "bad.csv").write_text("candidate_id,last_name\nCO-9,X\n", encoding="utf-8")

    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    login(page, hub, "coordinator")
    page.wait_for_url("**/hub/home")
    page.click("#tremplin-campaigns")
    card = page.locator(f"section.tremplin-campaign[data-campaign='{cid}']")
    assert card.locator(".campaign-candidates").text_content() == "0"
    # A bad file: said, with what is missing, and nothing changes.
    card.locator("input[name=roster]").set_input_files(str(tmp_path / "bad.csv"))
    card.locator("form:has(input[value=roster]) button").click()
    error = page.locator("#campaigns-error").text_content()
    assert "Nothing changed" in error and "Rien n'a changé" in error and "bad.csv" in error
    assert "first_name" in error and "/tmp" not in error
    card = page.locator(f"section.tremplin-campaign[data-campaign='{cid}']")
    card.locator("input[name=roster]").set_input_files(str(tmp_path / "roster.csv"))
    card.locator("form:has(input[value=roster]) button").click()
    assert "2 new" in page.locator("#campaigns-message").text_content()
    assert "2 nouveau(x)" in page.locator("#campaigns-message").text_content()
    assert page.locator(f"section.tremplin-campaign[data-campaign='{cid}'] .campaign-waiting").text_content() == "2"
    with page.expect_download() as download:
        page.click("#campaigns-sheet")
    download.value.save_as(tmp_path / "sheet.csv")
    with open(tmp_path / "sheet.csv", encoding="utf-8-sig", newline="") as f:
        links = {row["account"]: row["invitation_url"] for row in csv.DictReader(f)}
    assert sorted(links) == [f"{prefix}-ana", f"{prefix}-luis"]
    assert all(link.startswith(f"{hub.url}/hub/invitation?token=") for link in links.values())
    card = page.locator(f"section.tremplin-campaign[data-campaign='{cid}']")
    assert card.locator(".campaign-candidates").text_content() == "2"
    # A new link for Luis (his first one stops working), then Ana withdrawn.
    card.locator("input[name=candidate][id^=invite]").fill("CO-2")
    card.locator("form:has(input[value=invite]) button").click()
    with page.expect_download() as download:
        page.click("#campaigns-sheet")
    download.value.save_as(tmp_path / "again.csv")
    with open(tmp_path / "again.csv", encoding="utf-8-sig", newline="") as f:
        again = {row["account"]: row["invitation_url"] for row in csv.DictReader(f)}
    assert list(again) == [f"{prefix}-luis"] and again[f"{prefix}-luis"] != links[f"{prefix}-luis"]
    assert requests.get(links[f"{prefix}-luis"]).status_code == 410
    assert requests.get(again[f"{prefix}-luis"]).status_code == 200
    card = page.locator(f"section.tremplin-campaign[data-campaign='{cid}']")
    card.locator("input[name=candidate][id^=withdraw]").fill("CO-1")
    card.locator("form:has(input[value=withdraw]) button").click()
    assert "withdrawn" in page.locator("#campaigns-message").text_content()
    card = page.locator(f"section.tremplin-campaign[data-campaign='{cid}']")
    assert card.locator(".campaign-withdrawn").text_content() == "1"
    assert requests.get(links[f"{prefix}-ana"]).status_code == 410
    context.close()

    # Neither a candidate nor a professor may use the page (the scope is the coordinators' and admins').
    for who in ("learner1", "professor"):
        s = hub.login(who)
        assert s.get(f"{hub.url}/hub/campaigns").status_code == 403
        form = s.get(f"{hub.url}/hub/home")
        xsrf = re.search(r'_xsrf[^>]*value="([^"]+)"|xsrf_token: "([^"]+)"', form.text)
        r = s.post(f"{hub.url}/hub/campaigns", data={"_xsrf": next(g for g in xsrf.groups() if g), "campaign": cid,
                                                    "action": "withdraw", "candidate": "CO-2"})
        assert r.status_code == 403
    from tremplin_hub.admissions import Admissions
    from tremplin_hub.layout import Layout

    mine = [c for c in Admissions.summary(Layout(hub.data_dir)) if c["id"] == cid]
    assert mine == [{"id": cid, "title": "Présélection — page", "candidates": 1, "withdrawn": 1}]
