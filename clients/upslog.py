"""upslog: write one line of a UPS's status to a log file every few seconds (NUT's clients/upslog.c).

Usage:
  upslog -s <ups> -l <logfile> [-i <interval>] [-f <format>] [-p <pidbase>] [-u <user>] [-F | -B]
  upslog <ups> <logfile> <interval> [<format>...]
  upslog -h | -V

Options:
  -s <ups>       the UPS to watch, <upsname>[@<host>[:<port>]]
  -l <logfile>   the file to append to, or - for stdout (which also keeps upslog in the foreground)
  -i <interval>  seconds between lines [default: 30]
  -f <format>    the line format (see upslog(8))
  -p <pidbase>   PID file base name, or an absolute file name [default: upslog]
  -u <user>      the account to switch to when started as root
  -F             stay in the foreground even when logging to a file
  -B             go to the background even when logging to stdout
  -h             show NUT's help text
  -V             show the version
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from pnut.clients import cli
from pnut.clients.cli import VERSION, Exit

DEFAULT_LOGFORMAT = ("%TIME @Y@m@d @H@M@S% %VAR battery.charge% %VAR input.voltage% %VAR ups.load% "
                     "[%VAR ups.status%] %VAR ups.temperature% %VAR input.frequency%")
LARGEBUF = 4096         # upslog's line buffer: longer lines are cut

HELP = """\
UPS status logger.

usage: {prog} [OPTIONS]

  -f <format>\t- Log format.  See below for details.
\t\t- Use -f "<format>" so your shell doesn't break it up.
  -i <interval>\t- Time between updates, in seconds
  -l <logfile>\t- Log file name, or - for stdout (foreground by default)
  -F\t\t- stay foregrounded even if logging into a file
  -B\t\t- stay backgrounded even if logging to stdout
  -p <pidbase>  - Base name for PID file (defaults to "{prog}")
  -s <ups>\t- Monitor UPS <ups> - <upsname>@<host>[:<port>]
        \t- Example: -s myups@server
  -u <user>\t- Switch to <user> if started as root

Some valid format string escapes:
\t%% insert a single %
\t%TIME format% insert the time with strftime formatting
\t%HOST% insert the local hostname
\t%UPSHOST% insert the host of the ups being monitored
\t%PID% insert the pid of upslog
\t%VAR varname% insert the value of ups variable varname

format string defaults to:
{default}

See the upslog(8) man page for more information.
"""


# --- the format -----------------------------------------------------------------------------------------

@dataclass
class Piece:
    """One compiled element of the format: a keyword (HOST, VAR, ...) with its argument, or a literal."""

    kind: str                  # "literal" or one of KEYWORDS
    arg: str | None = None


KEYWORDS = ("HOST", "UPSHOST", "PID", "TIME", "VAR", "ETIME")     # NUT's order: first prefix match wins


def compile_format(fmt: str) -> list[Piece]:
    """Split a format into pieces as upslog's compile_format() does (quirks included)."""
    pieces: list[Piece] = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%":
            pieces.append(Piece("literal", ch))
            i += 1
            continue
        if fmt[i + 1:i + 2] == "%":
            pieces.append(Piece("literal", "%"))
            i += 2
            continue
        rest = fmt[i + 1:]
        end = rest.find("%")
        if end < 0:                      # no closing %: INVALID, then the rest is read as literals
            pieces.append(Piece("literal", "INVALID"))
            i += 1
            continue
        body = rest[:end]
        cmd, sep, arg = body.partition(" ")
        for name in KEYWORDS:
            if cmd[:len(name)].upper() == name:
                pieces.append(Piece(name, arg if sep else None))
                break
        else:
            pieces.append(Piece("literal", "INVALID"))
        i += len(body) + 2
    return pieces


def render(pieces: list[Piece], getvar: Callable[[str], str | None], upshost: str) -> str:
    """One log line (without its newline)."""
    out: list[str] = []
    for p in pieces:
        if p.kind == "literal":
            out.append(p.arg or "")
        elif p.kind == "HOST":
            out.append(socket.gethostname())
        elif p.kind == "UPSHOST":
            out.append(upshost)
        elif p.kind == "PID":
            out.append(str(os.getpid()))
        elif p.kind == "TIME":
            out.append(_strftime((p.arg or "").replace("@", "%")))
        elif p.kind == "ETIME":
            out.append(str(int(time.time())))
        elif p.kind == "VAR":
            if not p.arg or "." not in p.arg:
                out.append("INVALID")
            else:
                value = getvar(p.arg)
                out.append("NA" if value is None else value)
    return "".join(out)[:LARGEBUF - 1]


def _strftime(fmt: str) -> str:
    if not fmt:
        return ""
    try:
        return time.strftime(fmt, time.localtime())[:511]
    except ValueError:
        return ""


# --- the program ----------------------------------------------------------------------------------------

class _Wake(Exception):
    """Raised by a signal handler to cut the sleep between two lines short, as a signal interrupts sleep()."""


@dataclass
class Options:
    monhost: str | None = None
    logfn: str | None = None
    interval: int = 30
    logformat: str = DEFAULT_LOGFORMAT
    user: str | None = None
    pidbase: str | None = None
    foreground: int = -1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return cli.run_main(lambda: Upslog().run(args), argv is None)


class Upslog:
    def __init__(self) -> None:
        self.reopen_flag = 0
        self.exit_flag = 0
        self.sleeping = False
        self.logfile: object = None
        self.upsname = ""
        self.ups: object = None

    def _parse(self, argv: list[str], prog: str) -> Options:
        from pnut.conf import paths
        o = Options(user=paths.RUN_AS_USER, pidbase=prog)
        opts, args = cli.getopt(argv, "hs:l:i:f:u:Vp:FB", sys.argv[0])
        for opt, val in opts:
            if opt == "h":
                self._help(prog)
            elif opt == "s":
                o.monhost = val
            elif opt == "l":
                o.logfn = val
            elif opt == "i":
                o.interval = _atoi(val or "")
            elif opt == "f":
                o.logformat = val or ""
            elif opt == "u":
                o.user = val
            elif opt == "V":
                raise Exit(None, 0)
            elif opt == "p":
                o.pidbase = val
            elif opt == "F":
                o.foreground = 1
            elif opt == "B":
                o.foreground = 0
            # anything else (getopt already complained) is ignored, as NUT does
        if len(args) in (1, 2):
            self._help(prog)
        if len(args) >= 3:                  # the old form: <ups> <logfile> <interval> [<format words>...]
            o.monhost, o.logfn, o.interval = args[0], args[1], _atoi(args[2])
        if len(args) >= 4:
            o.logformat = "".join(w + " " for w in args[3:])[:LARGEBUF - 1]
        return o

    def _help(self, prog: str) -> None:
        sys.stdout.write(HELP.format(prog=prog, default=DEFAULT_LOGFORMAT))
        raise Exit(None, 0)

    def run(self, argv: list[str]) -> int:
        from pnut.conf import common, paths
        from pnut.libupsclient import core, errors
        from pnut.libupsclient.client import UpsClient

        prog = cli.progname()
        sys.stdout.write(f"Network UPS Tools {prog} {VERSION}\n")
        o = self._parse(argv, prog)
        if not o.monhost:
            raise Exit("No UPS defined for monitoring - use -s <system>")
        if not o.logfn:
            raise Exit("No filename defined for logging - use -l <file>")
        sys.stdout.write(f"logging status of {o.monhost} to {o.logfn} ({o.interval}s intervals)\n")
        try:
            self.upsname, host, port = core.splitname(o.monhost)
        except core.BadAddress as bad:
            if str(bad):
                sys.stderr.write(f"{bad}\n")
            raise Exit("Error: invalid UPS definition.  Required format: upsname[@hostname[:port]]\n") from None
        sys.stdout.flush()
        cli.upslogx_to_stderr()
        self.ups = ups = UpsClient(host, port, connect=False, tryssl=True)
        try:
            ups.connect()
        except errors.UpsClientError as exc:
            sys.stderr.write(f"Warning: initial connect failed: {exc}\n")
            sys.stderr.flush()
        ups.tryssl = False                  # NUT reconnects without TLS

        self.logfn = o.logfn
        if o.logfn == "-":
            self.logfile = sys.stdout
        else:
            try:
                self.logfile = open(o.logfn, "a")
            except OSError as exc:
                raise cli.fatal_with_errno(f"could not open logfile {o.logfn}", exc) from None
        try:
            pw = common.get_user_pwent(o.user or paths.RUN_AS_USER)
        except common.Fatal as exc:
            raise Exit(exc.message, exc.status) from None
        common.setup_logging(prog, stderr=True, syslog=True)
        import logging
        logging.raiseExceptions = False     # no syslog socket (containers) must not print a traceback
        foreground = o.foreground
        if foreground < 0:
            foreground = 1 if self.logfile is sys.stdout else 0
        if not foreground:
            sys.stdout.flush()
            common.background(prog)
        self._setup_signals()
        base = o.pidbase or prog
        common.writepid(base if base.startswith("/") else os.path.join(paths.pidpath(), base + ".pid"))
        try:
            common.become_user(pw)
        except common.Fatal as exc:
            raise Exit(exc.message, exc.status) from None
        pieces = compile_format(o.logformat)
        self._loop(pieces, o.interval, o.monhost)
        common.log.info("Signal %d: exiting", self.exit_flag)
        if self.logfile is not sys.stdout:
            self.logfile.close()        # type: ignore[attr-defined]
        ups.close()
        return 0

    def _setup_signals(self) -> None:
        def reopen(sig: int, _frame: object) -> None:
            self.reopen_flag = sig
            self._wake()

        def leave(sig: int, _frame: object) -> None:
            self.exit_flag = sig
            self._wake()

        signal.signal(signal.SIGHUP, reopen)
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
            signal.signal(sig, leave)
        signal.signal(signal.SIGUSR1, lambda _s, _f: self._wake())

    def _wake(self) -> None:
        if self.sleeping:
            self.sleeping = False
            raise _Wake()

    def _sleep(self, seconds: float) -> None:
        try:
            self.sleeping = True
            if not (self.exit_flag or self.reopen_flag):
                time.sleep(seconds)
        except _Wake:
            pass
        finally:
            self.sleeping = False

    def _getvar(self, var: str) -> str | None:
        from pnut.libupsclient import errors
        try:
            words = self.ups.get("VAR", self.upsname, var)        # type: ignore[attr-defined]
        except errors.UpsClientError:
            return None
        return str(words[3]) if len(words) > 3 else None

    def _loop(self, pieces: list[Piece], interval: int, monhost: str) -> None:
        from pnut.conf import common
        from pnut.libupsclient import errors
        ups = self.ups
        nextpoll = 0
        while self.exit_flag == 0:
            now = int(time.time())
            if nextpoll > now:
                self._sleep(nextpoll - now)
                nextpoll += interval
            else:
                nextpoll = now + interval
            if self.reopen_flag:
                common.log.info("Signal %d: reopening log file", self.reopen_flag)
                self._reopen()
                self.reopen_flag = 0
            if not ups.connected:                         # type: ignore[attr-defined]
                try:
                    ups.connect()                         # type: ignore[attr-defined]
                except errors.UpsClientError:
                    pass
            line = render(pieces, self._getvar, monhost)
            try:
                self.logfile.write(line + "\n")           # type: ignore[attr-defined]
                self.logfile.flush()                      # type: ignore[attr-defined]
            except (OSError, ValueError):
                pass
            if interval > 30:
                ups.close()                               # type: ignore[attr-defined]

    def _reopen(self) -> None:
        from pnut.conf import common
        if self.logfile is sys.stdout:
            common.log.info("logging to stdout")
            return
        self.logfile.close()                              # type: ignore[attr-defined]
        try:
            self.logfile = open(self.logfn, "a")
        except OSError as exc:
            raise cli.fatal_with_errno(f"could not reopen logfile {self.logfn}", exc) from None


def _atoi(text: str) -> int:
    from pnut.libupsclient.core import _strtol
    value = _strtol(text)
    return ((value + 2**31) % 2**32) - 2**31


if __name__ == "__main__":
    sys.exit(main())
