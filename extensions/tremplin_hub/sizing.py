"""How many learners' servers an exam day needs at once, and the room that takes on a Kubernetes cluster.

Zero to JupyterHub's *user placeholders* are pods the size of a learner's that hold room on the nodes, and
make the cluster autoscaler add nodes, before anyone needs it; a real learner's pod takes a placeholder's
place at once (placeholders have a lower priority and are evicted), so their servers start without
waiting minutes for a new node. For a timed exam the room needed is the largest number of candidates
whose servers may run at the same moment: a candidate's server runs from ``lead`` before their exam's
window opens (``tremplin-prestart`` starts it then) until ``idle`` after it closes (when the culler stops
it), and everyone may start at the opening. ``tremplin deploy placeholders`` counts that from the
campaigns' rosters (withdrawn candidates left out) and the exams' windows, and writes the Helm values
that reserve it (:func:`placeholders_values`). docs/sizing.md has the measured per-candidate figures.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tremplin_grading.courses import Course

#: What one candidate's pod asks for (its server and its kernel during an exam, docs/sizing.md): the
#: guarantees of deploy/kubernetes/values.yaml (``singleuser.cpu.guarantee`` and ``memory.guarantee``;
#: tests/unit/test_kubernetes_deploy.py checks they are the same).
CANDIDATE_CPU = 0.1
CANDIDATE_MEMORY = 384 * 2**20

_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(Ki|Mi|Gi|Ti|K|M|G|T|m)?\s*$")
_FACTORS = {None: 1, "m": 1e-3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(text: str, what: str) -> float:
    """A Kubernetes quantity (``4``, ``3500m``, ``16Gi``, ``15G``) as a number; ``what`` names it in the error."""
    found = _QUANTITY.match(str(text))
    if not found or float(found.group(1)) <= 0:
        raise ValueError(f"{what} {text!r} is not a positive Kubernetes quantity; write e.g. 4, 3500m, 16Gi or 15G")
    return float(found.group(1)) * _FACTORS[found.group(2)]


@dataclass(frozen=True)
class ExamWindow:
    """One exam's window and who may take it."""

    exam: str  # course/assignment
    opens: dt.datetime
    closes: dt.datetime
    accounts: frozenset[str]


def exam_windows(candidates: dict[str, set[str]], courses: list[Course],
                 sessions: dict[tuple[str, str], tuple[dt.datetime, dt.datetime]],
                 overrides: dict[str, tuple[dt.datetime, dt.datetime]] | None = None) -> list[ExamWindow]:
    """Each exam's window and candidates, as the exam service will see them.

    Args:
        candidates: ``course/assignment`` -> the accounts the campaigns' rosters enrol in it (withdrawn left out);
            the course's own ``learners`` list is added (the exam service admits them too).
        courses: the courses as loaded from their ``course.toml``.
        sessions: the windows coordinators set in the exam service; the others are the course.toml's
            ``opens`` to ``due`` (the prestart service's rule), with the exam's grace after it.
        overrides: windows given on the command line (planning before coordinators set them).

    Raises:
        ValueError: an exam that is no exam course's assignment.
    """
    by_id = {course.id: course for course in courses}
    windows = []
    for exam, accounts in sorted(candidates.items()):
        course_id, _, assignment_id = exam.partition("/")
        course = by_id.get(course_id)
        assignment = next((a for a in course.assignments if a.id == assignment_id), None) if course else None
        if course is None or course.kind != "exam" or assignment is None:
            raise ValueError(f"exam {exam!r} of the campaign is not an assignment of an exam course in the courses "
                             "folder; fix the campaign's sections or give --courses-dir")
        opens, closes = (overrides or {}).get(exam) or sessions.get((course.id, assignment.id)) or \
            (assignment.opens, assignment.due)
        closes += dt.timedelta(minutes=assignment.grace_minutes)
        windows.append(ExamWindow(exam, opens, closes, frozenset(accounts) | frozenset(course.learners)))
    return windows


def parse_window(text: str) -> tuple[str, tuple[dt.datetime, dt.datetime]]:
    """``course/assignment=OPENS/CLOSES`` (ISO 8601, UTC when no offset) from the command line."""
    exam, _, span = text.partition("=")
    opens_text, _, closes_text = span.partition("/")
    try:
        opens, closes = (dt.datetime.fromisoformat(t.strip().replace("Z", "+00:00")) for t in (opens_text, closes_text))
    except ValueError:
        raise ValueError(f"--window {text!r}: write course/assignment=OPENS/CLOSES in ISO 8601, e.g. "
                         "preselection-math/math-2027=2027-03-15T08:00Z/2027-03-15T10:00Z") from None
    opens, closes = (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc) for t in (opens, closes))
    if exam.count("/") != 1 or closes <= opens:
        raise ValueError(f"--window {text!r}: give course/assignment, and a window that closes after it opens")
    return exam, (opens, closes)


@dataclass(frozen=True)
class Peak:
    """The most servers up at one moment: how many, from when, and which exams' candidates they are."""

    servers: int
    at: dt.datetime | None
    exams: tuple[str, ...]


def peak(windows: Iterable[ExamWindow], lead: dt.timedelta, idle: dt.timedelta,
         after: dt.datetime | None = None) -> Peak:
    """The largest number of distinct candidates whose servers may be up at once (from ``after`` on: a window
    whose servers are all stopped by then is left out, as the day's sizing has nothing to do with it).

    A candidate's server may be up from ``lead`` before a window of theirs opens until ``idle`` after it
    closes; a candidate in two overlapping windows counts once (one server each). The count only grows
    where a window's span begins, so those moments are the only ones to look at.
    """
    spans = [(w.opens - lead, w.closes + idle, w) for w in windows]
    if after is not None:
        spans = [(max(begin, after), end, w) for begin, end, w in spans if end > after]
    best = Peak(0, None, ())
    for start, _, _ in sorted(spans, key=lambda s: s[0]):
        live = [w for begin, end, w in spans if begin <= start < end]
        servers = len(frozenset().union(*(w.accounts for w in live)))
        if servers > best.servers:
            best = Peak(servers, start, tuple(sorted(w.exam for w in live)))
    return best


@dataclass(frozen=True)
class Plan:
    """The placeholders and nodes for a peak, with the figures it was computed from."""

    peak: Peak
    cpu: float  # cores each candidate's pod asks for
    memory: int  # bytes each candidate's pod asks for
    per_node: int  # candidates' pods that fit on one node (0: no node size given)
    nodes: int  # user nodes needed for the peak (0: no node size given)


def plan(found: Peak, *, cpu: float = CANDIDATE_CPU, memory: int = CANDIDATE_MEMORY, node_cpu: float | None = None,
         node_memory: float | None = None, max_pods: int = 110) -> Plan:
    """Nodes for ``found``: each node holds ``min(node_cpu // cpu, node_memory // memory, max_pods)`` pods.

    ``node_cpu`` and ``node_memory`` are what a node can give pods (``Allocatable`` in ``kubectl describe node``,
    less what its daemon sets ask); ``max_pods`` the kubelet's limit (110 by default), less those daemon sets.
    """
    if (node_cpu is None) != (node_memory is None):
        raise ValueError("give both --node-cpu and --node-memory (a node's allocatable CPU and memory), or neither")
    if node_cpu is None or node_memory is None:
        return Plan(found, cpu, memory, 0, 0)
    per_node = min(int(node_cpu // cpu), int(node_memory // memory), max_pods)
    if per_node < 1:
        raise ValueError(f"a node of {node_cpu:g} CPU and {node_memory / 2**30:.1f} GiB cannot hold one candidate's "
                         f"pod ({cpu:g} CPU, {memory / 2**20:.0f} MiB); choose bigger nodes")
    return Plan(found, cpu, memory, per_node, math.ceil(found.servers / per_node))


def placeholders_values(p: Plan, command: str, now: dt.datetime) -> str:
    """The Helm values override (YAML) that reserves room for ``p``'s peak, with what it rests on as comments."""
    at = f"{p.peak.at.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC" if p.peak.at else "no exam window"
    lines = [
        f"# Written by `{command}` at {now.astimezone(dt.timezone.utc):%Y-%m-%dT%H:%MZ}.",
        f"# At most {p.peak.servers} candidates' servers at once, from {at}"
        + (f" ({', '.join(p.peak.exams)})" if p.peak.exams else "") + ";",
        f"# each pod asks for {p.cpu:g} CPU and {p.memory / 2**20:.0f} MiB (deploy/kubernetes/values.yaml, "
        "docs/sizing.md).",
    ]
    if p.nodes:
        lines.append(f"# {p.per_node} pods per user node: {p.nodes} user node(s) for the peak (set the node "
                     "pool's autoscaler maximum to at least that).")
    lines += [
        "# Apply it an hour before the servers are started ahead, so new nodes have time to join:",
        "#   helm upgrade tremplin jupyterhub/jupyterhub --version 4.4.0 -f values.yaml -f placeholders.yaml",
        "# and again with replicas: 0 once the candidates' servers run (evicted placeholders would ask for",
        "# as many nodes again).",
        "scheduling:",
        "  userPlaceholder:",
        "    enabled: true",
        f"    replicas: {p.peak.servers}",
    ]
    return "\n".join(lines) + "\n"
