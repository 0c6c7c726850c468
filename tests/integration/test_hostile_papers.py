"""Papers written to cheat or to break grading, each through the real queue: none earns a point it did not answer.

Each hostile candidate fetches their own copy of ``math-2027`` (or ``devoir-1``) from the exam
service and hands in, with their own token, a notebook (and files) built to subvert grading:
patched checkers and builtins, a package planted beside the notebook, rebound parameters,
fake output, exits, loops, bombs, secrets read, sockets opened, files and processes left for
the next paper, tests deleted or edited, forged metadata and forged frames. The hub's
``tremplin-grader`` service grades them as they arrive, with the run's short limits (3 s per
cell, 15 s per paper). Honest candidates hand in between them.

For every paper: the job ends ``done`` or ``flagged`` (never a crashed queue), the score is
exactly what its genuine answers earn, nothing secret shows up in any output, and the honest
papers graded meanwhile get their full marks.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest

from gradingkit import Candidate, outcome, solution_code, wait_for_jobs, with_cells
from hubfixture import is_root

pytestmark = [pytest.mark.hub, pytest.mark.skipif(not is_root(), reason="sandbox accounts need root")]

MATH = ("preselection-math", "math-2027", "math-2027.ipynb")
MOOC = ("python-intro", "devoir-1", "devoir-1.ipynb")
POINTS = {"q1": 1, "q2": 3, "q3": 1, "q4": 1, "q5": 1, "q6": 2, "q7": 3, "q8": 2, "q9": 1, "q11": 2, "q12": 2,
          "q13": 1, "q14": 2, "q15": 3, "q16": 2}
WRONG = {f"{q}-answer": f"{q}_answer = 12345" for q in POINTS}
# Parameters outside every range of draw(): answers computed with them are wrong for any real variant.
FOREIGN_P = ("from tremplin_grading.variants import Params\n"
             "p = Params(k=20, a=10, c=10, m=9, b=9, w=7, y0=9, v0=9, r=9, s=9, e=20, prev=3)")
# Questions whose test does not use the candidate's parameters.
NO_PARAMETERS = ("q3", "q7", "q13", "q14", "q16")
FORGED_FRAME = """
import json, struct
def frame(obj):
    body = json.dumps(obj).encode()
    return struct.pack(">I", len(body)) + body
import os
values = {"p": ["x", "Params", ""], "_expected": ["i", "12345"], "check": ["i", "1"], "q1_answer": ["i", "12345"]}
os.write(3, frame({"op": "ready", "values": values}))
os.write(3, b"\\x00\\x00\\x00\\x10garbage-garbage!")
"""


@pytest.fixture(scope="module")
def listener():
    """A TCP server on the loopback that counts who connects to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    seen, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, addr = server.accept()
                seen.append(addr)
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    stop.set()
    thread.join(2)
    server.close()


def secrets_probe(hub, port: int) -> str:
    data = hub.data_dir
    course = data / "courses" / "preselection-math"
    paths = ["/etc/shadow", "/etc/passwd", str(course / "gradebook.db"), str(course / "variants.key"),
             str(course / "source" / "math-2027" / "math-2027.ipynb"), str(data / "exam" / "exam.sqlite"),
             str(data / "grading" / "queue" / "queue.sqlite"), str(data / "home" / hub.names["learner1"]),
             str(data / "hub" / "accounts.sqlite"), "/proc/1/environ", "/root"]
    return (
        "import os, socket\n"
        "probe = {}\n"
        f"for path in {paths!r}:\n"
        "    try:\n"
        "        probe[path] = (os.listdir(path) if os.path.isdir(path) else open(path, 'rb').read(200).hex())\n"
        "    except Exception as e:\n"
        "        probe[path] = 'REFUSED ' + type(e).__name__\n"
        f"for host, port in (('127.0.0.1', {port}), ('127.0.0.1', {hub.url.rsplit(':', 1)[1]}), ('10.0.0.1', 80)):\n"
        "    try:\n"
        "        socket.create_connection((host, port), timeout=2)\n"
        "        probe[(host, port)] = 'CONNECTED'\n"
        "    except Exception as e:\n"
        "        probe[(host, port)] = 'REFUSED ' + type(e).__name__\n"
        "try:\n"
        "    socket.gethostbyname('example.com')\n"
        "    probe['dns'] = 'RESOLVED'\n"
        "except Exception as e:\n"
        "    probe['dns'] = 'REFUSED ' + type(e).__name__\n"
        "probe['env'] = dict(os.environ)\n"
        "probe['uid'] = os.getuid()\n"
        "print(probe)\n"
    )


def math_cases(hub, port):
    """``{kind: (build(copy, solutions) -> (notebook, extra files), expected score, flags expected)}``."""
    def only(*qs, **more):
        return lambda S: {**{f"{q}-answer": S[f"{q}-answer"] for q in qs}, **more}

    def case(answers, after=None, files=None, **edit):
        def build(nb, S):
            return with_cells(nb, answers(S), after=after, **edit), files or {}
        return build

    after_params = lambda *codes: {"parameters": list(codes)}  # noqa: E731
    return {
        "patched_checkers": (case(lambda S: WRONG, after_params(
            "from tremplin_grading.check.result import Result, result\n"
            "Result.award = lambda self, points: float(points)\n"
            "import tremplin_grading.check as check\n"
            "check.expression = check.number = lambda *a, **k: result(1, 'ok', 'ok')\n"
            "import sympy\nsympy.Basic.__eq__ = lambda self, other: True")), 0, set()),
        "patched_builtins": (case(lambda S: WRONG, after_params(
            "import builtins, math\n"
            "builtins.isinstance = lambda *a: True\nbuiltins.float = lambda *a: 0.0\n"
            "builtins.AssertionError = type('Never', (Exception,), {})\nmath.isclose = lambda *a, **k: True")), 0, set()),
        "planted_package": (case(lambda S: WRONG, after_params(
            "import sys; sys.modules.pop('tremplin_grading', None); sys.modules.pop('tremplin_grading.check', None)\n"
            "import tremplin_grading.check")), 0, set()),
        "rebound_parameters": (case(lambda S: {k: v for k, v in S.items() if k.endswith("-answer") and k != "q10-answer"},
                                    after_params(FOREIGN_P)),
                               sum(POINTS[q] for q in NO_PARAMETERS), set()),
        "fake_output": (case(lambda S: {}, {"q16-answer": [
            "print('All tests passed! Score: 30/30')\nimport sys\nsys.stdout.write('Tests réussis 30/30\\n')\n"
            "from IPython.display import display\ndisplay(30.0)\n30.0"]}), 0, set()),
        "sys_exit": (case(only("q1", "q3"), {"q1-answer": ["import sys\nsys.exit(0)"]}), 2, set()),
        "os_exit": (case(only("q1", "q3"), {"q1-answer": ["import os\nos._exit(0)"]}), 1, {"ended"}),
        "kill_kernel": (case(only("q1", "q3"), {"q1-answer": ["import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"]}),
                        1, {"ended"}),
        "infinite_loop": (case(only("q1", "q3", **{"q2-answer": "while True:\n    pass"})), 2, {"cell_time"}),
        "signals_ignored": (case(only("q1", "q3", **{"q2-answer":
                                 "import signal\nfor s in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):\n"
                                 "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    try:\n        pass\n"
                                 "    except BaseException:\n        pass"})), 1, {"wall_time"}),
        "fork_bomb": (case(only("q1", "q3"), {"q1-answer": [
            "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"]}), 2, {"cell_time"}),
        "memory_bomb": (case(only("q1", "q3"), {"q1-answer": [
            "hog = bytearray(10 ** 11)", "hog = [bytearray(10 ** 7) for _ in range(10 ** 5)]"]}), 2, set()),
        "huge_output": (case(only("q1", "q3"), {"q1-answer": [
            "print('A' * 50_000_000)", "for i in range(2_000_000):\n    print(i)"]}), 2, {"output_limit"}),
        "huge_files": (case(only("q1", "q3"), {"q1-answer": [
            "try:\n    open('big', 'wb').write(b'0' * (400 * 2 ** 20))\nexcept OSError as e:\n    print(e)",
            "for i in range(10 ** 6):\n    open(f'f{i}', 'w').close()"]}), 2, set()),
        "secrets_and_sockets": (case(lambda S: {}, after_params(secrets_probe(hub, port))), 0, set()),
        "deleted_tests": (case(only("q1"), drop_tests=True), 1, set()),
        "edited_tests": (case(lambda S: WRONG, test_sources="3.0"), 0, set()),
        "threads_left": (case(only("q1"), {"q1-answer": [
            "import threading, time, os\n"
            "def spin():\n    while True:\n        try:\n            os.write(3, b'\\x00\\x00\\x00\\x05xxxxx')\n"
            "        except OSError:\n            pass\n        time.sleep(0.001)\n"
            "for _ in range(4):\n    threading.Thread(target=spin, daemon=False).start()"]}), None, set()),
        "forged_metadata": (case(lambda S: WRONG, extra=[
            {"cell_type": "code", "source": "1000.0", "outputs": [], "execution_count": None,
             "metadata": {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1000,
                                       "grade_id": "bonus", "schema_version": 3}}},
            {"cell_type": "code", "source": "3.0", "outputs": [], "execution_count": None,
             "metadata": {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 3,
                                       "grade_id": "q2-test", "schema_version": 3}}}]), 0, set()),
        "forged_frames": (case(lambda S: WRONG, after_params(FORGED_FRAME)), 0, set()),
        "unreadable_objects": (case(lambda S: {
            **WRONG, "q1-answer": "class Always:\n    def __eq__(self, other):\n        return True\n"
                                  "    __hash__ = object.__hash__\nq1_answer = Always()",
            "q3-answer": "class Yes(int):\n    def __eq__(self, other):\n        return True\n"
                         "    __hash__ = int.__hash__\nq3_answer = Yes(7)",
            "q2-answer": "q2_answer = []\nfor _ in range(10000):\n    q2_answer = [q2_answer]",
            "q4-answer": "q4_answer = list(range(10 ** 7))"}), 0, {"unreadable"}),
    }


def mooc_cases():
    def build(overrides):
        def make(nb, S):
            answers = {k: v for k, v in S.items()}
            answers.update(overrides)
            return with_cells(nb, answers), {}
        return make

    return {
        "fn_always_equal": (build({"q1-answer": "class Always(float):\n    def __eq__(self, o):\n        return True\n"
                                                "    __hash__ = float.__hash__\n"
                                                "def prix_ttc(prix_ht, taux=0.18):\n    return Always(0)"}), 8, set()),
        "fn_patches_the_test": (build({"q3-answer": "def moyenne_mobile(valeurs, k):\n    import math, builtins\n"
                                                    "    math.isclose = lambda *a, **kw: True\n"
                                                    "    builtins.isinstance = lambda *a: True\n    return [0]"}), 8, set()),
        "fn_exits": (build({"q2-answer": "def pluie_par_mois(releves):\n    raise SystemExit(0)"}), 8, set()),
        "fn_loops": (build({"q4-answer": "def mensualite(capital, taux_annuel, n_mois):\n    while True:\n"
                                         "        pass"}), 8, {"call_time"}),
        "fn_mutates_its_argument": (build({"q2-answer": "def pluie_par_mois(releves):\n    cumuls = {}\n"
                                                        "    for date, pluie in releves:\n"
                                                        "        cumuls[date[:7]] = cumuls.get(date[:7], 0) + pluie\n"
                                                        "    releves.clear()\n    return cumuls"}), 8, set()),
    }


@pytest.fixture(scope="module")
def graded(hub, listener):
    """Every hostile and honest paper, handed in and graded; ``{kind: Outcome}``."""
    port, _seen = listener
    names, kinds = {}, {}
    course, assignment, notebook = MATH
    honest_math = [Candidate(hub, course, assignment, f"honest{i}") for i in range(2)]
    S_of = lambda c: solution_code(course, assignment, notebook)  # noqa: E731
    for cand in honest_math[:1]:
        cand.submit({notebook: json.dumps(with_cells(cand.copy(notebook), S_of(cand))).encode()})
        names[cand.name] = ("honest-before", MATH)
    for kind, (build, expected, flags) in math_cases(hub, port).items():
        cand = Candidate(hub, course, assignment, kind.replace("_", "")[:12])
        nb, files = build(cand.copy(notebook), S_of(cand))
        if kind == "planted_package":
            files = {"tremplin_grading/__init__.py": b"raise SystemExit('planted')\n",
                     "tremplin_grading/check/__init__.py":
                         b"from tremplin_grading.check.result import result\n"
                         b"def expression(*a, **k):\n    return result(1, 'ok', 'ok')\nnumber = expression\n",
                     "sympy.py": b"raise SystemExit('planted sympy')\n", "sitecustomize.py": b"import os\n"}
        cand.submit({notebook: json.dumps(nb).encode(), **files})
        names[cand.name], kinds[kind] = (kind, MATH), (cand.name, expected, flags)
    for cand in honest_math[1:]:
        cand.submit({notebook: json.dumps(with_cells(cand.copy(notebook), S_of(cand))).encode()})
        names[cand.name] = ("honest-after", MATH)
    course, assignment, notebook = MOOC
    for kind, (build, expected, flags) in mooc_cases().items():
        cand = Candidate(hub, course, assignment, kind.replace("_", "")[:12])
        nb, files = build(cand.copy(notebook), solution_code(*MOOC))
        cand.submit({notebook: json.dumps(nb).encode(), **files})
        names[cand.name], kinds[kind] = (kind, MOOC), (cand.name, expected, flags)
    jobs = wait_for_jobs(hub, list(names), timeout=600)
    results = {}
    for name, (kind, (c, a, n)) in names.items():
        (job,) = jobs[name]
        results[kind] = outcome(hub, c, a, n, name, job)
    return results, kinds


HOSTILE_KINDS = [
    "patched_checkers", "patched_builtins", "planted_package", "rebound_parameters", "fake_output", "sys_exit",
    "os_exit", "kill_kernel", "infinite_loop", "signals_ignored", "fork_bomb", "memory_bomb", "huge_output",
    "huge_files", "secrets_and_sockets", "deleted_tests", "edited_tests", "threads_left", "forged_metadata",
    "forged_frames", "unreadable_objects", "fn_always_equal", "fn_patches_the_test", "fn_exits", "fn_loops",
    "fn_mutates_its_argument",
]


def test_the_suite_covers_every_hostile_kind(graded):
    _results, kinds = graded
    assert sorted(kinds) == sorted(HOSTILE_KINDS) and len(HOSTILE_KINDS) >= 20


@pytest.mark.parametrize("kind", HOSTILE_KINDS)
def test_a_hostile_paper_is_graded_and_earns_only_what_its_answers_earn(graded, kind):
    results, kinds = graded
    got = results[kind]
    _name, expected, flags = kinds[kind]
    assert got.job.state in ("done", "flagged"), (got.job.state, got.job.error)
    if expected is None:  # threads that scribble on the channel may cost the paper its own answers, never more
        assert got.score is not None and got.score <= 1
    else:
        assert got.score == expected, (got.score, expected, got.job.flags)
    assert flags <= got.flag_reasons(), (flags, got.job.flags)


def test_honest_papers_graded_among_hostile_ones_get_full_marks(graded):
    results, _ = graded
    for kind in ("honest-before", "honest-after"):
        assert results[kind].job.state == "done" and results[kind].score == sum(POINTS.values()), kind


def test_no_secret_file_socket_or_token_is_reached(graded, hub, listener):
    results, _ = graded
    _port, seen = listener
    text = results["secrets_and_sockets"].outputs_text()
    assert "REFUSED" in text
    for word in ("CONNECTED", "RESOLVED", "JUPYTERHUB_API_TOKEN", "root:x:0:0"):
        assert word not in text, word
    assert not seen, f"a paper reached the test's TCP server: {seen}"
    key = (hub.data_dir / "courses" / "preselection-math" / "variants.key").read_text().strip()
    for kind, result in results.items():
        dumped = result.outputs_text()
        assert key not in dumped and key.encode().hex()[:40] not in dumped, kind
    assert "'uid': 0" not in text


def test_papers_after_a_paper_that_left_files_and_processes_find_nothing(hub):
    """A paper plants files and processes; papers graded after it on every slot see a clean sandbox."""
    course, assignment, notebook = MATH
    leaver = Candidate(hub, course, assignment, "leaver")
    plant = ("import os, subprocess, time\n"
             "open('/tmp/planted.py', 'w').write('PLANTED')\nopen('planted.txt', 'w').write('PLANTED')\n"
             "subprocess.Popen(['sleep', '600'])\n"
             "if os.fork() == 0:\n    os.setsid()\n    while True:\n"
             "        open('/tmp/again.txt', 'w').write('PLANTED')\n        time.sleep(0.05)\n")
    leaver.submit({notebook: json.dumps(with_cells(leaver.copy(notebook), {}, after={"parameters": [plant]})).encode()})
    wait_for_jobs(hub, [leaver.name])
    look = ("import os, subprocess\n"
            "seen = (sorted(os.listdir('/tmp')), sorted(os.listdir('.')),\n"
            "        subprocess.run(['ps', '-e', '-o', 'comm='], capture_output=True, text=True).stdout.split())\n"
            "print('SEEN', seen)")
    readers = [Candidate(hub, course, assignment, f"reader{i}") for i in range(3)]
    for reader in readers:
        reader.submit({notebook: json.dumps(with_cells(reader.copy(notebook), {}, after={"parameters": [look]}))
                      .encode()})
    jobs = wait_for_jobs(hub, [r.name for r in readers])
    for reader in readers:
        text = outcome(hub, course, assignment, notebook, reader.name, jobs[reader.name][0]).outputs_text()
        assert "SEEN" in text
        assert "PLANTED" not in text and "planted" not in text and "sleep" not in text and "again" not in text, text
