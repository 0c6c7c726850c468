"""Practice feedback: a check function's outcome becomes one sentence in the learner's language."""

from __future__ import annotations

import pytest

from tremplin_grading.practice import run_check


def passes():
    assert 1 + 1 == 2


# Notebooks write `assert cond, hint`; pytest rewrites asserts in this file, so raise directly.
def fails_with_bilingual_hint():
    raise AssertionError({"fr": "Relisez l'énoncé.", "en": "Read the question again."})


def fails_with_plain_hint():
    raise AssertionError("2 * 3 == 6")


def fails_without_hint():
    raise AssertionError


def undefined_name():
    return surface(2, 3)  # noqa: F821 - the learner has not run their cell yet


def raises_other():
    return 1 / 0


@pytest.mark.parametrize("check,lang,correct,text", [
    (passes, "fr", True, "Bravo, c'est juste !"),
    (passes, "en", True, "Well done, that's right!"),
    (fails_with_bilingual_hint, "fr", False, "Pas encore. Relisez l'énoncé."),
    (fails_with_bilingual_hint, "en", False, "Not yet. Read the question again."),
    (fails_with_plain_hint, "en", False, "Not yet. 2 * 3 == 6"),
    (fails_without_hint, "fr", False, "Pas encore."),
    (undefined_name, "fr", False, "« surface » n'est pas encore défini"),
    (undefined_name, "en", False, "'surface' is not defined yet"),
    (raises_other, "fr", False, "Votre code a levé une erreur : ZeroDivisionError: division by zero"),
    (raises_other, "en", False, "Your code raised an error: ZeroDivisionError"),
])
def test_check_outcome_becomes_feedback_in_the_learners_language(check, lang, correct, text):
    feedback = run_check(check, lang)
    assert feedback.correct is correct
    assert feedback.message.startswith(text)


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="'de' is not supported"):
        run_check(passes, "de")


def test_the_button_is_displayed_once_and_not_returned_to_be_shown_again(monkeypatch):
    """The call ends its cell: a returned widget was displayed a second time (two buttons, one feedback)."""
    import IPython.display
    from tremplin_grading.practice import check_button

    shown = []
    # (what display prints outside a notebook depends on whether an earlier test made an IPython shell:
    # the calls themselves are counted)
    monkeypatch.setattr(IPython.display, "display", lambda *objects, **_: shown.extend(objects))
    assert check_button(lambda: None, lang="en") is None
    assert [type(widget).__name__ for widget in shown] == ["VBox"]


def fails_with_a_checkers_sentence():
    raise AssertionError({"fr": "energie_wh n'est pas juste. Pas encore : la valeur est trop petite.",
                          "en": "energie_wh is not right. Not yet: the value is too small."})


@pytest.mark.parametrize("lang,text", [
    ("fr", "Pas encore. energie_wh n'est pas juste. La valeur est trop petite."),
    ("en", "Not yet. energie_wh is not right. The value is too small."),
])
def test_not_yet_is_said_once_when_a_hint_carries_a_checkers_sentence(lang, text):
    assert run_check(fails_with_a_checkers_sentence, lang).message == text
