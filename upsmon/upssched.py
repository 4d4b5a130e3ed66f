"""upssched (clients/upssched.c): timers for upsmon's notifications.

upsmon runs it as NOTIFYCMD with UPSNAME and NOTIFYTYPE in the environment.  Each matching `AT` line of
upssched.conf acts at once: EXECUTE runs CMDSCRIPT, START-TIMER and CANCEL-TIMER talk to one long-lived
timer daemon over the Unix socket PIPEFN, started on demand (LOCKFN guards the start) and gone after 15
quiet seconds.

Unlike NUT, CMDSCRIPT receives its words as arguments that the shell does not re-read: `EXECUTE "a b"`
still gives the script two arguments, but nothing in them is expanded or executed.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from pnut.conf import paths
from pnut.conf.common import Fatal, setup_logging, unix_listener
from pnut.conf.parseconf import Tokenizer, iter_lines, quote
from pnut.upsmon.notify import shell_argv

log = logging.getLogger("pnut.upssched")

USAGE = """\
upssched: timer helper for upsmon's NOTIFYCMD (takes no options; needs UPSNAME and NOTIFYTYPE).

Usage:
  upssched [<message>...]
"""

MAX_TRIES = 30
EMPTY_WAIT = 15              # passes of ~1 s with no timer before the daemon leaves
LISTEN_BACKLOG = 16
RETRY_PAUSE = 0.25


@dataclass
class Timer:
    name: str
    at: float


@dataclass
class Settings:
    cmdscript: str | None = None
    pipefn: str | None = None
    lockfn: str | None = None


def _have_syslog() -> bool:
    """Python's syslog handler prints a traceback per message when /dev/log is missing (containers)."""
    return os.path.exists("/dev/log")


def run_cmdscript(cmdscript: str, words: str) -> None:
    """system("<CMDSCRIPT> <words>") without a shell reading <words>."""
    argv = shell_argv(cmdscript, *words.split())
    try:
        rc = subprocess.call(argv, stdin=subprocess.DEVNULL)
    except OSError:
        log.error("Execute command failure: %s %s", cmdscript, words)
        return
    if rc > 0:
        log.info("exec_cmd(%s %s) returned %d", cmdscript, words, rc)
    elif rc < 0:
        log.warning("exec_cmd(%s %s) terminated with signal %d", cmdscript, words, -rc)


# --- the timer daemon -----------------------------------------------------------------------------------

@dataclass
class TimerDaemon:
    settings: Settings
    timers: list[Timer] = field(default_factory=list)
    clock: object = time.monotonic
    empty_passes: int = 0

    def now(self) -> float:
        return self.clock()            # type: ignore[operator,no-any-return]

    def handle(self, words: list[str]) -> str:
        """One request line; returns the reply."""
        cmd = words[0] if words else ""
        if cmd == "START" and len(words) >= 3:
            try:
                ofs = int(words[2].strip() or "0")
            except ValueError:
                ofs = 0
            if ofs < 0:
                log.info("bogus offset for timer, ignoring")
            else:
                log.info("New timer: %s (%d seconds)", words[1], ofs)
                self.timers.append(Timer(words[1], self.now() + ofs))
            return "OK\n"
        if cmd == "CANCEL" and len(words) >= 2:
            for t in self.timers:
                if t.name == words[1]:
                    log.info("Cancelling timer: %s", t.name)
                    self.timers.remove(t)
                    return "OK\n"
            if len(words) >= 3:
                log.info("Cancel %s, event: %s", words[1], words[2])
                assert self.settings.cmdscript
                run_cmdscript(self.settings.cmdscript, words[2])
            return "OK\n"
        log.info("Unknown command on socket: ")
        for i, w in enumerate(words):
            log.info("arg %d: %s", i, w)
        return "ERR UNKNOWN\n"

    def check_timers(self) -> bool:
        """Fire what is due; False when the daemon should leave (queue empty for EMPTY_WAIT passes)."""
        if not self.timers:
            self.empty_passes += 1
            if self.empty_passes < EMPTY_WAIT:
                return True
            log.info("Timer queue empty, exiting")
            return False
        self.empty_passes = 0
        now = self.now()
        for t in list(self.timers):
            if now >= t.at:
                log.info("Event: %s ", t.name)
                self.timers.remove(t)
                assert self.settings.cmdscript
                run_cmdscript(self.settings.cmdscript, t.name)
        return True

    def serve(self, listener: socket.socket) -> None:
        conns: dict[socket.socket, Tokenizer] = {}
        while True:
            try:
                ready, _, _ = select.select([listener, *conns], [], [], 1.0)
            except InterruptedError:
                ready = []
            for s in ready:
                if s is listener:
                    try:
                        c, _ = listener.accept()
                    except OSError as exc:
                        log.error("accept on unix fd failed: %s", exc.strerror)
                        continue
                    c.setblocking(False)
                    conns[c] = Tokenizer()
                    continue
                if not self._read(s, conns[s]):
                    conns.pop(s)
                    s.close()
            if not self.check_timers():
                return

    def _read(self, conn: socket.socket, tok: Tokenizer) -> bool:
        try:
            data = conn.recv(512)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        for line in tok.feed(data.decode("latin-1")):
            if line.error:
                log.info("Parse error on sock: %s", line.error)
                continue
            if not line.words:
                continue
            try:
                conn.sendall(self.handle(line.words).encode())
            except OSError:
                return False
        return True


def open_listener(pipefn: str) -> socket.socket:
    return unix_listener(pipefn, LISTEN_BACKLOG)


def start_daemon(settings: Settings, lockfd: int) -> None:
    """Fork the timer daemon; return in the parent once it listens."""
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(w)
        os.read(r, 1)             # EOF once the child has its listener
        os.close(r)
        return
    os.close(r)
    try:
        fd = os.open(os.devnull, os.O_RDWR)
        for n in (0, 1, 2):
            os.dup2(fd, n)
        setup_logging("upssched", stderr=False, syslog=_have_syslog())
        assert settings.pipefn and settings.lockfn
        listener = open_listener(settings.pipefn)
        log.info("Timer daemon started")
        os.close(w)
        try:
            os.unlink(settings.lockfn)
        except OSError:
            pass
        os.close(lockfd)
        TimerDaemon(settings).serve(listener)
        try:
            os.unlink(settings.pipefn)
        except OSError:
            pass
    except Exception:               # the daemon has no terminal: whatever happens ends here quietly
        log.exception("timer daemon failed")
        os._exit(1)
    os._exit(0)


# --- the client side ------------------------------------------------------------------------------------

def _try_connect(pipefn: str) -> socket.socket | None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(pipefn)
    except OSError:
        s.close()
        return None
    return s


def sendcmd(settings: Settings, cmd: str, arg1: str, arg2: str | None = None) -> None:
    """Deliver one request to the daemon, starting it if needed (NUT's sendcmd/check_parent)."""
    assert settings.pipefn and settings.lockfn
    line = f"{cmd} {quote(arg1)}" + (f" {quote(arg2)}" if arg2 is not None else "") + "\n"
    for _ in range(MAX_TRIES):
        conn = None
        for _ in range(MAX_TRIES):
            conn = _try_connect(settings.pipefn)
            if conn is not None:
                break
            if cmd == "CANCEL" and arg2 is None:
                return                            # no daemon, nothing to cancel
            try:
                lockfd = os.open(settings.lockfn, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
            except OSError:
                try:
                    os.unlink(settings.lockfn)    # perhaps left by a crash; the other upssched may be starting it
                except OSError:
                    pass
                time.sleep(RETRY_PAUSE)
                continue
            start_daemon(settings, lockfd)
            os.close(lockfd)
            time.sleep(RETRY_PAUSE)
        if conn is None:
            log.error("Failed to connect to parent and failed to create parent")
            raise Fatal("Unable to connect to daemon and unable to start daemon")
        try:
            conn.sendall(line.encode("latin-1", "replace"))
            reply = b""
            deadline = time.monotonic() + 10
            while not reply.endswith(b"\n") and time.monotonic() < deadline:
                ready, _, _ = select.select([conn], [], [], 1.0)
                if ready:
                    chunk = conn.recv(512)
                    if not chunk:
                        break
                    reply += chunk
        except OSError:
            log.error("write failed, trying again")
            conn.close()
            continue
        conn.close()
        if len(reply) < 2:
            log.error("read confirmation failed, trying again")
            continue
        if reply.startswith(b"OK"):
            return
        log.error("read confirmation got [%s]", reply.decode("latin-1").rstrip("\n"))
    raise Fatal("Unable to connect to daemon and unable to start daemon")


def parse_at(settings: Settings, upsname: str, notifytype: str, words: list[str]) -> None:
    """One `AT <type> <ups|*> <command> <args>` line: act if it matches."""
    for name in ("CMDSCRIPT", "PIPEFN", "LOCKFN"):
        if getattr(settings, name.lower()) is None:
            print(f"{name} must be set before any ATs in the config file!", flush=True)
            raise Fatal(f"{name} must be set before any ATs in the config file!")
    if words[1].casefold() != notifytype.casefold():
        return
    if words[2] != "*" and words[2] != upsname:
        return
    cmd, ca1 = words[3], words[4]
    ca2 = words[5] if len(words) > 5 else None
    if cmd == "START-TIMER":
        sendcmd(settings, "START", ca1, ca2)
    elif cmd == "CANCEL-TIMER":
        sendcmd(settings, "CANCEL", ca1, ca2)
    elif cmd == "EXECUTE":
        if not ca1:
            log.error("Empty EXECUTE command argument")
            return
        log.info("Executing command: %s", ca1)
        assert settings.cmdscript
        run_cmdscript(settings.cmdscript, ca1)
    else:
        log.error("Invalid command: %s", cmd)


def checkconf(path: str, upsname: str, notifytype: str) -> None:
    try:
        with open(path, encoding="latin-1") as f:
            text = f.read()
    except OSError as exc:
        raise Fatal(f"Can't open {path}: {exc.strerror}") from None
    settings = Settings()
    for line in iter_lines(text):
        if line.error:
            log.error("Parse error: %s:%d: %s", path, line.lineno, line.error)
            continue
        w = line.words
        if not w:
            continue
        if len(w) >= 2 and w[0] in ("CMDSCRIPT", "PIPEFN", "LOCKFN"):
            setattr(settings, w[0].lower(), w[1])
        elif w[0] == "AT" and len(w) >= 5:
            parse_at(settings, upsname, notifytype, w)
        else:
            log.warning("upssched.conf: invalid directive %s", " ".join(w))


def main(argv: list[str] | None = None) -> int:
    setup_logging("upssched", stderr=True, syslog=_have_syslog())
    upsname = os.environ.get("UPSNAME")
    notifytype = os.environ.get("NOTIFYTYPE")
    if upsname is None or notifytype is None:
        print("Error: UPSNAME and NOTIFYTYPE must be set.")
        print("This program should only be run from upsmon.")
        return 1
    try:
        checkconf(paths.conffile("upssched.conf"), upsname, notifytype)
    except Fatal as exc:
        sys.stderr.write(exc.message + "\n")
        return exc.status
    except KeyboardInterrupt:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
