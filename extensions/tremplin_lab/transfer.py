"""A learner's copy and hand-in, to and from the exam service, without nbgrader.

The two steps an exam needs in the learner's server (fetch a copy, hand in), the files they move, and the
feedback folder: used by the hub home page's links and the hand-in button (:mod:`.serverext`), by the exam
autosave (:mod:`.autosave`), and by nbgrader's exchange plugins (:mod:`.exchange`), which are these same steps
behind nbgrader's classes. Nothing here imports nbgrader, so a candidate's server never loads it
(:mod:`.singleuser`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from tremplin_grading.paths import is_plain_relative

from .client import ExamClient, ExamServiceError, decode, encode

#: Never sent with a submission: nbgrader's own folders, our receipts, hidden files.
SKIPPED = {"feedback", "receipts", ".ipynb_checkpoints", "__pycache__"}
MAX_BYTES = 20 * 1024 * 1024


class TransferError(Exception):
    """A step that could not be done; the message says why and what to do, for the person."""


def gather(folder: Path) -> dict[str, bytes]:
    """The files of an assignment folder to hand in, by relative path."""
    files, total = {}, 0
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in SKIPPED or part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        total += path.stat().st_size
        if total > MAX_BYTES:
            raise TransferError(f"{folder} holds more than {MAX_BYTES // 1024 // 1024} MB; remove large data files "
                                "(the largest is probably a dataset you downloaded) and submit again")
        files[str(rel)] = path.read_bytes()
    return files


def write_new_folder(target: Path, files: dict[str, bytes]) -> None:
    """Create ``target`` with ``files``, all at once (a temporary folder renamed into place)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, data in files.items():
            if not is_plain_relative(name):
                raise TransferError(f"the service sent an unsafe file name {name!r}; nothing was written")
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        tmp.chmod(0o755)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


#: nbgrader's timestamp of a hand-in, the only name a feedback folder may have (``2027-03-15 08:00:00.000000 UTC``).
FEEDBACK_NAME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})? UTC")


def save_feedback(assignment: Path, timestamp, files: dict[str, bytes], now: dt.datetime) -> Path:
    """Write one feedback into ``assignment/feedback/<timestamp>/``, never anywhere else; return that folder.

    ``timestamp`` comes from the service and becomes a folder name, so it must be an nbgrader
    timestamp, nothing more. A folder of that name already there (an earlier version of the
    feedback, perhaps with the learner's notes) is renamed aside, never deleted.
    """
    if not isinstance(timestamp, str) or not FEEDBACK_NAME.fullmatch(timestamp):
        raise TransferError(f"the service sent feedback named {str(timestamp)[:80]!r}, which is not a submission "
                            "timestamp; nothing was written (tell the course's professor)")
    folder = assignment / "feedback"
    target = folder / timestamp
    if target.is_symlink() or target.exists():
        aside = folder / f"{timestamp} (before {now.strftime('%Y-%m-%d %H%M%S')})"
        os.rename(target, aside)
    write_new_folder(target, files)
    return target


def _call(client: ExamClient, method: str, path: str, body: dict | None = None):
    try:
        return client.call(method, path, body)
    except ExamServiceError as exc:
        raise TransferError(exc.message) from None


def fetch_copy(client: ExamClient, root: Path, course_id: str, assignment_id: str, log, *,
               replace_missing_files: bool = False) -> Path:
    """The learner's own copy into ``root/<course>/<assignment>/`` (personalized for exams with variants; for an
    exam this starts the time). An existing copy is never overwritten: with ``replace_missing_files`` only the
    files missing from it are written back."""
    target = Path(root).resolve() / course_id / assignment_id
    if target.exists() and not replace_missing_files:
        raise TransferError(f"{target} exists already: your copy of {course_id}/{assignment_id} was fetched before. "
                            "Rename that folder to fetch a fresh copy")
    got = _call(client, "POST", f"{client.assignment_path(course_id, assignment_id)}/fetch", {})
    files = decode(got["files"])
    unsafe = next((name for name in files if not is_plain_relative(name)), None)
    if unsafe is not None:
        raise TransferError(f"the service sent an unsafe file name {unsafe!r}; nothing was written")
    if target.exists():
        for name, data in files.items():
            path = target / name
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                log.info("restored missing file %s", path)
    else:
        write_new_folder(target, files)
    log.info("fetched %s/%s into %s", course_id, assignment_id, target)
    return target


def hand_in(client: ExamClient, root: Path, course_id: str, assignment_id: str, log, *, confirmed: bool) -> dict:
    """Hand in ``root/<course>/<assignment>/``; the service stamps it with its own clock and answers its record,
    whose receipt is kept in the folder's ``receipts/``. An exam's hand-in ends it: the service takes it only
    ``confirmed`` (the candidate confirmed in the hand-in dialog)."""
    source = Path(root).resolve() / course_id / assignment_id
    if not source.is_dir():
        raise TransferError(f"{source} does not exist: fetch {course_id}/{assignment_id} first")
    files = gather(source)
    me = os.environ.get("JUPYTERHUB_USER", "")
    # The client's clock is sent only so the audit log shows when the learner's machine thought it was.
    claimed = dt.datetime.now(dt.timezone.utc).isoformat()
    record = _call(client, "POST", f"{client.assignment_path(course_id, assignment_id)}/submissions/{me}",
                   {"files": encode(files), "timestamp": claimed, "confirmed": confirmed})
    receipts = source / "receipts"
    receipts.mkdir(exist_ok=True)
    stamp = record["server_time"].replace(":", "").replace("-", "")[:15]
    (receipts / f"{stamp}-submission.json").write_text(json.dumps(record["receipt"], indent=1))
    log.info("submitted %s/%s at %s (service time), %s; receipt %s", course_id, assignment_id,
             record["timestamp"], record["state"], record["receipt"]["chain"])
    return record
