"""Our driver socket next to real NUT 2.8.0: the same requests get the same bytes as from real dummy-ups,
and real upsd + upsc/upsrw/upscmd work over our driver as over the real one."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.procs import NutDirs, Procs, free_port, ours, real_nut, run, wait_for

DEV = """\
# a comment line
ups.status: OL CHRG
battery.charge: 95.5
battery.charge.low: 20
device.serial:
ups.mfr: "ACME  Corp"   # trailing comment
ups.model: a=b c#d
ups.test.result:
driver.version: 9
weird\\"x: "q\\"uo\\\\te"
input.voltage: 230
"""

UPSCONF = """\
[dev]
\tdriver = dummy-ups
\tport = test.dev
\tdesc = "a test"
[ovr]
\tdriver = dummy-ups
\tport = test.dev
\toverride.battery.charge = 50
\tdefault.ups.load = 10
\tdefault.ups.mfr = DEF
\tnolock
\tsynchronous = yes
\tpollinterval = 5
[lb]
\tdriver = dummy-ups
\tport = lb.dev
\tignorelb
"""

LB_DEV = "ups.status: OB LB\nbattery.charge: 10\nbattery.charge.low: 20\n"

USERS = """\
[admin]
\tpassword = secret
\tactions = SET
\tinstcmds = ALL
"""

REQUESTS = [
    b"DUMPALL\n",
    b'PING\nFOO\nSET ups.id "abc" TRACKING 1234\nINSTCMD load.off TRACKING 77\nSET battery.charge 3 TRACKING 9\n',
    b'SET ups.status "OB LB"\nSET ups.mfr ""\nSET ups.mfr "ab"\nINSTCMD load.off 5 TRACKING x1\nSET a b c d\n',
    b"INSTCMD\nSET x\nsEt lower.case \"v\" tracking t2\n",
    b"DUMPALL\n",
]


class Side:
    def __init__(self, root: Path, driver: str, procs: Procs) -> None:
        self.nut = NutDirs(root)
        self.nut.write("test.dev", DEV)
        self.nut.write("lb.dev", LB_DEV)
        self.nut.write("ups.conf", UPSCONF)
        self.port = free_port()
        self.nut.write("upsd.conf", f"LISTEN 127.0.0.1 {self.port}\n")
        self.nut.write("upsd.users", USERS)
        for ups in ("dev", "ovr", "lb"):
            procs.start([driver, "-a", ups, "-u", "root", "-F"], env=self.nut.env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for ups in ("dev", "ovr", "lb"):
            path = self.nut.state / f"dummy-ups-{ups}"
            wait_for(path.exists, 30, what=f"{driver} {ups}")

    def sock(self, ups: str) -> str:
        return str(self.nut.state / f"dummy-ups-{ups}")


@pytest.fixture(scope="module")
def sides(tmp_path_factory):
    procs = Procs()
    root = tmp_path_factory.mktemp("drvsock")
    try:
        real = Side(root / "real", real_nut("dummy-ups"), procs)
        mine = Side(root / "ours", ours("dummy-ups"), procs)
        for s in (real, mine):
            procs.start([real_nut("upsd"), "-F", "-u", "root"], env=s.nut.env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for s in (real, mine):
            where = f"dev@127.0.0.1:{s.port}"
            wait_for(lambda w=where: run([real_nut("upsc"), w, "ups.mfr"]).returncode == 0, 30, what="upsd serving")
        yield real, mine
    finally:
        procs.stop_all()


def converse(path: str, requests: list[bytes]) -> list[bytes]:
    """Send each chunk followed by a PING, and collect the replies up to that PING's PONG.
    (A .dev file in dummy-once mode does not change, so no poll broadcast gets in between.)"""
    out = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        s.settimeout(10)
        for req in requests:
            s.sendall(req + b"PING\n")
            data = b""
            pings = req.split(b"\n").count(b"PING") + 1
            while data.split(b"\n").count(b"PONG") < pings:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            out.append(data)
    return out


@pytest.mark.parametrize("ups", ["dev", "ovr", "lb"])
def test_socket_transcript_matches_real(sides, ups):
    real, mine = sides
    want = converse(real.sock(ups), REQUESTS)
    got = converse(mine.sock(ups), REQUESTS)
    assert got == want
    assert want[0].endswith(b"DATAOK\nDUMPDONE\nPONG\n")


def test_dumpall_is_the_known_2_8_0_dump(sides):
    _, mine = sides
    dump = converse(mine.sock("ovr"), [b"DUMPALL\n"])[0].decode().removesuffix("PONG\n")
    assert 'SETINFO battery.charge "50"\nSETFLAGS battery.charge\n' in dump        # immutable: bare SETFLAGS
    assert 'SETINFO weird"x "q\\"uo\\\\te"\nSETAUX weird"x 32\nSETFLAGS weird"x RW STRING\n' in dump
    assert 'SETINFO device.serial "20"\n' in dump       # an empty value re-uses the previous line's
    assert 'SETINFO driver.parameter.synchronous "yes"\n' in dump
    assert dump.endswith("ADDCMD load.off\nDATAOK\nDUMPDONE\n")


def test_broadcasts_reach_every_reader_and_garbage_harms_no_one(sides):
    _, mine = sides
    path = mine.sock("dev")
    readers = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(3)]
    bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    quiet = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        for r in readers + [bad, quiet]:
            r.connect(path)
            r.settimeout(3)
        quiet.sendall(b"NOBROADCAST\n")
        bad.sendall(b'\x00\xff garbage "unterminated # in quotes\nSET half')   # then vanish mid-line
        bad.close()
        time.sleep(0.2)
        readers[0].sendall(b'SET ups.id "zz9"\n')
        for r in readers:
            buf = b""
            while b'SETINFO ups.id "zz9"\n' not in buf:
                buf += r.recv(4096)
        quiet.settimeout(0.5)
        with pytest.raises(TimeoutError):
            quiet.recv(4096)
        quiet.sendall(b"PING\n")
        quiet.settimeout(3)
        assert quiet.recv(4096) == b"PONG\n"
        quiet.sendall(b"LOGOUT\n")
        assert quiet.recv(4096) == b"OK Goodbye\n"
        assert quiet.recv(4096) == b""
    finally:
        for r in readers + [quiet]:
            r.close()
    assert converse(path, [b""]) == [b"PONG\n"]


def _clients(side: Side) -> list[str]:
    where = f"dev@127.0.0.1:{side.port}"
    env = side.nut.env
    outs = []
    for argv in ([real_nut("upsrw"), "-s", "ups.test.result=hello", "-u", "admin", "-p", "secret", where],
                 [real_nut("upsrw"), "-s", "input.voltage=231", "-u", "admin", "-p", "secret", "-w", where],
                 [real_nut("upscmd"), "-u", "admin", "-p", "secret", where, "load.off"],
                 [real_nut("upscmd"), "-u", "admin", "-p", "secret", "-w", where, "load.off"],
                 [real_nut("upscmd"), "-u", "admin", "-p", "secret", where, "beeper.enable"]):
        p = run(argv, env=env)
        outs.append(f"{p.returncode}\n{p.stdout}{p.stderr}")
    time.sleep(0.5)
    for var in ("ups.test.result", "input.voltage"):
        p = run([real_nut("upsc"), where, var], env=env)
        outs.append(p.stdout + p.stderr)
    return outs


def test_real_clients_through_real_upsd(sides):
    real, mine = sides
    want, got = _clients(real), _clients(mine)
    assert got == want
    assert "hello\n" in got[-2] and "231\n" in got[-1]
    assert "SUCCESS" in got[1]                  # upsrw -w: the driver's TRACKING said 0
    assert "ERR UNKNOWN" in got[3]              # upscmd -w load.off: the TRACKING result of dummy-ups
