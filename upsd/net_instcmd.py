"""INSTCMD handler (server/netinstcmd.c)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pnut.conf.parseconf import encode
from pnut.libupsclient.proto import Err
from pnut.upsd import sstate

if TYPE_CHECKING:
    from pnut.upsd.server import Client, Server

log = logging.getLogger("pnut.upsd")


def net_instcmd(srv: Server, client: Client, args: list[str]) -> None:
    if len(args) < 2:
        client.err(Err.INVALID_ARGUMENT)
        return
    upsname, cmd = args[0], args[1]
    # NUT uses the parameter only when exactly one follows the command; more words drop it
    param = args[2] if len(args) == 3 else None
    tid = srv.tracking.new_id() if client.tracking else ""
    ups = srv.ups_for(client, upsname)
    if ups is None:
        return
    # the command must exist before rights are looked at (the reverse of SET)
    if not ups.tree.hascmd(cmd):
        client.err(Err.CMD_NOT_SUPPORTED)
        return
    if not srv.users.check_instcmd(client.username, client.password, cmd):
        client.err(Err.ACCESS_DENIED)
        return
    line = f"INSTCMD {cmd}"
    if param is not None:
        line += " " + encode(param)[:511]      # encoded but not quoted, as NUT sends it
    if tid:
        line += f" TRACKING {tid}"
        srv.tracking.add(tid)
    log.info("Instant command: %s@%s did %s%s%s on %s (tracking ID: %s)", client.username, client.addr,
             cmd, " with value " if param is not None else "", param or "", ups.name, tid or "disabled")
    if not sstate.sendline(ups, line[:510] + "\n"):
        log.info("Set command send failed")
        client.err(Err.INSTCMD_FAILED)
        return
    client.send(f"OK TRACKING {tid}" if tid else "OK")
