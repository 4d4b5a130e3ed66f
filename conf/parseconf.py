"""NUT's parseconf tokenizer (common/parseconf.c): one set of rules for config files and protocol lines.

Sans-I/O: feed characters or bytes, get lists of words.  Used by every config reader, by upsd and the
client library for network lines, and by both ends of the driver socket.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator

ARG_LIMIT = 32          # PCONF_DEFAULT_ARG_LIMIT: words past this are silently dropped
WORDLEN_LIMIT = 512     # PCONF_DEFAULT_WORDLEN_LIMIT: characters past this are silently dropped
ESCAPED = '#\\"'        # what pconf_encode() prefixes with a backslash
ERR_HASH_IN_QUOTES = "Unbalanced word due to unescaped # in quotes"
_SPACE = " \t\n\v\f\r"  # C isspace() in the C locale


class _St(enum.Enum):
    WORDSTART = 1
    FINDEOL = 2
    QUOTE = 3
    QUOTE_LITERAL = 4
    COLLECT = 5
    COLLECT_LITERAL = 6


class Line:
    """One logical line: its words, the logical line number, and a parse error if one cut it short."""

    # A plain class rather than a dataclass: importing dataclasses costs one-shot clients such as upsc
    # about 10 ms of start-up (a third of the interpreter's own).
    __slots__ = ("words", "lineno", "error")

    def __init__(self, words: list[str], lineno: int, error: str | None = None) -> None:
        self.words = words
        self.lineno = lineno
        self.error = error

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Line):
            return NotImplemented
        return (self.words, self.lineno, self.error) == (other.words, other.lineno, other.error)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Line(words={self.words!r}, lineno={self.lineno!r}, error={self.error!r})"


class Tokenizer:
    """Character-at-a-time state machine with parseconf's exact rules.

    `#` starts a comment outside quotes (even mid-word); `"` groups; `\\` takes the next character
    literally (and joins lines); `=` is always a word of its own; bytes outside 0x20..0x7f are dropped
    from words (CVE-2012-2944); an unescaped `#` inside quotes is a parse error that ends the line.
    """

    def __init__(self, arg_limit: int = ARG_LIMIT, wordlen_limit: int = WORDLEN_LIMIT, lineno: int = 0) -> None:
        self.arg_limit = arg_limit
        self.wordlen_limit = wordlen_limit
        self.lineno = lineno
        self._state = _St.WORDSTART
        self._words: list[str] = []
        self._word: list[str] = []

    def __repr__(self) -> str:
        return (f"Tokenizer(arg_limit={self.arg_limit!r}, wordlen_limit={self.wordlen_limit!r}, "
                f"lineno={self.lineno!r})")

    def _addchar(self, ch: str) -> None:
        if not (0x20 <= ord(ch) <= 0x7F):
            return
        if self.wordlen_limit and len(self._word) >= self.wordlen_limit:
            return
        self._word.append(ch)

    def _endword(self) -> None:
        if not (self.arg_limit and len(self._words) >= self.arg_limit):
            self._words.append("".join(self._word))
        self._word.clear()

    def _finish(self, error: str | None = None) -> Line:
        self.lineno += 1
        line = Line(self._words, self.lineno, error)
        self._words = []
        self._state = _St.WORDSTART
        return line

    def _wordstart(self, ch: str) -> _St:
        if ch == "#":
            return _St.FINDEOL
        if ch in _SPACE:
            return _St.WORDSTART
        if ch == "\\":
            return _St.COLLECT_LITERAL
        if ch == '"':
            return _St.QUOTE
        self._addchar(ch)
        if ch == "=":
            self._endword()
            return _St.WORDSTART
        return _St.COLLECT

    def feed_char(self, ch: str) -> Line | None:
        """Consume one character; return a Line when it completes one (or ends one with an error)."""
        st = self._state
        if st is _St.WORDSTART:
            if ch == "\n":
                return self._finish()
            self._state = self._wordstart(ch)
        elif st is _St.FINDEOL:
            if ch == "\n":
                return self._finish()
        elif st is _St.QUOTE:
            if ch == "#":
                self._endword()
                return self._finish(ERR_HASH_IN_QUOTES)
            if ch == '"':
                self._endword()
                self._state = _St.WORDSTART
            elif ch == "\\":
                self._state = _St.QUOTE_LITERAL
            else:
                self._addchar(ch)
        elif st is _St.QUOTE_LITERAL:
            if ch != "\n":
                self._addchar(ch)
            self._state = _St.QUOTE
        elif st is _St.COLLECT:
            if ch == "#":
                self._endword()
                self._state = _St.FINDEOL
            elif ch == "\n":
                self._endword()
                return self._finish()
            elif ch in _SPACE:
                self._endword()
                self._state = _St.WORDSTART
            elif ch == "=":
                self._endword()
                self._state = self._wordstart(ch)
            elif ch == "\\":
                self._state = _St.COLLECT_LITERAL
            else:
                self._addchar(ch)
        elif st is _St.COLLECT_LITERAL:
            if ch != "\n":
                self._addchar(ch)
            self._state = _St.COLLECT
        return None

    def feed(self, data: str | bytes) -> Iterator[Line]:
        """Consume a chunk; yield every line it completes."""
        if isinstance(data, bytes):
            data = data.decode("latin-1")
        for ch in data:
            line = self.feed_char(ch)
            if line is not None:
                yield line

    def end_of_file(self) -> Line | None:
        """What parseconf returns at EOF without a final newline.

        NUT keeps the pending words only if at least one word was already complete: a last line made of
        a single unterminated word is lost (a parseconf quirk kept for compatibility).
        """
        if not self._words:
            self._word.clear()
            self._state = _St.WORDSTART
            return None
        if self._word or self._state in (_St.COLLECT, _St.COLLECT_LITERAL):
            self._endword()
        return self._finish()

    def end_of_string(self) -> Line:
        """pconf_line(): a whole string is one line; a word still being built is tied off."""
        if self._word or self._state in (_St.COLLECT, _St.COLLECT_LITERAL):
            self._endword()
        return self._finish()

    def reset(self) -> None:
        """Drop a half-read line (upsd does this after a parse error on a socket)."""
        self._words = []
        self._word.clear()
        self._state = _St.WORDSTART


def iter_lines(text: str | bytes) -> Iterator[Line]:
    """Tokenize a whole file's text as pconf_file_next() would, line numbers included."""
    tok = Tokenizer()
    yield from tok.feed(text)
    last = tok.end_of_file()
    if last is not None:
        yield last


def split_line(line: str) -> list[str]:
    """Tokenize one line (pconf_line); raises ParseError on an unescaped # in quotes."""
    tok = Tokenizer()
    for ch in line:
        done = tok.feed_char(ch)
        if done is not None:
            if done.error:
                raise ParseError(done.error)
            return done.words
    return tok.end_of_string().words


class ParseError(ValueError):
    """A line that parseconf refuses (only an unescaped # in quotes)."""


def encode(value: str) -> str:
    """pconf_encode(): prefix `\\`, `"` and `#` with a backslash; nothing else is escaped."""
    if not any(c in value for c in ESCAPED):
        return value
    return "".join("\\" + c if c in ESCAPED else c for c in value)


def quote(value: str) -> str:
    """The value as NUT puts it on the wire: encoded, in double quotes."""
    return '"' + encode(value) + '"'


def arg(value: str) -> str:
    """One request argument as libupsclient sends it: quoted only if it holds a space."""
    enc = encode(value)
    return '"' + enc + '"' if " " in value else enc


def join(words: Iterable[str]) -> str:
    """Build a request line from raw arguments (each encoded, quoted where needed)."""
    return " ".join(arg(w) for w in words)
