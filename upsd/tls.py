"""STARTTLS (server/netssl.c, OpenSSL flavour): a server certificate and key from one PEM file (CERTFILE).

The handshake runs on the same socket right after `OK STARTTLS`, through asyncio's start_tls, so a TLS
client costs no thread either.
"""

from __future__ import annotations

import logging
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
    if client.transport is not None:
        client.transport.pause_reading()       # the next bytes are the ClientHello: keep them for TLS
    srv.loop.create_task(_handshake(srv, client))


async def _handshake(srv: Server, client: Client) -> None:
    transport = client.transport
    assert transport is not None and srv.ssl_ctx is not None
    try:
        new = await srv.loop.start_tls(transport, client, srv.ssl_ctx, server_side=True,
                                       ssl_handshake_timeout=60)
    except (OSError, ssl.SSLError, ConnectionError, TimeoutError) as e:
        log.error("SSL_accept do not accept handshake: %s", e)
        client.disconnect()
        return
    except Exception as e:  # noqa: BLE001 - start_tls raises others on odd peers; keep the server alive
        log.error("SSL handshake failed: %s", e)
        client.disconnect()
        return
    if new is None:
        client.disconnect()
        return
    client.transport = new          # type: ignore[assignment]
    client.tls_pending = False
    log.debug("SSL connected (%s)", new.get_extra_info("ssl_object").version())
    client.resume_backlog()
