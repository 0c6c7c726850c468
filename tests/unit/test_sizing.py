"""Exam-day sizing for Kubernetes: the most candidates' servers up at once, the nodes they need, and
`tremplin deploy placeholders` from a real roster (tremplin_hub.sizing, tremplin_hub.cli)."""

from __future__ import annotations

import datetime as dt
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from tremplin_grading.courses import load_courses
from tremplin_hub import sizing
from tremplin_hub.accounts import AccountStore
from tremplin_hub.cli import main
from tremplin_hub.layout import Layout

UTC = dt.timezone.utc
H = dt.timedelta(hours=1)
T = dt.datetime(2027, 3, 15, 8, tzinfo=UTC)
NONE = dt.timedelta(0)
COURSES = Path(__file__).resolve().parents[2] / "courses"


def window(exam: str, opens: dt.datetime, hours: float, accounts: str) -> sizing.ExamWindow:
    return sizing.ExamWindow(exam, opens, opens + hours * H, frozenset(accounts.split()))


@pytest.mark.parametrize("windows, lead, idle, servers, exams", [
    ([], NONE, NONE, 0, ()),
    ([window("m/a", T, 2, "a b c")], NONE, NONE, 3, ("m/a",)),
    # the same candidates in two exams at once: one server each
    ([window("m/a", T, 2, "a b c"), window("p/b", T + H, 2, "b c d")], NONE, NONE, 4, ("m/a", "p/b")),
    # morning and afternoon: never together ...
    ([window("m/a", T, 2, "a b c"), window("p/b", T + 4 * H, 2, "d e")], NONE, NONE, 3, ("m/a",)),
    # ... unless the morning's servers are still up (idle culler) when the afternoon's are started ahead
    ([window("m/a", T, 2, "a b c"), window("p/b", T + 4 * H, 2, "d e")], H, 2 * H, 5, ("m/a", "p/b")),
    # a window closing exactly as the next one's servers start does not count twice
    ([window("m/a", T, 2, "a b"), window("p/b", T + 2 * H, 1, "c")], NONE, NONE, 2, ("m/a",)),
])
def test_the_peak_is_the_most_distinct_candidates_whose_servers_may_be_up_together(windows, lead, idle, servers, exams):
    found = sizing.peak(windows, lead, idle)
    assert (found.servers, found.exams) == (servers, exams)


def test_the_peak_from_now_on_leaves_out_windows_whose_servers_are_stopped_and_counts_those_running():
    windows = [window("m/a", T, 2, "a b c"), window("p/b", T + 4 * H, 2, "d e")]
    assert sizing.peak(windows, H, H, after=T + 3 * H + dt.timedelta(minutes=1)).servers == 2
    found = sizing.peak(windows, H, H, after=T + H)  # (the morning's servers are up now)
    assert (found.servers, found.at, found.exams) == (3, T + H, ("m/a",))


@pytest.mark.parametrize("text, value", [("4", 4), ("3500m", 3.5), ("0.1", 0.1), ("16Gi", 16 * 2**30),
                                         ("15G", 15e9), ("384Mi", 384 * 2**20)])
def test_kubernetes_quantities_are_read(text, value):
    assert sizing.quantity(text, "--x") == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "-1", "0", "16 GB", "lots"])
def test_a_bad_quantity_is_refused_with_an_example(text):
    with pytest.raises(ValueError, match=r"--node-memory .* write e\.g\. 4, 3500m, 16Gi"):
        sizing.quantity(text, "--node-memory")


@pytest.mark.parametrize("node_cpu, node_memory, max_pods, per_node, nodes", [
    (3.92, 15 * 2**30, 110, 39, 3),  # CPU bound: 3.92 / 0.1
    (7.9, 6 * 2**30, 110, 16, 7),  # memory bound: 6 GiB / 384 MiB
    (32, 128 * 2**30, 30, 30, 4),  # the pods a node may run (or volumes it may attach)
])
def test_nodes_are_the_peak_over_the_pods_one_node_holds(node_cpu, node_memory, max_pods, per_node, nodes):
    p = sizing.plan(sizing.Peak(100, T, ("m/a",)), node_cpu=node_cpu, node_memory=node_memory, max_pods=max_pods)
    assert (p.per_node, p.nodes) == (per_node, nodes)


def test_a_node_too_small_for_one_candidate_is_refused():
    with pytest.raises(ValueError, match="cannot hold one candidate's pod"):
        sizing.plan(sizing.Peak(5, T, ()), node_cpu=0.05, node_memory=2**30)
    with pytest.raises(ValueError, match="give both --node-cpu and --node-memory"):
        sizing.plan(sizing.Peak(5, T, ()), node_cpu=4)


def test_windows_come_from_the_command_line_then_the_coordinator_then_the_course_toml():
    courses = load_courses(COURSES, {"professor"}).courses  # (preselection-math: learners learner1, learner2)
    exam, grace = "preselection-math/math-2027", dt.timedelta(minutes=2)
    (w,) = sizing.exam_windows({exam: {"a", "b"}}, courses, {})
    assert (w.opens, w.closes) == (dt.datetime(2026, 11, 1, tzinfo=UTC),
                                   dt.datetime(2027, 3, 31, 23, 59, tzinfo=UTC) + grace)
    assert w.accounts == {"a", "b", "learner1", "learner2"}
    (w,) = sizing.exam_windows({exam: {"a"}}, courses, {("preselection-math", "math-2027"): (T, T + 2 * H)})
    assert (w.opens, w.closes) == (T, T + 2 * H + grace)
    given = dict([sizing.parse_window(f"{exam}=2027-03-16T08:00Z/2027-03-16T09:00")])
    (w,) = sizing.exam_windows({exam: {"a"}}, courses, {("preselection-math", "math-2027"): (T, T + H)}, given)
    assert (w.opens, w.closes) == (T + 24 * H, T + 25 * H + grace)
    with pytest.raises(ValueError, match="'physique/exam' of the campaign is not an assignment of an exam course"):
        sizing.exam_windows({"physique/exam": {"a"}}, courses, {})
    with pytest.raises(ValueError, match="'python-intro/devoir-1' of the campaign is not an assignment of an exam"):
        sizing.exam_windows({"python-intro/devoir-1": {"a"}}, courses, {})
    with pytest.raises(ValueError, match="--window 'x/y=tomorrow': write course/assignment=OPENS/CLOSES"):
        sizing.parse_window("x/y=tomorrow")


def test_tremplin_deploy_placeholders_counts_a_loaded_roster_without_the_withdrawn(tmp_path, capsys):
    """Through `tremplin`'s main(): a campaign of both demo exams, a roster of 5 candidates loaded by `tremplin
    campaign roster`, one withdrawn; the windows overlap, so 4 servers (plus the courses' own learners lists)."""
    data = tmp_path / "data"
    layout = Layout(data)
    layout.hub_dir.mkdir(parents=True)
    with closing(AccountStore(layout.accounts_url)) as store:
        store.add("professor", "professor", "a long enough password")
    campaign = tmp_path / "campaign.toml"
    campaign.write_text('id = "dd-2027-vn"\ntitle = "DD"\npartner = "HUST"\ncountry = "VN"\nsession = "2027-03"\n'
                        'threshold = 50\nthreshold_version = "1"\n'
                        '[[sections]]\nname = "math"\nexam = "preselection-math/math-2027"\n'
                        '[[sections]]\nname = "physics"\nexam = "preselection-physics/physics-2027"\n')
    roster = tmp_path / "roster.csv"
    roster.write_text("candidate_id,last_name,first_name,email,partner,country\n"
                      + "".join(f"VN-{i},Nguyễn,An,vn{i}@x.org,HUST,VN\n" for i in range(1, 6)))
    courses = ["--courses-dir", str(COURSES)]
    out = tmp_path / "placeholders.yaml"
    base = ["--data-dir", str(data)]
    assert main([*base, "campaign", "add", str(campaign)]) == 0
    assert main([*base, "campaign", "roster", "dd-2027-vn", str(roster), "--sheet", str(tmp_path / "s.csv")]) == 0
    assert main([*base, "campaign", "withdraw", "dd-2027-vn", "VN-3"]) == 0
    capsys.readouterr()
    assert main([*base, "deploy", "placeholders", "dd-2027-vn", *courses, "--window",
                 "preselection-math/math-2027=2099-03-15T08:00Z/2099-03-15T10:00Z", "--window",
                 "preselection-physics/physics-2027=2099-03-15T09:00Z/2099-03-15T10:30Z",
                 "--node-cpu", "3920m", "--node-memory", "15Gi", "--out", str(out)]) == 0
    # vn-1, vn-2, vn-4, vn-5 and the demo learners the course.toml files list (learner1, learner2)
    assert capsys.readouterr().out.startswith("6 candidates' servers at most at once "
                                              "(preselection-math/math-2027); "
                                              "1 user node(s) of 39 pods")
    written = yaml.safe_load(out.read_text())
    assert written == {"scheduling": {"userPlaceholder": {"enabled": True, "replicas": 6}}}
    assert "from 2099-03-15 07:40 UTC" in out.read_text()  # (20 minutes of prestart before the opening)

    # windows already over (and their servers stopped) are not the day to size for
    assert main([*base, "deploy", "placeholders", "dd-2027-vn", *courses, "--window",
                 "preselection-math/math-2027=2020-03-15T08:00Z/2020-03-15T10:00Z", "--window",
                 "preselection-physics/physics-2027=2020-03-15T09:00Z/2020-03-15T10:30Z", "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith("0 candidates' servers at most at once (no exam window ahead: give one "
                                              "with --window)")
    assert yaml.safe_load(out.read_text())["scheduling"]["userPlaceholder"]["replicas"] == 0

    assert main([*base, "deploy", "placeholders", "no-such-campaign", *courses]) == 1
    assert "no-such-campaign" in capsys.readouterr().err
