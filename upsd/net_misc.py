"""VER, NETVER/PROTVER, HELP and FSD (server/netmisc.c)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pnut.libupsclient.proto import HELP_REPLY, NETVER, OK_FSD_SET, VER_REPLY, Err
from pnut.upsd import sstate

if TYPE_CHECKING:
    from pnut.upsd.server import Client, Server

log = logging.getLogger("pnut.upsd")


def net_ver(srv: Server, client: Client, args: list[str]) -> None:
    client.send(VER_REPLY) if not args else client.err(Err.INVALID_ARGUMENT)


def net_netver(srv: Server, client: Client, args: list[str]) -> None:
    client.send(NETVER) if not args else client.err(Err.INVALID_ARGUMENT)


def net_help(srv: Server, client: Client, args: list[str]) -> None:
    client.send(HELP_REPLY) if not args else client.err(Err.INVALID_ARGUMENT)


def net_fsd(srv: Server, client: Client, args: list[str]) -> None:
    if len(args) != 1:
        client.err(Err.INVALID_ARGUMENT)
        return
    ups = srv.get_ups(args[0])
    if ups is None:
        client.err(Err.UNKNOWN_UPS)
        return
    if not srv.users.check_action(client.username, client.password, "FSD"):
        client.err(Err.ACCESS_DENIED)
        return
    log.info("Client %s@%s set FSD on UPS [%s]", client.username, client.addr, ups.name)
    ups.fsd = True
    client.send(OK_FSD_SET)
    sstate.push(ups)            # watchers now see "FSD ..." in ups.status
