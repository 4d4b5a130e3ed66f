"""LIST handlers (server/netlist.c): UPS, VAR, RW, CMD, CLIENT, ENUM, RANGE."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pnut.conf.parseconf import encode
from pnut.drivers.state import Flag
from pnut.libupsclient.proto import DESC_UNAVAILABLE, Err

if TYPE_CHECKING:
    from pnut.upsd.server import Client, Server


def list_var(srv: Server, client: Client, upsname: str, rw: bool) -> None:
    ups = srv.ups_for(client, upsname)
    if ups is None:
        return
    kind = "RW" if rw else "VAR"
    lines = [f"BEGIN LIST {kind} {upsname}"]
    for node in ups.tree:
        if rw:
            if node.flags & Flag.RW:
                lines.append(f'RW {upsname} {node.name} "{node.value}"')
        elif ups.fsd and node.name.lower() == "ups.status":
            lines.append(f'VAR {upsname} {node.name} "FSD {node.value}"')
        else:
            lines.append(f'VAR {upsname} {node.name} "{node.value}"')
    lines.append(f"END LIST {kind} {upsname}")
    client.send_lines(lines)


def list_cmd(srv: Server, client: Client, upsname: str) -> None:
    ups = srv.ups_for(client, upsname)
    if ups is None:
        return
    lines = [f"BEGIN LIST CMD {upsname}"]
    lines += [f"CMD {upsname} {cmd}" for cmd in ups.tree.iter_commands()]
    lines.append(f"END LIST CMD {upsname}")
    client.send_lines(lines)


def list_enum_range(srv: Server, client: Client, upsname: str, var: str, kind: str) -> None:
    ups = srv.ups_for(client, upsname)
    if ups is None:
        return
    node = ups.tree.get(var)
    if node is None:
        client.err(Err.VAR_NOT_SUPPORTED)
        return
    lines = [f"BEGIN LIST {kind} {upsname} {var}"]
    if kind == "ENUM":
        lines += [f'ENUM {upsname} {var} "{e}"' for e in node.enums]
    else:
        lines += [f'RANGE {upsname} {var} "{lo}" "{hi}"' for lo, hi in node.ranges]
    lines.append(f"END LIST {kind} {upsname} {var}")
    client.send_lines(lines)


def list_ups(srv: Server, client: Client) -> None:
    lines = ["BEGIN LIST UPS"]
    for ups in srv.ups_list:
        desc = encode(ups.desc)[:511] if ups.desc is not None else DESC_UNAVAILABLE
        lines.append(f'UPS {ups.name} "{desc}"')
    lines.append("END LIST UPS")
    client.send_lines(lines)


def list_clients(srv: Server, client: Client, upsname: str) -> None:
    ups = srv.ups_for(client, upsname, gate=False)
    if ups is None:
        return
    lines = [f"BEGIN LIST CLIENT {upsname}"]
    want = ups.name.lower()
    for c in reversed(srv.clients):           # NUT keeps its client list newest first
        if c.loginups is not None and c.loginups.lower() == want:
            lines.append(f"CLIENT {c.loginups} {c.addr}")
    lines.append(f"END LIST CLIENT {upsname}")
    client.send_lines(lines)


def net_list(srv: Server, client: Client, args: list[str]) -> None:
    n = len(args)
    if n < 1:
        client.err(Err.INVALID_ARGUMENT)
        return
    sub = args[0].upper()
    if sub == "UPS":
        list_ups(srv, client)
        return
    if n < 2:
        client.err(Err.INVALID_ARGUMENT)
        return
    if sub == "VAR":
        list_var(srv, client, args[1], rw=False)
        return
    if sub == "RW":
        list_var(srv, client, args[1], rw=True)
        return
    if sub == "CMD":
        list_cmd(srv, client, args[1])
        return
    if sub == "CLIENT":
        list_clients(srv, client, args[1])
        return
    if n < 3:
        client.err(Err.INVALID_ARGUMENT)
        return
    if sub in ("ENUM", "RANGE"):
        list_enum_range(srv, client, args[1], args[2], sub)
        return
    client.err(Err.INVALID_ARGUMENT)
