"""Receipts: chained SHA-256 hashes find any edit, removal or reordering of a candidate's history."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from tremplin_hub.exam.receipts import GENESIS, Receipt, issue, verify_chain

T0 = dt.datetime(2027, 3, 15, 10, tzinfo=dt.timezone.utc)


def history(n=4):
    receipts, files, previous = [], [], None
    for i in range(n):
        content = {"exam.ipynb": f"answer {i}".encode(), "notes.txt": b"x"}
        kind = "submission" if i == n - 1 else "snapshot"
        previous = issue("math/exam", "c-0413", kind, T0 + dt.timedelta(minutes=i), content, previous)
        receipts.append(previous)
        files.append(content)
    return receipts, files


def test_a_genuine_history_verifies():
    receipts, files = history()
    assert receipts[0].previous == GENESIS
    assert verify_chain(receipts, files) == []
    assert Receipt.from_json(receipts[-1].to_json()) == receipts[-1]


def test_edited_file_is_found():
    receipts, files = history()
    files[1]["exam.ipynb"] = b"answer changed later"
    (problem,) = verify_chain(receipts, files)
    assert problem.index == 1 and "exam.ipynb" in problem.problem


@pytest.mark.parametrize("field,value", [("server_time", "2027-03-15T09:00:00+00:00"), ("candidate", "c-0414"),
                                         ("files", {"exam.ipynb": "0" * 64})])
def test_edited_receipt_is_found(field, value):
    receipts, _ = history()
    receipts[2] = dataclasses.replace(receipts[2], **{field: value})
    assert any(p.index == 2 for p in verify_chain(receipts))


def test_removed_or_reordered_snapshots_break_the_chain():
    receipts, _ = history()
    assert [p.index for p in verify_chain(receipts[:1] + receipts[2:])] == [1]
    swapped = [receipts[0], receipts[2], receipts[1], receipts[3]]
    assert verify_chain(swapped)


def test_server_time_is_what_the_service_says_in_utc():
    r = issue("math/exam", "c-0413", "submission", dt.datetime(2027, 3, 15, 15, 30, tzinfo=dt.timezone(
        dt.timedelta(hours=5, minutes=30))), {"a": b""})
    assert r.server_time == "2027-03-15T10:00:00.000000+00:00"


@pytest.mark.parametrize("kwargs,words", [
    ({"kind": "upload"}, "not one of"),
    ({"now": dt.datetime(2027, 3, 15, 10)}, "aware"),
])
def test_bad_receipt_input_is_refused(kwargs, words):
    args = {"exam": "math/exam", "candidate": "c-1", "kind": "snapshot", "now": T0, "files": {}}
    with pytest.raises(ValueError, match=words):
        issue(**{**args, **kwargs})


def test_a_chain_belongs_to_one_candidate():
    first = issue("math/exam", "c-1", "snapshot", T0, {})
    with pytest.raises(ValueError, match="previous receipt is for c-1"):
        issue("math/exam", "c-2", "snapshot", T0, {}, first)
