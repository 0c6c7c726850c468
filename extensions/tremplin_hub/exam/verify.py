"""``tremplin receipt verify``: check candidates' receipts, the stored files and the audit log.

Against the exam service's store (on the server, as the account that runs the hub):
every candidate's chain of receipts must link up, every stored file must still have the
SHA-256 its receipt names, the exam's audit log must be unbroken, and each receipt file
a candidate kept must be one of the service's own links. Offline, against a chain
downloaded from the service (``.../receipts/<candidate>``), only the chain and the
receipts are checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ExamError
from .heads import verify_heads
from .receipts import Receipt, verify_chain
from .store import Store, verify_audit


@dataclass
class VerifyReport:
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_receipt(path: Path) -> Receipt:
    try:
        return Receipt.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not a receipt saved by Tremplin ({exc}); give the JSON file from the "
                         "candidate's receipts/ folder") from None


def check_kept(kept: list[tuple[str, Receipt]], chains: dict[str, list[Receipt]], report: VerifyReport) -> None:
    for name, receipt in kept:
        chain = chains.get(receipt.candidate, [])
        if receipt in chain:
            report.checked.append(f"{name}: {receipt.kind} of {receipt.candidate} at {receipt.server_time} is link "
                                  f"{chain.index(receipt) + 1} of {len(chain)} of the service's chain")
        else:
            report.problems.append(f"{name}: this receipt ({receipt.chain[:16]}…) is not in the service's chain of "
                                   f"{receipt.candidate}: the receipt or the stored records were changed")


def verify_store(store: Store, course: str, assignment: str, candidates: list[str] | None = None,
                 kept: list[tuple[str, Receipt]] = (), public_key=None) -> VerifyReport:
    """Every chain, stored file and the audit log; with the service's ``public_key``, its signed heads too."""
    report = VerifyReport()
    users = candidates or sorted({r.user for r in store.records(course, assignment)})
    entries = store.audit_log(course, assignment)
    thinned = {i for e in entries if e["event"] == "thinned" for i in json.loads(e["detail"]).get("records", [])}
    chains = {}
    for user in users:
        records = store.records(course, assignment, user)
        chains[user] = [r.receipt for r in records]
        files = [None if r.id in thinned else _files(store, r.folder) for r in records]
        problems = verify_chain(chains[user], files)
        for p in problems:
            report.problems.append(f"{user}: receipt {p.index + 1} of {len(records)}: {p.problem}")
        if not problems:
            gone = sum(f is None for f in files)
            report.checked.append(f"{user}: {len(records)} receipt(s) chained, stored files intact"
                                  + (f" ({gone} older autosave(s) thinned, as the audit log says)" if gone else ""))
    problems = verify_audit(entries)
    report.problems.extend(f"audit log of {course}/{assignment}: {p}" for p in problems)
    if not problems:
        report.checked.append(f"audit log of {course}/{assignment}: {len(entries)} entries, unbroken")
    if public_key is not None and entries:
        signed = store.signed_heads(course, assignment)
        if not signed:
            report.problems.append(f"audit log of {course}/{assignment}: no signed head; the exam service signs "
                                   "every minute: heads were removed, or the service never ran with this database")
        checked, problems = verify_heads(entries, signed, public_key)
        report.checked.extend(checked)
        report.problems.extend(problems)
    check_kept(list(kept), chains, report)
    return report


def _files(store: Store, folder: str) -> dict[str, bytes]:
    try:
        return store.read_folder(folder)
    except ExamError:
        return {}  # gone without a "thinned" event: verify_chain names it as files that differ


def verify_downloaded(chain_file: Path, kept: list[tuple[str, Receipt]] = ()) -> VerifyReport:
    report = VerifyReport()
    try:
        chain = [Receipt(**r) for r in json.loads(chain_file.read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{chain_file} is not a chain downloaded from the exam service ({exc})") from None
    for p in verify_chain(chain):
        report.problems.append(f"{chain_file.name}: receipt {p.index + 1} of {len(chain)}: {p.problem}")
    if not report.problems:
        report.checked.append(f"{chain_file.name}: {len(chain)} receipt(s) chained")
    check_kept(list(kept), {chain[0].candidate: chain} if chain else {}, report)
    return report
