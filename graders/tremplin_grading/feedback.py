"""What a learner sees of their graded notebook: nbgrader's feedback, made safe to return to them.

nbgrader's feedback is the autograded notebook as HTML: every test cell with its hidden tests,
and the tracebacks of the tests that failed, with English labels ("Student's answer", "Test
cell"). :class:`LearnerFeedback` (a ``GenerateFeedback`` preprocessor, set in each course's
``nbgrader_config.py`` by :mod:`tremplin_grading.coursework`) keeps of each test cell its score
and what may be said of it, in French and English:

* what its checkers said (:meth:`tremplin_grading.check.Result.award`, which the grading judge
  records in a :data:`~tremplin_grading.check.result.CHECK_MIME` output: candidates' code never
  runs in the judge, so this output cannot be forged);
* the message of a failed ``assert`` only when it is the message of one of the author's
  *visible* asserts, which the learner already has in their notebook;
* otherwise a fixed sentence: a test failed, or the learner's code raised a named error.

Nothing the learner's code printed or raised while the tests ran is shown: the hidden tests call
it with their own inputs, and a function that prints or raises its arguments would reveal them.
The test cell's code is removed. The template ``tremplin_feedback`` (beside this module) shows
the score of each question, named by the heading of the statement above it.
"""

from __future__ import annotations

import ast
import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from .check.result import CHECK_MIME

HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"  # (nbgrader's defaults)

PASSED = {"fr": "Tous les tests de cette question sont réussis.", "en": "All the tests of this question passed."}
FAILED = {"fr": "Un test de cette question a échoué.", "en": "A test of this question failed."}
NOT_RUN = {"fr": "Ce test n'a pas été exécuté (la correction de la copie a été interrompue).",
           "en": "This test was not run (grading of the paper was cut short)."}
STDERR = {"fr": "Votre code a écrit sur la sortie d'erreur pendant les tests de cette question, ce qui compte "
                "comme un échec.",
          "en": "Your code wrote to the error output during this question's tests, which counts as a failure."}
UNDEFINED = {"fr": "« {name} » n'est pas défini : vérifiez que votre réponse définit ce nom, sans faute de frappe, "
                   "et que sa cellule s'exécute sans erreur.",
             "en": "'{name}' is not defined: check that your answer defines this name, without a typo, and that "
                   "its cell runs without error."}
RAISED = {"fr": "Votre code a provoqué l'erreur {name} pendant les tests de cette question.",
          "en": "Your code raised {name} during this question's tests."}

NO_RESPONSE, NO_RESPONSE_BILINGUAL = "No response.", "Pas de réponse. / No response."

_UNDEFINED = re.compile(r"name '([A-Za-z_][A-Za-z0-9_]*)' is not defined")
#: The judge's own sentence for an answer it could not read (tremplin_grading.judge._explain_unreadable).
_UNREADABLE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*) : un objet [\w.]+ ne peut pas être corrigé \([^/]*\) / "
                         r"\1: an? [\w.]+ object cannot be graded \([^/]*\)")
_ERROR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,79}")


def visible_part(source: str) -> str:
    """A test cell's code as the learner received it: without the lines between nbgrader's hidden-test markers."""
    kept, hidden = [], False
    for line in source.splitlines():
        if HIDDEN_BEGIN in line:
            hidden = True
        elif HIDDEN_END in line:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


def visible_words(source: str) -> tuple[set[str], set[str]]:
    """The messages of the visible asserts of a test cell (string constants), and the names its visible code uses."""
    try:
        tree = ast.parse(visible_part(source))
    except SyntaxError:  # (IPython syntax): nothing is known to be visible
        return set(), set()
    messages = {node.msg.value for node in ast.walk(tree)
                if isinstance(node, ast.Assert) and isinstance(node.msg, ast.Constant) and isinstance(node.msg.value,
                                                                                                     str)}
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return messages, names


def _split(message: str) -> dict[str, str]:
    """An author's message written ``français / English`` as its two halves; otherwise the same text for both."""
    fr, sep, en = message.partition(" / ")
    return {"fr": fr.strip(), "en": en.strip()} if sep and fr.strip() and en.strip() else {"fr": message,
                                                                                           "en": message}


def _fill(sentence: dict[str, str], **values) -> dict[str, str]:
    return {lang: text.format(**values) for lang, text in sentence.items()}


def messages_of_test(source: str, outputs: list, score: float | None, points: float | None) -> list[dict[str, str]]:
    """What may be said to the learner of one test cell, each ``{"fr", "en"}``: see the module docstring."""
    said: list[dict[str, str]] = []
    for out in outputs:
        data = out.get("data", {}) if out.get("output_type") == "display_data" else {}
        checks = data.get(CHECK_MIME)
        if isinstance(checks, list):
            said.extend({"fr": str(c.get("fr", "")), "en": str(c.get("en", ""))} for c in checks
                        if isinstance(c, dict) and c.get("fr") and c.get("en"))
    messages, names = visible_words(source)
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream" and out.get("name") == "stderr":
            said.append(STDERR)
        if kind != "error":
            continue
        ename, evalue = str(out.get("ename", "")), str(out.get("evalue", ""))
        undefined, unreadable = _UNDEFINED.fullmatch(evalue), _UNREADABLE.fullmatch(evalue)
        if ename == "NotRun":
            said.append(NOT_RUN)
        elif ename == "AssertionError" and evalue in messages:
            said.append(_split(evalue))
        elif ename == "AssertionError":
            if not said:  # (a checker that gave no credit raised it, after saying why)
                said.append(FAILED)
        elif ename == "NameError" and undefined and undefined.group(1) in names:
            said.append(_fill(UNDEFINED, name=undefined.group(1)))
        elif ename == "NameError" and unreadable and unreadable.group(1) in names:
            said.append(_split(evalue))
        else:
            said.append(_fill(RAISED, name=ename if _ERROR_NAME.fullmatch(ename) else "?"))
    if not said and score is not None and points and score >= points:
        said.append(PASSED)
    unique = []
    for s in said:
        if s not in unique:
            unique.append(s)
    return unique


def _heading(markdown: str) -> str | None:
    for line in markdown.splitlines():
        if line.lstrip().startswith("#"):
            text = line.strip().lstrip("#").strip()
            if text:
                return text[:200]
    return None


class LearnerFeedback(Preprocessor):
    """For ``GenerateFeedback``, after nbgrader's ``GetGrades``: each test cell loses its code and outputs and gets
    ``metadata.tremplin_feedback = {"question", "messages"}`` (:func:`messages_of_test`); each graded cell gets the
    question it belongs to (the last heading above it, else its grade id)."""

    enabled = Bool(True, help="nbconvert runs a preprocessor only when it is enabled (nbgrader's are)."
                   ).tag(config=True)

    def preprocess(self, nb, resources):
        question = None
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "markdown":
                question = _heading(cell.source) or question
            if not (meta.get("grade") or meta.get("task")):
                continue
            info = {"question": question or meta.get("grade_id", "")}
            if meta.get("comment") == NO_RESPONSE:  # (nbgrader's automatic comment on an answer left blank)
                meta["comment"] = NO_RESPONSE_BILINGUAL
            if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
                info["messages"] = messages_of_test(cell.source, cell.get("outputs", []), meta.get("score"),
                                                 meta.get("points"))
                cell.source = ""
                cell.outputs = []
            cell.metadata["tremplin_feedback"] = info
        return nb, resources
