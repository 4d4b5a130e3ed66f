"""USERNAME, PASSWORD, LOGIN, LOGOUT, PRIMARY and MASTER (server/netuser.c)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pnut.libupsclient.proto import (
    OK_GOODBYE,
    OK_MASTER_GRANTED,
    OK_PRIMARY_GRANTED,
    Err,
)

if TYPE_CHECKING:
    from pnut.upsd.server import Client, Server

log = logging.getLogger("pnut.upsd")


def net_login(srv: Server, client: Client, args: list[str]) -> None:
    if len(args) != 1:
        client.err(Err.INVALID_ARGUMENT)
        return
    if client.loginups is not None:
        log.info("Client %s@%s tried to login twice", client.username, client.addr)
        client.err(Err.ALREADY_LOGGED_IN)
        return
    ups = srv.get_ups(args[0])
    if ups is None:
        client.err(Err.UNKNOWN_UPS)
        return
    if not srv.users.check_action(client.username, client.password, "LOGIN"):
        client.err(Err.ACCESS_DENIED)
        return
    ups.numlogins += 1
    client.loginups = ups.name
    log.info("User %s@%s logged into UPS [%s]%s", client.username, client.addr, ups.name,
             " (SSL)" if client.ssl else "")
    client.send("OK")


def net_logout(srv: Server, client: Client, args: list[str]) -> None:
    if args:
        client.err(Err.INVALID_ARGUMENT)
        return
    if client.loginups is not None:
        log.info("User %s@%s logged out from UPS [%s]%s", client.username, client.addr, client.loginups,
                 " (SSL)" if client.ssl else "")
    client.send(OK_GOODBYE)
    client.last_heard = 0      # shed on the next pass, unless another line arrives first (as NUT)


def _primary(srv: Server, client: Client, args: list[str]) -> bool:
    if len(args) != 1:
        client.err(Err.INVALID_ARGUMENT)
        return False
    if srv.get_ups(args[0]) is None:
        client.err(Err.UNKNOWN_UPS)
        return False
    if not (srv.users.check_action(client.username, client.password, "PRIMARY")
            or srv.users.check_action(client.username, client.password, "MASTER")):
        client.err(Err.ACCESS_DENIED)
        return False
    return True


def net_primary(srv: Server, client: Client, args: list[str]) -> None:
    if _primary(srv, client, args):
        client.send(OK_PRIMARY_GRANTED)


def net_master(srv: Server, client: Client, args: list[str]) -> None:
    log.info("WARNING: Client %s@%s requested MASTER level for device %s - which is deprecated in favor "
             "of PRIMARY since NUT 2.8.0", client.username, client.addr, args[0] if args else "<null>")
    if _primary(srv, client, args):
        client.send(OK_MASTER_GRANTED)


def net_username(srv: Server, client: Client, args: list[str]) -> None:
    if len(args) != 1:
        client.err(Err.INVALID_ARGUMENT)
        return
    if client.username is not None:
        log.info("Client %s@%s tried to set a username twice", client.username, client.addr)
        client.err(Err.ALREADY_SET_USERNAME)
        return
    client.username = args[0]
    client.send("OK")


def net_password(srv: Server, client: Client, args: list[str]) -> None:
    if len(args) != 1:
        client.err(Err.INVALID_ARGUMENT)
        return
    if client.password is not None:
        if client.username is not None:
            log.info("Client %s@%s tried to set a password twice", client.username, client.addr)
        else:
            log.info("Client on %s tried to set a password twice", client.addr)
        client.err(Err.ALREADY_SET_PASSWORD)
        return
    client.password = args[0]
    client.send("OK")
