"""Frames between grading processes: a 4-byte length, then UTF-8 JSON, with hard limits.

Everything that crosses a process boundary in grading travels this way, in both
directions: tasks and results between the grading service and its workers, values and
calls between the judge and a sandboxed paper. The reader never trusts the writer: a frame
longer than its limit, a truncated frame, bytes that are not JSON, nesting too deep for
the decoder or a deadline passed all raise :class:`WireError` without reading further.
File descriptors are passed with ``SCM_RIGHTS`` (:func:`send_with_fd`).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time

_json_dumps, _json_loads = json.dumps, json.loads
HEADER = struct.Struct(">I")
#: Default largest frame, in bytes.
MAX_FRAME = 16 * 1024 * 1024


class WireError(Exception):
    """A frame could not be read or written; ``reason`` is a short word for logs and flags."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def dumps(obj) -> bytes:
    """``obj`` as one frame (length + JSON); NaN and infinities are refused (the codec tags them)."""
    body = _json_dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    return HEADER.pack(len(body)) + body


def send(sock: socket.socket, obj, timeout: float | None = None) -> None:
    """Write one frame; ``WireError("closed")`` if the peer is gone."""
    data = dumps(obj)
    sock.settimeout(timeout)
    try:
        sock.sendall(data)
    except socket.timeout:
        raise WireError("timeout", "the peer did not read in time") from None
    except OSError as exc:
        raise WireError("closed", f"the peer is gone ({exc.strerror or exc})") from None


def _read_exactly(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WireError("timeout", "no complete frame before the deadline")
            sock.settimeout(left)
        else:
            sock.settimeout(None)
        try:
            chunk = sock.recv(min(n - got, 1 << 20))
        except socket.timeout:
            raise WireError("timeout", "no complete frame before the deadline") from None
        except OSError as exc:
            raise WireError("closed", f"the peer is gone ({exc.strerror or exc})") from None
        if not chunk:
            raise WireError("closed", "the peer closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket, *, max_bytes: int = MAX_FRAME, deadline: float | None = None):
    """Read one frame and return its JSON value.

    Args:
        max_bytes: a longer frame raises ``WireError("too_large")`` before its body is read.
        deadline: a ``time.monotonic()`` value; past it, ``WireError("timeout")``.
    """
    return _body(sock, _read_exactly(sock, HEADER.size, deadline), max_bytes, deadline)


def _body(sock: socket.socket, header: bytes, max_bytes: int, deadline: float | None):
    """The JSON value of the frame whose header was ``header``."""
    (length,) = HEADER.unpack(header)
    if length > max_bytes:
        raise WireError("too_large", f"a frame of {length} bytes is over the {max_bytes} bytes limit")
    body = _read_exactly(sock, length, deadline)
    try:
        return _json_loads(body)
    except (ValueError, RecursionError) as exc:  # not JSON, bad UTF-8, too deep, an int too long
        raise WireError("malformed", f"a frame is not valid JSON ({type(exc).__name__})") from None


def expect(sock: socket.socket, op: str, timeout: float) -> dict:
    """The first frame a newly started process sends (``{"op": op, ...}``); WireError if anything else."""
    msg = recv(sock, deadline=time.monotonic() + timeout)
    if not isinstance(msg, dict) or msg.get("op") != op:
        raise WireError("malformed", f"expected {op!r}, got {str(msg)[:200]}")
    return msg


def requests(sock: socket.socket, *, max_bytes: int = MAX_FRAME):
    """The requests (JSON objects) that come on ``sock`` until it closes, breaks or one says ``quit``."""
    while True:
        try:
            msg = recv(sock, max_bytes=max_bytes)
        except WireError:
            return
        if not isinstance(msg, dict) or msg.get("op") == "quit":
            return
        yield msg


def send_with_fd(sock: socket.socket, obj, fd: int) -> None:
    """Write one frame with a file descriptor attached (the receiver gets its own copy)."""
    data = dumps(obj)
    sock.settimeout(None)
    try:
        sent = socket.send_fds(sock, [data], [fd])
        if sent < len(data):
            sock.sendall(data[sent:])
    except OSError as exc:
        raise WireError("closed", f"the peer is gone ({exc.strerror or exc})") from None


def recv_with_fd(sock: socket.socket, *, max_bytes: int = 1 << 20, deadline: float | None = None):
    """Read one frame that may carry a file descriptor: ``(value, fd or None)``."""
    if deadline is not None:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
    else:
        sock.settimeout(None)
    try:
        data, fds, _flags, _addr = socket.recv_fds(sock, HEADER.size, 1)
    except socket.timeout:
        raise WireError("timeout", "no frame before the deadline") from None
    except OSError as exc:
        raise WireError("closed", f"the peer is gone ({exc.strerror or exc})") from None
    if not data:
        raise WireError("closed", "the peer closed the connection")
    fd = fds[0] if fds else None
    try:
        if len(data) < HEADER.size:
            data += _read_exactly(sock, HEADER.size - len(data), deadline)
        return _body(sock, data, max_bytes, deadline), fd
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise
