"""In headless Chromium: a candidate logs in, starts an exam from the home page, answers, hands in; the
professor collects and autogrades in the formgrader, which shows the score and the paper, with MathJax from the
platform. Nothing either browser asks goes to another host."""

from __future__ import annotations

import nbformat
import pytest

from browserkit import login
from hubfixture import REPO
from nbhelpers import autograded_points, solutions

pytestmark = [pytest.mark.hub, pytest.mark.browser]

COURSE, ASSIGNMENT, NOTEBOOK = "preselection-physics", "physics-2027", "physics-2027.ipynb"


def code_answers_in_order(source) -> list[str]:
    """The solutions of the code answer cells, in notebook order (markdown answers are left out)."""
    nb = nbformat.read(source, as_version=4)
    answers = solutions(source)
    return [answers[c.metadata["nbgrader"]["grade_id"]] for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def test_learner_fetches_answers_submits_and_professor_autograde_shows_the_score(hub, browser):
    source = REPO / "courses" / COURSE / "source" / ASSIGNMENT / NOTEBOOK
    learner = hub.names["learner2"]

    outside, mathjax = [], []

    trouble: list[str] = []  # (said when MathJax does not start)

    def mathjax_ready(page) -> None:
        try:
            page.wait_for_function("() => window.MathJax && window.MathJax.isReady", timeout=120_000)
        except Exception:
            scripts = page.eval_on_selector_all("script[src]", "els => els.map(e => e.src)")
            raise AssertionError(f"MathJax did not start on {page.url}; scripts {scripts}; requests elsewhere "
                                 f"{outside[:5]}; MathJax files {mathjax[:5]}; trouble {trouble[-10:]}") from None

    def watch(context):
        """Every request of the context: any to another host than the hub's fails the test."""
        def seen(request):
            if not request.url.startswith((hub.url, "data:", "blob:")):
                outside.append(request.url)
            elif "/services/tremplin-exam/static/mathjax/" in request.url:
                mathjax.append(request.url)
        context.on("request", seen)
        context.on("requestfailed", lambda r: trouble.append(f"failed {r.url} {r.failure}"))
        context.on("response", lambda r: r.status >= 400 and trouble.append(f"HTTP {r.status} {r.url}"))
        return context

    context = watch(browser.new_context(viewport={"width": 1300, "height": 900}))
    page = context.new_page()
    page.set_default_timeout(60_000)
    login(page, hub, "learner2")
    page.wait_for_url("**/hub/home")
    # The exam's own "Start…" (its server starts first), then its start page: confirmed, the candidate's time
    # starts and their own copy opens.
    page.click(f"#tremplin-courses a.tremplin-open[data-assignment='{ASSIGNMENT}']")
    page.wait_for_url(f"**/services/tremplin-exam/start/{COURSE}/{ASSIGNMENT}", timeout=120_000)
    page.click("#start-confirm")
    page.wait_for_url(f"**/user/{learner}/lab/tree/{COURSE}/{ASSIGNMENT}/{NOTEBOOK}", timeout=60_000)

    # Answer every code answer cell, as a learner types it.
    page.wait_for_selector(".jp-Notebook .jp-CodeCell")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']:visible", timeout=120_000)
    answers = code_answers_in_order(source)
    unanswered = page.locator(".jp-Notebook .jp-CodeCell", has_text="YOUR CODE HERE")
    scroller = page.locator(".jp-NotebookPanel-notebook")
    for text in answers:
        # JupyterLab renders only the cells near the viewport: scroll until the next blank answer shows.
        for _ in range(60):
            if unanswered.count():
                break
            scroller.evaluate("el => el.scrollBy(0, 500)")
            page.wait_for_timeout(100)
        cell = unanswered.first
        cell.scroll_into_view_if_needed()
        cell.locator(".cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(text)
    for _ in range(60):  # no blank answer left anywhere below
        scroller.evaluate("el => el.scrollBy(0, 500)")
        page.wait_for_timeout(50)
        assert unanswered.count() == 0
    page.keyboard.press("Control+s")
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('Saving completed')")

    # Hand in with the button beside the countdown, confirmed.
    page.click("#tremplin-exam-clock .tremplin-exam-handin")
    page.click(".jp-Dialog button:has-text('Rendre ma copie')")
    page.wait_for_selector(".tremplin-exam-closed[data-kind='done']", timeout=30_000)
    context.close()

    # The professor collects and autogrades in the formgrader.
    context = watch(browser.new_context(viewport={"width": 1300, "height": 900}))
    prof = context.new_page()
    prof.set_default_timeout(60_000)
    login(prof, hub, "professor")
    prof.wait_for_load_state("networkidle")
    prof.goto(f"{hub.url}/services/{COURSE}/formgrader")
    row = prof.locator("#main-table tr", has_text=ASSIGNMENT)
    row.locator("td.collect a").click()
    prof.wait_for_selector(".modal:has-text('Successfully collected')")
    prof.click(".modal button:has-text('OK')")
    row.locator("td.num-submissions a").click()
    student = prof.locator("#main-table tr", has_text=learner)
    student.locator("td.autograde a").click()
    prof.wait_for_selector(".modal:has-text('Successfully autograded')", timeout=180_000)
    prof.click(".modal button:has-text('OK')")
    total = autograded_points(source)
    prof.wait_for_function(
        "([name, total]) => [...document.querySelectorAll('#main-table tr')].some("
        "r => r.textContent.includes(name) && r.querySelector('td.score') && "
        "r.querySelector('td.score').textContent.trim().startsWith(String(total)))",
        arg=[learner, f"{total:g}"],
    )
    score = prof.locator("#main-table tr", has_text=learner).locator("td.score").inner_text()
    assert score.replace(" ", "") == f"{total:g}/{total:g}"
    # The paper, as the professor grades it: its formulas typeset by MathJax served by the platform.
    prof.goto(f"{hub.url}/services/{COURSE}/formgrader/gradebook/{ASSIGNMENT}/{NOTEBOOK.removesuffix('.ipynb')}")
    paper = prof.locator("#main-table a[href*='/formgrader/submissions/']").first.get_attribute("href")
    prof.goto(paper if paper.startswith("http") else f"{hub.url}{paper}")
    prof.wait_for_selector("#notebook-container")
    mathjax_ready(prof)
    # The professor returns feedback from the formgrader's buttons.
    prof.goto(f"{hub.url}/services/{COURSE}/formgrader/manage_assignments")
    row = prof.locator("#main-table tr", has_text=ASSIGNMENT)
    for step, said in (("generate-feedback", "Successfully generated feedback"),
                       ("release-feedback", "Successfully released feedback")):
        row.locator(f"td.{step} a").click()
        prof.wait_for_selector(f".modal:has-text('{said}')", timeout=180_000)
        prof.click(".modal button:has-text('OK')")
    context.close()

    # The candidate reads it: scores per question, the checkers' words in French and English, formulas typeset by
    # the platform's MathJax (under the page's policy), and no test's code.
    context = watch(browser.new_context(viewport={"width": 1300, "height": 900}))
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, hub, "learner2")
    page.wait_for_url("**/hub/home")
    page.goto(f"{hub.url}/services/tremplin-exam/feedback/{COURSE}/{ASSIGNMENT}")
    mathjax_ready(page)
    page.wait_for_selector(".MathJax_CHTML, .MathJax")
    checks = page.locator(".tremplin-check")
    assert checks.count() == len([c for c in nbformat.read(source, as_version=4).cells
                                  if c.metadata.get("nbgrader", {}).get("grade")
                                  and not c.metadata["nbgrader"].get("solution")])
    first = checks.first.inner_text()
    assert "Note / Score : " in first and first.count("\n") >= 2  # (French, then English)
    assert page.locator(".tremplin-check [lang=fr]").count() and page.locator(".tremplin-check [lang=en]").count()
    body = page.inner_text("body")
    assert "check.quantity" not in body and "award(" not in body and "Traceback" not in body
    assert errors == [], errors
    context.close()
    assert outside == [], "requests that left the machine"
    assert mathjax and all("/services/tremplin-exam/static/mathjax/" in url for url in mathjax)
