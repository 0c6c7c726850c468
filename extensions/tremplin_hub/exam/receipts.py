"""Receipts: what a candidate keeps to prove what they submitted, and when.

Each snapshot or submission of a candidate gets a receipt: the service's time, the SHA-256
of each file, and a hash chained to the candidate's previous receipt for the same exam
(``chain = SHA-256(previous chain, kind, exam, candidate, time, files)``). Changing,
removing or reordering any stored snapshot breaks every later link, so
:func:`verify_chain` finds tampering after the fact, and a candidate's printed receipt
(its ``chain``) pins the whole history up to that moment.

Pure functions over bytes; storing receipts and files is the exam service's job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field

GENESIS = "0" * 64
KINDS = ("snapshot", "submission", "collection")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Receipt:
    """One link of a candidate's chain for one exam.

    Attributes:
        exam: ``course/assignment``.
        candidate: the hub user name (from the request's token, never from its body).
        kind: ``snapshot`` (autosave), ``submission`` or ``collection`` (taken at the deadline).
        server_time: the service's clock, UTC, ISO 8601.
        files: ``{relative path: SHA-256 of its bytes}``.
        previous: the chain hash of the previous receipt (``GENESIS`` for the first).
        chain: this receipt's chain hash.
    """

    exam: str
    candidate: str
    kind: str
    server_time: str
    files: dict = field(default_factory=dict)
    previous: str = GENESIS
    chain: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Receipt":
        return cls(**json.loads(text))


def link_hash(previous: str, kind: str, exam: str, candidate: str, server_time: str, files: dict) -> str:
    body = json.dumps({"previous": previous, "kind": kind, "exam": exam, "candidate": candidate,
                       "server_time": server_time, "files": dict(sorted(files.items()))},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return sha256(body.encode())


def issue(exam: str, candidate: str, kind: str, now: dt.datetime, files: dict[str, bytes],
          previous: Receipt | None = None) -> Receipt:
    """The receipt for ``files`` received at ``now`` (the service's clock), chained to ``previous``."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (UTC)")
    if previous is not None and (previous.exam, previous.candidate) != (exam, candidate):
        raise ValueError(f"the previous receipt is for {previous.candidate} in {previous.exam}, "
                         f"not {candidate} in {exam}")
    server_time = now.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
    digests = {name: sha256(data) for name, data in sorted(files.items())}
    prev = previous.chain if previous else GENESIS
    return Receipt(exam, candidate, kind, server_time, digests, prev,
                   link_hash(prev, kind, exam, candidate, server_time, digests))


@dataclass(frozen=True)
class Problem:
    """What :func:`verify_chain` found wrong, at which receipt (0-based index)."""

    index: int
    problem: str


def verify_chain(receipts: list[Receipt], files: list[dict[str, bytes]] | None = None) -> list[Problem]:
    """Check a candidate's receipts in order, and the stored files if given; return the problems found.

    ``files[i]`` is None for a record whose files were thinned on purpose (its receipt is still checked).
    """
    problems = []
    previous = GENESIS
    last_time = ""
    for i, r in enumerate(receipts):
        if r.previous != previous:
            problems.append(Problem(i, f"link broken: expected previous {previous[:12]}…, found {r.previous[:12]}…"))
        if r.chain != link_hash(r.previous, r.kind, r.exam, r.candidate, r.server_time, r.files):
            problems.append(Problem(i, "the receipt's content does not match its chain hash (edited)"))
        if r.server_time < last_time:
            problems.append(Problem(i, f"time goes backwards ({r.server_time} after {last_time})"))
        if files is not None and files[i] is not None:
            stored = {name: sha256(data) for name, data in files[i].items()}
            if stored != r.files:
                changed = sorted(set(stored.items()) ^ set(r.files.items()))
                problems.append(Problem(i, f"stored files differ from the receipt: {sorted({n for n, _ in changed})}"))
        previous, last_time = r.chain, r.server_time
    return problems
