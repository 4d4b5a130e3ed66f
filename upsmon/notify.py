"""upsmon's notifications (clients/upsmon.h notifylist, do_notify()): types, stock messages, flags, delivery.

Delivery differs from NUT 2.8.0 in one safety point: NUT pastes the message into a /bin/sh command line
inside double quotes, so a `$`, backtick or quote in a UPS name reaches the shell.  Here NOTIFYCMD is still
run by /bin/sh (so it may carry arguments, variables and redirections as in NUT), but the message is handed
to that shell as a positional parameter ("$1"): the program sees the same single argument and nothing in it
is ever interpreted.
"""

from __future__ import annotations

import enum
import logging
import os
import subprocess
from dataclasses import dataclass, field

log = logging.getLogger("pnut.upsmon")


class Flag(enum.IntFlag):
    SYSLOG = 1
    WALL = 2
    EXEC = 4
    IGNORE = 8


class NotifyType(enum.Enum):
    """Every notify type, with its stock message (%s = the MONITOR system string)."""

    ONLINE = "UPS %s on line power"
    ONBATT = "UPS %s on battery"
    LOWBATT = "UPS %s battery is low"
    FSD = "UPS %s: forced shutdown in progress"
    COMMOK = "Communications with UPS %s established"
    COMMBAD = "Communications with UPS %s lost"
    SHUTDOWN = "Auto logout and shutdown proceeding"
    REPLBATT = "UPS %s battery needs to be replaced"
    NOCOMM = "UPS %s is unavailable"
    NOPARENT = "upsmon parent process died - shutdown impossible"
    CAL = "UPS %s: calibration in progress"
    # Added after 2.8.0 (2.8.1 .. 2.8.3): names and stock texts are NUT's own (clients/upsmon.h notifylist),
    # so scripts that match on them work unchanged.  ALARM and OTHER carry a second %s: the ups.alarm value
    # and the unrecognised status words respectively.
    NOTCAL = "UPS %s: calibration finished"
    OFF = "UPS %s: administratively OFF or asleep"
    NOTOFF = "UPS %s: no longer administratively OFF or asleep"
    BYPASS = "UPS %s: on bypass (powered, not protecting)"
    NOTBYPASS = "UPS %s: no longer on bypass"
    ECO = "UPS %s: in ECO mode (as defined by vendor)"
    NOTECO = "UPS %s: no longer in ECO mode"
    ALARM = "UPS %s: one or more active alarms: [%s]"
    NOTALARM = "UPS %s is no longer in an alarm state (no active alarms)"
    OVER = "UPS %s: overloaded"
    NOTOVER = "UPS %s: no longer overloaded"
    TRIM = "UPS %s: trimming incoming voltage"
    NOTTRIM = "UPS %s: no longer trimming incoming voltage"
    BOOST = "UPS %s: boosting incoming voltage"
    NOTBOOST = "UPS %s: no longer boosting incoming voltage"
    OTHER = "UPS %s: has at least one unclassified status token: [%s]"
    NOTOTHER = "UPS %s has no unclassified status tokens anymore"

    @classmethod
    def lookup(cls, name: str) -> NotifyType | None:
        """Type names are matched case-insensitively, as NUT does."""
        return cls.__members__.get(name.upper())


# Types whose UPSNAME is empty because they are about this host, not one UPS.
HOST_TYPES = (NotifyType.SHUTDOWN, NotifyType.NOPARENT)


def default_flags(t: NotifyType) -> Flag:
    """SYSLOG+WALL for every type except CAL, which is SYSLOG only in NUT 2.8.0.  The types added after
    2.8.0 take later NUT's default, SYSLOG+WALL (NOTIFY_DEFAULT in its notifylist)."""
    if t is NotifyType.CAL:
        return Flag.SYSLOG
    return Flag.SYSLOG | Flag.WALL


def parse_flags(text: str) -> tuple[Flag, list[str]]:
    """`SYSLOG+WALL+EXEC` -> flags, and the words NUT would complain about (`Invalid notify flag: [x]`)."""
    flags = Flag(0)
    bad: list[str] = []
    for word in text.split("+"):
        try:
            flags |= Flag[word]          # case-sensitive, as in NUT
        except KeyError:
            bad.append(word)
    return flags, bad


def format_message(template: str, sysname: str, extra: str | None = None) -> str:
    """NUT's do_notify(): the first %s is the UPS (MONITOR system string); a second %s, if the template has
    one, is the type's extra detail (ALARM: ups.alarm, OTHER: the unknown status words), or nothing when the
    type has none (later NUT prints "(null)" there).  Any further %s is dropped; %% is a literal percent."""
    out: list[str] = []
    args = [sysname, extra or ""]
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "%" and i + 1 < len(template):
            nxt = template[i + 1]
            if nxt == "%":
                out.append("%")
            elif nxt == "s" and args:
                out.append(args.pop(0))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@dataclass
class Notice:
    """One notification as it was (or would have been) delivered: for logs, tests and rehearsals."""

    type: NotifyType
    upsname: str
    message: str
    flags: Flag


@dataclass
class Notifier:
    """The NOTIFYCMD/NOTIFYMSG/NOTIFYFLAG settings and the act of delivering one notice."""

    notifycmd: str | None = None
    messages: dict[NotifyType, str] = field(default_factory=dict)
    flags: dict[NotifyType, Flag] = field(default_factory=dict)
    dry_run: bool = False                     # rehearsals: decide everything, run nothing
    sent: list[Notice] = field(default_factory=list)
    children: list[subprocess.Popen] = field(default_factory=list)

    def message_for(self, t: NotifyType, sysname: str, extra: str | None = None) -> str:
        return format_message(self.messages.get(t, t.value), sysname, extra)

    def flags_for(self, t: NotifyType) -> Flag:
        return self.flags.get(t, default_flags(t))

    def notify(self, t: NotifyType, sysname: str = "", extra: str | None = None) -> Notice:
        sysname = "" if t in HOST_TYPES else sysname
        flags = self.flags_for(t)
        notice = Notice(t, sysname, self.message_for(t, sysname, extra), flags)
        self.sent.append(notice)
        if flags & Flag.IGNORE:
            return notice
        if flags & Flag.SYSLOG:
            log.warning("%s", notice.message)
        if self.dry_run:
            return notice
        if flags & Flag.WALL:
            self._spawn(["wall"], stdin=notice.message + "\n")
        if flags & Flag.EXEC and self.notifycmd:
            env = dict(os.environ, NOTIFYTYPE=t.name, UPSNAME=sysname)
            self._spawn(shell_argv(self.notifycmd, notice.message), env=env)
        return notice

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None, stdin: str | None = None) -> None:
        """Start a notifier child without waiting for it (NUT forks; a slow script must not stall monitoring)."""
        self.reap()
        try:
            p = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
        except OSError as exc:
            log.error("Notifier %s: %s", argv[0], exc.strerror)
            return
        if stdin is not None and p.stdin:
            try:
                p.stdin.write(stdin.encode("latin-1", "replace"))
                p.stdin.close()
            except OSError:
                pass
        self.children.append(p)

    def reap(self) -> None:
        self.children = [p for p in self.children if p.poll() is None]


def shell_argv(command: str, *args: str) -> list[str]:
    """Run `command` through /bin/sh as NUT's system() does, with `args` appended as quoted positional
    parameters: the shell expands "$1" but never re-reads its contents."""
    refs = " ".join(f'"${i}"' for i in range(1, len(args) + 1))
    return ["/bin/sh", "-c", f"{command} {refs}" if refs else command, "sh", *args]
