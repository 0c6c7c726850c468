"""Bounded time for every check: a pathological answer must never hang a kernel or the grader.

:func:`time_limited` runs a function with a wall-clock limit. In the main thread (an
nbgrader test cell, a widget callback in the kernel) it uses ``SIGALRM``, which interrupts
pure-Python work such as sympy's; elsewhere it runs the function in a daemon thread and
gives up waiting at the limit. Either way the caller gets :class:`CheckTimeout`, which
checkers turn into a "needs review" result.

An exception raised by a signal handler can land in a finalizer (a ``__del__``, a weakref
callback run by the garbage collector), where Python prints "Exception ignored" and goes
on. So the alarm is not raised in recognisable finalizers, fires again every
:data:`RETRY_SECONDS` until the check has really stopped, and a swallowed
:class:`CheckTimeout` is kept out of ``sys.unraisablehook`` while the check runs.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Callable, TypeVar

T = TypeVar("T")

#: Default limit for one check, in seconds.
DEFAULT_SECONDS = 2.0


#: How soon the alarm fires again when it could not interrupt the check.
RETRY_SECONDS = 0.01


def _in_finalizer(frame) -> bool:
    """Whether the interrupted code is a finalizer, where Python swallows exceptions."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or code.co_filename.endswith(("weakref.py", "_weakrefset.py")):
            return True
        frame = frame.f_back
        if frame is not None and frame.f_code.co_filename == __file__:
            return False  # reached time_limited itself: the code under it is the check
    return False


class CheckTimeout(Exception):
    """The check took longer than its limit."""


def time_limited(func: Callable[[], T], seconds: float = DEFAULT_SECONDS) -> T:
    """Return ``func()``, or raise :class:`CheckTimeout` after ``seconds``."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        state = {"active": True}

        def on_alarm(signum, frame):
            if not state["active"]:
                return  # the check is over: a late alarm must not escape into other code
            if _in_finalizer(frame):
                # An exception raised in a weakref callback or __del__ is swallowed by Python
                # (and the check would run on): try again as soon as the finalizer is done.
                signal.setitimer(signal.ITIMER_REAL, RETRY_SECONDS)
                return
            # Raise again shortly if this exception is swallowed somewhere all the same.
            signal.setitimer(signal.ITIMER_REAL, RETRY_SECONDS)
            raise CheckTimeout(f"no answer after {seconds} s")

        outer_hook = sys.unraisablehook

        def quiet_hook(unraisable):
            # Our alarm was swallowed in a callback the frame check did not recognise: expected,
            # the alarm fires again in RETRY_SECONDS. Anything else goes to the usual hook.
            if not isinstance(unraisable.exc_value, CheckTimeout):
                outer_hook(unraisable)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        sys.unraisablehook = quiet_hook
        old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return func()
        finally:
            state["active"] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.unraisablehook = outer_hook
            signal.signal(signal.SIGALRM, previous)
            if old_delay:  # an outer limit was running: give it back what is left of it
                signal.setitimer(signal.ITIMER_REAL, old_delay, old_interval)
    box: dict = {}

    def run():
        try:
            box["value"] = func()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise CheckTimeout(f"no answer after {seconds} s")
    if "error" in box:
        raise box["error"]
    return box["value"]
