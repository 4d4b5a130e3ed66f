"""upsmon (clients/upsmon.c): watch UPSes through upsd, notify, and shut this host down safely.

Process model as NUT's: a privileged parent that does nothing but wait for one byte from its child and
then write POWERDOWNFLAG and run SHUTDOWNCMD; the child drops privileges and does all the monitoring
(`-p` keeps one root process).  The decision rules live in monitor.py, the wire in link.py.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass, field

from pnut.clients.cli import getopt
from pnut.conf import NUT_VERSION, paths
from pnut.conf.common import (
    Fatal,
    background,
    become_user,
    get_user_pwent,
    sendsignalfn,
    sendsignalpid,
    setup_logging,
    writepid,
)
from pnut.upsmon.config import UpsmonConf, read_upsmon_conf
from pnut.upsmon.link import Link, PollFailed
from pnut.upsmon.monitor import Decider, UpsState
from pnut.upsmon.notify import Notifier, NotifyType
from pnut.upsmon.push import Watch
from pnut.upsmon.shutdown import SHUTDOWN_BYTE, check_pdflag, clear_stale_pdflag, run_shutdowncmd, runparent, set_pdflag

log = logging.getLogger("pnut.upsmon")

USAGE = """\
Monitors UPS servers and may initiate shutdown if necessary.

Usage:
  upsmon [-D...] [-F | -B] [-K] [-p] [-u <user>] [-4 | -6] [-f <file>]
  upsmon -c <cmd> [-P <pid>]
  upsmon -h | -V

Options:
  -c <cmd>   send command to running process: fsd, reload or stop
  -P <pid>   send the signal above to specified PID (bypassing PID file)
  -D         raise debugging level (and stay foreground by default)
  -F         stay foregrounded even if no debugging is enabled
  -B         stay backgrounded even if debugging is bumped
  -h         display this help
  -K         checks POWERDOWNFLAG, sets exit code to 0 if set
  -p         always run privileged (disable privileged parent)
  -u <user>  run child as user <user> (ignored when using -p)
  -4         IPv4 only
  -6         IPv6 only
  -f <file>  read this configuration file instead of upsmon.conf
"""

OPTSTRING = "DFBhic:P:f:pu:VK46"
NOPARENT_INTERVAL = 120
FSD_SYNC_INTERVAL = 0.25


def help_text(prog: str) -> str:
    return (
        "Monitors UPS servers and may initiate shutdown if necessary.\n\n"
        f"usage: {prog} [OPTIONS]\n\n"
        "  -c <cmd>\tsend command to running process\n"
        "\t\tcommands:\n"
        "\t\t - fsd: shutdown all primary-mode UPSes (use with caution)\n"
        "\t\t - reload: reread configuration\n"
        "\t\t - stop: stop monitoring and exit\n"
        "  -P <pid>\tsend the signal above to specified PID (bypassing PID file)\n"
        "  -D\t\traise debugging level (and stay foreground by default)\n"
        "  -F\t\tstay foregrounded even if no debugging is enabled\n"
        "  -B\t\tstay backgrounded even if debugging is bumped\n"
        "  -h\t\tdisplay this help\n"
        "  -K\t\tchecks POWERDOWNFLAG, sets exit code to 0 if set\n"
        "  -p\t\talways run privileged (disable privileged parent)\n"
        "  -u <user>\trun child as user <user> (ignored when using -p)\n"
        "  -4\t\tIPv4 only\n"
        "  -6\t\tIPv6 only\n")


class ShutdownDone(Exception):
    """Raised once the shutdown has been handed over: the monitor leaves with status 0."""


# --- the monitor ----------------------------------------------------------------------------------------

@dataclass
class Upsmon:
    conf: UpsmonConf
    conffile: str
    parent: socket.socket | None = None        # None = one big process (-p)
    clock: object = time.monotonic
    push: bool = True
    notifier: Notifier = field(init=False)
    decider: Decider = field(init=False)
    links: dict[str, Link] = field(init=False)
    watches: dict[str, Watch] = field(init=False)
    exit_signal: int = 0
    reload_flag: bool = False
    userfsd: bool = False
    last_noparent: float = float("-inf")
    _wake_r: int = -1

    def __post_init__(self) -> None:
        self.notifier = Notifier(self.conf.notifycmd, dict(self.conf.notifymsg), dict(self.conf.notifyflag))
        self.decider = Decider(self.conf, self.notifier.notify)
        self.links = {u.sys: Link(u.mon, self.conf) for u in self.decider.upses}
        self.watches = {u.sys: Watch(u.mon) for u in self.decider.upses}

    def now(self) -> float:
        """Whole seconds, as NUT's time_t: the rules compare with `>`, and 2.8.0's timing is reproduced
        to the second (e.g. NOCOMMWARNTIME 1 repeats every 2 s, not every 1.01 s)."""
        return float(int(self.clock()))   # type: ignore[operator]

    def mono(self) -> float:
        return self.clock()               # type: ignore[operator,no-any-return]

    # signals: flags only; the loop acts on them at the top of its next pass (as NUT)
    def install_signals(self) -> None:
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        self._wake_r = r
        signal.signal(signal.SIGHUP, self._on_hup)
        signal.signal(signal.SIGUSR1, self._on_usr1)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, self._on_exit)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    def _on_hup(self, signum: int, frame: object) -> None:
        self.reload_flag = True

    def _on_usr1(self, signum: int, frame: object) -> None:
        log.info("Signal %d: User requested FSD", signum)
        self.userfsd = True

    def _on_exit(self, signum: int, frame: object) -> None:
        self.exit_signal = signum

    def run(self) -> int:
        try:
            while not self.exit_signal:
                try:
                    self.one_pass()
                except (ShutdownDone, Fatal):
                    raise
                except Exception as exc:             # NUT's loop cannot die of a bug; neither may this one
                    log.error("Monitoring pass failed - internal error: %r", exc)
                    log.debug("details", exc_info=True)
                if self.exit_signal:
                    break
                self.sleep(self.decider.sleepval)
        except ShutdownDone:
            self.close_all()
            return 0
        log.info("Signal %d: exiting", self.exit_signal)
        self.close_all()
        return 0

    def one_pass(self) -> None:
        if self.userfsd:
            self.forceshutdown()
        if self.reload_flag:
            self.reload_flag = False
            try:
                self.reload()
            except Fatal:
                raise                                # an impossible power configuration ends upsmon (as NUT)
            except Exception as exc:                 # a bug in reloading must not end the watch
                log.error("Reload failed - internal error: %r; keeping the old configuration", exc)
                log.debug("details", exc_info=True)
        for ups in self.decider.upses:
            try:
                self.pollups(ups)
            except ShutdownDone:
                raise
            except Exception as exc:             # a bug here must not stop the watch on the others
                log.error("Poll UPS [%s] failed - internal error: %r", ups.sys, exc)
                log.debug("details", exc_info=True)
                self.decider.gone(ups, self.now())
        try:
            verdict = self.decider.must_shutdown(self.now())
        except Exception as exc:
            log.error("recalc: internal error: %r", exc)
            log.debug("details", exc_info=True)
            verdict = False
        if verdict:
            self.forceshutdown()
        self.check_parent()
        self.notifier.reap()

    def pollups(self, ups: UpsState) -> None:
        link = self.links[ups.sys]
        if not link.connected:
            self.watches[ups.sys].stop()
            if not link.connect():
                if not link.connected:
                    self.decider.gone(ups, self.now())
                return
        try:
            status = link.poll()
        except PollFailed as failed:
            self.decider.gone(ups, self.now())
            if failed.dropped:
                link.close()
                self.decider.dropped(ups)
            return
        alarm = None
        if "ALARM" in status.upper().split():
            try:                # a later release's extra query: it must never keep ups.status from counting
                alarm = link.alarm()
            except Exception as exc:
                log.error("UPS [%s]: reading ups.alarm failed - internal error: %r", ups.sys, exc)
        self.decider.status(ups, status, self.now(), alarm)
        if self.push and not self.conf.forcessl:
            try:                # the fast path is optional: its failure is not a failed poll
                self.watches[ups.sys].start()
            except Exception as exc:
                log.debug("UPS [%s]: watch failed: %r", ups.sys, exc)

    def sleep(self, seconds: float) -> None:
        """Wait for the next pass; a signal or a pushed status change ends the wait early."""
        deadline = self.mono() + seconds
        while not (self.exit_signal or self.reload_flag or self.userfsd):
            left = deadline - self.mono()
            if left <= 0:
                return
            fds: list[Watch | int] = [w for w in self.watches.values() if w.active]
            if self._wake_r >= 0:
                fds.append(self._wake_r)
            try:
                ready, _, _ = select.select(fds, [], [], left)
            except InterruptedError:
                continue
            woke = False
            for f in ready:
                if isinstance(f, Watch):
                    woke = f.drain() or woke
                else:
                    try:
                        os.read(self._wake_r, 512)
                    except OSError:
                        pass
            if woke:
                return

    def check_parent(self) -> None:
        if self.parent is None:
            return
        try:
            ready, _, _ = select.select([self.parent], [], [], 0)
            dead = bool(ready) and self.parent.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            dead = True
        if not dead:
            return
        now = self.now()
        if now - self.last_noparent > NOPARENT_INTERVAL:
            self.notifier.notify(NotifyType.NOPARENT)
            self.last_noparent = now
        log.error("Parent died - shutdown impossible")

    # --- shutting down --------------------------------------------------------------------------------

    def forceshutdown(self) -> None:
        """Raise FSD on every UPS we are primary for, give the secondaries up to HOSTSYNC to log out,
        then shut down.  Whatever fails on the way, the shutdown itself still happens."""
        try:
            primaries = [self.links[u.sys] for u in self.decider.upses if u.primary]
            log.debug("Shutting down any UPSes in PRIMARY mode...")
            for link in primaries:
                link.set_fsd()
            if primaries:
                self.sync_secondaries(primaries)
        except Exception as exc:
            log.error("forceshutdown: internal error (%r); shutting down anyway", exc)
        self.doshutdown()

    def sync_secondaries(self, primaries: list[Link]) -> None:
        start = self.mono()
        while True:
            counts = [n for n in (link.numlogins() for link in primaries) if n is not None]
            if max(counts, default=0) <= 1:
                return
            if self.mono() - start > self.conf.hostsync:
                log.warning("Host sync timer expired, forcing shutdown")
                return
            time.sleep(FSD_SYNC_INTERVAL)

    def doshutdown(self) -> None:
        log.critical("Executing automatic power-fail shutdown")
        try:                    # the notices are a courtesy: nothing they do may stop SHUTDOWNCMD
            self.notifier._spawn(["wall"], stdin="Executing automatic power-fail shutdown\n")
            self.notifier.notify(NotifyType.SHUTDOWN)
        except Exception as exc:
            log.error("doshutdown: notification failed (%r); shutting down anyway", exc)
        time.sleep(max(0, self.conf.finaldelay))
        if self.parent is not None:
            try:
                self.parent.sendall(SHUTDOWN_BYTE)
            except OSError:
                log.error("Unable to call parent pipe for shutdown")
                # NUT 2.8.0 gives up here.  Trying SHUTDOWNCMD ourselves costs nothing and may work
                # (RUN_AS_USER root, or a sudo rule in SHUTDOWNCMD); the shutdown is not lost for sure.
                if os.geteuid() != 0:
                    log.warning("Not root, shutdown may fail")
                set_pdflag(self.conf.powerdownflag)
                run_shutdowncmd(self.conf.shutdowncmd)
            else:
                # Stay logged in until the parent has run SHUTDOWNCMD (it closes its end then), so a
                # primary waiting on NUMLOGINS never outruns this host's shutdown.
                self.parent.settimeout(max(5, self.conf.hostsync))
                try:
                    self.parent.recv(1)
                except OSError:
                    pass
        else:
            if os.geteuid() != 0:
                log.warning("Not root, shutdown may fail")
            set_pdflag(self.conf.powerdownflag)
            run_shutdowncmd(self.conf.shutdowncmd)
        raise ShutdownDone

    # --- reload ---------------------------------------------------------------------------------------

    def reload(self) -> None:
        log.info("Reloading configuration")
        try:
            new = read_upsmon_conf(self.conffile)
        except Fatal as exc:
            log.error("Reload failed: %s", exc.message.replace("Can't open", "can't open"))
            return
        for w in new.warnings:
            log.warning("%s", w)
        old = self.conf
        if self.parent is not None:
            for key, attr in (("SHUTDOWNCMD", "shutdowncmd"), ("POWERDOWNFLAG", "powerdownflag")):
                if getattr(new, attr) != getattr(old, attr):
                    log.warning("Warning: %s redefined in split-process mode!", key)
                    log.warning("You must restart upsmon for this change to work")
                    setattr(new, attr, getattr(old, attr))
        if new.total_power < new.minsupplies:
            log.critical("Fatal error: total power value (%d) less than MINSUPPLIES (%d)",
                         new.total_power, new.minsupplies)
            raise Fatal("Impossible power configuration, unable to continue")
        # NOTIFYMSG/NOTIFYFLAG left out of the new file keep their old values (as NUT)
        new.notifymsg = {**old.notifymsg, **new.notifymsg}
        new.notifyflag = {**old.notifyflag, **new.notifyflag}
        states = {u.sys: u for u in self.decider.upses}
        upses: list[UpsState] = []
        for mon in new.monitors:
            st = states.pop(mon.sys, None)
            if st is None:
                st = UpsState(mon)
                self.links[mon.sys] = Link(mon, new)
                self.watches[mon.sys] = Watch(mon)
                upses.append(st)
                continue
            prev = st.mon
            if prev.powervalue != mon.powervalue:
                log.info("UPS [%s]: redefined power value to %d", mon.sys, mon.powervalue)
            if prev.username != mon.username:
                log.info("UPS [%s]: redefined username", mon.sys)
            if prev.password != mon.password:
                log.info("UPS [%s]: redefined password", mon.sys)
            link = self.links[mon.sys]
            if prev.primary != mon.primary:
                log.info("UPS [%s]: redefined as a %s", mon.sys, "primary" if mon.primary else "secondary")
                link.close()
            elif (prev.username, prev.password) != (mon.username, mon.password) and not link.logged_in:
                link.close()
            st.mon = link.mon = mon
            link.conf = new
            self.watches[mon.sys].reset()
            upses.append(st)
        for sysname in states:
            log.info("No longer monitoring UPS [%s]", sysname)
            self.links.pop(sysname).close()
            self.watches.pop(sysname).stop()
        self.conf = new
        self.decider.conf = new
        self.decider.upses = upses
        self.notifier.notifycmd = new.notifycmd
        self.notifier.messages = dict(new.notifymsg)
        self.notifier.flags = dict(new.notifyflag)

    def close_all(self) -> None:
        for w in self.watches.values():
            w.stop()
        for link in self.links.values():
            link.close()


# --- the program ----------------------------------------------------------------------------------------

def _describe(conf: UpsmonConf) -> None:
    """What NUT logs while reading the file: each MONITOR line and each complaint, in file order."""
    for level, text in conf.notes:
        getattr(log, level)("%s", text)
    if conf.powerdownflag:
        log.info("Using power down flag file %s", conf.powerdownflag)


def _signal_command(cmd: str, pid: str | None, pidfn: str) -> int:
    sigs = {"fsd": signal.SIGUSR1, "stop": signal.SIGTERM, "reload": signal.SIGHUP}
    sig = next((s for name, s in sigs.items() if cmd and name.startswith(cmd)), None)
    if sig is None:
        return -1
    if pid is not None:
        try:
            n = int(pid)
        except ValueError:
            n = 0
        return 0 if sendsignalpid(n, sig) == 0 else 1
    return 0 if sendsignalfn(pidfn, sig) == 0 else 1


def _already_running(pidfn: str) -> bool:
    """NUT's start-up probe: signal 0 to the PID in the PID file."""
    ret = sendsignalfn(pidfn, 0)
    if ret in (-2, -3):
        log.warning("Could not %s PID file to see if previous upsmon instance is already running!",
                    "find" if ret == -3 else "parse")
    return ret == 0


def main(argv: list[str] | None = None) -> int:
    prog = sys.argv[0] if argv is None else "upsmon"
    argv = sys.argv[1:] if argv is None else argv
    base = os.path.basename(prog)
    print(f"Network UPS Tools {base} {NUT_VERSION}", flush=True)
    opts, _rest = getopt(argv, OPTSTRING, prog)
    debug, foreground, background_forced, check_k, one_process = 0, False, False, False, False
    cmd = pid = user = conffile = None
    for o, a in opts:
        if o in ("h", "?", "i"):
            sys.stdout.write(help_text(prog))
            return 0
        if o == "V":
            return 0
        if o == "D":
            debug += 1
        elif o == "F":
            foreground = True
        elif o == "B":
            background_forced = True
        elif o == "K":
            check_k = True
        elif o == "p":
            one_process = True
        elif o == "c":
            cmd = a
        elif o == "P":
            pid = a
        elif o == "u":
            user = a
        elif o == "f":
            conffile = a
    setup_logging("upsmon", debug)
    pidfn = os.path.join(paths.pidpath(), base + ".pid")
    if cmd is not None:
        rc = _signal_command(cmd, pid, pidfn)
        if rc < 0:
            sys.stdout.write(help_text(prog))
            return 0
        return rc
    conffile = conffile or paths.conffile("upsmon.conf")
    try:
        return _run(conffile, pidfn, debug=debug, foreground=(foreground or debug > 0) and not background_forced,
                    check_k=check_k, one_process=one_process, user=user)
    except Fatal as exc:
        sys.stderr.write(exc.message + "\n")
        return exc.status
    except KeyboardInterrupt:
        return 0


def _preload() -> None:
    """Import now what the monitor may need later: once it runs as RUN_AS_USER, the interpreter's own
    files may be out of its reach (a Python installed under /root), and a lazy import failing then would
    stop polling.  encodings.idna is what socket.getaddrinfo() loads on first use."""
    import codecs
    import encodings.idna  # noqa: F401
    import ssl  # noqa: F401
    for name in ("idna", "latin-1", "utf-8", "ascii"):     # reading upsmon.conf again on reload, names
        codecs.lookup(name)


def _run(conffile: str, pidfn: str, *, debug: int, foreground: bool, check_k: bool, one_process: bool,
         user: str | None) -> int:
    # NUT 2.8.0 runs this probe before -K too; pnut does not, so a leftover PID file can never make the
    # halt script's `upsmon -K` fail and cost the UPS its power-off.
    if not check_k and _already_running(pidfn):
        print("Fatal error: A previous upsmon instance is already running!")
        print("Either stop the previous instance first, or use the 'reload' command.")
        return 1
    conf = read_upsmon_conf(conffile)
    _describe(conf)
    if check_k:
        return check_pdflag(conf.powerdownflag)
    if conf.debug_min is not None and conf.debug_min > debug:
        setup_logging("upsmon", conf.debug_min)
    if not conf.shutdowncmd:
        print("Warning: no shutdown command defined!", flush=True)
    clear_stale_pdflag(conf)
    if conf.total_power < conf.minsupplies:
        sys.stdout.write("\nFatal error: insufficient power configured!\n\n"
                         f"Sum of power values........: {conf.total_power}\n"
                         f"Minimum value (MINSUPPLIES): {conf.minsupplies}\n\n"
                         "Edit your upsmon.conf and change the values.\n")
        return 1
    if not foreground:
        background("upsmon")
    parent_sock: socket.socket | None = None
    if one_process:
        log.warning("Warning: running as one big root process by request (upsmon -p)")
    else:
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        child = os.fork()
        if child:
            child_sock.close()
            return runparent(parent_sock, conf)
        parent_sock.close()
        parent_sock = child_sock
    writepid(pidfn)
    _preload()
    if not one_process:
        run_as = conf.run_as_user or user or paths.RUN_AS_USER
        try:
            become_user(get_user_pwent(run_as))
        except Fatal as exc:
            log.error("%s", exc.message)
            return exc.status
    mon = Upsmon(conf, conffile, parent=parent_sock)
    mon.install_signals()
    return mon.run()


if __name__ == "__main__":
    sys.exit(main())
