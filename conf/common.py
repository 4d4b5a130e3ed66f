"""What every NUT program shares (common/common.c): logging to stderr/syslog, PID files, signalling a
running instance, dropping privileges, going to the background, and the fatal-error exception.

Library code raises `Fatal`; only a program's main() turns it into a message and an exit status.
"""

from __future__ import annotations

import grp
import logging
import logging.handlers
import os
import pwd
import signal
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

log = logging.getLogger("pnut")

# NUT's debug levels map onto logging levels below DEBUG: level N is logged at DEBUG+1-N.
_debug_level = 0


class Fatal(Exception):
    """fatalx(): a message in NUT's words and the exit status to leave with."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.message = message
        self.status = status


class _NutFormatter(logging.Formatter):
    """Debug output carries NUT's elapsed-time prefix ("   0.000123\\t") once debugging is on."""

    def __init__(self) -> None:
        super().__init__("%(message)s")
        self.start = time.monotonic()

    def format(self, record: logging.LogRecord) -> str:
        msg = super().format(record)
        if _debug_level > 0:
            elapsed = time.monotonic() - self.start
            return f"{int(elapsed):4d}.{int((elapsed % 1) * 1e6):06d}\t{msg}"
        return msg


class _QuietSysLogHandler(logging.handlers.SysLogHandler):
    """A syslog daemon that goes away must not make every later message print a traceback."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


_stderr_handler: logging.Handler | None = None
_syslog_handler: logging.Handler | None = None


def setup_logging(progname: str, debug: int = 0, stderr: bool = True, syslog: bool = False,
                  quiet: int = 0) -> None:
    """Configure the 'pnut' logger as a NUT program does: stderr while in the foreground, syslog once
    in the background (or both).  `debug` is the -D count; `quiet` the -q count."""
    global _debug_level, _stderr_handler, _syslog_handler
    _debug_level = debug
    root = logging.getLogger("pnut")
    root.propagate = False
    for h in list(root.handlers):
        root.removeHandler(h)
    _stderr_handler = _syslog_handler = None
    if stderr:
        _stderr_handler = logging.StreamHandler(sys.stderr)
        _stderr_handler.setFormatter(_NutFormatter())
        root.addHandler(_stderr_handler)
    if syslog and os.path.exists("/dev/log"):
        # no syslog socket (containers): NUT's messages are silently lost there too
        try:
            h = _QuietSysLogHandler(address="/dev/log", facility=logging.handlers.SysLogHandler.LOG_DAEMON)
            h.ident = f"{progname}[{os.getpid()}]: "
            h.setFormatter(logging.Formatter("%(message)s"))
            _syslog_handler = h
            root.addHandler(h)
        except OSError:
            pass
    if not root.handlers:
        root.addHandler(logging.NullHandler())     # else logging's last resort would write to stderr
    base = logging.INFO + 10 * max(0, quiet)
    root.setLevel(logging.DEBUG + 1 - debug if debug > 0 else base)


def debug_level() -> int:
    return _debug_level


def set_debug_level(level: int) -> None:
    global _debug_level
    _debug_level = level
    logging.getLogger("pnut").setLevel(logging.DEBUG + 1 - level if level > 0 else logging.INFO)


def upsdebugx(level: int, msg: str, *args: object, logger: logging.Logger = log) -> None:
    """Log a debug message of NUT level `level` (shown with -D repeated at least `level` times)."""
    if _debug_level >= level:
        logger.log(logging.DEBUG + 1 - level if level > 0 else logging.INFO, msg, *args)


def to_syslog_only(progname: str) -> None:
    """After backgrounding, NUT logs to syslog and no longer to stderr."""
    setup_logging(progname, _debug_level, stderr=False, syslog=True)


# -- PID files and signals ---------------------------------------------------------------------

def writepid(path: str) -> None:
    """Write `<pid>\\n` with umask 022; a failure is only logged, as in NUT."""
    old = os.umask(0o022)
    try:
        with open(path, "w") as f:
            f.write(f"{os.getpid()}\n")
    except OSError as e:
        log.warning("writepid: fopen %s: %s", path, e.strerror)
    finally:
        os.umask(old)


def readpid(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.readline()
    except OSError:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def sendsignalpid(pid: int, sig: int) -> int:
    """kill() with NUT's checks and messages; 0 on success, -1 on error."""
    if pid < 2:
        log.info("Ignoring invalid pid number %d", pid)
        return -1
    try:
        os.kill(pid, 0)
        if sig:
            os.kill(pid, sig)
    except OSError as e:
        print(f"kill: {e.strerror}", file=sys.stderr)
        return -1
    return 0


def sendsignalfn(pidfn: str, sig: int) -> int:
    """Signal the process named in a PID file: 0 sent, -3 no file, -2 unreadable, -1 kill failed."""
    try:
        with open(pidfn) as f:
            text = f.readline()
    except OSError as e:
        log.warning("fopen %s: %s", pidfn, e.strerror)
        return -3
    if not text:
        log.warning("Failed to read pid from %s", pidfn)
        return -2
    try:
        pid = int(text.strip() or "0")
    except ValueError:
        pid = 0
    return sendsignalpid(pid, sig)


SIGNAL_COMMANDS = {"stop": signal.SIGTERM, "reload": signal.SIGHUP}


def unix_listener(path: str, backlog: int) -> socket.socket:
    """A listening AF_UNIX stream socket as NUT's daemons make them: a stale file removed first, umask 007,
    mode 0660.  A bind failure raises Fatal with NUT's message."""
    import socket as _socket
    try:
        os.unlink(path)
    except OSError:
        pass
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    old = os.umask(0o007)
    try:
        sock.bind(path)
    except OSError as e:
        sock.close()
        raise Fatal(f"bind {path} failed: {e.strerror}") from None
    finally:
        os.umask(old)
    os.chmod(path, 0o660)
    sock.listen(backlog)
    return sock


# -- privileges and daemonizing ----------------------------------------------------------------

def get_user_pwent(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise Fatal(f"user {name} not found") from None


# What a daemon may import after it has dropped root.  They are loaded while still root: an interpreter or
# a package installed where the unprivileged account cannot read (a pyenv under /root, say) would make a
# later import fail in the middle of serving.
DAEMON_PRELOAD = ("asyncio", "concurrent.futures", "concurrent.futures.thread", "selectors", "socket", "ssl",
                  "struct", "uuid", "encodings.latin_1", "encodings.ascii", "encodings.utf_8", "encodings.idna",
                  "logging.handlers")


def preload(modules: tuple[str, ...] | list[str]) -> None:
    """Import modules now (those that do not exist here are skipped)."""
    import importlib
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def become_user(pw: pwd.struct_passwd, modules: tuple[str, ...] = ()) -> None:
    """Switch to an unprivileged account if we are root; a no-op otherwise (as NUT).  `modules` (with
    DAEMON_PRELOAD) are imported first, while they can still be read."""
    if os.geteuid() != 0 and os.getuid() != 0:
        return
    if pw.pw_uid != os.geteuid():
        preload(DAEMON_PRELOAD + tuple(modules))
    try:
        os.initgroups(pw.pw_name, pw.pw_gid)
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    except OSError as e:
        raise Fatal(f"setuid: {e.strerror}") from None


def group_gid(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def background(progname: str) -> None:
    """fork(); the parent exits 0; the child gets a new session and /dev/null for stdio, logs to syslog."""
    pid = os.fork()
    if pid:
        os._exit(0)
    os.setsid()
    fd = os.open(os.devnull, os.O_RDWR)
    for n in (0, 1, 2):
        os.dup2(fd, n)
    if fd > 2:
        os.close(fd)
    to_syslog_only(progname)
    log.info("Startup successful")
