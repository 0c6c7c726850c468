"""Reaching the grading engine from nbgrader (a formgrader, a recorder, ``nbgrader autograde``).

The engine runs in the ``tremplin-grader`` service, which alone may start sandboxes as other
accounts. Any grading process of a course sends its tasks there over a Unix socket
(:mod:`.service` checks who is asking with the socket's peer credentials) and waits for the
result.
"""

from __future__ import annotations

import socket
import time

from ..sandbox import wire


class EngineUnavailable(Exception):
    """The grading engine cannot be reached; the message says what an administrator should check."""


class SocketEngine:
    def __init__(self, path: str, timeout: float = 3600.0, connect_seconds: float = 60.0):
        self.path, self.timeout, self.connect_seconds = path, timeout, connect_seconds

    def connect(self) -> socket.socket:
        """A connection, waiting up to ``connect_seconds`` for a service that is (re)starting."""
        deadline = time.monotonic() + self.connect_seconds
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
                return sock
            except OSError as exc:
                sock.close()
                if time.monotonic() > deadline:
                    raise EngineUnavailable(
                        f"the grading service is not running or not reachable at {self.path} ({exc.strerror}); the "
                        "hub starts it as the 'tremplin-grader' service: an administrator should check the hub's "
                        "log / le service de correction ne répond pas : un administrateur doit lire le journal "
                        "du hub") from None
                time.sleep(0.5)

    def grade(self, task: dict) -> dict:
        sock = self.connect()
        try:
            wire.send(sock, task, timeout=60)
            reply = wire.recv(sock, max_bytes=256 * 1024 * 1024, deadline=time.monotonic() + self.timeout)
        except wire.WireError as exc:
            raise EngineUnavailable(f"the grading service stopped answering ({exc})") from None
        finally:
            sock.close()
        if not isinstance(reply, dict) or not isinstance(reply.get("result"), dict):
            raise EngineUnavailable(f"the grading service refused the task: {str(reply.get('error', reply))[:500]}"
                                    if isinstance(reply, dict) else "the grading service sent a malformed answer")
        return reply["result"]


def engine_for(path: str) -> SocketEngine:
    if not path:
        raise EngineUnavailable("JudgeExecute.engine_socket is not set in nbgrader_config.py; run 'tremplin courses "
                                "sync' to write it")
    return SocketEngine(path)
