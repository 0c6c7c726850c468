"""The time limit of checks: it interrupts pure-Python work, and never raises inside a finalizer,
where Python would swallow the exception and let the check run on."""

from __future__ import annotations

import gc
import sys
import time

import pytest

from tremplin_grading.check.limits import CheckTimeout, _in_finalizer, time_limited


def test_a_busy_loop_is_interrupted_on_time():
    start = time.monotonic()
    with pytest.raises(CheckTimeout):
        time_limited(lambda: [i * i for i in iter(int, 1)], 0.2)
    assert time.monotonic() - start < 1


def test_finalizer_frames_are_recognised():
    seen = {}

    class Tracked:
        def __del__(self):
            seen["in_del"] = _in_finalizer(sys._getframe())

    Tracked()
    gc.collect()
    assert seen["in_del"] is True
    assert _in_finalizer(sys._getframe()) is False


def test_a_check_full_of_finalizers_is_still_interrupted():
    """About half the time goes to finalizers (as sympy's caches do in bursts): alarms often land
    in one. Ten short limits in a row must all end on time, without an 'Exception ignored' warning."""

    class Garbage:
        def __del__(self):
            sum(range(3000))

    def churn():
        stop = time.monotonic() + 3  # bounded, so a broken limit fails the assertion instead of hanging
        while time.monotonic() < stop:
            a, b = Garbage(), Garbage()
            a.other, b.other = b, a  # cycles: freed by the garbage collector, finalizers and all
            del a, b
            sum(range(3000))

    for _ in range(10):
        start = time.monotonic()
        with pytest.raises(CheckTimeout):
            time_limited(churn, 0.05)
        assert time.monotonic() - start < 1


def test_the_value_comes_back_and_no_alarm_is_left_behind():
    assert time_limited(lambda: 42, 0.05) == 42
    time.sleep(0.1)  # a stray alarm would raise here
