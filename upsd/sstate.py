"""upsd's side of the driver socket (server/sstate.c): one connection per UPS, a mirror of its state tree,
PING/PONG, staleness and reconnection.

The driver is the socket server; upsd connects to `<STATEPATH>/<driver>-<upsname>`, asks for DUMPALL and
then applies every broadcast line to a pnut.drivers.state.StateTree.  Real NUT drivers and ours speak the
same lines, so either can be served.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pnut.conf.parseconf import Tokenizer
from pnut.conf.upsdconf import atoi
from pnut.drivers.state import Flag, StateTree

if TYPE_CHECKING:
    from pnut.upsd.tracking import Tracking

log = logging.getLogger("pnut.upsd")

STALE = None                # Ups.pushed after a STALE event (or before any event)
CONNFAIL_INTERVAL = 300     # SS_CONNFAIL_INT: repeat "Can't connect" at most this often
READ_CHUNK = 512            # upsd reads driver sockets in SMALLBUF pieces


class Watcher(Protocol):
    """A client that sent WATCH (upsmon/PUSH.md): events go out through its ordinary reply path."""

    def send(self, line: str) -> bool: ...

    def disconnect(self) -> None: ...


def strtol(text: str) -> int:
    """Enough of C strtol(base 10) for SETAUX: like atoi, but hex/octal never appear here."""
    return atoi(text)


@dataclass(eq=False)
class Ups:
    """One ups.conf section as upsd knows it (server/upstype.h)."""

    name: str
    fn: str                     # socket file name, relative to STATEPATH: <driver>-<name>
    desc: str | None = None
    tree: StateTree = field(default_factory=StateTree)
    numlogins: int = 0
    fsd: bool = False
    conn: DriverConn | None = None
    connecting: bool = False
    dumpdone: bool = False
    data_ok: bool = False
    stale: bool = True
    last_heard: float = 0.0
    last_ping: float = 0.0
    last_connfail: float = 0.0
    # WATCH (pnut's extension, upsmon/PUSH.md): who is told of changes, and what they were last told
    watchers: dict[Watcher, None] = field(default_factory=dict)
    pushed: str | None = STALE

    @property
    def connected(self) -> bool:
        return self.conn is not None


class DriverConn(asyncio.Protocol):
    """The stream from one driver: parse each line into the UPS's mirror tree."""

    def __init__(self, ups: Ups, tracking: Tracking) -> None:
        self.ups = ups
        self.tracking = tracking
        self.tok = Tokenizer()
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport      # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        text = data.decode("latin-1")
        for start in range(0, len(text), READ_CHUNK):
            for ch in text[start:start + READ_CHUNK]:
                line = self.tok.feed_char(ch)
                if line is None:
                    continue
                if line.error:
                    log.info("Parse error on sock: %s", line.error)
                    break           # the rest of this read is dropped, as NUT does
                if parse_args(self.ups, line.words, self.tracking):
                    self.ups.last_heard = time.time()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            disconnect(self.ups)

    def send(self, line: str) -> bool:
        if self.transport is None or self.transport.is_closing():
            return False
        try:
            self.transport.write(line.encode("latin-1", "replace"))
        except (OSError, RuntimeError):
            return False
        # asyncio reports a peer that is gone (EPIPE) by starting to close rather than by raising; NUT's
        # write() fails right there, and the request gets its ERR instead of an OK
        return not self.transport.is_closing()


def parse_args(ups: Ups, words: list[str], tracking: Tracking) -> bool:
    """Apply one driver line; True if it was a recognised message (which counts as "heard")."""
    n = len(words)
    if n < 1:
        return False
    cmd = words[0].upper()
    tree = ups.tree
    if cmd == "PONG":
        return True
    if cmd == "DUMPDONE":
        ups.dumpdone = True
        push(ups)
        return True
    if cmd == "DATASTALE":
        ups.data_ok = False
        push(ups)
        return True
    if cmd == "DATAOK":
        ups.data_ok = True
        push(ups)
        return True
    if n < 2:
        return False
    if cmd == "ADDCMD":
        tree.addcmd(words[1])
        return True
    if cmd == "DELCMD":
        tree.delcmd(words[1])
        return True
    if cmd == "DELINFO":
        tree.delinfo(words[1])
        return True
    if n < 3:
        return False
    if cmd == "SETFLAGS":
        if tree.get(words[1]) is None:
            log.debug("state_setflags: base variable (%s) does not exist", words[1])
        else:
            tree.setflags(words[1], Flag.parse(words[2:]))
        return True
    if cmd == "SETINFO":
        if tree.setinfo(words[1], words[2]) and words[1].lower() == "ups.status":
            push(ups)
        return True
    if cmd == "ADDENUM":
        tree.addenum(words[1], words[2])
        return True
    if cmd == "DELENUM":
        tree.delenum(words[1], words[2])
        return True
    if cmd == "SETAUX":
        tree.setaux(words[1], strtol(words[2]))
        return True
    if cmd == "TRACKING":
        tracking.set(words[1], words[2])
        if not words[2].startswith("PENDING"):
            log.info("tracking ID: %s\tresult: %s", words[1], tracking.get(words[1]))
        return True
    if n < 4:
        return False
    if cmd == "ADDRANGE":
        tree.addrange(words[1], atoi(words[2]), atoi(words[3]))
        return True
    if cmd == "DELRANGE":
        tree.delrange(words[1], atoi(words[2]), atoi(words[3]))
        return True
    return False


async def connect(ups: Ups, statepath: str, tracking: Tracking) -> None:
    """sstate_connect(): open the driver's socket, ask for a dump, show WAIT until it arrives."""
    path = os.path.join(statepath, ups.fn)
    loop = asyncio.get_running_loop()
    try:
        _, proto = await loop.create_unix_connection(lambda: DriverConn(ups, tracking), path)
    except OSError as e:
        now = time.time()
        if now - ups.last_connfail >= CONNFAIL_INTERVAL:
            ups.last_connfail = now
            log.error("Can't connect to UPS [%s] (%s): %s", ups.name, ups.fn, e.strerror or e)
        return
    finally:
        ups.connecting = False
    conn: DriverConn = proto          # type: ignore[assignment]
    if not conn.send("DUMPALL\n"):
        log.error("Initial DUMPALL write failed")
        conn.closed = True
        if conn.transport:
            conn.transport.close()
        return
    ups.conn = conn
    ups.tree.clear()
    ups.tree.setinfo("ups.status", "WAIT")
    ups.dumpdone = False
    ups.stale = False
    ups.last_heard = time.time()
    ups.last_ping = 0.0
    log.info("Connected to UPS [%s]: %s", ups.name, ups.fn)


def disconnect(ups: Ups) -> None:
    """sstate_disconnect(): forget the data and the socket; the next pass reconnects."""
    conn = ups.conn
    ups.conn = None
    ups.tree.clear()
    push(ups)
    if conn is not None:
        conn.closed = True
        if conn.transport is not None:
            conn.transport.close()


def sendline(ups: Ups, line: str) -> bool:
    """Write a command to the driver; a failed write drops the connection (as NUT)."""
    if ups.conn is None:
        return False
    if ups.conn.send(line):
        return True
    log.info("Send to UPS [%s] failed", ups.name)
    disconnect(ups)
    return False


def dead(ups: Ups, maxage: int, now: float) -> bool:
    """sstate_dead(): True when clients should see DATA-STALE; also sends the PING when it is due."""
    if ups.conn is None:
        return True
    if ups.dumpdone and not ups.data_ok:
        return True
    since = now - ups.last_heard
    if since > maxage // 3 and now - ups.last_ping > maxage // 3:
        if ups.conn.send("PING\n"):
            ups.last_ping = now
        else:
            log.info("Send ping to UPS [%s] failed", ups.name)
            disconnect(ups)
            return True
    return since > maxage


def check(ups: Ups, maxage: int, now: float) -> None:
    """One main-loop pass for a connected UPS: log stale/fresh transitions once."""
    if dead(ups, maxage, now):
        if not ups.stale:
            log.warning("Data for UPS [%s] is stale - check driver", ups.name)
            ups.stale = True
            push(ups)
    elif ups.stale:
        log.info("UPS [%s] data is no longer stale", ups.name)
        ups.stale = False
        push(ups)


def push(ups: Ups) -> None:
    """Tell the UPS's watchers what clients now see of it, if that differs from what they were last told:
    `STATUS <ups> "<ups.status>"` (with FSD in front once set, as GET VAR shows it) or `STALE <ups>`.

    Called wherever the mirror may change that: a new ups.status, DATASTALE, a stale/fresh transition,
    the driver going away, FSD.  A watcher that stops reading is dropped by its own write path."""
    if ups.conn is None or ups.stale or (ups.dumpdone and not ups.data_ok):
        now = STALE
    else:
        node = ups.tree.get("ups.status")
        if node is None:
            return
        now = f"FSD {node.value}" if ups.fsd else node.value
    if now == ups.pushed:
        return
    ups.pushed = now
    line = f"STALE {ups.name}" if now is STALE else f'STATUS {ups.name} "{now}"'
    for watcher in list(ups.watchers):
        watcher.send(line)
