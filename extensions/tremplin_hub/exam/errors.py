"""What the exam service refuses, as types: the core raises them, the web layer maps them to HTTP once.

Every message says what failed, for which id, and the fix. Messages a learner or candidate
reads carry French too (``fr``); :func:`bilingual` gives the text shown to people.
Nothing here knows about HTTP: :data:`tremplin_hub.exam.handlers.HTTP_STATUS` does.
"""

from __future__ import annotations


class ExamError(Exception):
    """A request the exam service refuses."""

    def __init__(self, message: str, *, fr: str = ""):
        super().__init__(message)
        self.message = message
        self.fr = fr

    def bilingual(self) -> str:
        """The French and the English message (only the English one when there is no French)."""
        return f"{self.fr} / {self.message}" if self.fr else self.message


class Invalid(ExamError):
    """The request itself is wrong: a name, a number, a body."""


class Forbidden(ExamError):
    """The caller may not do this."""


class NotFound(ExamError):
    """No such course, assignment, candidate, record or campaign."""


class Conflict(ExamError):
    """Not now: not released, not open yet, closed, already handed in, still being graded."""


class Gone(ExamError):
    """It existed and was removed on purpose (thinned autosave files)."""


class TooLarge(ExamError):
    """Over a size or count limit."""


class TooSoon(ExamError):
    """Rate-limited: retry later."""


class Unavailable(ExamError):
    """A part the service needs (the hub, the grading queue) does not answer: retry later."""


class Broken(ExamError):
    """The service's own storage is not as it should be (never the caller's fault)."""
