"""A variant of each test for every candidate: parameters drawn from a keyed hash.

The author marks one code cell of the source notebook as the *parameters cell* (cell
metadata ``{"tremplin": {"parameters": true}}``, or the cell tag ``parameters``). It holds
imports and exactly one call of :func:`draw`::

    from tremplin_grading.variants import draw
    p = draw(a=range(2, 10), b=[3, 5, 7], f=["sin", "cos"])

Each candidate's values come from ``HMAC-SHA256(course key, exam id, candidate id)``:
reproducible, and unpredictable without the course key, which only the graders' side
holds (``<course dir>/variants.key``). Each name gets its own stream, so adding a
parameter does not change the others.

* :func:`personalize` writes a candidate's values into their copy: the parameters cell
  becomes literal values (``p = Params(a=7, b=3, f='cos')``) and ``{{a}}`` in text cells is
  replaced by the value, so the notebook shows that candidate's numbers.
* At grading, :class:`InjectVariant` (an nbgrader preprocessor run after ``OverwriteCells``)
  puts the same values back for the student being graded, so hidden tests recompute the
  expected answers from the candidate's own parameters, whoever starts the autograde.
* The options of :func:`draw` are read from the cell with :mod:`ast` (literals and
  ``range`` only): computing a candidate's values never executes notebook code.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import hmac
import os
import random
import re
import secrets
from pathlib import Path
from typing import Any, Iterable

KEY_FILE = "variants.key"
SEED_ENV = "TREMPLIN_VARIANT_SEED"
PREVIEW_SEED = "preview"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class VariantError(Exception):
    """The parameters cell cannot be used; the message says which cell and how to fix it."""


class Params:
    """A candidate's parameters: attribute access (``p.a``) and ``p["a"]``."""

    def __init__(self, **values: Any):
        self.__dict__.update(values)

    def __getitem__(self, name: str) -> Any:
        return self.__dict__[name]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __eq__(self, other) -> bool:
        return isinstance(other, Params) and other.__dict__ == self.__dict__

    def __repr__(self) -> str:
        return "Params(" + ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items()) + ")"


# ---- seeds and drawing ---------------------------------------------------------------

def new_key() -> str:
    """A fresh course key (hex)."""
    return secrets.token_hex(32)


def load_key(course_dir: Path, create: bool = False) -> bytes:
    """The course key from ``<course_dir>/variants.key`` (mode 600), created if asked."""
    path = Path(course_dir) / KEY_FILE
    if not path.exists():
        if not create:
            raise VariantError(f"no variant key in {path}; run 'tremplin courses sync' to create it")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_key() + "\n")
    return path.read_text().strip().encode()


def variant_seed(key: bytes, exam_id: str, candidate_id: str) -> str:
    """The seed of one candidate's variant of one exam (hex)."""
    return hmac.new(key, f"{exam_id}\0{candidate_id}".encode(), hashlib.sha256).hexdigest()


def _stream(seed: str, name: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(f"{seed}\0{name}".encode()).digest(), "big"))


def draw(seed: str | None = None, **choices: Iterable) -> Params:
    """Pick one value per parameter from its options, reproducibly for ``seed``.

    Args:
        seed: the variant's seed; default ``$TREMPLIN_VARIANT_SEED``, else the preview variant.
        choices: ``name=options`` where options is a range or a list/tuple of values.
    """
    seed = seed or os.environ.get(SEED_ENV) or PREVIEW_SEED
    values = {}
    for name in choices:
        options = list(choices[name])
        if not options:
            raise VariantError(f"parameter '{name}' has no option; give at least one value")
        values[name] = _stream(seed, name).choice(options)
    return Params(**values)


# ---- the parameters cell ---------------------------------------------------------------

def is_parameters_cell(cell: dict) -> bool:
    meta = cell.get("metadata", {})
    return cell.get("cell_type") == "code" and (
        bool(meta.get("tremplin", {}).get("parameters")) or "parameters" in meta.get("tags", []))


def parameters_cell(nb: dict) -> tuple[int, dict] | None:
    """``(index, cell)`` of the notebook's parameters cell, or None; two are an error."""
    found = [(i, c) for i, c in enumerate(nb["cells"]) if is_parameters_cell(c)]
    if len(found) > 1:
        raise VariantError(f"cells {[i + 1 for i, _ in found]} are all marked as parameters; keep one")
    return found[0] if found else None


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _literal(node: ast.AST, name: str):
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" \
            and not node.keywords and 1 <= len(node.args) <= 3:
        return range(*[_literal(a, name) for a in node.args])
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise VariantError(f"the options of parameter '{name}' must be a range(...) or a list of plain values "
                           f"(numbers, text), not {ast.unparse(node)!r}") from None


def read_choices(cell: dict) -> tuple[str, dict[str, list]]:
    """The variable name and the options of the parameters cell's ``draw`` call, read without running it."""
    try:
        tree = ast.parse(_source(cell))
    except SyntaxError as exc:
        raise VariantError(f"the parameters cell is not valid Python ({exc.msg}, line {exc.lineno})") from None
    calls = []
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, (ast.Name, ast.Attribute))
                and (getattr(stmt.value.func, "id", None) or getattr(stmt.value.func, "attr", None)) == "draw"):
            calls.append(stmt)
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Name):
            continue  # "p" on the last line, to show the values
        raise VariantError("the parameters cell may only hold imports and one 'p = draw(name=options, ...)' line; "
                           f"move {ast.unparse(stmt)!r} to another cell")
    if len(calls) != 1:
        raise VariantError("the parameters cell must contain exactly one 'p = draw(name=options, ...)' line")
    call = calls[0]
    if call.value.args:
        raise VariantError("give draw() its parameters by name: draw(a=range(2, 10), b=[3, 5])")
    choices = {kw.arg: list(_literal(kw.value, kw.arg)) for kw in call.value.keywords}
    for name, options in choices.items():
        if not options:
            raise VariantError(f"parameter '{name}' has no option; give at least one value")
    return call.targets[0].id, choices


def values_for(nb: dict, seed: str) -> tuple[str, Params] | None:
    """The parameters' variable name and values of ``nb`` for ``seed``; None without a parameters cell."""
    found = parameters_cell(nb)
    if found is None:
        return None
    var, choices = read_choices(found[1])
    return var, draw(seed, **choices)


def _set_source(cell: dict, text: str) -> None:
    cell["source"] = text


def parameters_source(var: str, params: Params) -> str:
    """The parameters cell of a personal copy: literal values, no ``draw``."""
    return ("# Vos données (propres à votre copie) / Your data (specific to your copy)\n"
            "from tremplin_grading.variants import Params\n"
            f"{var} = {params!r}\n{var}")


def personalize(nb: dict, seed: str) -> dict:
    """A copy of ``nb`` with the variant of ``seed`` written in; unchanged without a parameters cell."""
    found = values_for(nb, seed)
    if found is None:
        return copy.deepcopy(nb)
    var, params = found
    out = copy.deepcopy(nb)
    index, _ = parameters_cell(out)
    _set_source(out["cells"][index], parameters_source(var, params))
    fill_text(out["cells"], params)
    return out


def fill_text(cells: list, params: Params, *, answers_are_theirs: bool = False) -> None:
    """``{{a}}`` in text cells replaced by the value of ``a`` (unknown names are left).

    With ``answers_are_theirs`` (a submitted copy), the candidate's own answer cells (nbgrader
    ``solution``) are left as they wrote them.
    """
    values = params.as_dict()
    for cell in cells:
        if cell.get("cell_type") != "markdown" or (
                answers_are_theirs and cell.get("metadata", {}).get("nbgrader", {}).get("solution")):
            continue
        _set_source(cell, _PLACEHOLDER.sub(
            lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), _source(cell)))


# ---- grading: an nbgrader preprocessor -----------------------------------------------------

def _inject_variant_class():
    from nbgrader.preprocessors import NbGraderPreprocessor
    from traitlets import Unicode

    class InjectVariant(NbGraderPreprocessor):
        """Write the graded student's variant into the parameters cell before execution.

        Runs in nbgrader's sanitize stage after ``OverwriteCells`` (which restores the
        author's parameters cell), so hidden tests see the student's own values, and the
        question's text shows them to the grader.
        """

        key_file = Unicode("", help="Path of the course's variants.key.").tag(config=True)
        exam_prefix = Unicode("", help="Course id; the exam id is '<course>/<assignment>'.").tag(config=True)

        def preprocess(self, nb, resources):
            found = parameters_cell(nb)
            if found is None:
                return nb, resources
            key = Path(self.key_file).read_text().strip().encode()
            info = resources["nbgrader"]
            seed = variant_seed(key, f"{self.exam_prefix}/{info['assignment']}", info["student"])
            index, cell = found
            var, choices = read_choices(cell)
            params = draw(seed, **choices)
            nb.cells[index].source = parameters_source(var, params)
            # the question's text as the candidate read it (the formgrader showed the author's {{a}})
            fill_text(nb.cells, params, answers_are_theirs=True)
            self.log.info("variant of %s for %s written in", info["assignment"], info["student"])
            return nb, resources

    return InjectVariant


def __getattr__(name: str):
    # nbgrader is only needed by graders: import it when the preprocessor is asked for.
    if name == "InjectVariant":
        cls = _inject_variant_class()
        globals()["InjectVariant"] = cls
        return cls
    raise AttributeError(name)
