"""The exam service's bodies with files: a large request is parsed and decoded a step at a time, a large
answer encoded and gzipped a step at a time on the service's threads (no C call holds the GIL over
megabytes while the event loop waits), with what ``json`` and ``base64`` would give, and the same refusals."""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from tremplin_hub.exam import bodies, handlers
from tremplin_hub.exam.errors import Invalid, TooLarge


def body_of(files: dict[str, bytes], **extra) -> bytes:
    return json.dumps({"files": {k: base64.b64encode(v).decode() for k, v in files.items()}, **extra}).encode()


def parsed(raw: bytes, streamed: bool) -> dict:
    """What a snapshot handler makes of ``raw``: its ``body()``, as it arrived (in one piece or streamed)."""
    if streamed:
        handler = SimpleNamespace(_body=bytearray(raw), _streamed=lambda: True)
    else:
        handler = SimpleNamespace(request=SimpleNamespace(body=raw), _streamed=lambda: False)
    return handlers.BaseHandler.body(handler)


LARGE = os.urandom(handlers.MAX_FILE_BYTES - 4096)


@pytest.mark.parametrize("streamed", [False, True])
def test_the_largest_autosave_is_parsed_and_decoded_with_no_call_that_sees_more_than_a_step(monkeypatch, streamed):
    """json.loads once took the 27 MB body and b64decode the 20 MB file: 150–400 ms each with the GIL held."""
    raw = body_of({"exam.ipynb": LARGE, "data/small.csv": b"t,x\n0,1\n"}, timestamp="2027-03-15T10:00:00Z")
    seen = []
    real_loads, real_a2b = json.loads, binascii.a2b_base64
    monkeypatch.setattr(json, "loads", lambda s, *a, **k: seen.append(("json", len(s))) or real_loads(s, *a, **k))
    monkeypatch.setattr(binascii, "a2b_base64", lambda s, **k: seen.append(("base64", len(s))) or real_a2b(s, **k))
    body = parsed(raw, streamed)
    files = handlers.decode_files(body, "autosave")
    assert files == {"exam.ipynb": LARGE, "data/small.csv": b"t,x\n0,1\n"}
    assert body["timestamp"] == "2027-03-15T10:00:00Z"
    assert seen and max(n for kind, n in seen if kind == "json") <= bodies.SMALL
    assert max(n for kind, n in seen if kind == "base64") <= bodies.STEP


@pytest.mark.parametrize("raw", [
    body_of({}),
    body_of({"a.ipynb": b"{}"}, timestamp="t", student="cand-a"),
    body_of({f"f{i:03d}.txt": b"x" for i in range(500)}),
    body_of({"exam.ipynb": LARGE[:3 * bodies.STEP]}, timestamp="2027"),
    body_of({"a.bin": LARGE[:3 * bodies.STEP + 1], "b.bin": LARGE[:bodies.LONG]}),
    body_of({"données é.ipynb": LARGE[:2 * bodies.SMALL]}, note='a "quoted" \\ name, \\" and \\\\"'),
    json.dumps({"files": {"x": base64.b64encode(LARGE[:2 * bodies.SMALL]).decode()}}, indent=4).encode(),
], ids=["empty", "small", "500 files", "large, whole steps", "large, padded, two long", "escapes and accents",
        "indented"])
def test_large_and_small_bodies_give_what_json_and_base64_give(raw):
    expected = json.loads(raw)
    got = parsed(raw, streamed=True)
    assert {k: v for k, v in got.items() if k != "files"} == {k: v for k, v in expected.items() if k != "files"}
    assert handlers.decode_files(got, "autosave") == {
        name: base64.b64decode(text, validate=True) for name, text in expected["files"].items()}


B64 = base64.b64encode(LARGE[:2 * bodies.SMALL]).decode()


@pytest.mark.parametrize("raw, error, words", [
    (b'{"files": {"a": "' + B64.encode() + b'"', Invalid, "not JSON"),
    (b'{"files": {}, "note": "' + B64.encode() + b'"}', Invalid, "not a file's content"),
    (b'{"files": {"' + B64.encode() + b'": "QQ=="}}', Invalid, "not a file's content"),
    (b'{"files": {"a": "' + B64.encode()[:-8] + b'\\n' + B64.encode()[-8:] + b'"}}', Invalid, "with escapes"),
    (b'{"files": {"a": "' + b"!" * (2 * bodies.SMALL) + b'"}}', Invalid, "besides the files' contents"),
    (b'{"files": {' + b'"a": 1, ' * bodies.SMALL + b'"b": 2}}', Invalid, "besides the files' contents"),
    (b'{"files": {"a": "QQ==' + B64.encode() + b'"}}', Invalid, "not valid base64"),
    (b'{"files": {"a": "' + B64.encode()[:-1] + b'"}}', Invalid, "not valid base64"),
    ('{"files": {"a": "QQ==é"}}'.encode(), Invalid, "not valid base64"),
    (b'{"files": {"a": "' + b"A" * (handlers.MAX_BODY_BYTES - 40) + b'"}}', TooLarge, "more than 20 MB"),
], ids=["truncated", "long note", "long name", "long with escapes", "long not base64", "many fields",
        "padding inside", "bad length", "not ASCII", "files over 20 MB"])
def test_what_json_or_base64_refuses_is_refused_and_long_strings_are_only_files(raw, error, words):
    with pytest.raises(error) as refused:
        handlers.decode_files(parsed(raw, streamed=True), "autosave")
    assert words in str(refused.value)


# ---- answers: the largest file fetched back ----------------------------------------------------
class Spy:
    """Records the size of each call to json.dumps, base64's encoder and zlib's compressors, and whether the
    event loop's thread made it."""

    def __init__(self, monkeypatch, loop_thread):
        self.calls = []
        real_dumps, real_b2a, real_compressobj = json.dumps, binascii.b2a_base64, zlib.compressobj

        def note(kind, size):
            self.calls.append((kind, size, threading.current_thread() is loop_thread))

        def dumps(*args, **kwargs):
            out = real_dumps(*args, **kwargs)
            note("json", len(out))
            return out

        class Compressor:
            def __init__(self, *args, **kwargs):
                self.real = real_compressobj(*args, **kwargs)

            def compress(self, data):
                note("zlib", len(data))
                return self.real.compress(data)

            def flush(self, *args):
                return self.real.flush(*args)

        monkeypatch.setattr(json, "dumps", dumps)
        monkeypatch.setattr(binascii, "b2a_base64", lambda s, **k: note("base64", len(s)) or real_b2a(s, **k))
        monkeypatch.setattr(zlib, "compressobj", Compressor)


class LargestFile(handlers.BaseHandler):
    async def prepare(self):
        pass  # (no hub here: what is tested is the answer)

    @handlers.answered_on_threads
    def get(self):
        return {"files": handlers.encode_files({"exam.ipynb": LARGE, "a.txt": b"small"}), "status": {"n": 1}}, 200


@pytest.mark.parametrize("gzip", [True, False])
def test_the_largest_file_fetched_back_is_encoded_and_gzipped_in_steps_on_threads_not_on_the_loop(
        monkeypatch, gzip):
    """Once json.dumps and tornado's gzip ran on the event loop over 27 MB: 1.8 s of a frozen service."""
    import asynckit

    spies = []

    async def fetch():
        from tornado.httpclient import AsyncHTTPClient
        from tornado.httpserver import HTTPServer
        from tornado.netutil import bind_sockets
        from tornado.web import Application

        spies.append(Spy(monkeypatch, threading.current_thread()))  # (this thread runs the event loop)
        executor = ThreadPoolExecutor(2)
        sockets = bind_sockets(0, "127.0.0.1")
        server = HTTPServer(Application([("/largest", LargestFile)], executor=executor, compress_response=True))
        server.add_sockets(sockets)
        client = AsyncHTTPClient(force_instance=True, max_body_size=64 * 2**20)
        try:
            return await client.fetch(f"http://127.0.0.1:{sockets[0].getsockname()[1]}/largest",
                                      decompress_response=gzip, headers={"Accept-Encoding": "gzip"} if gzip else {})
        finally:
            client.close()
            server.stop()
            executor.shutdown()

    # (a plain test run through asynckit: the suite's browser tests keep Playwright's loop in this thread)
    r = asynckit.run(fetch())
    spy = spies[0]
    assert (r.headers.get("X-Consumed-Content-Encoding") == "gzip") is gzip  # (tornado's client took it off)
    answer = json.loads(r.body)
    assert answer["status"] == {"n": 1}
    assert {k: base64.b64decode(v) for k, v in answer["files"].items()} == {"exam.ipynb": LARGE, "a.txt": b"small"}
    on_loop = [c for c in spy.calls if c[2]]
    assert not [c for c in on_loop if c[1] > bodies.STEP], on_loop
    assert max(c[1] for c in spy.calls) <= bodies.STEP
    assert ("zlib" in {c[0] for c in spy.calls}) is gzip
