"""A walk through every page each role meets, in headless Chromium: each page we write is in French and English,
and no page asks anything of another host than the hub (no CDN, no font service: nothing leaves the machine).

nbgrader's formgrader and JupyterHub's token page are the stock tools' own pages (English): they are walked for
requests that leave the machine, not for their language; the formgrader's links to a course's folders open in
the formgrader service's JupyterLab (they gave 404)."""

from __future__ import annotations

import re

import pytest

from browserkit import login

pytestmark = [pytest.mark.hub, pytest.mark.browser]

FRENCH = {"le", "la", "les", "des", "du", "vous", "votre", "vos", "pas", "est", "une", "sur", "pour", "cette", "aux",
          "mes", "mon", "ou", "et", "à", "sera", "être", "n'est", "aucune", "aucun", "retour", "accueil"}
ENGLISH = {"the", "your", "you", "of", "is", "not", "for", "this", "my", "and", "to", "on", "no", "be", "are", "will",
           "back", "home", "none"}


def languages(text: str) -> tuple[set[str], set[str]]:
    words = set(re.findall(r"[a-zàâçéèêëîïôûùüÿœ']+", text.lower()))
    return words & FRENCH, words & ENGLISH


#: (who, path, ours): every page each role reaches from its home page, and the traps the issue named; ``ours``
#: says whether the page is ours to write (French and English), or a stock tool's.
WALK = [
    (None, "/hub/login", True),
    ("learner1", "/hub/home", True),
    ("learner1", "/services/tremplin-exam/feedback/python-intro/devoir-1", True),
    ("learner1", "/services/tremplin-exam/", True),                       # 403: coordinators only
    ("learner1", "/services/tremplin-exam/exports/", True),                # 403: admissions only
    ("learner1", "/hub/no-such-page", True),                               # the hub's 404
    ("learner1", "/services/preselection-physics/formgrader", True),       # 403: another course's graders only
    ("learner1", "/hub/token", False),
    ("learner2", "/services/tremplin-exam/start/preselection-physics/physics-2027", True),
    ("professor", "/hub/home", True),
    ("professor", "/services/python-intro/formgrader", False),
    ("professor", "/services/tremplin-exam/grading/python-intro/", True),
    ("professor", "/services/tremplin-exam/exams/preselection-math/math-2027", True),
    ("coordinator", "/hub/home", True),
    ("coordinator", "/services/tremplin-exam/", True),
    ("coordinator", "/services/tremplin-exam/exams/preselection-math/math-2027", True),
    ("coordinator", "/services/tremplin-exam/exams/preselection-math/math-2027/analysis", True),
    ("admissions", "/hub/home", True),
    ("admissions", "/services/tremplin-exam/exports/", True),
    ("admin", "/hub/home", True),
]


def test_every_page_is_in_french_and_english_and_nothing_leaves_the_machine(hub, browser):
    outside, one_language, stock_in_english = [], [], []
    who_now, context, page = "", None, None
    for who, path, ours in WALK:
        if who != who_now or context is None:
            if context is not None:
                context.close()
            context = browser.new_context(locale="fr-FR")
            context.on("request", lambda r: r.url.startswith((hub.url, "data:", "blob:", "about:"))
                       or outside.append((who, path, r.url)))
            page = context.new_page()
            page.set_default_timeout(60_000)
            if who is not None:
                login(page, hub, who)
                page.wait_for_url("**/hub/home")
            who_now = who
        page.goto(f"{hub.url}{path}")
        page.wait_for_load_state("networkidle")
        fr, en = languages(page.inner_text("body"))
        if ours and (len(fr) < 2 or len(en) < 2):
            one_language.append((who, path, sorted(fr), sorted(en), page.inner_text("body")[:300]))
        elif not ours and len(fr) < 2:
            stock_in_english.append(path)
    context.close()
    assert outside == [], "requests that left the machine"
    assert one_language == [], "pages not in both French and English"
    assert stock_in_english, "the check tells an English-only page (nbgrader's, JupyterHub's token page)"


def test_the_formgraders_links_to_a_course_folder_open_in_its_jupyterlab(hub, browser):
    """nbgrader links an assignment's name to /tree/<path> at the site's root: 404 for a formgrader behind the hub."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    login(page, hub, "professor")
    page.wait_for_url("**/hub/home")
    page.goto(f"{hub.url}/services/python-intro/formgrader/manage_assignments")
    link = page.locator("#main-table tr", has_text="devoir-1").locator("td.name a").first
    link.wait_for()
    href = link.get_attribute("href")
    assert href == "/services/python-intro/lab/tree/source/devoir-1", href
    folder = context.request.get(f"{hub.url}{href}")
    assert folder.status == 200 and "JupyterLab" in folder.text()
    context.close()
