"""SET handlers (server/netset.c): SET VAR and SET TRACKING."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pnut.conf.parseconf import encode
from pnut.conf.upsdconf import atoi
from pnut.drivers.state import Flag
from pnut.libupsclient.proto import Err
from pnut.upsd import sstate

if TYPE_CHECKING:
    from pnut.upsd.server import Client, Server

log = logging.getLogger("pnut.upsd")


def set_var(srv: Server, client: Client, upsname: str, var: str, value: str, tid: str) -> None:
    ups = srv.ups_for(client, upsname)
    if ups is None:
        return
    if not srv.users.check_action(client.username, client.password, "SET"):
        client.err(Err.ACCESS_DENIED)
        return
    node = ups.tree.get(var)
    if node is None:
        client.err(Err.VAR_NOT_SUPPORTED)
        return
    if not node.flags & Flag.RW:
        client.err(Err.READONLY)
        return
    if node.flags & Flag.STRING:
        if node.aux < 1:
            log.warning("UPS [%s]: auxdata for %s is invalid", ups.name, var)
            client.err(Err.SET_FAILED)
            return
        if node.aux < len(value):
            client.err(Err.TOO_LONG)
            return
    # enum values are kept escaped and compared as stored, exactly (NUT's strcmp)
    if node.enums and value not in node.enums:
        client.err(Err.INVALID_VALUE)
        return
    if node.ranges:
        n = atoi(value)
        if not any(lo <= n <= hi for lo, hi in node.ranges):
            client.err(Err.INVALID_VALUE)
            return
    line = f'SET {var} "{encode(value)[:511]}"'
    if tid:
        line += f" TRACKING {tid}"
        srv.tracking.add(tid)
    log.info("Set variable: %s@%s set %s on %s to %s (tracking ID: %s)", client.username, client.addr,
             var, ups.name, value, tid or "disabled")
    if not sstate.sendline(ups, line[:510] + "\n"):
        log.info("Set command send failed")
        client.err(Err.SET_FAILED)
        return
    client.send(f"OK TRACKING {tid}" if tid else "OK")


def net_set(srv: Server, client: Client, args: list[str]) -> None:
    if len(args) < 2:
        client.err(Err.INVALID_ARGUMENT)
        return
    sub = args[0].upper()
    if sub == "VAR":
        if len(args) < 4:
            client.err(Err.INVALID_ARGUMENT)
            return
        tid = srv.tracking.new_id() if client.tracking else ""
        set_var(srv, client, args[1], args[2], args[3], tid)
        return
    if sub == "TRACKING":
        mode = args[1].upper()
        if mode == "ON":
            srv.tracking.enabled = True
            client.tracking = True
        elif mode == "OFF":
            client.tracking = False
        else:
            client.err(Err.INVALID_ARGUMENT)
            return
        client.send("OK")
        return
    client.err(Err.INVALID_ARGUMENT)
