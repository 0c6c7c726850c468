"""``tremplin variants check``: every variant of an assignment must be gradable.

For each of N variants, the author's solution, personalized for that variant, must pass
every autograded test cell with full points, and the blank student version must not:
a variant whose parameters make a question impossible (a division by zero, a double
root, a test that always passes) is named by its seed before any candidate sees it.

The notebooks run in one real kernel (``%reset -f`` between runs, so sympy is imported
once); each cell runs under a time limit. The author's notebooks are trusted code; no
learner answer is involved.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .variants import parameters_cell, personalize, variant_seed

BLANK = "# YOUR CODE HERE\nraise NotImplementedError()"
CELL_TIMEOUT = 60


@dataclass
class VariantFailure:
    """One variant that does not work, and why."""

    seed: str
    notebook: str
    problem: str


@dataclass
class CheckReport:
    notebooks: list[str] = field(default_factory=list)
    variants: int = 0
    failures: list[VariantFailure] = field(default_factory=list)


def cell_source(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test_cell(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def solution_code(source: str) -> str:
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def blank_version(nb: dict) -> dict:
    """The student version as nbgrader makes it, hidden tests kept (they run at grading)."""
    out = copy.deepcopy(nb)
    for cell in out["cells"]:
        if nbgrader_meta(cell).get("solution") and cell.get("cell_type") == "code":
            cell["source"] = BLANK
    return out


def solution_version(nb: dict) -> dict:
    out = copy.deepcopy(nb)
    for cell in out["cells"]:
        if cell.get("cell_type") == "code":
            cell["source"] = solution_code(cell_source(cell))
    return out


class _Kernel:
    """One python3 kernel that runs cells and reports errors and results."""

    def __init__(self):
        from jupyter_client.manager import start_new_kernel

        self.km, self.kc = start_new_kernel(kernel_name="python3")

    def run(self, code: str) -> tuple[str | None, str | None]:
        """``(error, result_text)`` of running ``code``; error is None when it ran fine."""
        outputs: dict = {"result": None, "stderr": ""}

        def hook(msg):
            kind, content = msg["msg_type"], msg["content"]
            if kind == "execute_result":
                outputs["result"] = content["data"].get("text/plain")
            elif kind == "stream" and content.get("name") == "stderr":
                outputs["stderr"] += content.get("text", "")

        reply = self.kc.execute_interactive(code, timeout=CELL_TIMEOUT, output_hook=hook, allow_stdin=False)
        content = reply["content"]
        if content["status"] != "ok":
            return f"{content.get('ename', 'Error')}: {content.get('evalue', '')}", outputs["result"]
        if outputs["stderr"].strip():  # nbgrader gives 0 to a test cell writing to stderr
            return f"wrote to stderr: {outputs['stderr'].strip()[:200]}", outputs["result"]
        return None, outputs["result"]

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def _points(cell, error, result) -> float:
    """What nbgrader would award to a test cell (see nbgrader.utils.determine_grade)."""
    if error:
        return 0.0
    try:
        return float(result) if result is not None else float(nbgrader_meta(cell)["points"])
    except ValueError:
        return float(nbgrader_meta(cell)["points"])


def _run(kernel: _Kernel, nb: dict) -> list[tuple[dict, str | None, float]]:
    kernel.run("%reset -f")
    runs = []
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        error, result = kernel.run(cell_source(cell))
        runs.append((cell, error, _points(cell, error, result) if is_test_cell(cell) else 0.0))
    return runs


def check_assignment(source_dir: Path, exam_id: str, count: int = 50,
                     progress: Callable[[int, int], None] = lambda done, total: None) -> CheckReport:
    """Run ``count`` variants of every notebook of ``source_dir`` that has a parameters cell."""
    report = CheckReport()
    notebooks = []
    for path in sorted(Path(source_dir).glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        if parameters_cell(nb) is not None:
            notebooks.append((path.name, nb))
    report.notebooks = [name for name, _ in notebooks]
    if not notebooks:
        return report
    kernel = _Kernel()
    try:
        for i in range(count):
            seed = variant_seed(b"tremplin-variants-check", exam_id, str(i))
            for name, nb in notebooks:
                for cell, error, points in _run(kernel, personalize(solution_version(nb), seed)):
                    full = float(nbgrader_meta(cell).get("points", 0))
                    if error and not is_test_cell(cell):
                        report.failures.append(VariantFailure(seed, name, f"the solution fails in a cell: {error}"))
                    elif is_test_cell(cell) and points < full:
                        test = nbgrader_meta(cell)["grade_id"]
                        report.failures.append(VariantFailure(
                            seed, name, f"the solution gets {points:g}/{full:g} in test '{test}'"
                                        + (f" ({error})" if error else "")))
                for cell, error, points in _run(kernel, personalize(blank_version(nb), seed)):
                    full = float(nbgrader_meta(cell).get("points", 0))
                    if is_test_cell(cell) and full > 0 and points >= full:
                        report.failures.append(VariantFailure(
                            seed, name, f"a blank answer passes test '{nbgrader_meta(cell)['grade_id']}'"))
            report.variants += 1
            progress(i + 1, count)
    finally:
        kernel.close()
    return report
