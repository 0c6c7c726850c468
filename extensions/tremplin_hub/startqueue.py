"""First come, first served: how many learners' servers start at once, and everybody else's place in line.

A server's start is mostly Python importing JupyterLab: a few seconds of CPU. When a whole exam
session logs in at the same minute, starting them all at once shares two cores between a hundred
starts; none is up before the hub's timeouts and stock JupyterHub answers the rest with a 429
(FACTS.md: 13 of 20 fail with its defaults). Tremplin starts ``slots`` servers at a time instead
and gives everybody else their place in line and an estimate, on the page JupyterHub shows while
a server starts (:meth:`TremplinSpawner.progress`). The hub's own ``concurrent_spawn_limit``, which
refuses with a 429, is turned off: the line replaces it.

The estimate is the line's length divided by ``slots``, times the average time the last starts took
from their turn to a server answering (:data:`FIRST_GUESS_S` until one has been measured).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque

#: Seconds one start is assumed to take before any has been measured (FACTS.md: 3.2–7.0 s).
FIRST_GUESS_S = 6.0
#: How many recent starts the average is taken over.
REMEMBERED = 20


class StartQueue:
    """At most ``slots`` holders at once; the others wait in arrival order. One per hub process."""

    def __init__(self, slots: int):
        if slots < 1:
            raise ValueError(f"the start queue needs at least one slot, not {slots}: set TremplinSpawner.start_slots")
        self.slots = slots
        self._holders: dict[str, float] = {}  # name -> when their turn came (monotonic)
        self._waiting: OrderedDict[str, asyncio.Future] = OrderedDict()
        self._durations: deque[float] = deque(maxlen=REMEMBERED)
        self._changed = asyncio.Event()

    async def enter(self, name: str) -> None:
        """Wait for ``name``'s turn (at once when a slot is free and nobody waits); cancellable."""
        if name in self._holders or name in self._waiting:
            raise RuntimeError(f"{name} is already in the start queue")
        if len(self._holders) < self.slots and not self._waiting:
            self._take(name)
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting[name] = turn
        self._notify()
        try:
            await turn
        except asyncio.CancelledError:
            if self._waiting.pop(name, None) is None and name in self._holders:
                self.leave(name, measured=False)  # (the turn came as the wait was cancelled: pass it on)
            self._notify()
            raise

    def leave(self, name: str, *, measured: bool = True) -> None:
        """``name``'s start is over (up, failed or stopped): the next in line gets the slot.
        ``measured``: the time it took counts in the estimate (a failure's does not)."""
        began = self._holders.pop(name, None)
        if began is None:
            return
        if measured:
            self._durations.append(time.monotonic() - began)
        while self._waiting and len(self._holders) < self.slots:
            nxt, turn = self._waiting.popitem(last=False)
            if not turn.done():
                self._take(nxt)
                turn.set_result(None)
        self._notify()

    def place(self, name: str) -> int | None:
        """1 for the next to start, 2 after them…; None when ``name`` is not waiting."""
        for i, waiting in enumerate(self._waiting, start=1):
            if waiting == name:
                return i
        return None

    def estimate_s(self, place: int) -> float:
        """Seconds until the server of the one at ``place`` answers: the starts ahead (``slots`` at a time),
        then theirs."""
        mean = sum(self._durations) / len(self._durations) if self._durations else FIRST_GUESS_S
        return (math.ceil(place / self.slots) + 1) * mean

    async def changed(self, timeout: float) -> None:
        """Return when somebody joins or leaves the line, or after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def starting(self) -> int:
        return len(self._holders)

    def _take(self, name: str) -> None:
        self._holders[name] = time.monotonic()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def waiting_message(place: int, estimate_s: float) -> str:
    """The line under the progress bar while a learner waits, in French and English."""
    if estimate_s < 90:
        fr, en = f"environ {max(5, round(estimate_s / 5) * 5)} s", f"about {max(5, round(estimate_s / 5) * 5)} s"
    else:
        minutes = math.ceil(estimate_s / 60)
        fr, en = f"environ {minutes} min", f"about {minutes} min"
    ahead_fr = "vous êtes le prochain ou la prochaine" if place == 1 else f"{place - 1} personne(s) avant vous"
    ahead_en = "you are next" if place == 1 else f"{place - 1} before you"
    return (f"Beaucoup de personnes arrivent en même temps : place n° {place} dans la file ({ahead_fr}), "
            f"votre espace sera prêt dans {fr}. Gardez cette page ouverte. / "
            f"Many people are arriving at once: place {place} in line ({ahead_en}), your workspace will be ready "
            f"in {en}. Keep this page open.")


STARTING_MESSAGE = "C'est votre tour : votre espace démarre… / Your turn: your workspace is starting…"
