"""upsmon.conf reader (clients/upsmon.c parse_conf_arg()): every directive NUT 2.8.0 reads, and the later ones.

Warnings are collected in NUT's words; only a configuration NUT refuses raises Fatal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pnut.conf.common import Fatal
from pnut.conf.parseconf import iter_lines
from pnut.libupsclient.core import BadAddress, splitname
from pnut.upsmon.notify import Flag, NotifyType, parse_flags

log = logging.getLogger("pnut.upsmon")

POWERDOWN_MAGIC = "upsmon-shutdown-file"


@dataclass
class Monitor:
    """One MONITOR line."""

    sys: str                   # the system string exactly as written: used in messages and $UPSNAME
    upsname: str
    host: str
    port: int
    powervalue: int
    username: str
    password: str
    primary: bool


def _atoi(text: str) -> int:
    """C atoi(): leading digits with an optional sign, 0 when there are none."""
    text = text.strip()
    sign = -1 if text.startswith("-") else 1
    if text[:1] in "+-":
        text = text[1:]
    digits = ""
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0


_NUMBERS = {"POLLFREQ": "pollfreq", "POLLFREQALERT": "pollfreqalert", "HOSTSYNC": "hostsync",
            "DEADTIME": "deadtime", "FINALDELAY": "finaldelay", "RBWARNTIME": "rbwarntime",
            "NOCOMMWARNTIME": "nocommwarntime", "CERTVERIFY": "certverify", "FORCESSL": "forcessl",
            "DEBUG_MIN": "debug_min",
            # later NUT releases (accepted and honoured where pnut implements them)
            "OFFDURATION": "offduration", "OBLBDURATION": "oblbduration",
            "POLLFAIL_LOG_THROTTLE_MAX": "pollfail_log_throttle_max", "OVERDURATION": "overduration",
            "ALARMCRITICAL": "alarmcritical"}
_STRINGS = {"SHUTDOWNCMD": "shutdowncmd", "NOTIFYCMD": "notifycmd", "POWERDOWNFLAG": "powerdownflag",
            "RUN_AS_USER": "run_as_user", "CERTPATH": "certpath", "SHUTDOWNEXIT": "shutdownexit"}


@dataclass
class UpsmonConf:
    monitors: list[Monitor] = field(default_factory=list)
    minsupplies: int = 1
    pollfreq: int = 5
    pollfreqalert: int = 5
    hostsync: int = 15
    deadtime: int = 15
    finaldelay: int = 5
    rbwarntime: int = 43200
    nocommwarntime: int = 300
    shutdowncmd: str | None = None
    notifycmd: str | None = None
    powerdownflag: str | None = None
    run_as_user: str | None = None
    certpath: str | None = None
    certverify: int = 0
    forcessl: int = 0
    certident: tuple[str, str] | None = None
    certhosts: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    debug_min: int | None = None
    offduration: int = 30
    oblbduration: int = 0
    pollfail_log_throttle_max: int = -1
    overduration: int = -1
    alarmcritical: int = 1
    shutdownexit: str | None = None
    notifymsg: dict[NotifyType, str] = field(default_factory=dict)
    notifyflag: dict[NotifyType, Flag] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)    # (level, text) in file order, for the log

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        self.notes.append(("warning", text))

    @property
    def total_power(self) -> int:
        return sum(m.powervalue for m in self.monitors)


def parse_upsmon_conf(text: str, path: str = "upsmon.conf") -> UpsmonConf:
    conf = UpsmonConf()
    for line in iter_lines(text):
        if line.error:
            conf.warn(f"Parse error: {path}:{line.lineno}: {line.error}")
            continue
        words = line.words
        if not words:
            continue
        if not _directive(conf, words):
            conf.warn(f"{path} line {line.lineno}: invalid directive " + " ".join(words))
    return conf


def read_upsmon_conf(path: str) -> UpsmonConf:
    try:
        with open(path, encoding="latin-1") as f:
            text = f.read()
    except OSError as exc:
        raise Fatal(f"Can't open {path}: {exc.strerror}") from None
    return parse_upsmon_conf(text, path)


def _directive(conf: UpsmonConf, words: list[str]) -> bool:
    key = words[0]
    if key == "MONITOR":
        _monitor(conf, words)
        return True
    if key == "DEBUG_MIN" or key.upper() == "DEBUG_MIN":     # the one case-insensitive keyword
        key = "DEBUG_MIN"
    if len(words) < 2:
        return False
    if key in _NUMBERS:
        setattr(conf, _NUMBERS[key], _atoi(words[1]))
        return True
    if key in _STRINGS:
        setattr(conf, _STRINGS[key], words[1])
        return True
    if key == "MINSUPPLIES":
        n = _atoi(words[1])
        if n >= 0:
            conf.minsupplies = n
        else:
            conf.warn(f"MINSUPPLIES must be at least 0 (got {words[1]})")
        return True
    if key == "CERTIDENT" and len(words) >= 3:
        conf.certident = (words[1], words[2])
        return True
    if key == "CERTHOST" and len(words) >= 5:
        conf.certhosts[words[1]] = (words[2], _atoi(words[3]), _atoi(words[4]))
        return True
    if key == "NOTIFYMSG" and len(words) >= 3:
        t = NotifyType.lookup(words[1])
        if t is None:
            conf.warn(f"'{words[1]}' is not a valid notify event name")
        else:
            conf.notifymsg[t] = words[2]
        return True
    if key == "NOTIFYFLAG" and len(words) >= 3:
        t = NotifyType.lookup(words[1])
        if t is None:
            conf.warn(f"Warning: invalid notify type [{words[1]}]")
            return True
        flags, bad = parse_flags(words[2])
        for b in bad:
            conf.warn(f"Invalid notify flag: [{b}]")
        conf.notifyflag[t] = flags
        return True
    return False


def _monitor(conf: UpsmonConf, words: list[str]) -> None:
    if len(words) == 5:
        raise Fatal("Unable to use old-style MONITOR line without a username\n"
                    "Convert it and add a username to upsd.users - see the documentation\n"
                    "Fatal error: unusable configuration")
    if len(words) < 6:
        conf.warn("Invalid MONITOR line: " + " ".join(words))
        return
    sysname = words[1]
    try:
        upsname, host, port = splitname(sysname)
    except BadAddress as exc:
        conf.warn(f"Error: unable to split UPS name [{sysname}]: {exc}")
        return
    if any(m.sys == sysname for m in conf.monitors):
        conf.warn(f"Warning: ignoring duplicate UPS [{sysname}]")
        return
    pv = _atoi(words[2])
    if pv < 0:
        conf.warn(f"UPS [{sysname}]: ignoring invalid power value [{words[2]}]")
        return
    primary = words[5].casefold() in ("primary", "master")
    conf.monitors.append(Monitor(sysname, upsname, host, port, pv, words[3], words[4], primary))
    conf.notes.append(("info", f"UPS: {sysname} (monitoring only)" if pv == 0 else
                       f"UPS: {sysname} ({'primary' if primary else 'secondary'}) (power value {pv})"))
