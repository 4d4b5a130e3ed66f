"""The asyncio NUT client: the same conversations as client.py (from core.py), over asyncio streams.

    async with await AsyncUpsClient.open("localhost", 3493) as c:
        status = await c.get_var("myups", "ups.status")
"""

from __future__ import annotations

import asyncio
import errno as _errno
import socket
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Self

from pnut.libupsclient import core, errors
from pnut.libupsclient.core import DEFAULT_HOST, DEFAULT_PORT, NETWORK_TIMEOUT, READ

if TYPE_CHECKING:
    from pnut.libupsclient.core import Conversation, T


class AsyncUpsClient:
    """One connection to upsd for asyncio code; methods mirror UpsClient's and raise the same exceptions."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, timeout: float = NETWORK_TIMEOUT,
                 connect_timeout: float | None = None, tryssl: bool = False, forcessl: bool = False,
                 certverify: bool = False, cafile: str | None = None, capath: str | None = None) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.tryssl = tryssl
        self.forcessl = forcessl
        self.certverify = certverify
        self.cafile = cafile
        self.capath = capath
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lines = core.LineBuffer()
        self.ssl = False

    @classmethod
    async def open(cls, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, **kw: Any) -> AsyncUpsClient:
        """Create and connect."""
        self = cls(host, port, **kw)
        await self.connect()
        return self

    async def connect(self) -> None:
        await self.close()
        self._lines = core.LineBuffer()
        if not self.host:
            raise errors.NoSuchHost()
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(self.host, str(self.port), family=socket.AF_UNSPEC,
                                           type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
                raise errors.NoSuchHost() from None
            raise errors.UpsClientError() from None
        failure: errors.UpsClientError | None = None
        for family, _socktype, proto, _canon, addr in infos:
            try:
                self._reader, self._writer = await asyncio.wait_for(
                    asyncio.open_connection(str(addr[0]), int(addr[1]), family=family, proto=proto),
                    self.connect_timeout)
                break
            except TimeoutError:
                continue
            except OSError as exc:
                if exc.errno not in (_errno.EAFNOSUPPORT, _errno.EINVAL):
                    failure = errors.ConnectionFailure(exc.errno or 0)
        else:
            raise failure or errors.UpsClientError()
        if self.tryssl or self.forcessl:
            await self._negotiate_tls()

    async def _negotiate_tls(self) -> None:
        try:
            accepted = await self.run(core.starttls())
        except errors.UpsClientError:
            await self.close()
            if self.forcessl:
                raise errors.SslNotAvailable() from None
            raise
        if not accepted:
            if self.forcessl or self.certverify:
                await self.close()
                raise errors.SslNotAvailable()
            return
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = bool(self.certverify)
        ctx.verify_mode = ssl.CERT_REQUIRED if self.certverify else ssl.CERT_NONE
        if self.cafile or self.capath:
            ctx.load_verify_locations(cafile=self.cafile, capath=self.capath)
        elif self.certverify:
            ctx.load_default_certs()
        assert self._writer is not None
        try:
            await self._writer.start_tls(ctx, server_hostname=self.host if self.certverify else None)
        except (ssl.SSLError, OSError) as exc:
            await self.close()
            raise errors.SslError(0, getattr(exc, "reason", None) or str(exc)) from None
        self.ssl = True

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def close(self) -> None:
        """Send LOGOUT without waiting for the answer, then close (upscli_disconnect)."""
        writer, self._writer, self._reader = self._writer, None, None
        self.ssl = False
        if writer is None:
            return
        try:
            writer.write(b"LOGOUT\n")
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), 1.0)
        except (TimeoutError, OSError):
            pass

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def sendline(self, data: bytes | str) -> None:
        if self._writer is None:
            raise errors.NotConnected()
        if isinstance(data, str):
            data = data.encode("latin-1", "replace")
        if not data:
            raise errors.InvalidArgument()
        try:
            self._writer.write(data)
            await asyncio.wait_for(self._writer.drain(), self.timeout)
        except TimeoutError:
            await self.close()
            raise errors.ServerDisconnected() from None
        except OSError as exc:
            await self.close()
            raise errors.WriteError(exc.errno or 0) from None

    async def readline(self, timeout: float | None = None) -> str:
        if self._reader is None:
            raise errors.NotConnected()
        while True:
            line = self._lines.next_line()
            if line is not None:
                return line
            try:
                data = await asyncio.wait_for(self._reader.read(4096), self.timeout if timeout is None else timeout)
            except TimeoutError:
                data = b""
            except OSError as exc:
                await self.close()
                raise errors.ReadError(exc.errno or 0) from None
            if not data:
                await self.close()
                raise errors.ServerDisconnected()
            self._lines.feed(data)

    async def run(self, conversation: Conversation[T]) -> T:
        try:
            step = next(conversation)
            while True:
                if step is READ:
                    step = conversation.send(await self.readline())
                else:
                    await self.sendline(step)     # type: ignore[arg-type]
                    step = next(conversation)
        except StopIteration as done:
            return done.value                     # type: ignore[no-any-return]

    async def get(self, *query: str) -> list[str]:
        return await self.run(core.get(*query))

    async def list_all(self, *query: str) -> list[list[str]]:
        return await self.run(core.list_(*query))

    async def iter_list(self, *query: str) -> AsyncIterator[list[str]]:
        await self.sendline(core.request("LIST", *query))
        core.parse_list_start(query, await self.readline())
        while True:
            words = core.parse_list_item(query, await self.readline())
            if words is None:
                return
            yield words

    async def get_var(self, ups: str, var: str) -> str:
        return (await self.get("VAR", ups, var))[3]

    async def list_vars(self, ups: str) -> dict[str, str]:
        return {w[2]: w[3] for w in await self.list_all("VAR", ups)}

    async def list_ups(self) -> dict[str, str]:
        return {w[1]: w[2] for w in await self.list_all("UPS")}

    async def list_clients(self, ups: str) -> list[str]:
        return [w[2] for w in await self.list_all("CLIENT", ups)]

    async def list_cmds(self, ups: str) -> list[str]:
        return [w[2] for w in await self.list_all("CMD", ups)]

    async def list_rw(self, ups: str) -> dict[str, str]:
        return {w[2]: w[3] for w in await self.list_all("RW", ups)}

    async def list_enum(self, ups: str, var: str) -> list[str]:
        return [w[3] for w in await self.list_all("ENUM", ups, var)]

    async def list_range(self, ups: str, var: str) -> list[tuple[str, str]]:
        return [(w[3], w[4]) for w in await self.list_all("RANGE", ups, var)]

    async def get_desc(self, ups: str, var: str) -> str:
        return (await self.get("DESC", ups, var))[3]

    async def get_cmddesc(self, ups: str, cmd: str) -> str:
        return (await self.get("CMDDESC", ups, cmd))[3]

    async def get_upsdesc(self, ups: str) -> str:
        return (await self.get("UPSDESC", ups))[2]

    async def get_type(self, ups: str, var: str) -> list[str]:
        return (await self.get("TYPE", ups, var))[3:]

    async def authenticate(self, username: str | None = None, password: str | None = None,
                           ups: str | None = None) -> None:
        await self.run(core.login(username, password, ups))

    async def instcmd(self, ups: str, cmd: str, value: str | None = None) -> str:
        text = f"INSTCMD {ups} {cmd}" + (f" {value}" if value is not None else "")
        return await self.run(core.command(text))

    async def set_var(self, ups: str, var: str, value: str) -> str:
        await self.sendline(core.set_var_request(ups, var, value))
        line = await self.readline()
        core.check_error(line)
        return line


async def fetch_vars(ups: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, username: str | None = None,
                     password: str | None = None, login: bool = False, tryssl: bool = True,
                     timeout: float = NETWORK_TIMEOUT) -> dict[str, str]:
    """The asyncio twin of client.fetch_vars()."""
    c = AsyncUpsClient(host, port, timeout=timeout, tryssl=tryssl)
    await c.connect()
    try:
        await c.authenticate(username, password, ups if login else None)
        return await c.list_vars(ups)
    finally:
        await c.close()
