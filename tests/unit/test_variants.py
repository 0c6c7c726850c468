"""Variants: keyed seeds, drawing, reading the parameters cell without running it, personalizing."""

from __future__ import annotations

import re

import pytest

from tremplin_grading.variants import (PREVIEW_SEED, Params, VariantError, draw, personalize, read_choices,
                                       values_for, variant_seed)

KEY = b"k" * 32


def cell(source, marked=True, tag=False):
    meta = {"tremplin": {"parameters": True}} if marked else {}
    if tag:
        meta = {"tags": ["parameters"]}
    return {"cell_type": "code", "metadata": meta, "source": source, "outputs": [], "execution_count": None}


def notebook(*cells):
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


PARAMS = "from tremplin_grading.variants import draw\np = draw(a=range(2, 1000), b=[3, 5, 7], f=['sin', 'cos'])\np"


def test_seed_is_reproducible_and_depends_on_key_exam_and_candidate():
    s = variant_seed(KEY, "math/exam", "c-0413")
    assert s == variant_seed(KEY, "math/exam", "c-0413")
    others = {variant_seed(KEY, "math/exam", "c-0414"), variant_seed(KEY, "math/exam2", "c-0413"),
              variant_seed(b"x" * 32, "math/exam", "c-0413")}
    assert s not in others and len(others) == 3


def test_candidates_get_different_values_and_the_same_candidate_the_same():
    nb = notebook(cell(PARAMS))
    values = [values_for(nb, variant_seed(KEY, "m/e", f"c-{i}"))[1].a for i in range(40)]
    assert len(set(values)) > 30
    assert values_for(nb, variant_seed(KEY, "m/e", "c-1")) == values_for(nb, variant_seed(KEY, "m/e", "c-1"))


def test_adding_a_parameter_keeps_the_others():
    assert draw("s", a=range(100)).a == draw("s", a=range(100), z=[1, 2]).a


def test_draw_without_seed_uses_the_environment_or_the_preview(monkeypatch):
    monkeypatch.delenv("TREMPLIN_VARIANT_SEED", raising=False)
    assert draw(a=range(100)) == draw(PREVIEW_SEED, a=range(100))
    monkeypatch.setenv("TREMPLIN_VARIANT_SEED", "abc")
    assert draw(a=range(100)) == draw("abc", a=range(100))


@pytest.mark.parametrize("source,var,choices", [
    (PARAMS, "p", {"a": list(range(2, 1000)), "b": [3, 5, 7], "f": ["sin", "cos"]}),
    ("import tremplin_grading.variants as v\nq = v.draw(n=range(5))", "q", {"n": [0, 1, 2, 3, 4]}),
    ("p = draw(x=(0.5, 1.5), y=range(1, 10, 4))", "p", {"x": [0.5, 1.5], "y": [1, 5, 9]}),
])
def test_choices_are_read_without_running_the_cell(source, var, choices):
    assert read_choices(cell(source)) == (var, choices)


@pytest.mark.parametrize("source,words", [
    ("p = draw(a=__import__('os').system('id'))", "must be a range(...) or a list"),
    ("import os\nos.system('id')\np = draw(a=[1])", "may only hold imports and one"),
    ("p = draw([1, 2])", "by name"),
    ("p = draw(a=[])", "has no option"),
    ("x = 1", "may only hold imports and one"),
    ("p = draw(a=[1]\n", "not valid Python"),
    ("p = draw(a=[1])\nq = draw(b=[2])", "exactly one"),
])
def test_bad_parameters_cell_is_refused_with_the_fix(source, words):
    with pytest.raises(VariantError, match=re.escape(words)):
        read_choices(cell(source))


def test_two_parameters_cells_are_refused():
    with pytest.raises(VariantError, match="keep one"):
        values_for(notebook(cell(PARAMS), cell(PARAMS, marked=False, tag=True)), "s")


def test_personalize_writes_the_values_in_the_cell_and_the_text():
    md = {"cell_type": "markdown", "metadata": {}, "source": "Compute {{a}} × {{ b }} and {{unknown}}."}
    nb = notebook(md, cell(PARAMS))
    seed = variant_seed(KEY, "m/e", "c-1")
    _, params = values_for(nb, seed)
    out = personalize(nb, seed)
    assert out["cells"][0]["source"] == f"Compute {params.a} × {params.b} and {{{{unknown}}}}."
    assert "draw(" not in out["cells"][1]["source"]
    namespace = {}
    exec(out["cells"][1]["source"], namespace)  # our own generated cell, not learner input
    assert namespace["p"] == params
    assert nb["cells"][0]["source"].startswith("Compute {{a}}")  # the original is untouched


def test_notebook_without_parameters_cell_is_left_as_is():
    nb = notebook(cell("x = 1", marked=False))
    assert values_for(nb, "s") is None and personalize(nb, "s") == nb


def test_params_access():
    p = Params(a=1, b="x")
    assert p.a == 1 and p["b"] == "x" and p.as_dict() == {"a": 1, "b": "x"} and repr(p) == "Params(a=1, b='x')"


def test_at_grading_the_text_shows_the_graded_candidates_own_values_and_their_answers_are_left_alone(tmp_path):
    """The formgrader showed the author's ``{{a}}`` placeholders, not the numbers the candidate was given."""
    import nbformat

    from tremplin_grading.variants import InjectVariant

    (tmp_path / "variants.key").write_text(KEY.decode())
    question = {"cell_type": "markdown", "metadata": {"nbgrader": {"locked": True}},
                "source": "Compute {{a}} × {{ b }}."}
    answer = {"cell_type": "markdown", "metadata": {"nbgrader": {"solution": True, "grade": True}},
              "source": "I write {{a}} myself."}
    nb = nbformat.from_dict(notebook(question, cell(PARAMS), answer))
    graded, _ = InjectVariant(key_file=str(tmp_path / "variants.key"), exam_prefix="m").preprocess(
        nb, {"nbgrader": {"assignment": "e", "student": "c-1"}})
    _, params = values_for(notebook(cell(PARAMS)), variant_seed(KEY, "m/e", "c-1"))
    assert graded.cells[0].source == f"Compute {params.a} × {params.b}."
    assert graded.cells[2].source == "I write {{a}} myself."
