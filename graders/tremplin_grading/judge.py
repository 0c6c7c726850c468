"""The trusted side of grading: the author's cells and tests, run against the candidate's answers as data.

A *task* (built by :mod:`tremplin_grading.autograde` from nbgrader's notebooks) holds two
programs: the candidate's cells for the sandbox, and the author's cells for the judge (the
locked set-up cells, the parameters cell with the candidate's variant recomputed from the
key, and every test cell with its hidden tests). :func:`judge` sends the first to a sandboxed
process, then runs the second here, in a shell of its own:

* a name the author's cells bind anywhere (``p``, ``sp``, ``check``, ``_expected``…) is always
  the author's: nothing the candidate does can replace it;
* any other name a test reads (``q1_answer``, ``moyenne_mobile``) is the candidate's, received
  as data (:mod:`.sandbox.codec`); a function becomes a :class:`CandidateFunction` that runs in
  the sandbox with the test's arguments and returns data;
* a name whose value is not data (an object of the candidate's own class) stays unbound: the
  test fails as for a missing answer, and its message says why.

The result maps each sandbox cell to its outputs and each test cell (by nbgrader grade id)
to its outputs, the shapes nbgrader reads to score; plus *flags* for anything that cut the
paper short (a time or output limit, the sandbox ending), with the reason in French and English.
"""

from __future__ import annotations

import ast
import builtins
import socket
import sys
import time
from dataclasses import asdict, dataclass

from .sandbox import codec, wire
from .sandbox.limits import Limits

#: Why a paper was cut short, for professors (and for the candidate's feedback).
FLAG_TEXT = {
    "cell_time": ("Une cellule a dépassé sa limite de temps ({detail}) ; elle a été interrompue.",
                  "A cell ran past its time limit ({detail}) and was interrupted."),
    "wall_time": ("La copie a dépassé son temps total ; les cellules suivantes n'ont pas été exécutées ({detail}).",
                  "The paper ran past its total time; later cells did not run ({detail})."),
    "ended": ("Le code de la copie a arrêté son propre processus ({detail}) ; les cellules suivantes n'ont pas été "
              "exécutées.", "The paper's code ended its own process ({detail}); later cells did not run."),
    "output_limit": ("La copie a produit trop de sortie ({detail}) ; la suite a été coupée.",
                     "The paper printed too much ({detail}); the rest was cut."),
    "call_time": ("Une fonction de la copie appelée par un test a dépassé sa limite de temps ({detail}).",
                  "A function of the paper called by a test ran past its time limit ({detail})."),
    "protocol": ("La copie a envoyé des données illisibles ({detail}) ; elles ont été ignorées.",
                 "The paper sent unreadable data ({detail}); it was ignored."),
    "unreadable": ("Une réponse n'est pas une donnée corrigeable ({detail}).",
                   "An answer is not gradable data ({detail})."),
    "judge_error": ("Les tests n'ont pas pu être exécutés ({detail}) ; un correcteur doit vérifier cette copie.",
                    "The tests could not be run ({detail}); a grader must check this paper."),
}

#: Exceptions of the candidate's code that a test may expect by name (``pytest.raises(ValueError)``).
BUILTIN_ERRORS = {cls.__name__: cls for cls in (
    ArithmeticError, AssertionError, AttributeError, EOFError, FileNotFoundError, FloatingPointError, ImportError,
    IndexError, KeyError, LookupError, ModuleNotFoundError, NameError, NotImplementedError, OSError, OverflowError,
    RecursionError, RuntimeError, TypeError, UnboundLocalError, UnicodeError, ValueError, ZeroDivisionError)}


@dataclass(frozen=True)
class Flag:
    """Something that cut a paper short: ``reason`` (a key of :data:`FLAG_TEXT`) and a detail."""

    reason: str
    detail: str = ""

    @property
    def messages(self) -> dict:
        fr, en = FLAG_TEXT[self.reason]
        return {"fr": fr.format(detail=self.detail), "en": en.format(detail=self.detail)}


class CandidateError(Exception):
    """The candidate's function raised an exception of its own kind (or tried to stop the process)."""


class SandboxGone(Exception):
    """The candidate's process is no longer there to answer (it ended, ran out of time or misbehaved)."""


# ---- a judge serving many papers of one assignment -----------------------------------------------

#: Pure sympy functions whose results (immutable objects) a judge reuses across papers: an author's
#: test computes the expected answer of each variant again for every paper, often with these.
MEMOIZED = ("integrate", "limit", "series", "summation", "dsolve", "simplify")


def memoize_sympy(size: int = 4096) -> None:
    """Reuse, in this judge process, what these functions returned for the same arguments."""
    import functools

    import sympy

    for name in MEMOIZED:
        original = getattr(sympy, name)
        if getattr(original, "_tremplin_memo", False):
            continue
        cached = functools.lru_cache(maxsize=size)(original)

        def memo(*args, _original=original, _cached=cached, **kwargs):
            try:
                return _cached(*args, **kwargs)
            except TypeError:  # an unhashable argument: computed as usual
                return _original(*args, **kwargs)

        functools.update_wrapper(memo, original)
        memo._tremplin_memo = True
        setattr(sympy, name, memo)


# ---- which names come from where -------------------------------------------------------------

_parsed: dict[str, ast.AST | None] = {}


def _parse(source: str) -> ast.AST | None:
    """The cell as Python (IPython syntax transformed), parsed once per process: a judge sees the same
    author cells paper after paper."""
    if source not in _parsed:
        from IPython.core.inputtransformer2 import TransformerManager

        try:
            _parsed[source] = ast.parse(TransformerManager().transform_cell(source))
        except (SyntaxError, ValueError):
            _parsed[source] = None
        if len(_parsed) > 10_000:
            _parsed.clear()
    return _parsed[source]


def bound_names(tree: ast.AST) -> set[str]:
    """Names a cell binds, anywhere: assignments, imports, definitions, loop and ``with`` targets…"""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, ast.MatchAs) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchStar) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.arg):  # a function's own parameters
            names.add(node.arg)
    return names


def read_names(tree: ast.AST) -> set[str]:
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def split_names(author_sources: list[str], shell_names: set[str]) -> tuple[list[str], set[str]]:
    """``(wanted, bound)``: names the author's cells read but never bind, and the names they bind."""
    bound, read = set(), set()
    for source in author_sources:
        tree = _parse(source)
        if tree is not None:
            bound |= bound_names(tree)
            read |= read_names(tree)
    wanted = read - bound - set(dir(builtins)) - shell_names
    return sorted(wanted), bound


# ---- the judge's view of the sandboxed paper --------------------------------------------------

class Sandbox:
    """The channel to the paper's process, with the paper's limits applied to everything it sends."""

    def __init__(self, sock: socket.socket, limits: Limits):
        self.sock, self.limits = sock, limits
        self.left = limits.channel_mib * 1024 * 1024
        self.gone: str | None = None
        self.flags: list[Flag] = []

    def flag(self, reason: str, detail: str = "") -> None:
        if not any(f.reason == reason for f in self.flags):
            self.flags.append(Flag(reason, detail))

    def send(self, obj) -> None:
        if self.gone:
            raise SandboxGone(self.gone)
        try:
            wire.send(self.sock, obj, timeout=5)
        except wire.WireError as exc:
            self.lost(exc)
            raise SandboxGone(self.gone) from None

    def recv(self, seconds: float):
        if self.gone:
            raise SandboxGone(self.gone)
        try:
            msg = wire.recv(self.sock, max_bytes=max(1, self.left), deadline=time.monotonic() + seconds)
        except wire.WireError as exc:
            self.lost(exc)
            raise SandboxGone(self.gone) from None
        self.left -= len(wire.dumps(msg))
        if not isinstance(msg, dict):
            self.flag("protocol", "a frame is not an object")
            self.gone = "protocol"
            raise SandboxGone(self.gone)
        return msg

    def lost(self, exc: wire.WireError) -> None:
        if exc.reason == "too_large":
            self.flag("output_limit", f"more than {self.limits.channel_mib} MiB sent")
        elif exc.reason == "malformed":
            self.flag("protocol", str(exc))
        self.gone = exc.reason

    def close(self) -> None:
        if not self.gone:
            try:
                wire.send(self.sock, {"op": "end"}, timeout=1)
            except wire.WireError:
                pass
        self.sock.close()


class CandidateFunction:
    """A function the candidate wrote: calling it runs it in the sandbox with these arguments."""

    def __init__(self, sandbox: Sandbox, fid: int, name: str):
        self._sandbox, self._fid, self.__name__ = sandbox, fid, name or "function"

    def __repr__(self) -> str:
        return f"<function {self.__name__} of the candidate>"

    def __call__(self, *args, **kwargs):
        box = self._sandbox
        handle = lambda f: f._fid if isinstance(f, CandidateFunction) else _refuse(f)  # noqa: E731
        try:
            encoded_args = codec.encode(list(args), handle=handle)
            encoded_kwargs = codec.encode(dict(kwargs), handle=handle)
        except codec.CodecError as exc:
            raise TypeError(f"this argument cannot be sent to the candidate's function: {exc}") from None
        box.send({"op": "call", "fn": self._fid, "args": encoded_args, "kwargs": encoded_kwargs})
        reply = box.recv(box.limits.call_seconds + 5)
        if reply.get("op") != "result":
            box.flag("protocol", "a call was not answered")
            raise SandboxGone("protocol")
        _replay(reply.get("outputs"))
        if reply.get("truncated"):
            box.flag("output_limit", f"a call printed more than {box.limits.output_chars} characters")
        resolve = lambda fid, name: CandidateFunction(box, fid, name)  # noqa: E731
        _copy_back(args, kwargs, reply, resolve)
        if reply.get("timed_out"):
            box.flag("call_time", f"{self.__name__}, {box.limits.call_seconds:g} s")
        error = reply.get("error")
        if isinstance(error, dict):
            kind, message = str(error.get("type", "Error"))[:100], str(error.get("message", ""))[:2000]
            cls = BUILTIN_ERRORS.get(kind) if error.get("builtin") else None
            if cls is not None:
                raise cls(message)
            raise CandidateError(f"{kind}: {message}")
        try:
            return codec.decode(reply.get("value"), function=resolve)
        except codec.CodecError as exc:
            raise CandidateError(f"the value returned by {self.__name__} cannot be read: {exc}") from None


def _refuse(value):
    raise codec.CodecError(f"a {type(value).__name__} cannot be sent into the sandbox")


def _replay(outputs) -> None:
    """What the candidate's function printed, into the test cell's own output (stderr still costs the points)."""
    for out in outputs if isinstance(outputs, list) else []:
        if isinstance(out, dict) and out.get("output_type") == "stream" and isinstance(out.get("text"), str):
            (sys.stderr if out.get("name") == "stderr" else sys.stdout).write(out["text"])


def _copy_back(args, kwargs, reply, resolve) -> None:
    """A list, dict or set the function changed is changed here too, as if it had run in the test."""
    try:
        after_args = codec.decode(reply.get("args", ["l", []]), function=resolve)
        after_kwargs = codec.decode(reply.get("kwargs", ["d", []]), function=resolve)
    except codec.CodecError:
        return
    pairs = list(zip(args, after_args if isinstance(after_args, list) else []))
    if isinstance(after_kwargs, dict):
        pairs += [(kwargs[k], after_kwargs[k]) for k in kwargs if k in after_kwargs]
    for before, after in pairs:
        if type(before) is not type(after) or before == after:
            continue
        if isinstance(before, list):
            before[:] = after
        elif isinstance(before, (dict, set)):
            before.clear()
            before.update(after)


# ---- one paper ---------------------------------------------------------------------------------

@dataclass
class PaperResult:
    """What grading one notebook gave: outputs per sandbox cell id and per test (grade id), and flags."""

    sandbox: dict
    judge: dict
    flags: list
    stats: dict

    def to_dict(self) -> dict:
        return asdict(self)


def flag_dicts(flags: list[Flag]) -> list[dict]:
    return [{"reason": f.reason, "detail": f.detail, **f.messages} for f in flags]


def judge(task: dict, sock: socket.socket, shell) -> PaperResult:
    """Grade one notebook of ``task`` (see the module docstring) with the paper's process on ``sock``."""
    limits = Limits.from_dict(task.get("limits") or {})
    started = time.monotonic()
    box = Sandbox(sock, limits)
    shell_names = set(shell.user_ns)
    author = task["judge"]["cells"]
    wanted, bound = split_names([c["source"] for c in author], shell_names)
    sandbox_out: dict[str, dict] = {}
    raw: dict[str, object] = {}
    try:
        box.send({"op": "start", "files": task["sandbox"].get("files", {}), "wanted": wanted,
                  "cells": [{"id": c["id"], "source": c["source"]} for c in task["sandbox"]["cells"]]})
        deadline = started + limits.wall_seconds + 5
        while True:
            msg = box.recv(max(0.1, deadline - time.monotonic()))
            if msg.get("op") == "cell":
                sandbox_out[str(msg.get("id"))] = {"outputs": _outputs(msg.get("outputs"))}
                if msg.get("timed_out"):
                    box.flag("cell_time", f"{limits.cell_seconds:g} s")
                if msg.get("truncated"):
                    box.flag("output_limit", f"more than {limits.output_chars} characters in a cell")
            elif msg.get("op") != "ready":
                box.flag("protocol", f"unexpected {str(msg.get('op'))[:20]!r}")
                break
            if isinstance(msg.get("values"), dict):
                raw.update({k: v for k, v in msg["values"].items() if k in wanted})
            if msg.get("op") == "ready":
                break
    except SandboxGone:
        pass
    sandbox_seconds = time.monotonic() - started

    values, unreadable = {}, {}
    resolve = lambda fid, name: CandidateFunction(box, fid, name)  # noqa: E731
    for name, data in raw.items():
        try:
            value = codec.decode(data, function=resolve)
        except codec.CodecError as exc:
            value = codec.Unreadable("value", str(exc))
        if isinstance(value, codec.Unreadable):
            unreadable[name] = value
        else:
            values[name] = value

    from .check.result import checks_output, collecting

    judge_out: dict[str, dict] = {}
    for cell in author:
        tree = _parse(cell["source"])
        names = read_names(tree) if tree is not None else set()
        for name in names & values.keys():
            if name not in bound and name not in shell.user_ns:
                shell.user_ns[name] = values[name]
        with collecting() as said:
            outputs, _timed_out = shell.run(cell["source"], timeout=float(task.get("judge_cell_seconds", 60)))
        if cell.get("test"):
            judge_out[cell["id"]] = {"outputs": _explain_unreadable(outputs, unreadable)
                                     + ([checks_output(said)] if said else [])}
    box.close()
    if unreadable:
        box.flag("unreadable", ", ".join(f"{n}: {v.type_name}" for n, v in sorted(unreadable.items())))
    if box.gone and not any(f.reason in ("output_limit", "protocol") for f in box.flags):
        box.flag("ended", box.gone)  # (the worker turns it into wall_time when the server says so)
    return PaperResult(sandbox_out, judge_out, flag_dicts(box.flags),
                       {"sandbox_seconds": round(sandbox_seconds, 3),
                        "judge_seconds": round(time.monotonic() - started - sandbox_seconds, 3),
                        "sandbox_gone": box.gone or ""})


def _outputs(outputs) -> list[dict]:
    """The sandbox's outputs, kept only in the shapes a notebook stores (text only)."""
    kept = []
    for out in outputs if isinstance(outputs, list) else []:
        if not isinstance(out, dict):
            continue
        kind = out.get("output_type")
        if kind == "stream" and out.get("name") in ("stdout", "stderr") and isinstance(out.get("text"), str):
            kept.append({"output_type": "stream", "name": out["name"], "text": out["text"]})
        elif kind in ("execute_result", "display_data") and isinstance(out.get("data"), dict) \
                and isinstance(out["data"].get("text/plain"), str):
            item = {"output_type": kind, "data": {"text/plain": out["data"]["text/plain"]}, "metadata": {}}
            if kind == "execute_result":
                count = out.get("execution_count")
                item["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
            kept.append(item)
        elif kind == "error":
            trace = out.get("traceback") if isinstance(out.get("traceback"), list) else []
            kept.append({"output_type": "error", "ename": str(out.get("ename", "Error"))[:200],
                         "evalue": str(out.get("evalue", ""))[:5000],
                         "traceback": [str(line)[:5000] for line in trace[:100]]})
    return kept


def _explain_unreadable(outputs: list[dict], unreadable: dict) -> list[dict]:
    for out in outputs:
        if out.get("output_type") == "error" and out.get("ename") == "NameError":
            for name, value in unreadable.items():
                if f"'{name}'" in out.get("evalue", ""):
                    out["evalue"] = (f"{name} : un objet {value.type_name} ne peut pas être corrigé (donnez un nombre, "
                                     f"un texte, une expression sympy, une liste, un ensemble ou une fonction) / "
                                     f"{name}: a {value.type_name} object cannot be graded (give a number, text, a "
                                     "sympy expression, a list, a set or a function)")
    return outputs
