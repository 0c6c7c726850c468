"""Practice hints nudge the learner; they never give the answer away.

In the python-intro practice modules each exercise ends with a check function whose asserts carry a hint,
``assert cond, {"fr": ..., "en": ...}``, shown under the "Vérifier / Check" button
(:mod:`tremplin_grading.practice`). A wrong answer must learn which variable is wrong and what to think
about, never the expected value, the result of the computation nor the expression to type. These tests
read the check cells with ``ast`` (no kernel, nothing of the learner's runs) and, for every hint:

* collect what the assert compares the learner's answer with: constants in ``==``/``is``/``in``
  comparisons, the expected argument of ``check.number(...)`` & co. or ``math.isclose(...)`` (through
  ``r = check.number(...)`` just before ``assert r.correct``, and through the ``for ... in cas`` loops that
  feed ``attendu``), and check that neither language writes them out, in any spelling (``1375``,
  ``1 375``, ``1,375``, ``81,5``, ``"août"``, "should be False"), nor formats the expected variable in
  (``{attendu}``) -- except for values the statement gives and the hint says not to change;
* check that no hint shows a computation on numbers (``250 // 12``) nor an expression of the solution
  (``sum(pluies)``);
* check that each hint says something of its own, beyond the call it checks and the checker's sentence;
* check that a hint adds the checker's own sentence (``r.messages``) at most once, in its own language,
  without saying the same thing itself (too large, too small).

Both notebooks of a module carry both languages: their hints must be the same, up to the identifiers
each notebook uses (``energie_wh`` in French, ``energy_wh`` in English). Finally, the solutions of the
source notebooks must pass every check (the cells are run here, in-process, without widgets).
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "courses" / "python-intro" / "source"
MODULES = ("m1-bases", "m2-controle", "m3-donnees")
LANGS = ("fr", "en")
NOTEBOOKS = [SOURCE / module / f"{module}-{lang}.ipynb" for module in MODULES for lang in LANGS]

#: tremplin_grading.check functions whose second argument is the expected answer.
CHECKERS = {"number", "quantity", "expression", "choice"}
#: A hint about a value the statement gives ("do not change prix_riz_kg = 450") may name it.
GIVEN = {"fr": "Ne modifiez pas", "en": "Do not change"}
#: "should be False", "devrait valoir Vrai"...
SAYS_BOOLEAN = re.compile(
    r"\b(?:valoir|vaut|vaudra|être|est|égale?(?:\s+à)?|renvoyer|renvoie|be|is|equals?(?:\s+to)?|returns?)"
    r"[\s«\"'`]+(?:true|false|vrai|faux)\b", re.IGNORECASE)
PYTHON_BOOLEAN = re.compile(r"\b(?:True|False)\b")
#: A computation on numbers: "250 × 5,5", "250 // 12", "5000 - 3750".
COMPUTATION = re.compile(r"\d\s*(?://|\*\*|[-+×*/%÷])\s*\d")
#: What the checkers (tremplin_grading.check) already say: a hint that appends their sentence must not.
CHECKER_SAYS = re.compile(r"trop (?:grand|petit)|too (?:large|small|big)|puissances? de dix|powers? of ten",
                          re.IGNORECASE)
ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
              ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}


def cells(notebook: Path) -> list[dict]:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if isinstance(cell["source"], list):
            cell["source"] = "".join(cell["source"])
    return nb["cells"]


def check_functions(notebook: Path) -> dict[str, ast.FunctionDef]:
    """The ``check_...`` functions of a notebook's code cells, by name."""
    found = {}
    for cell in cells(notebook):
        if cell["cell_type"] == "code" and "def check_" in cell["source"]:
            for node in ast.parse(cell["source"]).body:
                if isinstance(node, ast.FunctionDef) and node.name.startswith("check_"):
                    found[node.name] = node
    return found


def solution_expressions(notebook: Path) -> dict[str, set[str]]:
    """``{"ex1": {"puissance_w*heures_soleil", ...}}``: the expressions of each exercise's solution (what the
    learner types), without spaces, as a hint must not show them."""
    found: dict[str, set[str]] = {}
    for cell in cells(notebook):
        meta = cell["metadata"].get("nbgrader", {})
        if cell["cell_type"] != "code" or not meta.get("solution"):
            continue
        exprs = found.setdefault(meta["grade_id"].split("-")[0], set())
        for node in ast.walk(ast.parse(cell["source"])):
            if isinstance(node, (ast.BinOp, ast.Call, ast.Subscript, ast.Compare, ast.BoolOp)) and any(
                    isinstance(name, ast.Name) for name in ast.walk(node)):
                exprs.add(re.sub(r"\s+", "", ast.unparse(node)))
    return found


@dataclass
class Hint:
    """One ``assert test, {"fr": ..., "en": ...}`` of a check function."""

    where: str
    messages: dict[str, ast.expr]
    expected: list  # the values the learner's answer is compared with
    expected_names: set[str]  # local names holding them (attendu)
    calls: list[str]  # the calls the assert checks, as written ("surface(0, 7)"): a hint may name them


def bilingual(message: ast.expr | None) -> dict[str, ast.expr] | None:
    if not isinstance(message, ast.Dict):
        return None
    pairs = {k.value: v for k, v in zip(message.keys, message.values) if isinstance(k, ast.Constant)}
    if set(pairs) != set(LANGS):
        return None
    if not all(isinstance(v, ast.JoinedStr) or (isinstance(v, ast.Constant) and isinstance(v.value, str))
               for v in pairs.values()):
        return None
    return pairs


def destructure(target: ast.expr, value: ast.expr | None) -> dict[str, ast.expr | None]:
    """``a, b = (1, 2)`` → ``{"a": 1, "b": 2}`` (nodes); a name whose value is not literal gets None."""
    if isinstance(target, ast.Name):
        return {target.id: value}
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) \
            and len(target.elts) == len(value.elts):
        out: dict[str, ast.expr | None] = {}
        for t, v in zip(target.elts, value.elts):
            out.update(destructure(t, v))
        return out
    return {n.id: None for n in ast.walk(target) if isinstance(n, ast.Name)}


class Values:
    """What local names of a check function hold, as far as the source says (literals, loop variables)."""

    def __init__(self):
        self.bound: dict[str, list[ast.expr]] = {}

    def assign(self, target: ast.expr, value: ast.expr) -> None:
        for name, node in destructure(target, value).items():
            self.bound[name] = [node] if node is not None else []

    def loop(self, target: ast.expr, iterable: ast.expr) -> None:
        items = self.items(iterable)
        names = {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        gathered: dict[str, list[ast.expr]] = {name: [] for name in names}
        for item in items:
            for name, node in destructure(target, item).items():
                if node is not None:
                    gathered[name].append(node)
        self.bound.update(gathered)

    def items(self, node: ast.expr) -> list[ast.expr]:
        if isinstance(node, (ast.List, ast.Tuple)):
            return list(node.elts)
        if isinstance(node, ast.Name) and len(self.bound.get(node.id, [])) == 1:
            return self.items(self.bound[node.id][0])
        return []

    def of(self, node: ast.expr | None, seen: tuple = ()) -> list:
        """The literal values ``node`` stands for: ``[1375]``, ``["aucune", "faible", ...]``, ``[]`` if unknown."""
        if node is None:
            return []
        if isinstance(node, ast.Constant):
            return [] if node.value is None or node.value is Ellipsis else [node.value]
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return [v for e in node.elts for v in self.of(e, seen)]
        if isinstance(node, ast.Dict):
            return [v for e in (*node.keys, *node.values) for v in self.of(e, seen)]
        if isinstance(node, ast.Name):
            if node.id in seen:
                return []
            return [v for n in self.bound.get(node.id, []) for v in self.of(n, seen + (node.id,))]
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and isinstance(node.slice.value, int):
            elements = self.items(node.value)
            index = node.slice.value
            return self.of(elements[index], seen) if -len(elements) <= index < len(elements) else []
        number = arithmetic(node)
        return [] if number is None else [number]


def arithmetic(node: ast.expr):
    """The value of constant arithmetic such as ``math.pi / 2 * 6371`` or ``1.25 ** 0.5``, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "math" \
            and node.attr in ("pi", "e", "tau"):
        return getattr(math, node.attr)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = arithmetic(node.operand)
        return None if value is None else (-value if isinstance(node.op, ast.USub) else value)
    if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
        left, right = arithmetic(node.left), arithmetic(node.right)
        if left is None or right is None:
            return None
        try:
            return ARITHMETIC[type(node.op)](left, right)
        except (ArithmeticError, ValueError):
            return None
    return None


def function_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def hints(function: ast.FunctionDef, where: str) -> tuple[list[Hint], list[str]]:
    """The bilingual hints of a check function, and the asserts that have none."""
    values = Values()
    latest: dict[str, ast.expr] = {}  # the last value assigned to each name, in source order
    found: list[Hint] = []
    missing: list[str] = []

    def visit(statements):
        for stmt in statements:
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    values.assign(target, stmt.value)
                    if isinstance(target, ast.Name):
                        latest[target.id] = stmt.value
            elif isinstance(stmt, ast.For):
                values.loop(stmt.target, stmt.iter)
                visit(stmt.body)
                visit(stmt.orelse)
            elif isinstance(stmt, ast.Assert):
                messages = bilingual(stmt.msg)
                if messages is None:
                    missing.append(f"{where} line {stmt.lineno}: {ast.unparse(stmt)[:80]}")
                else:
                    found.append(hint(stmt, messages, f"{where} line {stmt.lineno}"))
            else:
                for name in ("body", "orelse", "finalbody", "handlers"):
                    visit(getattr(stmt, name, []))

    def hint(stmt: ast.Assert, messages: dict, place: str) -> Hint:
        checked = [stmt.test] + [latest[n.id] for n in ast.walk(stmt.test)
                                 if isinstance(n, ast.Name) and n.id in latest]
        operands: list[ast.expr] = []
        calls: list[str] = []
        for expr in checked:
            for node in ast.walk(expr):
                if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.Is, ast.In)) for op in node.ops):
                    operands += [node.left, *node.comparators]
                elif isinstance(node, ast.Call):
                    name = function_name(node)
                    if name in CHECKERS and len(node.args) >= 2:
                        operands.append(node.args[1])
                    elif name == "isclose":
                        operands += node.args[:2]
                    if isinstance(node.func, ast.Name):
                        calls.append(ast.unparse(node))
        expected = [v for op in operands for v in values.of(op)]
        names = {op.id for op in operands if isinstance(op, ast.Name) and values.of(op)}
        return Hint(place, messages, expected, names, sorted(calls, key=len, reverse=True))

    visit(function.body)
    return found, missing


def literal_text(message: ast.expr) -> str:
    """The text a hint writes itself; each formatted value becomes ``{}``."""
    if isinstance(message, ast.Constant):
        return message.value
    return "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in message.values)


def formatted(message: ast.expr) -> list[ast.expr]:
    return [part.value for part in getattr(message, "values", []) if isinstance(part, ast.FormattedValue)]


def checker_sentences(message: ast.expr) -> list[str]:
    """The languages of the ``r.messages[...]`` a hint formats in."""
    out = []
    for value in formatted(message):
        for node in ast.walk(value):
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                    and node.value.attr == "messages" and isinstance(node.slice, ast.Constant):
                out.append(node.slice.value)
    return out


def grouped(whole: str) -> set[str]:
    """``"1375"`` → ``{"1 375", "1,375", "1.375", ...}``."""
    if len(whole) <= 3:
        return set()
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return {sep.join(groups) for sep in (" ", "\u00a0", "\u202f", ",", ".", "_")}


def number_forms(value: float) -> set[str]:
    """Every way a hint could write ``value``: ``81.5`` → 81.5, 81,5; ``1046.1`` → 1046, 1 046, 1046,1..."""
    value = abs(value)
    if float(value).is_integer():
        whole = str(int(value))
        return {whole, f"{whole}.0", f"{whole},0"} | grouped(whole)
    forms = set()
    for places in range(1, 5):
        text = f"{value:.{places}f}".rstrip("0")
        whole, _, decimals = text.partition(".")
        if decimals:
            for w in {whole} | grouped(whole):
                forms |= {f"{w}.{decimals}", f"{w},{decimals}"}
    if value >= 100:  # "≈ 10007 km": the whole part alone is the answer too
        for whole in {str(int(value)), str(round(value))}:
            forms |= {whole} | grouped(whole)
    return forms


def leaks(value, text: str) -> bool:
    """Whether ``text`` writes out ``value``."""
    if isinstance(value, bool):
        return bool(SAYS_BOOLEAN.search(text) or PYTHON_BOOLEAN.search(text))
    if isinstance(value, (int, float)):
        return any(re.search(rf"(?<![\d.,]){re.escape(form)}(?!\d|[.,]\d)", text) for form in number_forms(value))
    if isinstance(value, str) and value.strip():
        return re.search(rf"(?<!\w){re.escape(value.strip())}(?!\w)", text, re.IGNORECASE) is not None
    return False


def problems_of(hint: Hint, solution: set[str]) -> list[str]:
    problems = []
    given = any(GIVEN[lang] in literal_text(hint.messages[lang]) for lang in LANGS)
    for lang, message in hint.messages.items():
        text = literal_text(message)
        where = f"{hint.where} [{lang}] {text!r}"
        named = text
        for call in hint.calls:  # "surface(0, 7) ..." names the question, not its answer
            named = named.replace(call, " ")
        if len(re.findall(r"[^\W\d_]{2,}", named)) < 4:
            problems.append(f"{where}: says nothing of its own (what is wrong, what to think about)")
        if not given:
            shown = sorted({repr(v) for v in hint.expected if leaks(v, named)})
            if shown:
                problems.append(f"{where}: gives the expected value {', '.join(shown)}")
            for value in formatted(message):
                used = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)} & hint.expected_names
                if used:
                    problems.append(f"{where}: formats the expected value in ({', '.join(sorted(used))})")
        if COMPUTATION.search(named):
            problems.append(f"{where}: shows a computation ({COMPUTATION.search(named).group()!r})")
        squeezed = re.sub(r"\s+", "", named)
        typed = sorted(e for e in solution if e in squeezed)
        if typed:
            problems.append(f"{where}: shows the solution's expression {typed[0]!r}")
        sentences = checker_sentences(message)
        if len(sentences) > 1 or any(s != lang for s in sentences):
            problems.append(f"{where}: adds the checker's sentence {sentences} (one, in {lang!r}, at most)")
        if sentences and CHECKER_SAYS.search(text):
            problems.append(f"{where}: says what the checker's sentence says ({CHECKER_SAYS.search(text).group()!r})")
    return problems


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_every_assert_of_a_check_has_a_hint_in_both_languages(notebook):
    functions = check_functions(notebook)
    assert len(functions) >= 4, f"{notebook.name}: check functions not found"
    missing = [m for name, f in functions.items() for m in hints(f, f"{notebook.name} {name}")[1]]
    assert not missing, "asserts without a {'fr': ..., 'en': ...} hint:\n" + "\n".join(missing)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_hints_never_give_the_answer_away(notebook):
    solutions = solution_expressions(notebook)
    problems = []
    count = 0
    for name, function in check_functions(notebook).items():
        found, _ = hints(function, f"{notebook.name} {name}")
        count += len(found)
        for hint in found:
            problems += problems_of(hint, solutions.get(name.removeprefix("check_"), set()))
    assert count >= 5, f"{notebook.name}: only {count} hints found"
    assert not problems, f"{len(problems)} hint(s) give too much away or repeat the checker:\n" + "\n".join(problems)


def tokens(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text)


def renames(fr: ast.FunctionDef, en: ast.FunctionDef) -> set[tuple[str, str]]:
    """The identifiers and strings the French notebook's check spells differently from the English one's
    (``("energie_wh", "energy_wh")``, ``("sucre", "sugar")``); the hints themselves are left out."""
    def nodes(function):
        hint_nodes = {id(n) for a in ast.walk(function) if isinstance(a, ast.Assert) and a.msg
                      for n in ast.walk(a.msg)}
        return [n for n in ast.walk(function) if id(n) not in hint_nodes]

    a_nodes, b_nodes = nodes(fr), nodes(en)
    assert [type(n) for n in a_nodes] == [type(n) for n in b_nodes], \
        f"{fr.name}: the French and English notebooks do not make the same checks"
    pairs = set()
    for a, b in zip(a_nodes, b_nodes):
        if isinstance(a, ast.Name):
            pairs.add((a.id, b.id))
        elif isinstance(a, ast.Attribute):
            pairs.add((a.attr, b.attr))
        elif isinstance(a, ast.Constant) and isinstance(a.value, str) and isinstance(b.value, str):
            pairs |= set(zip(tokens(a.value), tokens(b.value)))
    return pairs


@pytest.mark.parametrize("module", MODULES)
def test_both_notebooks_of_a_module_give_the_same_hints(module):
    fr_functions = check_functions(SOURCE / module / f"{module}-fr.ipynb")
    en_functions = check_functions(SOURCE / module / f"{module}-en.ipynb")
    assert list(fr_functions) == list(en_functions)
    differences = []
    for name in fr_functions:
        same = renames(fr_functions[name], en_functions[name])
        fr_hints, _ = hints(fr_functions[name], f"{module}-fr {name}")
        en_hints, _ = hints(en_functions[name], f"{module}-en {name}")
        assert len(fr_hints) == len(en_hints), name
        for a, b in zip(fr_hints, en_hints):
            for lang in LANGS:
                x, y = tokens(ast.unparse(a.messages[lang])), tokens(ast.unparse(b.messages[lang]))
                if len(x) != len(y) or any(s != t and (s, t) not in same for s, t in zip(x, y)):
                    differences.append(f"{a.where} [{lang}]:\n  {ast.unparse(a.messages[lang])}\n"
                                       f"  {ast.unparse(b.messages[lang])}")
    assert not differences, "hints differ between the two notebooks:\n" + "\n".join(differences)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_the_solutions_pass_every_check(notebook, monkeypatch):
    """The source notebook's cells, solutions included, run in order; every Vérifier / Check says right."""
    import tremplin_grading.practice as practice

    outcomes = {}

    def check_button(check, lang="fr"):
        outcomes[check.__name__] = (lang, practice.run_check(check, lang))

    monkeypatch.setattr(practice, "check_button", check_button)
    namespace = {"__name__": "__main__"}
    for cell in cells(notebook):
        if cell["cell_type"] == "code":
            exec(compile(cell["source"], f"{notebook.name}:{cell['id']}", "exec"), namespace)
    lang = notebook.stem.rsplit("-", 1)[1]
    assert set(outcomes) == set(check_functions(notebook))
    wrong = {name: feedback.message for name, (used, feedback) in outcomes.items()
             if used != lang or not feedback.correct}
    assert not wrong
