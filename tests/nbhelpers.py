"""Notebook helpers for tests: answer a released notebook with the source's solutions."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import nbformat

from tremplin_grading.variants_check import solution_code as solution_text

def solutions(source_notebook: Path) -> dict[str, str]:
    """``{grade_id: answer}`` for every solution cell of a source notebook."""
    nb = nbformat.read(source_notebook, as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            out[meta["grade_id"]] = solution_text(cell.source)
    return out


def answer(released: dict, answers: dict[str, str]) -> dict:
    """Return a copy of the released notebook JSON with ``answers`` written into the solution cells."""
    nb = copy.deepcopy(released)
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in answers:
            cell["source"] = answers[meta["grade_id"]]
    return nb


def autograded_points(source_notebook: Path) -> float:
    """Total points of the autograded test cells of a source notebook."""
    nb = nbformat.read(source_notebook, as_version=4)
    return sum(c.metadata["nbgrader"].get("points", 0) for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution"))


def manual_points(source_notebook: Path) -> float:
    nb = nbformat.read(source_notebook, as_version=4)
    return sum(c.metadata["nbgrader"].get("points", 0) for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution"))


def has_variants(source_notebook: Path) -> bool:
    """Whether the notebook has a parameters cell (its candidates get personalized copies)."""
    nb = nbformat.read(source_notebook, as_version=4)
    return any(c.metadata.get("tremplin", {}).get("parameters") for c in nb.cells)


def run_nbgrader(root: Path, *args: str, **env_overrides: str) -> None:
    """Run this venv's ``nbgrader`` in the course directory ``root``; fail the test with its stderr."""
    env = {**os.environ, "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
           **env_overrides}
    env.pop("TREMPLIN_VARIANT_SEED", None)  # grading must find each student's variant by itself
    proc = subprocess.run([str(Path(sys.prefix) / "bin" / "nbgrader"), *args], cwd=root, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
