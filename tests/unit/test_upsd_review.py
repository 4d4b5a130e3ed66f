"""Review of what upsd tells upsmon in an outage (NUT 2.8.0 server/upsd.c, sstate.c, netuser.c, netmisc.c and
drivers/dstate.c): logins counted right, the FSD latch, a dead driver never looking alive."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from pnut.drivers.dstate import Conn
from pnut.drivers.main import Core, Driver
from pnut.libupsclient.proto import Err
from pnut.upsd import sstate
from pnut.upsd.net_get import net_get
from pnut.upsd.net_misc import net_fsd
from pnut.upsd.net_user import net_login
from pnut.upsd.server import Client, Server, Settings
from pnut.upsd.sstate import DriverConn, Ups
from pnut.upsd.tracking import Tracking


class Replies(Client):
    """A client without a socket that keeps what it is told."""

    def __init__(self, srv: Server) -> None:
        super().__init__(srv)
        self.out: list[str] = []
        self.username, self.password = "mon", "pw"
        srv.clients[self] = None

    def send(self, line: str) -> bool:
        self.out.append(line)
        return True


class FakeTransport:
    def __init__(self, peer_gone: bool = False) -> None:
        self.peer_gone = peer_gone
        self.closing = False
        self.data = b""

    def write(self, data: bytes) -> None:
        # asyncio does not raise when the peer is gone: it schedules connection_lost and starts closing
        if self.peer_gone:
            self.closing = True
        else:
            self.data += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


def _server() -> tuple[Server, Ups]:
    srv = Server(Settings(maxage=15))
    srv.users.check_action = lambda *a: True        # type: ignore[method-assign]
    ups = Ups(name="dev", fn="dummy-ups-dev")
    srv.ups_list.append(ups)
    srv.ups_by_name["dev"] = ups
    return srv, ups


def _connect(ups: Ups, transport: FakeTransport) -> DriverConn:
    conn = DriverConn(ups, Tracking())
    conn.connection_made(transport)     # type: ignore[arg-type]
    ups.conn = conn
    ups.stale = False
    ups.last_heard = time.time()
    for line in ('SETINFO ups.status "OB DISCHRG"', "DATAOK", "DUMPDONE"):
        sstate.parse_args(ups, line.split(" ", 2) if "SETINFO" in line else [line], Tracking())
    ups.tree.setinfo("ups.status", "OB DISCHRG")
    return conn


def test_numlogins_login_twice_and_abrupt_disconnect():
    srv, ups = _server()
    a, b = Replies(srv), Replies(srv)
    net_login(srv, a, ["dev"])
    net_login(srv, a, ["dev"])
    net_login(srv, b, ["DEV"])
    assert a.out == ["OK", "ERR " + Err.ALREADY_LOGGED_IN.value] and ups.numlogins == 2
    b.disconnect()                  # a secondary that vanishes without LOGOUT
    assert ups.numlogins == 1
    a.disconnect()
    a.disconnect()                  # a second close must not count twice
    assert ups.numlogins == 0


def test_fsd_latch_survives_driver_loss():
    srv, ups = _server()
    _connect(ups, FakeTransport())
    c = Replies(srv)
    net_fsd(srv, c, ["dev"])
    net_get(srv, c, ["VAR", "dev", "ups.status"])
    sstate.disconnect(ups)
    net_get(srv, c, ["VAR", "dev", "ups.status"])
    _connect(ups, FakeTransport())  # NUT clears fsd only when upsd forgets the UPS (conf.c delete_ups)
    net_get(srv, c, ["VAR", "dev", "ups.status"])
    assert c.out == ["OK FSD-SET", 'VAR dev ups.status "FSD OB DISCHRG"', "ERR DRIVER-NOT-CONNECTED",
                     'VAR dev ups.status "FSD OB DISCHRG"']


def test_datastale_after_dumpdone_and_back():
    srv, ups = _server()
    _connect(ups, FakeTransport())
    c = Replies(srv)
    sstate.parse_args(ups, ["DATASTALE"], Tracking())
    net_get(srv, c, ["VAR", "dev", "ups.status"])
    sstate.parse_args(ups, ["DATAOK"], Tracking())
    net_get(srv, c, ["VAR", "dev", "ups.status"])
    assert c.out == ["ERR DATA-STALE", 'VAR dev ups.status "OB DISCHRG"']


def test_silent_driver_is_pinged_then_stale():
    srv, ups = _server()
    t = FakeTransport()
    _connect(ups, t)
    now = ups.last_heard
    assert not sstate.dead(ups, 15, now + 5)            # 5 s is not beyond a third of MAXAGE
    assert not sstate.dead(ups, 15, now + 6) and t.data == b"PING\n"
    assert not sstate.dead(ups, 15, now + 7) and t.data == b"PING\n"    # not again before another 5 s
    assert sstate.dead(ups, 15, now + 16)


def test_command_to_a_driver_that_just_died_fails():
    """The driver died and upsd has not read the EOF yet: NUT's write() fails with EPIPE, so INSTCMD gets
    ERR INSTCMD-FAILED and the UPS is disconnected (sstate_sendline); it must not answer OK."""
    srv, ups = _server()
    _connect(ups, FakeTransport(peer_gone=True))
    assert not sstate.sendline(ups, "INSTCMD load.off\n")
    assert ups.conn is None


class Busy(Driver):
    progname = "busy"

    def updateinfo(self) -> None:
        pass


class FakeLoop:
    def call_soon_threadsafe(self, fn, *args):
        fn(*args)


class Reader:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.transport = self

    def write(self, data: bytes) -> None:
        self.lines.append(data.decode())

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        pass


def test_ping_waits_for_a_stuck_driver():
    """A NUT driver stuck talking to its device does not answer PING, so upsd declares the data stale after
    MAXAGE.  pnut serves the socket from another thread: PONG must still wait for the poll to finish."""
    core = Core(Busy)
    core.loop = FakeLoop()
    core.dstate.loop = FakeLoop()       # type: ignore[assignment]
    core.worker = ThreadPoolExecutor(max_workers=1)
    r = Reader()
    conn = Conn(r)
    stuck = threading.Event()
    try:
        core.worker.submit(stuck.wait, 10)
        done = core.sock_arg(conn, ["PING"])
        time.sleep(0.05)
        assert r.lines == []
        stuck.set()
        if done is not True:
            done.result(10)
        assert r.lines == ["PONG\n"]
    finally:
        stuck.set()
        core.worker.shutdown(wait=True)


def test_wait_until_the_first_dump(tmp_path):
    """sstate_connect(): right after connecting, before DUMPDONE, clients see ups.status "WAIT"; the dump
    then replaces it; the driver going away gives DRIVER-NOT-CONNECTED."""
    import asyncio

    async def scenario() -> list[str]:
        srv, ups = _server()
        srv.settings.statepath = str(tmp_path)
        c = Replies(srv)
        got: list[bytes] = []
        writers: list[asyncio.StreamWriter] = []

        async def driver(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            got.append(await reader.readline())
            writers.append(writer)

        server = await asyncio.start_unix_server(driver, path=str(tmp_path / ups.fn))
        await sstate.connect(ups, str(tmp_path), Tracking())
        for _ in range(100):
            if writers:
                break
            await asyncio.sleep(0.01)
        net_get(srv, c, ["VAR", "dev", "ups.status"])
        writers[0].write(b'SETINFO ups.status "OB LB"\nDATAOK\nDUMPDONE\n')
        await writers[0].drain()
        for _ in range(100):
            if ups.dumpdone:
                break
            await asyncio.sleep(0.01)
        net_get(srv, c, ["VAR", "dev", "ups.status"])
        writers[0].close()
        for _ in range(100):
            if ups.conn is None:
                break
            await asyncio.sleep(0.01)
        net_get(srv, c, ["VAR", "dev", "ups.status"])
        server.close()
        assert got == [b"DUMPALL\n"]
        return c.out

    assert asyncio.run(scenario()) == ['VAR dev ups.status "WAIT"', 'VAR dev ups.status "OB LB"',
                                       "ERR DRIVER-NOT-CONNECTED"]
