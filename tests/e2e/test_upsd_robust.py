"""Our upsd on its own (a scripted fake driver, no real NUT needed): bad input, slow and vanishing clients,
MAXCONN, a driver that goes silent or away and comes back, reload without dropping clients, the -c
commands and start-up errors."""

from __future__ import annotations

import os
import signal
import socket

import pytest

from tests.interop.test_upsd_harness import UPSD_USERS, FakeDriver, run_session
from tests.procs import NutDirs, Procs, free_port, ours, run, wait_for

UPS_CONF = """\
[fake]
  driver = fakedrv
  port = none
  desc = "Scripted fake"
[nodrv]
  driver = dummy-ups
  port = nothere.dev
"""


class OurUpsd:
    def __init__(self, root, extra: str = "", ups_conf: str = UPS_CONF, args: tuple = ("-F",)) -> None:
        self.dirs = NutDirs(root)
        self.port = free_port()
        self.dirs.write("ups.conf", ups_conf)
        self.dirs.write("upsd.conf", f"LISTEN 127.0.0.1 {self.port}\n{extra}")
        self.dirs.write("upsd.users", UPSD_USERS)
        self.fake = FakeDriver(str(self.dirs.state / "fakedrv-fake"))
        self.procs = Procs()
        with open(root / "upsd.out", "w") as out, open(root / "upsd.err", "w") as err:
            self.proc = self.procs.start([ours("upsd"), *args, "-u", "root"], env=self.dirs.env, stdout=out,
                                         stderr=err)
        self.log = root / "upsd.err"
        wait_for(lambda: b"OL" in self.ask(b"GET VAR fake ups.status\n"), 15, what="our upsd serving fake")

    def ask(self, data: bytes, n: int | None = None) -> bytes:
        try:
            return run_session(self.port, [(data, data.count(b"\n") if n is None else n)])
        except OSError:
            return b""

    def stop(self) -> None:
        self.procs.stop_all()
        try:
            self.fake.stop()
        except OSError:
            pass


@pytest.fixture(scope="module")
def upsd(tmp_path_factory):
    u = OurUpsd(tmp_path_factory.mktemp("robust"), extra="MAXAGE 3\n")
    yield u
    u.stop()


def _conn(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def _lines(s: socket.socket, n: int) -> bytes:
    data = b""
    while data.count(b"\n") < n:
        b = s.recv(1000)
        if not b:
            break
        data += b
    return data


def test_garbage_gets_nut_answers(upsd):
    out = upsd.ask(b"\x00\x01\x02 \xff\xfe garbage\n")
    assert out == b"ERR UNKNOWN-COMMAND\n"
    out = upsd.ask(b"\xc3\xa9\xc3\xa9VER\n")       # bytes outside 0x20..0x7f vanish from words
    assert out.startswith(b"Network UPS Tools upsd 2.8.0")
    assert upsd.ask(b'GET VAR fake "ups#status"\nVER\n', 0) == b""     # parse error: no reply at all


def test_half_line_does_not_stall_others(upsd):
    slow = _conn(upsd.port)
    slow.sendall(b"GET VAR fake ups.sta")
    unterminated = _conn(upsd.port)
    unterminated.sendall(b'GET VAR "fake ups.status')
    for _ in range(5):
        assert upsd.ask(b"GET VAR fake ups.status\n") == b'VAR fake ups.status "OL CHRG"\n'
    slow.sendall(b"tus\n")
    assert slow.recv(100) == b'VAR fake ups.status "OL CHRG"\n'
    unterminated.sendall(b'"\n')          # the quoted word was "fake ups.status": two words short
    assert unterminated.recv(100) == b"ERR INVALID-ARGUMENT\n"
    slow.close()
    unterminated.close()


def test_overlong_line_and_too_many_words(upsd):
    s = _conn(upsd.port)
    for _ in range(64):
        s.sendall(b"A" * 16384)            # 1 MiB without a newline: words are capped, nothing grows
    s.sendall(b"\n")
    assert s.recv(100) == b"ERR UNKNOWN-COMMAND\n"
    s.sendall(b"GET VAR fake ups.status" + b" x" * 100 + b"\n")
    assert s.recv(100) == b'VAR fake ups.status "OL CHRG"\n'
    s.close()
    assert upsd.ask(b"VER\n").startswith(b"Network UPS Tools")


def test_vanishing_clients(upsd):
    for _ in range(20):
        s = _conn(upsd.port)
        s.sendall(b"LIST VAR fake\nLIST VAR fake\nGET VAR fa")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()                          # RST while the server is answering
    assert upsd.ask(b"GET VAR fake ups.status\n") == b'VAR fake ups.status "OL CHRG"\n'
    assert upsd.proc.poll() is None


def test_many_concurrent_clients(upsd):
    socks = [_conn(upsd.port) for _ in range(300)]
    for s in socks:
        s.sendall(b"GET VAR fake ups.status\n")
    for s in socks:
        assert s.recv(100) == b'VAR fake ups.status "OL CHRG"\n'
        s.close()


def test_logins_released_on_disconnect(upsd):
    s = _conn(upsd.port)
    s.sendall(b"USERNAME sec\nPASSWORD secpw\nLOGIN fake\n")
    assert _lines(s, 3) == b"OK\nOK\nOK\n"
    wait_for(lambda: upsd.ask(b"GET NUMLOGINS fake\n") == b"NUMLOGINS fake 1\n", 5, what="login counted")
    s.close()
    wait_for(lambda: upsd.ask(b"GET NUMLOGINS fake\n") == b"NUMLOGINS fake 0\n", 5, what="login released")


def test_driver_states(upsd):
    """DATASTALE from the driver, then silence past MAXAGE, then the driver dies and comes back."""
    upsd.fake.broadcast("DATASTALE\n")
    wait_for(lambda: upsd.ask(b"GET VAR fake ups.status\n") == b"ERR DATA-STALE\n", 5, what="DATA-STALE")
    assert upsd.ask(b"GET UPSDESC fake\n") == b'UPSDESC fake "Scripted fake"\n'     # not gated
    upsd.fake.broadcast("DATAOK\n")
    wait_for(lambda: upsd.ask(b"GET VAR fake ups.status\n").startswith(b"VAR"), 5, what="fresh again")
    upsd.fake.silent = True
    wait_for(lambda: upsd.ask(b"LIST CMD fake\n") == b"ERR DATA-STALE\n", 15, what="stale by MAXAGE")
    upsd.fake.silent = False
    upsd.fake.broadcast("PONG\n")
    wait_for(lambda: upsd.ask(b"GET VAR fake ups.status\n").startswith(b"VAR"), 10, what="fresh after PONG")
    path = upsd.fake.server_address
    upsd.fake.stop()
    wait_for(lambda: upsd.ask(b"GET VAR fake ups.status\n") == b"ERR DRIVER-NOT-CONNECTED\n", 5,
             what="driver gone")
    upsd.fake = FakeDriver(path)
    wait_for(lambda: upsd.ask(b"GET VAR fake ups.status\n") == b'VAR fake ups.status "OL CHRG"\n', 10,
             what="reconnected")
    text = upsd.log.read_text()
    assert "Data for UPS [fake] is stale - check driver" in text
    assert "UPS [fake] data is no longer stale" in text


def test_tracking_and_fsd(upsd):
    out = run_session(upsd.port, [b"USERNAME admin\nPASSWORD adminpw\nSET TRACKING ON\n",
                                  b"INSTCMD fake beeper.toggle\n"])
    tid = out.split()[-1]
    assert out.startswith(b"OK\nOK\nOK\nOK TRACKING ") and len(tid) == 36
    wait_for(lambda: run_session(upsd.port, [b"USERNAME a\nPASSWORD b\nSET TRACKING ON\n",
                                             b"GET TRACKING " + tid + b"\n"]).endswith(b"ERR FAILED\n"), 5,
             what="tracking result")


def test_maxconn(tmp_path):
    u = OurUpsd(tmp_path, extra="MAXCONN 4\n")       # the driver takes one slot: three clients are served
    try:
        socks = [_conn(u.port) for _ in range(3)]
        wait_for(lambda: len(socks) == 3, 1)
        for s in socks:
            s.sendall(b"VER\n")
            assert s.recv(100).startswith(b"Network UPS Tools")
        extra = _conn(u.port)
        extra.sendall(b"VER\n")
        extra.settimeout(0.5)
        with pytest.raises(TimeoutError):
            extra.recv(100)
        socks.pop().close()
        extra.settimeout(5)
        assert extra.recv(100).startswith(b"Network UPS Tools")
        for s in socks + [extra]:
            s.close()
    finally:
        u.stop()


def test_reload_keeps_clients(tmp_path):
    u = OurUpsd(tmp_path, args=("-FF",))
    try:
        pidfile = u.dirs.state / "upsd.pid"
        wait_for(pidfile.exists, 5, what="pid file")
        keep = _conn(u.port)
        keep.sendall(b"USERNAME sec\nPASSWORD secpw\nLOGIN nodrv\n")
        assert _lines(keep, 3) == b"OK\nOK\nOK\n"
        other = _conn(u.port)
        other.sendall(b"VER\n")
        other.recv(100)
        u.dirs.write("ups.conf", UPS_CONF.replace("[nodrv]", "[newups]")
                     + "[extra]\n  driver = x\n  port = y\n  desc = \"new\"\n")
        r = run([ours("upsd"), "-c", "reload"], env=u.dirs.env)
        assert r.returncode == 0, r.stdout + r.stderr

        def reloaded():
            return b'UPS extra "new"' in u.ask(b"LIST UPS\n")
        wait_for(reloaded, 5, what="reload")
        # NUT puts the UPSes a reload adds in front, in file order
        assert u.ask(b"LIST UPS\n") == (b'BEGIN LIST UPS\nUPS newups "Description unavailable"\nUPS extra "new"\n'
                                        b'UPS fake "Scripted fake"\nEND LIST UPS\n')
        other.sendall(b"GET VAR fake ups.status\n")          # still connected and served
        assert other.recv(100) == b'VAR fake ups.status "OL CHRG"\n'
        keep.settimeout(5)
        assert keep.recv(100) == b""                         # logged into a UPS that vanished: kicked
        assert "Deleting UPS [nodrv]" in u.log.read_text()
        r = run([ours("upsd"), "-c", "stop"], env=u.dirs.env)
        assert r.returncode == 0
        u.proc.wait(10)
        assert "Signal 15: exiting" in u.log.read_text()
        assert not pidfile.exists()
    finally:
        u.stop()


def test_command_line(tmp_path):
    d = NutDirs(tmp_path)
    r = run([ours("upsd"), "-h"], env=d.env)
    assert r.returncode == 0 and r.stdout.startswith("Network UPS Tools upsd 2.8.0\nNetwork server for UPS data.")
    assert "  -c <command>\tsend <command> via signal to background process" in r.stdout
    r = run([ours("upsd"), "-V"], env=d.env)
    assert (r.returncode, r.stdout) == (0, "Network UPS Tools upsd 2.8.0\n")
    r = run([ours("upsd"), "-p", "3493"], env=d.env)
    assert r.returncode == 1 and "is deprecated. Use 'LISTEN <address> [<port>]'" in r.stderr
    r = run([ours("upsd"), "-c", "bogus"], env=d.env)
    assert r.returncode == 0 and "usage: upsd [OPTIONS]" in r.stdout
    r = run([ours("upsd"), "-c", "reload"], env=d.env)
    assert r.returncode == 1 and "upsd.pid" in r.stderr
    r = run([ours("upsd"), "-F", "-u", "root"], env=d.env)
    assert r.returncode == 1 and f"stat {d.conf}/upsd.conf: No such file or directory" in r.stderr
    port = free_port()
    d.write("upsd.conf", f"LISTEN 127.0.0.1 {port}\n")
    r = run([ours("upsd"), "-F", "-u", "root"], env=d.env)
    assert r.returncode == 1 and "Can't open" in r.stderr and "ups.conf" in r.stderr
    d.write("ups.conf", "maxretry = 3\n")
    r = run([ours("upsd"), "-F", "-u", "root"], env=d.env)
    assert r.returncode == 1 and "Fatal error: at least one UPS must be defined in ups.conf" in r.stderr
    d.write("upsd.users", UPSD_USERS)
    d.write("upsd.conf", f"LISTEN 127.0.0.1 {port}\nALLOW_NO_DEVICE true\n")
    procs = Procs()
    try:
        p = procs.start([ours("upsd"), "-F", "-u", "root"], env=d.env)
        wait_for(lambda: run_session(port, [b"LIST UPS\n"]) == b"BEGIN LIST UPS\nEND LIST UPS\n"
                 if _port_open(port) else False, 10, what="empty LIST UPS")
        assert p.poll() is None
        os.kill(p.pid, signal.SIGTERM)
        assert p.wait(10) == 0
    finally:
        procs.stop_all()


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_ipv6_listen(tmp_path):
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            port6 = probe.getsockname()[1]
    except OSError:
        pytest.skip("no ::1 here")
    u = OurUpsd(tmp_path, extra=f"LISTEN ::1 {port6}\n")
    try:
        with socket.create_connection(("::1", port6), timeout=5) as s:
            s.sendall(b"USERNAME sec\nPASSWORD secpw\nLOGIN fake\nLIST CLIENT fake\n")
            data = b""
            while b"END LIST" not in data:
                data += s.recv(1000)
            assert b"CLIENT fake ::1\n" in data
        assert "listening on ::1 port" in u.log.read_text()
    finally:
        u.stop()


def test_client_that_never_reads_is_dropped(upsd):
    s = _conn(upsd.port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        s.sendall(b"LIST VAR fake\n" * 20000)          # megabytes of replies nobody reads
    except OSError:
        pass
    assert upsd.ask(b"GET VAR fake ups.status\n") == b'VAR fake ups.status "OL CHRG"\n'
    s.settimeout(10)
    got = 0
    try:
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            got += len(b)
    except OSError:
        pass
    s.close()
    assert got < 20000 * 500                           # cut off long before every reply was written
    assert "client does not read its replies" in upsd.log.read_text()
