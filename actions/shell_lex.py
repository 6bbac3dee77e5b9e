"""Split one bash command line into words and operators, the way bash would, for `actions.shell`.

Why not `shlex`: `shlex.shlex(posix=True, punctuation_chars=True)` cannot tell a quoted `"&"` from
the operator `&` (so `rm -rf "&" ~` splits into two harmless commands), treats `#` inside a word as a
comment (so `echo a#b; rm -rf ~` loses the rm) and splits `$(...)` into loose parentheses. Bash's
word rules are small enough to follow here directly: quotes, backslashes, `$'...'`, `$(...)`,
backticks, `${...}`, process substitution, comments and the operators. bashlex would do it too,
but it is GPL-3.0 and this project is MIT.

A word's value is unquoted and keeps `$NAME`, `${...}`, `~` and globs as typed (the rules expand
them); the output of a substitution is unknown, so it is the marker `SUB` (process substitution:
`PROC`) and its inner text is handed back to be judged on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SUB = "\x00"   # stands for the (unknown) output of $(...) or `...`
PROC = "\x01"  # stands for the file name of a process substitution <(...) or >(...)

TokenKind = Literal["word", "op", "redir"]

# Longest first, so `&&` wins over `&` and `>>` over `>`.
_CONTROL_OPS = (";;&", ";;", ";&", "&&", "||", "|&", ";", "&", "|", "(", ")")
_REDIR_OPS = ("&>>", "<<<", "<<-", "&>", ">>", ">|", ">&", "<&", "<>", "<<", "<", ">")
_OP_CHARS = frozenset(";&|()<>")
_NOT_HISTORY = frozenset({"", " ", "\t", "\n", "\r", "=", '"', "("})  # what may follow a literal `!`
_ANSI_ESCAPES = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
                 "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


class Unparsable(ValueError):
    """The line is not valid shell as far as this lexer can tell (an unclosed quote, ...)."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str  # a word's unquoted value, or the operator (a redirection keeps its fd: `2>`)


@dataclass(slots=True)
class Lexed:
    tokens: list[Token] = field(default_factory=list)
    subs: list[str] = field(default_factory=list)  # inner text of every substitution, to judge too
    ansi_c: bool = False                            # a $'...' string was decoded
    history: bool = False                           # `!!`, `!rm`, `!$`: interactive history expansion


def lex(text: str) -> Lexed:
    """Tokens of `text`; raises `Unparsable` when a quote or a substitution is not closed."""
    return _Lexer(text).run()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.out = Lexed()
        self.word: list[str] = []
        self.in_word = False  # a word has started, even if its value is empty ('' is a word)

    def run(self) -> Lexed:
        text, i, n = self.text, 0, len(self.text)
        while i < n:
            c = text[i]
            if c in " \t":
                self.flush()
                i += 1
            elif c in "\n\r":
                self.flush()
                self.out.tokens.append(Token("op", ";"))
                i += 1
            elif c == "#" and not self.in_word:
                end = text.find("\n", i)
                i = n if end < 0 else end
            elif c in _OP_CHARS:
                i = self.operator(i)
            else:
                i = self.word_part(i, quoted=False)
        self.flush()
        return self.out

    def flush(self) -> None:
        if self.in_word:
            self.out.tokens.append(Token("word", "".join(self.word)))
        self.word, self.in_word = [], False

    def operator(self, i: int) -> int:
        text = self.text
        if text[i] in "<>" and text.startswith("(", i + 1):  # process substitution, part of a word
            end = _closing_paren(text, i + 1)
            self.out.subs.append(text[i + 2:end])
            self.add(PROC)
            return end + 1
        fd = ""
        after_redirect = bool(self.out.tokens) and self.out.tokens[-1].kind == "redir"  # 2>&1>f
        if text[i] in "<>" and self.in_word and "".join(self.word).isdigit() and not after_redirect:
            fd, self.word, self.in_word = "".join(self.word), [], False  # 2> : the fd is part of it
        self.flush()
        for op in (*_REDIR_OPS, *_CONTROL_OPS):
            if text.startswith(op, i):
                kind: TokenKind = "redir" if op in _REDIR_OPS else "op"
                self.out.tokens.append(Token(kind, fd + op))
                return i + len(op)
        raise Unparsable(f"unexpected {text[i]!r}")  # unreachable: every op char starts an op

    def add(self, s: str) -> None:
        self.word.append(s)
        self.in_word = True

    def word_part(self, i: int, *, quoted: bool) -> int:
        """Consume one piece of a word at `i` (outside quotes, or inside "..." when `quoted`)."""
        text, c = self.text, self.text[i]
        if c == "\\":
            nxt = text[i + 1:i + 2]
            if nxt == "\n":
                return i + 2  # line continuation
            if not nxt:
                self.add("\\")  # a trailing backslash stays
                return i + 1
            if quoted and nxt not in ('$', '`', '"', "\\"):
                self.add("\\")
                return i + 1
            self.add(nxt)
            return i + 2
        if c == "'" and not quoted:
            end = text.find("'", i + 1)
            if end < 0:
                raise Unparsable("an unclosed ' quote")
            self.add(text[i + 1:end])
            return end + 1
        if c == '"' and not quoted:
            return self.double_quoted(i + 1)
        if c == "`":
            end = _closing_backtick(text, i + 1)
            self.out.subs.append(text[i + 1:end].replace("\\`", "`"))
            self.add(SUB)
            return end + 1
        if c == "$":
            return self.dollar(i, quoted=quoted)
        if c == "!" and text[i + 1:i + 2] not in _NOT_HISTORY and text[i - 1:i] != "$":
            self.out.history = True
        self.add(c)
        return i + 1

    def double_quoted(self, i: int) -> int:
        self.in_word = True
        while i < len(self.text):
            if self.text[i] == '"':
                return i + 1
            i = self.word_part(i, quoted=True)
        raise Unparsable('an unclosed " quote')

    def dollar(self, i: int, *, quoted: bool) -> int:
        text = self.text
        nxt = text[i + 1:i + 2]
        if nxt == "(":
            end = _closing_paren(text, i + 1)
            self.out.subs.append(text[i + 2:end])
            self.add(SUB)
            return end + 1
        if nxt == "{":
            end = _closing_brace(text, i + 1)
            inner = text[i:end + 1]
            if "$(" in inner or "`" in inner:
                raise Unparsable("a substitution inside ${...}")
            self.add(inner)
            return end + 1
        if nxt == "'" and not quoted:
            value, end = _ansi_c(text, i + 2)
            self.out.ansi_c = True
            self.add(value)
            return end
        if nxt == '"' and not quoted:  # $"..." is a translated string: a plain one here
            return self.double_quoted(i + 2)
        self.add("$")
        return i + 1


def _closing_paren(text: str, i: int) -> int:
    """Index of the `)` that closes the `(` at `i`, skipping quotes and nested parentheses."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            end = text.find("'", i + 1)
            if end < 0:
                break
            i = end
        elif c == '"':
            i = _closing_double(text, i + 1)
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise Unparsable("an unclosed $( or (")


def _closing_double(text: str, i: int) -> int:
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        if text.startswith("$(", i):
            i = _closing_paren(text, i + 1)
        i += 1
    raise Unparsable('an unclosed " quote')


def _closing_backtick(text: str, i: int) -> int:
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "`":
            return i
        i += 1
    raise Unparsable("an unclosed ` quote")


def _closing_brace(text: str, i: int) -> int:
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    raise Unparsable("an unclosed ${")


def _ansi_c(text: str, i: int) -> tuple[str, int]:
    """Decode the body of $'...' starting at `i`; returns the value and the index after the `'`."""
    out: list[str] = []
    while i < len(text):
        c = text[i]
        if c == "'":
            return "".join(out), i + 1
        if c != "\\" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        value, i = _ansi_escape(text, i + 1)
        out.append(value)
    raise Unparsable("an unclosed $' quote")


def _ansi_escape(text: str, i: int) -> tuple[str, int]:
    """One escape after the backslash at `i - 1`: \\n, \\xHH, \\uHHHH, \\NNN (octal), \\cX."""
    c = text[i]
    if c in _ANSI_ESCAPES:
        return _ANSI_ESCAPES[c], i + 1
    for lead, size, base in (("x", 2, 16), ("u", 4, 16), ("U", 8, 16)):
        if c == lead:
            digits = _take(text, i + 1, size, "0123456789abcdefABCDEF")
            return (chr(min(int(digits, base), 0x10FFFF)) if digits else "\\" + c), i + 1 + len(digits)
    if c in "01234567":
        digits = _take(text, i, 3, "01234567")
        return chr(int(digits, 8) & 0xFF), i + len(digits)
    if c == "c" and i + 1 < len(text):
        return chr(ord(text[i + 1]) & 0x1F), i + 2
    return "\\" + c, i + 1


def _take(text: str, i: int, size: int, alphabet: str) -> str:
    end = i
    while end < len(text) and end - i < size and text[end] in alphabet:
        end += 1
    return text[i:end]
