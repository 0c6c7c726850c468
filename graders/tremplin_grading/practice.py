"""Instant feedback for practice exercises: a "Check" button under an exercise.

A practice notebook defines a check function that reads the learner's variables and
raises ``AssertionError`` with a hint when something is wrong, then calls
:func:`check_button`. Clicking the button runs the check in the learner's own kernel
and shows a sentence in the learner's language. Nothing is graded or sent anywhere:
graded work goes through nbgrader. The learner's code is their own code running in
their own kernel, so nothing here evaluates text.

Example, in a notebook cell::

    from tremplin_grading.practice import check_button

    def check_area():
        assert area(2, 3) == 6, {"fr": "area(2, 3) devrait valoir 6.",
                                 "en": "area(2, 3) should be 6."}

    check_button(check_area, lang="fr")
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Union

Message = Union[str, Mapping[str, str]]

#: Messages this module owns, in every language we support.
MESSAGES = {
    "fr": {
        "button": "Vérifier",
        "correct": "Bravo, c'est juste !",
        "wrong": "Pas encore.",
        "error": "Votre code a levé une erreur : {error}",
        "undefined": "« {name} » n'est pas encore défini : exécutez d'abord la cellule de votre réponse.",
    },
    "en": {
        "button": "Check",
        "correct": "Well done, that's right!",
        "wrong": "Not yet.",
        "error": "Your code raised an error: {error}",
        "undefined": "'{name}' is not defined yet: run the cell with your answer first.",
    },
}

SUPPORTED_LANGUAGES = tuple(MESSAGES)


@dataclass
class Feedback:
    """What a learner sees after clicking "Check".

    Attributes:
        correct: whether the check passed.
        message: one or two sentences in the learner's language.
    """

    correct: bool
    message: str


def _pick(message: Message, lang: str) -> str:
    """Choose the text for ``lang`` in a plain string or a ``{lang: text}`` mapping."""
    if isinstance(message, Mapping):
        return message.get(lang) or message.get("en") or next(iter(message.values()), "")
    return str(message)


#: How checkers' sentences begin (tremplin_grading.check): after the button's own "Pas encore.", said once.
_LEADS = {"fr": "Pas encore : ", "en": "Not yet: "}


def _without_lead(hint: str, lang: str) -> str:
    """``hint`` without the checkers' "Pas encore : " / "Not yet: " (the feedback already begins so), the next
    word capitalised: "… Pas encore : la valeur est trop petite." becomes "… La valeur est trop petite."."""
    return re.sub(re.escape(_LEADS[lang]) + r"(\w)", lambda m: m.group(1).upper(), hint)


def run_check(check: Callable[[], object], lang: str = "fr") -> Feedback:
    """Run one check function and turn its outcome into feedback.

    Args:
        check: a function of no argument; it passes by returning, fails by raising
            ``AssertionError`` whose argument is a hint (a string or ``{"fr": ..., "en": ...}``).
        lang: ``"fr"`` or ``"en"``.

    Returns:
        a :class:`Feedback`; an exception raised by the learner's code becomes feedback too.
    """
    if lang not in MESSAGES:
        raise ValueError(f"language {lang!r} is not supported; use one of {', '.join(SUPPORTED_LANGUAGES)}")
    text = MESSAGES[lang]
    try:
        check()
    except AssertionError as exc:
        hint = _pick(exc.args[0], lang) if exc.args else ""
        return Feedback(False, f"{text['wrong']} {_without_lead(hint, lang)}".strip())
    except NameError as exc:
        return Feedback(False, text["undefined"].format(name=getattr(exc, "name", None) or exc))
    except Exception as exc:  # the learner's code may raise anything; show it, never crash the button
        return Feedback(False, text["error"].format(error=f"{type(exc).__name__}: {exc}"))
    return Feedback(True, text["correct"])


def check_button(check: Callable[[], object], lang: str = "fr") -> None:
    """Display a "Check" button that runs ``check`` and shows feedback below it.

    Returns nothing: the call is the last line of its cell, and a returned widget would be shown a
    second time, sharing the first one's feedback (learners saw every button twice).
    """
    import ipywidgets as widgets
    from IPython.display import display

    button = widgets.Button(description=MESSAGES[lang]["button"], button_style="primary", icon="check")
    output = widgets.HTML()

    def on_click(_button):
        feedback = run_check(check, lang)
        colour = "#1b7f3b" if feedback.correct else "#a4262c"
        mark = "✔" if feedback.correct else "✘"
        output.value = (
            f'<div role="status" style="color:{colour};font-weight:600">'
            f"{mark} {html.escape(feedback.message)}</div>"
        )

    button.on_click(on_click)
    display(widgets.VBox([button, output]))
