"""The grading queue keeps every paper until it is graded exactly once: claims are leased, a dead worker's
job is taken again, only the lease holder's result is kept, regrades and newer submissions behave."""

from __future__ import annotations

import datetime as dt

import pytest

from tremplin_grading.queue import MAX_ATTEMPTS, GradingQueue

UTC = dt.timezone.utc


class Clock:
    def __init__(self):
        self.t = dt.datetime(2027, 3, 15, 8, 0, tzinfo=UTC)

    def __call__(self):
        return self.t

    def advance(self, seconds: float):
        self.t += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def queue(tmp_path, clock):
    q = GradingQueue(f"sqlite:///{tmp_path / 'queue.sqlite'}", now=clock)
    yield q
    q.close()


def put(queue, student="amina", source=None, course="math", files=None):
    return queue.enqueue(course, "exam", student, files or {"exam.ipynb": b"{}"},
                         timestamp="2027-03-15 08:00:00.000000 UTC", source=source or f"record:{student}")


def test_a_record_is_queued_once_with_its_files(queue):
    job_id = put(queue, files={"exam.ipynb": b"{...}", "data/x.csv": b"1,2"})
    assert put(queue, files={"exam.ipynb": b"other"}) is None  # the same record again
    job = queue.job(job_id)
    assert (job.state, job.reason, job.timestamp) == ("waiting", "arrival", "2027-03-15 08:00:00.000000 UTC")
    assert queue.files(job.submission_id) == {"exam.ipynb": b"{...}", "data/x.csv": b"1,2"}


def test_claims_go_oldest_first_to_one_worker_each(queue):
    first, second = put(queue, "a"), put(queue, "b")
    assert queue.claim("w1").id == first
    assert queue.claim("w2").id == second
    assert queue.claim("w3") is None


def test_a_dead_workers_job_is_taken_again_after_its_lease_and_its_late_result_is_not_kept(queue, clock):
    job_id = put(queue)
    assert queue.claim("w1", lease_seconds=60).id == job_id
    clock.advance(30)
    assert queue.claim("w2", lease_seconds=60) is None  # still leased
    clock.advance(31)
    again = queue.claim("w2", lease_seconds=60)
    assert again.id == job_id and again.attempts == 2 and again.owner == "w2"
    assert not queue.complete(job_id, "w1", score=30, max_score=30)  # the first worker came back too late
    assert queue.complete(job_id, "w2", score=12, max_score=30)
    assert (queue.job(job_id).state, queue.job(job_id).score) == ("done", 12)
    assert not queue.complete(job_id, "w2", score=30, max_score=30)  # recorded once


def test_renewing_keeps_a_lease_and_release_gives_jobs_back(queue, clock):
    job_id = put(queue)
    queue.claim("w1", lease_seconds=10)
    clock.advance(8)
    assert queue.renew(job_id, "w1", lease_seconds=10)
    clock.advance(8)
    assert queue.claim("w2") is None
    assert queue.release("w1") == 1
    assert queue.claim("w2").id == job_id


def test_a_paper_that_keeps_killing_its_worker_ends_in_error_after_a_few_attempts(queue, clock):
    job_id = put(queue)
    for _ in range(MAX_ATTEMPTS):
        assert queue.claim("w", lease_seconds=1).id == job_id
        clock.advance(2)
    assert queue.claim("w") is None
    job = queue.job(job_id)
    assert job.state == "error" and "a grader must check it" in job.error


def test_flags_and_errors_set_the_state(queue):
    a, b, c = put(queue, "a"), put(queue, "b"), put(queue, "c")
    for _ in range(3):
        queue.claim("w")
    queue.complete(a, "w", score=1, max_score=2)
    queue.complete(b, "w", score=1, max_score=2, flags=[{"reason": "wall_time"}])
    queue.complete(c, "w", score=None, max_score=None, error="nbgrader failed")
    assert [queue.job(j).state for j in (a, b, c)] == ["done", "flagged", "error"]
    assert queue.job(b).flags == [{"reason": "wall_time"}]


def test_a_newer_submission_of_the_same_learner_supersedes_a_waiting_one(queue):
    old = put(queue, "amina", source="record:1")
    new = put(queue, "amina", source="record:2")
    claimed = queue.claim("w")
    assert claimed.id == new and queue.job(old).state == "superseded"


def test_regrade_queues_the_latest_paper_of_each_candidate_or_one_question(queue):
    put(queue, "a", source="r1")
    put(queue, "a", source="r2")
    put(queue, "b", source="r3")
    while (job := queue.claim("w")) is not None:
        queue.complete(job.id, "w", score=0, max_score=1)
    created = queue.regrade("math", "exam", requested_by="prof")
    assert len(created) == 2 and {queue.job(j).student for j in created} == {"a", "b"}
    assert all(queue.job(j).submission_id in (2, 3) for j in created)
    assert queue.regrade("math", "exam", requested_by="prof") == []  # already waiting
    one = queue.regrade("math", "exam", student="b", question="q6-test", requested_by="prof")
    assert len(one) == 1 and queue.job(one[0]).question == "q6-test" and queue.job(one[0]).reason == "regrade"


def test_progress_counts_states_and_estimates_the_time_left(queue, clock):
    for i in range(6):
        put(queue, f"s{i}")
    for _ in range(4):
        job = queue.claim("w")
        clock.advance(2)
        queue.complete(job.id, "w", score=1, max_score=1)
    p = queue.progress("math", "exam")
    assert p.counts["done"] == 4 and p.counts["waiting"] == 2 and p.finished == 4 and p.pending == 2
    assert p.seconds_per_paper == pytest.approx(2.0) and p.eta_seconds == pytest.approx(4.0)
    assert queue.progress("other", "exam").total == 0
