"""The frames between the grading processes: what a peer that sends the wrong bytes gets."""

from __future__ import annotations

import os
import socket

import pytest

from tremplin_grading.sandbox import wire


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_a_started_process_must_say_what_it_was_asked_to(pair):
    a, b = pair
    wire.send(a, {"op": "ready", "pid": 7})
    assert wire.expect(b, "ready", 5) == {"op": "ready", "pid": 7}
    wire.send(a, {"op": "hello"})
    with pytest.raises(wire.WireError) as err:
        wire.expect(b, "ready", 5)
    assert err.value.reason == "malformed" and "'ready'" in str(err.value)
    with pytest.raises(wire.WireError) as err:
        wire.expect(b, "ready", 0.05)
    assert err.value.reason == "timeout"


def test_requests_end_at_quit_at_a_non_object_and_when_the_peer_leaves(pair):
    a, b = pair
    for msg in ({"op": "grade", "n": 1}, {"op": "grade", "n": 2}, {"op": "quit"}, {"op": "grade", "n": 3}):
        wire.send(a, msg)
    assert [m["n"] for m in wire.requests(b)] == [1, 2]
    wire.send(a, ["not", "an", "object"])
    assert list(wire.requests(b)) == [{"op": "grade", "n": 3}]
    wire.send(a, {"op": "grade", "n": 4})
    a.close()
    assert list(wire.requests(b)) == [{"op": "grade", "n": 4}]


def test_an_oversized_or_malformed_frame_is_refused_before_it_is_used(pair):
    a, b = pair
    a.sendall(wire.HEADER.pack(1 << 31))
    with pytest.raises(wire.WireError) as err:
        wire.recv(b, max_bytes=1024, deadline=None)
    assert err.value.reason == "too_large"
    a.sendall(wire.HEADER.pack(3) + b"{x}")
    with pytest.raises(wire.WireError) as err:
        wire.recv(b)
    assert err.value.reason == "malformed"


def test_a_malformed_frame_that_carries_a_descriptor_does_not_leak_it(pair):
    a, b = pair
    r, w = os.pipe()
    try:
        socket.send_fds(a, [wire.HEADER.pack(3) + b"{x}"], [r])
        before = len(os.listdir("/proc/self/fd"))
        with pytest.raises(wire.WireError) as err:
            wire.recv_with_fd(b, deadline=None)
        assert err.value.reason == "malformed"
        assert len(os.listdir("/proc/self/fd")) == before  # the received copy was closed
        wire.send_with_fd(a, {"op": "paper"}, r)
        msg, fd = wire.recv_with_fd(b)
        assert msg == {"op": "paper"} and fd is not None
        os.close(fd)
    finally:
        os.close(r)
        os.close(w)
