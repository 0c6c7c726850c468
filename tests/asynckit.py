"""``asyncio.run`` that works in any test of the suite.

Playwright's sync API (the session's browser, tests/browser) keeps its event loop running in
the main thread for the rest of the session, so a later ``asyncio.run`` there raises "cannot be
called from a running event loop". Then the coroutine runs on a thread of its own.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor


def run(coro):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1, thread_name_prefix="asynckit") as pool:
        return pool.submit(asyncio.run, coro).result()
