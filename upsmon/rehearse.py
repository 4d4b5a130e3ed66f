"""pnut-rehearse: rehearse a power failure on this host's real configuration, without pulling the plug
and without shutting anything down.

It reads upsmon.conf (and upssched.conf when NOTIFYCMD is upssched), checks what it can against the
running upsd (reachable, login, primary rights, how many secondaries are attached), then drives upsmon's
own decision rules (monitor.Decider, the code the daemon runs) through OB and OB LB on a virtual clock
and prints, step by step, what would have been notified, executed and shut down, and when.  No command
is ever run; upsd is only asked questions (the check login is logged out at once).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field

from pnut.clients.cli import getopt
from pnut.conf import paths
from pnut.conf.common import Fatal
from pnut.conf.parseconf import iter_lines
from pnut.upsmon.config import Monitor, UpsmonConf, read_upsmon_conf
from pnut.upsmon.monitor import Decider
from pnut.upsmon.notify import Flag, Notifier, NotifyType

USAGE = """\
pnut-rehearse: rehearse a power failure against this host's upsmon configuration; nothing is shut down.

Usage:
  pnut-rehearse [-f <file>] [-u <ups>] [-l <seconds>] [-n] [-s]
  pnut-rehearse -h

Options:
  -f <file>     upsmon.conf to read (default: $NUT_CONFPATH/upsmon.conf)
  -u <ups>      the MONITOR system name whose mains fail (default: every UPS this host monitors)
  -l <seconds>  seconds on battery before the battery is low (default: 60)
  -n            do not contact upsd (configuration only)
  -s            pretend the primary never raises FSD (what a secondary does on its own)
  -h            show this help
"""


@dataclass
class Step:
    t: float
    text: str


@dataclass
class Rehearsal:
    conf: UpsmonConf
    failing: list[str]
    lb_after: float = 60.0
    no_primary: bool = False
    steps: list[Step] = field(default_factory=list)
    timers: list[tuple[float, str]] = field(default_factory=list)     # upssched timers (fire time, name)
    sched: list[list[str]] | None = None
    cmdscript: str | None = None
    secondaries: dict[str, int] = field(default_factory=dict)         # sys -> other logins seen on upsd
    now: float = 0.0

    def say(self, text: str, t: float | None = None) -> None:
        self.steps.append(Step(self.now if t is None else t, text))

    # --- notifications ----------------------------------------------------------------------------------

    def on_notice(self, t: NotifyType, sysname: str, extra: str | None = None) -> None:
        n = self.notifier.notify(t, sysname, extra)
        flags = n.flags
        if flags & Flag.IGNORE or not flags:
            self.say(f"{t.name}: \"{n.message}\" (IGNORE: nothing is done)")
            return
        ways = [w for w, f in (("syslog", Flag.SYSLOG), ("wall", Flag.WALL)) if flags & f]
        self.say(f"{t.name}: \"{n.message}\"" + (f" -> {', '.join(ways)}" if ways else ""))
        if flags & Flag.EXEC:
            if not self.conf.notifycmd:
                self.say("   EXEC is set but there is no NOTIFYCMD: nothing is run")
            else:
                self.say(f"   would run: {self.conf.notifycmd} {shlex.quote(n.message)}   "
                         f"(NOTIFYTYPE={t.name} UPSNAME={n.upsname})")
                if self.sched is not None:
                    self.upssched(t.name, n.upsname)

    def upssched(self, notifytype: str, upsname: str) -> None:
        for w in self.sched or []:
            if w[1].casefold() != notifytype.casefold() or w[2] not in ("*", upsname):
                continue
            cmd, a1, a2 = w[3], w[4], (w[5] if len(w) > 5 else None)
            if cmd == "START-TIMER":
                secs = int(a2 or 0)
                self.timers.append((self.now + secs, a1))
                self.say(f"   upssched: timer \"{a1}\" started ({secs} s)")
            elif cmd == "CANCEL-TIMER":
                left = [x for x in self.timers if x[1] == a1]
                if left:
                    self.timers.remove(left[0])
                    self.say(f"   upssched: timer \"{a1}\" cancelled")
                elif a2:
                    self.say(f"   upssched: no timer \"{a1}\": would run {self.cmdscript} {a2}")
            elif cmd == "EXECUTE":
                self.say(f"   upssched: would run {self.cmdscript} {a1}")

    def fire_timers(self, until: float) -> None:
        for at, name in sorted(self.timers):
            if at <= until:
                self.timers.remove((at, name))
                self.say(f"upssched timer \"{name}\" expires: would run {self.cmdscript} {name}", at)

    # --- the walk ---------------------------------------------------------------------------------------

    def run(self, initial: dict[str, str]) -> None:
        self.notifier = Notifier(self.conf.notifycmd, dict(self.conf.notifymsg), dict(self.conf.notifyflag),
                                 dry_run=True)
        decider = Decider(self.conf, self.on_notice)

        def feed(status_of: dict[str, str]) -> bool:
            for ups in decider.upses:
                decider.status(ups, status_of[ups.sys], self.now)
            return decider.must_shutdown(self.now)

        self.now = -1.0
        decider.emit = lambda t, s, x=None: None           # the baseline poll: nothing worth reporting
        feed(initial)
        decider.emit = self.on_notice
        self.now = 0.0
        ob = dict(initial, **{s: "OB DISCHRG" for s in self.failing})
        self.say("the mains fail: " + ", ".join(self.failing) + " now report OB DISCHRG "
                 f"(upsmon notices at its next poll: within POLLFREQ {self.conf.pollfreq} s, "
                 "or at once with pnut's upsd push)")
        if feed(ob):
            return self.shutdown(decider)
        self.fire_timers(self.lb_after)
        self.now = self.lb_after
        lb = dict(initial, **{s: "OB DISCHRG LB" for s in self.failing})
        self.say("the battery runs low: " + ", ".join(self.failing) + " now report OB DISCHRG LB")
        if feed(lb):
            return self.shutdown(decider)
        # secondaries: the primary raises FSD at its next poll, or (with -s) HOSTSYNC runs out
        step = max(1, self.conf.pollfreqalert)
        end = self.now + self.conf.hostsync + 2 * step
        fsd_sent = False
        while self.now < end:
            self.now += step
            if not self.no_primary and not fsd_sent:
                self.say("the primary raises FSD on " + ", ".join(self.failing))
                fsd_sent = True
                lb = {s: ("FSD " + v if s in self.failing else v) for s, v in lb.items()}
            self.fire_timers(self.now)
            if feed(lb):
                return self.shutdown(decider)
        self.say(f"no shutdown: the remaining power value {decider.power_value(self.now)} is not below "
                 f"MINSUPPLIES {self.conf.minsupplies}")

    def shutdown(self, decider: Decider) -> None:
        self.say(f"critical: power value {decider.power_value(self.now)} < MINSUPPLIES "
                 f"{self.conf.minsupplies}: forced shutdown begins")
        primaries = [u for u in decider.upses if u.primary]
        t = self.now
        for u in primaries:
            self.say(f"would send FSD {u.mon.upsname} to {u.mon.host}:{u.mon.port}", t)
        if primaries:
            known = all(u.sys in self.secondaries for u in primaries)
            others = sum(self.secondaries.get(u.sys, 0) for u in primaries)
            wait = self.conf.hostsync if others or not known else 0
            who = f"{others} other upsmon login(s) seen on upsd now" if known else "secondaries unknown"
            self.say(f"waits for the secondaries to log out ({who}), at most HOSTSYNC {self.conf.hostsync} s", t)
            t += wait
        self.fire_timers(t)
        self.now = t
        self.say("\"Executing automatic power-fail shutdown\" -> syslog, wall")
        self.on_notice(NotifyType.SHUTDOWN, "")
        t += self.conf.finaldelay
        self.fire_timers(t)
        self.now = t
        if self.conf.powerdownflag:
            self.say(f"after FINALDELAY {self.conf.finaldelay} s: would write POWERDOWNFLAG {self.conf.powerdownflag}")
        else:
            self.say("no POWERDOWNFLAG: the UPS itself would not be told to power off at the end of the halt")
        self.say(f"would run SHUTDOWNCMD: {self.conf.shutdowncmd or '(none defined!)'}")
        if self.timers:
            self.say("upssched timers still pending when the host goes down: "
                     + ", ".join(f"{n} (at +{a:.0f}s)" for a, n in sorted(self.timers)))


# --- checks against the live system -------------------------------------------------------------------

def check_config(conf: UpsmonConf) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = [("warn", w) for w in conf.warnings]
    if not conf.monitors:
        out.append(("FAIL", "no MONITOR lines: upsmon watches nothing"))
    if conf.total_power < conf.minsupplies:
        out.append(("FAIL", f"power values add up to {conf.total_power}, below MINSUPPLIES {conf.minsupplies}: "
                            "upsmon refuses to start"))
    if conf.minsupplies == 0:
        out.append(("warn", "MINSUPPLIES 0: this host never shuts down"))
    if not conf.shutdowncmd:
        out.append(("FAIL", "no SHUTDOWNCMD: nothing would shut this host down"))
    else:
        first = (shlex.split(conf.shutdowncmd) or [""])[0]
        found = shutil.which(first) if not os.path.isabs(first) else (first if os.access(first, os.X_OK) else None)
        out.append(("ok", f"SHUTDOWNCMD program {first} found") if found else
                   ("FAIL", f"SHUTDOWNCMD program {first} not found or not executable"))
    if conf.notifycmd:
        first = (shlex.split(conf.notifycmd) or [""])[0]
        found = shutil.which(first) if not os.path.isabs(first) else (first if os.access(first, os.X_OK) else None)
        out.append(("ok", f"NOTIFYCMD program {first} found") if found else
                   ("warn", f"NOTIFYCMD program {first} not found or not executable"))
    if conf.powerdownflag:
        d = os.path.dirname(conf.powerdownflag) or "."
        out.append(("ok", f"POWERDOWNFLAG directory {d} is writable") if os.access(d, os.W_OK) else
                   ("warn", f"POWERDOWNFLAG directory {d} is not writable by this user"))
    return out


def check_upsd(mon: Monitor, conf: UpsmonConf) -> tuple[list[tuple[str, str]], str | None, int | None]:
    """Ask upsd what it can tell without changing anything; returns (checks, status, other logins)."""
    from pnut.libupsclient import core, errors
    from pnut.libupsclient.client import UpsClient
    out: list[tuple[str, str]] = []
    try:
        c = UpsClient(mon.host, mon.port, timeout=5, connect_timeout=5, tryssl=True, forcessl=bool(conf.forcessl))
    except errors.UpsClientError as exc:
        return [("FAIL", f"{mon.sys}: cannot reach upsd: {exc}")], None, None
    with c:
        try:
            status = c.get_var(mon.upsname, "ups.status")
            out.append(("ok", f"{mon.sys}: upsd answers, ups.status is \"{status}\""))
        except errors.UpsClientError as exc:
            out.append(("FAIL", f"{mon.sys}: cannot read ups.status: {exc}"))
            status = None
        try:
            logins = int(c.get("NUMLOGINS", mon.upsname)[2])
        except (errors.UpsClientError, IndexError, ValueError):
            logins = None
        replies = []
        for line in (f"USERNAME {mon.username}", f"PASSWORD {mon.password}", f"LOGIN {mon.upsname}"):
            try:
                replies.append(c.run(core.command(line, check=False)))
            except errors.UpsClientError as exc:
                replies.append(f"({exc})")
        if all(r.startswith("OK") for r in replies[1:]):
            out.append(("ok", f"{mon.sys}: login as {mon.username} accepted"))
            if mon.primary:
                r = c.run(core.command(f"PRIMARY {mon.upsname}", check=False))
                if not r.startswith("OK"):
                    r = c.run(core.command(f"MASTER {mon.upsname}", check=False))
                out.append(("ok", f"{mon.sys}: primary rights granted") if r.startswith("OK") else
                           ("FAIL", f"{mon.sys}: primary rights refused ({r}): FSD could not be raised"))
        else:
            out.append(("FAIL", f"{mon.sys}: login as {mon.username} refused ({' / '.join(replies)})"))
    others = None
    if logins is not None:
        # our own upsmon (if it runs) is one of them; the rest are secondaries (or other primaries)
        others = max(0, logins - 1)
        out.append(("ok", f"{mon.sys}: {logins} upsmon login(s) on upsd now"))
    return out, status, others


def load_upssched(conf: UpsmonConf) -> tuple[list[list[str]] | None, str | None]:
    if not conf.notifycmd or os.path.basename((shlex.split(conf.notifycmd) or [""])[0]) != "upssched":
        return None, None
    path = paths.conffile("upssched.conf")
    try:
        with open(path, encoding="latin-1") as f:
            text = f.read()
    except OSError:
        return [], None
    ats, cmdscript = [], None
    for line in iter_lines(text):
        w = line.words
        if len(w) >= 2 and w[0] == "CMDSCRIPT":
            cmdscript = w[1]
        elif len(w) >= 5 and w[0] == "AT":
            ats.append(w)
    return ats, cmdscript


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    import logging
    quiet = logging.getLogger("pnut")
    quiet.handlers[:] = [logging.NullHandler()]     # the report says it all; no stray log lines
    quiet.propagate = False
    opts, _rest = getopt(argv, "hf:u:l:ns", "pnut-rehearse")
    conffile, only, lb_after, offline, no_primary = None, None, 60.0, False, False
    for o, a in opts:
        if o in ("h", "?"):
            sys.stdout.write(USAGE)
            return 0 if o == "h" else 2
        if o == "f":
            conffile = a
        elif o == "u":
            only = a
        elif o == "l":
            try:
                lb_after = float(a or "")
            except ValueError:
                sys.stderr.write("pnut-rehearse: -l takes a number of seconds\n")
                return 2
        elif o == "n":
            offline = True
        elif o == "s":
            no_primary = True
    conffile = conffile or paths.conffile("upsmon.conf")
    try:
        conf = read_upsmon_conf(conffile)
    except Fatal as exc:
        sys.stderr.write(exc.message + "\n")
        return exc.status
    failing = [m.sys for m in conf.monitors if only is None or m.sys == only or m.upsname == only]
    if not failing:
        sys.stderr.write(f"pnut-rehearse: {only or 'no UPS'} is not MONITORed in {conffile}\n")
        return 1
    print(f"Rehearsing a power failure of {', '.join(failing)} with {conffile}.")
    print("Nothing is shut down and no command is run.\n")
    checks = check_config(conf)
    initial = {m.sys: "OL" for m in conf.monitors}
    rehearsal = Rehearsal(conf, failing, lb_after, no_primary)
    if not offline:
        for m in conf.monitors:
            got, status, others = check_upsd(m, conf)
            checks += got
            if status and m.sys not in failing:
                initial[m.sys] = status
            if others is not None:
                rehearsal.secondaries[m.sys] = others
    rehearsal.sched, rehearsal.cmdscript = load_upssched(conf)
    print("Checks:")
    for level, text in checks:
        print(f"  {level:4}  {text}")
    rehearsal.run(initial)
    print("\nWhat would happen (t = seconds after the mains fail):")
    for s in sorted(rehearsal.steps, key=lambda s: s.t):
        print(f"  t=+{s.t:6.1f}  {s.text}")
    failed = any(level == "FAIL" for level, _ in checks)
    print("\nResult: " + ("PROBLEMS FOUND - fix the FAIL lines above" if failed else "no problem found"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
