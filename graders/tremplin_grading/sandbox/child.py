"""One paper inside the sandbox: run the candidate's cells, report values, answer the judge's calls.

This code runs in a process forked for one paper, as the sandbox's uid, after the limits of
:mod:`.limits` are set. The candidate's cells run in the same process, so they can read and
change everything here, this module included: that is fine, because nothing this process
says is trusted. The judge reads every frame with its own parser and only ever learns what
the candidate's code computed, which is what answering already tells it.

Conversation (one connected socket, frames of :mod:`.wire`):

* judge → ``{"op": "start", "files", "cells": [{"id", "source"}], "wanted": [names]}``;
* for each cell, ← ``{"op": "cell", "id", "outputs", "timed_out", "values": {name: encoded}}``
  with the wanted names bound or rebound by that cell, so a paper that dies later still
  leaves what it had computed;
* ← ``{"op": "ready", "values": ...}`` (wanted values whose content changed since sent);
* then any number of → ``{"op": "call", "fn", "args", "kwargs"}`` / ← ``{"op": "result", ...}``
  (a test calling a function the candidate wrote, with the test's own arguments);
* → ``{"op": "end"}``: the process exits.
"""

from __future__ import annotations

import base64
import builtins as builtins_module
import json
import os
import signal
import sys
import time
from contextlib import contextmanager

from ..paths import plain_relative
from . import codec, wire
from .limits import Limits
from .shell import CELL_CODE, CellShell

_MISSING = object()
_json_dumps = json.dumps
_BUILTINS = vars(builtins_module)
_PRISTINE = dict(_BUILTINS)  # taken when the server imported this module, before any paper ran


@contextmanager
def pristine_builtins():
    """Python's own builtins while we encode and send (the json module looks them up at each call),
    and the candidate's patched ones back afterwards: their code keeps what it did to itself."""
    patched = {k: v for k, v in _BUILTINS.items() if _PRISTINE.get(k, _MISSING) is not v}
    _BUILTINS.update(_PRISTINE)
    for name in [k for k in patched if k not in _PRISTINE]:
        del _BUILTINS[name]
    try:
        yield
    finally:
        _BUILTINS.update(patched)


def write_files(files: dict) -> None:
    """The paper's own files (the notebook's folder), in the current (private, writable) folder."""
    for name, data in files.items():
        path = plain_relative(name)
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "xb") as f:
            f.write(base64.b64decode(data))


class Paper:
    """The state of one paper: its shell, the values already sent, the functions handed out."""

    def __init__(self, channel, shell: CellShell, limits: Limits):
        self.channel, self.shell, self.limits = channel, shell, limits
        self.shell.output_limit = limits.output_chars
        self.shell.candidate_code = (CELL_CODE, os.path.join(os.getcwd(), ""))  # cells, and modules handed in
        self.functions: list = []
        self.sent_objects: dict[str, object] = {}
        self.sent_json: dict[str, str] = {}

    def handle(self, func) -> int:
        for i, known in enumerate(self.functions):
            if known is func:
                return i
        self.functions.append(func)
        return len(self.functions) - 1

    def encode(self, value):
        return codec.encode(value, handle=self.handle)

    def values(self, wanted, *, by_content: bool) -> dict:
        out = {}
        for name in wanted:
            value = self.shell.user_ns.get(name, _MISSING)
            if value is _MISSING:
                continue
            if not by_content and self.sent_objects.get(name, _MISSING) is value:
                continue
            try:
                encoded = self.encode(value)
            except (codec.CodecError, RecursionError) as exc:
                encoded = [codec.UNREADABLE, type(value).__name__, str(exc)[:200]]
            text = _json_dumps(encoded, sort_keys=True)
            if by_content and self.sent_json.get(name) == text:
                continue
            self.sent_objects[name], self.sent_json[name] = value, text
            out[name] = encoded
        return out

    def run(self, start: dict) -> None:
        write_files(start.get("files") or {})
        wanted = [n for n in start.get("wanted", []) if isinstance(n, str)]
        for cell in start.get("cells", []):
            outputs, timed_out = self.shell.run(str(cell.get("source", "")), timeout=self.limits.cell_seconds)
            if timed_out:
                stop_runaways()  # what the runaway cell forked would starve the cells after it
            with pristine_builtins():
                wire.send(self.channel, {"op": "cell", "id": cell.get("id"), "outputs": outputs,
                                         "timed_out": timed_out, "truncated": self.shell.truncated,
                                         "values": self.values(wanted, by_content=False)})
        with pristine_builtins():
            wire.send(self.channel, {"op": "ready", "values": self.values(wanted, by_content=True)})
        while True:
            with pristine_builtins():
                msg = wire.recv(self.channel, max_bytes=64 * 1024 * 1024)
            if not isinstance(msg, dict) or msg.get("op") == "end":
                return
            if msg.get("op") == "call":
                reply = self.call(msg)
                with pristine_builtins():
                    reply = self.encode_reply(reply)
                    wire.send(self.channel, reply)

    def call(self, msg: dict) -> dict:
        """Run one call of the judge's; the reply still holds Python objects (see :meth:`encode_reply`)."""
        try:
            with pristine_builtins():
                func = self.functions[int(msg["fn"])]
                resolve = lambda i, name: self.functions[i]  # noqa: E731 (a function handed back by the judge)
                args = codec.decode(msg.get("args", ["l", []]), function=resolve)
                kwargs = codec.decode(msg.get("kwargs", ["d", []]), function=resolve)
        except (KeyError, IndexError, ValueError, TypeError, codec.CodecError) as exc:
            return {"op": "result", "error": {"type": "TypeError", "message": f"bad call: {exc}"}, "outputs": []}
        value, error, outputs, timed_out = self.shell.call(func, args, kwargs, self.limits.call_seconds)
        if timed_out:
            stop_runaways()
        return {"op": "result", "outputs": outputs, "timed_out": timed_out, "truncated": self.shell.truncated,
                "_value": value, "_error": error, "_args": args, "_kwargs": kwargs}

    def encode_reply(self, reply: dict) -> dict:
        if "_args" not in reply:
            return reply
        error = reply.pop("_error")
        value = reply.pop("_value")
        if error is not None:
            reply["error"] = {"type": type(error).__name__[:100], "message": _text(error)[:2000],
                              "builtin": type(error).__module__ == "builtins"}
        else:
            reply["value"] = self.encode(value)
        # the arguments as they are now: a test may check that its list was (or was not) changed
        reply["args"] = self.encode(reply.pop("_args"))
        reply["kwargs"] = self.encode(reply.pop("_kwargs"))
        return reply


def stop_runaways() -> None:
    """Kill every other process of the paper, and reap this one's children.

    This process is a child of the slot's server, PID 1 of a PID namespace that holds only the
    server and the paper: there ``kill(-1)`` reaches every process of the paper but this one,
    never the server, and no process a fork bomb is forking can slip past it (reading ``/proc``
    and killing one by one can be outrun). Orphans are the server's to reap.
    """
    if os.getppid() != 1:  # not under a slot's server: kill(-1) would reach every process of this uid
        return
    deadline = time.monotonic() + 1.0
    while True:
        try:
            os.kill(-1, signal.SIGKILL)  # again each round: the candidate's threads may fork meanwhile
        except ProcessLookupError:
            pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        if not _others_alive() or time.monotonic() > deadline:
            return
        time.sleep(0.005)


def _others_alive() -> bool:
    """Whether a process of the sandbox other than PID 1 and this one is still running (not yet a zombie)."""
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if entry.isdigit() and entry not in ("1", me):
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if f.read().rpartition(")")[2].split()[0] not in ("Z", "X"):
                        return True
            except OSError:
                pass  # gone meanwhile
    return False


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "(unprintable)"


def main(channel_fd: int, limits: Limits, shell: CellShell) -> None:
    """Serve one paper on ``channel_fd``; never returns (the process exits)."""
    import socket

    channel = socket.socket(fileno=channel_fd)
    code = 0
    try:
        start = wire.recv(channel, max_bytes=64 * 1024 * 1024)
        if isinstance(start, dict) and start.get("op") == "start":
            Paper(channel, shell, limits).run(start)
    except wire.WireError:
        code = 3
    except BaseException:  # noqa: BLE001 (the paper's own doing; the judge sees the channel close)
        code = 4
    finally:
        try:
            sys.stdout.flush()
        except Exception:
            pass
        os._exit(code)
