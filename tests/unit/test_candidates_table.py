"""The coordinator's candidates table for a campaign of thousands: counts by state, search, filter, paging
(:func:`tremplin_hub.exam.core.table_view`), and its live part rendered alone for the page's refresh."""

from __future__ import annotations

import pytest

from tremplin_hub.exam import errors
from tremplin_hub.exam.core import ROW_STATES, UNKNOWN_ROW, table_view


def rows(n_running=120, n_submitted=30):
    out = [{**UNKNOWN_ROW, "user": f"cand{i:04d}", "state": "running", "ip": f"10.0.{i}.1"} for i in range(n_running)]
    out += [{**UNKNOWN_ROW, "user": f"done{i:04d}", "state": "submitted", "ip": ""} for i in range(n_submitted)]
    return out


def test_counts_cover_every_candidate_whatever_is_shown():
    view = table_view(rows(), query="cand0001", state="running", per_page=10)
    assert view["total"] == 150 and view["counts"]["running"] == 120 and view["counts"]["submitted"] == 30
    assert set(view["counts"]) == set(ROW_STATES)


def test_pages_of_the_matching_rows_in_their_order():
    view = table_view(rows(), per_page=50, page=3)
    assert (view["page"], view["pages"], view["matched"]) == (3, 3, 150)
    assert [r["user"] for r in view["candidates"]][:2] == ["cand0100", "cand0101"] and len(view["candidates"]) == 50
    assert table_view(rows(), per_page=50, page=99)["page"] == 3  # (past the end: the last page)
    assert table_view(rows(), per_page=50, page=-4)["page"] == 1
    assert len(table_view(rows())["candidates"]) == 150  # (no page size: every row, as the API gave before)


def test_search_by_name_or_ip_and_filter_by_state():
    assert [r["user"] for r in table_view(rows(), query="CAND0042")["candidates"]] == ["cand0042"]
    assert [r["user"] for r in table_view(rows(), query="10.0.7.")["candidates"]] == ["cand0007"]
    assert table_view(rows(), state="submitted")["matched"] == 30
    assert table_view(rows(), query="done", state="running")["matched"] == 0


@pytest.mark.parametrize("kwargs,words", [
    ({"state": "finished"}, "no candidate state 'finished'"),
    ({"per_page": 5000}, "per_page=5000"),
    ({"per_page": -1}, "per_page=-1"),
])
def test_bad_arguments_are_refused_with_the_fix(kwargs, words):
    with pytest.raises(errors.Invalid) as err:
        table_view(rows(), **kwargs)
    assert words in err.value.message and err.value.fr


def test_the_live_part_renders_alone_with_counts_rows_and_paging():
    from tremplin_hub.exam.pages import STATE_LABELS, TEMPLATES

    view = table_view(rows(), query="", state="running", per_page=50, page=2)
    html = TEMPLATES.get_template("exam_page.html").render(view="rows", tv=view, states=ROW_STATES,
                                                           state_labels=STATE_LABELS, now="2027-03-15T08:00:00+00:00")
    assert "<html" not in html and html.count("<tr data-user=") == 50
    assert 'data-user="cand0050"' in html and 'href="?page=3&amp;state=running" rel="next"' in html
    assert "en cours / in progress : <b>120</b>" in html and "remis / handed in : <b>30</b>" in html
    assert "120 sur / of 150 (filtrés / filtered) · page 2 / 3" in html
