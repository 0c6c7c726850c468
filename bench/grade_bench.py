"""Benchmark: grading the same real ``math-2027`` papers with stock ``nbgrader autograde`` and with Tremplin.

Run as root: ``make bench`` (or ``python bench/grade_bench.py [N ...]``, default 30 and 300).

For each size N, the same N papers (a quarter each: right answers computed with sympy, right
answers typed as text, half right, blank; every candidate with their own variant) are graded

* **stock**: ``nbgrader autograde math-2027`` in a course directory configured as stock
  nbgrader is (one kernel per paper runs the answers and the hidden tests), serially, as a
  professor runs it, process start-up included;
* **Tremplin**: end to end as in production: ``tremplin courses sync`` prepares the course
  (grader account, gradebook), the ``tremplin-grader`` service runs (sandbox on: bubblewrap,
  one account per slot, as many slots as cores), the N papers are put in its queue as the exam
  service does, and the clock stops when the queue has recorded the last score in the
  gradebook (the service is started and warm before the clock starts, as it is on a campaign day).

Then it checks that both gradebooks hold the same score for every paper, and prints the
seconds, papers per second and the ratio (goal: Tremplin ≥ 10× stock throughput on 2 cores).
Not a test: only the score check can fail it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "graders"), str(REPO / "extensions"), str(REPO / "tests")]

COURSE, EXAM, NB = "preselection-math", "math-2027", "math-2027.ipynb"
BIN = Path(sys.prefix) / "bin"


def papers(n: int, source: dict, released: dict, key: bytes) -> dict[str, dict]:
    from integration.test_math_variants import typed_answers
    from tremplin_grading.variants import personalize, variant_seed
    from tremplin_grading.variants_check import solution_code

    from gradingkit import with_cells

    out = {}
    for i in range(n):
        student = f"cand-{i:04d}"
        seed = variant_seed(key, f"{COURSE}/{EXAM}", student)
        copy = personalize(released, seed)
        personal = personalize(source, seed)
        kind = i % 4
        if kind == 0:
            answers = {c["metadata"]["nbgrader"]["grade_id"]: solution_code("".join(c["source"]))
                       for c in personal["cells"] if c["metadata"].get("nbgrader", {}).get("solution")
                       and c["cell_type"] == "code"}
        elif kind == 1:
            answers = typed_answers(personal)
        elif kind == 2:
            typed = typed_answers(personal)
            answers = {g: (a if j % 2 else a.split("=")[0] + "= 7") for j, (g, a) in enumerate(sorted(typed.items()))}
        else:
            answers = {}
        out[student] = with_cells(copy, answers)
    return out


def scores(gradebook: Path) -> dict[str, float]:
    from tremplin_grading.results import read_gradebook

    return {s: g.score for s, g in read_gradebook(gradebook, EXAM).items()}


def run(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc


def main(sizes: list[int]) -> None:
    if os.geteuid() != 0:
        raise SystemExit("run as root: the sandbox runs as accounts of its own (see README, 'Grading')")
    from tremplin_grading.coursework import nbgrader_config_text
    from tremplin_grading.queue import GradingQueue
    from tremplin_hub.layout import Layout

    base = Path(tempfile.mkdtemp(prefix="tremplin-grade-bench-", dir="/tmp"))
    base.chmod(0o711)
    try:
        courses = base / "courses"
        shutil.copytree(REPO / "courses" / COURSE, courses / COURSE)
        toml = courses / COURSE / "course.toml"
        toml.write_text(toml.read_text().replace('instructors = ["professor"]', 'instructors = ["bench-prof"]'))
        env = {**os.environ, "TREMPLIN_DATA_DIR": str(base / "data"), "TREMPLIN_COURSES_DIR": str(courses),
               "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
        env.pop("PYTHONPATH", None)
        from tremplin_hub.accounts import AccountStore

        layout = Layout(base / "data")
        layout.prepare(shared_accounts=False)
        store = AccountStore(layout.accounts_url)
        store.add("bench-prof", "professor", "bench-password-123")
        store.close()
        run([str(BIN / "tremplin"), "courses", "sync"], env=env, cwd=base)
        course_dir = layout.course_dir(COURSE)
        key = (course_dir / "variants.key").read_text().strip().encode()
        source = json.loads((REPO / "courses" / COURSE / "source" / EXAM / NB).read_text())
        released = json.loads((course_dir / "release" / EXAM / NB).read_text())

        log = open(base / "grader.log", "wb")
        from tremplin_grading.engine.local import child_preexec

        grader = subprocess.Popen([str(BIN / "tremplin-grader")], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  cwd=base, preexec_fn=child_preexec())  # (it dies with the benchmark)
        deadline = time.monotonic() + 180
        while not layout.grading_socket.exists():
            if grader.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"tremplin-grader did not start: {(base / 'grader.log').read_text()[-3000:]}")
            time.sleep(0.2)
        time.sleep(8)  # its slots finish warming up before the clock starts
        workers = os.cpu_count()
        print(f"grading {', '.join(map(str, sizes))} real {COURSE}/{EXAM} papers; {workers} cores; sandbox on "
              f"(bubblewrap, one account per slot)")
        rows = []
        for n in sizes:
            subs = papers(n, source, released, key)
            # stock nbgrader, serially, as `nbgrader autograde` runs
            stock_root = base / f"stock-{n}"
            shutil.copytree(REPO / "courses" / COURSE / "source" / EXAM, stock_root / "source" / EXAM)
            (stock_root / "nbgrader_config.py").write_text(nbgrader_config_text(COURSE, stock_root))
            shutil.copy(course_dir / "variants.key", stock_root / "variants.key")
            run([str(BIN / "nbgrader"), "generate_assignment", EXAM, "--force"], cwd=stock_root, env=env)
            for student, nb in subs.items():
                folder = stock_root / "submitted" / student / EXAM
                folder.mkdir(parents=True)
                (folder / NB).write_text(json.dumps(nb))
                (folder / "timestamp.txt").write_text("2027-03-15 10:00:00.000000 UTC")
            t0 = time.perf_counter()
            run([str(BIN / "nbgrader"), "autograde", EXAM, "--create", "--force"], cwd=stock_root, env=env)
            stock_s = time.perf_counter() - t0

            # Tremplin: the papers arrive in the queue; the service grades them into the course's gradebook
            queue = GradingQueue(layout.grading_db_url)
            since = queue.last_id()
            t0 = time.perf_counter()
            for student, nb in subs.items():
                queue.enqueue(COURSE, EXAM, student, {NB: json.dumps(nb).encode()},
                              timestamp="2027-03-15 10:00:00.000000 UTC", source=f"bench:{n}:{student}")
            while queue.progress(COURSE, EXAM, since=since).pending:
                if grader.poll() is not None:
                    raise SystemExit(f"tremplin-grader stopped: {(base / 'grader.log').read_text()[-3000:]}")
                time.sleep(0.05)
            tremplin_s = time.perf_counter() - t0
            states = queue.progress(COURSE, EXAM, since=since).counts
            queue.close()

            stock_scores = scores(stock_root / "gradebook.db")
            ours = {s: v for s, v in scores(course_dir / "gradebook.db").items() if s in subs}
            same = stock_scores == ours
            rows.append((n, stock_s, tremplin_s, same, states))
            print(f"  {n:4d} papers: stock {stock_s:7.1f} s ({n / stock_s:5.2f} papers/s) · Tremplin {tremplin_s:6.1f} s "
                  f"({n / tremplin_s:5.2f} papers/s) · ratio {stock_s / tremplin_s:5.1f}× · scores identical: {same} "
                  f"· {states['done']} done, {states['flagged']} flagged, {states['error']} errors")
            if not same:
                diff = {s: (stock_scores.get(s), ours.get(s)) for s in set(stock_scores) | set(ours)
                        if stock_scores.get(s) != ours.get(s)}
                print(f"  score differences (stock, Tremplin): {dict(list(diff.items())[:10])}")
        grader.terminate()
        grader.wait(60)
        n, stock_s, tremplin_s, same, _ = rows[-1]
        print(f"grading ratio at {n} papers: {stock_s / tremplin_s:.1f}× stock throughput (goal ≥ 10×); "
              f"honest scores identical to stock: {all(r[3] for r in rows)}")
        if not all(r[3] for r in rows):
            raise SystemExit(1)
    finally:
        subprocess.run(["pkill", "-f", str(base)], check=False)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [30, 300])
