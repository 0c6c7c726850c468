"""Item analysis: difficulty, discrimination, Cronbach's alpha, means per variant, and the flags
that point a professor at a broken or unfair question."""

from __future__ import annotations

import pytest

from tremplin_grading.analysis import analyse, cronbach_alpha, html_report, pearson
from tremplin_grading.results import GradedSubmission, ItemScore


def paper(student, scores: dict[str, float], maxima=None):
    maxima = maxima or {k: 1.0 for k in scores}
    items = tuple(ItemScore(f"exam/{k}", v, maxima[k], False) for k, v in scores.items())
    return GradedSubmission(student, "exam", items, sum(maxima.values()))


def test_cronbach_alpha_matches_the_textbook_formula():
    matrix = [[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0], [1, 1, 1]]
    k = 3
    item_vars = [sum((r[j] - sum(x[j] for x in matrix) / 5) ** 2 for r in matrix) / 5 for j in range(k)]
    totals = [sum(r) for r in matrix]
    mean = sum(totals) / 5
    expected = k / (k - 1) * (1 - sum(item_vars) / (sum((t - mean) ** 2 for t in totals) / 5))
    assert cronbach_alpha(matrix) == pytest.approx(expected)
    assert cronbach_alpha([[1, 1]]) is None  # one candidate: undefined


def test_pearson_is_none_without_spread():
    assert pearson([1, 1, 1], [1, 2, 3]) is None
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1)


def build():
    # q1 easy for all; q2 follows ability; q3 is answered right only by the weakest (a wrong expected answer?)
    # (four candidates at each of six levels: enough papers for alpha and discrimination to mean something)
    levels = {"a": 5, "b": 4, "c": 3, "d": 2, "e": 1, "f": 0}
    ability = {f"{name}{k}": a for name, a in levels.items() for k in range(4)}
    graded = {s: paper(s, {"q1": 1.0, "q2": 1.0 if a >= 3 else 0.0, "q3": 1.0 if a <= 1 else 0.0,
                           "q4": 1.0 if a >= 2 else 0.0, "q5": 1.0 if a >= 4 else 0.0}) for s, a in ability.items()}
    variants = {s: "v1" if a % 2 else "v2" for s, a in ability.items()}
    return analyse("maths/exam", graded, variants)


def test_difficulty_discrimination_and_flags():
    a = build()
    items = {i.item: i for i in a.items}
    assert items["exam/q1"].difficulty == 1.0 and "très facile / very easy" in items["exam/q1"].flags
    assert items["exam/q2"].discrimination > 0.5 and items["exam/q2"].flags == ()
    assert items["exam/q3"].discrimination < 0 and any("negative" in f for f in items["exam/q3"].flags)
    assert a.candidates == 24 and a.max_score == 5 and a.alpha is not None


def test_questions_come_in_their_numbers_order():
    """q1, q2 … q10, not q1, q10, q11, q2 (the order a professor wrote them in)."""
    graded = {f"s{i}": paper(f"s{i}", {f"q{n}": float((i + n) % 2) for n in (1, 10, 11, 2, 3)}) for i in range(30)}
    assert [i.item for i in analyse("maths/exam", graded, {}).items] == [
        "exam/q1", "exam/q2", "exam/q3", "exam/q10", "exam/q11"]


def test_two_papers_give_no_alpha_or_discrimination_and_the_report_says_why():
    """Cronbach's alpha of 2 papers (-0.60 was shown) is noise, not a property of the exam."""
    graded = {s: paper(s, {"q1": x, "q2": y, "q3": 1.0}) for s, x, y in (("a", 1.0, 0.0), ("b", 0.0, 1.0))}
    a = analyse("maths/exam", graded, {})
    assert a.alpha is None and all(i.discrimination is None for i in a.items) and a.too_few
    page = html_report(a)
    assert "2 copies" in page and "trop peu" in page and "too few" in page


def test_means_per_variant_and_pending_papers_left_out():
    graded = {f"s{i}": paper(f"s{i}", {"q1": 1.0 if i < 5 else 0.0, "q2": 1.0 if i < 5 else 0.0})
              for i in range(10)}
    graded["late"] = GradedSubmission("late", "exam", (ItemScore("exam/q1", None, 1.0, True),), 2.0)
    variants = {f"s{i}": ("easy" if i < 5 else "hard") for i in range(10)}
    a = analyse("maths/exam", graded, variants)
    assert a.candidates == 10
    assert a.variants == {"easy": (5, 100.0), "hard": (5, 0.0)}
    assert len(a.variant_flags) == 2 and "hard" in a.variant_flags[1]


def test_the_report_is_one_self_contained_bilingual_page():
    page = html_report(build(), "Mathématiques 2027")
    assert "<svg" in page and "<script" not in page
    assert "Analyse des questions" in page and "Item analysis" in page and "Mathématiques 2027" in page
    assert "exam/q3" in page and "negative" in page and "Cronbach" in page
