"""The blocking NUT client (upscli_connect, upscli_get, upscli_list_*, upscli_sendline/readline, ...).

Plain sockets and select-free timeouts; it imports neither asyncio nor ssl nor logging until it needs them,
so one-shot programs such as upsc start fast.
"""

from __future__ import annotations

import errno as _errno
import os
from collections.abc import Callable, Iterator

try:
    # The C module itself: socket.py's enum wrappers alone cost upsc ~3 ms of start-up (an eighth of the
    # interpreter's), and nothing here needs them.  socket.py is only loaded for TLS.
    import _socket as socket
except ImportError:     # pragma: no cover - every CPython has _socket
    import socket  # type: ignore[no-redef]

from pnut.libupsclient import core, errors
from pnut.libupsclient.core import DEFAULT_HOST, DEFAULT_PORT, NETWORK_TIMEOUT, READ

TYPE_CHECKING = False     # importing typing would cost upsc ~3 ms of start-up
if TYPE_CHECKING:
    import ssl as _ssl
    from typing import Any, Self

    from pnut.libupsclient.core import Conversation, T


log_sink: Callable[[str, str], None] | None = None
"""When set, the library's few messages (around TLS) go to log_sink(level, text) instead of the
'pnut.libupsclient' logger; NUT's client programs set it to print them on stderr as upslogx() does."""


def _log(level: str, msg: str, *args: object) -> None:
    if log_sink is not None:
        log_sink(level, msg % args)
        return
    import logging  # only on the rare paths that log (TLS), to keep start-up cheap
    getattr(logging.getLogger("pnut.libupsclient"), level)(msg, *args)


def open_socket(host: str, port: int, timeout: float | None = None) -> Any:
    """Resolve `host` and connect to the first address that accepts, as upscli_tryconnect() does.

    Raises NoSuchHost, ConnectionFailure (with the last errno) or UpsClientError('Unknown error').
    """
    if not host:
        raise errors.NoSuchHost()
    tries = 0
    while True:
        try:
            # an ASCII name goes as bytes: a str would load the idna codec (another millisecond)
            name: str | bytes = host.encode("ascii") if host.isascii() else host
            infos = socket.getaddrinfo(name, str(port).encode(), socket.AF_UNSPEC, socket.SOCK_STREAM,
                                       socket.IPPROTO_TCP)
            break
        except socket.gaierror as exc:
            if exc.errno == socket.EAI_AGAIN and tries < 3:    # NUT retries EAI_AGAIN (forever)
                tries += 1
                continue
            if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
                raise errors.NoSuchHost() from None
            raise errors.UpsClientError() from None
    failure: errors.UpsClientError | None = None
    for family, socktype, proto, _canon, addr in infos:
        try:
            sock = socket.socket(family, socktype, proto)
        except OSError as exc:
            if exc.errno not in (_errno.EAFNOSUPPORT, _errno.EINVAL):
                failure = errors.UpsClientError(f"socket failure: {os.strerror(exc.errno or 0)}")
            continue
        sock.settimeout(timeout)
        try:
            sock.connect(addr)
        except OSError as exc:
            sock.close()
            if isinstance(exc, TimeoutError) and exc.errno is None:
                continue                                        # NUT: a timed-out attempt leaves no error
            if exc.errno != _errno.EAFNOSUPPORT:
                failure = errors.ConnectionFailure(exc.errno or 0)
            continue
        sock.settimeout(None)
        return sock
    raise failure or errors.UpsClientError()


class UpsClient:
    """One connection to upsd, used from one thread.

    >>> with UpsClient("localhost", 3493) as c:
    ...     c.get_var("myups", "ups.status")
    'OL'

    Every failure raises a subclass of UpsClientError whose text is NUT's; ERR replies raise the class for
    their code (UnknownUps, AccessDenied, DataStale, ...).  `tryssl` offers STARTTLS and carries on in clear
    if the server declines; `forcessl` makes that an error (SslNotAvailable).
    """

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, timeout: float = NETWORK_TIMEOUT,
                 connect_timeout: float | None = None, tryssl: bool = False, forcessl: bool = False,
                 certverify: bool = False, cafile: str | None = None, capath: str | None = None,
                 connect: bool = True) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.tryssl = tryssl
        self.forcessl = forcessl
        self.certverify = certverify
        self.cafile = cafile
        self.capath = capath
        self._sock: Any = None
        self._lines = core.LineBuffer()
        self.ssl = False
        if connect:
            self.connect()

    # --- connection ---------------------------------------------------------------------------------

    def connect(self) -> None:
        """(Re)connect, offering STARTTLS when tryssl/forcessl was asked for."""
        self.close()
        self._lines = core.LineBuffer()
        self._sock = open_socket(self.host, self.port, self.connect_timeout)
        if self.tryssl or self.forcessl:
            self._negotiate_tls()

    def _negotiate_tls(self) -> None:
        try:
            accepted = self.run(core.starttls())
        except errors.UpsClientError:
            if self.forcessl:
                _log("error", "Can not connect to NUT server %s in SSL, disconnect", self.host)
                self.close()
                raise errors.SslNotAvailable() from None
            _log("info", "Error while connecting to NUT server %s, disconnect", self.host)
            self.close()
            raise
        if not accepted:
            if self.forcessl:
                _log("error", "Can not connect to NUT server %s in SSL, disconnect", self.host)
                self.close()
                raise errors.SslNotAvailable()
            if self.certverify:
                _log("info", "Can not connect to NUT server %s in SSL and certificate is needed, disconnect",
                     self.host)
                self.close()
                raise errors.SslNotAvailable()
            return
        import socket as socket_py
        import ssl
        ctx = self._ssl_context(ssl)
        try:
            plain = socket_py.socket(fileno=self._sock.detach())
            self._sock = ctx.wrap_socket(plain, server_hostname=self.host if self.certverify else None)
        except (ssl.SSLError, OSError) as exc:
            self.close()
            raise errors.SslError(0, getattr(exc, "reason", None) or str(exc)) from None
        self.ssl = True
        _log("info", "Connected to NUT server %s in SSL", self.host)
        if not self.certverify:
            _log("warning", "Certificate verification is disabled")

    def _ssl_context(self, ssl: Any) -> _ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = bool(self.certverify)
        ctx.verify_mode = ssl.CERT_REQUIRED if self.certverify else ssl.CERT_NONE
        if self.cafile or self.capath:
            ctx.load_verify_locations(cafile=self.cafile, capath=self.capath)
        elif self.certverify:
            ctx.load_default_certs()
        return ctx

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def fileno(self) -> int:
        return self._sock.fileno() if self._sock is not None else -1

    def close(self) -> None:
        """upscli_disconnect(): send LOGOUT without waiting for the answer, then close."""
        sock, self._sock = self._sock, None
        self.ssl = False
        if sock is None:
            return
        try:
            sock.settimeout(0)
            sock.send(b"LOGOUT\n")
        except OSError:
            pass
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- raw lines ----------------------------------------------------------------------------------

    def sendline(self, data: bytes | str) -> None:
        """Send one line as given (add the newline yourself); failures close the connection."""
        if self._sock is None:
            raise errors.NotConnected()
        if isinstance(data, str):
            data = data.encode("latin-1", "replace")
        if not data:
            raise errors.InvalidArgument()
        try:
            self._sock.settimeout(self.timeout)
            self._sock.sendall(data)
        except TimeoutError:
            self.close()
            raise errors.ServerDisconnected() from None
        except OSError as exc:
            self.close()
            raise (errors.SslError(0, str(exc)) if self.ssl else errors.WriteError(exc.errno or 0)) from None

    def readline(self, timeout: float | None = None) -> str:
        """The next reply line without its newline, unchecked; no reply within the timeout = disconnected."""
        if self._sock is None:
            raise errors.NotConnected()
        while True:
            line = self._lines.next_line()
            if line is not None:
                return line
            try:
                self._sock.settimeout(self.timeout if timeout is None else timeout)
                data = self._sock.recv(4096)
            except TimeoutError:
                data = b""
            except OSError as exc:
                self.close()
                raise (errors.SslError(0, str(exc)) if self.ssl else errors.ReadError(exc.errno or 0)) from None
            if not data:
                self.close()
                raise errors.ServerDisconnected()
            self._lines.feed(data)

    def run(self, conversation: Conversation[T]) -> T:
        """Drive one core conversation over this connection."""
        try:
            step = next(conversation)
            while True:
                if step is READ:
                    step = conversation.send(self.readline())
                else:
                    self.sendline(step)     # type: ignore[arg-type]
                    step = next(conversation)
        except StopIteration as done:
            return done.value               # type: ignore[no-any-return]

    # --- queries ------------------------------------------------------------------------------------

    def get(self, *query: str) -> list[str]:
        """GET <query...>: the reply's words."""
        return self.run(core.get(*query))

    def list_all(self, *query: str) -> list[list[str]]:
        """LIST <query...>: the words of every item line."""
        return self.run(core.list_(*query))

    def iter_list(self, *query: str) -> Iterator[list[str]]:
        """LIST <query...> item by item, as NUT's clients print while reading."""
        self.sendline(core.request("LIST", *query))
        core.parse_list_start(query, self.readline())
        while True:
            words = core.parse_list_item(query, self.readline())
            if words is None:
                return
            yield words

    def get_var(self, ups: str, var: str) -> str:
        return self.get("VAR", ups, var)[3]

    def list_vars(self, ups: str) -> dict[str, str]:
        return {w[2]: w[3] for w in self.list_all("VAR", ups)}

    def list_ups(self) -> dict[str, str]:
        """UPS name -> description."""
        return {w[1]: w[2] for w in self.list_all("UPS")}

    def list_clients(self, ups: str) -> list[str]:
        return [w[2] for w in self.list_all("CLIENT", ups)]

    def list_cmds(self, ups: str) -> list[str]:
        return [w[2] for w in self.list_all("CMD", ups)]

    def list_rw(self, ups: str) -> dict[str, str]:
        return {w[2]: w[3] for w in self.list_all("RW", ups)}

    def list_enum(self, ups: str, var: str) -> list[str]:
        return [w[3] for w in self.list_all("ENUM", ups, var)]

    def list_range(self, ups: str, var: str) -> list[tuple[str, str]]:
        return [(w[3], w[4]) for w in self.list_all("RANGE", ups, var)]

    def get_desc(self, ups: str, var: str) -> str:
        return self.get("DESC", ups, var)[3]

    def get_cmddesc(self, ups: str, cmd: str) -> str:
        return self.get("CMDDESC", ups, cmd)[3]

    def get_upsdesc(self, ups: str) -> str:
        return self.get("UPSDESC", ups)[2]

    def get_type(self, ups: str, var: str) -> list[str]:
        return self.get("TYPE", ups, var)[3:]

    # --- commands -----------------------------------------------------------------------------------

    def authenticate(self, username: str | None = None, password: str | None = None,
                     ups: str | None = None) -> None:
        """USERNAME, PASSWORD and LOGIN, each only when given; an ERR reply raises its class."""
        self.run(core.login(username, password, ups))

    def instcmd(self, ups: str, cmd: str, value: str | None = None) -> str:
        """INSTCMD; returns the OK line (`OK` or `OK TRACKING <id>`)."""
        text = f"INSTCMD {ups} {cmd}" + (f" {value}" if value is not None else "")
        return self.run(core.command(text))

    def set_var(self, ups: str, var: str, value: str) -> str:
        """SET VAR; returns the OK line."""
        self.sendline(core.set_var_request(ups, var, value))
        line = self.readline()
        core.check_error(line)
        return line


def fetch_vars(ups: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, username: str | None = None,
               password: str | None = None, login: bool = False, tryssl: bool = True,
               timeout: float = NETWORK_TIMEOUT) -> dict[str, str]:
    """Connect, optionally authenticate (and LOGIN), and return `LIST VAR ups` as a dict.

    The one-call form a repeating driver needs (dummy-ups `port = ups@host[:port]`); raises UpsClientError
    subclasses with NUT's texts.
    """
    with UpsClient(host, port, timeout=timeout, tryssl=tryssl) as c:
        c.authenticate(username, password, ups if login else None)
        return c.list_vars(ups)
