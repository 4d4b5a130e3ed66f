"""GET handlers (server/netget.c): VAR, TYPE, DESC, CMDDESC, UPSDESC, NUMLOGINS, NUMATTACH, TRACKING."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pnut.conf import NUT_VERSION
from pnut.conf.parseconf import encode
from pnut.drivers.state import Flag
from pnut.libupsclient.proto import (
    DESC_UNAVAILABLE,
    UPSDESC_UNAVAILABLE,
    VER_REPLY,
    Err,
)

if TYPE_CHECKING:
    from pnut.upsd.server import Client, Server


def get_numlogins(srv: Server, client: Client, upsname: str, word: str = "NUMLOGINS") -> None:
    ups = srv.ups_for(client, upsname)
    if ups is None:
        return
    client.send(f"{word} {upsname} {ups.numlogins}")


def get_upsdesc(srv: Server, client: Client, upsname: str) -> None:
    ups = srv.ups_for(client, upsname, gate=False)
    if ups is None:
        return
    desc = encode(ups.desc)[:511] if ups.desc is not None else UPSDESC_UNAVAILABLE
    client.send(f'UPSDESC {upsname} "{desc}"')


def get_desc(srv: Server, client: Client, upsname: str, name: str, cmd: bool) -> None:
    ups = srv.ups_for(client, upsname)
    if ups is None:
        return
    if cmd:
        text = srv.desc.cmd(name)
        client.send(f'CMDDESC {upsname} {name} "{text if text is not None else DESC_UNAVAILABLE}"')
    else:
        text = srv.desc.var(name)
        client.send(f'DESC {upsname} {name} "{text if text is not None else DESC_UNAVAILABLE}"')


def get_type(srv: Server, client: Client, upsname: str, var: str) -> None:
    ups = srv.ups_for(client, upsname)
    if ups is None:
        return
    node = ups.tree.get(var)
    if node is None:
        client.err(Err.VAR_NOT_SUPPORTED)
        return
    words = [f"TYPE {upsname} {var}"[:511]]
    if node.flags & Flag.RW:
        words.append("RW")
    if node.enums:
        words.append("ENUM")
    if node.ranges:
        words.append("RANGE")
    head = " ".join(words)[:511]
    if node.flags & Flag.STRING:
        client.send(f"{head} STRING:{node.aux}")
    else:
        client.send(f"{head} NUMBER")


def get_var(srv: Server, client: Client, upsname: str, var: str) -> None:
    if var[:7].lower() == "server.":
        low = var.lower()
        if low == "server.info":
            client.send(f'VAR {upsname} server.info "{VER_REPLY}"')
        elif low == "server.version":
            client.send(f'VAR {upsname} server.version "{NUT_VERSION}"')
        else:
            client.err(Err.VAR_NOT_SUPPORTED)
        return
    ups = srv.ups_for(client, upsname)
    if ups is None:
        return
    node = ups.tree.get(var)
    if node is None:
        client.err(Err.VAR_NOT_SUPPORTED)
        return
    value = node.value
    if ups.fsd and var.lower() == "ups.status":
        client.send(f'VAR {upsname} {var} "FSD {value}"')
    else:
        client.send(f'VAR {upsname} {var} "{value}"')


def net_get(srv: Server, client: Client, args: list[str]) -> None:
    n = len(args)
    if n < 1:
        client.err(Err.INVALID_ARGUMENT)
        return
    sub = args[0].upper()
    if sub == "TRACKING":
        if n < 2:
            client.send("ON" if client.tracking else "OFF")
        elif client.tracking:
            client.send(srv.tracking.get(args[1]))
        else:
            client.err(Err.FEATURE_NOT_CONFIGURED)
        return
    if n < 2:
        client.err(Err.INVALID_ARGUMENT)
        return
    if sub == "NUMLOGINS":
        get_numlogins(srv, client, args[1])
        return
    if sub == "NUMATTACH":
        # newer than 2.8.0: the same count, answered under its own name
        get_numlogins(srv, client, args[1], "NUMATTACH")
        return
    if sub == "UPSDESC":
        get_upsdesc(srv, client, args[1])
        return
    if n < 3:
        client.err(Err.INVALID_ARGUMENT)
        return
    if sub == "VAR":
        get_var(srv, client, args[1], args[2])
    elif sub == "TYPE":
        get_type(srv, client, args[1], args[2])
    elif sub == "DESC":
        get_desc(srv, client, args[1], args[2], cmd=False)
    elif sub == "CMDDESC":
        get_desc(srv, client, args[1], args[2], cmd=True)
    else:
        client.err(Err.INVALID_ARGUMENT)
