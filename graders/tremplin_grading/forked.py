"""Work done by a forked copy of this process, for commands that have two cores and one thread.

``tremplin export`` of a campaign of 10,000 candidates is CPU-bound Python and SQLite work:
threads share one interpreter lock (and the gradebooks' reads then wait for it at every row),
processes do not. A forked copy starts in a few milliseconds with everything already imported
and read, computes bytes, writes them to an unnamed temporary file and leaves by ``os._exit``:
no buffer is flushed twice, no exit handler runs.

Only a process with no other thread forks (a thread may hold a lock that the copy would wait
for forever): the command line, not the hub's services; elsewhere the work is done in place.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable


def forked(make: Callable[[], bytes]) -> Callable[[], bytes]:
    """``make()`` computed by a forked copy of this process, starting now; returns the function that
    waits for its bytes (call it even when they are no longer needed: it reaps the copy). Where it
    cannot fork, where another thread runs, or when the copy fails, that function computes them
    here (the same bytes, later).
    """
    if threading.active_count() > 1:  # (a copy could wait forever for a lock another thread held)
        return make
    out = tempfile.TemporaryFile()
    try:
        pid = os.fork()
    except OSError:
        out.close()
        return make
    if pid == 0:  # the copy
        status = 1
        try:
            out.write(make())
            out.flush()
            status = 0
        finally:
            os._exit(status)

    done: list[bytes] = []

    def result() -> bytes:
        if not done:  # (the copy is waited for once; later calls give the same bytes)
            with out:
                _, status = os.waitpid(pid, 0)
                if os.waitstatus_to_exitcode(status) == 0:
                    out.seek(0)
                    done.append(out.read())
                else:
                    done.append(make())
        return done[0]

    return result
