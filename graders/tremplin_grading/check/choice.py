"""Multiple-choice answers (QCM): one right option, or several with partial credit.

The learner answers with option labels (``"B"``, ``" b "``, ``"B)"``) or, when the author
gives ``options`` as a mapping, with an option's exact text (case and spaces ignored:
``"joule"`` for ``{"B": "Joule"}``). Integers are refused: whether ``2`` means ``B`` or
``C`` depends on counting from 0 or 1, so the learner is asked for the letter.

Several answers are typed ``"A, C"``, ``"A;C"``, ``"A et C"``, ``"a c"``, ``"AC"`` (when
every label is one letter; without ``options``, only for letters that do not repeat) or
given as a list. Option texts containing a separator (``,``, ``et``...) can only be
chosen alone; in multiple-answer questions learners should use the letters. They are scored with the usual rule of
Moodle-like platforms::

    score = max(0, (right picks - wrong picks) / number of right options)

so ticking everything earns nothing, and all right options with nothing wrong earn 1.
The feedback says whether options are missing or wrong, never which ones.

An answer naming something that is not an option is unreadable (0, not a review case)
and the feedback lists the valid options; without ``options`` any single letter is
accepted as a (possibly wrong) pick.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .limits import CheckTimeout, time_limited
from .result import Result, needs_review, result, unreadable

#: Longer answers are refused unread; a QCM answer is a few letters.
MAX_LENGTH = 500
_SEPARATORS = re.compile(r"[,;/+&|]|\bet\b|\band\b", re.IGNORECASE)


class ChoiceError(Exception):
    """An answer that names no valid option; ``.fr``/``.en`` say what to type instead."""

    def __init__(self, fr: str, en: str):
        super().__init__(en)
        self.fr = fr
        self.en = en


def _key(text: str) -> str:
    """Case, spacing and the bracket or point after a label (``B)``, ``(b)``, ``b.``) do not matter."""
    return " ".join(text.split()).strip("()[]{}.:- ").casefold()


class _Options:
    """Which labels exist and which texts name them."""

    def __init__(self, options, expected_labels):
        self.given = options is not None
        if isinstance(options, Mapping):
            self.labels = [str(label) for label in options]
            texts = {_key(str(text)): str(label) for label, text in options.items()}
        elif options is not None:
            self.labels = [str(label) for label in options]
            texts = {}
        else:
            self.labels = list(expected_labels)
            texts = {}
        if self.given and not self.labels:
            raise ValueError("options is empty: list the option labels, for example options=['A', 'B', 'C', 'D']")
        # Labels win over texts: an option whose text is "B" must not hide option B.
        self.lookup = {**texts, **{_key(label): label for label in self.labels}}

    def resolve(self, token: str) -> str | None:
        key = _key(token)
        if key in self.lookup:
            return self.lookup[key]
        if not self.given and re.fullmatch(r"[a-z]", key):
            return key.upper()
        return None

    def listing(self) -> str:
        return ", ".join(self.labels)


def _split(text: str, options: _Options) -> list[str]:
    """The labels named in one answer text; :class:`ChoiceError` for any unknown part."""
    whole = options.resolve(text)
    if whole is not None:
        return [whole]
    picks = []
    for part in _SEPARATORS.split(text):
        if not part.strip():
            continue
        label = options.resolve(part)
        if label is not None:
            picks.append(label)
            continue
        for word in part.split():
            label = options.resolve(word)
            # "AC": every character is a one-letter label. Without options any letter is a label,
            # so only words without a repeated letter are split ("hello" is not five picks).
            letters = [options.resolve(c) for c in word] if label is None and word.isalpha() else []
            if label is not None:
                picks.append(label)
            elif (letters and all(letters) and all(len(lab) == 1 for lab in letters)
                  and (options.given or len(set(word.casefold())) == len(word))):
                picks.extend(letters)
            else:
                raise _unknown(word, options)
    return picks


def _unknown(token: str, options: _Options) -> ChoiceError:
    shown = token.strip()[:30]
    if options.given:
        return ChoiceError(f"« {shown} » n'est pas une des options. Options possibles : {options.listing()}.",
                           f"'{shown}' is not one of the options. Valid options: {options.listing()}.")
    return ChoiceError(
        f"« {shown} » n'est pas une option : répondez par la ou les lettres des options, "
        "par exemple « B » ou « A, C ».",
        f"'{shown}' is not an option: answer with the letter(s) of the options, for example 'B' or 'A, C'.")


def _picks(answer, options: _Options) -> set[str]:
    """The set of labels the learner chose."""
    if isinstance(answer, (list, tuple, set, frozenset)):
        items = list(answer)
    elif isinstance(answer, str):
        if len(answer) > MAX_LENGTH:
            raise ChoiceError(
                f"Réponse trop longue ({len(answer)} caractères) : donnez seulement les lettres des options.",
                f"The answer is too long ({len(answer)} characters): give the option letters only.")
        items = [answer]
    elif answer is None:
        items = []
    else:
        raise ChoiceError(
            "Répondez par la lettre de l'option (par exemple « B »), "
            f"pas par une valeur de type {type(answer).__name__}.",
            f"Answer with the option's letter (for example 'B'), not with a value of type {type(answer).__name__}.")
    picks: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise ChoiceError(
                "Chaque réponse doit être la lettre d'une option, "
                f"pas une valeur de type {type(item).__name__} ({item!r:.20}).",
                f"Each answer must be an option's letter, not a value of type {type(item).__name__} ({item!r:.20}).")
        picks.update(_split(item, options) if isinstance(answer, str) else [_single(item, options)])
    if not picks:
        raise ChoiceError(
            "Aucune option choisie : tapez la ou les lettres des options, par exemple « B » ou « A, C ».",
            "No option chosen: type the letter(s) of the options, for example 'B' or 'A, C'.")
    return picks


def _single(item: str, options: _Options) -> str:
    label = options.resolve(item)
    if label is None:
        raise _unknown(item, options)
    return label


def _expected_labels(expected, options) -> tuple[set[str], bool]:
    """The right labels and whether several are expected; ValueError for an authoring mistake."""
    multiple = isinstance(expected, (list, tuple, set, frozenset))
    items = list(expected) if multiple else [expected]
    if not items or not all(isinstance(item, str) and item.strip() for item in items):
        raise ValueError(f"expected={expected!r}: give an option label such as 'B', or a list such as ['A', 'C']")
    known = _Options(options, [item.strip() for item in items])
    labels = set()
    for item in items:
        label = known.resolve(item)
        if label is None:
            raise ValueError(f"expected option {item!r} is not in options ({known.listing()}); fix the check call")
        labels.add(label)
    return labels, multiple


def choice(answer, expected, *, options=None, lang: str | None = None) -> Result:
    """Grade a multiple-choice answer.

    Args:
        answer: the learner's text (``"B"``, ``"A, C"``...) or a list of labels.
        expected: the right label (one answer expected) or a list/set of labels (several;
            partial credit as in the module docstring). Option texts work too when
            ``options`` is a mapping.
        options: the option labels (``["A", "B", "C", "D"]``) or a mapping label → text;
            with it, an answer naming anything else is unreadable and the feedback lists
            the valid options.
        lang: feedback language, default ``$TREMPLIN_LANG``.

    Returns:
        A :class:`Result`: 1 when exactly the right options are chosen, partial credit
        for several expected options, 0 otherwise; the feedback never names the right options.

    Raises:
        ValueError: ``expected`` or ``options`` is invalid (a mistake in the notebook).
    """
    right_labels, multiple = _expected_labels(expected, options)
    known = _Options(options, sorted(right_labels))

    def work() -> Result:
        picks = _picks(answer, known)
        detail = f"choice: picked {sorted(picks)}, expected {sorted(right_labels)}"
        right, wrong = len(picks & right_labels), len(picks - right_labels)
        if picks == right_labels:
            return result(1.0, "Bravo, c'est juste !", "Well done, that's right!", lang=lang, detail=detail)
        if not multiple:
            if len(picks) > 1:
                return result(0.0, "Une seule réponse est attendue : choisissez une seule option.",
                              "Only one answer is expected: choose a single option.", lang=lang, detail=detail)
            return result(0.0, "Pas encore : ce n'est pas la bonne option.", "Not yet: that is not the right option.",
                          lang=lang, detail=detail)
        score = max(0.0, (right - wrong) / len(right_labels))
        lead_fr, lead_en = ("En partie juste : ", "Partly right: ") if score > 0 else ("Pas encore : ", "Not yet: ")
        if right == 0:
            fr, en = "aucune des options choisies n'est juste.", "none of the options you chose is right."
        elif wrong == 0:
            fr, en = ("vos choix sont justes, mais il manque des options.",
                      "your choices are right, but some options are missing.")
        else:
            fr, en = ("au moins une des options choisies est fausse.",
                      "at least one of the options you chose is wrong.")
        return result(score, lead_fr + fr, lead_en + en, lang=lang, detail=detail)

    try:
        return time_limited(work)
    except ChoiceError as exc:
        return unreadable(exc.fr, exc.en, lang=lang, detail=f"choice: unreadable answer {answer!r:.80}")
    except CheckTimeout:
        return needs_review(f"choice: time-out on answer {answer!r:.80}", lang=lang)
    except Exception as exc:  # a crash must become a result, never a lost answer
        return needs_review(f"choice: {type(exc).__name__}: {exc} on answer {answer!r:.80}", lang=lang)
