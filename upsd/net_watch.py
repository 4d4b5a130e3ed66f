"""WATCH: pnut's push extension (upsmon/PUSH.md).  NUT's upsd has no such verb and answers it
ERR UNKNOWN-COMMAND, so no NUT client ever sends it and no existing reply changes.

`WATCH <ups>` adds the connection to the UPS's watchers and answers `OK WATCHING`; from then on
sstate.push() writes `STATUS <ups> "<ups.status>"` / `STALE <ups>` to it as the mirror changes.
No login is needed: a watch reveals nothing `GET VAR <ups> ups.status` does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pnut.libupsclient.proto import Err

if TYPE_CHECKING:
    from pnut.upsd.server import Client, Server

OK_WATCHING = "OK WATCHING"


def net_watch(srv: Server, client: Client, args: list[str]) -> None:
    if len(args) != 1:
        client.err(Err.INVALID_ARGUMENT)
        return
    ups = srv.get_ups(args[0])
    if ups is None:
        client.err(Err.UNKNOWN_UPS)
        return
    if client.closed:
        return
    if client not in ups.watchers:
        ups.watchers[client] = None
        client.watching.append(ups)
    client.send(OK_WATCHING)
