"""Multiple-choice answers: formats learners type, one or several right options, partial credit."""

from __future__ import annotations

import pytest

from tremplin_grading.check.choice import choice

LETTERS = ["A", "B", "C", "D"]
UNITS = {"A": "Newton", "B": "Joule", "C": "Watt", "D": "Pascal"}


@pytest.mark.parametrize("answer,expected,options", [
    ("B", "B", None),
    ("b", "B", None),
    (" B ", "B", None),
    ("B)", "B", None),
    ("(b)", "B", None),
    ("b.", "B", LETTERS),
    ("joule", "B", UNITS),            # the option's text, case ignored
    ("  Joule ", "Joule", UNITS),     # expected given as text too
    ("B", "joule", UNITS),
    (["B"], "B", LETTERS),
])
def test_single_answer_formats_are_accepted(answer, expected, options):
    assert choice(answer, expected, options=options).score == 1.0


@pytest.mark.parametrize("answer,expected,options,score,feedback", [
    ("A", "B", None, 0.0, "not the right option"),
    ("A", "B", LETTERS, 0.0, "not the right option"),
    ("newton", "B", UNITS, 0.0, "not the right option"),
    ("A, B", "B", LETTERS, 0.0, "Only one answer is expected"),
    ("AB", "B", LETTERS, 0.0, "Only one answer is expected"),
])
def test_single_answer_wrong_or_several(answer, expected, options, score, feedback):
    checked = choice(answer, expected, options=options, lang="en")
    assert (checked.score, feedback in checked.feedback) == (score, True)


@pytest.mark.parametrize("answer", [
    "A, C", "A,C", "A;C", "A / C", "AC", "ca", "a c", "A et C", "A and C", "C, A, A",
    ["A", "C"], ("c", "a"), {"A", "C"},
])
def test_multiple_answer_formats_are_accepted(answer):
    assert choice(answer, ["A", "C"], options=LETTERS).score == 1.0


@pytest.mark.parametrize("answer,expected,score,feedback", [
    ("A", ["A", "C"], 0.5, "Partly right: your choices are right, but some options are missing"),
    ("A, B", ["A", "C"], 0.0, "Not yet: at least one of the options you chose is wrong"),
    ("A, B, C", ["A", "C"], 0.5, "Partly right: at least one of the options you chose is wrong"),
    ("A, B, C, D", ["A", "C"], 0.0, "Not yet"),                 # ticking everything earns nothing
    ("B, D", ["A", "C"], 0.0, "none of the options you chose is right"),
    ("A, B", ["A", "B", "C"], 2 / 3, "some options are missing"),
    ("A, B, D", ["A", "B", "C"], 1 / 3, "at least one of the options you chose is wrong"),
    ("A", ["A"], 1.0, "that's right"),
    ("B", ["A"], 0.0, "none of the options"),
])
def test_multiple_answers_get_partial_credit(answer, expected, score, feedback):
    checked = choice(answer, expected, options=LETTERS, lang="en")
    assert checked.score == pytest.approx(score)
    assert feedback in checked.feedback


@pytest.mark.parametrize("answer,expected,options,feedback", [
    ("E", "B", LETTERS, "'E' is not one of the options. Valid options: A, B, C, D"),
    ("A, E", ["A", "C"], LETTERS, "'E' is not one of the options"),
    ("Kelvin", "B", UNITS, "'Kelvin' is not one of the options"),
    ("hello", "B", None, "'hello' is not an option: answer with the letter(s)"),
    ("B2", "B", None, "'B2' is not an option"),
    (2, "B", LETTERS, "not with a value of type int"),
    (True, "B", LETTERS, "not with a value of type bool"),
    ([1, 2], ["A", "B"], LETTERS, "not a value of type int"),
    (["A, C"], ["A", "C"], LETTERS, "'A, C' is not one of the options"),
    ("", "B", LETTERS, "No option chosen"),
    (" , ; ", ["A", "C"], LETTERS, "No option chosen"),
    (None, "B", LETTERS, "No option chosen"),
    ([], ["A", "C"], LETTERS, "No option chosen"),
    ("A" * 1000, "B", LETTERS, "too long"),
])
def test_answers_outside_the_options_are_unreadable_and_list_them(answer, expected, options, feedback):
    checked = choice(answer, expected, options=options, lang="en")
    assert checked.score == 0.0 and not checked.needs_review
    assert feedback in checked.feedback
    assert checked.messages["fr"] and checked.messages["fr"] != checked.messages["en"]


@pytest.mark.parametrize("answer,expected", [
    ("A", ["A", "C"]),
    ("B", "C"),
    ("A, B, C", ["A", "C"]),
])
def test_feedback_never_names_the_right_options(answer, expected):
    checked = choice(answer, expected, options=LETTERS)
    for language in ("fr", "en"):
        assert "C" not in checked.messages[language]


@pytest.mark.parametrize("expected,options,message", [
    ("E", LETTERS, "expected option 'E' is not in options"),
    (["A", "Kelvin"], UNITS, "expected option 'Kelvin' is not in options"),
    ([], LETTERS, "give an option label"),
    (2, LETTERS, "give an option label"),
    ("B", [], "options is empty"),
])
def test_authoring_mistakes_raise_at_once(expected, options, message):
    with pytest.raises(ValueError, match=message):
        choice("A", expected, options=options)


def test_award_gives_partial_points(capsys):
    assert choice("A", ["A", "C"], options=LETTERS, lang="fr").award(2) == 1.0
    assert "il manque des options" in capsys.readouterr().out
