"""WATCH (pnut's push extension, upsmon/PUSH.md) inside upsd, without a driver: the verb's replies, the
events the mirror pushes as driver lines arrive, clean-up on disconnect, and a watcher that never reads."""

from __future__ import annotations

import asyncio
import socket
import types

from pnut.conf.upsdconf import parse_upsd_users
from pnut.upsd import server as server_mod
from pnut.upsd import sstate
from pnut.upsd.server import Client, Server
from pnut.upsd.sstate import parse_args
from pnut.upsd.tracking import Tracking
from pnut.upsd.users import Users
from tests.unit.test_upsd_core import _client, _server


def _connected(srv: Server) -> sstate.Ups:
    """Pretend the driver is connected (no socket: nothing here writes to it)."""
    ups = srv.get_ups("dummy")
    assert ups is not None
    ups.conn = types.SimpleNamespace(closed=False, transport=None, send=lambda line: True)  # type: ignore[assignment]
    ups.stale = False
    ups.last_heard = server_mod.time.time()
    return ups


def _feed(ups: sstate.Ups, *lines: list[str]) -> None:
    for words in lines:
        assert parse_args(ups, words, _TRACKING)


_TRACKING = Tracking()


def test_watch_replies():
    async def go():
        srv = _server()
        srv.loop = asyncio.get_running_loop()
        c, t = _client(srv)
        c.data_received(b"WATCH\nWATCH nope\nWATCH a b\nWATCH DUMMY\nWATCH dummy\n")
        assert t.data == (b"ERR INVALID-ARGUMENT\nERR UNKNOWN-UPS\nERR INVALID-ARGUMENT\n"
                          b"OK WATCHING\nOK WATCHING\n")
        ups = srv.get_ups("dummy")
        assert list(ups.watchers) == [c] and c.watching == [ups]       # asked twice, watching once
        # a watch needs no login and is no login: NUMLOGINS is untouched
        assert ups.numlogins == 0 and c.username is None
        # other commands are still answered on a watching connection, LOGOUT ends it
        c.data_received(b"VER\nLOGOUT\n")
        await asyncio.sleep(0)
        assert t.data == (b"Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/\n"
                          b"OK Goodbye\n")
        assert t.closed and not ups.watchers and c not in srv.clients
        srv.close()
    asyncio.run(go())


def test_events_follow_the_mirror():
    async def go():
        srv = _server()
        srv.loop = asyncio.get_running_loop()
        ups = _connected(srv)
        _quiet, tq = _client(srv)               # connected but not watching: hears nothing
        c, t = _client(srv)
        c.data_received(b"WATCH dummy\n")
        assert t.data == b"OK WATCHING\n"
        _feed(ups, ["SETINFO", "ups.status", "OL"])
        assert t.data == b'STATUS dummy "OL"\n'
        _feed(ups, ["SETINFO", "ups.status", "OL"], ["SETINFO", "battery.charge", "90"],
              ["SETINFO", "ups.status", "ol"])      # NUT compares values case-insensitively: no change
        assert t.data == b""
        _feed(ups, ["SETINFO", "ups.status", "OB DISCHRG"])
        assert t.data == b'STATUS dummy "OB DISCHRG"\n'
        _feed(ups, ["SETINFO", "ups.status", 'odd"one'])
        assert t.data == b'STATUS dummy "odd\\"one"\n'       # quoted as a VAR reply quotes it
        _feed(ups, ["SETINFO", "ups.status", "OB DISCHRG"], ["DATAOK"], ["DUMPDONE"])
        assert t.data == b'STATUS dummy "OB DISCHRG"\n'
        # the driver says its data is stale: once, not again when upsd's own check notices it
        _feed(ups, ["DATASTALE"])
        assert t.data == b"STALE dummy\n"
        sstate.check(ups, srv.settings.maxage, server_mod.time.time())
        assert ups.stale and t.data == b""
        _feed(ups, ["DATAOK"])
        sstate.check(ups, srv.settings.maxage, server_mod.time.time())
        assert t.data == b'STATUS dummy "OB DISCHRG"\n'    # fresh again: what clients now see
        # upsd's own staleness (nothing heard for MAXAGE)
        sstate.check(ups, srv.settings.maxage, server_mod.time.time() + srv.settings.maxage + 1)
        assert t.data == b"STALE dummy\n"
        ups.last_heard = server_mod.time.time()
        sstate.check(ups, srv.settings.maxage, server_mod.time.time())
        assert t.data == b'STATUS dummy "OB DISCHRG"\n'
        # FSD shows in ups.status as GET VAR shows it
        u, tu = _client(srv)
        srv.users = Users(parse_upsd_users("[admin]\n password = pw\n upsmon primary\n"))
        u.data_received(b"USERNAME admin\nPASSWORD pw\nFSD dummy\nGET VAR dummy ups.status\n")
        assert tu.data == b'OK\nOK\nOK FSD-SET\nVAR dummy ups.status "FSD OB DISCHRG"\n'
        assert t.data == b'STATUS dummy "FSD OB DISCHRG"\n'
        # the driver goes away
        sstate.disconnect(ups)
        assert t.data == b"STALE dummy\n"
        assert tq.data == b""
        srv.close()
    asyncio.run(go())


def test_disconnect_and_idle():
    async def go():
        srv = _server()
        srv.loop = asyncio.get_running_loop()
        ups = _connected(srv)
        c1, t1 = _client(srv)
        c2, t2 = _client(srv)
        c3, t3 = _client(srv)
        for c, t in ((c1, t1), (c2, t2)):
            c.data_received(b"WATCH dummy\n")
            assert t.data == b"OK WATCHING\n"
        now = server_mod.time.time()
        for c in (c1, c2, c3):
            c.last_heard = now - 61
        ups.last_heard = now
        srv.tick()                              # a watcher waits for events: it is not idle
        assert not t1.closed and not t2.closed and t3.closed
        t2.sock.close()                         # the watcher hangs up
        await asyncio.sleep(0.05)
        assert c2.closed and list(ups.watchers) == [c1]
        _feed(ups, ["SETINFO", "ups.status", "OB"])
        assert t1.data == b'STATUS dummy "OB"\n'
        srv.close()
        assert not ups.watchers
    asyncio.run(go())


def test_a_watcher_that_never_reads_is_dropped():
    async def go():
        srv = _server()
        srv.loop = asyncio.get_running_loop()
        ups = _connected(srv)
        mine, theirs = socket.socketpair()
        for s in (mine, theirs):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        mine.setblocking(False)
        slow = Client(srv, mine)
        slow.start(("127.0.0.1", 1))
        slow.data_received(b"WATCH dummy\n")
        good, tg = _client(srv)
        good.data_received(b"WATCH dummy\n")
        assert tg.data == b"OK WATCHING\n"
        got = 0
        peak = 0
        n = 0
        while slow in ups.watchers:
            n += 1
            assert n < 200_000, "a watcher that never reads was never dropped"
            _feed(ups, ["SETINFO", "ups.status", f"OL {n % 2}"])
            peak = max(peak, len(slow.wbuf))
            if n % 500 == 0:
                got += tg.data.count(b"\n")
                await asyncio.sleep(0)          # let the loop write what is queued for readers
        for _ in range(5):
            await asyncio.sleep(0)
            got += tg.data.count(b"\n")
        assert got == n                         # the others heard every change meanwhile
        assert slow.closed and slow not in srv.clients and not slow.wbuf
        assert peak <= server_mod.WRITE_BUFFER_MAX
        _feed(ups, ["SETINFO", "ups.status", "OB"])
        assert tg.data == b'STATUS dummy "OB"\n'
        theirs.close()
        srv.close()
    asyncio.run(go())
