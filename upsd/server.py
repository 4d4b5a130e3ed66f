"""upsd's network side (server/upsd.c): listeners, client connections, command dispatch, the main-loop tick.

One asyncio loop serves every client and driver.  Each client is a small asyncio.Protocol that feeds its
bytes to the parseconf tokenizer in NUT's 512-byte read pieces and answers each complete line at once.
Everything that NUT does "once per main-loop pass" (reconnecting drivers, PING, staleness, idle clients,
expired tracking ids) runs from one periodic tick.
"""

from __future__ import annotations

import asyncio
import logging
import re
import select
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pnut.conf.common import upsdebugx
from pnut.conf.parseconf import Tokenizer
from pnut.libupsclient.proto import Err
from pnut.upsd import sstate
from pnut.upsd.desc import Descriptions
from pnut.upsd.sstate import Ups
from pnut.upsd.tracking import Tracking
from pnut.upsd.users import Users

log = logging.getLogger("pnut.upsd")

ANSWER_MAX = 512            # NUT_NET_ANSWER_MAX: a reply line is cut to this many bytes
READ_CHUNK = 512            # upsd reads SMALLBUF at a time; a parse error drops the rest of that piece
WRITE_BUFFER_MAX = 1 << 20  # unread replies queued beyond the kernel's buffer before a client is dropped
IDLE_TIMEOUT = 60           # seconds without a complete line before a client is shed
TICK = 1.0                  # how often the "main-loop pass" work runs
# NUT listens with a backlog of 16; with that, a burst of connections loses SYNs and waits a second for the
# retransmission (real upsd 2.8.0 does exactly that).  A deeper queue changes nothing else on the wire.
LISTEN_BACKLOG = 1024
ARG_LIMIT = 32
WORDLEN_LIMIT = 512

# Requests made only of plain words (no quote, backslash, #, = or control bytes) tokenize exactly like
# str.split(); such chunks skip the per-character state machine.  Anything else takes the full path.
_PLAIN = re.compile(r"[\x21\x24-\x3c\x3e-\x5b\x5d-\x7e \t\r\x0b\x0c\n]*")


@dataclass
class Settings:
    """The live values of upsd.conf settings that can change on reload."""

    maxage: int = 15
    trackingdelay: int = 3600
    maxconn: int = 1024
    allow_no_device: bool = False
    statepath: str = ""
    datapath: str = ""
    certfile: str | None = None
    disable_weak_ssl: bool = False


Handler = Callable[["Server", "Client", list[str]], None]


class Client:
    """One network client (nut_ctype_t).

    A plain client is a non-blocking socket watched with loop.add_reader(): one recv() and one send() per
    request and nothing else, which is what lets one Python loop keep pace with NUT's poll() loop.  After
    STARTTLS the socket is handed to an asyncio SSL transport and replies go through that instead.
    """

    __slots__ = (
        "addr",
        "backlog",
        "closed",
        "fd",
        "last_heard",
        "loginups",
        "partial",
        "password",
        "reading",
        "server",
        "serviced",
        "sock",
        "ssl",
        "tls_pending",
        "tok",
        "tracking",
        "transport",
        "username",
        "watching",
        "wbuf",
    )

    def __init__(self, server: Server, sock: socket.socket | None = None) -> None:
        self.server = server
        self.sock = sock
        self.fd = sock.fileno() if sock is not None else -1
        self.transport: asyncio.Transport | None = None     # only once TLS is up
        self.addr = "unknown"
        self.username: str | None = None
        self.password: str | None = None
        self.loginups: str | None = None
        self.tracking = False
        self.last_heard = time.time()
        self.ssl = False
        self.tok = Tokenizer()
        self.serviced = True
        self.closed = False
        self.tls_pending = False
        self.reading = False
        self.backlog: list[bytes] = []
        self.wbuf = bytearray()
        self.partial = False        # the tokenizer holds part of a line
        self.watching: list[Ups] = []   # UPSes this client sent WATCH for (upsmon/PUSH.md)

    # -- socket events ------------------------------------------------------------------------------
    def start(self, peer: object) -> None:
        if isinstance(peer, tuple) and peer:
            self.addr = str(peer[0])
        upsdebugx(2, "Connect from %s", self.addr, logger=log)
        self.server.client_connected(self)
        if self.serviced:
            self.resume_reading()

    def resume_reading(self) -> None:
        if not self.reading and not self.closed and self.sock is not None:
            self.reading = True
            self.server.watch(self)

    def pause_reading(self) -> None:
        if self.reading:
            self.reading = False
            self.server.unwatch(self)

    def _on_readable(self) -> None:
        try:
            data = self.sock.recv(65536)        # type: ignore[union-attr]
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.disconnect()
            return
        if not data:
            self.disconnect()
            return
        self.data_received(data)

    def _on_writable(self) -> None:
        try:
            n = self.sock.send(self.wbuf)       # type: ignore[union-attr]
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.disconnect()
            return
        del self.wbuf[:n]
        if not self.wbuf:
            self.server.loop.remove_writer(self.fd)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if not self.serviced or self.tls_pending:
            self.backlog.append(data)
            return
        text = data.decode("latin-1")
        if not self.partial and text.endswith("\n") and _PLAIN.fullmatch(text):
            self._plain_lines(text)
        else:
            self._slow(text)
        if self.last_heard == 0 and not self.closed:
            self.server.loop.call_soon(self._logout_check)

    def _plain_lines(self, text: str) -> None:
        server = self.server
        for line in text.split("\n")[:-1]:
            words = line.split()
            if len(words) > ARG_LIMIT:
                del words[ARG_LIMIT:]
            for i, w in enumerate(words):
                if len(w) > WORDLEN_LIMIT:
                    words[i] = w[:WORDLEN_LIMIT]
            self.tok.lineno += 1
            self.last_heard = time.time()
            server.dispatch(self, words)
            if self.closed or self.tls_pending:
                return

    def _slow(self, text: str) -> None:
        for start in range(0, len(text), READ_CHUNK):
            self._read_piece(text[start:start + READ_CHUNK])
            if self.closed or self.tls_pending:
                return

    def _read_piece(self, piece: str) -> None:
        feed = self.tok.feed_char
        self.partial = True
        for ch in piece:
            line = feed(ch)
            if line is None:
                self.partial = True
                continue
            self.partial = False
            if line.error:
                log.info("Parse error on sock: %s", line.error)
                return
            self.last_heard = time.time()
            self.server.dispatch(self, line.words)
            if self.closed:
                return
            if self.tls_pending:
                # whatever followed STARTTLS in this read belongs to the TLS handshake: NUT hands the
                # socket to the TLS library and these bytes are lost to it as well
                return

    def _too_slow(self) -> None:
        """The client stopped reading and its replies pile up: NUT's write() would fail here and NUT drops
        such a client; so does pnut, which also keeps its memory bounded that way."""
        log.info("write() failed for %s: client does not read its replies", self.addr)
        self.wbuf.clear()
        if self.transport is not None:
            self.transport.abort()          # drop what is queued instead of trickling it out
        self.disconnect()

    def resume_backlog(self) -> None:
        pending, self.backlog = self.backlog, []
        for chunk in pending:
            self.data_received(chunk)

    def _logout_check(self) -> None:
        if self.last_heard == 0:
            self.disconnect()

    # -- replies ----------------------------------------------------------------------------------
    def _write(self, data: bytes) -> bool:
        if self.closed:
            return False
        if self.transport is not None:
            if self.transport.is_closing():
                return False
            self.transport.write(data)
            if self.transport.get_write_buffer_size() > WRITE_BUFFER_MAX:
                self._too_slow()
                return False
            return True
        if self.sock is None:
            return False
        if self.wbuf:
            self.wbuf += data
            if len(self.wbuf) > WRITE_BUFFER_MAX:
                self._too_slow()
                return False
            return True
        try:
            n = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            # NUT: a failed write marks the client for disconnection on the next pass
            self.last_heard = 0
            self.server.loop.call_soon(self._logout_check)
            return False
        if n < len(data):
            self.wbuf += data[n:]
            self.server.loop.add_writer(self.fd, self._on_writable)
        return True

    def send(self, line: str) -> bool:
        """sendback(): one reply line, cut to NUT's answer buffer (a cut line loses its newline)."""
        data = (line + "\n").encode("latin-1", "replace")
        if len(data) > ANSWER_MAX:
            data = data[:ANSWER_MAX]
        return self._write(data)

    def send_lines(self, lines: list[str]) -> None:
        """Several reply lines at once (LIST): each cut as NUT cuts it, written in one go."""
        out = []
        for line in lines:
            data = (line + "\n").encode("latin-1", "replace")
            out.append(data[:ANSWER_MAX] if len(data) > ANSWER_MAX else data)
        self._write(b"".join(out))

    def err(self, code: Err) -> None:
        self.send("ERR " + code.value)

    def detach_socket(self) -> socket.socket | None:
        """Stop watching the socket (for the TLS hand-over); None if replies are still queued."""
        if self.sock is None or self.wbuf:
            return None
        self.pause_reading()
        sock, self.sock = self.sock, None
        return sock

    def disconnect(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.sock is not None:
            loop = self.server.loop
            if self.reading:
                self.server.unwatch(self)
                self.reading = False
            if self.wbuf:
                loop.remove_writer(self.fd)
                self.wbuf.clear()
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        if self.transport is not None:
            self.transport.close()
        self.server.client_gone(self)


class TlsProtocol(asyncio.Protocol):
    """What the SSL transport talks to once a client is in TLS: it hands everything to the Client."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def data_received(self, data: bytes) -> None:
        self.client.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.transport = None
        self.client.disconnect()

    def pause_writing(self) -> None:
        pass            # the write-buffer size is checked on every reply instead


@dataclass
class Listener:
    addr: str
    port: str
    sock: socket.socket | None = None


@dataclass(eq=False)
class Server:
    """All of upsd's state: UPS table, clients, users, descriptions, tracking, TLS context."""

    settings: Settings
    users: Users = field(default_factory=Users)
    desc: Descriptions = field(default_factory=Descriptions)
    tracking: Tracking = field(default_factory=Tracking)
    ups_list: list[Ups] = field(default_factory=list)      # LIST UPS order
    ups_by_name: dict[str, Ups] = field(default_factory=dict)
    clients: dict[Client, None] = field(default_factory=dict)     # connection order
    waiting: dict[Client, None] = field(default_factory=dict)     # over MAXCONN, not serviced yet
    listeners: list[Listener] = field(default_factory=list)
    ssl_ctx: ssl.SSLContext | None = None
    ssl_initialized: bool = False
    commands: dict[str, tuple[Handler, bool]] = field(default_factory=dict)
    loop: asyncio.AbstractEventLoop = field(init=False)
    _tick_handle: asyncio.TimerHandle | None = None
    # Client sockets sit in an epoll set of their own, watched by the loop as one descriptor: one wake-up
    # then serves every client that has something to say, without a loop callback per socket.
    _ep: select.epoll | None = None
    _readers: dict[int, Client] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from pnut.upsd.net_get import net_get
        from pnut.upsd.net_instcmd import net_instcmd
        from pnut.upsd.net_list import net_list
        from pnut.upsd.net_misc import net_fsd, net_help, net_netver, net_ver
        from pnut.upsd.net_set import net_set
        from pnut.upsd.net_user import (
            net_login,
            net_logout,
            net_master,
            net_password,
            net_primary,
            net_username,
        )
        from pnut.upsd.net_watch import net_watch
        from pnut.upsd.tls import net_starttls
        # netcmds.h: name -> (handler, needs USERNAME and PASSWORD first)
        self.commands = {
            "VER": (net_ver, False), "NETVER": (net_netver, False), "PROTVER": (net_netver, False),
            "HELP": (net_help, False), "STARTTLS": (net_starttls, False), "GET": (net_get, False),
            "LIST": (net_list, False), "USERNAME": (net_username, False),
            "PASSWORD": (net_password, False), "LOGIN": (net_login, True), "LOGOUT": (net_logout, False),
            "PRIMARY": (net_primary, True), "MASTER": (net_master, True), "FSD": (net_fsd, True),
            "SET": (net_set, True), "INSTCMD": (net_instcmd, True),
            "WATCH": (net_watch, False),      # pnut's extension (upsmon/PUSH.md); NUT has no such verb
        }

    # -- UPS table ----------------------------------------------------------------------------------
    def get_ups(self, name: str) -> Ups | None:
        return self.ups_by_name.get(name.lower())

    def ups_for(self, client: Client, upsname: str, gate: bool = True) -> Ups | None:
        """The UPS a request names, or None once UNKNOWN-UPS (or, with `gate`, DRIVER-NOT-CONNECTED /
        DATA-STALE) has been answered."""
        ups = self.ups_by_name.get(upsname.lower())
        if ups is None:
            client.err(Err.UNKNOWN_UPS)
            return None
        if gate and not self.available(ups, client):
            return None
        return ups

    def available(self, ups: Ups, client: Client) -> bool:
        """ups_available(): refuse data from a missing or stale driver."""
        if ups.conn is None:
            client.err(Err.DRIVER_NOT_CONNECTED)
            return False
        # NUT re-evaluates staleness on every pass of its loop, i.e. just before serving a request
        sstate.check(ups, self.settings.maxage, time.time())
        if ups.stale:
            client.err(Err.DATA_STALE)
            return False
        return True

    # -- clients ------------------------------------------------------------------------------------
    def watch(self, client: Client) -> None:
        if self._ep is None:
            self._ep = select.epoll()
            self.loop.add_reader(self._ep.fileno(), self._poll_clients)
        self._readers[client.fd] = client
        self._ep.register(client.fd, select.EPOLLIN)

    def unwatch(self, client: Client) -> None:
        if self._readers.pop(client.fd, None) is not None and self._ep is not None:
            try:
                self._ep.unregister(client.fd)
            except OSError:
                pass

    def _poll_clients(self) -> None:
        assert self._ep is not None
        readers = self._readers
        for fd, _ in self._ep.poll(0, 1024):
            client = readers.get(fd)
            if client is not None:
                client._on_readable()

    def capacity(self) -> int:
        """How many clients one poll() pass of NUT would service under MAXCONN."""
        drivers = sum(1 for u in self.ups_list if u.conn is not None)
        return self.settings.maxconn - drivers

    def client_connected(self, client: Client) -> None:
        if len(self.clients) - len(self.waiting) >= self.capacity():
            client.serviced = False
            self.waiting[client] = None
        self.clients[client] = None

    def client_gone(self, client: Client) -> None:
        client.closed = True
        if client not in self.clients:
            return
        upsdebugx(2, "Disconnect from %s", client.addr, logger=log)
        del self.clients[client]
        self.waiting.pop(client, None)
        if client.loginups is not None:
            ups = self.get_ups(client.loginups)
            if ups is not None:
                ups.numlogins -= 1
        for ups in client.watching:
            ups.watchers.pop(client, None)
        client.watching.clear()
        self._admit_waiting()

    def _admit_waiting(self) -> None:
        while self.waiting and len(self.clients) - len(self.waiting) < self.capacity():
            client = next(iter(self.waiting))
            del self.waiting[client]
            client.serviced = True
            if not client.closed:
                client.resume_reading()
                client.resume_backlog()

    def dispatch(self, client: Client, words: list[str]) -> None:
        """parse_net() + check_command()."""
        if not words:
            client.err(Err.UNKNOWN_COMMAND)
            return
        entry = self.commands.get(words[0].upper())
        if entry is None:
            client.err(Err.UNKNOWN_COMMAND)
            return
        handler, needs_user = entry
        if needs_user:
            if client.username is None:
                client.err(Err.USERNAME_REQUIRED)
                return
            if client.password is None:
                client.err(Err.PASSWORD_REQUIRED)
                return
        try:
            handler(self, client, words[1:])
        except Exception:           # a bug must cost one client at most, never the server
            log.exception("internal error handling %s from %s", words[0], client.addr)
            client.disconnect()

    # -- main-loop pass -------------------------------------------------------------------------------
    def start_ticking(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.tick()

    def tick(self) -> None:
        now = time.time()
        try:
            self.tracking.cleanup(now)
            for ups in self.ups_list:
                if ups.conn is None:
                    if not ups.connecting:
                        ups.connecting = True
                        self.loop.create_task(sstate.connect(ups, self.settings.statepath, self.tracking))
                    continue
                sstate.check(ups, self.settings.maxage, now)
            # a watcher says nothing after WATCH: it is waiting for events, not idle
            for client in [c for c in self.clients if now - c.last_heard > IDLE_TIMEOUT and not c.watching]:
                client.disconnect()
            self._admit_waiting()
        finally:
            self._tick_handle = self.loop.call_later(TICK, self.tick)

    # -- listeners ------------------------------------------------------------------------------------
    def bind(self, family: int) -> None:
        """server_load(): bind every LISTEN; only the last one listed must succeed (NUT's quirk)."""
        for lst in reversed(self.listeners):
            lst.sock = bind_tcp(lst.addr, lst.port, family)
            if lst.sock is None:
                log.error("not listening on %s port %s", lst.addr, lst.port)
            else:
                log.info("listening on %s port %s", lst.addr, lst.port)
        if not self.listeners or self.listeners[-1].sock is None:
            from pnut.conf.common import Fatal
            raise Fatal("no listening interface available")

    async def serve(self) -> None:
        """Start accepting on the sockets bind() opened (inside the running loop)."""
        self.loop = asyncio.get_running_loop()
        for lst in self.listeners:
            if lst.sock is not None:
                self.loop.add_reader(lst.sock.fileno(), self._accept, lst.sock)

    def _accept(self, lsock: socket.socket) -> None:
        for _ in range(LISTEN_BACKLOG):
            try:
                sock, peer = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                # out of descriptors (EMFILE...): stop accepting for a second rather than spin on it
                log.error("accept: %s", e.strerror)
                self.loop.remove_reader(lsock.fileno())
                self.loop.call_later(1.0, self.loop.add_reader, lsock.fileno(), self._accept, lsock)
                return
            sock.setblocking(False)
            Client(self, sock).start(peer)

    def close(self) -> None:
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        for lst in self.listeners:
            if lst.sock is not None:
                try:
                    self.loop.remove_reader(lst.sock.fileno())
                except (ValueError, RuntimeError):
                    pass
                lst.sock.close()
        for client in list(self.clients):
            client.disconnect()
        if self._ep is not None:
            self.loop.remove_reader(self._ep.fileno())
            self._ep.close()
            self._ep = None
        for ups in self.ups_list:
            sstate.disconnect(ups)


class GaiError(Exception):
    """getaddrinfo() failed: fatal for upsd, with gai_strerror()'s text."""


def bind_tcp(addr: str, port: str, family: int) -> socket.socket | None:
    """setuptcp(): resolve, then bind the first address that works; None if none does."""
    try:
        infos = socket.getaddrinfo(addr, port, family, socket.SOCK_STREAM, socket.IPPROTO_TCP,
                                   socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise GaiError(e.strerror) from None
    for fam, kind, proto, _, sa in infos:
        try:
            sock = socket.socket(fam, kind, proto)
        except OSError:
            continue
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(sa)
            sock.setblocking(False)
            sock.listen(LISTEN_BACKLOG)
        except OSError:
            sock.close()
            continue
        return sock
    return None
