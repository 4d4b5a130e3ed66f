"""STARTTLS (server/netssl.c, OpenSSL flavour): a server certificate and key from one PEM file (CERTFILE).

The handshake runs on the same socket right after `OK STARTTLS`, through asyncio's start_tls, so a TLS
client costs no thread either.
"""

from __future__ import annotations

import logging
import socket
import ssl
from typing import TYPE_CHECKING

from pnut.libupsclient.proto import OK_STARTTLS, Err

if TYPE_CHECKING:
    from pnut.upsd.server import Client, Server

log = logging.getLogger("pnut.upsd")


def make_context(certfile: str, disable_weak: bool) -> ssl.SSLContext | None:
    """ssl_init(): load cert+key; None (STARTTLS then answers FEATURE-NOT-CONFIGURED) if that fails."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if disable_weak:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(certfile)
    except (OSError, ssl.SSLError) as e:
        log.error("Can not load certificate file %s: %s", certfile, e)
        return None
    return ctx


def net_starttls(srv: Server, client: Client, args: list[str]) -> None:
    if client.ssl:
        client.err(Err.ALREADY_SSL_MODE)
        return
    if srv.ssl_ctx is None:
        client.err(Err.FEATURE_NOT_CONFIGURED)
        return
    if not client.send(OK_STARTTLS):
        return
    client.tls_pending = True
    client.ssl = True
    sock = client.detach_socket()       # the next bytes are the ClientHello: they belong to TLS now
    if sock is None:
        client.disconnect()
        return
    srv.loop.create_task(_handshake(srv, client, sock))


async def _handshake(srv: Server, client: Client, sock: socket.socket) -> None:
    from pnut.upsd.server import TlsProtocol
    assert srv.ssl_ctx is not None
    try:
        transport, _ = await srv.loop.connect_accepted_socket(lambda: TlsProtocol(client), sock=sock,
                                                              ssl=srv.ssl_ctx, ssl_handshake_timeout=60)
    except (OSError, ssl.SSLError, ConnectionError, TimeoutError) as e:
        log.error("SSL_accept do not accept handshake: %s", e)
        sock.close()
        client.disconnect()
        return
    except Exception as e:  # noqa: BLE001 - odd peers make asyncio raise other things; keep the server alive
        log.error("SSL handshake failed: %s", e)
        sock.close()
        client.disconnect()
        return
    if client.closed:
        transport.close()
        return
    client.transport = transport        # type: ignore[assignment]
    client.tls_pending = False
    ssl_obj = transport.get_extra_info("ssl_object")
    log.debug("SSL connected (%s)", ssl_obj.version() if ssl_obj else "?")
    client.resume_backlog()
