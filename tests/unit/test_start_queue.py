"""The start queue: a few servers start at once, the others wait in arrival order and know their place."""

from __future__ import annotations

import asyncio

import pytest

from tremplin_hub.startqueue import FIRST_GUESS_S, StartQueue, waiting_message


def run(coro):
    return asyncio.run(coro)


def test_the_first_slots_start_at_once_and_the_others_wait_in_arrival_order():
    async def scenario():
        queue = StartQueue(2)
        await queue.enter("a")
        await queue.enter("b")
        order = []

        async def wait(name):
            await queue.enter(name)
            order.append(name)

        tasks = [asyncio.create_task(wait(n)) for n in ("c", "d", "e")]
        await asyncio.sleep(0)
        assert (queue.starting, queue.waiting) == (2, 3)
        assert [queue.place(n) for n in ("c", "d", "e", "a")] == [1, 2, 3, None]
        queue.leave("a")
        await asyncio.sleep(0)
        assert order == ["c"] and queue.place("d") == 1
        queue.leave("b")
        queue.leave("c")
        await asyncio.gather(*tasks)
        assert order == ["c", "d", "e"] and queue.waiting == 0 and queue.starting == 2

    run(scenario())


def test_a_cancelled_wait_leaves_the_line_and_a_cancelled_turn_passes_the_slot_on():
    async def scenario():
        queue = StartQueue(1)
        await queue.enter("a")
        b = asyncio.create_task(queue.enter("b"))
        c = asyncio.create_task(queue.enter("c"))
        await asyncio.sleep(0)
        b.cancel()  # b stops waiting ("Stop starting" on the page)
        with pytest.raises(asyncio.CancelledError):
            await b
        assert queue.place("c") == 1
        d = asyncio.create_task(queue.enter("d"))
        await asyncio.sleep(0)
        queue.leave("a")  # c's turn comes…
        c.cancel()  # …as c's wait is cancelled: d gets it
        with pytest.raises(asyncio.CancelledError):
            await c
        await asyncio.wait_for(d, 1)
        assert queue.starting == 1 and queue.waiting == 0

    run(scenario())


def test_the_same_name_cannot_queue_twice_and_a_queue_needs_a_slot():
    async def scenario():
        queue = StartQueue(1)
        await queue.enter("a")
        with pytest.raises(RuntimeError, match="a is already in the start queue"):
            await queue.enter("a")

    run(scenario())
    with pytest.raises(ValueError, match="start_slots"):
        StartQueue(0)


def test_the_estimate_follows_the_measured_starts():
    async def scenario():
        queue = StartQueue(2)
        assert queue.estimate_s(1) == 2 * FIRST_GUESS_S  # the starts ahead, then one's own
        assert queue.estimate_s(5) == 4 * FIRST_GUESS_S
        queue._durations.extend([2.0, 4.0])
        assert queue.estimate_s(3) == 3 * 3.0
        await queue.enter("a")
        queue.leave("a", measured=False)  # a failed start does not count
        assert len(queue._durations) == 2

    run(scenario())


def test_the_waiting_message_gives_the_place_and_estimate_in_french_and_english():
    text = waiting_message(12, 41)
    assert "place n° 12 dans la file (11 personne(s) avant vous)" in text
    assert "prêt dans environ 40 s" in text
    assert "place 12 in line (11 before you)" in text and "ready in about 40 s" in text
    assert "environ 4 min" in waiting_message(30, 200) and "about 4 min" in waiting_message(30, 200)
    assert "vous êtes le prochain" in waiting_message(1, 3) and "you are next" in waiting_message(1, 3)


def test_the_windows_opening_within_the_lead_are_those_of_exams_not_yet_open():
    import datetime as dt
    from pathlib import Path

    from tremplin_grading.courses import load_courses
    from tremplin_hub.prestart import windows_opening

    courses = load_courses(Path(__file__).resolve().parents[2] / "courses").courses
    physics = next(c for c in courses if c.id == "preselection-physics")
    opens = physics.assignments[0].opens
    lead = dt.timedelta(minutes=20)
    found = windows_opening(courses, {}, opens - dt.timedelta(minutes=10), lead)
    assert [(w.course, w.assignment, w.group) for w in found if w.course == physics.id] == [
        (physics.id, physics.assignments[0].id, f"nbgrader-{physics.id}")]
    early = windows_opening(courses, {}, opens - dt.timedelta(minutes=30), lead)
    assert not [w for w in early if w.course == physics.id]
    assert not [w for w in windows_opening(courses, {}, opens, lead) if w.course == physics.id], "already open"
    moved = {(physics.id, physics.assignments[0].id): opens + dt.timedelta(days=1)}  # a coordinator's session
    assert not [w for w in windows_opening(courses, moved, opens - dt.timedelta(minutes=10), lead)
                if w.course == physics.id]
    assert all(c.kind == "exam" for c in courses if c.id in {w.course for w in found})
