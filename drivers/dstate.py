"""The driver side of the state tree and its Unix socket (drivers/dstate.c).

`DState` owns the driver's tree, the data-stale flag, the `ups.status`/`ups.alarm` assembly buffers and
every reader connected to `$NUT_STATEPATH/<driver>-<upsname>`.  Each change made through it is broadcast to
all readers, exactly once and only when something really changed, as NUT's dstate_* functions do.

Thread model: the driver's callbacks run in one worker thread, the socket side runs on an asyncio loop.  A
lock makes "change the tree + queue the broadcast" atomic, and every write is handed to the loop through
`call_soon_threadsafe`, whose FIFO order keeps each reader's byte stream in the order of the changes.
asyncio is only imported when the socket is opened, so dump mode (`-d`) and `-k` start fast.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pnut.conf.parseconf import Tokenizer, encode
from pnut.drivers.state import MAX_VALUE_LEN, Flag, Node, StateTree

if TYPE_CHECKING:      # pragma: no cover
    import asyncio

log = logging.getLogger("pnut.drivers.dstate")

LISTEN_BACKLOG = 16            # DS_LISTEN_BACKLOG
MAX_WRITE_BUFFER = 1 << 20     # a reader this far behind is dropped, as NUT drops one whose write fails


def _cut(value: str) -> str:
    """dstate_setinfo() formats into a 256-byte buffer: at most 255 characters survive."""
    return value if len(value) < MAX_VALUE_LEN else value[:MAX_VALUE_LEN - 1]


def flag_words(name: str, flags: Flag) -> str:
    """`<var>[ RW][ STRING][ NUMBER]`, the SETFLAGS argument list (IMMUTABLE is never spelt out)."""
    return " ".join([name] + flags.words())


class Conn:
    """One reader of the driver socket (upsd, upsdrvctl, a test...)."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self.tok = Tokenizer()
        self.broadcast = True        # NOBROADCAST / BROADCAST (NUT >= 2.8.1)
        self.closed = False

    def send(self, data: str) -> None:
        """Loop thread only."""
        if self.closed:
            return
        try:
            self.writer.write(data.encode("latin-1", "replace"))
            if self.writer.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
                log.warning("WARNING: reader is not reading its socket, disconnecting")
                self.close()
        except (OSError, RuntimeError, AttributeError):
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.writer.close()
            except (OSError, RuntimeError):
                pass


class DState:
    """The tree, the stale flag, status/alarm assembly and the broadcast to readers."""

    def __init__(self) -> None:
        self.tree = StateTree()
        self.stale = True            # a driver starts stale until its first dstate_dataok()
        self.lock = threading.RLock()
        self.conns: list[Conn] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sockfn: str | None = None
        self.synchronous = -1        # -1 auto, 0 no, 1 yes: published as driver.parameter.synchronous
        self._status: list[str] = []
        self._alarm: list[str] = []
        self._alarm_active = 0
        self._ignorelb = False

    # -- broadcasting ---------------------------------------------------------------------------
    def _send_all(self, line: str) -> None:
        """Queue one line for every reader (caller holds the lock)."""
        if not self.conns or self.loop is None:
            return
        for conn in self.conns:
            if conn.broadcast:
                self.loop.call_soon_threadsafe(conn.send, line)

    def send_one(self, conn: Conn, line: str) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(conn.send, line)

    # -- variables ------------------------------------------------------------------------------
    def setinfo(self, var: str, value: object) -> bool:
        value = _cut(str(value))
        with self.lock:
            if not self.tree.setinfo(var, value):
                return False
            # NUT 2.8.0 sends the raw value here; pnut escapes it so a value holding " or \ survives
            self._send_all(f'SETINFO {var} "{encode(value)}"\n')
            return True

    def getinfo(self, var: str) -> str | None:
        """The stored value in its escaped form: what NUT's dstate_getinfo() returns."""
        with self.lock:
            node = self.tree.get(var)
            return None if node is None else node.value

    def getinfo_raw(self, var: str) -> str | None:
        with self.lock:
            return self.tree.getinfo(var)

    def delinfo(self, var: str) -> bool:
        with self.lock:
            if not self.tree.delinfo(var):
                return False
            self._send_all(f"DELINFO {var}\n")
            return True

    def getflags(self, var: str) -> Flag | None:
        with self.lock:
            node = self.tree.get(var)
            return None if node is None else node.flags

    def setflags(self, var: str, flags: Flag) -> None:
        with self.lock:
            node = self.tree.get(var)
            if node is None:
                log.error("dstate_setflags: base variable (%s) does not exist", var)
                return
            if node.flags & Flag.IMMUTABLE:
                log.warning("dstate_setflags: base variable (%s) is immutable", var)
                return
            if node.flags == flags:
                return
            node.flags = flags
            self._send_all(f"SETFLAGS {flag_words(var, flags)}\n")

    def make_immutable(self, var: str) -> None:
        """override.*: the value is frozen (dstate_setflags(var, ST_FLAG_IMMUTABLE))."""
        self.setflags(var, Flag.IMMUTABLE)

    def addflags(self, var: str, add: Flag) -> None:
        flags = self.getflags(var)
        if flags is None:
            log.error("dstate_addflags: cannot get flags of '%s'", var)
        elif (flags & add) != add:
            self.setflags(var, flags | add)

    def delflags(self, var: str, remove: Flag) -> None:
        flags = self.getflags(var)
        if flags is None:
            log.error("dstate_delflags: cannot get flags of '%s'", var)
        elif flags & remove:
            self.setflags(var, flags & ~remove)

    def setaux(self, var: str, aux: int) -> None:
        with self.lock:
            if self.tree.get(var) is None:
                log.error("dstate_setaux: base variable (%s) does not exist", var)
                return
            if self.tree.setaux(var, aux):
                self._send_all(f"SETAUX {var} {aux}\n")

    def addenum(self, var: str, value: str) -> bool:
        value = _cut(value)
        with self.lock:
            if self.tree.get(var) is None:
                log.error("state_addenum: base variable (%s) does not exist", var)
                return False
            if not self.tree.addenum(var, value):
                return False
            self._send_all(f'ADDENUM {var} "{encode(value)}"\n')
            return True

    def delenum(self, var: str, value: str) -> bool:
        with self.lock:
            if not self.tree.delenum(var, encode(value)):
                return False
            self._send_all(f'DELENUM {var} "{encode(value)}"\n')
            return True

    def addrange(self, var: str, lo: int, hi: int) -> bool:
        with self.lock:
            if lo > hi:
                log.error("state_addrange: min is superior to max! (%d, %d)", lo, hi)
                return False
            if self.tree.get(var) is None:
                log.error("state_addrange: base variable (%s) does not exist", var)
                return False
            if not self.tree.addrange(var, lo, hi):
                return False
            self._send_all(f"ADDRANGE {var} {lo} {hi}\n")
            self.addflags(var, Flag.NUMBER)       # a range makes the variable numeric
            return True

    def delrange(self, var: str, lo: int, hi: int) -> bool:
        with self.lock:
            if not self.tree.delrange(var, lo, hi):
                return False
            self._send_all(f"DELRANGE {var} {lo} {hi}\n")
            return True

    # -- commands -------------------------------------------------------------------------------
    def addcmd(self, cmd: str) -> None:
        with self.lock:
            if self.tree.addcmd(cmd):
                self._send_all(f"ADDCMD {cmd}\n")

    def delcmd(self, cmd: str) -> bool:
        with self.lock:
            if not self.tree.delcmd(cmd):
                return False
            self._send_all(f"DELCMD {cmd}\n")
            return True

    # -- staleness ------------------------------------------------------------------------------
    def dataok(self) -> None:
        with self.lock:
            if self.stale:
                self.stale = False
                self._send_all("DATAOK\n")

    def datastale(self) -> None:
        with self.lock:
            if not self.stale:
                self.stale = True
                self._send_all("DATASTALE\n")

    def is_stale(self) -> bool:
        return self.stale

    # -- ups.status / ups.alarm assembly (NUT 2.8.0 semantics) ----------------------------------
    def status_init(self) -> None:
        """Start a new status; `driver.flag.ignorelb` switches LB handling on (never back off, as 2.8.0)."""
        if self.getinfo("driver.flag.ignorelb") is not None:
            self._ignorelb = True
        self._status = []

    def status_set(self, token: str) -> None:
        """Append a status word as given (2.8.0 neither splits nor de-duplicates); LB is dropped under
        ignorelb, since the core then decides LB itself."""
        if self._ignorelb and token.lower() == "lb":
            log.debug("status_set: ignoring LB flag from device")
            return
        self._status.append(token)

    def _status_text(self) -> str:
        return _cut(" ".join(self._status))

    def status_commit(self) -> None:
        buf = self._status_text()
        if self._ignorelb:
            for var in ("battery.charge", "battery.runtime"):
                val, low = self.getinfo(var), self.getinfo(var + ".low")
                if val is not None and low is not None and strtol(val) < strtol(low):
                    buf = _cut(buf + " LB")        # appended with its space, even to an empty status
                    break
        self.setinfo("ups.status", f"ALARM {buf}" if self._alarm_active else buf)

    def alarm_init(self) -> None:
        self._alarm_active = 0
        self._alarm = []

    def alarm_set(self, text: str) -> None:
        self._alarm.append(text)

    def alarm_commit(self) -> None:
        text = _cut(" ".join(self._alarm))
        if text:
            self.setinfo("ups.alarm", text)
            self._alarm_active = 1
        else:
            self.delinfo("ups.alarm")
            self._alarm_active = 0

    # -- dumps ----------------------------------------------------------------------------------
    def dump_lines(self) -> list[str]:
        """`-d`: `<var>: <value>` in tree order, the escaped value (dstate_dump)."""
        with self.lock:
            return [f"{n.name}: {n.value}\n" for n in self.tree]

    def dumpall(self) -> str:
        """The full reply to DUMPALL, byte for byte as NUT 2.8.0 builds it."""
        with self.lock:
            out: list[str] = []
            if self.stale:
                out.append("DATASTALE\n")
            for node in self.tree:
                out.extend(_node_lines(node))
            out.extend(f"ADDCMD {c}\n" for c in self.tree.iter_commands())
            if not self.stale:
                out.append("DATAOK\n")
            out.append("DUMPDONE\n")
            return "".join(out)

    # -- socket ---------------------------------------------------------------------------------
    async def serve(self, sock: Any, handler: Callable[[Conn, list[str]], Any]) -> Any:
        """Serve readers on an already listening Unix socket (see Core.open_socket)."""
        import asyncio

        self.loop = asyncio.get_running_loop()

        async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            conn = Conn(writer)
            if self.synchronous < 1:
                log.info("sock_connect: enabling asynchronous mode (%s)",
                         "auto" if self.synchronous < 0 else "fixed")
            else:
                log.info("sock_connect: keeping default synchronous mode")
            with self.lock:
                self.conns.append(conn)
            try:
                while not conn.closed:
                    data = await reader.read(512)
                    if not data:
                        break
                    for line in conn.tok.feed(data):
                        if line.error:
                            log.info("Parse error on sock: %s", line.error)
                            conn.tok.reset()
                            break          # NUT drops the rest of that read
                        if not line.words:
                            continue
                        done = handler(conn, line.words)
                        if done is False:
                            log.info("Unknown command on socket: ")
                            for i, w in enumerate(line.words):
                                log.info("arg %d: %s", i, w)
                        elif done is not True:      # a Future: keep this reader's replies in order
                            await asyncio.wrap_future(done)
            except (ConnectionError, OSError):
                pass
            finally:
                with self.lock:
                    if conn in self.conns:
                        self.conns.remove(conn)
                conn.close()

        return await asyncio.start_unix_server(client, sock=sock, limit=65536)

    def close(self) -> None:
        with self.lock:
            for conn in self.conns:
                conn.close()
            self.conns.clear()
        if self.sockfn:
            try:
                os.unlink(self.sockfn)
            except OSError:
                pass
            self.sockfn = None


def _node_lines(node: Node) -> list[str]:
    out = [f'SETINFO {node.name} "{node.value}"\n']
    out.extend(f'ADDENUM {node.name} "{e}"\n' for e in node.enums)
    out.extend(f"ADDRANGE {node.name} {lo} {hi}\n" for lo, hi in node.ranges)
    if node.aux:
        out.append(f"SETAUX {node.name} {node.aux}\n")
    if node.flags:      # an override.* node has only IMMUTABLE: NUT still sends a bare "SETFLAGS <var>"
        out.append(f"SETFLAGS {flag_words(node.name, node.flags)}\n")
    return out


def strtol(text: str) -> int:
    """C strtol(text, NULL, 10): leading blanks, a sign, digits; 0 when there are none."""
    s = text.lstrip(" \t\n\v\f\r")
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    digits = ""
    for c in s:
        if not c.isdigit() or not c.isascii():
            break
        digits += c
    return sign * int(digits) if digits else 0
