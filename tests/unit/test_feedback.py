"""A learner's feedback (tremplin_grading.feedback): the score and what may be said of each question, in French
and English, never the tests' code, and nothing the learner's code printed or raised under the hidden tests
(which would reveal their inputs)."""

from __future__ import annotations

import nbformat
import pytest
from nbconvert.exporters import HTMLExporter
from traitlets.config import Config

from htmlcheck import what_runs
from tremplin_grading import check
from tremplin_grading.check.result import CHECK_MIME, checks_output, collecting
from tremplin_grading.coursework import nbgrader_config_text
from tremplin_grading.feedback import FAILED, NOT_RUN, PASSED, messages_of_test

TEST_SOURCE = '''import math
assert math.isclose(prix_ttc(1000), 1180), "prix_ttc(1000) devrait valoir 1180 / should be 1180"
### BEGIN HIDDEN TESTS
assert math.isclose(prix_ttc(2500), 2950), "secret 2950"
### END HIDDEN TESTS
'''


def error(ename, evalue):
    return {"output_type": "error", "ename": ename, "evalue": evalue,
            "traceback": [f"Traceback ... {evalue}", "assert math.isclose(prix_ttc(2500), 2950)"]}


def stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


@pytest.mark.parametrize("outputs,said", [
    # an author's visible assert: its message, split into its French and English halves
    ([error("AssertionError", "prix_ttc(1000) devrait valoir 1180 / should be 1180")],
     [{"fr": "prix_ttc(1000) devrait valoir 1180", "en": "should be 1180"}]),
    # a hidden assert's message is not the learner's to read
    ([error("AssertionError", "secret 2950")], [FAILED]),
    ([error("AssertionError", "")], [FAILED]),
    # the learner's function raising (or printing) what the hidden tests gave it reveals nothing
    ([stream("leak 2500\n"), error("ValueError", "leak (2500,)")],
     [{"fr": "Votre code a provoqué l'erreur ValueError pendant les tests de cette question.",
       "en": "Your code raised ValueError during this question's tests."}]),
    ([error("AssertionError", "leak (2500,)")], [FAILED]),
    ([error("NameError", "name 'x2500' is not defined")],
     [{"fr": "Votre code a provoqué l'erreur NameError pendant les tests de cette question.",
       "en": "Your code raised NameError during this question's tests."}]),
    # a name the visible test uses and the answer does not define
    ([error("NameError", "name 'prix_ttc' is not defined")],
     [{"fr": "« prix_ttc » n'est pas défini : vérifiez que votre réponse définit ce nom, sans faute de frappe, et "
             "que sa cellule s'exécute sans erreur.",
       "en": "'prix_ttc' is not defined: check that your answer defines this name, without a typo, and that its "
             "cell runs without error."}]),
    ([error("NotRun", "this test was not run / ce test n'a pas été exécuté")], [NOT_RUN]),
    ([stream("a warning\n", "stderr")], [{"fr": pytest.approx, "en": pytest.approx}]),
    ([stream("leak 2500\n")], [PASSED]),
])
def test_what_is_said_of_a_test_comes_from_the_author_or_the_platform_only(outputs, said):
    got = messages_of_test(TEST_SOURCE, outputs, 2.0 if not any(o["output_type"] != "stream" or o["name"] == "stderr"
                                                                 for o in outputs) else 0.0, 2.0)
    if said == [{"fr": pytest.approx, "en": pytest.approx}]:
        assert len(got) == 1 and "sortie d'erreur" in got[0]["fr"] and "error output" in got[0]["en"]
    else:
        assert got == said
    assert not any("2500" in m["fr"] + m["en"] or "2950" in m["fr"] + m["en"] for m in got)


def test_a_checkers_words_are_recorded_in_both_languages_by_the_judge_only():
    wrong = check.number("12", 9.81, lang="fr")
    with collecting() as said:
        with pytest.raises(AssertionError):
            wrong.award(4)
        assert check.number("9.81", 9.81).award(2) == 2
    assert [s["score"] for s in said] == [0.0, 1.0]
    assert "trop grand" in said[0]["fr"] and "too large" in said[0]["en"]
    output = checks_output(said)
    got = messages_of_test("check.number(q, 9.81).award(4)",
                           [output, error("AssertionError", said[0]["fr"])], 0.0, 4.0)
    assert got == [{"fr": s["fr"], "en": s["en"]} for s in said]  # (no "a test failed" on top of the checker's why)
    assert "trop grand" in output["data"]["text/plain"] and "too large" in output["data"]["text/plain"]
    # outside the judge (a learner's own kernel, stock nbgrader) award prints as before and records nothing
    assert check.result.__dict__["_said"] is None


def test_a_checkers_message_cannot_be_forged_by_printing_it():
    forged = stream('{"%s": [{"fr": "Parfait", "en": "Perfect"}]}\n' % CHECK_MIME)
    assert messages_of_test("assert f(1) == 2", [forged, error("AssertionError", "")], 0.0, 1.0) == [FAILED]


def graded_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    statement = nbformat.v4.new_markdown_cell("## Question 1 — Prix TTC (2 points)\n\n*Question 1 — Price*\n\n$x^2$")
    answer = nbformat.v4.new_code_cell("def prix_ttc(p, t=0.18):\n    print('leak', p)\n    return p * t",
                                       outputs=[nbformat.from_dict(stream("mine\n"))])
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False, "grade_id": "q1-answer",
                                   "schema_version": 3}
    test = nbformat.v4.new_code_cell(TEST_SOURCE, outputs=[
        nbformat.from_dict(stream("leak 1000\nleak 2500\n")),
        nbformat.from_dict(error("AssertionError", "prix_ttc(1000) devrait valoir 1180 / should be 1180"))])
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 2, "score": 0.0,
                                 "grade_id": "q1-tests", "schema_version": 3}
    written = nbformat.v4.new_markdown_cell("Ma réponse <script>alert(1)</script>")
    written.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False, "points": 1, "score": 1.0,
                                    "grade_id": "q2", "schema_version": 3, "comment": "Bien vu / Well seen"}
    nb.cells = [statement, answer, test, written]
    return nb


def feedback_html(tmp_path) -> str:
    c = Config()
    exec(nbgrader_config_text("demo-101", tmp_path), {"get_config": lambda: c})  # the file every course gets
    exporter_config = Config(c)
    exporter_config.HTMLExporter.merge(c.GenerateFeedback.HTMLExporter)  # (GenerateFeedback's exporter)
    exporter = HTMLExporter(config=exporter_config)
    exporter.register_preprocessor("tremplin_grading.feedback.LearnerFeedback")  # (as nbgrader registers it)
    resources = {"nbgrader": {"notebook": "devoir-1", "score": 1.0, "max_score": 3.0, "late_penalty": 0}}
    html, _ = exporter.from_notebook_node(graded_notebook(), resources=resources)
    return html


def test_each_course_makes_learners_feedback_with_this_preprocessor_and_template(tmp_path):
    c = Config()
    exec(nbgrader_config_text("demo-101", tmp_path), {"get_config": lambda: c})
    assert "tremplin_grading.feedback.LearnerFeedback" in c.GenerateFeedback.preprocessors
    assert c.GenerateFeedback.HTMLExporter.template_name == "tremplin_feedback"


def test_the_feedback_page_shows_scores_and_messages_in_french_and_english_and_never_the_tests(tmp_path):
    html = feedback_html(tmp_path)
    body = html[html.index("<body"):]
    # per question: its title, its score, what the author's visible test says in both languages
    assert "Question 1 — Prix TTC (2 points)</a> — 0 / 2" in body
    assert "Note / Score : <b>1 /" in body and "Retour sur votre copie / Feedback on your paper" in body
    assert '<span lang="fr">prix_ttc(1000) devrait valoir 1180</span><br/><span lang="en">should be 1180</span>' in body
    assert "Votre réponse / Your answer" in body and "Commentaires / Comments" in body and "Bien vu" in body
    # the learner's own cell and its output stay
    assert "mine" in body
    # never the tests' code, the hidden test, what the learner's code printed under it, a traceback, English-only labels
    for gone in ("BEGIN HIDDEN", "2950", "secret", "leak 2500", "Traceback", "math.isclose", "Student&#39;s answer",
                 "Student's answer", "Test cell", "Grade cell"):
        assert gone not in body, gone
    assert what_runs(body[body.index('id="notebook"'):]) == []
