"""Safe reading of a learner's typed maths into sympy objects, without ever running the text.

Learners type answers the way they write on paper: ``2x``, ``x²``, ``√(x+1)``, ``3,14``,
``]0, +∞[``. :func:`parse_math` reads such text with its own tokenizer and a recursive-descent
parser that builds sympy objects directly from a whitelist of names. Nothing here calls
``eval``, ``exec``, ``sympify`` or ``parse_expr`` (they run Python), so
``__import__('os').system('id')`` is only a syntax error. Text that would be costly to build
(huge numeric powers, deep nesting, very long text or numbers) raises :class:`ParseError` with
``too_costly = True``: the checker sends it to a person rather than marking it wrong.

Reading rules, for course authors:

* Precedence, lowest first: ``=``; ``+ -``; ``* /`` and implicit multiplication (same level,
  left to right, so ``1/2x`` is ``x/2`` as in WolframAlpha); unary ``- +``; ``^ **`` and
  superscripts (right to left: ``-x^2`` is ``-(x^2)``, ``2^3^2`` is ``2^9``).
* Implicit multiplication: ``2x``, ``2 x``, ``2(x+1)``, ``(x+1)(x-1)``, ``2pi``, ``3sin(x)``,
  ``x y``; ``xy`` is ``x*y`` when x and y are declared and ``xy`` is not. Two numbers side by
  side (``2 3``, a thousands space ``1 000``) are refused rather than guessed.
* ``e`` is Euler's number and ``i`` (or ``I``) the imaginary unit unless declared as variables;
  ``pi``/``π``, ``oo``/``inf``/``∞``. ``2e-3`` is scientific notation unless ``e`` is declared.
* Functions: see ``_FUNCTIONS`` (``log`` is the natural logarithm). ``sin x`` and ``sin²(x)``
  are read; ``sin 2x`` and ``e^2x`` are refused as ambiguous, the message shows both readings.
* Decimal comma: if the text contains ``;``, ``;`` separates items and ``,`` is decimal;
  otherwise ``digit,digit`` without a space is a decimal comma (``3,14``) unless
  ``decimal_comma=False`` (``True`` forces it). A run like ``1,2,3`` is a list. Decimals are
  read exactly (``0.1`` is 1/10), so ``0.5x`` and ``x/2`` compare equal without float noise.
* ``a = b`` is an equation (``Eq``, unevaluated). ``{1, 2}`` is a set, ``[a, b]``, ``[a, b)``,
  ``]a, b[``, ``[a, b[`` are intervals. ``(a, b)`` is a Tuple, *not* an interval: the checker
  reads it as an open interval only when the expected answer is one. ``(1, 2, 3)`` and
  ``[1, 2, 3]`` are vectors (Tuple), ``[[1, 2], [3, 4]]`` a matrix (ImmutableMatrix).
* Products by a number are kept as typed (``2(x+1)`` stays a product), so a checker can tell
  a factored answer from an expanded one.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable

import sympy as sp
from sympy.core.parameters import distribute

MAX_DEPTH = 50          # nesting of brackets, signs and powers
MAX_DIGITS = 100        # digits in one number literal
MAX_EXPONENT = 1000     # |exponent| of a power of a number, e.g. 10^1000
MAX_POWER_DIGITS = 10_000  # estimated digits of an exact numeric power such as 999^999


class ParseError(Exception):
    """Learner text that cannot be read, with what is wrong and what to type instead.

    Attributes:
        fr, en: the sentence for the learner, in French and English.
        too_costly: the text may be right but is too large to check automatically; the
            checker flags it for manual review instead of marking it wrong.
        key: which rule refused the text (``"unknown"`` for a name that is not a declared
            variable, a constant or a function...).
    """

    def __init__(self, fr: str, en: str, *, too_costly: bool = False, key: str = ""):
        super().__init__(en)
        self.fr = fr
        self.en = en
        self.too_costly = too_costly
        self.key = key


# Every sentence a learner can see, French then English; "{...}" fields are filled in.
_MESSAGES = {
    "empty": ("Aucune réponse : écrivez votre résultat, par exemple 2*x + 1.",
              "No answer: type your result, for example 2*x + 1."),
    "meaningless": ("Cette expression n'a pas de sens mathématique ; vérifiez-la.",
                    "This expression has no mathematical meaning ({what}); check it."),
    "underscore": ("« {name} » n'est pas un nom mathématique (pas de _ au début ou à la fin) : écrivez 2*x.",
                   "'{name}' is not a maths name (no _ at the start or end): type the expression, e.g. 2*x."),
    "dot": ("Point mal placé près de « {near} » : pas d'attribut (x.real), un point par nombre décimal (3.14).",
            "Misplaced dot near '{near}': no attribute access (x.real), one dot per decimal number (3.14)."),
    "python": ("« {name} » est du Python, pas des mathématiques : écrivez l'expression, par exemple 2*x + 1.",
               "'{name}' is Python, not maths: type the expression, e.g. 2*x + 1."),
    "unknown": ("Nom inconnu « {name} » : utilisez {allowed} ou une fonction comme sqrt, ln, sin.",
                "Unknown name '{name}': use {allowed} or a function such as sqrt, ln, sin."),
    "unknown_constant": ("Nom inconnu « {name} » : pas de variable ici ; utilisez des nombres, pi, e, sqrt, ln…",
                         "Unknown name '{name}': no variable here; use numbers, pi, e, sqrt, ln..."),
    "superscript": ("Exposant mal écrit « {text} » : écrivez par exemple x^(-2).",
                    "Malformed exponent '{text}': type for example x^(-2)."),
    "quote": ("Les guillemets ne font pas partie d'une réponse : écrivez seulement l'expression, par exemple 2*x.",
              "Quotes are not part of an answer: type only the expression, e.g. 2*x."),
    "backslash": ("La barre oblique inverse (LaTeX ?) n'est pas acceptée : écrivez sqrt(x) ou (x+1)/2.",
                  "Backslash (LaTeX?) is not accepted: type plain text such as sqrt(x) or (x+1)/2."),
    "inequality": ("Les inégalités ne sont pas acceptées ici : donnez un intervalle, par exemple ]2 ; +∞[.",
                   "Inequalities are not accepted here: give an interval, for example (2, oo)."),
    "character": ("Le caractère « {c} » n'est pas accepté dans une réponse.",
                  "The character '{c}' cannot be used in an answer."),
    "in_calculation": ("{fr} ne peut pas entrer dans un calcul ; écrivez-le seul.",
                       "{en} cannot be used inside a calculation; write it on its own."),
    "expected": ("« {op} » attendu, trouvé {found} : vérifiez les parenthèses et crochets.",
                 "'{op}' expected, found {found}: check the brackets."),
    "two_equals": ("Un seul signe = par réponse.", "Only one = sign per answer."),
    "several": ("Plusieurs valeurs : écrivez un ensemble {{1 ; 2}} ou un vecteur (1 ; 2).",
                "Several values: write a set {{1, 2}} or a vector (1, 2)."),
    "unexpected": ("« {text} » inattendu ici : vérifiez les parenthèses et les opérateurs.",
                   "Unexpected '{text}' here: check the brackets and operators."),
    "too_early": ("La réponse s'arrête trop tôt : il manque quelque chose à la fin.",
                  "The answer stops too early: something is missing at the end."),
    "two_numbers": ("Deux nombres côte à côte près de « {text} » : écrivez * entre eux ou supprimez l'espace.",
                    "Two numbers side by side near '{text}': put * between them or remove the space."),
    "ambiguous_e": ("Ambigu : écrivez e^({n}{v}) ou e^{n}*{v}.", "Ambiguous: type e^({n}{v}) or e^{n}*{v}."),
    "inverse": ("Ambigu : écrivez a{f}(x) pour la réciproque ou 1/{f}(x) pour l'inverse.",
                "Ambiguous: type a{f}(x) for the inverse function or 1/{f}(x) for the reciprocal."),
    "one_argument": ("{f} prend un seul argument, par exemple {f}(x).",
                     "{f} takes one argument, for example {f}(x)."),
    "ambiguous_argument": ("Ambigu après « {f} » : écrivez {f}(2*x) ou {f}(2)*x, avec des parenthèses.",
                           "Ambiguous after '{f}': type {f}(2*x) or {f}(2)*x, with brackets."),
    "no_argument": ("{f} a besoin d'un argument entre parenthèses, par exemple {f}(x).",
                    "{f} needs an argument in brackets, for example {f}(x)."),
    "empty_item": ("Élément vide entre deux séparateurs.", "An empty item between two separators."),
    "empty_brackets": ("Parenthèses ou crochets vides.", "Empty brackets."),
    "unclosed": ("Parenthèse ou crochet fermant manquant.", "A closing bracket is missing."),
    "interval_ends": ("Un intervalle a deux bornes séparées par « ; » ou « , » et un espace : [0 ; 1,5[.",
                      "An interval has two ends separated by a comma and a space, for example [0, 1.5)."),
    "interval_order": ("Les bornes de l'intervalle sont dans le mauvais ordre : la plus petite d'abord.",
                       "The interval's ends are in the wrong order: the smaller one first."),
    "ragged": ("Les lignes de la matrice n'ont pas toutes la même longueur.",
               "The matrix rows do not all have the same length."),
    # too costly: the learner may be right, a person decides
    "too_long": ("Réponse trop longue ({n} caractères, maximum {limit}).",
                 "The answer is too long ({n} characters, at most {limit})."),
    "long_number": (f"Nombre trop long (plus de {MAX_DIGITS} chiffres).",
                    f"A number is too long (more than {MAX_DIGITS} digits)."),
    "big_power": ("Puissance d'un nombre trop grande pour être calculée.",
                  "A power of a number is too large to compute."),
    "deep": (f"Expression trop imbriquée (plus de {MAX_DEPTH} niveaux).",
             f"The expression is nested too deeply (more than {MAX_DEPTH} levels)."),
}
_COSTLY = {"too_long", "long_number", "big_power", "deep"}


def _fail(key: str, **fields) -> ParseError:
    """The ParseError for message ``key``; size limits are flagged too costly."""
    fr, en = (text.format(**fields) for text in _MESSAGES[key])
    if key in _COSTLY:
        return ParseError(fr + " Elle sera relue par un correcteur.", en + " A grader will review it.",
                          too_costly=True, key=key)
    return ParseError(fr, en, key=key)


_CONSTANTS = {"pi": sp.pi, "e": sp.E, "E": sp.E, "i": sp.I, "I": sp.I,
              "oo": sp.oo, "inf": sp.oo, "infinity": sp.oo}
_FUNCTIONS = {
    "sqrt": sp.sqrt, "exp": sp.exp, "ln": sp.log, "log": sp.log,
    "log10": lambda a: sp.log(a, 10), "log2": lambda a: sp.log(a, 2), "abs": sp.Abs,
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "cot": sp.cot,
    "asin": sp.asin, "acos": sp.acos, "atan": sp.atan,
    "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "sh": sp.sinh, "ch": sp.cosh, "th": sp.tanh,
    "asinh": sp.asinh, "acosh": sp.acosh, "atanh": sp.atanh,
    "arsinh": sp.asinh, "arcosh": sp.acosh, "artanh": sp.atanh,
}
_GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta",
          "η": "eta", "θ": "theta", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi",
          "ρ": "rho", "σ": "sigma", "τ": "tau", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega"}
_GREEK.update({name: letter for letter, name in list(_GREEK.items())})
_PYTHON_WORDS = {"lambda", "import", "from", "exec", "eval", "compile", "open", "os", "sys",
                 "subprocess", "system", "def", "class", "return", "for", "while", "print",
                 "globals", "locals", "getattr", "setattr", "input", "builtins", "with", "yield"}
_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+"))
_SUPERSCRIPT_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+")
_OPERATORS = {"+": "+", "-": "-", "−": "-", "–": "-", "*": "*", "·": "*", "×": "*", "⋅": "*",
              "∙": "*", "/": "/", "÷": "/", "^": "^", "(": "(", ")": ")", "[": "[", "]": "]",
              "{": "{", "}": "}", "|": "|", "=": "=", ",": ",", ";": ";", "√": "√"}
_SPECIAL_LETTERS = {"π": sp.pi, "∞": sp.oo, "∅": sp.EmptySet}
_QUOTES = "'\"`‘’“”«»"
_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)?|\.[0-9]+")
_EXPONENT = re.compile(r"[eE][+\-−]?[0-9]+")
_NAME_OK = re.compile(r"[^\W\d]\w*")
_DIGIT_CHARS = set("0123456789")  # not str.isdigit: "²".isdigit() is True


@dataclass(frozen=True)
class _Tok:
    kind: str      # "num", "atom" (symbol or constant), "func", "op", "sup", "end"
    value: object  # sympy object, function name, operator, or exponent
    text: str      # as typed, for messages


def parse_math(text: str, *, variables: Iterable[str] = (), decimal_comma: bool | None = None,
               max_length: int = 500, any_name: bool = False, vector_brackets: bool = False):
    """Read learner maths text into a sympy Expr, Eq, FiniteSet, Interval, Tuple or ImmutableMatrix.

    ``variables`` are the names allowed as symbols (``"x y"``, ``"x, y"`` or an iterable);
    ``decimal_comma`` is explained in the module docstring; longer text than ``max_length`` is
    too costly. ``any_name`` makes every unknown name a symbol (an author's expected answer);
    ``vector_brackets`` reads ``[a, b]`` as a vector, not a closed interval. Raises
    :class:`ParseError`, or ValueError for an invalid variable name (the author's mistake).
    """
    stripped = text.strip()
    if not stripped:
        raise _fail("empty")
    if len(stripped) > max_length:
        raise _fail("too_long", n=len(stripped), limit=max_length)
    tokens = _Tokenizer(stripped, variable_names(variables), decimal_comma, any_name).run()
    try:
        with distribute(False):  # keep 2(x+1) as typed: form checks need it
            return _Parser(tokens, vector_brackets).parse()
    except ParseError:
        raise
    except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        # a sympy constructor refused a combination, e.g. a complex interval end
        raise _fail("meaningless", what=type(exc).__name__) from None


def variable_names(variables: Iterable[str] | str | None) -> tuple[str, ...]:
    """``"x y"``, ``"x, y"`` or an iterable of names as a tuple; ValueError for a bad name."""
    if variables is None:
        return ()
    names = re.split(r"[\s,;]+", variables.strip()) if isinstance(variables, str) else list(variables)
    names = [name for name in names if name != ""]
    for name in names:
        if not isinstance(name, str) or not _NAME_OK.fullmatch(name) or "__" in name or name.startswith("_"):
            raise ValueError(f"variable name {name!r} is not valid; use letters, digits and single "
                             f"underscores, starting with a letter, e.g. 'x', 'theta', 'x_1'")
    return tuple(dict.fromkeys(names))


class _Tokenizer:
    """Turns text into tokens; names are resolved here (variables, constants, functions)."""

    def __init__(self, text, declared, decimal_comma, any_name):
        self.text, self.declared, self.any_name = text, set(declared), any_name
        if decimal_comma is False:
            self.comma = "separator"
        else:
            self.comma = "decimal" if ";" in text or decimal_comma else "auto"
        # in "1,2,3" the commas separate items even in auto mode
        self.list_commas = {m.start() + k for m in re.finditer(r"[0-9]+(?:,[0-9]+){2,}", text)
                            for k, c in enumerate(m.group()) if c == ","}
        self.tokens: list[_Tok] = []

    def run(self) -> list[_Tok]:
        text, i = self.text, 0
        while i < len(text):
            c = text[i]
            if c.isspace():
                i += 1
            elif c in "0123456789" or (c == "." and text[i + 1:i + 2] in _DIGIT_CHARS):
                i = self.number(i)
            elif c in _SPECIAL_LETTERS:
                self.tokens.append(_Tok("atom", _SPECIAL_LETTERS[c], c))
                i += 1
            elif c.isalpha() or c == "_":
                i = self.name(i)
            elif c in _SUPERSCRIPTS:
                run = _SUPERSCRIPT_RUN.match(text, i).group()
                raw = "".join(_SUPERSCRIPTS[s] for s in run)
                if not re.fullmatch(r"[+-]?[0-9]+", raw):
                    raise _fail("superscript", text=run)
                self.tokens.append(_Tok("sup", sp.Integer(int(raw)), run))
                i += len(run)
            elif text.startswith("**", i) or text.startswith("==", i):
                self.tokens.append(_Tok("op", "^" if c == "*" else "=", text[i:i + 2]))
                i += 2
            elif c in _OPERATORS:
                self.tokens.append(_Tok("op", _OPERATORS[c], c))
                i += 1
            elif c in _QUOTES:
                raise _fail("quote")
            elif c in "\\.<>≤≥≠":
                raise _fail({"\\": "backslash", ".": "dot"}.get(c, "inequality"), near=text[max(0, i - 3):i + 4])
            else:
                raise _fail("character", c=c)
        self.tokens.append(_Tok("end", None, ""))
        return self.tokens

    def number(self, i: int) -> int:
        digits = _NUMBER.match(self.text, i).group()
        if "," in digits and (self.comma == "separator"
                              or (self.comma == "auto" and i + digits.index(",") in self.list_commas)):
            digits = digits.split(",")[0]
        end = i + len(digits)
        whole, _, frac = digits.replace(",", ".").partition(".")
        if len(whole) > MAX_DIGITS or len(frac) > MAX_DIGITS:
            raise _fail("long_number")
        value = sp.Rational(int(whole or "0") * 10 ** len(frac) + int(frac or "0"), 10 ** len(frac))
        e = _EXPONENT.match(self.text, end)
        after = self.text[e.end():e.end() + 1] if e else ""
        if e and e.group()[0] not in self.declared and not (after.isalnum() or after == "_"):
            power = int(e.group()[1:].replace("−", "-"))
            if abs(power) > MAX_EXPONENT:
                raise _fail("big_power")
            value, end = value * sp.Integer(10) ** power, e.end()
        if self.text[end:end + 1] == ".":
            raise _fail("dot", near=self.text[i:end + 2])
        self.tokens.append(_Tok("num", value, self.text[i:end]))
        return end

    def name(self, i: int) -> int:
        j = i
        while j < len(self.text) and ((self.text[j].isalpha() and self.text[j] not in _SPECIAL_LETTERS)
                                      or self.text[j] in "0123456789_"):
            j += 1
        name = self.text[i:j]
        if "__" in name or name.startswith("_") or name.endswith("_"):
            raise _fail("underscore", name=name)  # __import__, __class__...
        if self.text[j:j + 1] == ".":
            raise _fail("dot", near=self.text[i:j + 2])
        self.tokens.extend(self.resolve(name))
        return j

    def resolve(self, name: str) -> list[_Tok]:
        for candidate in (name, _GREEK.get(name)):
            if candidate in self.declared:
                return [_Tok("atom", sp.Symbol(candidate), name)]
        for candidate in (name, name.lower()):
            if candidate in _FUNCTIONS:
                return [_Tok("func", candidate, name)]
        if name in _CONSTANTS:
            return [_Tok("atom", _CONSTANTS[name], name)]
        if self.any_name and name.lower() not in _PYTHON_WORDS:
            return [_Tok("atom", sp.Symbol(name), name)]
        pieces = _split(name, self.declared | set(_FUNCTIONS) | {"pi", "e"})
        if pieces:
            return [self.resolve(piece)[0] for piece in pieces]
        if name.lower() in _PYTHON_WORDS:
            raise _fail("python", name=name)
        allowed = ", ".join(sorted(self.declared))
        error = _fail("unknown", name=name, allowed=allowed) if allowed else _fail("unknown_constant", name=name)
        m = re.fullmatch(r"([^\W\d_]+)([0-9]+)", name)
        if m and m.group(1) in self.declared:  # "x2": say how to write both readings
            v, n = m.groups()
            error.fr += f" Pour une puissance écrivez {v}^{n}, pour un produit {v}*{n}."
            error.en += f" For a power type {v}^{n}, for a product {v}*{n}."
        if name == "j":
            error.fr, error.en = error.fr + " L'unité imaginaire s'écrit i.", error.en + " Type the imaginary unit as i."
        raise error


def _split(name: str, pieces: set[str]) -> list[str] | None:
    """The shortest way to cut ``name`` into known names (``xy`` -> x, y), or None."""
    best: dict[int, list[str]] = {0: []}
    for i in range(len(name)):
        if i in best:
            for j in range(i + 1, len(name) + 1):
                if name[i:j] in pieces and (j not in best or len(best[i]) + 1 < len(best[j])):
                    best[j] = best[i] + [name[i:j]]
    found = best.get(len(name))
    return found if found and len(found) > 1 else None


_WHAT = {sp.Tuple: ("Un vecteur", "A vector"), sp.Set: ("Un ensemble ou un intervalle", "A set or an interval"),
         sp.MatrixBase: ("Une matrice", "A matrix"), sp.Basic: ("Une équation", "An equation")}


def _expr(value) -> sp.Expr:
    """``value`` if it can enter a calculation; sets, vectors, matrices, equations cannot."""
    if isinstance(value, sp.Expr) and not isinstance(value, sp.MatrixBase):
        return value
    fr, en = next(names for kind, names in _WHAT.items() if isinstance(value, kind))
    raise _fail("in_calculation", fr=fr, en=en)


def _power(base, exponent) -> sp.Expr:
    base, exponent = _expr(base), _expr(exponent)
    if base.is_Number and (exponent.is_Rational or exponent.is_Float):
        # sympy computes a power of a number at once: 9^9^9 would never finish
        size = len(str(abs(base.p))) + len(str(base.q)) if base.is_Rational else 20
        if abs(exponent) > MAX_EXPONENT or size * abs(exponent) > MAX_POWER_DIGITS:
            raise _fail("big_power")
    return sp.Pow(base, exponent)


class _Parser:
    """Recursive descent over the tokens; precedence is in the module docstring."""

    def __init__(self, tokens: list[_Tok], vector_brackets: bool):
        self.toks, self.i, self.depth, self.bars = tokens, 0, 0, 0
        self.vector_brackets = vector_brackets

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        self.i += 1
        return self.toks[self.i - 1]

    def at(self, *ops: str) -> bool:
        return self.peek().kind == "op" and self.peek().value in ops

    def expect(self, op: str) -> None:
        tok = self.take()
        if tok.kind == "end":
            raise _fail("unclosed")
        if not (tok.kind == "op" and tok.value == op):
            raise _fail("expected", op=op, found=repr(tok.text))

    @contextmanager
    def nested(self):
        """One more level of brackets, signs or exponents; the limit keeps recursion bounded."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail("deep")
        try:
            yield
        finally:
            self.depth -= 1

    def starts_implicit(self) -> bool:
        tok = self.peek()
        return tok.kind in ("num", "atom", "func") or self.at("(", "√") or (self.at("|") and self.bars == 0)

    def parse(self):
        left = self.sum()
        if self.at("="):
            self.take()
            right = self.sum()
            if self.at("="):
                raise _fail("two_equals")
            left = sp.Eq(_expr(left), _expr(right), evaluate=False)  # evaluated, x = x would become True
        if self.at(",", ";"):
            raise _fail("several")
        if self.peek().kind != "end":
            raise _fail("unexpected", text=self.peek().text)
        return left

    def sum(self):
        left = self.term()
        while self.at("+", "-"):
            op = self.take().value
            right = _expr(self.term())
            left = sp.Add(_expr(left), right if op == "+" else sp.Mul(-1, right))
        return left

    def term(self):
        left = self.unary()
        while True:
            if self.at("*", "/"):
                op = self.take().value
                right = _expr(self.unary())
                left = sp.Mul(_expr(left), right if op == "*" else sp.Pow(right, -1))
            elif self.starts_implicit():
                if self.peek().kind == "num" and self.toks[self.i - 1].kind in ("num", "sup"):
                    raise _fail("two_numbers", text=self.peek().text)  # "1 000" is not 1*000
                left = sp.Mul(_expr(left), _expr(self.power()))
            else:
                return left

    def unary(self):
        if not self.at("-", "+"):
            return self.power()
        sign = self.take().value
        with self.nested():
            value = _expr(self.unary())
        return sp.Mul(-1, value) if sign == "-" else value

    def power(self):
        base = self.postfix()
        if not self.at("^"):
            return base
        self.take()
        start = self.i
        with self.nested():
            exponent = self.unary()
        if base == sp.E and self.i - start == 1 and self.toks[start].kind == "num" \
                and self.peek().kind in ("atom", "func"):
            raise _fail("ambiguous_e", n=self.toks[start].text, v=self.peek().text)  # e^2x: e^(2x) meant?
        return _power(base, exponent)

    def postfix(self):
        value = self.primary()
        while self.peek().kind == "sup":
            value = _power(value, self.take().value)
        return value

    def primary(self):
        tok = self.take()
        if tok.kind in ("num", "atom"):
            return tok.value
        op = tok.value if tok.kind == "op" else None
        with self.nested():
            if tok.kind == "func":
                return self.call(tok)
            if op in ("(", "[", "]"):
                return self.bracket(op)
            if op == "{":
                if self.at("}"):
                    self.take()
                    return sp.EmptySet
                items = self.items()
                self.expect("}")
                return sp.FiniteSet(*items)
            if op == "|":
                self.bars += 1  # inside |...|, a "|" closes instead of starting a product
                inner = self.sum()
                self.expect("|")
                self.bars -= 1
                return sp.Abs(_expr(inner))
            if op == "√":
                return sp.sqrt(_expr(self.power()))
            raise _fail("too_early") if tok.kind == "end" else _fail("unexpected", text=tok.text)

    def call(self, tok: _Tok):
        name, exponent = tok.value, None
        if self.peek().kind == "sup":
            exponent = self.take().value
        elif self.at("^") and self.toks[self.i + 1].kind == "num":
            self.take()
            exponent = self.take().value
        if exponent is not None and exponent < 0:
            raise _fail("inverse", f=name)
        if self.at("("):
            self.take()
            args = self.items()
            self.expect(")")
            if len(args) != 1:
                raise _fail("one_argument", f=name)
            arg = args[0]
        elif self.peek().kind in ("num", "atom") or self.at("√", "|"):
            arg = self.power()  # "sin x", "ln 2": one factor, no implicit product after it
            if self.starts_implicit() and self.peek().kind != "func":
                raise _fail("ambiguous_argument", f=tok.text)
        else:
            raise _fail("no_argument", f=tok.text)
        value = _FUNCTIONS[name](_expr(arg))
        return value if exponent is None else _power(value, exponent)

    def items(self) -> list:
        out = [self.sum()]
        while self.at(",", ";"):
            self.take()
            if self.at(",", ";", ")", "]", "}") or self.peek().kind == "end":
                raise _fail("empty_item")
            out.append(self.sum())
        return out

    def bracket(self, opener: str):
        if opener == "[" and self.at("["):
            return self.matrix()
        if self.at(")", "]", "}"):
            raise _fail("empty_brackets")
        items = self.items()
        close = self.take()
        if not (close.kind == "op" and close.value in (")", "]", "[")):
            raise _fail("unclosed")
        if opener == "(" and close.value == ")":
            return items[0] if len(items) == 1 else sp.Tuple(*items)
        if opener == "[" and close.value == "]" and (len(items) > 2 or self.vector_brackets):
            return sp.Tuple(*items)
        if len(items) != 2:
            raise _fail("interval_ends")
        low, high = _expr(items[0]), _expr(items[1])
        if (low > high) == sp.true:  # sympy would silently make it the empty set
            raise _fail("interval_order")
        return sp.Interval(low, high, opener != "[", close.value != "]")

    def matrix(self):
        rows = []
        while True:
            self.expect("[")
            rows.append([_expr(v) for v in self.items()])
            self.expect("]")
            if not self.at(",", ";"):
                break
            self.take()
        self.expect("]")
        if len({len(row) for row in rows}) != 1:
            raise _fail("ragged")
        return sp.ImmutableMatrix(rows)
