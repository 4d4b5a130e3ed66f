"""upsdrvctl (drivers/upsdrvctl.c): start, stop and shut down the drivers that ups.conf lists.

Output, messages and exit statuses are those of NUT 2.8.0's /sbin/upsdrvctl.  A few behaviours come from later NUT
releases because 2.8.0 is wrong or incomplete there; each is marked "later NUT" below and listed in upsdrvctl(8).

Where drivers come from: with a `driverpath` in ups.conf, `<driverpath>/<driver>` is executed, exactly as NUT
does (point it at /lib/nut to run NUT's own drivers).  Without one, pnut's own driver programs are used: the
console script named after the driver, looked up beside the running interpreter and then on PATH.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pnut.conf import NUT_VERSION, paths
from pnut.conf.common import Fatal, setup_logging, upsdebugx
from pnut.conf.getopt import GetOpt
from pnut.conf.upsconf import ConfError, UpsConf, read_upsconf

log = logging.getLogger(__name__)

BANNER = f"Network UPS Tools - UPS driver controller {NUT_VERSION}\n"
TESTMODE_NOTE = "*** Testing mode: not calling exec/kill\n"

HELP = """\
Starts and stops UPS drivers via ups.conf.

usage: {prog} [OPTIONS] (start | stop | shutdown) [<ups>]

  -h\t\t\tdisplay this help
  -r <path>\t\tdrivers will chroot to <path>
  -t\t\t\ttesting mode - prints actions without doing them
  -u <user>\t\tdrivers started will switch from root to <user>
  -D            \traise debugging level
  -d            \tpass debugging level from upsdrvctl to driver
  start\t\t\tstart all UPS drivers in ups.conf
  start\t<ups>\t\tonly start driver for UPS <ups>
  stop\t\t\tstop all UPS drivers in ups.conf
  stop <ups>\t\tonly stop driver for UPS <ups>
  shutdown\t\tshutdown all UPS drivers in ups.conf
  shutdown <ups>\tonly shutdown UPS <ups>
"""
# The help text is 2.8.0's, byte for byte; -F, -B and -c (later NUT) are described in upsdrvctl(8) only.

DEBUG_EXPLANATION = """
If you're not a NUT core developer, chances are that you're told to enable debugging
to see why a driver isn't working for you. We're sorry for the confusion, but this is
the 'upsdrvctl' wrapper, not the driver you're interested in.

Below you'll find one or more lines starting with 'exec:' followed by an absolute
path to the driver binary and some command line option. This is what the driver
starts and you need to copy and paste that line and append the debug flags to that
line (less the 'exec:' prefix).

Alternately, provide an additional '-d' (lower-case) parameter to 'upsdrvctl' to
pass its current debug level to the launched driver.
"""

OPTSTRING = "+htu:r:DdVFBc:"

# -c commands of later NUT, tried in this order with prefix matching (as NUT's strncmp does).  An exact name
# wins first: NUT takes `-c reload` for reload-or-error, which contradicts its own documentation.
SIGNAL_COMMANDS: list[tuple[str, int | None]] = [
    ("reload-or-error", None),          # not signals: asked over the driver's socket as INSTCMD driver.<name>
    ("exit", None),
    ("dump", signal.SIGURG),
    ("data-dump", signal.SIGURG),
    ("reload", signal.SIGHUP),
    ("reload-or-exit", signal.SIGUSR1),
]

STOP_WAIT = 5           # seconds to wait after SIGTERM, and again after SIGKILL (later NUT)
SOCKET_TIMEOUT = 15.0   # reload-or-error dialog with a running driver (later NUT)


@dataclass
class UpsEntry:
    """One ups.conf section as upsdrvctl sees it; -1 means "use the global value"."""

    name: str
    driver: str | None = None
    port: str | None = None
    sdorder: int = 0
    maxstartdelay: int = -1
    maxretry: int = -1
    retrydelay: int = -1


@dataclass
class Settings:
    """ups.conf globals read by upsdrvctl."""

    maxstartdelay: int = 45
    maxretry: int = 1
    retrydelay: int = 5
    driverpath: str | None = None      # None: pnut's own driver programs
    nowait: bool = False


@dataclass
class Options:
    testmode: bool = False
    debug: int = 0
    debug_passthrough: bool = False
    root: str | None = None
    user: str | None = None
    foreground: int = -1               # -1 default, 0 -B, 1 -F, 2 -FF
    signal_name: str | None = None     # -c command as typed
    signal_cmd: tuple[str, int | None] | None = None


def atoi(text: str | None) -> int:
    """C's atoi(): optional sign and leading digits, anything else gives 0."""
    s = (text or "").lstrip(" \t\n\r\v\f")
    n = 0
    i = 1 if s[:1] in ("+", "-") else 0
    start = i
    while i < len(s) and s[i].isdigit():
        i += 1
    if i > start:
        n = int(s[start:i])
    return -n if s[:1] == "-" else n


def load_table(conf: UpsConf) -> tuple[Settings, list[UpsEntry]]:
    """Globals and sections, in file order.  A section without any directive is not a UPS (as in NUT)."""
    st = Settings()
    for d in conf.globals:
        if d.key == "nowait":
            if os.environ.get("NUT_IGNORE_NOWAIT") == "true":     # later NUT
                upsdebugx(0, "NOTE: 'nowait' setting ignored due to NUT_IGNORE_NOWAIT envvar")
            else:
                st.nowait = True
        if d.value is None:
            continue
        if d.key == "maxstartdelay":
            st.maxstartdelay = atoi(d.value)
        elif d.key == "driverpath":
            st.driverpath = d.value
        elif d.key == "maxretry":
            st.maxretry = atoi(d.value)
        elif d.key == "retrydelay":
            st.retrydelay = atoi(d.value)
    table = []
    for name, directives in conf.sections.items():
        if not directives:
            continue
        ups = UpsEntry(name)
        # NUT 2.8.0 drops sdorder/maxstartdelay when they are a section's very first line; pnut reads every line.
        for d in directives:
            if d.value is None:
                continue
            if d.key == "driver":
                ups.driver = d.value
            elif d.key == "port":
                ups.port = d.value
            elif d.key == "sdorder":
                ups.sdorder = atoi(d.value)
            elif d.key == "maxstartdelay":
                ups.maxstartdelay = atoi(d.value)
            elif d.key == "maxretry":               # per-UPS retries: later NUT
                ups.maxretry = atoi(d.value)
            elif d.key == "retrydelay":
                ups.retrydelay = atoi(d.value)
        table.append(ups)
    return st, table


def own_driver_dir() -> str:
    """Where pnut's console scripts live: beside the interpreter running us."""
    return os.path.dirname(sys.executable) or "."


def driver_path(settings: Settings, driver: str | None) -> str:
    """The program to execute for `driver`: NUT's `<driverpath>/<driver>`, else pnut's own script."""
    name = "(null)" if driver is None else driver          # what NUT prints for a section without driver
    if settings.driverpath is not None:
        return f"{settings.driverpath}/{name}"
    local = os.path.join(own_driver_dir(), name)
    if driver is not None and "/" not in driver and not os.path.exists(local):
        found = shutil.which(driver)
        if found:
            return found
    return local


class Controller:
    """The work of one upsdrvctl run; `errors` counts what NUT's exec_error counts."""

    def __init__(self, opts: Options, settings: Settings, table: list[UpsEntry]):
        self.opts = opts
        self.settings = settings
        self.table = table
        self.errors = 0
        self.children: dict[str, subprocess.Popen] = {}     # drivers kept in the foreground (-F)
        self.single = False

    # -- dispatch ---------------------------------------------------------------------------

    def send_all(self, command: Callable[[UpsEntry], None]) -> None:
        if not self.table:
            raise Fatal("Error: no UPS definitions found in ups.conf")
        if command != self.shutdown_driver:
            if command == self.start_driver and len(self.table) > 1 and self._no_wait_mode():
                fg = self.opts.foreground > 0
                log.warning("Starting \"all\" drivers but requested the %s!This request will not wait for "
                            "driver(s) to complete their initialization%s.",
                            "foreground mode" if fg else "debug mode without backgrounding",
                            ", but upsdrvctl tool will stay foregrounded" if fg else "")
            for ups in self.table:
                command(ups)
            return
        # Shut down by sdorder: every 0, then every 1, ... up to the largest; negative orders never.
        top = max((u.sdorder for u in self.table), default=0)
        for order in range(top + 1):
            for ups in self.table:
                if ups.sdorder == order:
                    command(ups)

    def send_one(self, command: Callable[[UpsEntry], None], name: str) -> None:
        if not self.table:
            raise Fatal("Error: no UPS definitions found in ups.conf!\n")
        self.single = True
        for ups in self.table:
            if ups.name == name:
                command(ups)
                return
        raise Fatal(f"UPS {name} not found in ups.conf")

    # -- start / shutdown -------------------------------------------------------------------

    def _no_wait_mode(self) -> bool:
        o = self.opts
        return o.foreground > 0 or (o.foreground != 0 and o.debug > 0 and o.debug_passthrough)

    def start_driver(self, ups: UpsEntry) -> None:
        _dbg(1, "Starting UPS: %s", ups.name)
        path = driver_path(self.settings, ups.driver)
        try:
            os.stat(path)
        except OSError as e:
            raise Fatal(f"Can't start {path}: {e.strerror}") from None
        argv = [path]
        if self.opts.debug_passthrough and self.opts.debug > 0:
            argv.append("-" + "D" * self.opts.debug)
        if self.opts.foreground >= 0:
            argv.append(("-B", "-F", "-FF")[self.opts.foreground])
        argv += ["-a", ups.name] + self._passthrough()
        attempts = ups.maxretry if ups.maxretry >= 0 else self.settings.maxretry
        delay = ups.retrydelay if ups.retrydelay >= 0 else self.settings.retrydelay
        initial = self.errors
        while attempts > 0:
            before = self.errors
            _dbg(2, "%i remaining attempts", attempts)
            _dbg(2, "%s", "exec: " + "".join(" " + a for a in argv))
            attempts -= 1
            if not self.opts.testmode:
                self._forkexec(argv, ups)
            if self.errors == before:
                self.errors = initial       # a later success forgives earlier failed attempts
                return
            if attempts > 0 and delay >= 0:
                time.sleep(delay)

    def shutdown_driver(self, ups: UpsEntry) -> None:
        _dbg(1, "Shutdown UPS: %s", ups.name)
        argv = [driver_path(self.settings, ups.driver), "-a", ups.name, "-k"] + self._passthrough()
        _dbg(2, "%s", "exec: " + "".join(" " + a for a in argv))
        if not self.opts.testmode:
            self._forkexec(argv, ups, shutdown=True)

    def _passthrough(self) -> list[str]:
        args = []
        if self.opts.root:
            args += ["-r", self.opts.root]
        if self.opts.user:
            args += ["-u", self.opts.user]
        return args

    def _forkexec(self, argv: list[str], ups: UpsEntry, shutdown: bool = False) -> None:
        fg = self.opts.foreground > 0 and not shutdown
        if fg and self.single:
            # later NUT: the one driver asked for in the foreground simply replaces upsdrvctl
            _dbg(1, "Starting the only driver with explicitly requested foregrounding mode, not forking")
            _out.flush()
            try:
                os.execv(argv[0], argv)
            except OSError as e:
                raise Fatal(f"execv: {e.strerror}") from None
        try:
            child = subprocess.Popen(argv, close_fds=False)
        except OSError as e:
            # NUT's forked child reports the failed exec and exits 1; the parent then sees status 1.  On its
            # way out the child also flushes its copy of the parent's unwritten stdout (the banner, when
            # stdout is not a terminal): reproduced so that piped output matches NUT's byte for byte.
            log.error("execv: %s", e.strerror)
            _replay_pending_stdout()
            log.warning("Driver failed to start (exit status=%d)", 1)
            self.errors += 1
            return
        if self.settings.nowait and not shutdown:
            _dbg(2, "'nowait' set, continuing...")
            return
        if fg:
            self.children[ups.name] = child
            _dbg(1, "Starting driver with explicitly requested foregrounding mode: will not wait for it to "
                    "fork and detach, continuing...")
            return
        if not shutdown and self._no_wait_mode():
            # later NUT: a driver told to debug without -B stays in the foreground; don't wait for it
            _dbg(2, "Starting driver with debug but without explicit backgrounding: will not wait for it "
                    "to fork and detach, continuing...")
            return
        delay = ups.maxstartdelay if ups.maxstartdelay != -1 else self.settings.maxstartdelay
        try:
            status = child.wait(delay if delay > 0 else None)
        except subprocess.TimeoutExpired:
            log.warning("Startup timer elapsed, continuing...")
            self.errors += 1
            return
        if status < 0:
            log.warning("Driver exited abnormally")
            self.errors += 1
        elif status > 0:
            log.warning("Driver failed to start (exit status=%d)", status)
            self.errors += 1

    # -- stop / signal ----------------------------------------------------------------------

    def _pidfile(self, ups: UpsEntry) -> str | None:
        """<altpidpath>/<driver>-<ups>.pid, else the old <driver>-<basename(port)>.pid; None (logged) if neither."""
        driver = "(null)" if ups.driver is None else ups.driver
        pidfn = f"{paths.altpidpath()}/{driver}-{ups.name}.pid"
        try:
            os.stat(pidfn)
            return pidfn
        except OSError as e:
            err = e
        if ups.port is not None:
            _errno.failed(err)
            log.error("Can't open %s: %s", pidfn, err.strerror)
            pidfn = f"{paths.altpidpath()}/{driver}-{os.path.basename(ups.port)}.pid"
            try:
                os.stat(pidfn)
                return pidfn
            except OSError as e:
                err = e
        _errno.failed(err)
        log.error("Can't open %s either: %s", pidfn, err.strerror)
        self.errors += 1
        return None

    def stop_driver(self, ups: UpsEntry) -> None:
        _dbg(1, "Stopping UPS: %s", ups.name)
        pidfn = self._pidfile(ups)
        if pidfn is None:
            return
        _dbg(2, "Sending signal to %s", pidfn)
        if self.opts.testmode:
            return
        pid = signal_pidfile(pidfn, signal.SIGTERM)
        if pid is None:
            log.error("Stopping %s failed: %s", pidfn, _errno.text)
            self.errors += 1
            return
        # later NUT: wait until the driver is gone, and kill it if it will not go
        if _wait_gone(pid, STOP_WAIT):
            return
        log.error("Stopping %s failed, retrying harder", pidfn)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            return
        if _wait_gone(pid, STOP_WAIT):
            try:
                os.unlink(pidfn)            # a killed driver leaves its PID file behind
            except OSError:
                pass
            return
        log.error("Stopping %s failed", pidfn)
        self.errors += 1

    def signal_driver(self, ups: UpsEntry) -> None:
        assert self.opts.signal_cmd is not None
        name, sig = self.opts.signal_cmd
        if sig is None:
            self._socket_command(ups, name)
            return
        _dbg(1, "Signalling UPS [%s]: %d (%s)", ups.name, sig, signal.strsignal(sig))
        pidfn = self._pidfile(ups)
        if pidfn is None:
            return
        _dbg(2, "Sending signal to %s", pidfn)
        if self.opts.testmode:
            return
        pid = signal_pidfile(pidfn, sig)
        if pid is None:
            log.error("Signalling %s failed: %s", pidfn, _errno.text)
            self.errors += 1

    def _socket_command(self, ups: UpsEntry, name: str) -> None:
        """`-c reload-or-error` and `-c exit` are instant commands sent over the driver's socket."""
        _dbg(1, "Signalling UPS [%s]: %s", ups.name, f"driver.{name}")
        if self.opts.testmode:
            return
        sockfn = os.path.join(paths.statepath(), f"{ups.driver}-{ups.name}")
        track = str(uuid.uuid4()).upper()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(SOCKET_TIMEOUT)
                s.connect(sockfn)
                s.sendall(f"INSTCMD driver.{name} TRACKING {track}\n".encode())
                rc = _read_tracking(s, track)
        except OSError as e:
            log.error("Socket dialog with the other driver instance: %s", e.strerror or e)
            self.errors += 1
            return
        log.info("Request to %s returned code %d", name, rc)
        if rc != 0:
            self.errors += 1

    # -- foreground (-F) --------------------------------------------------------------------

    def supervise(self) -> None:
        """later NUT: with -F and several drivers, stay in the foreground while they run; pass SIGHUP,
        SIGUSR1 and SIGURG on to them, and stop them when told to exit."""
        stop = []

        def relay(sig: int, _frame: object) -> None:
            for child in self.children.values():
                if child.poll() is None:
                    child.send_signal(sig)

        def ask_exit(sig: int, _frame: object) -> None:
            stop.append(sig)

        for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGURG):
            signal.signal(sig, relay)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, ask_exit)
        while not stop and any(c.poll() is None for c in self.children.values()):
            time.sleep(0.2)
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        for child in self.children.values():
            try:
                child.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if not stop and child.returncode != 0:
                self.errors += 1


class _CErrno:
    """NUT prints strerror(errno) in messages where errno is left over from earlier calls; this tracks the
    value it would hold.  One quirk matters: glibc's first perror() on a stderr that is not open read-write
    (a pipe, a log file) fails an internal fdopen() and leaves EINVAL behind."""

    def __init__(self) -> None:
        self.text = "Success"
        self.stderr_used = False

    def failed(self, e: OSError) -> None:
        self.text = e.strerror or ""

    def perror(self, prefix: str, e: OSError) -> None:
        first = not self.stderr_used
        sys.stderr.write(f"{prefix}: {e.strerror}\n")
        self.stderr_used = True
        self.text = e.strerror or ""
        if first:
            try:
                rdwr = fcntl.fcntl(sys.stderr.fileno(), fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDWR
            except (OSError, ValueError, AttributeError):
                rdwr = True
            if not rdwr:
                self.text = os.strerror(errno.EINVAL)


class _NoteStderr(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        _errno.stderr_used = True
        return True


_errno = _CErrno()


def signal_pidfile(pidfn: str, sig: int) -> int | None:
    """Send `sig` to the process named in `pidfn` with NUT's messages; its PID, or None on failure (the
    errno text NUT would show is then in `_errno.text`)."""
    try:
        with open(pidfn) as f:
            text = f.readline()
    except OSError as e:
        _errno.failed(e)
        log.error("fopen %s: %s", pidfn, e.strerror)
        return None
    if not text:
        log.error("Failed to read pid from %s", pidfn)
        return None
    pid = atoi(text)
    if pid < 2:
        log.error("Ignoring invalid pid number %d", pid)
        return None
    try:
        os.kill(pid, 0)
        os.kill(pid, sig)
    except OSError as e:
        _errno.perror("kill", e)
        return None
    return pid


class _Stdout:
    """C stdio's buffering of upsdrvctl's own stdout: line by line on a terminal, else held until exit.  It
    decides where the banner lands among the drivers' output, so it is kept whatever PYTHONUNBUFFERED says."""

    def __init__(self) -> None:
        self.pending = ""

    def write(self, text: str) -> None:
        self.pending += text
        try:
            tty = sys.stdout.isatty()
        except (ValueError, AttributeError):
            tty = False
        if tty:
            self.flush()

    def flush(self) -> None:
        text, self.pending = self.pending, ""
        try:
            if text:
                sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            # like printf() into a closed pipe: lost quietly (and nothing left for Python to fail on at exit)
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
        except (OSError, ValueError, AttributeError):
            pass            # stdout closed: NUT's printf() fails silently too


_out = _Stdout()


def _replay_pending_stdout() -> None:
    """What a forked child whose exec failed writes when it exits: its copy of the parent's stdio buffer."""
    if not _out.pending:
        return
    try:
        sys.stderr.flush()
        os.write(sys.stdout.fileno(), _out.pending.encode())
    except (OSError, ValueError, AttributeError):
        pass            # stdout closed or replaced (tests calling main() in-process)


def _gone(pid: int) -> bool:
    """No such process, or only a zombie waiting for its parent (or init) to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] == b"Z"


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _read_tracking(s: socket.socket, track: str) -> int:
    buf = b""
    while True:
        data = s.recv(4096)
        if not data:
            raise OSError(0, "connection closed")
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            words = line.decode("latin-1").split()
            if len(words) == 3 and words[0] == "TRACKING" and words[1] == track:
                return atoi(words[2])


def _dbg(level: int, msg: str, *args: object) -> None:
    upsdebugx(level, f"[D{level}] {msg}", *args)


def _parse_signal_command(text: str) -> tuple[str, int | None] | None:
    for name, sig in SIGNAL_COMMANDS:
        if name == text:
            return name, sig
    for name, sig in SIGNAL_COMMANDS:
        if name.startswith(text):
            return name, sig
    return None


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Entry point of the `upsdrvctl` console script; argv excludes the program name."""
    prog = prog or sys.argv[0]
    args = sys.argv[1:] if argv is None else list(argv)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="surrogateescape")    # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass        # echo undecodable argv bytes back unchanged, as NUT's C strings do
    setup_logging("upsdrvctl")
    global _errno
    _errno = _CErrno()
    _out.write(BANNER)
    try:
        return _run(prog, args)
    except Fatal as e:
        log.error("%s", e.message)
        return e.status
    except KeyboardInterrupt:
        return 130
    finally:
        _out.flush()


def _run(prog: str, args: list[str]) -> int:
    opts = Options()
    getopt = GetOpt(prog, args, OPTSTRING)
    for opt, val in getopt:
        if opt == "r":
            opts.root = val
        elif opt == "t":
            opts.testmode = True
        elif opt == "u":
            opts.user = val
        elif opt == "V":
            return 0
        elif opt == "D":
            opts.debug += 1
        elif opt == "d":
            opts.debug_passthrough = True
        elif opt == "F":
            opts.foreground = 2 if opts.foreground > 0 else 1
        elif opt == "B":
            opts.foreground = 0
        elif opt == "c":
            if opts.signal_cmd is not None:
                raise Fatal("Error: only one command per run can be sent with option -c. Try -h for help.")
            opts.signal_cmd = _parse_signal_command(val or "")
            if opts.signal_cmd is None:
                raise Fatal("Error: unknown argument to option -c. Try -h for help.")
            opts.signal_name = val
        else:
            _out.write(HELP.format(prog=prog))
            return 0
    rest = getopt.rest
    if opts.signal_cmd is None and not rest:
        _out.write(HELP.format(prog=prog))
        return 0

    if opts.testmode:
        _out.write(TESTMODE_NOTE)
        opts.debug = max(opts.debug, 2)
    setup_logging("upsdrvctl", opts.debug)
    for handler in logging.getLogger("pnut").handlers:       # handler filters see children's records too
        handler.addFilter(_NoteStderr())
    if not opts.debug_passthrough:
        _dbg(2, "%s", DEBUG_EXPLANATION)

    ctl = Controller(opts, Settings(), [])
    if opts.signal_cmd is not None:
        command, names = ctl.signal_driver, rest
    else:
        commands = {"start": ctl.start_driver, "stop": ctl.stop_driver, "shutdown": ctl.shutdown_driver}
        if rest[0] not in commands:
            raise Fatal(f"Error: unrecognized command [{rest[0]}]")
        command, names = commands[rest[0]], rest[1:]

    try:
        conf = read_upsconf()
    except ConfError as e:
        raise Fatal(str(e)) from None
    ctl.settings, ctl.table = load_table(conf)

    if names:
        ctl.send_one(command, names[0])     # NUT 2.8.0 ignores any further words
    else:
        ctl.send_all(command)
    if ctl.children:
        ctl.supervise()
    return 1 if ctl.errors else 0


if __name__ == "__main__":
    sys.exit(main())
