"""Signed heads: the exam service signs each exam's audit chain at intervals, so history cannot be rewritten.

The audit log is a hash chain (:func:`.store.verify_audit`) and holds every receipt's chain
hash, so its last hash pins every record and event before it. A database writer could still
rewrite the whole chain consistently. At intervals (``ExamServiceApp.sign_interval``) the
service signs, for each exam whose log grew, ``{exam, entries, audit_hash, signed_at}`` with
its Ed25519 key (``<data>/exam/chain-signing-key.pem``, readable by the service's account
only; the public key is ``chain-signing-key.pub`` beside it). ``tremplin receipt verify``
checks every signed head against the log as it is now: an entry changed, removed or
reordered before a signed head no longer matches it, whoever recomputed the hashes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tremplin_grading.exports import signing

from .store import Store

KEY_FILE = "chain-signing-key.pem"
PUBLIC_FILE = "chain-signing-key.pub"


def message(course: str, assignment: str, entries: int, audit_hash: str, signed_at: dt.datetime) -> bytes:
    """The exact bytes signed for one head."""
    return json.dumps({"exam": f"{course}/{assignment}", "entries": entries, "audit_hash": audit_hash,
                       "signed_at": signed_at.astimezone(dt.timezone.utc).isoformat()},
                      sort_keys=True, separators=(",", ":")).encode()


def load_key(exam_dir: Path) -> Ed25519PrivateKey:
    """The service's signing key (created on first use, mode 600) and its public key file beside it (644)."""
    key = signing.load_or_create_key(exam_dir / KEY_FILE)
    public = exam_dir / PUBLIC_FILE
    if not public.exists():
        public.write_bytes(signing.public_pem(key))
        public.chmod(0o644)
    return key


def sign_heads(store: Store, key: Ed25519PrivateKey, now: dt.datetime) -> int:
    """Sign the head of every exam's audit log that grew since its last signed head; return how many."""
    signed = 0
    fingerprint = signing.fingerprint(key.public_key())
    for head in store.audit_heads():
        known = store.signed_heads(head["course"], head["assignment"])
        if known and known[-1]["entries"] == head["entries"] and known[-1]["audit_hash"] == head["hash"]:
            continue
        text = message(head["course"], head["assignment"], head["entries"], head["hash"], now)
        store.add_head(head["course"], head["assignment"], head["entries"], head["hash"], now, fingerprint,
                       base64.b64encode(key.sign(text)).decode())
        signed += 1
    return signed


def verify_heads(entries: list[dict], heads: list[dict], public: Ed25519PublicKey) -> tuple[list[str], list[str]]:
    """(what was checked, problems): each signed head must be the service's and match the log as it is now."""
    checked, problems = [], []
    for i, head in enumerate(heads, 1):
        exam, n = f"{head['course']}/{head['assignment']}", head["entries"]
        when = f"{head['signed_at']:%Y-%m-%d %H:%M:%S} UTC"
        try:
            public.verify(base64.b64decode(head["signature"]),
                          message(head["course"], head["assignment"], n, head["audit_hash"], head["signed_at"]))
        except (InvalidSignature, ValueError):
            problems.append(f"signed head {i} of {exam} ({n} entries, {when}): the signature is not the service "
                            "key's: the heads were edited")
            continue
        if n > len(entries) or entries[n - 1].get("hash") != head["audit_hash"]:
            problems.append(f"signed head {i} of {exam}: the audit log no longer has entry {n} as signed at {when}: "
                            "history before it was rewritten")
    if heads and not problems:
        last = heads[-1]
        checked.append(f"{len(heads)} signed head(s) of {last['course']}/{last['assignment']} match the audit log "
                       f"(latest: {last['entries']} entries at {last['signed_at']:%Y-%m-%d %H:%M:%S} UTC)")
    return checked, problems
