"""Item analysis of one exam, for professors, before results go to admissions.

From graded submissions (:mod:`.results`) and each candidate's variant, it computes:

* the score distribution of the exam and of each of its sections (notebooks);
* per question: **difficulty** (mean score / maximum: 1 = everyone right), **discrimination**
  (correlation between the question's score and the rest of the exam, corrected: the
  question is left out of the total it is compared with);
* **Cronbach's alpha** of the exam (internal consistency over the questions);
* the **mean score per variant**, to see whether one variant was harder.

Questions come in their numbers' order (q1, q2 … q10). Alpha and discrimination need
:data:`MIN_PAPERS` graded papers: with fewer, they are noise (two papers gave an alpha of
−0.60), so they are not computed and the report says why.

Questions are flagged when a rule of thumb says to look at them: difficulty under 0.1 or over
0.95, discrimination under 0.1 (negative: strong candidates fail it more than weak ones,
often a wrong expected answer), a variant whose mean is more than 15 points of percent from
the others (with at least 5 candidates). :func:`html_report` renders all this as one
self-contained page with inline SVG (no script, a few kilobytes, for slow links).
"""

from __future__ import annotations

import html
import math
import re
import statistics
from dataclasses import dataclass, field

from .results import GradedSubmission

#: Graded papers below which alpha and discrimination are not computed (a rule of thumb: their
#: sampling error is then larger than the differences they are read for).
MIN_PAPERS = 20


def natural_key(name: str) -> list:
    """``exam/q10`` after ``exam/q2``: numbers in a name compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


@dataclass(frozen=True)
class ItemStats:
    item: str
    max_score: float
    difficulty: float | None
    discrimination: float | None
    flags: tuple[str, ...]


@dataclass
class ExamAnalysis:
    exam: str
    candidates: int
    max_score: float
    totals: list[float]
    sections: dict[str, list[float]]
    section_max: dict[str, float]
    items: list[ItemStats]
    alpha: float | None
    variants: dict[str, tuple[int, float]]  # variant -> (candidates, mean percent)
    variant_flags: list[str] = field(default_factory=list)
    too_few: bool = False  # fewer than MIN_PAPERS graded papers: no alpha, no discrimination


def pearson(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 3:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def cronbach_alpha(matrix: list[list[float]]) -> float | None:
    """Alpha of a candidates × items score matrix: k/(k-1) × (1 − Σ item variances / total variance)."""
    if len(matrix) < 2 or not matrix[0] or len(matrix[0]) < 2:
        return None
    k = len(matrix[0])
    item_vars = [statistics.pvariance([row[j] for row in matrix]) for j in range(k)]
    total_var = statistics.pvariance([sum(row) for row in matrix])
    if total_var == 0:
        return None
    return k / (k - 1) * (1 - sum(item_vars) / total_var)


def analyse(exam: str, graded: dict[str, GradedSubmission], variants: dict[str, str]) -> ExamAnalysis:
    """The analysis of the fully graded submissions of ``graded`` (pending ones are left out)."""
    subs = [s for s in graded.values() if not s.pending]
    names = sorted({i.item for s in subs for i in s.items}, key=natural_key)
    too_few = len(subs) < MIN_PAPERS
    maxima = {i.item: i.max_score for s in subs for i in s.items}
    matrix = [[next((i.score or 0.0 for i in s.items if i.item == name), 0.0) for name in names] for s in subs]
    totals = [sum(row) for row in matrix]
    items = []
    for j, name in enumerate(names):
        col = [row[j] for row in matrix]
        difficulty = statistics.fmean(col) / maxima[name] if col and maxima[name] else None
        rest = [t - c for t, c in zip(totals, col)]
        disc = None if too_few else pearson(col, rest)
        flags = []
        if difficulty is not None and difficulty < 0.1:
            flags.append("très difficile / very hard")
        if difficulty is not None and difficulty > 0.95:
            flags.append("très facile / very easy")
        if disc is not None and disc < 0.1:
            flags.append("discrimine mal / poor discrimination" + (" (négative / negative)" if disc < 0 else ""))
        items.append(ItemStats(name, maxima[name], difficulty, disc, tuple(flags)))
    max_score = subs[0].max_score if subs else 0.0
    sections: dict[str, list[float]] = {}
    section_max: dict[str, float] = {}
    for name in names:
        section_max[name.split("/")[0]] = section_max.get(name.split("/")[0], 0.0) + maxima[name]
    for j, name in enumerate(names):
        sec = name.split("/")[0]
        sections.setdefault(sec, [0.0] * len(subs))
        for r, row in enumerate(matrix):
            sections[sec][r] += row[j]
    by_variant: dict[str, list[float]] = {}
    for s, total in zip(subs, totals):
        by_variant.setdefault(variants.get(s.student, "") or "—", []).append(100 * total / max_score if max_score else 0)
    variant_means = {v: (len(xs), statistics.fmean(xs)) for v, xs in sorted(by_variant.items())}
    flags = []
    overall = statistics.fmean([100 * t / max_score for t in totals]) if totals and max_score else None
    for v, (n, mean) in variant_means.items():
        if overall is not None and n >= 5 and abs(mean - overall) > 15:
            flags.append(f"variante / variant {v}: {mean:.1f} % vs {overall:.1f} % ({n})")
    return ExamAnalysis(exam, len(subs), max_score, totals, sections, section_max, items,
                        None if too_few else cronbach_alpha(matrix), variant_means, flags, too_few)


def histogram_svg(values: list[float], maximum: float, bins: int = 10, width: int = 420, height: int = 140) -> str:
    if not values or not maximum:
        return "<p>—</p>"
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(bins * v / maximum))] += 1
    top = max(counts) or 1
    bar_w = width / bins
    bars = []
    for i, c in enumerate(counts):
        h = (height - 20) * c / top
        bars.append(f'<rect x="{i * bar_w + 1:.1f}" y="{height - 15 - h:.1f}" width="{bar_w - 2:.1f}" '
                    f'height="{h:.1f}" fill="#4a7bb7"><title>{100 * i // bins}–{100 * (i + 1) // bins} %: {c}'
                    f'</title></rect>')
        if c:
            bars.append(f'<text x="{i * bar_w + bar_w / 2:.1f}" y="{height - 18 - h:.1f}" font-size="10" '
                        f'text-anchor="middle">{c}</text>')
    axis = (f'<text x="0" y="{height - 2}" font-size="10">0 %</text>'
            f'<text x="{width}" y="{height - 2}" font-size="10" text-anchor="end">100 %</text>')
    return f'<svg width="{width}" height="{height}" role="img">{"".join(bars)}{axis}</svg>'


def _f(value, digits=2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def html_report(a: ExamAnalysis, title: str = "") -> str:
    esc = html.escape
    rows = "".join(
        f"<tr class='{'flag' if i.flags else ''}'><td>{esc(i.item)}</td><td>{i.max_score:g}</td>"
        f"<td>{_f(i.difficulty)}</td><td>{_f(i.discrimination)}</td><td>{esc('; '.join(i.flags))}</td></tr>"
        for i in a.items)
    variants = "".join(f"<tr><td>{esc(v)}</td><td>{n}</td><td>{mean:.1f} %</td></tr>"
                       for v, (n, mean) in a.variants.items())
    sections = "".join(f"<h3>{esc(name)}</h3>{histogram_svg(vals, a.section_max[name])}"
                       for name, vals in a.sections.items()) if len(a.sections) > 1 else ""
    flags = "".join(f"<li>{esc(f)}</li>" for f in a.variant_flags)
    return (
        "<!doctype html><html lang='fr'><head><meta charset='utf-8'><meta name='viewport' "
        "content='width=device-width'>"
        f"<title>{esc(a.exam)} — analyse</title><style>body{{font-family:system-ui,sans-serif;margin:1.5rem;"
        "max-width:60rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem}"
        "tr.flag{background:#fde2e2}</style></head><body>"
        f"<h1>Analyse des questions <span lang='en'>/ Item analysis</span> — {esc(title or a.exam)}</h1>"
        f"<p>{a.candidates} copies corrigées / graded papers · maximum {a.max_score:g} · "
        f"alpha de Cronbach / Cronbach's alpha: <b id='alpha'>{_f(a.alpha)}</b></p>"
        + (f"<p id='too-few'>{a.candidates} copies corrigées : trop peu pour l'alpha et la discrimination, qui "
           f"demandent au moins {MIN_PAPERS} copies. <span lang='en'>{a.candidates} graded papers: too few for "
           f"alpha and discrimination, which need at least {MIN_PAPERS} papers.</span></p>" if a.too_few else "") +
        f"<h2>Distribution des scores <span lang='en'>/ Score distribution</span></h2>"
        f"{histogram_svg(a.totals, a.max_score)}{sections}"
        "<h2>Questions</h2><table id='items'><tr><th>Question</th><th>Max</th><th>Difficulté / Difficulty</th>"
        f"<th>Discrimination</th><th>À vérifier / Check</th></tr>{rows}</table>"
        "<p><small>Difficulté : score moyen / maximum. Discrimination : corrélation avec le reste de l'épreuve. / "
        "Difficulty: mean score / maximum. Discrimination: correlation with the rest of the exam.</small></p>"
        "<h2>Moyenne par variante <span lang='en'>/ Mean per variant</span></h2>"
        f"<table id='variants'><tr><th>Variante / Variant</th><th>Copies / Papers</th><th>Moyenne / Mean</th></tr>"
        f"{variants}</table><ul id='variant-flags'>{flags}</ul></body></html>")
