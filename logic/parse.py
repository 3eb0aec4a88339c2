"""Parse the text syntax of sentences (:func:`parse`) and theories (:func:`parse_theory`).

The syntax is the one :func:`deepmarkets.logic.sentence.to_text` prints, so
``parse(str(s), reals=s.real_variables) == s`` for sentences built with the API.
Grammar, lowest precedence first::

    sentence   := iff
    iff        := implies ('<->' implies)*             left-associative
    implies    := or ('->' implies)?                   right-associative
    or         := xor ('|' xor)*                        left-associative
    xor        := and ('^' and)*                        left-associative
    and        := unary ('&' unary)*                    left-associative
    unary      := ('~' | '!') unary | quantifier | atomic
    quantifier := ('forall' | 'exists') NAME 'in' domain ':' sentence
    domain     := '{' element (',' element)* '}' | integer '..' integer
    atomic     := 'true' | 'false' | '(' sentence ')' | name | builtin | comparison
    builtin    := ('at_most_one' | 'exactly_one') '(' sentence (',' sentence)* ')'
    name       := IDENT | QUOTED | IDENT '(' arg (',' arg)* ')'
    comparison := sum ('<=' | '<' | '>=' | '>' | '==' | '=' | '!=') sum
    sum        := product (('+' | '-') product)*
    product    := signed ('*' signed)*                  one side of '*' must be a number
    signed     := '-' signed | primary
    primary    := INTEGER | DECIMAL | RATIONAL | name | '(' sum ')'

``IDENT`` is ``[A-Za-z_][A-Za-z0-9_.]*``; ``QUOTED`` is a double-quoted name with
``\\"`` and ``\\\\`` escapes; ``RATIONAL`` is ``p/q`` without spaces. A name is a
Boolean atom unless it stands next to an arithmetic operator or a comparison, in
which case it is a numeric variable (an integer unless declared real). A ``(``
opens an arithmetic group when its matching ``)`` is followed by an arithmetic
operator or a comparison, and a Boolean group otherwise. ``#`` starts a comment
that runs to the end of the line.

A quantifier is expanded when parsed, into a conjunction (``forall``) or a
disjunction (``exists``) built as :func:`~deepmarkets.logic.sentence.forall` and
:func:`~deepmarkets.logic.sentence.exists` build them. In its body, the bound
variable (a bare identifier, never a quoted name) is replaced by each value
wherever it stands as a name, a predicate argument or a predicate name; an integer
value in arithmetic is that number. Its body extends as far right as possible.
"""

from __future__ import annotations

import bisect
import ctypes
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import z3

from deepmarkets.errors import DeclarationError, ParseError
from deepmarkets.logic.sentence import RESERVED, Sentence

__all__ = ["parse", "parse_theory"]

#: Largest number of values a quantifier domain may have.
MAX_DOMAIN = 10_000

# longest first, so that "<->" is not read as "<" "-" ">"
_OPS = "<-> -> <= >= == != .. < > = ! ~ & | ^ ( ) { } , : + - *".split()
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]+|/[0-9]+)?")
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
_COMPARISONS = frozenset({"<=", "<", ">=", ">", "==", "=", "!="})
_ARITH_FOLLOW = _COMPARISONS | {"+", "-", "*"}
_NUMBERS = frozenset({"int", "decimal", "rational"})
# spellings of connectives from other notations, longest first, with what to write instead
_WRONG_OPS = {
    "<=>": "write '<->' for 'if and only if'",
    "==>": "write '->' for 'implies'",
    "=>": "write '->' for 'implies'",
    "&&": "write '&' for 'and'",
    "||": "write '|' for 'or'",
    "→": "write '->' for 'implies'",
    "⇒": "write '->' for 'implies'",
    "↔": "write '<->' for 'if and only if'",
    "⇔": "write '<->' for 'if and only if'",
    "∧": "write '&' for 'and'",
    "∨": "write '|' for 'or'",
    "¬": "write '~' for 'not'",
    "⊕": "write '^' for 'exclusive or'",
    "≤": "write '<=' for 'at most'",
    "≥": "write '>=' for 'at least'",
    "≠": "write '!=' for 'differs from'",
}
_WRONG_FIRST = frozenset(w[0] for w in _WRONG_OPS)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name, quoted, keyword, int, decimal, rational, op, eof
    text: str  # the text as written
    value: str  # the name of a quoted token (unescaped), else the text
    start: int
    end: int


class _Source:
    """The text being parsed, with offset -> (line, column) translation."""

    def __init__(self, text: str, source: str | None):
        self.text = text
        self.source = source
        self.starts = [0]
        offset = 0
        for piece in text.splitlines(keepends=True):
            offset += len(piece)
            self.starts.append(offset)
        if len(self.starts) > 1 and not text.endswith(tuple(_LINE_BREAKS)):
            self.starts.pop()  # no line starts after the last character

    def where(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1

    def error(self, message: str, offset: int) -> ParseError:
        line, column = self.where(offset)
        return ParseError(message, line, column, self.text, self.source)


def _tokenize(src: _Source, *, multiline_quotes: bool) -> list[_Token]:
    text = src.text
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "#":
            while i < n and text[i] not in _LINE_BREAKS:
                i += 1
        elif ch == '"':
            i = _quoted(src, i, tokens, multiline_quotes)
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            m = _IDENT_RE.match(text, i)
            kind = "keyword" if m.group() in RESERVED else "name"
            tokens.append(_Token(kind, m.group(), m.group(), i, m.end()))
            i = m.end()
        elif "0" <= ch <= "9":
            m = _NUMBER_RE.match(text, i)
            word = m.group()
            kind = "rational" if "/" in word else "decimal" if "." in word else "int"
            if m.end() < n and (
                text[m.end()].isascii() and (text[m.end()].isalnum() or text[m.end()] == "_")
            ):
                raise src.error(
                    f"unexpected {text[m.end()]!r} right after the number {word}; "
                    f"write a product as {word} * x and names starting with a digit in double quotes",
                    m.end(),
                )
            tokens.append(_Token(kind, word, word, i, m.end()))
            i = m.end()
        else:
            wrong = next((w for w in _WRONG_OPS if text.startswith(w, i)), None) if ch in _WRONG_FIRST else None
            if wrong is not None:
                raise src.error(f"'{wrong}' is not an operator of this syntax; {_WRONG_OPS[wrong]}", i)
            op = next((o for o in _OPS if text.startswith(o, i)), None)
            if op is None:
                raise src.error(_unexpected(text, i), i)
            tokens.append(_Token("op", op, op, i, i + len(op)))
            i += len(op)
    return tokens


def _unexpected(text: str, i: int) -> str:
    """What to say about a character that starts no token."""
    ch = text[i]
    if ch == "/":
        return ("'/' may only appear inside a rational number such as 1/3 (digits on both sides, "
                "no spaces); division is not supported")
    if ch.isalnum():  # a letter or digit outside ASCII, inside or at the start of a name

        def in_name(c: str) -> bool:
            return c.isalnum() or c in "_."

        start, end = i, i + 1
        while start > 0 and in_name(text[start - 1]):
            start -= 1
        while end < len(text) and in_name(text[end]):
            end += 1
        word = text[start:end]
        return (f"unexpected character {ch!r} in the name {word!r}: bare names use ASCII letters, digits, "
                f"'_' and '.' only; write any other name in double quotes, as in \"{word}\"")
    return f"unexpected character {ch!r}"


def _quoted(src: _Source, start: int, tokens: list[_Token], multiline: bool) -> int:
    text, i, n = src.text, start + 1, len(src.text)
    chars: list[str] = []
    while True:
        if i >= n or (not multiline and text[i] in _LINE_BREAKS):
            where = "end of input" if i >= n else "end of line"
            line, column = src.where(start)
            raise src.error(
                f"expected '\"' to close the quoted name opened at line {line}, column {column}, "
                f"found {where}",
                i,
            )
        ch = text[i]
        if ch == '"':
            break
        if ch == "\\":
            if i + 1 < n and text[i + 1] in '"\\':
                chars.append(text[i + 1])
                i += 2
                continue
            raise src.error('a backslash in a quoted name must be followed by " or \\ (write \\\\ for \\)', i)
        chars.append(ch)
        i += 1
    name = "".join(chars)
    if not name.strip():
        raise src.error("a quoted name must not be empty or blank", start)
    tokens.append(_Token("quoted", text[start : i + 1], name, start, i + 1))
    return i + 1


class _Names:
    """Sort of every name seen so far (one sentence, or a whole theory)."""

    def __init__(self) -> None:
        # name -> (kind, where): kind is "bool", "int" or "real"; where says how it got that kind
        self.kinds: dict[str, tuple[str, str]] = {}


_KIND_WORDS = {"bool": "a Boolean atom", "int": "an integer variable", "real": "a real variable"}


class _Parser:
    def __init__(self, src: _Source, tokens: list[_Token], names: _Names, end_what: str):
        end = tokens[-1].end if tokens else 0
        self.src = src
        self.toks = [*tokens, _Token("eof", "", "", end, end)]
        self.i = 0
        self.names = names
        self.end_what = end_what
        self.env: list[tuple[str, tuple[str, str]]] = []  # bound variables: (name, (kind, value))

    # helpers -------------------------------------------------------------
    def peek(self, k: int = 0) -> _Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def advance(self) -> _Token:
        tok = self.toks[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def is_op(self, tok: _Token, *ops: str) -> bool:
        return tok.kind == "op" and tok.text in ops

    def describe(self, tok: _Token) -> str:
        if tok.kind == "eof":
            return self.end_what
        if tok.kind == "name":
            return f"name '{tok.text}'"
        if tok.kind == "quoted":
            return f"quoted name {tok.text}"
        if tok.kind == "keyword":
            return f"keyword '{tok.text}'"
        if tok.kind in _NUMBERS:
            return f"number {tok.text}"
        return f"'{tok.text}'"

    def error(self, message: str, tok: _Token) -> ParseError:
        return self.src.error(message, tok.start)

    def expected(self, what: str, tok: _Token, hint: str = "") -> ParseError:
        return self.error(f"expected {what}, found {self.describe(tok)}{hint}", tok)

    def at(self, tok: _Token) -> str:
        line, column = self.src.where(tok.start)
        return f"line {line}, column {column}"

    def close(self, closer: str, opener: _Token, what: str = "", hint: str = "") -> None:
        tok = self.peek()
        if self.is_op(tok, closer):
            self.advance()
            return
        raise self.expected(
            f"{what}'{closer}' to close '{opener.text}' opened at {self.at(opener)}", tok, hint
        )

    def bound(self, name: str) -> tuple[str, str] | None:
        for var, value in reversed(self.env):
            if var == name:
                return value
        return None

    def use(self, name: str, kind: str, tok: _Token) -> str:
        """Record that ``name`` is used as ``kind`` ("bool" or "number"); return its sort."""
        known = self.names.kinds.get(name)
        if known is None:
            known = ("bool" if kind == "bool" else "int", f"used at {self.at(tok)}")
            self.names.kinds[name] = known
            return known[0]
        if (kind == "bool") != (known[0] == "bool"):
            role = "a Boolean atom" if kind == "bool" else "a number"
            raise self.error(
                f"'{name}' is used here as {role} but is {_KIND_WORDS[known[0]]} ({known[1]}); "
                "a name is either a truth value or a number, not both",
                tok,
            )
        return known[0]

    # sentences -----------------------------------------------------------
    def sentence(self) -> z3.BoolRef:
        try:
            return self._sentence()
        except (RecursionError, ctypes.ArgumentError) as exc:
            # z3's ctypes calls report a RecursionError met inside them as an ArgumentError
            if isinstance(exc, ctypes.ArgumentError) and "RecursionError" not in str(exc):
                raise
            raise self.error("the sentence is nested too deeply to parse", self.toks[0]) from None

    def _sentence(self) -> z3.BoolRef:
        if self.peek().kind == "eof":
            raise self.expected("a sentence", self.peek())
        expr = self.iff()
        tok = self.peek()
        if tok.kind != "eof":
            if self.is_op(tok, ")"):
                raise self.error("found ')' with no matching '('", tok)
            hint = ""
            if tok.kind == "op" and tok.text in _COMPARISONS:
                hint = f"; '{tok.text}' compares numbers, use '<->' between sentences"
            raise self.expected(f"an operator (&, |, ^, ->, <->) or {self.end_what}", tok, hint)
        return expr

    def iff(self) -> z3.BoolRef:
        left = self.implies()
        while self.is_op(self.peek(), "<->"):
            self.advance()
            left = left == self.implies()
        return left

    def implies(self) -> z3.BoolRef:
        parts = [self.or_()]
        while self.is_op(self.peek(), "->"):
            self.advance()
            parts.append(self.or_())
        result = parts.pop()
        while parts:  # right-associative
            result = z3.Implies(parts.pop(), result)
        return result

    def or_(self) -> z3.BoolRef:
        left = self.xor()
        while self.is_op(self.peek(), "|"):
            self.advance()
            left = z3.Or(left, self.xor())
        return left

    def xor(self) -> z3.BoolRef:
        left = self.and_()
        while self.is_op(self.peek(), "^"):
            self.advance()
            left = z3.Xor(left, self.and_())
        return left

    def and_(self) -> z3.BoolRef:
        left = self.unary()
        while self.is_op(self.peek(), "&"):
            self.advance()
            left = z3.And(left, self.unary())
        return left

    def unary(self) -> z3.BoolRef:
        negations = 0
        while self.is_op(self.peek(), "~", "!"):
            self.advance()
            negations += 1
        tok = self.peek()
        if tok.kind == "keyword" and tok.text in ("forall", "exists"):
            result = self.quantifier()
        else:
            result = self.atomic()
        for _ in range(negations):
            result = z3.Not(result)
        return result

    def atomic(self) -> z3.BoolRef:
        tok = self.peek()
        if tok.kind == "keyword":
            if tok.text in ("true", "false"):
                self.advance()
                return z3.BoolVal(tok.text == "true")
            if tok.text in ("at_most_one", "exactly_one"):
                return self.builtin()
            hint = f'; a keyword must be quoted to be a name, as in "{tok.text}"'
            if tok.text in ("int", "real"):
                hint = "; declarations such as 'real p' go on their own line of a theory (parse_theory)"
            raise self.expected("a sentence", tok, hint)
        if tok.kind in _NUMBERS or self.is_op(tok, "-"):
            return self.comparison()
        if tok.kind in ("name", "quoted"):
            if self.is_arith_follow(self.skip_name(self.i)):
                return self.comparison()
            name, kind = self.name()
            if kind == "int":
                raise self.error(
                    f"'{tok.text}' stands for the number {name} here, which is not a sentence", tok
                )
            self.use(name, "bool", tok)
            return z3.Bool(name)
        if self.is_op(tok, "("):
            closing = self.matching(self.i)
            if closing is not None and self.is_arith_follow(closing + 1):
                return self.comparison()
            self.advance()
            expr = self.iff()
            self.close(")", tok)
            return expr
        raise self.expected("a sentence (a name, true, false, '(', '~', a comparison or a quantifier)", tok)

    def builtin(self) -> z3.BoolRef:
        kw = self.advance()
        opener = self.peek()
        if not self.is_op(opener, "("):
            raise self.expected(f"'(' after {kw.text}", opener)
        self.advance()
        if self.is_op(self.peek(), ")"):
            raise self.error(f"{kw.text} needs at least one sentence", self.peek())
        args = [self.iff()]
        while self.is_op(self.peek(), ","):
            self.advance()
            args.append(self.iff())
        self.close(")", opener, "',' or ")
        if kw.text == "at_most_one":
            return z3.AtMost(*args, 1)
        return z3.PbEq([(a, 1) for a in args], 1)

    def quantifier(self) -> z3.BoolRef:
        kw = self.advance()
        var = self.peek()
        if var.kind != "name":
            hint = "; keywords cannot be variables" if var.kind == "keyword" else ""
            raise self.expected(f"a variable name after '{kw.text}'", var, hint)
        self.advance()
        tok = self.peek()
        if not (tok.kind == "keyword" and tok.text == "in"):
            raise self.expected(f"'in' after '{kw.text} {var.text}'", tok)
        self.advance()
        domain = self.domain()
        tok = self.peek()
        if not self.is_op(tok, ":"):
            raise self.expected(f"':' after the domain of '{kw.text} {var.text}'", tok)
        self.advance()
        start, end = self.i, None
        parts = []
        for value in domain:
            self.i = start
            self.env.append((var.text, value))
            try:
                parts.append(self.iff())
            finally:
                self.env.pop()
            if end is None:
                end = self.i
            elif end != self.i:
                raise self.error(
                    f"the body of '{kw.text} {var.text}' does not read the same for every value", kw
                )
        if len(parts) == 1:
            return parts[0]
        return z3.And(parts) if kw.text == "forall" else z3.Or(parts)

    def domain(self) -> list[tuple[str, str]]:
        tok = self.peek()
        if self.is_op(tok, "{"):
            self.advance()
            values = []
            while True:
                values.append(self.element())
                if self.is_op(self.peek(), ","):
                    self.advance()
                    continue
                self.close("}", tok, "',' or ")
                return values
        if tok.kind in ("int", "name") or self.is_op(tok, "-"):
            low = self.integer()
            dots = self.peek()
            if not self.is_op(dots, ".."):
                raise self.expected("'..' in an integer range such as 0..9", dots)
            self.advance()
            high = self.integer()
            if high < low:
                raise self.error(
                    f"the range {low}..{high} is empty; a quantifier needs a non-empty domain", tok
                )
            if high - low + 1 > MAX_DOMAIN:
                raise self.error(f"the range {low}..{high} has more than {MAX_DOMAIN} values", tok)
            return [("int", str(k)) for k in range(low, high + 1)]
        raise self.expected("a domain: values in braces such as {a, b} or an integer range such as 0..9", tok)

    def element(self) -> tuple[str, str]:
        tok = self.peek()
        if tok.kind == "name":
            self.advance()
            return self.bound(tok.text) or ("name", tok.text)
        if tok.kind == "int" or self.is_op(tok, "-"):
            return ("int", str(self.integer()))
        raise self.expected("a domain value (a name or an integer)", tok)

    def integer(self) -> int:
        sign = 1
        if self.is_op(self.peek(), "-"):
            self.advance()
            sign = -1
        tok = self.peek()
        if tok.kind == "int":
            self.advance()
            return sign * int(tok.text)
        if tok.kind == "name" and (value := self.bound(tok.text)) and value[0] == "int":
            self.advance()
            return sign * int(value[1])
        raise self.expected("an integer", tok)

    # names ---------------------------------------------------------------
    def skip_name(self, i: int) -> int:
        """Index of the token after the name starting at ``i``."""
        if self.toks[i].kind == "name" and self.is_op(self.toks[i + 1], "("):
            closing = self.matching(i + 1)
            return i + 1 if closing is None else closing + 1
        return i + 1

    def matching(self, i: int) -> int | None:
        """Index of the ')' matching the '(' at ``i``, or None."""
        depth = 0
        for j in range(i, len(self.toks)):
            if self.is_op(self.toks[j], "("):
                depth += 1
            elif self.is_op(self.toks[j], ")"):
                depth -= 1
                if depth == 0:
                    return j
        return None

    def is_arith_follow(self, i: int) -> bool:
        tok = self.toks[min(i, len(self.toks) - 1)]
        return tok.kind == "op" and tok.text in _ARITH_FOLLOW

    def name(self) -> tuple[str, str]:
        """Read a name; return it with its kind: "int" for a bound variable standing for a number."""
        tok = self.advance()
        if tok.kind == "quoted":
            return tok.value, "name"
        value = self.bound(tok.text)
        if not self.is_op(self.peek(), "("):
            return (value[1], value[0]) if value else (tok.text, "name")
        if value and value[0] == "int":
            raise self.error(f"'{tok.text}' stands for the number {value[1]} here, not a predicate", tok)
        head = value[1] if value else tok.text
        opener = self.advance()
        args = []
        while True:
            args.append(self.argument())
            if self.is_op(self.peek(), ","):
                self.advance()
                continue
            self.close(")", opener, "',' or ")
            return f"{head}({', '.join(args)})", "name"

    def argument(self) -> str:
        negative = self.is_op(self.peek(), "-")
        if negative:
            self.advance()
        tok = self.peek()
        if tok.kind == "name":
            text = (self.bound(tok.text) or ("name", tok.text))[1]
        elif tok.kind == "keyword" or tok.kind in ("int", "decimal"):
            text = tok.text
        else:
            raise self.expected("a predicate argument (a name or a number)", tok)
        self.advance()
        if negative:
            text = text[1:] if text.startswith("-") else "-" + text
        return text

    # arithmetic ----------------------------------------------------------
    def comparison(self) -> z3.BoolRef:
        first = self.peek()
        left, _ = self.sum()
        op = self.peek()
        if not (op.kind == "op" and op.text in _COMPARISONS):
            raise self.expected(
                f"a comparison (<=, <, >=, >, ==, !=) after the arithmetic term at {self.at(first)}", op
            )
        self.advance()
        right, _ = self.sum()
        tok = self.peek()
        if tok.kind == "op" and tok.text in _COMPARISONS:
            raise self.error("comparisons cannot be chained; write 'a <= b & b <= c'", tok)
        # call the methods of the left operand, as Term does: with a plain `left <= right`, Python
        # would first try the reflected method of a numeral (a subclass of ArithRef) on the right
        method = {
            "<=": z3.ArithRef.__le__,
            "<": z3.ArithRef.__lt__,
            ">=": z3.ArithRef.__ge__,
            ">": z3.ArithRef.__gt__,
            "==": z3.ArithRef.__eq__,
            "=": z3.ArithRef.__eq__,
            "!=": z3.ArithRef.__ne__,
        }[op.text]
        return method(left, right)

    def sum(self) -> tuple[z3.ArithRef, bool]:
        left, has_var = self.product()
        while self.is_op(self.peek(), "+", "-"):
            op = self.advance()
            right, right_var = self.product()
            left = left + right if op.text == "+" else left - right
            has_var = has_var or right_var
        return left, has_var

    def product(self) -> tuple[z3.ArithRef, bool]:
        left, has_var = self.signed()
        while self.is_op(self.peek(), "*"):
            star = self.advance()
            right, right_var = self.signed()
            if has_var and right_var:
                raise self.error(
                    "only linear arithmetic is supported: one side of '*' must be a number", star
                )
            left = left * right
            has_var = has_var or right_var
        return left, has_var

    def signed(self) -> tuple[z3.ArithRef, bool]:
        if self.is_op(self.peek(), "-"):
            self.advance()
            if self.peek().kind in _NUMBERS:
                return self.number(self.advance(), negative=True), False
            expr, has_var = self.signed()
            return -expr, has_var
        return self.primary()

    def primary(self) -> tuple[z3.ArithRef, bool]:
        tok = self.peek()
        if tok.kind in _NUMBERS:
            return self.number(self.advance(), negative=False), False
        if self.is_op(tok, "("):
            self.advance()
            inner = self.sum()
            hint = ""
            if self.is_op(self.peek(), "&", "|", "^", "->", "<->"):
                hint = "; the group is read as arithmetic because a comparison or arithmetic follows it"
            self.close(")", tok, hint=hint)
            return inner
        if tok.kind in ("name", "quoted"):
            name, kind = self.name()
            if kind == "int":
                return z3.IntVal(int(name)), False
            sort = self.use(name, "number", tok)
            return (z3.Real(name) if sort == "real" else z3.Int(name)), True
        hint = (
            "; truth values are not numbers"
            if tok.kind == "keyword" and tok.text in ("true", "false")
            else ""
        )
        raise self.expected("a number, a numeric variable or '('", tok, hint)

    def number(self, tok: _Token, *, negative: bool) -> z3.ArithRef:
        sign = -1 if negative else 1
        if tok.kind == "int":
            return z3.IntVal(sign * int(tok.text))
        if tok.kind == "decimal":
            return z3.RealVal(sign * Fraction(tok.text))
        p, q = tok.text.split("/")
        if int(q) == 0:
            raise self.error(f"the rational number {tok.text} divides by zero", tok)
        return z3.RealVal(sign * Fraction(int(p), int(q)))


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise DeclarationError(f"expected text (a str) to parse, got {type(text).__name__} {text!r}")
    return text


def parse(text: str, *, reals: Iterable[str] = (), source: str | None = None) -> Sentence:
    """Parse one sentence of the text syntax.

    The sentence may span several lines; ``#`` starts a comment that runs to the
    end of the line. Names used in arithmetic are integer variables unless listed
    in ``reals``.

    Parameters
    ----------
    text : str
        The sentence, e.g. ``"Wins(biden) -> ~Wins(sanders)"``.
    reals : iterable of str, optional
        Names of real-valued variables (a str is split on whitespace).
    source : str, optional
        File name shown in error messages.

    Returns
    -------
    Sentence

    Raises
    ------
    ParseError
        With the 1-based line and column of the offending token, when the text is
        not one well-formed sentence (including empty text and a name used both
        as a Boolean atom and as a number).

    Examples
    --------
    >>> from fractions import Fraction
    >>> from deepmarkets.logic import atoms, reals
    >>> a, b = atoms("a b")
    >>> parse("a & ~b -> a") == (a & ~b).implies(a)
    True
    >>> (p,) = reals("p")
    >>> parse("2 * p <= 1/3", reals=["p"]) == (2 * p <= Fraction(1, 3))
    True
    >>> str(parse("exists i in 1..3: x == i"))
    'x == 1 | x == 2 | x == 3'
    """
    src = _Source(_check_text(text), source)
    names = _Names()
    for name in reals.split() if isinstance(reals, str) else reals:
        if not isinstance(name, str) or not name.strip():
            raise DeclarationError(f"reals must hold non-empty names, got {name!r}")
        names.kinds[name] = ("real", "declared real by the reals argument")
    tokens = _tokenize(src, multiline_quotes=True)
    return Sentence(_Parser(src, tokens, names, "end of input").sentence())


def parse_theory(text: str, *, source: str | None = None) -> list[Sentence]:
    """Parse a theory: one sentence per line.

    Blank lines and ``#`` comments are skipped. A line ``int x, y`` or
    ``real p, q`` declares numeric variables for the lines that follow (names used
    in arithmetic are integers by default). Error line numbers are those of ``text``.

    Parameters
    ----------
    text : str
        The theory, e.g. the contents of a file.
    source : str, optional
        File name shown in error messages.

    Returns
    -------
    list of Sentence
        One sentence per sentence line, in order (empty for a text without any).

    Raises
    ------
    ParseError
        For a malformed line, a name used both as a Boolean atom and a number, or
        a declaration that contradicts an earlier use.

    Examples
    --------
    >>> theory = parse_theory('''
    ... real p            # a probability-like quantity
    ... rain -> wet
    ... rain -> p >= 1/2
    ... ''')
    >>> [str(s) for s in theory]
    ['rain -> wet', 'rain -> p >= 1/2']
    """
    src = _Source(_check_text(text), source)
    names = _Names()
    lines: list[list[_Token]] = []
    last_line = 0
    for tok in _tokenize(src, multiline_quotes=False):
        line = src.where(tok.start)[0]
        if line != last_line:
            lines.append([])
            last_line = line
        lines[-1].append(tok)
    result = []
    for tokens in lines:
        first = tokens[0]
        if first.kind == "keyword" and first.text in ("int", "real"):
            _declare(src, tokens, names)
        else:
            result.append(Sentence(_Parser(src, tokens, names, "end of line").sentence()))
    return result


def _declare(src: _Source, tokens: list[_Token], names: _Names) -> None:
    parser = _Parser(src, tokens, names, "end of line")
    kind = parser.advance().text
    while True:
        tok = parser.peek()
        if tok.kind not in ("name", "quoted"):
            raise parser.expected(f"a name to declare {kind}", tok)
        parser.advance()
        known = names.kinds.get(tok.value)
        if known is not None and known[0] != kind:
            if known[0] == "bool":
                message = f"'{tok.value}' cannot be declared {kind}: it is a Boolean atom ({known[1]})"
            else:
                message = (
                    f"'{tok.value}' cannot be declared {kind}: it is {_KIND_WORDS[known[0]]} ({known[1]}); "
                    "declare a variable before its first use"
                )
            raise parser.error(message, tok)
        if known is None:
            names.kinds[tok.value] = (kind, f"declared {kind} at {parser.at(tok)}")
        after = parser.peek()
        if after.kind == "eof":
            return
        if not parser.is_op(after, ","):
            raise parser.expected("',' or end of line after a declared name", after)
        parser.advance()
