"""Running a test's body in a new interpreter with one thread.

:func:`tremplin_grading.forked.forked` refuses a process with other threads (a forked copy
could wait forever for a lock one of them held); the test process has some (session
fixtures' servers, asyncio helpers), so tests of what forks run their code here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_alone(code: str, timeout: float = 120) -> str:
    """Run ``code`` (Python, dedented) in a new interpreter that imports this checkout and the
    tests' helpers; returns what it printed. A failure in it fails the calling test."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(REPO / p) for p in ("graders", "extensions", "tests",
                                                                              "tests/unit")))
    proc = subprocess.run([sys.executable, "-W", "error", "-c", textwrap.dedent(code)], env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout
