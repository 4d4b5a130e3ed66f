"""Reader for nut.conf: the shell-style `KEY=value` file that NUT's init scripts, Debian's /sbin wrappers and
systemd units (EnvironmentFile=) read to learn the MODE and the extra options of each daemon.

No NUT 2.8.0 C program reads nut.conf; it is sourced by /bin/sh.  This reader accepts the subset of shell that
works in both /bin/sh and systemd: assignments `NAME=value`, optionally prefixed by `export`, `export NAME`,
'single' and "double" quotes, backslash escapes, `#` comments.  Anything a shell would run as a command
(`MODE = none`, `MODE=a b`) is reported with its line number instead of being guessed at.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass, field

from pnut.conf import paths

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Mode(enum.Enum):
    """nut.conf MODE: which NUT layers this host starts."""

    NONE = "none"               # nothing is started (NUT unconfigured or started by other means)
    STANDALONE = "standalone"   # drivers, upsd and upsmon, all local
    NETSERVER = "netserver"     # as standalone, and upsd serves other hosts
    NETCLIENT = "netclient"     # only upsmon, watching a remote upsd


class NutConfError(Exception):
    """One line of nut.conf that a shell would not take as plain assignments."""

    def __init__(self, path: str, lineno: int, reason: str):
        super().__init__(f"{path}:{lineno}: {reason}")
        self.path = path
        self.lineno = lineno
        self.reason = reason


@dataclass
class NutConf:
    path: str
    values: dict[str, str] = field(default_factory=dict)
    exported: set[str] = field(default_factory=set)
    errors: list[NutConfError] = field(default_factory=list)
    found: bool = True          # False when the file did not exist (scripts then use their defaults)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)

    @property
    def mode_text(self) -> str:
        """MODE as written; an absent MODE is `none`, as in NUT's scripts and sample."""
        return self.values.get("MODE", "none")

    @property
    def mode(self) -> Mode | None:
        """The MODE, or None when it is set to something NUT does not know (Debian's wrappers exit 1 then)."""
        try:
            return Mode(self.mode_text)
        except ValueError:
            return None

    def upsd_enabled(self) -> bool:
        """Debian's /sbin/upsd runs the daemon only for these modes."""
        return self.mode in (Mode.STANDALONE, Mode.NETSERVER)

    def upsmon_enabled(self) -> bool:
        """Debian's /sbin/upsmon runs the daemon for these modes."""
        return self.mode in (Mode.STANDALONE, Mode.NETSERVER, Mode.NETCLIENT)


class _Scanner:
    """Splits shell text into words, keeping quotes' meaning; one logical line at a time."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.lineno = 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def line_words(self) -> tuple[int, list[tuple[str, bool]], str | None]:
        """Next logical line: (first line number, [(word, had_unquoted_equals_split)], error)."""
        start = self.lineno
        words: list[tuple[str, bool]] = []
        error: str | None = None
        t = self.text
        while self.pos < len(t):
            c = t[self.pos]
            if c == "\n":
                self.pos += 1
                self.lineno += 1
                break
            if c in " \t\r":
                self.pos += 1
                continue
            if c == "#":
                while self.pos < len(t) and t[self.pos] != "\n":
                    self.pos += 1
                continue
            if c in ";&|<>()`":
                error = error or f"shell syntax '{c}' is not supported"
                self.pos += 1
                continue
            word, err = self._word()
            error = error or err
            words.append(word)
        return start, words, error

    def _word(self) -> tuple[tuple[str, bool], str | None]:
        """One shell word; returns (text, name_part_was_unquoted) and an error for an unclosed quote."""
        t = self.text
        out: list[str] = []
        plain_prefix = True          # is everything so far unquoted? (needed to spot NAME=)
        eq_unquoted = False
        while self.pos < len(t):
            c = t[self.pos]
            if c in " \t\r\n;&|<>()`":
                break
            if c == "\\":
                nxt = t[self.pos + 1: self.pos + 2]
                self.pos += 2
                if nxt == "\n":
                    self.lineno += 1          # line continuation
                    continue
                out.append(nxt)
                plain_prefix = plain_prefix and eq_unquoted
                continue
            if c == "'":
                end = t.find("'", self.pos + 1)
                if end < 0:
                    self.pos = len(t)
                    return ("".join(out), eq_unquoted), "unterminated quote"
                chunk = t[self.pos + 1:end]
                self.lineno += chunk.count("\n")
                out.append(chunk)
                self.pos = end + 1
                plain_prefix = plain_prefix and eq_unquoted
                continue
            if c == '"':
                self.pos += 1
                while True:
                    if self.pos >= len(t):
                        return ("".join(out), eq_unquoted), "unterminated quote"
                    d = t[self.pos]
                    if d == '"':
                        self.pos += 1
                        break
                    if d == "\\" and t[self.pos + 1: self.pos + 2] in ('"', "\\", "$", "`", "\n"):
                        e = t[self.pos + 1]
                        if e == "\n":
                            self.lineno += 1
                        else:
                            out.append(e)
                        self.pos += 2
                        continue
                    if d == "\n":
                        self.lineno += 1
                    out.append(d)
                    self.pos += 1
                plain_prefix = plain_prefix and eq_unquoted
                continue
            if c == "=" and plain_prefix and not eq_unquoted:
                eq_unquoted = True
            out.append(c)
            self.pos += 1
        return ("".join(out), eq_unquoted), None


def parse_nutconf(text: str, path: str = "nut.conf") -> NutConf:
    """Parse nut.conf text; bad lines are collected in .errors (and logged), the rest is kept."""
    conf = NutConf(path)
    sc = _Scanner(text)
    while not sc.at_end():
        lineno, words, error = sc.line_words()
        if error is None and words:
            error = _apply(conf, words)
        if error:
            err = NutConfError(path, lineno, error)
            conf.errors.append(err)
            log.error("%s", err)
    return conf


def _assignment(word: tuple[str, bool]) -> tuple[str, str] | None:
    text, eq = word
    if not eq:
        return None
    name, _, value = text.partition("=")
    if not _NAME.fullmatch(name):
        return None
    return name, value


def _apply(conf: NutConf, words: list[tuple[str, bool]]) -> str | None:
    """Apply one line's words: assignments, or `export` followed by assignments/names."""
    export = words[0] == ("export", False)
    todo = words[1:] if export else words
    if export and not todo:
        return "export without a name"
    pending: list[tuple[str, str | None]] = []
    for word in todo:
        pair = _assignment(word)
        if pair is not None:
            pending.append(pair)
        elif export and _NAME.fullmatch(word[0]) and not word[1]:
            pending.append((word[0], None))
        elif any(w[0] == "=" or w[0].startswith("=") or (w[1] and w[0].endswith("=")) for w in todo):
            return "no spaces are allowed around '='"
        else:
            return f"not an assignment: {word[0]}"
    for name, value in pending:
        if value is not None:
            conf.values[name] = value
        if export:
            conf.exported.add(name)
    return None


def read_nutconf(path: str | None = None) -> NutConf:
    """Read <confpath>/nut.conf.  A missing or unreadable file gives the defaults (MODE=none), as the
    scripts' `[ -r nut.conf ] && . nut.conf` does."""
    path = path or paths.conffile("nut.conf")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        conf = NutConf(path)
        conf.found = False
        return conf
    return parse_nutconf(data.decode("latin-1"), path)
