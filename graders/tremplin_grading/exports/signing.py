"""Signed manifests: proof that an export's files are the ones Tremplin wrote.

An export is a set of data files plus ``manifest.json`` (SHA-256 of each file, time of
export, Tremplin's version, counts, schema version, the signing key's fingerprint) and
``manifest.json.sig`` (the Ed25519 signature of the manifest's exact bytes, base64).
Admissions keeps the public key (``tremplin export public-key``); :func:`verify` checks a
folder or a set of files against it and names every file that differs.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The signing key in ``path`` (PEM, mode 600), created on first use."""
    if path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def manifest(files: dict[str, bytes], *, campaign: str, version: str, schema_version: str, counts: dict,
             key: Ed25519PrivateKey, now: dt.datetime) -> dict[str, bytes]:
    """``manifest.json`` and its signature for ``files``."""
    body = {
        "campaign": campaign, "schema_version": schema_version, "tremplin_version": version,
        "exported_at": now.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "counts": counts, "key": fingerprint(key.public_key()),
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                  for name, data in sorted(files.items())},
    }
    text = (json.dumps(body, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()
    return {MANIFEST: text, SIGNATURE: base64.b64encode(key.sign(text)) + b"\n"}


@dataclass
class Verification:
    ok: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise ValueError(f"not a PEM public key ({exc}); use the file 'tremplin export public-key' wrote") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key; use the file 'tremplin export public-key' wrote")
    return key


def verify(files: dict[str, bytes], public: Ed25519PublicKey) -> Verification:
    """Check the manifest's signature, then every file it lists; extra or missing files are problems."""
    out = Verification()
    if MANIFEST not in files or SIGNATURE not in files:
        out.problems.append(f"{MANIFEST} and {SIGNATURE} are both needed; download the whole export again")
        return out
    try:
        public.verify(base64.b64decode(files[SIGNATURE].strip(), validate=True), files[MANIFEST])
    except (InvalidSignature, ValueError):
        out.problems.append(f"{MANIFEST}: the signature does not match: the manifest was changed, or it was signed "
                            "by another key than the one you hold")
        return out
    out.ok.append(f"{MANIFEST}: signature valid ({fingerprint(public)})")
    listed = json.loads(files[MANIFEST])["files"]
    for name, expected in sorted(listed.items()):
        if name not in files:
            out.problems.append(f"{name}: listed in the manifest but missing")
            continue
        digest = hashlib.sha256(files[name]).hexdigest()
        if digest != expected["sha256"]:
            out.problems.append(f"{name}: changed since the export (SHA-256 {digest[:16]}…, manifest says "
                                f"{expected['sha256'][:16]}…)")
        else:
            out.ok.append(f"{name}: SHA-256 matches")
    for name in sorted(set(files) - set(listed) - {MANIFEST, SIGNATURE}):
        out.problems.append(f"{name}: not in the manifest (added after the export)")
    return out
