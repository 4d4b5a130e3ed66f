"""upsd pieces without sockets: glibc-exact tracking ids, the driver-line parser, rights, and the server's
dispatch, idle timeout and reply limits driven through an in-memory transport."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import socket

import pytest

from pnut.conf.upsdconf import parse_upsd_users
from pnut.upsd import server as server_mod
from pnut.upsd.server import Client, Server, Settings
from pnut.upsd.sstate import Ups, parse_args
from pnut.upsd.tracking import GlibcRand, Tracking
from pnut.upsd.users import Users


def test_glibc_rand_matches_libc():
    libc_name = ctypes.util.find_library("c")
    if not libc_name or "libc.so" not in libc_name:
        pytest.skip("glibc not available")
    libc = ctypes.CDLL(libc_name)
    libc.srand(1)
    ours = GlibcRand()
    assert [ours.rand() for _ in range(1000)] == [libc.rand() for _ in range(1000)]


def test_tracking_ids_and_results():
    t = Tracking()
    tid = t.new_id()
    # the ids an unseeded rand() gives; the second one shows up in NUT 2.8.0 transcripts
    assert tid == "2DDC5036-F665-4D29-BE4C-0374D091D263"
    assert t.new_id() == "98C489FD-821C-4132-9D93-4F6590B55E63"
    t.add(tid)
    assert t.get(tid) == "ERR UNKNOWN"          # nothing is tracked until some client turned tracking on
    t.enabled = True
    t.add(tid)
    assert t.get(tid.lower()) == "PENDING"
    for code, text in ((0, "SUCCESS"), (1, "ERR UNKNOWN"), (2, "ERR INVALID-ARGUMENT"), (3, "ERR FAILED"),
                       (7, "ERR UNKNOWN")):
        t.set(tid, str(code))
        assert t.get(tid) == text
    t.delay = 10
    t.cleanup(t.entries[tid][1] + 11)
    assert t.get(tid) == "ERR UNKNOWN"


def test_driver_lines_build_the_mirror():
    ups = Ups("u", "drv-u")
    t = Tracking()
    lines = [["SETINFO", "ups.status", "OL"], ["SETINFO", "ups.delay", "30"], ["ADDENUM", "ups.delay", "30"],
             ["ADDENUM", "ups.delay", 'a"b'], ["SETAUX", "ups.delay", "4"], ["SETFLAGS", "ups.delay", "RW", "STRING"],
             ["ADDRANGE", "ups.delay", "1", "9"], ["ADDCMD", "load.off"], ["ADDCMD", "beeper.on"],
             ["DUMPDONE"], ["DATAOK"]]
    for words in lines:
        assert parse_args(ups, words, t)
    assert not parse_args(ups, ["SETINFO", "x"], t)          # too short: ignored, not "heard"
    assert not parse_args(ups, ["BOGUS", "a", "b", "c"], t)
    node = ups.tree.get("UPS.DELAY")
    assert node.enums == ["30", 'a\\"b'] and node.aux == 4 and node.ranges == [(1, 9)]
    assert list(ups.tree.iter_commands()) == ["beeper.on", "load.off"]
    assert ups.dumpdone and ups.data_ok


def _server() -> Server:
    srv = Server(Settings())
    srv.users = Users(parse_upsd_users("[admin]\n password = pw\n actions = SET\n instcmds = ALL\n"))
    ups = Ups("dummy", "dummy-ups-dummy", desc="D")
    srv.ups_list.append(ups)
    srv.ups_by_name["dummy"] = ups
    return srv


class Peer:
    """The far end of a client connection: what upsd wrote, and whether it hung up."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.setblocking(False)

    @property
    def data(self) -> bytes:
        out = b""
        while True:
            try:
                b = self.sock.recv(65536)
            except BlockingIOError:
                return out
            if not b:
                return out
            out += b

    @property
    def closed(self) -> bool:
        while True:
            try:
                b = self.sock.recv(65536)
            except BlockingIOError:
                return False
            except ConnectionResetError:
                return True
            if not b:
                return True


def _client(srv: Server) -> tuple[Client, Peer]:
    mine, theirs = socket.socketpair()
    mine.setblocking(False)
    c = Client(srv, mine)
    c.start(("127.0.0.1", 5555))
    return c, Peer(theirs)


def test_dispatch_and_reply_limit():
    asyncio.run(_dispatch_and_reply_limit())


async def _dispatch_and_reply_limit():
    srv = _server()
    srv.loop = asyncio.get_running_loop()
    c, t = _client(srv)
    c.data_received(b"VER\nGET UPSDESC dummy\nGET VAR dummy ups.status\nINSTCMD\n")
    assert t.data == (b"Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/\n"
                      b'UPSDESC dummy "D"\nERR DRIVER-NOT-CONNECTED\nERR USERNAME-REQUIRED\n')
    c.data_received(b"GET DESC dummy " + b"v" * 600 + b"\n")
    assert t.data == b"ERR DRIVER-NOT-CONNECTED\n"
    c.data_received(b"GET VAR x " + b"server.info" + b"y" * 0 + b"\n")
    assert t.data.startswith(b'VAR x server.info "Network UPS Tools upsd 2.8.0')
    c.data_received(b"GET VAR " + b"u" * 500 + b" server.version\n")
    assert len(t.data) == server_mod.ANSWER_MAX and not t.data.endswith(b"\n")     # cut like NUT's buffer


def test_split_requests_and_parse_error():
    asyncio.run(_split_requests_and_parse_error())


async def _split_requests_and_parse_error():
    srv = _server()
    srv.loop = asyncio.get_running_loop()
    c, t = _client(srv)
    for ch in b"GET VAR x server.version\n":
        c.data_received(bytes([ch]))
    assert t.data == b'VAR x server.version "2.8.0"\n'
    c.data_received(b'GET VAR x "a#b"\nVER\n')        # the rest of the read is dropped after a parse error
    assert t.data == b""
    c.data_received(b"NETVER\n")
    assert t.data == b"1.3\n"


def test_idle_timeout_and_logout(monkeypatch):
    async def go():
        srv = _server()
        srv.loop = asyncio.get_running_loop()
        c1, t1 = _client(srv)
        c2, t2 = _client(srv)
        now = server_mod.time.time()
        c1.last_heard = now - 61
        c2.last_heard = now - 59
        srv.settings.statepath = "/nonexistent"
        srv.tick()
        assert t1.closed and not t2.closed
        assert c1 not in srv.clients and c2 in srv.clients
        c2.data_received(b"LOGOUT\nVER\n")                 # a line after LOGOUT keeps the connection (NUT)
        await asyncio.sleep(0)
        assert not t2.closed
        c2.data_received(b"LOGOUT\n")
        await asyncio.sleep(0)
        assert t2.closed
        srv.close()
    asyncio.run(go())
