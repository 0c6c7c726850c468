"""Bodies that carry files (JSON, contents in base64), both ways, handled a step at a time.

``json``, ``base64`` and ``zlib``'s gzip are C code that keeps Python's GIL for a whole
call: one ``json.loads`` of a 27 MB body, or one ``b64decode`` of 20 MB of files, kept the
exam service's event loop (its health check, every other candidate's request) waiting
150–400 ms on a busy 2-core machine, although the work ran on the service's threads; a
20 MB autosave fetched back was encoded and gzipped on the loop itself: 1.8 s
(``bench/load_bench.py``). Here no C call sees more than about :data:`STEP` bytes of a
large body, so the GIL goes back to the loop between steps:

* in (:func:`loads`, :func:`b64decode`): the long strings made only of base64 characters
  (the files' contents, as clients send them) are cut out before ``json`` parses what is
  left, which must then be small, and each is checked and decoded a step at a time;
* out (:func:`b64encode`, :func:`dumps`): a large file is encoded a step at a time and its
  pieces are spliced into the JSON unscanned (base64 needs no escaping), then gzipped piece
  by piece (``zlib`` lets the GIL go while it compresses); the loop only writes the pieces.

Small bodies (every autosave of a notebook) are parsed in one call, as before.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import zlib

from .errors import Invalid

STEP = 256 * 1024  # bytes of a large body that one C call sees at most (a multiple of 4)
LONG = 64 * 1024  # strings from this length are cut out of a large body (when they are base64)
SMALL = 1024 * 1024  # a body up to this size is parsed in one call; a larger one's JSON, its long strings out
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def _string_end(raw: bytes | bytearray, start: int) -> int:
    """The index of the quote that closes the JSON string opened at ``start`` (-1: none)."""
    end = raw.find(b'"', start + 1)
    if end < 0 or raw.find(b"\\", start + 1, end) < 0:
        return end  # (no escape in it: base64 never has one, so this is how files end)
    while end >= 0:  # an escaped quote has an odd run of backslashes before it
        if end - start > SMALL:
            raise Invalid(f"a string with escapes of more than {SMALL // 1024} KB in the request body; only files' "
                          "contents (base64) may be that long")
        run = end
        while raw[run - 1] == 0x5C:
            run -= 1
        if (end - run) % 2 == 0:
            return end
        end = raw.find(b'"', end + 1)
    return -1


def _is_base64(text: memoryview) -> bool:
    return not any(bytes(text[i:i + STEP]).translate(None, _BASE64) for i in range(0, len(text), STEP))


def loads(raw: bytes | bytearray) -> object:
    """``json.loads(raw)``, with the long base64 strings of a large body's ``"files"`` object as
    ``memoryview``\\ s of ``raw`` (ASCII) instead of ``str``: :func:`b64decode` takes either.

    Raises:
        Invalid: not JSON; or a large body with more than :data:`SMALL` bytes besides those strings,
            or a long string anywhere but as a file's content.
    """
    if len(raw) <= SMALL:
        return _json(raw)
    view = memoryview(raw)
    rest: list[memoryview | bytes] = []
    size, pos, cut = 0, 0, {}
    nonce = secrets.token_hex(8)  # (a placeholder a client cannot guess, so cannot send)
    while (start := raw.find(b'"', pos)) >= 0 and (end := _string_end(raw, start)) >= 0:
        if end - start - 1 >= LONG and _is_base64(view[start + 1:end]):
            placeholder = f"{nonce}:{len(cut)}"
            cut[placeholder] = view[start + 1:end]
            rest += [view[pos:start], f'"{placeholder}"'.encode()]
            size += start - pos + len(placeholder) + 2
        else:
            rest.append(view[pos:end + 1])
            size += end + 1 - pos
        pos = end + 1
        if size > SMALL:
            break
    rest.append(view[pos:])
    size += len(raw) - pos
    if size > SMALL:
        raise Invalid(f"the request body has more than {SMALL // 1024} KB of JSON besides the files' contents "
                      "(base64); send files as {\"files\": {name: base64}}")
    data = _json(b"".join(rest))
    files = data.get("files") if isinstance(data, dict) else None
    put_back = 0
    if isinstance(files, dict):
        for name, value in files.items():
            if isinstance(value, str) and value in cut:
                files[name] = cut[value]
                put_back += 1
    if put_back != len(cut):
        raise Invalid(f"a string of more than {LONG // 1024} KB in the request body is not a file's content; "
                      "only files' contents (base64) may be that long")
    return data


def _json(raw) -> object:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Invalid(f"the request body is not JSON ({exc})") from None


def b64decode(text: str | memoryview) -> bytes:
    """``base64.b64decode(text, validate=True)``, :data:`STEP` characters at a time.

    Raises:
        binascii.Error: not strict base64 (padding only at the end), as ``b64decode`` says.
    """
    if len(text) <= STEP:
        return base64.b64decode(text if isinstance(text, str) else bytes(text), validate=True)
    parts = []
    for i in range(0, len(text), STEP):
        piece = text[i:i + STEP]
        piece = piece.encode("ascii") if isinstance(piece, str) else bytes(piece)
        if i + STEP < len(text) and b"=" in piece:
            raise binascii.Error("padding before the end of the data")
        parts.append(base64.b64decode(piece, validate=True))
    return b"".join(parts)


class Base64Text:
    """A large file's contents in base64, as ASCII pieces of :data:`STEP` characters: never one long string."""

    __slots__ = ("pieces",)

    def __init__(self, data: bytes):
        raw, view = STEP // 4 * 3, memoryview(data)
        self.pieces = [base64.b64encode(view[i:i + raw]) for i in range(0, len(data), raw)]


def b64encode(data: bytes) -> str | Base64Text:
    """``data`` in base64: a ``str`` when small, else a :class:`Base64Text` that :func:`dumps` writes out."""
    if len(data) <= STEP // 4 * 3:
        return base64.b64encode(data).decode()
    return Base64Text(data)


def dumps(data, gzip: bool = False) -> tuple[list[bytes], bool]:
    """``data`` as UTF-8 JSON in pieces (each :class:`Base64Text` spliced in as it is, unscanned), and gzipped
    (as tornado would, level 6) when ``gzip`` and it is worth it (1 KB or more). Other objects that JSON does
    not know are written as ``str()``. Returns the pieces and whether they are gzipped."""
    nonce, texts = secrets.token_hex(8), {}

    def default(value):
        if isinstance(value, Base64Text):
            texts[key := f"{nonce}:{len(texts)}"] = value
            return key
        return str(value)

    pieces: list[bytes] = []
    for i, part in enumerate(re.split(f'"({nonce}:[0-9]+)"', json.dumps(data, ensure_ascii=False, default=default))):
        if i % 2:
            pieces += [b'"', *texts[part].pieces, b'"']
        elif part:
            pieces.append(part.encode())
    if not gzip or sum(map(len, pieces)) < 1024:
        return pieces, False
    z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return [c for c in [*map(z.compress, pieces), z.flush()] if c], True
