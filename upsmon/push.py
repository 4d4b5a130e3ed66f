"""pnut's fast path: learn of a status change from upsd as it happens instead of at the next poll.

One extra TCP connection per MONITORed UPS sends `WATCH <upsname>` (see upsmon/PUSH.md).  A server that
answers anything but `OK` (NUT's upsd says `ERR UNKNOWN-COMMAND`) is not asked again until a reload, and
upsmon simply keeps polling: the watch only wakes the loop early, every decision still comes from a normal
`GET VAR <ups> ups.status`, so the rules are the same whichever path noticed the change.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass

from pnut.libupsclient import core, errors
from pnut.libupsclient.client import open_socket
from pnut.upsmon.config import Monitor

log = logging.getLogger("pnut.upsmon")

WATCH_TIMEOUT = 5.0
RETRY_AFTER = 60.0          # a watch that could not be opened is not tried again for this long


@dataclass
class Watch:
    mon: Monitor
    sock: socket.socket | None = None
    unsupported: bool = False
    retry_at: float = 0.0
    _buf: core.LineBuffer | None = None

    def fileno(self) -> int:
        return self.sock.fileno() if self.sock is not None else -1

    @property
    def active(self) -> bool:
        return self.sock is not None

    def start(self) -> bool:
        """Open the watch; False (and polling only) when the server does not offer it."""
        if self.sock is not None or self.unsupported:
            return self.sock is not None
        if time.monotonic() < self.retry_at:
            return False
        # whatever goes wrong below, do not slow every poll down by trying again at once
        self.retry_at = time.monotonic() + RETRY_AFTER
        try:
            sock = open_socket(self.mon.host, self.mon.port, WATCH_TIMEOUT)
        except errors.UpsClientError:
            return False
        buf = core.LineBuffer()
        try:
            sock.settimeout(WATCH_TIMEOUT)
            sock.sendall(core.request("WATCH", self.mon.upsname))
            line = None
            while line is None:
                data = sock.recv(512)
                if not data:
                    raise ConnectionError
                buf.feed(data)
                line = buf.next_line()
        except (OSError, ConnectionError):
            sock.close()
            return False
        if not line.startswith("OK"):
            log.debug("UPS [%s]: server does not push status changes (%s); polling only", self.mon.sys, line)
            self.unsupported = True
            _close(sock)
            return False
        sock.setblocking(False)
        self.sock, self._buf = sock, buf
        self.retry_at = 0.0
        log.debug("UPS [%s]: watching for pushed status changes", self.mon.sys)
        return True

    def drain(self) -> bool:
        """Read what the server pushed; True if anything arrived (the caller polls now)."""
        if self.sock is None or self._buf is None:
            return False
        got = False
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                self.stop()
                return True          # the server went away: poll now to find out how things stand
            self._buf.feed(data)
            while self._buf.next_line() is not None:
                got = True
        return got

    def stop(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            _close(sock)
            self.retry_at = 0.0          # it worked before: try again after the next good poll

    def reset(self) -> None:
        """After a reload: ask again, the server may have been upgraded."""
        self.stop()
        self.unsupported = False
        self.retry_at = 0.0


def _close(sock: socket.socket) -> None:
    try:
        sock.setblocking(False)
        sock.send(b"LOGOUT\n")
    except OSError:
        pass
    sock.close()
