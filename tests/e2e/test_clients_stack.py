"""Our clients against our own stack (pnut upsd serving pnut dummy-ups): the everyday commands work end to
end, upslog rides out a server that is not there yet, and, where Debian's clients are installed, ours
print exactly what they print against the same server.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.procs import NutDirs, Procs, free_port, ours, real_nut, wait_for

DEV = "battery.charge: 100\ninput.voltage: 230.0\nups.status: OL\nups.load: 20\nups.id: myid\n"
NSS_NOTICE = "Init SSL without certificate database\n"


def _write_conf(nut: NutDirs, port: int) -> None:
    nut.write("dummy.dev", DEV)
    nut.write("ups.conf", '[dummy]\n driver = dummy-ups\n port = dummy.dev\n desc = "Our dummy"\n')
    nut.write("upsd.conf", f"LISTEN 127.0.0.1 {port}\n")
    nut.write("upsd.users", "[admin]\n password = secret\n instcmds = ALL\n actions = SET\n")


def _start_stack(nut: NutDirs, procs: Procs, port: int) -> None:
    procs.start([ours("dummy-ups"), "-a", "dummy", "-u", "root", "-F"], env=nut.env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: (nut.state / "dummy-ups-dummy").exists(), 15, what="our dummy-ups")
    procs.start([ours("upsd"), "-u", "root", "-F"], env=nut.env, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)


def _upsc(nut: NutDirs, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ours("upsc"), *args], env=nut.env, capture_output=True, text=True, timeout=20,
                          check=False)


@pytest.fixture(scope="module")
def ours_stack(tmp_path_factory):
    nut = NutDirs(tmp_path_factory.mktemp("ourstack") / "nut")
    port = free_port()
    _write_conf(nut, port)
    procs = Procs()
    try:
        _start_stack(nut, procs, port)
        wait_for(lambda: _upsc(nut, f"dummy@127.0.0.1:{port}", "ups.status").stdout == "OL\n", 15, what="upsd")
        yield nut, f"127.0.0.1:{port}"
    finally:
        procs.stop_all()


CASES = [
    ("upsc", ["dummy@H"]),
    ("upsc", ["dummy@H", "ups.load"]),
    ("upsc", ["-L", "H"]),
    ("upsc", ["-c", "dummy@H"]),
    ("upsc", ["bogus@H"]),
    ("upsc", ["dummy@H", "ups.nosuch"]),
    ("upscmd", ["-l", "dummy@H"]),
    ("upscmd", ["-u", "admin", "-p", "secret", "dummy@H", "load.off"]),
    ("upscmd", ["-u", "admin", "-p", "wrong", "dummy@H", "load.off"]),
    ("upsrw", ["dummy@H"]),
    ("upsrw", ["-s", "ups.id=myid", "-u", "admin", "-p", "secret", "dummy@H"]),
    ("upsrw", ["-s", "ups.nosuch=1", "-u", "admin", "-p", "secret", "dummy@H"]),
]


@pytest.mark.parametrize("prog, args", CASES, ids=[f"{p} {' '.join(a)}" for p, a in CASES])
def test_clients_on_our_stack(ours_stack, prog, args):
    nut, host = ours_stack
    argv = [a.replace("H", host) if a == "H" or a.endswith("@H") else a for a in args]
    mine = subprocess.run([ours(prog), *argv], env=nut.env, capture_output=True, text=True, timeout=20,
                          check=False)
    if prog == "upsc" and args == ["dummy@H"]:
        assert "ups.status: OL\n" in mine.stdout and mine.returncode == 0
    if real_nut(prog) is None:
        return
    real = subprocess.run([f"/bin/{prog}", *argv], env=nut.env, capture_output=True, text=True, timeout=20,
                          check=False)
    assert mine.stdout == real.stdout
    assert mine.stderr == real.stderr.replace(NSS_NOTICE, "", 1)
    assert mine.returncode == real.returncode


def test_upslog_waits_for_the_server(nut, procs):
    """Started before upsd: it warns, logs NA, and logs real values once the server is up."""
    port = free_port()
    _write_conf(nut, port)
    log = nut.root / "ups.log"
    p = procs.start([ours("upslog"), "-s", f"dummy@127.0.0.1:{port}", "-l", str(log), "-i", "1", "-F",
                     "-u", "root", "-f", "%VAR ups.status% %VAR ups.load%"], env=nut.env)
    wait_for(lambda: log.exists() and "NA NA\n" in log.read_text(), 10, what="NA lines")
    _start_stack(nut, procs, port)
    wait_for(lambda: "OL 20\n" in log.read_text(), 20, what="values once upsd is up")
    os.kill(p.pid, signal.SIGTERM)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0
    assert err.decode().startswith("Warning: initial connect failed: Connection failure: Connection refused\n")
    assert err.decode().endswith("Signal 15: exiting\n")
    assert out.decode().startswith("Network UPS Tools upslog 2.8.0\n")
