"""Readers for upsd.conf and upsd.users (server/conf.c, server/user.c).

Both files go through the one parseconf tokenizer.  The readers never raise for bad content: like NUT they
log a warning and carry on; only a missing file is the caller's problem (open() raises OSError).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pnut.conf.parseconf import iter_lines

log = logging.getLogger("pnut.upsd")

PORT = "3493"
_TRUE = ("true", "on", "yes", "1")
_FALSE = ("false", "off", "no", "0")


def parse_boolean(text: str) -> bool | None:
    """NUT's parse_boolean(): a handful of words, case-insensitive; None when it is none of them."""
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    return None


def env_boolean(text: str) -> bool | None:
    """How upsd reads the ALLOW_NO_DEVICE environment variable: prefix match, case-insensitive."""
    up = text.upper()
    if any(w.startswith(up) for w in ("TRUE", "YES", "ON", "1")) and up:
        return True
    if any(w.startswith(up) for w in ("FALSE", "NO", "OFF", "0")) and up:
        return False
    return None


def atoi(text: str) -> int:
    """C atoi(): leading blanks, an optional sign, then digits; anything else stops it (0 if none)."""
    s = text.lstrip(" \t\n\v\f\r")
    n = 0
    sign = 1
    i = 0
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        i = 1
    while i < len(s) and s[i].isdigit() and s[i].isascii():
        n = n * 10 + ord(s[i]) - 48
        i += 1
    return sign * n


@dataclass
class UpsdConf:
    """What upsd.conf sets; None means "not given" so defaults stay with the server."""

    listen: list[tuple[str, str]] = field(default_factory=list)
    maxage: int | None = None
    trackingdelay: int | None = None
    allow_no_device: bool | None = None
    maxconn: int | None = None
    statepath: str | None = None
    datapath: str | None = None
    certfile: str | None = None
    certpath: str | None = None
    certident: tuple[str, str] | None = None
    certrequest: int | None = None
    disable_weak_ssl: bool | None = None
    debug_min: int | None = None


def _directive(conf: UpsdConf, words: list[str]) -> bool:
    """Apply one directive; False means "invalid directive" (the caller logs it)."""
    if len(words) < 2:
        return False
    key, val = words[0], words[1]
    if key.upper() == "DEBUG_MIN":
        if val.isdigit() and val.isascii():
            conf.debug_min = int(val)
        else:
            log.info("DEBUG_MIN has non numeric or negative value in upsd.conf")
        return True
    if key in ("MAXAGE", "TRACKINGDELAY", "MAXCONN", "CERTREQUEST"):
        if val[:1].isdigit():
            setattr(conf, key.lower(), atoi(val))
            return True
        log.error("%s has non numeric value (%s)!", key, val)
        return False
    if key == "ALLOW_NO_DEVICE":
        if val[:1].isdigit():
            conf.allow_no_device = atoi(val) != 0
            return True
        b = parse_boolean(val)
        if b is not None:
            conf.allow_no_device = b
            return True
        log.error("ALLOW_NO_DEVICE has non numeric and non boolean value (%s)!", val)
        return False
    if key in ("STATEPATH", "DATAPATH", "CERTFILE", "CERTPATH"):
        setattr(conf, key.lower(), val)
        return True
    if key == "DISABLE_WEAK_SSL":
        b = parse_boolean(val)
        if b is not None:
            conf.disable_weak_ssl = b
            return True
        log.error("DISABLE_WEAK_SSL has non boolean value (%s)!", val)
        return False
    if key in ("ACCEPT", "REJECT"):
        log.warning("%s in upsd.conf is no longer supported - switch to LISTEN", key)
        return True
    if key == "LISTEN":
        conf.listen.append((val, words[2] if len(words) >= 3 else PORT))
        return True
    if len(words) < 3:
        return False
    if key == "ACL":
        log.warning("ACL in upsd.conf is no longer supported - switch to LISTEN")
        return True
    if key == "CERTIDENT":
        conf.certident = (val, words[2])
        return True
    return False


def parse_upsd_conf(text: str, path: str = "upsd.conf") -> UpsdConf:
    conf = UpsdConf()
    for line in iter_lines(text):
        if line.error:
            log.error("Parse error: %s:%d: %s", path, line.lineno, line.error)
            continue
        if not line.words:
            continue
        if not _directive(conf, line.words):
            log.warning("upsd.conf: invalid directive %s", " ".join(line.words))
    return conf


def load_upsd_conf(path: str) -> UpsdConf:
    """Read upsd.conf; OSError propagates (the caller chooses fatal or "Reload failed")."""
    with open(path, encoding="latin-1") as f:
        return parse_upsd_conf(f.read(), path)


# -- upsd.users --------------------------------------------------------------------------------

@dataclass
class User:
    name: str
    password: str | None = None
    actions: set[str] = field(default_factory=set)      # lower case
    instcmds: set[str] = field(default_factory=set)     # lower case; "all" grants every command


class _UsersReader:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.cur: User | None = None

    def upsmon(self, kind: str) -> None:
        if self.cur is None:
            return
        low = kind.lower()
        if low in ("master", "primary"):
            self.cur.actions.update(("login", "master", "fsd"))
        elif low in ("slave", "secondary"):
            self.cur.actions.add("login")
        else:
            log.warning("Unknown upsmon type %s", kind)

    def var(self, key: str, val: str) -> None:
        low = key.lower()
        cur = self.cur
        if cur is None:
            return
        if low == "password":
            if cur.password is not None:
                log.warning("Ignoring duplicate password for %s", cur.name)
            else:
                cur.password = val
        elif low == "instcmds":
            cur.instcmds.add(val.lower())
        elif low == "actions":
            cur.actions.add(val.lower())
        elif low == "allowfrom":
            log.warning("allowfrom in upsd.users is no longer used")
        elif low == "upsmon":
            self.upsmon(val)
        else:
            log.info("Unrecognized user setting %s", key)

    def line(self, words: list[str]) -> None:
        if not words or words[0].lower() == "user":
            return
        first = words[0]
        if "=" in first:                        # an escaped `\=` kept the compressed form together
            key, _, val = first.partition("=")
            for v in [val, *words[1:]]:
                self.var(key, v)
            return
        if len(first) >= 2 and first[0] == "[" and first[-1] == "]" or first == "[]":
            name = first[1:-1]
            if name in self.users:
                log.warning("Ignoring duplicate user %s", name)
                return
            self.cur = self.users[name] = User(name)
            return
        if len(words) < 2:
            return
        if first.lower() == "upsmon":
            self.upsmon(words[1])
        if len(words) < 3:
            return
        if words[1] == "=":
            for v in words[2:]:
                self.var(first, v)


def parse_upsd_users(text: str, path: str = "upsd.users") -> dict[str, User]:
    reader = _UsersReader()
    for line in iter_lines(text):
        if line.error:
            log.error("Parse error: %s:%d: %s", path, line.lineno, line.error)
            continue
        reader.line(line.words)
    return reader.users


def load_upsd_users(path: str) -> dict[str, User]:
    with open(path, encoding="latin-1") as f:
        return parse_upsd_users(f.read(), path)
