"""Talking to a running driver instance (drivers/upsdrvquery.c, NUT >= 2.8.1): what `-c <command>` does.

`exit` and `reload-or-error` are sent over the driver's socket as a tracked INSTCMD, since they need the
answer; `reload` and `reload-or-exit` are SIGHUP and SIGUSR1 to the PID named by `-P` or the PID file.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import uuid

from pnut.conf.common import Fatal, readpid

log = logging.getLogger("pnut.drivers")

TIMEOUT = 15          # seconds for the whole socket dialog


def send_signal_cmd(cmd: str, sockpath: str, pidpath: str, pid: int | None = None) -> int:
    """Carry out `-c cmd`; the exit status of the program (or Fatal)."""
    if cmd in ("exit", "reload-or-error"):
        return socket_cmd(sockpath, f"driver.{cmd}")
    sig = signal.SIGHUP if cmd == "reload" else signal.SIGUSR1
    if pid is None:
        pid = readpid(pidpath)
        if pid is None:
            raise Fatal(f"Failed to signal the currently running daemon (if any): can't read {pidpath}")
    try:
        os.kill(pid, sig)
    except OSError as e:
        raise Fatal(f"Failed to signal the currently running daemon (if any): {e.strerror}") from None
    return 0


def socket_cmd(sockpath: str, cmd: str) -> int:
    """INSTCMD `cmd` with TRACKING on the driver's socket: the result code it reports, 255 on failure."""
    tid = str(uuid.uuid4())
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(TIMEOUT)
            s.connect(sockpath)
            s.sendall(f"NOBROADCAST\nINSTCMD {cmd} TRACKING {tid}\n".encode())
            code = _read_tracking(s, tid)
            log.info("Request for driver to %s returned code %d", cmd[7:], code)
            try:
                s.sendall(b"LOGOUT\n")
            except OSError:
                pass
            return code
    except OSError as e:
        log.error("Socket dialog with the other driver instance: %s", e.strerror or e)
        return 255


def _read_tracking(s: socket.socket, tid: str) -> int:
    """Read lines until `TRACKING <tid> <code>` comes; OSError if the driver hangs up first."""
    buf = b""
    want = f"TRACKING {tid} ".encode()
    while True:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
        for line in buf.split(b"\n")[:-1]:
            if line.startswith(want):
                return _int(line[len(want):].decode()) or 0


def _int(text: str) -> int | None:
    try:
        return int(text.strip(), 10)
    except ValueError:
        return None
